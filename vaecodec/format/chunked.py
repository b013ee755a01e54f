"""Version 5 of .vaez: images in independently coded chunks, and an index at the end.

Bytes only, like ``container`` (no numpy, no models): the file header, each chunk's header
and coded bytes, the index and the trailer, packed and parsed with every size checked
before anything is allocated (docs/format.md, "Version 5")::

    prefix     b"VAEZ", 05, header length H (LEB128)
    header     H bytes   msgpack array: model, latent size, quant, coder, residual,
                         model size M, named
    model      M bytes   a carried model family (.vaem), if any
    crc32      4 bytes   of everything before it
    chunk ...            b"VZCK", chunk header length (LEB128), msgpack chunk header,
                         latent payload, residual bytes, crc32 of the chunk
    index                msgpack array: image count, chunks [[offset, size, count]], dead
    trailer    24 bytes  index offset (u64), index size (u64), crc32 of index + these
                         16 bytes (u32), b"VZIX"

A chunk is a whole small file: it checks itself, so damage stays in it, and reading an
image reads one chunk. The index sits at the end, so a file is written in one pass; an
append writes its chunks after the old trailer (which the new index records as dead), so
a crash mid-append leaves the old trailer, the last one complete, to be found.
"""

from __future__ import annotations

import dataclasses
import itertools
import struct
import zlib

import msgpack

from ..errors import (
    ChecksumError,
    CorruptHeaderError,
    FormatError,
    HeaderTooLargeError,
    TrailingBytesError,
    TruncatedError,
)
from . import container, shapes
from . import fields as per_image
from .constants import MODEL_ID_BYTES, WIRE_CODERS
from .names import pack_names, unpack_names
from .wire import is_count, leb128, read_leb128, unpackb

VERSION = container.CHUNKED_VERSION  # 5: chunks of images and names
FIELDS_VERSION = container.FIELDS_VERSION  # 6: 5 with labels and metadata per image
CHANNELS_VERSION = container.CHANNELS_VERSION  # 7: 6 for images of several channels
VERSIONS = (VERSION, FIELDS_VERSION, CHANNELS_VERSION)
CHUNK_MAGIC = b"VZCK"
INDEX_MAGIC = b"VZIX"
TRAILER = struct.Struct("<QQI4s")  # index offset, index size, crc32, magic
CRC = container.CRC
CHUNK_IMAGES = 4096  # images per chunk the writer makes
MAX_CHUNK_IMAGES = 65536  # ... and a reader accepts
MAX_CHUNK_HEADER = 2**26  # bytes of one chunk's header (its names: 65,536 x 1,025)
MAX_INDEX_SIZE = 2**28  # bytes of the index
MAX_CHUNKS = 2**24
MAX_COUNT = 2**40  # images in one file
# trailers a reader tries, looking back from an unfinished append (an append leaves one
# complete trailer behind it; more are magic bytes met by chance, or a hostile file)
MAX_RECOVERY_CANDIDATES = 64
HEADER_FIELDS = ("model", "latent_size", "quant", "coder", "residual", "model_size", "named")
CHUNK_FIELDS = ("seq", "first", "count", "payload_size", "residual_size", "names",
                "inverted", "symbols")
# version 6 adds one field to the file header (the per-image fields every chunk stores),
# one to each chunk header (their data) and one to the index (the labels' class names);
# version 7 adds one more to the file header (the image shape: height, width, channels),
# and its chunk headers and index have version 6's fields where it lists per-image fields


@dataclasses.dataclass(frozen=True)
class FileHeader:
    """What every chunk of a version 5 file shares."""

    model_id: bytes
    latent_size: int
    level: int | None
    quant_step: float | None
    coder: str
    symbol_dtype: str
    residual: container.Residual | None  # chunk_sizes unused: each chunk has its own
    model_size: int  # bytes of the carried model family (0: none)
    named: bool  # every chunk stores its images' names
    size: int = 0  # bytes from the start to the first chunk
    fields: tuple[str, ...] = ()  # per-image fields every chunk stores (fields.KNOWN)
    # (height, width, channels) for images of several channels (version 7); None for
    # grayscale, whose shape is the model's (versions 5 and 6)
    image_shape: tuple[int, ...] | None = None

    @property
    def version(self) -> int:
        """7 for images of several channels; else 6 when the chunks store labels or
        metadata, else 5 (what earlier vaecodec reads)."""
        if self.image_shape is not None:
            return CHANNELS_VERSION
        return FIELDS_VERSION if self.fields else VERSION

    @property
    def labelled(self) -> bool:
        return "label" in self.fields


@dataclasses.dataclass(frozen=True)
class Chunk:
    """One checked chunk: its images' coded bytes, names and inverted flags."""

    seq: int
    first: int  # the file-wide index of its first image
    count: int
    payload: bytes
    residual: bytes | None
    names: tuple[str, ...] | None
    inverted: bytes | None  # a bitmap as in version 4, or None
    names_size: int = 0  # bytes the names take in the chunk's header
    symbol_dtype: str = "int32"  # of its zstd payload: the narrowest type of its symbols
    labels: tuple[int, ...] | None = None  # version 6, when the file stores labels
    meta: tuple[dict | None, ...] | None = None  # ... metadata (None: not unpacked)
    # version 7, when the file stores them: per image, its source's channels (1..4)
    channels: bytes | None = None


@dataclasses.dataclass(frozen=True)
class ChunkEntry:
    """The index's record of one chunk."""

    offset: int
    size: int
    count: int
    first: int


@dataclasses.dataclass(frozen=True)
class Index:
    count: int
    chunks: tuple[ChunkEntry, ...]
    dead: tuple[tuple[int, int], ...]  # (offset, size) of earlier indexes and trailers
    offset: int  # where the index starts
    end: int  # where its trailer ends: the file's committed length
    classes: tuple[str, ...] | None = None  # version 6: the names of labels 0, 1, ...


# --- the file header -----------------------------------------------------------------------
def pack_header(header: FileHeader, model: bytes = b"") -> bytes:
    if len(model) != header.model_size:
        raise ValueError("the carried model does not match the header")
    if (header.level is None) == (header.quant_step is None):
        raise ValueError("a header has either a quality level or a quantization step")
    residual = None
    if header.residual is not None:
        r = header.residual
        residual = [r.layout, r.model_id[:MODEL_ID_BYTES], r.max_error]
    fields = [header.model_id[:MODEL_ID_BYTES], header.latent_size,
              header.level if header.level is not None else float(header.quant_step or 0.0),
              container.CODER_IDS[(header.coder, header.symbol_dtype)], residual,
              header.model_size, header.named]
    if header.image_shape is not None and len(shapes.check_shape(header.image_shape)) != 3:
        raise ValueError("a version 7 header stores the shape of images of several channels")
    if "channels" in header.fields and header.image_shape is None:
        raise ValueError("source channels are stored by version 7 files only")
    if header.fields or header.image_shape is not None:
        fields.append(list(per_image.check_fields(list(header.fields))))
    if header.image_shape is not None:
        fields.append(list(header.image_shape))
    raw = msgpack.packb(fields, use_bin_type=True)
    body = container.MAGIC + bytes([header.version]) + leb128(len(raw)) + raw + model
    return body + CRC.pack(zlib.crc32(body))


def read_file_header(f) -> tuple[FileHeader, bytes]:
    """The header of a version 5, 6 or 7 file (``f`` positioned at its start) and the
    carried model family's bytes (b"" when none), checked by their CRC-32."""
    prefix = f.read(container.MAX_PREFIX)
    version, header_size, prefix_size = container.read_prefix(prefix)
    if version not in VERSIONS:
        raise ValueError("not a version 5, 6 or 7 file")
    f.seek(prefix_size)
    raw = _read_exact(f, header_size, "header")
    fields = unpackb(raw)
    expected = len(HEADER_FIELDS) + (version >= FIELDS_VERSION) + (version >= CHANNELS_VERSION)
    if not isinstance(fields, list) or len(fields) != expected:
        raise CorruptHeaderError(f"header is not a msgpack array of {expected} fields")
    model_id, latent_size, quant, coder, residual, model_size, named = fields[:7]
    stored = per_image.check_fields(fields[7]) if version >= FIELDS_VERSION else ()
    if version == FIELDS_VERSION and not stored:  # else it would have been version 5
        raise CorruptHeaderError("a version 6 file lists at least one per-image field")
    shape = None
    if version == CHANNELS_VERSION:
        shape = shapes.check_shape(fields[8])
        if len(shape) != 3:  # grayscale is written as version 5 or 6
            raise CorruptHeaderError("header field 'image' of a version 7 file must be "
                                     "[height, width, channels]")
    if "channels" in stored and shape is None:  # the sources of colour images only
        raise CorruptHeaderError("only a version 7 file stores its images' source channels")
    if not isinstance(model_id, bytes) or len(model_id) != MODEL_ID_BYTES:
        raise CorruptHeaderError(f"header field 'model' must be {MODEL_ID_BYTES} bytes")
    if not is_count(latent_size) or not 1 <= latent_size <= container.MAX_LATENT_SIZE:
        raise HeaderTooLargeError(f"latent size {latent_size} is outside "
                                  f"1..{container.MAX_LATENT_SIZE}")
    level, step, coder_name, dtype = container.parse_quant(quant, coder)
    layer = None
    if residual is not None:
        if not isinstance(residual, list) or not residual or not is_count(residual[0]):
            raise CorruptHeaderError("header field 'residual' must be nil or start with a "
                                     "layout number")
        if residual[0] in container.RESIDUAL_LAYOUTS and len(residual) != 3:
            raise CorruptHeaderError("header field 'residual' must have 3 entries")
        # as version 3's without chunk sizes (each chunk has its own); the layout is
        # checked first, so a later layout may change the rest
        layer = container.parse_residual(residual[:3] + [[]], 0, level)
    if not is_count(model_size) or model_size > container.MAX_EMBEDDED_MODEL:
        raise CorruptHeaderError("the embedded model's size must be "
                                 f"0..{container.MAX_EMBEDDED_MODEL}")
    if not isinstance(named, bool):
        raise CorruptHeaderError("header field 'named' must be true or false")
    model = _read_exact(f, model_size, "carried model")
    crc = _read_exact(f, CRC.size, "header")
    if zlib.crc32(prefix[:prefix_size] + raw + model) != CRC.unpack(crc)[0]:
        raise ChecksumError("header checksum mismatch: the file is corrupted")
    size = prefix_size + header_size + model_size + CRC.size
    return FileHeader(model_id, latent_size, level, step, coder_name, dtype, layer,
                      model_size, named, size, stored, shape), model


# --- chunks ----------------------------------------------------------------------------------
def pack_chunk(header: FileHeader, chunk: Chunk) -> bytes:
    if (chunk.names is not None) != header.named:
        raise ValueError("names are stored for every chunk of a file or for none")
    if (chunk.residual is not None) != (header.residual is not None):
        raise ValueError("the residual layer does not match the header")
    if not 1 <= chunk.count <= MAX_CHUNK_IMAGES:
        raise ValueError("a chunk holds 1..65536 images")
    names = None
    if chunk.names is not None:
        if len(chunk.names) != chunk.count:
            raise ValueError("one name per image")
        names = pack_names(tuple(chunk.names))
    inverted = None
    if chunk.inverted is not None:
        if len(chunk.inverted) != -(-chunk.count // 8):
            raise ValueError("the inverted-images bitmap does not match the count")
        inverted = (True if chunk.inverted == container.all_inverted(chunk.count)
                    else chunk.inverted)
    residual = chunk.residual or b""
    if container.WIRE_CODERS[_coder_id(header, chunk.symbol_dtype)][0] != header.coder:
        raise ValueError("the chunk's symbol type does not match the file's coder")
    fields: list = [chunk.seq, chunk.first, chunk.count, len(chunk.payload), len(residual),
                    names, inverted, _coder_id(header, chunk.symbol_dtype)]
    if (chunk.labels is not None) != header.labelled or (
            (chunk.meta is not None) != ("meta" in header.fields)) or (
            (chunk.channels is not None) != ("channels" in header.fields)):
        raise ValueError("labels, metadata and source channels are stored for every chunk "
                         "of a file or none")
    for given in (chunk.labels, chunk.meta, chunk.channels):
        if given is not None and len(given) != chunk.count:
            raise ValueError("one label, metadata entry and source channel count per image")
    if header.fields:
        fields.append(per_image.pack_extras(header.fields, chunk.labels, chunk.meta,
                                            chunk.channels))
    raw = msgpack.packb(fields, use_bin_type=True)
    body = CHUNK_MAGIC + leb128(len(raw)) + raw + chunk.payload + residual
    return body + CRC.pack(zlib.crc32(body))


def parse_chunk(data: bytes, header: FileHeader, names: bool = True,
                meta: bool = True) -> Chunk:
    """One chunk's bytes (exactly, as the index delimits them), checked: CRC-32 first, then
    magic, header and sizes. ``names=False``: its names are neither unpacked nor checked
    (the chunk's ``names`` is None), for reading its images only; ``meta=False``: nor its
    metadata (labels, small, are always unpacked)."""
    if len(data) < len(CHUNK_MAGIC) + 1 + CRC.size:
        raise TruncatedError("a chunk is shorter than its fixed fields")
    (stored,) = CRC.unpack_from(data, len(data) - CRC.size)
    if zlib.crc32(memoryview(data)[: len(data) - CRC.size]) != stored:
        raise ChecksumError("checksum mismatch")
    if data[:4] != CHUNK_MAGIC:
        raise CorruptHeaderError("a chunk does not start with its magic bytes")
    size, pos = read_leb128(data, 4, 5, "a chunk ends inside its header length",
                            "a chunk header length field is longer than 5 bytes")
    if size > MAX_CHUNK_HEADER:
        raise HeaderTooLargeError(f"chunk header length {size} exceeds the "
                                  f"{MAX_CHUNK_HEADER} cap")
    if len(data) < pos + size + CRC.size:
        raise TruncatedError("a chunk ends inside its header")
    fields = unpackb(data[pos : pos + size])
    expected = _chunk_fields(header)
    if not isinstance(fields, list) or len(fields) != expected:
        raise CorruptHeaderError(f"chunk header is not an array of {expected} fields")
    seq, first, count, payload_size, residual_size, stored_names, inverted, coder = fields[:8]
    if type(coder) is not int or coder not in WIRE_CODERS or WIRE_CODERS[coder][0] != header.coder:
        raise CorruptHeaderError(f"chunk field 'symbols' must be a coder id of the file's "
                                 f"{header.coder} coder")
    for key, value in zip(CHUNK_FIELDS, fields[:5]):
        if not is_count(value):
            raise CorruptHeaderError(f"chunk field {key!r} must be a non-negative integer")
    if not 1 <= count <= MAX_CHUNK_IMAGES:
        raise HeaderTooLargeError(f"chunk image count {count} is outside "
                                  f"1..{MAX_CHUNK_IMAGES}")
    if residual_size and count > container.RESIDUAL_CHUNK:
        raise HeaderTooLargeError(f"chunk {seq} has {count} images; a chunk with a residual "
                                  f"layer holds at most {container.RESIDUAL_CHUNK}")
    start = pos + size
    total = start + payload_size + residual_size + CRC.size
    if len(data) != total:
        raise (TruncatedError if len(data) < total else TrailingBytesError)(
            f"chunk {seq} is {len(data)} bytes, its header implies {total}")
    if (residual_size > 0) != (header.residual is not None) or (
            header.residual is not None and residual_size % 4):
        raise CorruptHeaderError(f"chunk {seq}'s residual bytes do not match the header")
    if (stored_names is not None) != header.named:
        raise CorruptHeaderError(f"chunk {seq} {'lacks' if header.named else 'has'} names")
    names_size, chunk_names = 0, None
    if stored_names is not None:
        names_size = len(msgpack.packb(stored_names, use_bin_type=True))
        if names:
            chunk_names = unpack_names(stored_names, count)
    if inverted is True:
        inverted = container.all_inverted(count)
    elif inverted is not None:
        if not isinstance(inverted, bytes) or len(inverted) != -(-count // 8):
            raise CorruptHeaderError(f"chunk {seq}'s inverted-images bitmap must be "
                                     f"{-(-count // 8)} bytes")
        if count % 8 and inverted[-1] >> (count % 8):
            raise CorruptHeaderError(f"chunk {seq}'s inverted-images bitmap has bits past "
                                     "its last image")
    labels = entries = sources = None
    if header.fields:
        labels, entries, sources = per_image.unpack_extras(fields[8], header.fields, count,
                                                           meta)
    payload = bytes(data[start : start + payload_size])
    residual = (bytes(data[start + payload_size : total - CRC.size])
                if header.residual is not None else None)
    return Chunk(seq, first, count, payload, residual, chunk_names, inverted, names_size,
                 WIRE_CODERS[coder][1], labels, entries, sources)


def _chunk_fields(header: FileHeader) -> int:
    """How many fields a chunk header of the file has."""
    return len(CHUNK_FIELDS) + bool(header.fields)


def _coder_id(header: FileHeader, dtype: str) -> int:
    """The wire id of a chunk's coder: the file's, with the chunk's symbol type for zstd."""
    return container.CODER_IDS[(header.coder, "int32" if header.coder == "range" else dtype)]


# --- the index and the trailer ---------------------------------------------------------------
def pack_index(index_offset: int, count: int, chunks, dead, header: FileHeader,
               classes: tuple[str, ...] | None = None) -> bytes:
    """The index (at ``index_offset``) and trailer, ending the file; ``classes``: the
    labels' class names (files with per-image fields only)."""
    fields = [count, [[c.offset, c.size, c.count] for c in chunks], [list(d) for d in dead]]
    if header.fields:
        fields.append(None if classes is None else list(per_image.check_classes(classes)))
    elif classes is not None:
        raise ValueError("class names are stored by files with per-image fields only")
    raw = msgpack.packb(fields, use_bin_type=True)
    sizes = struct.pack("<QQ", index_offset, len(raw))
    return raw + sizes + CRC.pack(zlib.crc32(raw + sizes)) + INDEX_MAGIC


def trailer_at(f, end: int, data_start: int) -> tuple[int, int, int] | None:
    """(index offset, index size, crc) if a well-formed trailer ends at ``end``."""
    if end - TRAILER.size < data_start:
        return None
    f.seek(end - TRAILER.size)
    raw = f.read(TRAILER.size)
    if len(raw) < TRAILER.size:
        return None
    offset, size, crc, magic = TRAILER.unpack(raw)
    if magic != INDEX_MAGIC or size > MAX_INDEX_SIZE or offset < data_start \
            or offset + size + TRAILER.size != end:
        return None
    return offset, size, crc


def read_index(f, header: FileHeader, file_size: int, recover: bool = False) -> Index:
    """The index of a version 5 file whose last byte is at ``file_size``. With ``recover``,
    a file that does not end in a well-formed trailer (an append that did not finish) is
    read up to its last complete index, found by scanning back; a well-formed trailer
    whose index is damaged is an error either way (salvage scans for the chunks)."""
    if not recover or trailer_at(f, file_size, header.size) is not None:
        return _index_ending_at(f, header, file_size)
    candidates = _trailer_candidates(f, header.size, file_size)
    for end in itertools.islice(candidates, MAX_RECOVERY_CANDIDATES):
        try:
            return _index_ending_at(f, header, end)
        except (TruncatedError, CorruptHeaderError, ChecksumError, HeaderTooLargeError):
            continue
    return _index_ending_at(f, header, file_size)  # none: the error of the file's end


def _trailer_candidates(f, data_start: int, file_size: int):
    """Ends of the file's possible trailers before its end, the last first: where
    INDEX_MAGIC ends."""
    block, hi = 1 << 20, file_size
    while hi - len(INDEX_MAGIC) >= data_start:
        lo = max(data_start, hi - block)
        f.seek(lo)
        data = f.read(hi - lo)
        at = len(data)
        while (at := data.rfind(INDEX_MAGIC, 0, at)) >= 0:
            if lo + at + len(INDEX_MAGIC) != file_size:
                yield lo + at + len(INDEX_MAGIC)
        if lo == data_start:
            break
        hi = lo + len(INDEX_MAGIC) - 1  # a magic across the boundary is found next


def _index_ending_at(f, header: FileHeader, end: int) -> Index:
    found = trailer_at(f, end, header.size)
    if found is None:
        raise TruncatedError("the file does not end with an index (truncated, or an append "
                             "that did not finish: vaecodec test says more)")
    offset, size, crc = found
    f.seek(offset)
    raw = _read_exact(f, size, "index")
    if zlib.crc32(raw + struct.pack("<QQ", offset, size)) != crc:
        raise ChecksumError("index checksum mismatch: the file's index is corrupted "
                            "(decompress --salvage recovers the intact chunks)")
    fields = unpackb(raw)
    v6 = bool(header.fields)  # version 6, or 7 with per-image fields
    if not (isinstance(fields, list) and len(fields) == 3 + v6 and is_count(fields[0])
            and isinstance(fields[1], list) and isinstance(fields[2], list)):
        raise CorruptHeaderError("the index is not an array of a count and two lists"
                                 + (" and the class names" if v6 else ""))
    count, chunk_rows, dead_rows = fields[:3]
    classes = None
    if v6 and fields[3] is not None:
        classes = per_image.check_classes(fields[3])
    if len(chunk_rows) > MAX_CHUNKS:
        raise HeaderTooLargeError(f"the index lists more than {MAX_CHUNKS} chunks")
    regions, chunks, first = [], [], 0
    for row in chunk_rows:
        if not (isinstance(row, list) and len(row) == 3 and all(is_count(v) for v in row)
                and 1 <= row[2] <= MAX_CHUNK_IMAGES):
            raise CorruptHeaderError("an index entry is not [offset, size, count]")
        chunks.append(ChunkEntry(row[0], row[1], row[2], first))
        regions.append((row[0], row[1]))
        first += row[2]
    if len(dead_rows) > MAX_CHUNKS:
        raise HeaderTooLargeError(f"the index lists more than {MAX_CHUNKS} dead regions")
    for row in dead_rows:
        if not (isinstance(row, list) and len(row) == 2 and all(is_count(v) for v in row)):
            raise CorruptHeaderError("a dead region of the index is not [offset, size]")
        regions.append((row[0], row[1]))
    if first != count or not 1 <= count <= MAX_COUNT:
        raise CorruptHeaderError(f"the index counts {count} images, its chunks {first}")
    # every byte between the header and the index belongs to exactly one region
    position = header.size
    for start, length in sorted(regions):
        if start != position:
            raise CorruptHeaderError("the index does not account for the file exactly "
                                     f"(a gap or overlap at byte {min(start, position)})")
        position += length
    if position != offset:
        raise CorruptHeaderError("the index does not account for the file exactly")
    return Index(count, tuple(chunks), tuple(tuple(d) for d in dead_rows), offset, end,
                 classes)


def read_chunk(f, header: FileHeader, index: Index, n: int, names: bool = True,
               meta: bool = True) -> Chunk:
    """Chunk ``n`` of the index, read and checked, and checked against its index entry
    (``names``, ``meta``: as for ``parse_chunk``)."""
    entry = index.chunks[n]
    f.seek(entry.offset)
    try:
        chunk = parse_chunk(_read_exact(f, entry.size, f"chunk {n}"), header, names, meta)
    except ChecksumError:
        raise ChecksumError(f"chunk {n} (images {entry.first}..{entry.first + entry.count - 1})"
                            " is corrupted (checksum mismatch)") from None
    if (chunk.seq, chunk.first, chunk.count) != (n, entry.first, entry.count):
        raise CorruptHeaderError(f"chunk {n} is not the one the index lists (it says chunk "
                                 f"{chunk.seq}, images {chunk.first}..)")
    return chunk


HEADER_GUESS = 1 << 12  # bytes read first for a chunk's header alone, until one is known


def read_chunk_names(f, header: FileHeader, index: Index, n: int,
                     guess: int = HEADER_GUESS) -> tuple[tuple[str, ...], int]:
    """The names chunk ``n``'s header lists, read without the rest of the chunk, and the
    bytes its header took: one small read of ``guess`` bytes (the last header's size
    is a good guess for the next), a second when the header is longer, instead of the
    whole chunk, for finding a name in an archive read over a network. The CRC-32 covers
    the whole chunk, so these names are **not verified**: a caller takes them only as
    where to look, and reads that chunk whole (``read_chunk``) to confirm."""
    entry = index.chunks[n]
    if not header.named:
        raise ValueError("the file stores no names")
    f.seek(entry.offset)
    head = f.read(min(entry.size, max(16, guess)))
    if head[:4] != CHUNK_MAGIC:
        raise CorruptHeaderError(f"chunk {n} does not start with its magic bytes")
    size, pos = read_leb128(head, 4, 5, "a chunk ends inside its header length",
                            "a chunk header length field is longer than 5 bytes")
    if size > MAX_CHUNK_HEADER or pos + size + CRC.size > entry.size:
        raise CorruptHeaderError(f"chunk {n}'s header length does not fit the chunk")
    if pos + size > len(head):
        head += _read_exact(f, pos + size - len(head), f"chunk {n}'s header")
    fields = unpackb(head[pos : pos + size])
    if not isinstance(fields, list) or len(fields) != _chunk_fields(header) \
            or fields[2] != entry.count:
        raise CorruptHeaderError(f"chunk {n}'s header is not the one the index lists")
    return unpack_names(fields[5], entry.count), pos + size


SCAN_WORK_PER_BYTE = 16  # bytes a scan may read and check per byte of the file ...
SCAN_WORK_MIN = 64 * 2**20  # ... and at least this many: false chunk magics cost work


def scan_chunks(f, header: FileHeader, file_size: int):
    """(offset, size, chunk) of every intact chunk, found by scanning the file for chunk
    magic bytes (for salvage when the index is damaged), in file order.

    Linear in the file's size: each block is searched once; a candidate that is no intact
    chunk costs the bytes its header claims, and a file whose false candidates would make
    the scan read more than SCAN_WORK_PER_BYTE times its size is refused
    (``HeaderTooLargeError``) instead of scanned for minutes."""
    try:
        budget = [max(SCAN_WORK_MIN, SCAN_WORK_PER_BYTE * file_size)]
        yield from _scan(f, header, file_size, budget)
    except _ScanBudgetSpent:
        raise HeaderTooLargeError("the file holds too many false chunk headers to scan for "
                                  "its chunks (a hostile or badly damaged file)") from None


def _scan(f, header: FileHeader, file_size: int, budget: list[int]):
    position = header.size
    block = 1 << 22
    while position < file_size:
        f.seek(position)
        data = f.read(min(block, file_size - position))
        at, found = 0, None
        while (at := data.find(CHUNK_MAGIC, at)) >= 0:
            start = position + at
            found = _chunk_at(f, start, file_size, header, budget, data, position)
            if found is not None:
                break
            at += 1
        if found is None:  # a magic across the block's end is found in the next block
            position += max(1, len(data) - len(CHUNK_MAGIC) + 1)
            continue
        yield start, *found
        position = start + found[0]


def _chunk_at(f, start: int, file_size: int, header: FileHeader, budget: list[int],
              data: bytes = b"", data_start: int = 0):
    """(size, chunk) of the intact chunk that starts at ``start``, or None: its header's
    sizes give its length, then ``parse_chunk`` checks it whole. Bytes within ``data``
    (the block read from ``data_start``) are taken from it; those read from ``f``, and
    those parsed, from ``budget[0]``."""

    def read(at: int, size: int) -> bytes:
        if data_start <= at and at + size <= data_start + len(data):
            return data[at - data_start : at - data_start + size]
        _spend(budget, size)
        f.seek(at)
        return f.read(size)

    head = read(start, min(4 + 5, file_size - start))
    try:
        size, pos = read_leb128(head, 4, 5, "a chunk ends inside its header length",
                            "a chunk header length field is longer than 5 bytes")
        if size > MAX_CHUNK_HEADER or start + pos + size > file_size:
            return None
        _spend(budget, size)
        fields = unpackb(read(start + pos, size))
        if not isinstance(fields, list) or len(fields) != _chunk_fields(header) \
                or not all(is_count(v) for v in fields[:5]):
            return None
        total = pos + size + fields[3] + fields[4] + CRC.size
        if start + total > file_size:
            return None
        _spend(budget, total)
        return total, parse_chunk(read(start, total), header)
    except FormatError:
        return None


class _ScanBudgetSpent(Exception):
    pass


def _spend(budget: list[int], size: int) -> None:
    budget[0] -= size
    if budget[0] < 0:
        raise _ScanBudgetSpent


# --- helpers ---------------------------------------------------------------------------------
def _read_exact(f, size: int, what: str) -> bytes:
    data = f.read(size)
    if len(data) < size:
        raise TruncatedError(f"file is truncated: it ends inside the {what}")
    return data
