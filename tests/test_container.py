"""The format reader, one test per error, each from hand-made bytes."""

from __future__ import annotations

import struct
import zlib

import msgpack
import numpy as np
import pytest
import zstandard

import vaecodec
from vaecodec import container
from vaecodec.errors import (
    BadMagicError,
    ChecksumError,
    CorruptHeaderError,
    CorruptPayloadError,
    HeaderTooLargeError,
    PayloadSizeError,
    TrailingBytesError,
    TruncatedError,
    UnknownModelError,
    UnsafeNameError,
    UnsupportedVersionError,
)

COUNT, LATENT = 3, 20


def default_model_id() -> bytes:
    return vaecodec.read_info(vaecodec.encode(np.zeros((1, 28, 28), np.uint8))).model_id


def build(fields=None, payload=None, version=1, magic=b"VAEZ", header_bytes=None, crc=None,
          names=("a.png", "b.png", "c.png")) -> bytes:
    """A .vaez file from parts; any part can be replaced by a hostile one."""
    raw = np.arange(COUNT * LATENT, dtype=np.int8).tobytes()
    if payload is None:
        payload = zstandard.ZstdCompressor().compress(raw)
    header = {
        "version": 1,
        "model": default_model_id(),
        "latent_size": LATENT,
        "image_shape": [28, 28],
        "quant_step": 0.2,
        "symbol_dtype": "int8",
        "count": COUNT,
        "payload_size": len(payload),
        "names": None,
    }
    if names is not None:
        joined = "\x00".join(names).encode()
        header["names"] = {"size": len(joined), "zstd": zstandard.ZstdCompressor().compress(joined)}
    header.update(fields or {})
    if header_bytes is None:
        header_bytes = msgpack.packb(header, use_bin_type=True)
    body = struct.pack("<4sBI", magic, version, len(header_bytes)) + header_bytes + payload
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc)


def test_hand_made_file_is_valid():
    archive = container.unpack(build())
    assert archive.header.count == COUNT and archive.header.names == ("a.png", "b.png", "c.png")
    assert archive.symbols.shape == (COUNT, LATENT)
    assert vaecodec.decode(build()).shape == (COUNT, 28, 28)


@pytest.mark.parametrize("cut", [0, 3, 6, 20, -10, -1])
def test_truncated(cut):
    data = build()
    with pytest.raises(TruncatedError, match="truncated"):
        container.unpack(data[:cut])


def test_bad_magic():
    with pytest.raises(BadMagicError):
        container.unpack(build(magic=b"PNG\x89"))
    with pytest.raises(BadMagicError):
        container.unpack(b"\x89PNG\r\n\x1a\n" + bytes(50))


def test_unknown_version():
    with pytest.raises(UnsupportedVersionError, match="version 2"):
        container.unpack(build(version=2))


def test_oversized_header_length_is_refused_before_reading():
    data = struct.pack("<4sBI", b"VAEZ", 1, container.MAX_HEADER_SIZE + 1) + bytes(16)
    with pytest.raises(HeaderTooLargeError):
        container.unpack(data)
    with pytest.raises(HeaderTooLargeError):
        container.unpack(struct.pack("<4sBI", b"VAEZ", 1, 2**32 - 1))


def test_count_times_latent_cap():
    with pytest.raises(HeaderTooLargeError):
        container.unpack(build({"count": container.MAX_COUNT, "latent_size": 1000}, names=None))
    with pytest.raises(HeaderTooLargeError):
        container.unpack(build({"count": 0}, names=None))


def test_trailing_bytes():
    with pytest.raises(TrailingBytesError):
        container.unpack(build() + b"\x00")


def test_checksum_mismatch():
    data = bytearray(build())
    data[-6] ^= 0xFF  # a payload byte
    with pytest.raises(ChecksumError):
        container.unpack(bytes(data))
    with pytest.raises(ChecksumError):
        container.unpack(build(crc=12345))


@pytest.mark.parametrize(
    "name",
    ["/etc/passwd", "../up.png", "a/../../b.png", "a\\b.png", "C:evil.png", "c:/x.png",
     "", "a//b.png", "./a.png", "a/.", "x\n.png"],
)
def test_unsafe_names(name):
    with pytest.raises(UnsafeNameError):
        container.unpack(build(names=("ok.png", name, "z.png")))


def test_nul_in_names():
    # NUL separates names on disk: a name holding one is refused when writing...
    with pytest.raises(UnsafeNameError):
        vaecodec.encode(np.zeros((1, 28, 28), np.uint8), names=["a\x00b.png"])
    # ...and splits into one name too many when reading
    with pytest.raises(CorruptHeaderError):
        container.unpack(build(names=("ok.png", "a\x00b.png", "z.png")))


def test_duplicate_names():
    with pytest.raises(UnsafeNameError, match="unique"):
        container.unpack(build(names=("a.png", "a.png", "b.png")))


def test_wrong_number_of_names():
    with pytest.raises(CorruptHeaderError, match="names"):
        container.unpack(build(names=("a.png", "b.png")))


def test_unknown_model_id():
    data = build({"model": bytes(range(32))})
    assert container.unpack(data).header.model_id == bytes(range(32))  # the format is fine
    with pytest.raises(UnknownModelError, match="unknown model"):
        vaecodec.decode(data)


def test_zstd_size_mismatch():
    raw = np.zeros(COUNT * LATENT + 1, dtype=np.int8).tobytes()
    with pytest.raises(PayloadSizeError, match="content size"):
        container.unpack(build(payload=zstandard.ZstdCompressor().compress(raw)))


def test_zstd_frame_without_content_size():
    cctx = zstandard.ZstdCompressor(write_content_size=False)
    raw = np.zeros(COUNT * LATENT, dtype=np.int8).tobytes()
    payload = cctx.compressobj().compress(raw) + cctx.compressobj().flush()
    chunker = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    payload = chunker.compress(raw) + chunker.flush()
    with pytest.raises(PayloadSizeError, match="unknown"):
        container.unpack(build(payload=payload))


def test_zstd_corrupt_frame():
    payload = bytearray(zstandard.ZstdCompressor().compress(bytes(COUNT * LATENT)))
    payload[-3:] = b"\xff\xff\xff"
    with pytest.raises((CorruptPayloadError, PayloadSizeError)):
        container.unpack(build(payload=bytes(payload)))
    with pytest.raises(CorruptPayloadError):
        container.unpack(build(payload=b"not zstd at all"))


@pytest.mark.parametrize(
    "fields",
    [
        {"version": 2},
        {"model": b"short"},
        {"latent_size": -1},
        {"latent_size": True},
        {"image_shape": [28]},
        {"quant_step": 0.0},
        {"quant_step": "0.2"},
        {"symbol_dtype": "float32"},
        {"payload_size": "10"},
        {"extra": 1},
        {"names": {"size": 5}},
    ],
)
def test_corrupt_header_fields(fields):
    with pytest.raises(CorruptHeaderError):
        container.unpack(build(fields))


def test_header_not_msgpack_or_not_a_map():
    with pytest.raises(CorruptHeaderError):
        container.unpack(build(header_bytes=b"\xc1\xc1\xc1"))
    with pytest.raises(CorruptHeaderError):
        container.unpack(build(header_bytes=msgpack.packb([1, 2, 3])))
    with pytest.raises(CorruptHeaderError):
        container.unpack(build(header_bytes=msgpack.packb({1: 2})))


def test_names_size_bounded_before_decompressing():
    huge = zstandard.ZstdCompressor().compress(b"a" * 10_000_000)
    with pytest.raises(HeaderTooLargeError):
        container.unpack(build({"names": {"size": 10_000_000, "zstd": huge}}))


def test_pack_then_unpack_keeps_everything():
    symbols = np.array([[-300, 5] * 10, [7, 1000] * 10], dtype=np.int16)
    header = container.Header(model_id=bytes(32), latent_size=20, image_shape=(28, 28),
                              quant_step=0.5, symbol_dtype="int16", count=2, names=("x.png", "y.png"))
    archive = container.unpack(container.pack(header, symbols))
    assert np.array_equal(archive.symbols, symbols)
    assert archive.header.names == ("x.png", "y.png") and archive.header.quant_step == 0.5
