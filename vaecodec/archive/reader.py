"""Reading an archive: ``ArchiveReader`` (one .vaez file, through its ``stream.Decoder``:
random access, chunks, latents, salvage, verify; reopened in a forked process) and what
the readers share (``Reader``), ``Damage`` and ``VerifyReport``."""

from __future__ import annotations

import dataclasses
import io
import os
from pathlib import Path
from typing import BinaryIO, Callable, Iterator

import numpy as np

from .. import remote
from ..errors import ArgumentTypeError, FormatError, VaezError
from ..format import container
from ..pipeline.settings import DEFAULT_MAX_IMAGES, check_count
from ..stream import ArchiveDecoder, Decoder, open_decoder
from ..zoo import Zoo


@dataclasses.dataclass(frozen=True)
class Damage:
    """A chunk that does not decode: its images are lost."""

    chunk: int | None  # its number in the index (None: found by scanning)
    first: int | None  # the position of its first image (None: unknown)
    count: int | None
    message: str


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    images: int  # images that decode
    chunks: int  # chunks checked
    damaged: tuple[Damage, ...]
    trailing: int  # bytes after the archive's end (an append that did not finish)

    @property
    def ok(self) -> bool:
        """Whether no chunk (or shard) is damaged."""
        return not self.damaged


class Reader:
    """What both readers share: lookup by name (through their ``names``), labels and
    metadata by position or name, iteration, indexing keys checked, and the ``with``
    block."""

    _name_positions: dict[str, int] | None = None
    _max_images: int

    @property
    def info(self) -> container.Header:
        """The header (``vaecodec info``'s fields) without names."""
        raise NotImplementedError

    def __len__(self) -> int:
        raise NotImplementedError

    @property
    def names(self) -> tuple[str, ...] | None:
        """The images' stored names, in order (None when none are stored)."""
        raise NotImplementedError

    def chunks(self, progress: Callable[[int, int], None] | None = None
               ) -> Iterator[tuple[int, np.ndarray]]:
        """(position of the first image, uint8 images (n, H, W)) of each chunk, in order."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the files this reader opened."""
        raise NotImplementedError

    @property
    def labelled(self) -> bool:
        """Whether the archive stores an integer label per image (version 6)."""
        raise NotImplementedError

    @property
    def has_metadata(self) -> bool:
        """Whether the archive stores a metadata dict (or None) per image (version 6)."""
        raise NotImplementedError

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The names of labels 0, 1, ... when the writer gave them, else None."""
        raise NotImplementedError

    def _labels_at(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _meta_at(self, rows: np.ndarray) -> list:
        raise NotImplementedError

    def _channels_at(self, rows: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def source_channels(self, key):
        """The channel count of the image that image ``key`` (a position or a name) was
        made from (1 grayscale, 2 grayscale and alpha, 3 RGB, 4 RGBA): an int; of a slice
        or list of positions, a uint8 array. The archive's own where it does not record
        them (``compress`` records them for a colour model's images, and ``decompress``
        writes each image in that mode)."""
        rows, one = self._key_rows(key)
        channels = self._channels_at(rows)
        return int(channels[0]) if one else channels

    def label(self, key):
        """The label of image ``key`` (a position or a name): an int; of a slice or list
        of positions: an int64 array. Reads the chunks holding them (KeyError: the archive
        stores no labels)."""
        if not self.labelled:
            raise KeyError("this archive stores no labels")
        rows, one = self._key_rows(key)
        labels = self._labels_at(rows)
        return int(labels[0]) if one else labels

    def meta(self, key):
        """The metadata of image ``key`` (a position or a name): a dict or None; of a slice
        or list of positions: a list of them (KeyError: the archive stores none)."""
        if not self.has_metadata:
            raise KeyError("this archive stores no metadata")
        rows, one = self._key_rows(key)
        entries = self._meta_at(rows)
        return entries[0] if one else entries

    @property
    def labels(self) -> np.ndarray | None:
        """Every image's label, int64 (N,), or None when the archive stores none (reads
        every chunk)."""
        return self._labels_at(np.arange(len(self))) if self.labelled else None

    @property
    def metadata(self) -> list | None:
        """Every image's metadata (a dict or None each), or None when the archive stores
        none (reads every chunk); refused above ``max_images`` images."""
        if not self.has_metadata:
            return None
        check_count(self.info, self._max_images, "read its metadata")
        return self._meta_at(np.arange(len(self)))

    def _key_rows(self, key) -> tuple[np.ndarray, bool]:
        """(positions, whether ``key`` named one image) of an index key."""
        if isinstance(key, str):
            return np.array([self.position(key)]), True
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return np.array([self._position(key)]), True
        return self._rows(key), False

    def position(self, name: str) -> int:
        """The position of the image stored as ``name`` (KeyError when there is none)."""
        if self._name_positions is None:
            names = self.names
            if names is None:
                raise KeyError(f"{name!r}: this archive stores no names")
            self._name_positions = {n: i for i, n in enumerate(names)}
        try:
            return self._name_positions[name]
        except KeyError:
            raise KeyError(f"no image named {name!r} in the archive") from None

    def _position(self, key) -> int:
        """An int key as a position in range (negative ones from the end)."""
        count = len(self)
        if not -count <= key < count:
            raise IndexError(f"image {key} is out of range (the archive holds {count})")
        return int(key % count)

    def _rows(self, key) -> np.ndarray:
        """A slice or list of ints as positions in range (int64)."""
        count = len(self)
        rows = np.arange(*key.indices(count)) if isinstance(key, slice) else np.asarray(key)
        if rows.ndim != 1 or (len(rows) and rows.dtype.kind not in "iu"):
            raise ArgumentTypeError("index an archive with an int, a slice, a name or a "
                                    "list of ints")
        if len(rows) and (rows.min() < -count or rows.max() >= count):
            raise IndexError(f"an index is out of range (the archive holds {count})")
        return rows % count if len(rows) else rows.astype(np.int64)

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, images in self.chunks():
            yield from images

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


class ArchiveReader(Reader):
    """A .vaez archive opened for reading (``vaecodec.open(path)``).

    ``len``, ``[i]`` (an image (H, W)), ``[a:b]`` and ``[[i, j, ...]]`` (images (n, H, W)),
    ``["name"]``, ``names``, ``position(name)``, ``labels``, ``label(i)``, ``metadata``,
    ``meta(i)``, ``classes``, iteration (image by image), ``chunks()``, ``latents()``,
    ``verify()``. The source is a path, a URL (``remote``: read with range
    requests), bytes or a binary file object. Reading image i of a version 5 file reads
    one chunk and decodes it (one image at a time) or the images asked for (a list or
    slice); decoded images are kept, all of them when they fit 128 MB, else a few chunks.
    Safe to use from forked processes (each reopens the file):
    ``torch.utils.data.DataLoader(num_workers > 0)``; pickled, it reopens by its path,
    URL or bytes."""

    def __init__(self, source, *, zoo: Zoo | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, salvage: bool = False,
                 _opened=None):
        self._zoo, self._max_images, self._salvage = zoo, max_images, salvage
        self._name_positions: dict[str, int] | None = None
        self.url: str | None = None  # a URL read through fsspec (``remote``)
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.path, self._data = None, bytes(source)
        elif hasattr(source, "read"):
            self.path, self._data = None, None
        elif remote.is_url(source):
            self.path, self.url, self._data = source, source, None
        else:
            self.path, self._data = Path(source), None
        self._given = source if hasattr(source, "read") else None
        self._pid, self._file = None, None
        if _opened is not None:  # the URL's file, opened already to tell what it is
            self._pid, self._file = os.getpid(), _opened
        self._decoder: Decoder | None = None
        self._decoder = self._open()

    def _open(self) -> Decoder:
        f = self._reopen()
        try:
            return open_decoder(f, self._zoo, self._max_images, self._salvage)
        except FormatError as e:  # a damaged file: say which
            self.close()
            if self.path is not None:
                raise type(e)(f"{self.path}: {e}") from None
            raise
        except BaseException:
            self.close()
            raise

    def _reopen(self) -> BinaryIO:
        """This process's file object (a forked process opens its own)."""
        if self._file is not None and self._pid == os.getpid():
            return self._file
        if self._given is not None:
            self._file = self._given
        elif self._data is not None:
            self._file = io.BytesIO(self._data)
        else:
            self._file = remote.open_input(self.path)
        self._pid = os.getpid()
        if self._decoder is not None:
            self._decoder.f = self._file
        return self._file

    @property
    def decoder(self) -> Decoder:
        """This process's ``stream.Decoder`` of the file (reopened after a fork)."""
        self._reopen()
        return self._decoder

    # --- what the archive holds ------------------------------------------------------------
    @property
    def info(self) -> container.Header:
        """The header (``vaecodec info``'s fields) without names."""
        return self._decoder.info

    @property
    def named(self) -> bool:
        """Whether the archive stores its images' names."""
        return self._decoder.named

    @property
    def labelled(self) -> bool:
        """Whether the archive stores an integer label per image (version 6)."""
        return "label" in self._decoder.fields

    @property
    def has_metadata(self) -> bool:
        """Whether the archive stores a metadata dict (or None) per image (version 6)."""
        return "meta" in self._decoder.fields

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The names of labels 0, 1, ... when the writer gave them, else None."""
        return self._decoder.classes

    def _labels_at(self, rows: np.ndarray) -> np.ndarray:
        return self.decoder.labels(rows)  # each chunk read once, whatever the order

    def _meta_at(self, rows: np.ndarray) -> list:
        return self.decoder.meta(rows)

    def _channels_at(self, rows: np.ndarray) -> np.ndarray:
        return self.decoder.source_channels(rows)

    @property
    def index_error(self) -> str | None:
        """Why the index could not be used (opened with ``salvage=True``: the chunks were
        found by scanning the file), or None."""
        return self._decoder.index_error

    @property
    def trailing(self) -> int:
        """Bytes after the archive's last complete index (an append that did not finish)."""
        return self._decoder.trailing

    @property
    def size(self) -> int:
        """The file's size in bytes."""
        f = self._reopen()
        where = f.tell()
        size = f.seek(0, os.SEEK_END)
        f.seek(where)
        return size

    @property
    def image_shape(self) -> tuple[int, int]:
        """The images' (height, width), from the file's model."""
        return self.decoder.settings.image_shape

    def __len__(self) -> int:
        return len(self._decoder)

    @property
    def names(self) -> tuple[str, ...] | None:
        """The images' stored names, in order (None when the archive stores none); an
        archive of more than ``max_images`` images is refused (``ImageLimitError``), since
        a few bytes can declare millions of names."""
        if self.named:
            check_count(self.info, self._max_images, "read its names")
        return self.decoder.names()

    def position(self, name: str) -> int:
        """The position of the image stored as ``name`` (KeyError when there is none).
        Over a URL, the chunks' headers are read until one lists it (then that chunk,
        whole, to confirm), not every chunk: a lookup fetches a few KB per chunk not read
        before (the names of the headers read are kept), then its chunk (a name in a
        chunk whose header is damaged is not found; ``verify`` finds the damage)."""
        if self.url is None or self._name_positions is not None \
                or not isinstance(self._decoder, ArchiveDecoder):
            return super().position(name)
        if not self.named:
            raise KeyError(f"{name!r}: this archive stores no names")
        found = self.decoder.find_name(name)
        if found is None:
            raise KeyError(f"no image named {name!r} in the archive")
        return found

    def __getitem__(self, key):
        if isinstance(key, str):
            return self.decoder.images(np.array([self.position(key)]))[0]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return self.decoder.image(self._position(key))
        return self.decoder.images(self._rows(key))

    def chunks(self, progress: Callable[[int, int], None] | None = None
               ) -> Iterator[tuple[int, np.ndarray]]:
        """(position of the first image, uint8 images (n, H, W)) of each chunk in order."""
        return self.decoder.chunks(progress)

    def latents(self) -> np.ndarray:
        """The latent vectors float32 (N, latent size) (see ``vaecodec.latents``)."""
        return self.decoder.latents()

    def salvage(self, progress: Callable[[int, int], None] | None = None
                ) -> Iterator[tuple[int | None, np.ndarray | None, Damage | None]]:
        """Every chunk that decodes, and a ``Damage`` for every one that does not:
        (first position, images, None) or (first, None, damage). When the index itself is
        damaged, the chunks are found by scanning the file (their positions then come from
        their own headers)."""
        return _salvage(self.decoder, progress)

    def intact_chunks(self) -> tuple[list[tuple[int, int, tuple | None]], list[Damage]]:
        """([(first position, count, names or None)] of the chunks that decode, [Damage]
        of the others): what salvage can restore, each chunk decoded once to know."""
        decoder = self.decoder
        lost = [damage for _, _, damage in self.salvage() if damage is not None]
        damaged = {d.first for d in lost}
        intact = []
        for n, entry in enumerate(decoder.index.chunks):
            if entry.first in damaged:
                continue
            intact.append((entry.first, entry.count, decoder.read_chunk(n).names))
        return intact, lost

    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Decode every chunk (writing nothing): which are damaged, and how many images
        decode."""
        images = chunks = 0
        damaged = []
        for first, block, damage in self.salvage(progress):
            if damage is None or damage.chunk is not None:
                chunks += 1
            if damage is not None:
                damaged.append(damage)
            else:
                images += len(block)
        if not damaged and self.named:  # what every reader checks besides the chunks
            try:
                self.decoder.names()
            except VaezError as e:
                damaged.append(Damage(None, None, None, str(e)))
        return VerifyReport(images, chunks, tuple(damaged), self.trailing)

    # --- closing, pickling ------------------------------------------------------------------
    def close(self) -> None:
        """Close the file (one given as a file object stays open). Reading again reopens
        it."""
        if self._file is not None and self._given is None:
            self._file.close()
        self._file = None

    def __getstate__(self) -> dict:
        """What reopens this reader in another process (a spawned DataLoader worker, a
        Dask task, ``multiprocessing``): its path or bytes, zoo and limits; never the open
        file."""
        if self._given is not None:
            raise TypeError("an archive opened from a file object cannot be pickled; open "
                            "it by path (or from bytes) to send it to another process")
        return {"source": self.path if self.path is not None else self._data,
                "zoo": self._zoo, "max_images": self._max_images, "salvage": self._salvage}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["source"], zoo=state["zoo"], max_images=state["max_images"],
                      salvage=state["salvage"])

    def __repr__(self) -> str:
        where = self.path if self.path is not None else "bytes"
        return f"<vaecodec archive {where}: {len(self)} images>"


def _salvage(decoder: Decoder, progress):
    """Chunk by chunk through ``decoder``'s index: decoded images, or what went wrong
    (with an index found by scanning, the images between the chunks found are lost)."""
    index = decoder.index
    scanned = decoder.index_error
    expected = 0
    for n, entry in enumerate(index.chunks):
        if scanned and entry.first > expected:
            yield expected, None, Damage(None, expected, entry.first - expected,
                                         "no intact chunk holds these images")
        expected = max(expected, entry.first + entry.count)
        try:
            images = decoder.decode_chunk(decoder.read_chunk(n))
        except (FormatError, ValueError) as e:
            yield entry.first, None, Damage(n, entry.first, entry.count, str(e))
        else:
            yield entry.first, images, None
        if progress:
            progress(entry.first + entry.count, index.count)
    if scanned and not decoder.tail_known:
        # the index is lost: how many images followed the last chunk found is unknown
        yield expected, None, Damage(
            None, expected, None,
            ("no intact chunk was found; every image is lost" if not index.chunks else
             f"the index is damaged, so whether images followed image {expected - 1} is "
             "unknown; any that did are lost") + f" ({scanned})")

