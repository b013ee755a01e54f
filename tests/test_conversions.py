"""What vaecodec's grayscale cannot keep (colour, transparency, samples deeper than 8
bits) is never dropped silently: exact files refuse it unless --grayscale accepts the
conversion, lossy files convert it and say how many images were converted."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vaecodec
from vaecodec import images as image_files
from vaecodec.cli import main
from vaecodec.errors import ConversionError, VaezWarning


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def digit(sample_images) -> np.ndarray:
    return sample_images[3]


def _save(folder, name, image: Image.Image):
    folder.mkdir(parents=True, exist_ok=True)
    image.save(folder / name)
    return folder / name


@pytest.fixture
def mixed(tmp_path, digit):
    """Grey digits stored every way that loses nothing, and two that would lose something
    (colour; transparency)."""
    folder = tmp_path / "src"
    grey = Image.fromarray(digit)
    _save(folder, "a_gray.png", grey)
    _save(folder, "b_rgb_but_grey.png", grey.convert("RGB"))
    _save(folder, "c_opaque_rgba.png", grey.convert("RGBA"))
    _save(folder, "d_16bit_exact.png", Image.fromarray(digit.astype(np.uint16) * 257))
    rgb = np.stack([digit, digit // 2, digit], axis=-1)
    _save(folder, "e_colour.png", Image.fromarray(rgb))
    rgba = np.dstack([np.stack([digit] * 3, -1), np.full(digit.shape, 128, np.uint8)])
    _save(folder, "f_transparent.png", Image.fromarray(rgba))
    return folder


@pytest.mark.parametrize("name, lost", [
    ("a_gray.png", None), ("b_rgb_but_grey.png", None), ("c_opaque_rgba.png", None),
    ("d_16bit_exact.png", None), ("e_colour.png", "colour"),
    ("f_transparent.png", "transparency"),
])
def test_what_the_conversion_drops_is_known(mixed, digit, name, lost):
    gray, dropped = image_files.read_image_as_gray(mixed / name, (28, 28))
    assert dropped == lost
    if lost is None:
        assert np.array_equal(gray, digit)


def test_deeper_samples_that_do_not_fit_8_bits_are_a_loss(tmp_path, digit):
    path = _save(tmp_path, "deep.png", Image.fromarray(digit.astype(np.uint16) * 257 + 3))
    with pytest.raises(ConversionError, match="deep.png has samples deeper than 8 bits"):
        image_files.read_image(path, (28, 28), exact=True)


def test_lossless_refuses_colour_and_names_the_file(mixed, tmp_path):
    out = tmp_path / "x.vaez"
    result = run("compress", mixed, out, "--lossless")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ")
    assert "e_colour.png has colour" in result.output and "--grayscale" in result.output
    assert len(result.output.splitlines()) == 1
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["src"]
    for option in (["--max-error", "3"], ["--max-error", "0"]):
        refused = run("compress", mixed, out, *option)
        assert refused.exit_code == 1 and "has colour" in refused.output
    with pytest.raises(ConversionError):
        vaecodec.compress([mixed], out, lossless=True)


def test_grayscale_accepts_the_conversion(mixed, tmp_path, digit):
    out = tmp_path / "x.vaez"
    result = run("compress", mixed, out, "--lossless", "--grayscale")
    assert result.exit_code == 0, result.output
    with vaecodec.open(out) as archive:
        for name in ("a_gray.png", "b_rgb_but_grey.png", "c_opaque_rgba.png",
                     "d_16bit_exact.png"):
            assert np.array_equal(archive[name], digit)  # exact where nothing was lost


def test_exact_files_of_grey_images_in_any_storage_need_no_flag(mixed, tmp_path, digit):
    for lossy in ("e_colour.png", "f_transparent.png"):
        (mixed / lossy).unlink()
    out = tmp_path / "x.vaez"
    result = run("compress", mixed, out, "--lossless")
    assert result.exit_code == 0, result.output
    assert "Warning" not in result.output
    with vaecodec.open(out) as archive:
        assert all(np.array_equal(image, digit) for image in archive)


def test_a_lossy_file_converts_and_says_how_many(mixed, tmp_path):
    out = tmp_path / "x.vaez"
    result = run("compress", mixed, out)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("Warning:")]
    assert warnings == [line for line in warnings if "2 images were converted to grayscale"
                        in line] and len(warnings) == 1
    assert len(vaecodec.open(out)) == 6
    with pytest.warns(VaezWarning, match="2 images were converted to grayscale"):
        vaecodec.compress([mixed], tmp_path / "y.vaez")


def test_appending_colour_to_a_lossless_archive_is_refused(mixed, tmp_path):
    grey = tmp_path / "grey"
    grey.mkdir()
    (mixed / "a_gray.png").rename(grey / "a_gray.png")
    out = tmp_path / "x.vaez"
    assert run("compress", grey, out, "--lossless").exit_code == 0
    before = out.read_bytes()
    result = run("compress", "--append", mixed, out)
    assert result.exit_code == 1 and "e_colour.png has colour" in result.output
    assert out.read_bytes() == before
