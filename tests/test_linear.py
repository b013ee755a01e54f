"""Linear models (``vaecodec train --recipe linear``): the principal components as the base
layer, decoded exactly (``core.fixednet``'s linear output), coded, trained and sampled."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

import vaecodec
from vaecodec.core import fixednet, tensors
from vaecodec.core.runtime import NumpyVAE
from vaecodec.eval import metrics
from vaecodec.format import family as family_format
from vaecodec.zoo import Zoo, families

SHAPE = (16, 16)


def smooth_images(count: int, seed: int) -> np.ndarray:
    """Photograph-like grayscale tiles of SHAPE (``tools/make_linear_corpus.py``'s)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from make_linear_corpus import smooth_images as made

    return made(count, seed, SHAPE)


def test_the_components_reconstruct_and_the_decoder_is_exact():
    """All the components give the images back (to within rounding); the exact decoder's
    pixels are round(255 x) of the float decoder's clipped output but for the rare value
    at a rounding boundary; a model with the linear stack and a "decoder" stack is
    refused, and the linear stack is what readers before it find no decoder in."""
    from vaecodec.train.linear import fit_linear

    images = smooth_images(300, 1)
    values = int(np.prod(SHAPE))
    weights, std = fit_linear(images, values)
    assert "decoder.0.weight" not in weights and "linear.0.weight" in weights
    assert len(std) == values and std == sorted(std, reverse=True)
    net = NumpyVAE(weights, SHAPE)
    assert net.output == "linear" and net.latent_size == values
    flat = images.reshape(len(images), -1)
    z = net.encode_mean(flat / 255.0)
    assert np.abs(net.decode_pixels(z).astype(int) - flat).max() <= 1
    step = 0.05
    symbols = np.rint(z / step)
    exact = net.decode_symbols(symbols, step)
    floating = np.clip(np.rint(np.clip(net.decode(symbols * step), 0, 1) * 255), 0, 255)
    assert (exact != floating).mean() < 1e-3 and np.abs(exact - floating).max() <= 1
    # the thresholds are those of rounding, halves up: 0.5 (symbol 512 of step 1/1024)
    # is 128 (the float path's rint would make it 127.5 -> 128 too), a step below is 127
    decoder = fixednet.FixedDecoder([(np.eye(3), np.zeros(3))], 1 / 1024, "linear")
    out = np.zeros((1, 3), np.uint8)
    decoder.pixels(np.array([[512, 511, 2048]]), out)
    assert out.tolist() == [[128, 127, 255]]
    mixed = {**weights, tensors.key("decoder", 0, "weight"): weights["linear.0.weight"],
             tensors.key("decoder", 0, "bias"): weights["linear.0.bias"]}
    with pytest.raises(ValueError, match="one layer each way"):
        NumpyVAE(mixed, SHAPE)
    with pytest.raises(ValueError, match="unknown decoder output"):
        fixednet.FixedDecoder([(np.eye(3), np.zeros(3))], 0.5, "tanh")


@pytest.fixture(scope="module")
def linear_family():
    pytest.importorskip("torch", reason="vaecodec train needs the train extra (torch)")
    from vaecodec.train.family import train_family

    return train_family(smooth_images(800, 2), "lin", recipe="linear", pixel_model="table",
                        log=lambda line: None)


def test_a_linear_family_trains_codes_and_samples(linear_family, model_store):
    """``--recipe linear`` makes a family without a training loop: its VAE entry is a
    linear model (metadata type "linear", the components' spreads), its levels rise in
    quality and bytes, lossy files decode from the store, lossless and max-error files are
    exact and bounded, and ``sample`` draws with the components' spreads."""
    assert not linear_family.problems
    header, _ = family_format.unpack(linear_family.data)
    arch = header["models"][0]["metadata"]["architecture"]
    assert arch["type"] == "linear" and arch["latent_size"] == 256 and arch["hidden"] == []
    assert len(arch["latent_std"]) == 256
    psnrs = [lv.measured["psnr_db"] for lv in linear_family.levels]
    sizes = [lv.measured["bytes_per_image"] for lv in linear_family.levels]
    assert psnrs == sorted(psnrs) and sizes == sorted(sizes)
    (model_store / "lin.vaem").write_bytes(linear_family.data)
    assert "lin" in {f.name for f in Zoo.installed().families()}
    images = smooth_images(50, 3)
    best = vaecodec.decode(vaecodec.encode(images, model="lin", quality=6))
    assert metrics.psnr(images, best) > 30
    assert np.array_equal(vaecodec.decode(vaecodec.encode(images, model="lin",
                                                          lossless=True)), images)
    bounded = vaecodec.decode(vaecodec.encode(images, model="lin", max_error=3))
    assert np.abs(bounded.astype(int) - images).max() <= 3
    drawn = vaecodec.sample(200, model="lin")
    assert drawn.shape == (200, *SHAPE)
    # drawn with each component's spread, the samples spread as the images do (within
    # a factor of two), where unit normals would give nearly flat images
    spread = drawn.reshape(200, -1).astype(float).std(axis=1).mean()
    assert 0.5 < spread / images.reshape(50, -1).astype(float).std(axis=1).mean() < 2
    family, models, levels = families.from_bytes(linear_family.data)
    assert models[0].metadata["recipe"]["architecture"] == "linear"
    # a hostile spread list is one error, not a traceback
    import dataclasses

    for bad in (["x"] * 256, [1.0] * 3, [float("nan")] * 256, "wide"):
        meta = {**models[0].metadata,
                "architecture": {**models[0].metadata["architecture"], "latent_std": bad}}
        zoo = Zoo().with_family(family, [dataclasses.replace(models[0], metadata=meta),
                                         *models[1:]], levels)
        with pytest.raises(vaecodec.CorruptModelError, match="latent_std"):
            vaecodec.sample(2, model="lin", zoo=zoo)


def test_the_linear_model_is_kept_where_it_is_better_at_equal_bytes():
    """``linear_gain``: the linear levels' PSNR interpolated at each VAE level's bytes (its
    best beyond its last level), averaged; no comparison when every VAE level is cheaper
    than the linear model's cheapest."""
    from vaecodec.train.family import linear_gain
    from vaecodec.zoo import Level

    def levels(*points):
        return [Level(i, "m", b"", 1.0, None, {"bytes_per_image": b, "psnr_db": p})
                for i, (b, p) in enumerate(points, 1)]

    linear = levels((4, 20.0), (8, 24.0), (16, 26.0))
    # VAE levels at 6 B (linear: 22 there) and 20 B (beyond: its best, 26)
    assert linear_gain(levels((6, 21.0), (20, 27.0)), linear) == pytest.approx(0.0)
    assert linear_gain(levels((6, 23.0), (20, 27.0)), linear) == pytest.approx(-1.0)
    assert linear_gain(levels((2, 15.0), (6, 20.0)), linear) == pytest.approx(2.0)
    assert linear_gain(levels((2, 15.0), (3, 16.0)), linear) is None


def test_auto_keeps_the_linear_model_on_photograph_like_images(model_store):
    """``--recipe auto`` makes the linear model beside the VAE and keeps the better at
    equal bytes on validation: on smooth tiles, against a VAE given a few steps, the
    linear model, recorded in the family (``base_model_choice``) with both curves."""
    pytest.importorskip("torch", reason="vaecodec train needs the train extra (torch)")
    from vaecodec.train.family import train_family

    lines = []
    trained = train_family(smooth_images(800, 4), "auto-lin", recipe="auto", steps=20,
                           pixel_model="table", log=lambda line: None,
                           announce=lines.append)
    header, _ = family_format.unpack(trained.data)
    assert header["models"][0]["metadata"]["architecture"]["type"] == "linear"
    choice = header["metadata"]["base_model_choice"]
    assert choice["kept"] == "linear" and choice["linear_gain_db"] > 0
    assert len(choice["levels"]["linear"]) == len(choice["levels"]["vae"]) == 6
    assert header["metadata"]["recipe"]["architecture"] == "linear"
    assert "the linear model kept over the VAE" in header["metadata"]["recipe_choice"]
    assert any(line.startswith("base model: the linear model") for line in lines)


def test_ssim_of_images_smaller_than_its_window():
    """SSIM's 11x11 window does not fit 8x8 images (``vaecodec train`` on them failed
    measuring its levels): such images get the largest odd window that fits, 7x7."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (5, 8, 8), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-20, 21, a.shape), 0, 255).astype(np.uint8)
    assert metrics.ssim(a, a) == pytest.approx(1.0)
    assert 0 < metrics.ssim(a, b) < 1
    assert metrics.ssim(a[:, :1, :1], b[:, :1, :1]) <= 1  # one pixel: a 1x1 window
    big = rng.integers(0, 256, (3, 32, 32), dtype=np.uint8)
    noisy = np.clip(big.astype(int) + 10, 0, 255).astype(np.uint8)
    window = metrics._gaussian_window(11)  # 11x11 as before where it fits
    assert metrics.ssim_per_image(big, noisy).shape == (3,)
    assert metrics._filter_valid(big.astype(float), window).shape == (3, 22, 22)


CORPUS = Path(__file__).parent / "data" / "linear-8x8"
ENTRIES = json.loads((CORPUS / "manifest.json").read_text())["entries"]


@pytest.mark.parametrize("entry", ENTRIES, ids=[e["file"] for e in ENTRIES])
def test_files_of_a_linear_family_decode_to_the_same_pixels(entry, model_store):
    """tests/data/linear-8x8 (tools/make_linear_corpus.py, written when linear models were
    added): with its family installed, every file decodes to the pixels recorded then;
    the lossless one to its inputs, the max-error one within its bound."""
    import hashlib

    (model_store / "lin8.vaem").write_bytes((CORPUS / "lin8.vaem").read_bytes())
    data = (CORPUS / entry["file"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == entry["sha256"]
    pixels = vaecodec.decode(data)
    assert hashlib.sha256(pixels.tobytes()).hexdigest() == entry["pixels_sha256"]
    inputs = np.load(CORPUS / "inputs.npy")
    if entry["encode"].get("lossless"):
        assert np.array_equal(pixels, inputs)
    if "max_error" in entry["encode"]:
        assert np.abs(pixels.astype(int) - inputs).max() <= entry["encode"]["max_error"]
