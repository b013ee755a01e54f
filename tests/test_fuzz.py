"""Arbitrary bytes either decode or raise the library's own error, never anything else.

A quick pass runs with the default suite; `python -m pytest -m "slow or fuzz"
--hypothesis-profile=long` (CI's second run) runs each for 3,000 examples.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_shapes import random_vae

import vaecodec
from vaecodec import VaezError, Zoo
from vaecodec.format import container, wire

pytestmark = pytest.mark.fuzz

IMAGES = np.random.default_rng(0).integers(0, 256, (3, 28, 28), dtype=np.uint8)
NAMES = ["a.png", "b/c.png", "d.png"]
VALID_FILES = [
    vaecodec.encode(IMAGES, names=NAMES),  # v2, range coder
    vaecodec.encode(IMAGES, quant_step=0.3, names=NAMES),  # v2, zstd
    (Path(__file__).parent / "data" / "v1_digits.vaez").read_bytes(),  # v1
    vaecodec.encode(IMAGES, lossless=True, names=NAMES),  # v3, residual layer
    vaecodec.encode(IMAGES, max_error=5),  # v3, error-bounded
]


def chunked_file(**options) -> bytes:
    """A version 5 file of IMAGES in 2 chunks (and the byte ranges its CRC-32s cover)."""
    import io

    out = io.BytesIO()
    with vaecodec.open(out, "w", chunk_images=2, **options) as archive:
        archive.write(IMAGES, NAMES if not options else None)
    return out.getvalue()


def labelled_file() -> bytes:
    """A version 6 file of IMAGES in 2 chunks with names, labels, metadata and classes."""
    import io

    out = io.BytesIO()
    with vaecodec.open(out, "w", chunk_images=2, classes=["x", "y"]) as archive:
        archive.write(IMAGES, NAMES, labels=[0, 1, -7],
                      meta=[{"a": 1, "b": "two"}, None, {"c": 0.5, "d": b"\0"}])
    return out.getvalue()


# a model of RGB images (untrained), beside the installed ones, for version 7 files, and a
# family of it whose pixel model is a table (residual layout 5: no base layer)
COLOUR_SHAPE = (8, 12, 3)
COLOUR_VAE = random_vae(COLOUR_SHAPE, latent=6, hidden=32)
COLOUR_IMAGES = np.random.default_rng(2).integers(0, 256, (3, *COLOUR_SHAPE), dtype=np.uint8)


def table_zoo() -> Zoo:
    from vaecodec.core import tablemodel
    from vaecodec.core.entropy import fit_prior
    from vaecodec.core.quantize import quantize
    from vaecodec.zoo import Level, ModelInfo
    from vaecodec.zoo.families import Family

    means = Zoo([COLOUR_VAE]).vae(COLOUR_VAE).encode_mean(COLOUR_IMAGES.reshape(3, -1) / 255.0)
    level = Level(1, COLOUR_VAE.name, COLOUR_VAE.model_id, 0.3, fit_prior(quantize(means, 0.3)),
                  measured={"bytes_per_image": 3.0, "psnr_db": 10.0, "ssim": 0.1})
    table = ModelInfo.in_memory("tab.table", *tablemodel.fit_pixel_model(
        COLOUR_IMAGES, 1, COLOUR_VAE.model_id.hex(), min_count=2))
    return Zoo.installed().with_family(Family("tab", COLOUR_VAE.name, table.name, 1),
                                       [COLOUR_VAE, table], [level])


ZOO = table_zoo()


def colour_file() -> bytes:
    """A version 7 file of 3 RGB images in 2 chunks, with names and source channels."""
    import io

    out = io.BytesIO()
    with vaecodec.open(out, "w", chunk_images=2, quant_step=0.3, model=COLOUR_VAE.name,
                       zoo=ZOO) as archive:
        archive.write(COLOUR_IMAGES, NAMES, channels=[1, 4, 2])
    return out.getvalue()


def table_file() -> bytes:
    """A version 7 lossless file of 3 RGB images in 2 chunks, coded by a table without a
    base layer (residual layout 5)."""
    import io

    out = io.BytesIO()
    with vaecodec.open(out, "w", chunk_images=2, model="tab", lossless=True,
                       zoo=ZOO) as archive:
        archive.write(COLOUR_IMAGES)
    data = out.getvalue()
    assert vaecodec.read_info(data, zoo=ZOO).residual.layout == 5
    return data


CHUNKED_FILES = [chunked_file(), chunked_file(lossless=True), chunked_file(quant_step=0.3),
                 labelled_file(), colour_file(), table_file()]
VALID_FILES += CHUNKED_FILES


def crc_regions(data: bytes) -> list[tuple[int, int]]:
    """(start, end) of each checksummed part of a version 5 or 6 file: its CRC-32 is the last 4
    bytes of each range but the index's, which sits 4 bytes before the end."""
    import io

    from vaecodec.format import chunked

    f = io.BytesIO(data)
    header, _ = chunked.read_file_header(f)
    index = chunked.read_index(f, header, len(data))
    return ([(0, header.size)] + [(c.offset, c.offset + c.size) for c in index.chunks]
            + [(index.offset, len(data) - 4)])


def fix_crcs(data: bytearray, regions) -> bytes:
    for start, end in regions[:-1]:
        data[end - 4 : end] = struct.pack("<I", zlib.crc32(data[start : end - 4]))
    start, end = regions[-1]  # the index: its bytes and the trailer's two sizes
    data[end - 4 : end] = b"VZIX"
    data[end - 8 : end - 4] = struct.pack("<I", zlib.crc32(data[start : end - 8]))
    return bytes(data)


@given(st.integers(0, len(CHUNKED_FILES) - 1),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1,
                max_size=6))
def test_mutated_chunked_file_with_valid_checksums(which, edits):
    """Edits anywhere in a version 5, 6 or 7 file, every CRC-32 recomputed so that they reach the
    headers, the index and the payloads: a decode, or the library's own error, also from
    the random-access reader and salvage."""
    original = CHUNKED_FILES[which]
    regions = crc_regions(original)
    data = bytearray(original)
    for position, value in edits:
        data[position % len(data)] = value
    data = fix_crcs(data, regions)
    decode_or_own_error(data)
    try:
        with vaecodec.open(data, zoo=ZOO) as archive:
            archive[len(archive) - 1]
            archive.names
            archive.labels, archive.metadata, archive.classes
            archive.source_channels(slice(None))
            if archive.labelled:
                archive.label(0)
    except (VaezError, IndexError):
        pass
    try:
        with vaecodec.archive.ArchiveReader(data, salvage=True, zoo=ZOO) as archive:
            archive.verify()
    except VaezError:
        pass


def decode_or_own_error(data: bytes) -> None:
    try:
        out = vaecodec.decode(data, zoo=ZOO)
    except VaezError:
        return
    assert out.dtype == np.uint8 and out.shape[1:] in ((28, 28), COLOUR_SHAPE)


@given(st.binary(max_size=2048))
def test_random_bytes(data):
    decode_or_own_error(data)


@given(st.binary(max_size=300))
def test_random_bytes_after_magic(data):
    decode_or_own_error(b"VAEZ\x01" + data)


@given(st.integers(0, len(VALID_FILES) - 1),
       st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), max_size=8),
       st.integers(0, 10**6))
def test_mutated_valid_file(which, edits, cut):
    data = bytearray(VALID_FILES[which])
    for position, value in edits:
        data[position % len(data)] = value
    cut = cut % (len(data) + 1)
    decode_or_own_error(bytes(data[:cut]))
    try:
        vaecodec.read_info(bytes(data))
    except VaezError:
        pass


@given(st.binary(min_size=0, max_size=64).map(lambda b: b[: len(b) // 4 * 4]))
def test_random_range_payload_with_valid_checksum(payload):
    """Arbitrary range-coded words behind a valid header and CRC: decode or own error."""
    h = container.unpack(VALID_FILES[0]).header
    fields = [h.model_id, h.latent_size, h.level, 0, h.count, len(payload), None]
    header = msgpack.packb(fields, use_bin_type=True)
    body = b"VAEZ\x02" + wire.leb128(len(header)) + header + payload
    decode_or_own_error(body + struct.pack("<I", zlib.crc32(body)))


@settings(max_examples=max(20, settings.default.max_examples // 5))  # slow examples
@given(st.binary(min_size=0, max_size=256).map(lambda b: b[: len(b) // 4 * 4]),
       st.integers(0, 32))
def test_random_residual_chunk_with_valid_checksum(chunk, max_error):
    """Arbitrary residual words behind a valid v3 header and CRC: decode or own error, and
    what decodes is uint8 images of the model's shape."""
    archive = container.unpack(VALID_FILES[3])
    h = archive.header
    fields = [h.model_id, h.latent_size, h.level, 0, h.count, len(archive.payload), None,
              [1, h.residual.model_id, max_error, [len(chunk)]]]
    header = msgpack.packb(fields, use_bin_type=True)
    body = b"VAEZ\x03" + wire.leb128(len(header)) + header + archive.payload + chunk
    decode_or_own_error(body + struct.pack("<I", zlib.crc32(body)))


@pytest.mark.slow
def test_atheris_target_bounded_run(tmp_path):
    """A bounded run of the coverage-guided target (fuzz/fuzz_decode.py) from the golden
    corpus, half of its inputs with a recomputed checksum; a crash, an exception other than
    the library's, a 30 s input or 2 GB of memory fails it. The documented campaign runs it
    for an hour (docs/format.md)."""
    import shutil
    import subprocess
    import sys

    pytest.importorskip("atheris", reason="needs atheris (the fuzz extra)")
    repo = Path(__file__).resolve().parent.parent
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for seed in [*sorted((repo / "tests" / "data" / "golden").glob("*.vaez")),
                 repo / "tests" / "data" / "v1_digits.vaez"]:
        (corpus / seed.name).write_bytes(b"\x00" + seed.read_bytes())  # first byte: no fix-up
    # started through a small intermediate process: libFuzzer reads its peak RSS from
    # getrusage, which a process started straight from this (large) test process inherits
    relay = "import subprocess, sys; sys.exit(subprocess.call(sys.argv[1:]))"
    proc = subprocess.run(
        [sys.executable, "-c", relay, sys.executable, str(repo / "fuzz" / "fuzz_decode.py"),
         str(corpus), "-runs=150000", "-max_len=8192", "-rss_limit_mb=2048", "-timeout=30",
         "-seed=1"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert "Done 150000 runs" in proc.stderr
    shutil.rmtree(corpus)
