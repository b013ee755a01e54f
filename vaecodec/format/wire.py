"""The primitives every vaecodec byte format shares: unsigned LEB128 lengths, strict
msgpack headers, the non-negative integers their fields hold, and zstd frames whose
declared size is checked before anything is allocated."""

from __future__ import annotations

import msgpack
import zstandard

from ..errors import (
    CorruptHeaderError,
    CorruptPayloadError,
    HeaderTooLargeError,
    PayloadSizeError,
    TruncatedError,
)


def leb128(value: int) -> bytes:
    """``value`` (>= 0) as unsigned LEB128: 7 bits a byte, low first, high bit = more."""
    out = bytearray()
    while True:
        byte, value = value & 0x7F, value >> 7
        out.append(byte | (0x80 if value else 0))
        if not value:
            return bytes(out)


def read_leb128(data: bytes, pos: int, most: int, truncated: str, too_long: str
                ) -> tuple[int, int]:
    """(value, position after it) of the unsigned LEB128 at ``data[pos:]``, at most
    ``most`` bytes long: ``TruncatedError(truncated)`` where ``data`` ends inside it,
    ``HeaderTooLargeError(too_long)`` where it runs longer."""
    value, shift = 0, 0
    for i in range(pos, pos + most):
        if i >= len(data):
            raise TruncatedError(truncated)
        byte = data[i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            return value, i + 1
    raise HeaderTooLargeError(too_long)


def unpackb(header_bytes: bytes):
    """A msgpack header: strings as str, string keys only, arrays as lists; anything
    malformed is a ``CorruptHeaderError``."""
    try:
        return msgpack.unpackb(header_bytes, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:  # msgpack raises several types for malformed input
        raise CorruptHeaderError(f"header is not valid msgpack ({type(e).__name__})") from None


def is_count(value) -> bool:
    """Whether a header field is a non-negative int (a bool is not)."""
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


# --- zstd with bounded sizes ---------------------------------------------------------------------
ZSTD_LEVEL = 19  # what the writers compress with
ZSTD_FEED = 64  # compressed bytes per step: at most ~2 MB of output each (16 RLE blocks)


def zstd_chunks(frame: bytes, expected: int, what: str):
    """The content of one zstd frame that must hold exactly ``expected`` bytes, yielded
    piece by piece as it is decompressed, so that the caller can stop early: the input is
    fed a few bytes at a time, which bounds what one step can expand to."""
    check_content_size(frame, expected, what)
    produced = start = 0
    try:
        obj = zstandard.ZstdDecompressor().decompressobj()
        for start in range(0, len(frame), ZSTD_FEED):
            out = obj.decompress(frame[start : start + ZSTD_FEED])
            produced += len(out)
            if produced > expected:
                raise PayloadSizeError(f"{what}: zstd frame holds more than {expected} bytes")
            if out:
                yield out
            if obj.eof:
                break
        if not obj.eof or obj.unused_data or start + ZSTD_FEED < len(frame):
            raise CorruptPayloadError(f"{what}: zstd frame is incomplete or has extra data")
    except zstandard.ZstdError as e:
        raise CorruptPayloadError(f"{what}: zstd frame does not decompress ({e})") from None
    if produced != expected:
        raise PayloadSizeError(f"{what}: decompressed to {produced} bytes, expected {expected}")


def check_content_size(frame: bytes, expected: int, what: str) -> None:
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise CorruptPayloadError(f"{what}: not a zstd frame ({e})") from None
    if declared != expected:
        shown = "unknown" if declared < 0 else str(declared)
        raise PayloadSizeError(
            f"{what}: zstd frame content size is {shown}, header implies {expected} bytes"
        )


def decompress_exact(frame: bytes, expected: int, what: str) -> bytes:
    """The content of one zstd frame that must hold exactly ``expected`` bytes: its declared
    size is checked before anything is allocated."""
    check_content_size(frame, expected, what)
    try:
        obj = zstandard.ZstdDecompressor().decompressobj()
        out = obj.decompress(frame)
        if not obj.eof or obj.unused_data:
            raise CorruptPayloadError(f"{what}: zstd frame is incomplete or has extra data")
    except zstandard.ZstdError as e:
        raise CorruptPayloadError(f"{what}: zstd frame does not decompress ({e})") from None
    if len(out) != expected:
        raise PayloadSizeError(f"{what}: decompressed to {len(out)} bytes, expected {expected}")
    return out
