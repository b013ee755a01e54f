"""Per-image fields of version 6 files beyond the pixels and names: an integer label and
a small metadata map per image, and the class names of the labels (docs/format.md,
"Version 6"); and, in version 7, the channels of the image each was made from. Bytes
only: packed and unpacked with every size checked before anything is allocated, and
every value's type checked, so that a hostile file gives a ``FormatError`` and the
writer refuses what a reader would refuse."""

from __future__ import annotations

import struct

import msgpack
import zstandard

from ..errors import (
    CorruptHeaderError,
    HeaderTooLargeError,
    InvalidArrayError,
    UnsupportedVersionError,
)
from .wire import ZSTD_LEVEL, decompress_exact, is_count, unpackb

# the fields a version 6 file may store per image, in the order they are listed
# ("channels": version 7 only)
KNOWN = ("label", "meta", "channels")
LABEL_MIN, LABEL_MAX = -(2**63), 2**63 - 1  # labels are int64
MAX_META_ENTRY = 2**16  # bytes of one image's metadata, packed
MAX_META_CHUNK = 2**26  # bytes of a chunk's metadata, unpacked
MAX_META_KEYS = 256  # keys of one image's metadata
MAX_KEY_BYTES = 256  # one key, UTF-8
MAX_CLASSES = 2**20
MAX_CLASS_BYTES = 1024  # one class name, UTF-8
META_TYPES = (type(None), bool, int, float, str, bytes)
MAX_SOURCE_CHANNELS = 4  # grayscale, grayscale and alpha, RGB, RGBA


def check_fields(fields) -> tuple[str, ...]:
    """A file header's list of per-image fields: known names, in KNOWN's order, once
    each. A name this vaecodec does not know is ``UnsupportedVersionError``."""
    if not isinstance(fields, list) or not all(isinstance(f, str) for f in fields):
        raise CorruptHeaderError("header field 'fields' must be an array of strings")
    unknown = [f for f in fields if f not in KNOWN]
    if unknown:
        raise UnsupportedVersionError(f"the file stores a per-image field {unknown[0]!r} "
                                      "that this vaecodec does not know (upgrade vaecodec)")
    if list(fields) != sorted(set(fields), key=KNOWN.index):
        raise CorruptHeaderError("header field 'fields' must list each field once, in the "
                                 "order " + ", ".join(KNOWN))
    return tuple(fields)


# --- labels --------------------------------------------------------------------------------
LABEL_WIDTHS = {1: "b", 2: "h", 4: "i", 8: "q"}  # bytes per label: struct's signed types


def pack_labels(labels) -> list:
    """[width, zstd frame]: the n labels as signed little-endian integers of the narrowest
    of 1, 2, 4 and 8 bytes that holds them all, in one zstd frame with its content size."""
    low, high = (min(labels), max(labels)) if len(labels) else (0, 0)
    width = next(w for w in LABEL_WIDTHS if -(2 ** (8 * w - 1)) <= low and high < 2 ** (8 * w - 1))
    raw = struct.pack(f"<{len(labels)}{LABEL_WIDTHS[width]}", *labels)
    return [width, zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)]


def unpack_labels(field, count: int) -> tuple[int, ...]:
    if not (isinstance(field, list) and len(field) == 2 and field[0] in LABEL_WIDTHS
            and type(field[0]) is int and isinstance(field[1], bytes)):
        raise CorruptHeaderError("chunk field 'label' must be [width 1, 2, 4 or 8, zstd "
                                 "frame]")
    width, frame = field
    raw = decompress_exact(frame, width * count, "labels")
    return struct.unpack(f"<{count}{LABEL_WIDTHS[width]}", raw)


def check_labels(labels, count: int) -> tuple[int, ...]:
    """Labels given to a writer: ``count`` integers in int64's range (numpy integers
    too; a bool or a float is refused)."""
    try:
        items = list(labels)
    except TypeError:
        raise InvalidArrayError("labels must be a sequence of integers") from None
    if len(items) != count:
        raise InvalidArrayError(f"{len(items)} labels for {count} images: give one per image")
    out = []
    for value in items:
        if isinstance(value, bool) or not hasattr(value, "__index__"):
            raise InvalidArrayError(f"a label must be an integer, not {value!r}")
        value = value.__index__()
        if not LABEL_MIN <= value <= LABEL_MAX:
            raise InvalidArrayError(f"label {value} does not fit 64 bits")
        out.append(value)
    return tuple(out)


# --- metadata ------------------------------------------------------------------------------
def check_meta_entry(entry, where: str = "metadata") -> dict | None:
    """One image's metadata: None, or a map of at most MAX_META_KEYS text keys (1..256
    UTF-8 bytes) to None, bool, int (64 bits), float, str or bytes, packed
    in at most MAX_META_ENTRY bytes."""
    if entry is None:
        return None
    if not isinstance(entry, dict):
        raise CorruptHeaderError(f"{where} must be nil or a map")
    if len(entry) > MAX_META_KEYS:
        raise HeaderTooLargeError(f"{where} has more than {MAX_META_KEYS} keys")
    for key, value in entry.items():
        if not isinstance(key, str) or not 1 <= len(key.encode("utf-8", "surrogatepass")) \
                <= MAX_KEY_BYTES:
            raise CorruptHeaderError(f"{where}: keys must be text of 1..{MAX_KEY_BYTES} bytes")
        if not isinstance(value, META_TYPES):
            raise CorruptHeaderError(f"{where}: the value of {key!r} is a "
                                     f"{type(value).__name__}, not a number, text, bytes, "
                                     "a bool or nil")
        if isinstance(value, int) and not isinstance(value, bool) \
                and not LABEL_MIN <= value <= 2**64 - 1:
            raise CorruptHeaderError(f"{where}: the value of {key!r} does not fit 64 bits")
    return entry


def meta_for_writing(meta, count: int) -> tuple[dict | None, ...]:
    """Metadata given to a writer: one entry per image, each None or a map as
    ``check_meta_entry`` allows (numpy scalars become Python's), and small."""
    try:
        items = list(meta)
    except TypeError:
        raise InvalidArrayError("metadata must be a sequence of dicts (or None)") from None
    if len(items) != count:
        raise InvalidArrayError(f"{len(items)} metadata entries for {count} images: give one "
                                "per image (None for none)")
    out: list[dict | None] = []
    for i, entry in enumerate(items):
        if entry is not None:
            if not isinstance(entry, dict):
                raise InvalidArrayError(f"metadata of image {i} is a {type(entry).__name__}, "
                                        "not a dict")
            entry = {k: _plain(v) for k, v in entry.items()}
            try:
                check_meta_entry(entry, f"metadata of image {i}")
            except (CorruptHeaderError, HeaderTooLargeError) as e:
                raise InvalidArrayError(str(e)) from None
            if len(msgpack.packb(entry, use_bin_type=True)) > MAX_META_ENTRY:
                raise InvalidArrayError(f"metadata of image {i} takes more than "
                                        f"{MAX_META_ENTRY} bytes")
        out.append(entry)
    return tuple(out)


def _plain(value):
    """numpy scalars as the Python values they hold (item()); anything else as it is."""
    if hasattr(value, "item") and type(value).__module__ == "numpy":
        return value.item()
    return value


def pack_meta(entries) -> list:
    """[unpacked size, zstd frame] of the msgpack array of the entries."""
    raw = msgpack.packb(list(entries), use_bin_type=True)
    if len(raw) > MAX_META_CHUNK:
        raise InvalidArrayError(f"a chunk's metadata takes more than {MAX_META_CHUNK} bytes")
    return [len(raw), zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)]


def unpack_meta(field, count: int) -> tuple[dict | None, ...]:
    if not (isinstance(field, list) and len(field) == 2 and is_count(field[0])
            and isinstance(field[1], bytes)):
        raise CorruptHeaderError("chunk field 'meta' must be [size, zstd frame]")
    size, frame = field
    if size > MAX_META_CHUNK:
        raise HeaderTooLargeError(f"a chunk's metadata declares {size} bytes, more than the "
                                  f"{MAX_META_CHUNK} cap")
    entries = unpackb(decompress_exact(frame, size, "metadata"))
    if not isinstance(entries, list) or len(entries) != count:
        raise CorruptHeaderError(f"a chunk's metadata is not an array of {count} entries")
    return tuple(check_meta_entry(e) for e in entries)


# --- source channels -----------------------------------------------------------------------
def pack_channels(channels) -> bytes:
    """One zstd frame (with its content size) of one byte per image: the channels of the
    image it was made from, 1..4."""
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(bytes(channels))


def unpack_channels(field, count: int) -> bytes:
    """A chunk's ``channels`` field: ``count`` bytes, each in 1..4."""
    if not isinstance(field, bytes):
        raise CorruptHeaderError("chunk field 'channels' must be a zstd frame")
    raw = decompress_exact(field, count, "source channels")
    if min(raw) < 1 or max(raw) > MAX_SOURCE_CHANNELS:
        raise CorruptHeaderError("chunk field 'channels' holds a count outside "
                                 f"1..{MAX_SOURCE_CHANNELS}")
    return raw


def check_channels(given, count: int) -> bytes:
    """Source channels given to a writer: ``count`` integers in 1..4."""
    try:
        items = [int(v) for v in given]
    except (TypeError, ValueError):
        raise InvalidArrayError("source channels must be a sequence of integers") from None
    if len(items) != count:
        raise InvalidArrayError(f"{len(items)} source channel counts for {count} images")
    if items and (min(items) < 1 or max(items) > MAX_SOURCE_CHANNELS):
        raise InvalidArrayError(f"a source channel count is outside 1..{MAX_SOURCE_CHANNELS}")
    return bytes(items)


# --- a chunk's fields ----------------------------------------------------------------------
def pack_extras(fields: tuple[str, ...], labels, meta, channels=None) -> dict:
    """A version 6 chunk's field 8: a map from each of the file's fields to its data."""
    out: dict[str, object] = {}
    if "label" in fields:
        out["label"] = pack_labels(labels)
    if "meta" in fields:
        out["meta"] = pack_meta(meta)
    if "channels" in fields:
        out["channels"] = pack_channels(channels)
    return out


def unpack_extras(field, fields: tuple[str, ...], count: int, meta: bool = True):
    """(labels or None, metadata or None, source channels or None) of a version 6 (or 7)
    chunk's field 8; ``meta=False``: the metadata is checked for its shape only, not
    unpacked (None)."""
    if not isinstance(field, dict) or set(field) != set(fields):
        raise CorruptHeaderError("a chunk's per-image fields are not the file's: "
                                 + ", ".join(fields))
    labels = unpack_labels(field["label"], count) if "label" in fields else None
    entries = None
    if "meta" in fields:
        if meta:
            entries = unpack_meta(field["meta"], count)
        elif not (isinstance(field["meta"], list) and len(field["meta"]) == 2):
            raise CorruptHeaderError("chunk field 'meta' must be [size, zstd frame]")
    sources = (unpack_channels(field["channels"], count)
               if "channels" in fields else None)
    return labels, entries, sources


# --- class names ---------------------------------------------------------------------------
def check_classes(classes) -> tuple[str, ...]:
    """Class names (of labels 0, 1, ...): distinct non-empty text of at most 1,024 UTF-8
    bytes each, without control characters, at most MAX_CLASSES."""
    if not isinstance(classes, (list, tuple)):
        raise CorruptHeaderError("the class names must be an array of text")
    if len(classes) > MAX_CLASSES:
        raise HeaderTooLargeError(f"more than {MAX_CLASSES} class names")
    for name in classes:
        if not isinstance(name, str) or not name \
                or len(name.encode("utf-8", "surrogatepass")) > MAX_CLASS_BYTES \
                or any(ord(c) < 32 for c in name):
            raise CorruptHeaderError("a class name must be text of 1..1024 bytes without "
                                     "control characters")
    if len(set(classes)) != len(classes):
        raise CorruptHeaderError("the class names are not distinct")
    return tuple(classes)


def classes_for_writing(classes) -> tuple[str, ...]:
    if isinstance(classes, str):
        raise InvalidArrayError("classes must be a list of names, not one string")
    try:
        return check_classes(list(classes))
    except (CorruptHeaderError, HeaderTooLargeError) as e:
        raise InvalidArrayError(str(e)) from None

