"""``read_info``: what a .vaez file holds, read from its headers and index (and its chunks'
headers) without the codec stack: no numpy and no network runtime are imported, so that
``vaecodec info`` answers in a fraction of a second. A manifest of shards is read through
``vaecodec.archive`` (its shards are opened and checked)."""

from __future__ import annotations

import io
import os

from . import remote
from .errors import VaezError
from .format import chunked, container
from .format.constants import DEFAULT_MAX_IMAGES
from .format.manifest import looks_like as looks_like_manifest
from .format.sniff import is_chunked, summarize
from .zoo import Zoo


def read_info(source: str | os.PathLike | bytes, *, zoo: Zoo | None = None,
              max_images: int = DEFAULT_MAX_IMAGES) -> container.Header:
    """The header of a .vaez file (a path, a URL or the file's bytes) without decoding any
    image.

    ``image_shape`` is filled in from the file's model when the format does not store it
    (versions 2 to 6) and the model is installed (else None). For a version 5 or 6 file
    the names and sizes are gathered from its chunks' headers; the names of a file of
    more than ``max_images`` images are not unpacked (``names`` is None,
    ``names_stored_size`` counts their bytes). A manifest gives its shards' common header
    and all their images (names None)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        shown, f = "archive", io.BytesIO(bytes(source))
    else:
        shown, f = os.fspath(source), remote.open_input(source)
    with f:
        try:
            prefix = f.read(container.MAX_PREFIX)
            if shown != "archive" and looks_like_manifest(prefix):
                return _manifest_info(source, zoo)
            f.seek(0)
            if not is_chunked(prefix):
                return complete_header(container.read_header(f)[0], zoo)
            header, _ = chunked.read_file_header(f)
            index = chunked.read_index(f, header, f.seek(0, os.SEEK_END), recover=True)
            listed = index.count <= max_images
            return complete_header(summarize(
                header, index,
                lambda n, names: chunked.read_chunk(f, header, index, n, names, meta=False),
                listed), zoo)
        except VaezError as e:
            if shown == "archive" or str(e).startswith(f"{shown}:"):
                raise
            raise type(e)(f"{shown}: {e}") from None


def _manifest_info(source, zoo: Zoo | None) -> container.Header:
    """A manifest's shards' common header with all their images (names None)."""
    from . import archive as archive_io  # the shards are opened and checked

    with archive_io.ManifestReader(source, zoo=zoo) as reader:
        return complete_header(reader.info, zoo)


def complete_header(header: container.Header, zoo: Zoo | None = None) -> container.Header:
    """``header`` with its image shape from its model (``Zoo.complete_header``)."""
    return (Zoo.installed() if zoo is None else zoo).complete_header(header)
