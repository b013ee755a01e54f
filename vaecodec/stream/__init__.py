"""Files as streams of chunks: the version 5 and 6 writer (``StreamEncoder``) and the
readers of every version behind one ``Decoder`` protocol (``ArchiveDecoder`` for 5 and 6,
``WholeDecoder`` for versions 1 to 4, read as one chunk). ``open_decoder`` tells them
apart by the file's first bytes.

The array API (``vaecodec.codec``) and the archive (``vaecodec.archive``) sit above; the
per-batch pipeline (``vaecodec.pipeline``) below.
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Iterator, Protocol

import numpy as np

from ..format import chunked, container
from ..format.sniff import is_chunked
from ..pipeline.settings import Settings
from ..zoo import Zoo
from .decoder import ArchiveDecoder
from .whole import WholeDecoder

__all__ = ["Decoder", "open_decoder", "ArchiveDecoder", "WholeDecoder"]


class Decoder(Protocol):
    """What a reader of a file offers (``ArchiveDecoder``, ``WholeDecoder``)."""

    f: BinaryIO  # the file read (replaced by the reader in a forked process)
    info: container.Header  # the header, as ``vaecodec info`` shows it (without names)
    index: chunked.Index  # the chunks (a whole file: one)
    trailing: int  # bytes after the last complete index
    index_error: str | None  # why the index was not used (found by scanning), or None
    tail_known: bool  # scanned: whether no image can follow the last chunk found

    @property
    def named(self) -> bool: ...
    @property
    def settings(self) -> Settings: ...
    def __len__(self) -> int: ...
    def prepare(self) -> None: ...
    @property
    def fields(self) -> tuple[str, ...]: ...
    @property
    def classes(self) -> tuple[str, ...] | None: ...
    def read_chunk(self, n: int, names: bool = True, meta: bool = True) -> chunked.Chunk: ...
    def labels(self, rows) -> np.ndarray: ...
    def meta(self, rows) -> list: ...
    def decode_chunk(self, chunk: chunked.Chunk, rows=None) -> np.ndarray: ...
    def images(self, rows: np.ndarray) -> np.ndarray: ...
    def image(self, i: int) -> np.ndarray: ...
    def chunks(self, progress: Callable[[int, int], None] | None = None
               ) -> Iterator[tuple[int, np.ndarray]]: ...
    def names(self) -> tuple[str, ...] | None: ...
    def latents(self) -> np.ndarray: ...


def open_decoder(f: BinaryIO, zoo: Zoo | None, max_images: int, salvage: bool = False
                 ) -> Decoder:
    """The decoder of the file ``f`` (seekable, at its start): a version 5 file's chunks are
    read as asked for (``salvage``: found by scanning when the index is damaged); an older
    file is read whole (refused when it declares more than ``max_images`` images)."""
    prefix = f.read(container.MAX_PREFIX)
    f.seek(0)
    if is_chunked(prefix):
        return ArchiveDecoder(f, zoo, scan_if_damaged=salvage)
    return WholeDecoder(f, zoo, max_images)
