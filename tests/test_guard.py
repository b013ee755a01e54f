"""Never silently wrong: the quality guard; images of the other polarity; what a VAE does
besides compressing (samples, latents)."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec import images
from vaecodec.cli import main
from vaecodec.pipeline import guard
from vaecodec.pipeline.chunk import dark_on_light

FASHION = Path(__file__).resolve().parent.parent / "samples" / "fashion"


@pytest.fixture(scope="module")
def clothes() -> np.ndarray:
    pixels, names, _ = images.read_images(images.collect([FASHION]), (28, 28))
    assert len(names) == 100
    return pixels


def quality_warnings(call) -> list[vaecodec.QualityWarning]:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        call()
    return [w.message for w in caught if issubclass(w.category, vaecodec.QualityWarning)]


def test_clothes_under_the_digit_models_warn_digits_do_not(clothes, sample_images):
    assert quality_warnings(lambda: vaecodec.encode(sample_images[:100])) == []
    for level in (1, 4, 9):
        caught = quality_warnings(lambda: vaecodec.encode(clothes, quality=level))
        assert len(caught) == 1
        report = caught[0].report
        assert report.poor and report.images == 100 and report.level == level
        assert report.psnr_db < report.expected_psnr_db - guard.GUARD_MARGIN_DB
        assert "vaecodec train" in str(caught[0]) and "--lossless" in str(caught[0])


def test_strict_refuses_and_writes_nothing(clothes, tmp_path):
    with pytest.raises(vaecodec.QualityError, match="refused"):
        vaecodec.encode(clothes, strict=True)
    result = CliRunner().invoke(main, ["compress", str(FASHION), str(tmp_path / "c.vaez"),
                                       "--strict"])
    assert result.exit_code == 1 and result.output.startswith("Error: refused (strict)")
    assert not (tmp_path / "c.vaez").exists()


def test_the_cli_warns_on_stderr_with_the_figures(tmp_path):
    result = CliRunner().invoke(main, ["compress", str(FASHION), str(tmp_path / "c.vaez")])
    assert result.exit_code == 0 and (tmp_path / "c.vaez").exists()
    warning = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert len(warning) == 1 and "dB PSNR, far below the 21.5 dB" in warning[0]
    assert "of 100 images are more than 6 dB below" in warning[0]


def test_lossless_and_explicit_steps_are_not_guarded(clothes):
    assert quality_warnings(lambda: vaecodec.encode(clothes[:20], lossless=True)) == []
    assert quality_warnings(lambda: vaecodec.encode(clothes[:20], quant_step=0.2)) == []


def test_large_inputs_are_measured_on_a_sample(clothes):
    many = np.concatenate([clothes] * 15)  # 1,500 images
    report = quality_warnings(lambda: vaecodec.encode(many))[0].report
    assert report.images == 1500 and report.measured == guard.GUARD_SAMPLE
    assert "measured on 1000" in report.message()


# --- polarity ------------------------------------------------------------------------------
@pytest.mark.parametrize("quality", [1, 4, 9])
def test_dark_on_light_digits_cost_and_look_the_same(sample_images, quality):
    inverted = 255 - sample_images
    plain = vaecodec.encode(sample_images, quality=quality)
    flipped = vaecodec.encode(inverted, quality=quality)
    assert vaecodec.read_info(flipped).to_dict()["inverted_images"] == 200
    assert len(flipped) <= len(plain) * 1.02
    assert np.array_equal(vaecodec.decode(flipped), 255 - vaecodec.decode(plain))


def test_mixed_polarity_is_restored_exactly_when_lossless(sample_images):
    mixed = sample_images[:50].copy()
    mixed[::3] = 255 - mixed[::3]
    assert np.array_equal(vaecodec.decode(vaecodec.encode(mixed, lossless=True)), mixed)
    assert np.abs(vaecodec.decode(vaecodec.encode(mixed, max_error=3)).astype(int)
                  - mixed).max() <= 3
    assert vaecodec.read_info(vaecodec.encode(mixed)).to_dict()["inverted_images"] == 17


def test_polarity_is_read_from_the_border():
    light = np.full((2, 28, 28), 250, np.uint8)
    light[1, 0, :] = 0  # a dark top row: the border is still mostly light
    dark = np.zeros((1, 28, 28), np.uint8)
    flags = dark_on_light(np.concatenate([light, dark]).reshape(3, -1), (28, 28))
    assert flags.tolist() == [True, True, False]


# --- samples and latents -------------------------------------------------------------------
def test_sample_draws_the_same_images_for_a_seed(tmp_path):
    a, b = vaecodec.sample(16, seed=3), vaecodec.sample(16, seed=3)
    assert a.shape == (16, 28, 28) and a.dtype == np.uint8 and np.array_equal(a, b)
    assert not np.array_equal(a, vaecodec.sample(16, seed=4))
    runner = CliRunner()
    result = runner.invoke(main, ["sample", "-n", "64", "-o", str(tmp_path / "grid.png")])
    assert result.exit_code == 0, result.output
    grid = images.read_image(tmp_path / "grid.png")
    assert grid.shape == (8 * 30 - 2, 8 * 30 - 2)
    result = runner.invoke(main, ["sample", "-n", "3", "-o", str(tmp_path / "each")])
    assert sorted(p.name for p in (tmp_path / "each").iterdir()) == [
        "00000.png", "00001.png", "00002.png"]
    again = runner.invoke(main, ["sample", "-n", "3", "-o", str(tmp_path / "each")])
    assert again.exit_code == 1 and "already exists" in again.output


def test_latents_are_the_decoded_points(sample_images):
    data = vaecodec.encode(sample_images[:10], quality=4)
    z = vaecodec.latents(data)
    assert z.shape == (10, 20) and z.dtype == np.float32
    step = vaecodec.list_levels()[3].quant_step
    assert np.allclose(z / step, np.rint(z / step), atol=1e-4)  # on the grid of the step
    zoo = vaecodec.Zoo.installed()
    net = zoo.vae(zoo.find("vae-default"))
    assert np.abs(z - net.encode_mean(sample_images[:10].reshape(10, -1) / 255.0)).max() \
        <= step / 2 + 1e-5
    with pytest.raises(vaecodec.ImageLimitError):
        vaecodec.latents(data, max_images=5)


# --- the shipped Fashion-MNIST families ----------------------------------------------------
@pytest.mark.parametrize("family, most_bytes", [("fashion-mnist", 16), ("fashion-mnist-rd", 10)])
def test_the_shipped_fashion_families_code_clothes_without_a_warning(clothes, family,
                                                                    most_bytes):
    assert family in {f.name for f in vaecodec.Zoo.installed().families()}
    assert quality_warnings(lambda: vaecodec.encode(clothes, model=family)) == []
    lossy = vaecodec.encode(clothes, model=family)
    psnr = 10 * np.log10(255.0**2 / np.mean(
        (vaecodec.decode(lossy).astype(float) - clothes) ** 2))
    assert psnr > 19 and len(lossy) / len(clothes) < most_bytes
    exact = vaecodec.encode(clothes, model=family, lossless=True)
    assert np.array_equal(vaecodec.decode(exact), clothes)
    # and the digit models still warn on the clothes
    assert len(quality_warnings(lambda: vaecodec.encode(clothes))) == 1
