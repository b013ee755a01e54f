"""The format reader, one test per error, each from hand-made bytes.

Version 1 files (the 1.0 format, read only) are built by ``build``; version 2 files (what
vaecodec writes now) by ``build_v2``. ``container.unpack`` checks the structure; the
payload's coder checks the payload as ``vaecodec.decode`` decodes it.
"""

from __future__ import annotations

import dataclasses
import struct
import zlib

import msgpack
import numpy as np
import pytest
import zstandard

import vaecodec
from vaecodec.core import coders
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
from vaecodec.format import container, wire
from vaecodec.pipeline.settings import settings_for
from vaecodec.stream.whole import decode_symbols

COUNT, LATENT = 3, 20


def default_model_id() -> bytes:
    return vaecodec.Zoo.installed().find().model_id


def symbols_of(data: bytes) -> np.ndarray:
    archive = container.unpack(data)
    return decode_symbols(archive, settings_for(archive.header))


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
    expected = np.arange(COUNT * LATENT, dtype=np.int8).reshape(LATENT, COUNT).T
    assert np.array_equal(symbols_of(build()), expected)  # dimension-major on disk
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
    with pytest.raises(UnsupportedVersionError, match="version 8.*upgrade"):
        container.unpack(build(version=8))
    with pytest.raises(UnsupportedVersionError, match="version 0"):
        container.unpack(build(version=0))


def test_oversized_header_length_is_refused_before_reading():
    data = struct.pack("<4sBI", b"VAEZ", 1, container.MAX_HEADER_SIZE + 1) + bytes(16)
    with pytest.raises(HeaderTooLargeError):
        container.unpack(data)
    data = b"VAEZ\x02" + wire.leb128(container.MAX_HEADER_SIZE + 1) + bytes(16)
    with pytest.raises(HeaderTooLargeError):
        container.unpack(data)
    with pytest.raises(HeaderTooLargeError, match="longer than 4 bytes"):
        container.unpack(b"VAEZ\x02\x80\x80\x80\x80\x01" + bytes(16))
    with pytest.raises(HeaderTooLargeError):
        container.unpack(struct.pack("<4sBI", b"VAEZ", 1, 2**32 - 1))


def test_count_times_latent_cap():
    with pytest.raises(HeaderTooLargeError):
        container.unpack(build({"count": container.MAX_WHOLE_COUNT, "latent_size": 1000},
                               names=None))
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
    data = build(payload=zstandard.ZstdCompressor().compress(raw))
    container.unpack(data)  # the structure is fine...
    with pytest.raises(PayloadSizeError, match="content size"):  # ...the payload is not
        vaecodec.decode(data)


def test_zstd_frame_without_content_size():
    raw = np.zeros(COUNT * LATENT, dtype=np.int8).tobytes()
    chunker = zstandard.ZstdCompressor(write_content_size=False).compressobj()
    payload = chunker.compress(raw) + chunker.flush()
    with pytest.raises(PayloadSizeError, match="unknown"):
        vaecodec.decode(build(payload=payload))


def test_zstd_corrupt_frame():
    payload = bytearray(zstandard.ZstdCompressor().compress(bytes(COUNT * LATENT)))
    payload[-3:] = b"\xff\xff\xff"
    with pytest.raises(CorruptPayloadError):
        vaecodec.decode(build(payload=bytes(payload)))
    with pytest.raises(CorruptPayloadError):
        vaecodec.decode(build(payload=b"not zstd at all"))


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
    zstd = coders.CODERS["zstd"]
    payload, dtype = zstd.encode(symbols, None)
    assert dtype == "int16"
    header = container.Header(model_id=bytes(32), latent_size=20, image_shape=None,
                              quant_step=0.5, symbol_dtype=dtype, count=2,
                              names=("x.png", "y.png"))
    archive = container.unpack(container.pack(header, payload))
    assert archive.payload == payload
    assert np.array_equal(zstd.decode(archive.payload, 2, 20, "int16", None), symbols)
    assert archive.header.names == ("x.png", "y.png") and archive.header.quant_step == 0.5
    assert archive.header.image_shape is None  # version 2: the model's shape


# --- version 2 ------------------------------------------------------------------------------
def build_v2(fields=None, payload=None, header_bytes=None, crc=None, version=2) -> bytes:
    """A version-2 file (zstd payload, explicit step) from parts; any part can be hostile."""
    if payload is None:
        payload = zstandard.ZstdCompressor().compress(
            np.arange(COUNT * LATENT, dtype=np.int8).tobytes())
    values = {"model": default_model_id()[:4], "latent_size": LATENT, "quant": 0.2,
              "coder": 1, "count": COUNT, "payload_size": len(payload), "names": None}
    values.update(fields or {})
    if header_bytes is None:
        header_bytes = msgpack.packb([values[k] for k in container.HEADER_V2], use_bin_type=True)
    body = b"VAEZ" + bytes([version]) + wire.leb128(len(header_bytes)) + header_bytes + payload
    return body + struct.pack("<I", zlib.crc32(body) if crc is None else crc)


def test_v2_hand_made_file_is_valid():
    archive = container.unpack(build_v2())
    assert archive.header.version == 2 and archive.header.quant_step == 0.2
    assert archive.header.coder == "zstd" and archive.header.level is None
    assert symbols_of(build_v2()).shape == (COUNT, LATENT)
    assert vaecodec.decode(build_v2()).shape == (COUNT, 28, 28)


@pytest.mark.parametrize("cut", [0, 4, 5, 6, 12, -5, -1])
def test_v2_truncated(cut):
    with pytest.raises(TruncatedError, match="truncated"):
        container.unpack(build_v2()[:cut])


def test_v2_trailing_and_checksum():
    with pytest.raises(TrailingBytesError):
        container.unpack(build_v2() + b"x")
    with pytest.raises(ChecksumError):
        container.unpack(build_v2(crc=0))


@pytest.mark.parametrize("fields", [
    {"model": default_model_id()},  # the full 32 bytes: v2 stores 4
    {"latent_size": "20"},
    {"quant": -0.5},
    {"quant": 0},
    {"quant": 300},
    {"quant": "level 3"},
    {"coder": 7},
    {"coder": True},
    {"coder": 1.0},
    {"coder": 0, "quant": 0.2},  # range coding needs a level's prior
    {"names": [2, b"x"]},
    {"names": {"size": 1}},
])
def test_v2_corrupt_header_fields(fields):
    with pytest.raises(CorruptHeaderError):
        container.unpack(build_v2(fields))


def test_v2_header_shape():
    with pytest.raises(CorruptHeaderError, match="array"):
        container.unpack(build_v2(header_bytes=msgpack.packb({"model": 1})))
    with pytest.raises(CorruptHeaderError, match="array"):
        container.unpack(build_v2(header_bytes=msgpack.packb([1, 2, 3])))
    with pytest.raises(HeaderTooLargeError):
        container.unpack(build_v2({"count": container.MAX_WHOLE_COUNT + 1}))


def test_v2_zstd_size_mismatch():
    payload = zstandard.ZstdCompressor().compress(bytes(COUNT * LATENT * 2))
    with pytest.raises(PayloadSizeError):
        vaecodec.decode(build_v2({"payload_size": len(payload)}, payload=payload))


def test_v2_unsafe_and_duplicate_names():
    raw = "\x00".join(["ok.png", "../up.png", "z.png"]).encode()
    with pytest.raises(UnsafeNameError):
        container.unpack(build_v2({"names": [0, raw]}))
    raw = "\x00".join(["a.png", "a.png", "z.png"]).encode()
    with pytest.raises(UnsafeNameError, match="unique"):
        container.unpack(build_v2({"names": [0, raw]}))
    joined = "\x00".join(["a.png", "b.png", "c.png"]).encode()
    frame = zstandard.ZstdCompressor().compress(joined)
    archive = container.unpack(build_v2({"names": [1, len(joined), frame]}))
    assert archive.header.names == ("a.png", "b.png", "c.png")
    with pytest.raises(PayloadSizeError):
        container.unpack(build_v2({"names": [1, len(joined) + 1, frame]}))


def test_v2_unknown_model_and_level():
    with pytest.raises(UnknownModelError):
        vaecodec.decode(build_v2({"model": b"\x00\x01\x02\x03"}))
    data = vaecodec.encode(np.zeros((2, 28, 28), np.uint8))
    header = vaecodec.read_info(data)
    assert header.level == 4 and header.coder == "range"
    with pytest.raises(vaecodec.UnknownLevelError,
                       match="level 200.*newer vaecodec made it, upgrade"):
        vaecodec.decode(build_v2({"quant": 200, "coder": 0}))


def test_v2_range_payload_damage_is_caught_by_the_checksum():
    data = bytearray(vaecodec.encode(np.zeros((3, 28, 28), np.uint8)))
    data[-6] ^= 0x55
    with pytest.raises(ChecksumError):
        vaecodec.decode(bytes(data))


def test_v1_files_made_by_vaecodec_1_0_still_decode():
    from pathlib import Path

    here = Path(__file__).parent / "data"
    data = (here / "v1_digits.vaez").read_bytes()
    assert data[:5] == b"VAEZ\x01"
    header = vaecodec.read_info(data)
    assert header.version == 1 and header.count == 20 and header.quant_step == 0.2
    assert np.array_equal(vaecodec.decode(data), np.load(here / "v1_digits_decoded.npy"))


def test_the_format_reads_a_header_without_numpy():
    """The format layer is bytes only: reading a header imports no numpy (nor torch)."""
    import subprocess
    import sys

    code = ("import io, sys; from vaecodec.format import container; "
            "data = open(sys.argv[1], 'rb').read(); "
            "h = container.read_header(io.BytesIO(data))[0]; container.unpack(data); "
            "assert h.count == 20, h; "
            "assert not {'numpy', 'torch'} & set(sys.modules), sorted(sys.modules)")
    from pathlib import Path

    v1 = Path(__file__).parent / "data" / "v1_digits.vaez"
    proc = subprocess.run([sys.executable, "-c", code, str(v1)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def v4_file(embedded_field, model: bytes, residual=None, inverted=None, count=1) -> bytes:
    """A hand-made version 4 file (one image, zstd symbols, step 0.5) with its embedded
    model field and ``model`` bytes after the payload."""
    payload = zstandard.ZstdCompressor().compress(bytes(20 * count))
    header = msgpack.packb([default_model_id()[:4], 20, 0.5, 1, count, len(payload), None,
                            residual, embedded_field, inverted], use_bin_type=True)
    body = b"VAEZ\x04" + wire.leb128(len(header)) + header + payload + model
    return body + struct.pack("<I", zlib.crc32(body))


def test_version_4_carries_a_model_after_the_payload():
    archive = container.unpack(v4_file(5, b"12345"))
    assert archive.model == b"12345" and archive.header.embedded_model_size == 5
    assert archive.header.version == 4 and archive.header.residual is None


@pytest.mark.parametrize("field, model, error, message", [
    (-1, b"", CorruptHeaderError, "embedded model's size"),
    ("5", b"12345", CorruptHeaderError, "embedded model's size"),
    (2**31, b"", CorruptHeaderError, "embedded model's size"),
    (6, b"12345", TruncatedError, "truncated"),
    (4, b"12345", TrailingBytesError, "unexpected bytes"),
])
def test_version_4_embedded_model_field_is_checked(field, model, error, message):
    with pytest.raises(error, match=message):
        container.unpack(v4_file(field, model))


def test_version_4_header_has_ten_fields():
    payload = zstandard.ZstdCompressor().compress(bytes(20))
    header = msgpack.packb([default_model_id()[:4], 20, 0.5, 1, 1, len(payload), None, None,
                            0], use_bin_type=True)
    body = b"VAEZ\x04" + wire.leb128(len(header)) + header + payload
    with pytest.raises(CorruptHeaderError, match="array of 10 fields"):
        container.unpack(body + struct.pack("<I", zlib.crc32(body)))


def test_version_4_records_which_images_are_inverted():
    bitmap = zstandard.ZstdCompressor().compress(bytes([0b101, 0b1]))
    header = container.unpack(v4_file(0, b"", inverted=bitmap, count=9)).header
    assert header.inverted == bytes([0b101, 0b1]) and header.embedded_model_size == 0
    assert header.to_dict()["inverted_images"] == 3
    every = container.unpack(v4_file(0, b"", inverted=True, count=9)).header
    assert every.inverted == b"\xff\x01" and every.to_dict()["inverted_images"] == 9


@pytest.mark.parametrize("bitmap, error, message", [
    (b"\x01\x02", CorruptPayloadError, "inverted-images bitmap"),  # not a zstd frame
    (zstandard.ZstdCompressor().compress(b"\x01"), PayloadSizeError, "inverted-images"),
    (zstandard.ZstdCompressor().compress(b"\x01\x02\x03"), PayloadSizeError, "inverted"),
    (zstandard.ZstdCompressor().compress(b"\x01\x02"), CorruptHeaderError, "past the last"),
    (1, CorruptHeaderError, "nil, true or a zstd frame"),
])
def test_version_4_inverted_bitmap_is_checked(bitmap, error, message):
    with pytest.raises(error, match=message):
        container.unpack(v4_file(0, b"", inverted=bitmap, count=9))


@pytest.mark.parametrize("step", [1e-300, 5e-4, 100.5, 1e300])
def test_a_step_no_encoder_writes_is_refused_before_decoding(step):
    """The fuzzer's find: a header's step far outside what encode accepts (1e-3..100)
    made the exact decoder overflow; now it is a corrupt header, in every version."""
    with pytest.raises(CorruptHeaderError, match="quantization step"):
        vaecodec.decode(build_v2({"quant": step}))
    with pytest.raises(CorruptHeaderError, match="quantization step"):
        vaecodec.decode(build({"quant_step": step}))


def test_info_reads_headers_without_the_codec_stack(tmp_path, sample_images):
    """``vaecodec info`` and ``vaecodec.read_info`` on a chunked, labelled archive and an
    unchunked file import neither numpy nor Pillow (issue 30: info must not import the
    codec stack to read a header), and say what the full readers say."""
    import subprocess
    import sys

    chunked_file = tmp_path / "a.vaez"
    with vaecodec.open(chunked_file, "w", chunk_images=64) as out:
        out.write(sample_images[:150], names=[f"{i % 3}/{i}.png" for i in range(150)],
                  labels=[i % 3 for i in range(150)])
    small = tmp_path / "b.vaez"
    small.write_bytes(vaecodec.encode(sample_images[:5], lossless=True))
    code = ("import sys; from vaecodec.cli import main\n"
            "try:\n    main(['info', sys.argv[1]])\nexcept SystemExit as e:\n"
            "    assert not e.code, e.code\n"
            "import vaecodec; h = vaecodec.read_info(sys.argv[1])\n"
            "print(h.count, h.image_shape, h.fields)\n"
            "assert not {'numpy', 'PIL', 'torch'} & set(sys.modules), sorted(sys.modules)")
    for path, count in ((chunked_file, 150), (small, 5)):
        proc = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                              text=True)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.splitlines()[-1].startswith(f"{count} (28, 28)")
    with vaecodec.open(chunked_file) as archive:  # the same summary as the decoder's
        full = dataclasses.replace(archive.decoder.summary(), image_shape=(28, 28))
        assert vaecodec.read_info(chunked_file) == full
