"""Arrays as sources (vaecodec.arrays): .npy and IDX files compressed as train takes them,
stored as STEM/00000.png..., exact where exact is asked, refused clearly otherwise."""

from __future__ import annotations

import struct

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec.cli import main


def idx_file(path, images: np.ndarray):
    n, h, w = images.shape
    path.write_bytes(b"\x00\x00\x08\x03" + struct.pack(">III", n, h, w) + images.tobytes())
    return path


def test_npy_and_idx_files_compress_exactly_under_their_names(tmp_path, sample_images):
    np.save(tmp_path / "digits.npy", sample_images[:120])
    idx = idx_file(tmp_path / "t10k-images-idx3-ubyte", sample_images[120:])
    result = vaecodec.compress([tmp_path / "digits.npy", idx], tmp_path / "a.vaez",
                               lossless=True)
    assert result.count == 200
    with vaecodec.open(tmp_path / "a.vaez") as archive:
        assert np.array_equal(archive[:], sample_images)
        assert archive.names[0] == "digits/00000.png"
        assert archive.names[-1] == "t10k-images-idx3-ubyte/00079.png"
    # the command line, and decompress writing the array as a folder of PNGs
    out = CliRunner().invoke(main, ["compress", str(tmp_path / "digits.npy"),
                                    str(tmp_path / "b.vaez"), "--quiet"])
    assert out.exit_code == 0, out.output
    back = CliRunner().invoke(main, ["decompress", str(tmp_path / "b.vaez"), "-o",
                                     str(tmp_path / "png"), "--quiet"])
    assert back.exit_code == 0 and len(list((tmp_path / "png" / "digits").glob("*.png"))) == 120


def test_float_arrays_are_exact_on_the_8_bit_grid_and_rounded_only_when_lossy(
        tmp_path, sample_images):
    on_grid = sample_images[:20].astype(np.float32) / 255
    np.save(tmp_path / "grid.npy", on_grid)
    vaecodec.compress([tmp_path / "grid.npy"], tmp_path / "g.vaez", lossless=True)
    assert np.array_equal(vaecodec.decode((tmp_path / "g.vaez").read_bytes()),
                          sample_images[:20])
    np.save(tmp_path / "off.npy", on_grid * 0.999)
    with pytest.raises(vaecodec.ConversionError, match="multiples of 1/255"):
        vaecodec.compress([tmp_path / "off.npy"], tmp_path / "o.vaez", max_error=2)
    assert not (tmp_path / "o.vaez").exists()
    with pytest.warns(vaecodec.VaezWarning, match="20 images' float values were rounded"):
        vaecodec.compress([tmp_path / "off.npy"], tmp_path / "o.vaez")


def test_an_array_of_another_size_is_refused_or_resized(tmp_path):
    np.save(tmp_path / "big.npy", np.zeros((3, 32, 40), np.uint8))
    with pytest.raises(vaecodec.ImageSizeError, match="big.npy holds 40x32 images; the "
                       "model needs 28x28"):
        vaecodec.compress([tmp_path / "big.npy"], tmp_path / "a.vaez")
    assert vaecodec.compress([tmp_path / "big.npy"], tmp_path / "a.vaez",
                             resize=True).count == 3


@pytest.mark.parametrize("case", ["pickle", "int64", "4d", "truncated", "idx size", "mixed",
                                  "same stem"])
def test_a_bad_array_is_one_error_line_and_writes_nothing(tmp_path, case):
    good = tmp_path / "good.npy"
    np.save(good, np.zeros((2, 28, 28), np.uint8))
    sources = [tmp_path / "x.npy"]
    if case == "pickle":
        np.save(sources[0], np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "int64":
        np.save(sources[0], np.zeros((2, 28, 28), np.int64))
    elif case == "4d":
        np.save(sources[0], np.zeros((2, 28, 28, 5), np.uint8))  # no image has 5 channels
    elif case == "truncated":
        sources[0].write_bytes(good.read_bytes()[:-100])
    elif case == "idx size":
        sources = [idx_file(tmp_path / "x-idx3", np.zeros((3, 28, 28), np.uint8))]
        sources[0].write_bytes(sources[0].read_bytes()[:-1])
    elif case == "mixed":
        (tmp_path / "pngs").mkdir()
        sources = [good, tmp_path / "pngs"]
    elif case == "same stem":
        (tmp_path / "sub").mkdir()
        np.save(tmp_path / "sub" / "good.npy", np.zeros((2, 28, 28), np.uint8))
        sources = [good, tmp_path / "sub" / "good.npy"]
    out = tmp_path / "out.vaez"
    result = CliRunner().invoke(main, ["compress", *map(str, sources), str(out)])
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert not out.exists()
