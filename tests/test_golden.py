"""Compatibility: files written by vaecodec 1.3.0 decode as they did, and the encoder still
writes them byte for byte (with ``polarity="as-is"``: by default, since 2.0, images with a
light border are coded inverted).

tests/data/golden/ was written by vaecodec 1.3.0 through its public API
(``tools/make_golden_corpus.py``): one file per encoder setting (levels 1-9 with both
coders, explicit steps with every model, lossless, max-error, names, single images),
with the sha256 of the bytes, of the decoded latent symbols and of the decoded pixels.

Lossless and max-error files are decoded in exact integer arithmetic, so their pixels must
match bit for bit. A lossy file's pixels come from the float32 decoder network, which in
1.3.0 already differs by one grey level in a handful of pixels between BLAS thread counts
(level 2 here: 1 vs 2 threads); for those the symbols must match exactly and the pixels
may differ from 1.3.0's by at most one level in at most 0.05% of pixels.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest

import vaecodec
from vaecodec.core import coders
from vaecodec.zoo import models

PIXEL_MODEL_1_3 = "pixel-l1"

GOLDEN = Path(__file__).parent / "data" / "golden"
MANIFEST = json.loads((GOLDEN / "manifest.json").read_text())
ENTRIES = MANIFEST["entries"]


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def assert_close_to_released(pixels: np.ndarray, expected: np.ndarray) -> None:
    """A lossy file's pixels against those a release decoded: the float32 decoder may
    differ by one grey level in a few pixels between BLAS builds and thread counts."""
    diff = np.abs(pixels.astype(int) - expected)
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 0.0005 * diff.size


def decoded_symbols(data: bytes) -> np.ndarray:
    from vaecodec.format import container
    from vaecodec.pipeline.settings import settings_for
    from vaecodec.stream.whole import decode_symbols

    archive = container.unpack(data)
    return decode_symbols(archive, settings_for(archive.header))


@pytest.fixture(scope="module")
def inputs() -> np.ndarray:
    return np.load(GOLDEN / MANIFEST["inputs"])


@pytest.fixture(scope="module")
def lossy_pixels():
    with np.load(GOLDEN / "lossy_pixels.npz") as stored:
        return {name: stored[name] for name in stored.files}


def test_the_corpus_covers_every_setting():
    kinds = [e["encode"] for e in ENTRIES]
    levels = {(k["quality"], k["coder"]) for k in kinds if "quality" in k}
    assert levels == {(q, c) for q in range(1, 10) for c in ("range", "zstd")}
    assert {k["model"] for k in kinds if "model" in k} == {
        "vae-default", "vae-seed", "vae-mse-s05", "vae-mse-s05-aug1"}
    assert {k.get("max_error") for k in kinds if "max_error" in k} == {1, 2, 4, 8, 16, 32, 3}
    assert any(k.get("lossless") for k in kinds) and any("names" in k for k in kinds)


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_old_files_decode_to_the_same_pixels(entry, lossy_pixels):
    data = (GOLDEN / entry["file"]).read_bytes()
    assert sha256(data) == entry["sha256"]
    symbols = np.ascontiguousarray(decoded_symbols(data), dtype="<i4")
    assert sha256(symbols.tobytes()) == entry["symbols_sha256"]
    pixels = vaecodec.decode(data)
    assert pixels.dtype == np.uint8 and list(pixels.shape) == entry["shape"]
    if entry["file"] not in lossy_pixels:  # a residual layer: exact integer decoding
        assert sha256(pixels.tobytes()) == entry["pixels_sha256"]
        return
    assert_close_to_released(pixels, lossy_pixels[entry["file"]])


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_the_encoder_writes_the_same_bytes(entry, inputs, monkeypatch):
    images = inputs if entry["images"] is None else inputs[entry["images"]]
    residual = entry["encode"].get("lossless") or "max_error" in entry["encode"]
    if residual:  # the pixel model of 1.3.0 (and 2.0.0), no longer the default, and the
        # residual layout it wrote (new files with some max errors take layout 2)
        monkeypatch.setitem(models.DEFAULTS, models.PIXEL_MODEL, PIXEL_MODEL_1_3)
        monkeypatch.setattr(coders, "residual_coder", lambda *_: coders.RESIDUAL_CODERS[1])
    data = vaecodec.encode(images, **entry["encode"], polarity="as-is")
    assert data == (GOLDEN / entry["file"]).read_bytes()


def test_the_default_pixel_model_now_writes_smaller_residuals(inputs, monkeypatch):
    """After 2.0.0 the default pixel model is a newer one: the same digits make smaller
    lossless files, which decode exactly; the old files name the old model by id and
    still decode (above)."""
    digits = inputs[:24]
    new = vaecodec.encode(digits, lossless=True)
    assert np.array_equal(vaecodec.decode(new), digits)
    # pixel-l1-v2 and pixel-l1-v3, the defaults between 2.0.0 and pixel-l10, stay shipped
    # for their files (whose base layer is level 1, pixel-l10's level 10)
    for between_model in ("pixel-l1-v2", "pixel-l1-v3"):
        monkeypatch.setitem(models.DEFAULTS, models.PIXEL_MODEL, between_model)
        between = vaecodec.encode(digits, lossless=True)
        assert vaecodec.read_info(between).level == 1
        assert between != new and np.array_equal(vaecodec.decode(between), digits)
    monkeypatch.setitem(models.DEFAULTS, models.PIXEL_MODEL, PIXEL_MODEL_1_3)
    assert len(new) < len(vaecodec.encode(digits, lossless=True))


def test_light_images_are_now_coded_inverted_and_come_back_closer(inputs):
    """The corpus's white and gray images have a light border: since 2.0 they are coded
    inverted (format version 4) by default, and decode at least as close as 1.3.0's bytes
    (the as-is coding, above) did."""
    light = inputs[24:27]  # black, white, gray: black stays as it is
    data = vaecodec.encode(light)
    assert vaecodec.read_info(data).to_dict()["inverted_images"] == 2
    now = np.abs(vaecodec.decode(data).astype(int) - light).mean(axis=(1, 2))
    before = np.abs(vaecodec.decode(vaecodec.encode(light, polarity="as-is")).astype(int)
                    - light).mean(axis=(1, 2))
    assert np.all(now <= before + 0.5)


# --- shipped families' files ------------------------------------------------------------------
# tests/data/fashion-2.0: fashion-mnist as 2.0.0 shipped it (the family has been retrained
# since; its first version still ships, so these files still decode); tests/data/fashion-rd:
# fashion-mnist-rd as first shipped; tests/data/icons-net: the icons family before it got
# its table pixel model (its lossless and max-error files name the pixel network, which
# the family keeps); tests/data/icons-table: the icons family's lossless and max-error files
# with its table, residual layout 4 (the base layer stored beside the table's values),
# before layout 5 left the base layer out.

FAMILY_CORPORA = [Path(__file__).parent / "data" / name
                  for name in ("fashion-2.0", "fashion-rd", "icons-net", "icons-table")]
FAMILY_ENTRIES = [(folder, entry) for folder in FAMILY_CORPORA
                  for entry in json.loads((folder / "manifest.json").read_text())["entries"]]


def test_a_table_family_leaves_the_base_layer_out_and_still_reads_layout_4():
    """New files of the icons family's table are its layout 4 files (tests/data/icons-table)
    less their base layer, which the table never read: residual layout 5, the same
    pixels, the latent payload's bytes fewer. Appending to a layout 4 archive goes on
    writing layout 4, base layer and all."""
    folder = Path(__file__).parent / "data" / "icons-table"
    inputs = np.load(folder / "inputs.npy")
    for entry in json.loads((folder / "manifest.json").read_text())["entries"]:
        old = (folder / entry["file"]).read_bytes()
        new = vaecodec.encode(inputs, **entry["encode"])
        before, after = vaecodec.read_info(old), vaecodec.read_info(new)
        assert (before.residual.layout, after.residual.layout) == (4, 5)
        assert before.payload_size > 0 and after.payload_size == 0
        assert len(new) == len(old) - before.payload_size
        assert np.array_equal(vaecodec.decode(new), vaecodec.decode(old))


def test_an_append_to_a_layout_4_archive_stays_layout_4(tmp_path):
    folder = Path(__file__).parent / "data" / "icons-table"
    inputs = np.load(folder / "inputs.npy")
    path = tmp_path / "old.vaez"
    path.write_bytes((folder / "06.vaez").read_bytes())
    with vaecodec.open(path, "a") as archive:
        archive.write(inputs[:5])
    info = vaecodec.read_info(path)
    assert info.residual.layout == 4 and info.count == len(inputs) + 5
    assert np.array_equal(vaecodec.decode(path.read_bytes()),
                          np.concatenate([inputs, inputs[:5]]))


def test_a_layout_5_chunk_with_a_latent_payload_is_damaged(tmp_path):
    """A layout 4 archive whose header is made to say layout 5: its chunks' latent payloads
    are then bytes a layout 5 file cannot hold."""
    import dataclasses
    import io

    from vaecodec.format import chunked

    data = (Path(__file__).parent / "data" / "icons-table" / "06.vaez").read_bytes()
    header, model = chunked.read_file_header(io.BytesIO(data))
    old = chunked.pack_header(header, model)
    assert data.startswith(old)
    new = chunked.pack_header(dataclasses.replace(header, residual=dataclasses.replace(
        header.residual, layout=5)), model)
    assert len(new) == len(old)
    with pytest.raises(vaecodec.CorruptPayloadError, match="chunk 0 holds 96 bytes of latent"):
        vaecodec.decode(new + data[len(old):])


@pytest.mark.parametrize("folder, entry", FAMILY_ENTRIES,
                         ids=[f"{folder.name}/{e['file']}" for folder, e in FAMILY_ENTRIES])
def test_files_of_shipped_families_decode_to_the_same_pixels(folder, entry):
    """A corpus of ``tools/make_family_corpus.py``: every level, lossless and max-error,
    written with a shipped family as released."""
    data = (folder / entry["file"]).read_bytes()
    assert sha256(data) == entry["sha256"]
    pixels = vaecodec.decode(data)
    if "quality" not in entry["encode"]:  # a residual layer: exact integer decoding
        assert sha256(pixels.tobytes()) == entry["pixels_sha256"]
        return
    with np.load(folder / "lossy_pixels.npz") as stored:
        assert_close_to_released(pixels, stored[entry["file"]])
