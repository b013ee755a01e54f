"""Stored image names: each a safe relative path (``check_name``), all of a file's
packed into one field (raw or zstd, whichever is shorter), and unpacked with their sizes
checked before anything is allocated."""

from __future__ import annotations

import re

import zstandard

from ..errors import CorruptHeaderError, HeaderTooLargeError, UnsafeNameError
from .wire import ZSTD_LEVEL, is_count, zstd_chunks

MAX_NAME_BYTES = 1024  # one name, UTF-8
_DRIVE = re.compile(r"^[A-Za-z]:")
_CONTROL = re.compile(r"[\x00-\x1f\\]")  # a control character or a backslash
_BAD_PART = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")  # an empty, "." or ".." component


def check_name(name: str) -> str:
    """Return ``name`` if it is a safe relative path, else raise UnsafeNameError."""
    if not isinstance(name, str) or not name:
        raise UnsafeNameError("stored name is empty or not text")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeNameError(f"stored name is longer than {MAX_NAME_BYTES} bytes")
    if _CONTROL.search(name):
        raise UnsafeNameError(f"stored name {name!r} contains a control character or backslash")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeNameError(f"stored name {name!r} is an absolute path")
    if _BAD_PART.search(name):
        raise UnsafeNameError(f"stored name {name!r} has an empty, '.' or '..' component")
    return name


def check_names(names) -> tuple[str, ...]:
    """Names to write: each safe, all distinct (the writer checks there is one per image;
    the reader checks as it reads, in ``_split_names``)."""
    names = tuple(check_name(n) for n in names)
    if len(set(names)) != len(names):
        raise UnsafeNameError("stored names are not unique")
    return names


def _names_raw(names: tuple[str, ...]) -> bytes:
    return "\x00".join(names).encode("utf-8")


def _split_names(chunks, count: int) -> tuple[str, ...]:
    """The names in the NUL-separated UTF-8 ``chunks`` (bytes, as they arrive), each
    checked as soon as it is complete: a hostile field (an empty, repeated or endless name,
    more names than images) fails at once, before the rest is expanded."""
    names: list[str] = []
    seen: set[str] = set()

    def add(raw: bytes) -> None:  # complete names, NUL-separated
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsafeNameError("stored names are not valid UTF-8") from None
        for name in text.split("\x00"):
            if len(names) == count:
                raise CorruptHeaderError(f"header has more than {count} names for {count} "
                                         "images")
            if name in seen:
                raise UnsafeNameError("stored names are not unique")
            seen.add(check_name(name))
            names.append(name)

    pending = b""
    for chunk in chunks:
        data = pending + chunk
        cut = data.rfind(b"\x00")
        if cut >= 0:
            add(data[:cut])
            data = data[cut + 1 :]
        pending = data
        if len(pending) > MAX_NAME_BYTES:
            raise UnsafeNameError(f"stored name is longer than {MAX_NAME_BYTES} bytes")
    add(pending)
    if len(names) != count:
        raise CorruptHeaderError(f"header has {len(names)} names for {count} images")
    return tuple(names)


def _check_names_size(size: int, count: int) -> None:
    if size > count * (MAX_NAME_BYTES + 1):
        raise HeaderTooLargeError(f"the names take {size} bytes, more than {count} name"
                                  f"{'' if count == 1 else 's'} of at most {MAX_NAME_BYTES} "
                                  "bytes can")


def unpack_names_v1(field, count: int) -> tuple[str, ...]:
    if not isinstance(field, dict) or set(field) != {"size", "zstd"}:
        raise CorruptHeaderError("header field 'names' must be a map of 'size' and 'zstd'")
    size, frame = field["size"], field["zstd"]
    if not is_count(size) or not isinstance(frame, bytes):
        raise CorruptHeaderError("header field 'names' has the wrong types")
    _check_names_size(size, count)
    return _split_names(zstd_chunks(frame, size, "names"), count)


def pack_names(names: tuple[str, ...]) -> list:
    """[0, raw] or [1, size, zstd frame], whichever is shorter."""
    raw = _names_raw(names)
    frame = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    return [1, len(raw), frame] if len(frame) + 4 < len(raw) else [0, raw]


def unpack_names(field, count: int) -> tuple[str, ...]:
    if isinstance(field, list) and len(field) == 2 and field[0] == 0:
        raw = field[1]
        if not isinstance(raw, bytes):
            raise CorruptHeaderError("header field 'names' has the wrong types")
        _check_names_size(len(raw), count)
        return _split_names([raw], count)
    if isinstance(field, list) and len(field) == 3 and field[0] == 1:
        size, frame = field[1], field[2]
        if not is_count(size) or not isinstance(frame, bytes):
            raise CorruptHeaderError("header field 'names' has the wrong types")
        _check_names_size(size, count)
        return _split_names(zstd_chunks(frame, size, "names"), count)
    raise CorruptHeaderError("header field 'names' must be nil, [0, raw] or [1, size, zstd]")
