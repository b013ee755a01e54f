"""The primitives every vaecodec byte format shares: unsigned LEB128 lengths, strict
msgpack headers and the non-negative integers their fields hold."""

from __future__ import annotations

import msgpack

from ..errors import CorruptHeaderError, HeaderTooLargeError, TruncatedError


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
