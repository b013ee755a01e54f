"""The .vaez container, format version 1: bytes <-> ``Archive`` (see docs/format.md).

Every length is bounded before anything is allocated, the file must be accounted for
exactly, and each failure has its own exception class. No torch, no models, no images.

Layout::

    magic  b"VAEZ"            4 bytes
    format version (u8)       1 byte   = 1
    header length H (u32 LE)  4 bytes  <= MAX_HEADER_SIZE
    header                    H bytes  msgpack map
    payload                   P bytes  zstd frame, P = header["payload_size"]
    crc32 (u32 LE)            4 bytes  CRC-32 of every byte before it
"""

from __future__ import annotations

import dataclasses
import re
import struct
import zlib

import msgpack
import numpy as np
import zstandard

from .errors import (
    BadMagicError,
    ChecksumError,
    CorruptHeaderError,
    CorruptPayloadError,
    HeaderTooLargeError,
    PayloadSizeError,
    TrailingBytesError,
    TruncatedError,
    UnsafeNameError,
    UnsupportedVersionError,
)

MAGIC = b"VAEZ"
FORMAT_VERSION = 1
PREFIX = struct.Struct("<4sBI")  # magic, format version, header length
CRC = struct.Struct("<I")

MAX_HEADER_SIZE = 16 * 2**20  # bytes of msgpack header
MAX_SYMBOLS = 2**28  # count x latent_size
MAX_COUNT = 2**24  # images in one file
MAX_LATENT_SIZE = 1024
MAX_IMAGE_SIDE = 4096
MAX_NAME_BYTES = 1024  # one name, UTF-8
ZSTD_LEVEL = 19

SYMBOL_DTYPES = {"int8": np.dtype("<i1"), "int16": np.dtype("<i2"), "int32": np.dtype("<i4")}
HEADER_KEYS = {
    "version",
    "model",
    "latent_size",
    "image_shape",
    "quant_step",
    "symbol_dtype",
    "count",
    "payload_size",
    "names",
}
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclasses.dataclass(frozen=True)
class Header:
    model_id: bytes  # sha256 of the weights (32 bytes)
    latent_size: int
    image_shape: tuple[int, int]
    quant_step: float
    symbol_dtype: str  # "int8", "int16" or "int32"
    count: int
    payload_size: int = 0
    names: tuple[str, ...] | None = None  # relative names, "/"-separated, or none stored
    version: int = FORMAT_VERSION
    names_stored_size: int = 0  # bytes the compressed names take in the header

    def to_dict(self) -> dict:
        """A JSON-friendly view (what ``vaecodec info --json`` prints)."""
        return {
            "format_version": self.version,
            "model_id": self.model_id.hex(),
            "latent_size": self.latent_size,
            "image_shape": list(self.image_shape),
            "quant_step": self.quant_step,
            "symbol_dtype": self.symbol_dtype,
            "count": self.count,
            "payload_size": self.payload_size,
            "names": list(self.names) if self.names is not None else None,
        }


@dataclasses.dataclass(frozen=True)
class Archive:
    header: Header
    symbols: np.ndarray  # (count, latent_size), integer


# --- names ----------------------------------------------------------------------------------
def check_name(name: str) -> str:
    """Return ``name`` if it is a safe relative path, else raise UnsafeNameError."""
    if not isinstance(name, str) or not name:
        raise UnsafeNameError("stored name is empty or not text")
    if len(name.encode("utf-8", "surrogatepass")) > MAX_NAME_BYTES:
        raise UnsafeNameError(f"stored name is longer than {MAX_NAME_BYTES} bytes")
    if "\x00" in name or "\\" in name or any(ord(c) < 32 for c in name):
        raise UnsafeNameError(f"stored name {name!r} contains a control character or backslash")
    if name.startswith("/") or _DRIVE.match(name):
        raise UnsafeNameError(f"stored name {name!r} is an absolute path")
    if any(part in ("", ".", "..") for part in name.split("/")):
        raise UnsafeNameError(f"stored name {name!r} has an empty, '.' or '..' component")
    return name


def check_names(names, count: int) -> tuple[str, ...]:
    names = tuple(check_name(n) for n in names)
    if len(names) != count:
        raise CorruptHeaderError(f"header has {len(names)} names for {count} images")
    if len(set(names)) != len(names):
        raise UnsafeNameError("stored names are not unique")
    return names


def _pack_names(names: tuple[str, ...]) -> dict:
    raw = "\x00".join(names).encode("utf-8")
    return {"size": len(raw), "zstd": zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)}


def _unpack_names(field, count: int) -> tuple[str, ...]:
    if not isinstance(field, dict) or set(field) != {"size", "zstd"}:
        raise CorruptHeaderError("header field 'names' must be a map of 'size' and 'zstd'")
    size, frame = field["size"], field["zstd"]
    if not _is_int(size) or not isinstance(frame, bytes):
        raise CorruptHeaderError("header field 'names' has the wrong types")
    if size > count * (MAX_NAME_BYTES + 1):
        raise HeaderTooLargeError(f"names take {size} bytes, more than {count} names can")
    raw = _decompress_exact(frame, size, "names")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UnsafeNameError("stored names are not valid UTF-8") from None
    return check_names(text.split("\x00") if count else [], count)


# --- zstd with bounded sizes ---------------------------------------------------------------------
def _decompress_exact(frame: bytes, expected: int, what: str) -> bytes:
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise CorruptPayloadError(f"{what}: not a zstd frame ({e})") from None
    if declared != expected:
        shown = "unknown" if declared < 0 else str(declared)
        raise PayloadSizeError(
            f"{what}: zstd frame content size is {shown}, header implies {expected} bytes"
        )
    try:
        dctx = zstandard.ZstdDecompressor()
        obj = dctx.decompressobj()
        out = obj.decompress(frame)
        if not obj.eof or obj.unused_data:
            raise CorruptPayloadError(f"{what}: zstd frame is incomplete or has extra data")
    except zstandard.ZstdError as e:
        raise CorruptPayloadError(f"{what}: zstd frame does not decompress ({e})") from None
    if len(out) != expected:
        raise PayloadSizeError(f"{what}: decompressed to {len(out)} bytes, expected {expected}")
    return out


# --- writing --------------------------------------------------------------------------------------
def pack(header: Header, symbols: np.ndarray) -> bytes:
    """Serialise an archive. ``symbols`` has shape (count, latent_size)."""
    dtype = SYMBOL_DTYPES[header.symbol_dtype]
    symbols = np.asarray(symbols)
    if symbols.shape != (header.count, header.latent_size):
        raise ValueError(f"symbols have shape {symbols.shape}, header says "
                         f"({header.count}, {header.latent_size})")
    # dimension-major: each latent dimension's symbols sit together and compress better
    raw = np.ascontiguousarray(symbols.T, dtype=dtype).tobytes()
    payload = zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(raw)
    fields = {
        "version": FORMAT_VERSION,
        "model": header.model_id,
        "latent_size": header.latent_size,
        "image_shape": list(header.image_shape),
        "quant_step": float(header.quant_step),
        "symbol_dtype": header.symbol_dtype,
        "count": header.count,
        "payload_size": len(payload),
        "names": None if header.names is None else _pack_names(tuple(header.names)),
    }
    header_bytes = msgpack.packb(fields, use_bin_type=True)
    if len(header_bytes) > MAX_HEADER_SIZE:
        raise HeaderTooLargeError(f"header would take {len(header_bytes)} bytes "
                                  f"(limit {MAX_HEADER_SIZE}); store fewer names per file")
    body = PREFIX.pack(MAGIC, FORMAT_VERSION, len(header_bytes)) + header_bytes + payload
    return body + CRC.pack(zlib.crc32(body))


# --- reading --------------------------------------------------------------------------------------
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def read_prefix(prefix: bytes) -> int:
    """Check magic and version of the first ``PREFIX.size`` bytes; return the header length."""
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(prefix):
            raise TruncatedError("file is truncated: it ends inside the .vaez prefix")
        raise BadMagicError("not a .vaez file (bad magic bytes)")
    if len(prefix) < PREFIX.size:
        raise TruncatedError("file is truncated: it ends inside the .vaez prefix")
    _, version, header_size = PREFIX.unpack_from(prefix)
    if version != FORMAT_VERSION:
        raise UnsupportedVersionError(
            f"format version {version} is not supported: this vaecodec reads version "
            f"{FORMAT_VERSION}" + (" (upgrade vaecodec)" if version > FORMAT_VERSION else "")
        )
    if header_size > MAX_HEADER_SIZE:
        raise HeaderTooLargeError(f"header length {header_size} exceeds the {MAX_HEADER_SIZE} cap")
    return header_size


def parse_header(header_bytes: bytes) -> Header:
    """Decode and validate the msgpack header (names included)."""
    try:
        fields = msgpack.unpackb(header_bytes, raw=False, strict_map_key=True, use_list=True)
    except Exception as e:  # msgpack raises several types for malformed input
        raise CorruptHeaderError(f"header is not valid msgpack ({type(e).__name__})") from None
    if not isinstance(fields, dict):
        raise CorruptHeaderError("header is not a msgpack map")
    if set(fields) != HEADER_KEYS:
        missing, extra = HEADER_KEYS - set(fields), set(fields) - HEADER_KEYS
        raise CorruptHeaderError(
            f"header keys are wrong (missing {sorted(missing)}, unexpected {sorted(extra, key=str)})"
        )
    if fields["version"] != FORMAT_VERSION:
        raise CorruptHeaderError("header version does not match the prefix")
    model = fields["model"]
    if not isinstance(model, bytes) or len(model) != 32:
        raise CorruptHeaderError("header field 'model' must be 32 bytes")
    for key in ("latent_size", "count", "payload_size"):
        if not _is_int(fields[key]):
            raise CorruptHeaderError(f"header field {key!r} must be a non-negative integer")
    shape = fields["image_shape"]
    if not (isinstance(shape, list) and len(shape) == 2 and all(_is_int(s) for s in shape)):
        raise CorruptHeaderError("header field 'image_shape' must be two integers")
    step = fields["quant_step"]
    if not isinstance(step, float) or not (0.0 < step < float("inf")):
        raise CorruptHeaderError("header field 'quant_step' must be a positive float")
    if fields["symbol_dtype"] not in SYMBOL_DTYPES:
        raise CorruptHeaderError("header field 'symbol_dtype' must be int8, int16 or int32")
    latent_size, count = fields["latent_size"], fields["count"]
    if not 1 <= latent_size <= MAX_LATENT_SIZE:
        raise HeaderTooLargeError(f"latent size {latent_size} is outside 1..{MAX_LATENT_SIZE}")
    if not 1 <= count <= MAX_COUNT:
        raise HeaderTooLargeError(f"image count {count} is outside 1..{MAX_COUNT}")
    if count * latent_size > MAX_SYMBOLS:
        raise HeaderTooLargeError(
            f"{count} images x {latent_size} latents exceeds the {MAX_SYMBOLS} symbol cap"
        )
    if not all(1 <= s <= MAX_IMAGE_SIDE for s in shape):
        raise HeaderTooLargeError(f"image shape {shape} is outside 1..{MAX_IMAGE_SIDE}")
    names = fields["names"]
    names_stored = 0
    if names is not None:
        names_stored = len(names.get("zstd", b"")) if isinstance(names, dict) else 0
        names = _unpack_names(names, count)
    return Header(
        model_id=model,
        latent_size=latent_size,
        image_shape=(shape[0], shape[1]),
        quant_step=step,
        symbol_dtype=fields["symbol_dtype"],
        count=count,
        payload_size=fields["payload_size"],
        names=names,
        names_stored_size=names_stored,
    )


def expected_size(header_size: int, header: Header) -> int:
    return PREFIX.size + header_size + header.payload_size + CRC.size


def check_total_size(actual: int, expected: int) -> None:
    if actual < expected:
        raise TruncatedError(f"file is truncated: {actual} bytes, the header implies {expected}")
    if actual > expected:
        raise TrailingBytesError(f"{actual - expected} unexpected bytes after the end of the file")


def unpack(data: bytes) -> Archive:
    """Parse and check a whole .vaez file."""
    data = bytes(data)
    header_size = read_prefix(data[: PREFIX.size])
    header_end = PREFIX.size + header_size
    if len(data) < header_end:
        raise TruncatedError(f"file is truncated: it ends inside the {header_size}-byte header")
    return unpack_rest(data, header_size, parse_header(data[PREFIX.size : header_end]))


def unpack_rest(data: bytes, header_size: int, header: Header) -> Archive:
    """Finish ``unpack`` once the header is parsed: length, checksum, payload."""
    total = expected_size(header_size, header)
    check_total_size(len(data), total)
    (stored_crc,) = CRC.unpack_from(data, total - CRC.size)
    if zlib.crc32(memoryview(data)[: total - CRC.size]) != stored_crc:
        raise ChecksumError("checksum mismatch: the file is corrupted")
    dtype = SYMBOL_DTYPES[header.symbol_dtype]
    header_end = PREFIX.size + header_size
    raw = _decompress_exact(
        data[header_end : header_end + header.payload_size],
        header.count * header.latent_size * dtype.itemsize,
        "payload",
    )
    symbols = np.frombuffer(raw, dtype=dtype).reshape(header.latent_size, header.count).T
    return Archive(header, symbols)
