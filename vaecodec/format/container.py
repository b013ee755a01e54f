"""The .vaez container: bytes <-> ``Archive`` (see docs/format.md).

Every length is bounded before anything is allocated, the file must be accounted for
exactly, and each failure has its own exception class. Bytes only: no numpy, no models, no
images; the payload is handed on as bytes for the coder that the header names
(``vaecodec.core.coders``) to decode.

Version 2 (written for lossy files)::

    magic  b"VAEZ"            4 bytes
    format version (u8)       1 byte   = 2
    header length H           1-4 bytes, unsigned LEB128, <= MAX_HEADER_SIZE
    header                    H bytes  msgpack array (see HEADER_V2 below)
    payload                   P bytes  zstd frame or range-coded words
    crc32 (u32 LE)            4 bytes  CRC-32 of every byte before it

Version 3 (written for files with a residual layer): version 2 plus an eighth header
field describing the residual layer, whose chunks follow the payload.

Version 1 (read only): the same, but H is a u32 LE and the header a msgpack map.
"""

from __future__ import annotations

import dataclasses
import io
import struct
import zlib

import msgpack
import zstandard

from ..errors import (
    BadMagicError,
    ChecksumError,
    CorruptHeaderError,
    HeaderTooLargeError,
    TrailingBytesError,
    TruncatedError,
    UnsupportedVersionError,
)
from .constants import DEFAULT_MAX_IMAGES, MAX_RESIDUAL_ERROR, MODEL_ID_BYTES, WIRE_CODERS  # noqa: F401  (its API)
from .names import (  # noqa: F401  (check_name, check_names: its API)
    MAX_NAME_BYTES,
    check_name,
    check_names,
    pack_names,
    unpack_names,
    unpack_names_v1,
)
from .wire import (  # noqa: F401  (ZSTD_LEVEL, decompress_exact: its API)
    ZSTD_LEVEL,
    decompress_exact,
    is_count,
    leb128,
    read_leb128,
    unpackb,
    zstd_chunks,
)

MAGIC = b"VAEZ"
FORMAT_VERSION = 2  # what the writer produces for lossy files
RESIDUAL_VERSION = 3  # ... and for files with a residual layer
EMBEDDED_VERSION = 4  # ... and for files that carry their model family or invert images
CHUNKED_VERSION = 5
FIELDS_VERSION = 6  # ... and for chunked files with labels or metadata per image
CHANNELS_VERSION = 7  # ... and for chunked files of images of several channels (colour)
READABLE_VERSIONS = (1, 2, 3, 4, 5, 6, 7)  # 5, 6, 7: chunked (format/chunked.py)
MAX_EMBEDDED_MODEL = 2**30  # bytes of an embedded model family file
RESIDUAL_LAYOUTS = (1, 2, 3, 4, 5)  # residual payload layouts this reader knows (docs/format.md)
LAYOUTS_WITHOUT_BASE = (5,)  # ... whose files store no base layer (empty latent payloads)
MAX_RESIDUAL_COUNT = 2**20  # images in one file with a residual layer
RESIDUAL_CHUNK = 4096  # images per independently coded residual chunk
PREFIX_V1 = struct.Struct("<4sBI")  # magic, format version, header length
MAX_PREFIX = 9  # bytes that always hold the whole prefix (v1: 9, v2: 6 to 9)
CRC = struct.Struct("<I")

MAX_HEADER_SIZE = 16 * 2**20  # bytes of msgpack header
MAX_SYMBOLS = 2**28  # count x latent_size
MAX_WHOLE_COUNT = 2**24  # images in one unchunked file (versions 1-4)
MAX_LATENT_SIZE = 1024
MAX_IMAGE_SIDE = 4096
MAX_LEVEL = 255

SYMBOL_DTYPES = ("int8", "int16", "int32")  # stored little-endian
CODER_IDS = {value: key for key, value in WIRE_CODERS.items()}
HEADER_KEYS_V1 = {
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
# v2 header: a msgpack array of these, in this order
HEADER_V2 = ("model", "latent_size", "quant", "coder", "count", "payload_size", "names")


@dataclasses.dataclass(frozen=True)
class Header:
    model_id: bytes  # sha256 of the weights (v1: all 32 bytes; v2: the first 4)
    latent_size: int
    # (height, width), or (height, width, channels) for several channels (version 7);
    # None where the file does not store it (versions 2-6): the model's
    image_shape: tuple[int, ...] | None
    count: int
    quant_step: float | None = None  # None when a quality level sets it
    level: int | None = None  # quality level (v2), or None for an explicit step
    coder: str = "zstd"  # "zstd" or "range"
    symbol_dtype: str = "int8"  # zstd payloads: the stored symbol type
    payload_size: int = 0
    names: tuple[str, ...] | None = None  # relative names, "/"-separated, or none stored
    version: int = FORMAT_VERSION
    names_stored_size: int = 0  # bytes the names take in the header
    residual: "Residual | None" = None  # the residual layer (version 3 or 4), if any
    embedded_model_size: int = 0  # bytes of the model family file it carries (version 4)
    # version 4: which images were coded inverted (dark on light for a light-on-dark model):
    # a bitmap, bit i (little-endian bit order) for image i; None when none was
    inverted: bytes | None = None
    # version 6: the per-image fields stored ("label", "meta") and the labels' class names
    fields: tuple[str, ...] = ()
    classes: tuple[str, ...] | None = None

    def to_dict(self) -> dict:
        """A JSON-friendly view (what ``vaecodec info --json`` prints)."""
        return {
            "format_version": self.version,
            "model_id": self.model_id.hex(),
            "latent_size": self.latent_size,
            "image_shape": None if self.image_shape is None else list(self.image_shape),
            "quality_level": self.level,
            "quant_step": self.quant_step,
            "coder": self.coder,
            "symbol_dtype": self.symbol_dtype,
            "count": self.count,
            "payload_size": self.payload_size,
            "names": list(self.names) if self.names is not None else None,
            "residual": None if self.residual is None else {
                "layout": self.residual.layout,
                "pixel_model_id": self.residual.model_id.hex(),
                "max_error": self.residual.max_error,
                "chunk_sizes": list(self.residual.chunk_sizes),
            },
            "embedded_model_bytes": self.embedded_model_size,
            "labels": "label" in self.fields,
            "metadata": "meta" in self.fields,
            "source_channels": "channels" in self.fields,
            "classes": None if self.classes is None else list(self.classes),
            "inverted_images": None if self.inverted is None else sum(
                bin(byte).count("1") for byte in self.inverted),
        }


@dataclasses.dataclass(frozen=True)
class Residual:
    """The residual layer: exact (max_error 0) or error-bounded pixels over the base layer,
    coded in chunks of ``RESIDUAL_CHUNK`` images that follow the latent payload."""

    model_id: bytes  # the pixel model's sha256 (first 4 bytes stored)
    max_error: int
    chunk_sizes: tuple[int, ...]
    layout: int = 1

    @property
    def size(self) -> int:
        return sum(self.chunk_sizes)


@dataclasses.dataclass(frozen=True)
class Archive:
    """A checked file: its header and the coded bytes, not yet decoded."""

    header: Header
    payload: bytes  # the latent symbols, as the header's coder wrote them
    residual: bytes | None = None  # the residual chunks, back to back
    model: bytes | None = None  # the embedded model family file (.vaem), if any


# --- names ----------------------------------------------------------------------------------
# --- writing (always the newest version) ----------------------------------------------
def pack(header: Header, payload: bytes, residual: bytes = b"", model: bytes = b"") -> bytes:
    """Serialise a file around an already coded ``payload`` (and residual chunks, whose
    sizes ``header.residual`` lists, and a model family file to embed): version 4 with an
    embedded model, else 3 with a residual layer, else 2."""
    if len(header.model_id) < MODEL_ID_BYTES:
        raise ValueError("model id too short")
    if (header.level is None) == (header.quant_step is None):
        raise ValueError("a header has either a quality level or a quantization step")
    # versions 2 and 3 do not store the image shape: the model the header names has one
    coder_id = CODER_IDS[(header.coder, header.symbol_dtype)]
    # one of the two is set (checked above)
    quant = header.level if header.level is not None else float(header.quant_step or 0.0)
    fields = [
        header.model_id[:MODEL_ID_BYTES],
        header.latent_size,
        quant,
        coder_id,
        header.count,
        len(payload),
        None if header.names is None else pack_names(tuple(header.names)),
    ]
    version = FORMAT_VERSION
    layer = None
    if header.residual is not None:
        r = header.residual
        if r.size != len(residual) or header.count > MAX_RESIDUAL_COUNT:
            raise ValueError("residual chunks do not match the header")
        layer = [r.layout, r.model_id[:MODEL_ID_BYTES], r.max_error, list(r.chunk_sizes)]
        fields.append(layer)
        version = RESIDUAL_VERSION
    elif residual:
        raise ValueError("residual bytes without a residual header")
    if model or header.inverted is not None:
        if len(model) > MAX_EMBEDDED_MODEL:
            raise ValueError("the model to embed is larger than a file can carry")
        inverted = None
        if header.inverted is not None:
            if len(header.inverted) != -(-header.count // 8):
                raise ValueError("the inverted-images bitmap does not match the count")
            inverted = (True if header.inverted == all_inverted(header.count)
                        else zstandard.ZstdCompressor(level=ZSTD_LEVEL).compress(header.inverted))
        fields[len(HEADER_V2):] = [layer, len(model), inverted]
        version = EMBEDDED_VERSION
    header_bytes = msgpack.packb(fields, use_bin_type=True)
    if len(header_bytes) > MAX_HEADER_SIZE:
        raise HeaderTooLargeError(f"header would take {len(header_bytes)} bytes "
                                  f"(limit {MAX_HEADER_SIZE}); store fewer names per file")
    body = (MAGIC + bytes([version]) + leb128(len(header_bytes)) + header_bytes + payload
            + residual + model)
    return body + CRC.pack(zlib.crc32(body))


# --- reading --------------------------------------------------------------------------------------
def read_prefix(prefix: bytes) -> tuple[int, int, int]:
    """Check magic and version in the first bytes (up to MAX_PREFIX) of a file.

    Returns (format version, header length, prefix length)."""
    if len(prefix) < len(MAGIC) or prefix[: len(MAGIC)] != MAGIC:
        if MAGIC.startswith(prefix):
            raise TruncatedError("file is truncated: it ends inside the .vaez prefix")
        raise BadMagicError("not a .vaez file (bad magic bytes)")
    if len(prefix) < 5:
        raise TruncatedError("file is truncated: it ends inside the .vaez prefix")
    version = prefix[4]
    if version not in READABLE_VERSIONS:
        newest = max(READABLE_VERSIONS)
        raise UnsupportedVersionError(
            f"format version {version} is not supported: this vaecodec reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}"
            + (" (upgrade vaecodec)" if version > newest else "")
        )
    if version == 1:
        if len(prefix) < PREFIX_V1.size:
            raise TruncatedError("file is truncated: it ends inside the .vaez prefix")
        header_size, prefix_size = PREFIX_V1.unpack_from(prefix)[2], PREFIX_V1.size
    else:
        header_size, prefix_size = read_leb128(
            prefix, 5, 4, "file is truncated: it ends inside the .vaez prefix",
            "header length field is longer than 4 bytes")
    if header_size > MAX_HEADER_SIZE:
        raise HeaderTooLargeError(f"header length {header_size} exceeds the {MAX_HEADER_SIZE} cap")
    return version, header_size, prefix_size


def _check_sizes(latent_size: int, count: int, shape: tuple[int, int] | None) -> None:
    if not 1 <= latent_size <= MAX_LATENT_SIZE:
        raise HeaderTooLargeError(f"latent size {latent_size} is outside 1..{MAX_LATENT_SIZE}")
    if not 1 <= count <= MAX_WHOLE_COUNT:
        raise HeaderTooLargeError(f"image count {count} is outside 1..{MAX_WHOLE_COUNT}")
    if count * latent_size > MAX_SYMBOLS:
        raise HeaderTooLargeError(
            f"{count} images x {latent_size} latents exceeds the {MAX_SYMBOLS} symbol cap"
        )
    if shape is not None and not all(1 <= side <= MAX_IMAGE_SIDE for side in shape):
        raise HeaderTooLargeError(f"image shape {shape} is outside 1..{MAX_IMAGE_SIDE}")


def _check_shape(shape) -> tuple[int, int]:
    if not (isinstance(shape, list) and len(shape) == 2 and all(is_count(s) for s in shape)):
        raise CorruptHeaderError("header field 'image_shape' must be two integers")
    return shape[0], shape[1]


def _parse_v1(header_bytes: bytes) -> Header:
    fields = unpackb(header_bytes)
    if not isinstance(fields, dict):
        raise CorruptHeaderError("header is not a msgpack map")
    if set(fields) != HEADER_KEYS_V1:
        missing, extra = HEADER_KEYS_V1 - set(fields), set(fields) - HEADER_KEYS_V1
        raise CorruptHeaderError(
            f"header keys are wrong (missing {sorted(missing)}, "
            f"unexpected {sorted(extra, key=str)})"
        )
    if fields["version"] != 1:
        raise CorruptHeaderError("header version does not match the prefix")
    model = fields["model"]
    if not isinstance(model, bytes) or len(model) != 32:
        raise CorruptHeaderError("header field 'model' must be 32 bytes")
    for key in ("latent_size", "count", "payload_size"):
        if not is_count(fields[key]):
            raise CorruptHeaderError(f"header field {key!r} must be a non-negative integer")
    shape = _check_shape(fields["image_shape"])
    step = fields["quant_step"]
    if not isinstance(step, float) or not (0.0 < step < float("inf")):
        raise CorruptHeaderError("header field 'quant_step' must be a positive float")
    if fields["symbol_dtype"] not in SYMBOL_DTYPES:
        raise CorruptHeaderError("header field 'symbol_dtype' must be int8, int16 or int32")
    latent_size, count = fields["latent_size"], fields["count"]
    _check_sizes(latent_size, count, shape)
    names, names_stored = fields["names"], 0
    if names is not None:
        names_stored = len(names.get("zstd", b"")) if isinstance(names, dict) else 0
        names = unpack_names_v1(names, count)
    return Header(model_id=model, latent_size=latent_size, image_shape=shape, count=count,
                  quant_step=step, coder="zstd", symbol_dtype=fields["symbol_dtype"],
                  payload_size=fields["payload_size"], names=names, version=1,
                  names_stored_size=names_stored)


def parse_residual(field, count: int, level: int | None) -> Residual:
    if not isinstance(field, list) or len(field) < 1 or not is_count(field[0]):
        raise CorruptHeaderError("header field 'residual' must start with a layout number")
    if field[0] not in RESIDUAL_LAYOUTS:
        raise UnsupportedVersionError(
            f"the residual layer uses payload layout {field[0]}: this vaecodec reads layout "
            f"{', '.join(map(str, RESIDUAL_LAYOUTS))}"
            + (" (upgrade vaecodec)" if field[0] > max(RESIDUAL_LAYOUTS) else ""))
    if len(field) != 4:
        raise CorruptHeaderError("header field 'residual' must have 4 entries")
    _, model, max_error, sizes = field
    if not isinstance(model, bytes) or len(model) != MODEL_ID_BYTES:
        raise CorruptHeaderError(f"residual pixel model id must be {MODEL_ID_BYTES} bytes")
    if not is_count(max_error) or max_error > MAX_RESIDUAL_ERROR:
        raise CorruptHeaderError(f"residual max_error must be 0..{MAX_RESIDUAL_ERROR}")
    if level is None:
        raise CorruptHeaderError("a residual layer needs a quality level for its base layer")
    if count > MAX_RESIDUAL_COUNT:
        raise HeaderTooLargeError(f"{count} images exceed the {MAX_RESIDUAL_COUNT}-image cap "
                                  "for files with a residual layer")
    chunks = -(-count // RESIDUAL_CHUNK)
    if (not isinstance(sizes, list) or len(sizes) != chunks
            or not all(is_count(s) and s % 4 == 0 for s in sizes)):
        raise CorruptHeaderError(f"residual chunk sizes must be {chunks} multiples of 4")
    return Residual(model, max_error, tuple(sizes), field[0])


def parse_quant(quant, coder) -> tuple[int | None, float | None, str, str]:
    """The header fields 'quant' and 'coder' (versions 2 to 5), checked: (level or None,
    step or None, coder name, symbol type)."""
    level = step = None
    if is_count(quant):
        if not 1 <= quant <= MAX_LEVEL:
            raise CorruptHeaderError(f"quality level {quant} is outside 1..{MAX_LEVEL}")
        level = quant
    elif isinstance(quant, float) and 0.0 < quant < float("inf"):
        step = quant
    else:
        raise CorruptHeaderError("header field 'quant' must be a level or a positive step")
    if type(coder) is not int or coder not in WIRE_CODERS:
        raise CorruptHeaderError("header field 'coder' must be 0, 1, 2 or 3")
    coder_name, dtype = WIRE_CODERS[coder]
    if coder_name == "range" and level is None:
        raise CorruptHeaderError("a range-coded payload needs a quality level (for its prior)")
    return level, step, coder_name, dtype


def _parse_v2(header_bytes: bytes, version: int = 2) -> Header:
    fields = unpackb(header_bytes)
    n_fields = len(HEADER_V2) + {RESIDUAL_VERSION: 1, EMBEDDED_VERSION: 3}.get(version, 0)
    if not isinstance(fields, list) or len(fields) != n_fields:
        raise CorruptHeaderError(f"header is not a msgpack array of {n_fields} fields")
    model, latent_size, quant, coder, count, payload_size, names = fields[: len(HEADER_V2)]
    shape = None  # the model's
    if not isinstance(model, bytes) or len(model) != MODEL_ID_BYTES:
        raise CorruptHeaderError(f"header field 'model' must be {MODEL_ID_BYTES} bytes")
    for key, value in (("latent_size", latent_size), ("count", count),
                       ("payload_size", payload_size)):
        if not is_count(value):
            raise CorruptHeaderError(f"header field {key!r} must be a non-negative integer")
    level, step, coder_name, dtype = parse_quant(quant, coder)
    _check_sizes(latent_size, count, shape)
    residual, embedded, inverted = None, 0, None
    if version == RESIDUAL_VERSION:
        residual = parse_residual(fields[-1], count, level)
    if version == EMBEDDED_VERSION:
        layer, embedded, inverted = fields[len(HEADER_V2):]
        if layer is not None:
            residual = parse_residual(layer, count, level)
        if not is_count(embedded) or embedded > MAX_EMBEDDED_MODEL:
            raise CorruptHeaderError(f"the embedded model's size must be 0..{MAX_EMBEDDED_MODEL}")
        if inverted is True:  # every image
            inverted = all_inverted(count)
        elif inverted is not None:
            if not isinstance(inverted, bytes):
                raise CorruptHeaderError("header field 'inverted' must be nil, true or a "
                                         "zstd frame")
            inverted = decompress_exact(inverted, -(-count // 8), "inverted-images bitmap")
            if count % 8 and inverted[-1] >> (count % 8):
                raise CorruptHeaderError("the inverted-images bitmap has bits past the last "
                                         "image")
    names_stored = 0
    if names is not None:
        names_stored = len(msgpack.packb(names, use_bin_type=True))
        names = unpack_names(names, count)
    return Header(model_id=model, latent_size=latent_size, image_shape=shape, count=count,
                  quant_step=step, level=level, coder=coder_name, symbol_dtype=dtype,
                  payload_size=payload_size, names=names, version=version,
                  names_stored_size=names_stored, residual=residual,
                  embedded_model_size=embedded, inverted=inverted)


def all_inverted(count: int) -> bytes:
    """The bitmap of ``count`` images all inverted."""
    full, rest = divmod(count, 8)
    return b"\xff" * full + (bytes([(1 << rest) - 1]) if rest else b"")


def parse_header(header_bytes: bytes, version: int = FORMAT_VERSION) -> Header:
    """Decode and validate the msgpack header (names included) of ``version``."""
    return _parse_v1(header_bytes) if version == 1 else _parse_v2(header_bytes, version)


def expected_size(prefix_size: int, header_size: int, header: Header) -> int:
    residual = header.residual.size if header.residual is not None else 0
    return (prefix_size + header_size + header.payload_size + residual
            + header.embedded_model_size + CRC.size)


def check_total_size(actual: int, expected: int) -> None:
    if actual < expected:
        raise TruncatedError(f"file is truncated: {actual} bytes, the header implies {expected}")
    if actual > expected:
        raise TrailingBytesError(f"{actual - expected} unexpected bytes after the end of the file")


def read_header(f) -> tuple[Header, int, int]:
    """Parse the prefix and header from a binary file object positioned at the start, and
    check the file's total length against them, without reading the payload.

    Returns (header, prefix length, header length)."""
    version, header_size, prefix_size = read_prefix(f.read(MAX_PREFIX))
    if version >= CHUNKED_VERSION:  # read with format.chunked
        raise ValueError(f"a version {version} file is read with vaecodec.format.chunked")
    f.seek(prefix_size)
    header_bytes = f.read(header_size)
    if len(header_bytes) < header_size:
        raise TruncatedError(f"file is truncated: it ends inside the {header_size}-byte header")
    header = parse_header(header_bytes, version)
    size = f.seek(0, 2)  # the end: the length without reading the rest
    check_total_size(size, expected_size(prefix_size, header_size, header))
    return header, prefix_size, header_size


def unpack(data: bytes, parsed: tuple[Header, int, int] | None = None) -> Archive:
    """Parse and check a whole .vaez file: prefix, header, length and checksum. The payload
    is returned as bytes; its coder checks it as it decodes.

    ``parsed``: what ``read_header`` (or the caller, from the same bytes) already found."""
    data = bytes(data)
    if parsed is None:
        parsed = read_header(io.BytesIO(data))
    header, prefix_size, header_size = parsed
    total = expected_size(prefix_size, header_size, header)
    check_total_size(len(data), total)  # a caller's header may come from an earlier read
    (stored_crc,) = CRC.unpack_from(data, total - CRC.size)
    if zlib.crc32(memoryview(data)[: total - CRC.size]) != stored_crc:
        raise ChecksumError("checksum mismatch: the file is corrupted")
    start = prefix_size + header_size
    payload = data[start : start + header.payload_size]
    residual = None
    end = start + header.payload_size
    if header.residual is not None:
        residual = data[end : end + header.residual.size]
        end += header.residual.size
    model = data[end : total - CRC.size] if header.embedded_model_size else None
    return Archive(header, payload, residual, model)
