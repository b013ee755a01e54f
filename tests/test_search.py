"""encode(search=True) / compress --search: the latent symbols chosen by a rate-distortion
search (vaecodec.core.search) instead of rounding; decoding is unchanged."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec import codec
from vaecodec.cli import main
from vaecodec.core import coders, quantize, search
from vaecodec.errors import ArgumentTypeError, SettingsError
from vaecodec.eval import metrics
from vaecodec.format import container
from vaecodec.zoo import Zoo


def test_the_search_lowers_error_plus_bits_for_every_image(sample_images):
    zoo = Zoo.installed()
    level = zoo.level(14)
    vae = zoo.vae(zoo.level_model(level))
    images = sample_images[:40]
    unit = images.reshape(len(images), -1).astype(np.float32) / 255
    mean = vae.encode_mean(unit)
    rounded = quantize.quantize(mean, level.quant_step)
    chosen = search.search_symbols(vae, unit, mean, level.quant_step, level.prior)
    assert chosen.dtype == rounded.dtype and chosen.shape == rounded.shape
    # every symbol is one of the two neighbours of its mean
    assert np.all(np.abs(chosen * level.quant_step - mean) <= level.quant_step + 1e-6)

    def cost(symbols):
        error = vae.decode((symbols * level.quant_step).astype(np.float32)) - unit
        return (error**2).sum(1) + search.LAMBDA * search.symbol_bits(level.prior, symbols)

    assert np.all(cost(chosen) <= cost(rounded) + 1e-6)
    assert (cost(chosen) < cost(rounded)).mean() > 0.5
    # the bits the search prices are the range coder's (to within its few bytes)
    payload, _ = coders.CODERS["range"].encode(chosen, level.prior)
    assert abs(len(payload) - search.symbol_bits(level.prior, chosen).sum() / 8) < 8


def test_search_makes_better_files_that_decode_as_ever(sample_images):
    sample_images = sample_images[:60]
    plain = vaecodec.encode(sample_images, quality=14)
    searched = vaecodec.encode(sample_images, quality=14, search=True)
    assert vaecodec.read_info(searched).level == 14
    archive = container.unpack(searched)
    settings = codec.settings_for(archive.header)
    symbols = codec.decode_symbols(archive, settings)
    decoded = vaecodec.decode(searched)
    assert np.array_equal(decoded.reshape(len(decoded), -1),
                          settings.vae().decode_symbols(symbols, settings.quant_step))
    gain = metrics.psnr(sample_images, decoded) - metrics.psnr(sample_images,
                                                               vaecodec.decode(plain))
    assert gain > 0.5 and len(searched) < 1.2 * len(plain)
    # the same choice every time (on one machine), and with the zstd coder too
    assert vaecodec.encode(sample_images, quality=14, search=True) == searched
    zstd = vaecodec.encode(sample_images, quality=14, search=True, coder="zstd")
    assert np.array_equal(vaecodec.decode(zstd), decoded)


@pytest.mark.parametrize("kwargs, error, message", [
    ({"lossless": True}, SettingsError, "search is for lossy files"),
    ({"max_error": 4}, SettingsError, "search is for lossy files"),
    ({"quant_step": 0.2}, SettingsError, "search needs a quality level"),
    ({"search": 1}, ArgumentTypeError, "search must be True or False"),
])
def test_search_where_it_does_not_apply(sample_images, kwargs, error, message):
    with pytest.raises(error, match=message):
        vaecodec.encode(sample_images[:2], **{"search": True, **kwargs})


def test_archives_written_and_appended_with_search(tmp_path, sample_images):
    path = tmp_path / "a.vaez"
    with vaecodec.open(path, "w", quality=14, search=True, chunk_images=16) as out:
        out.write(sample_images[:32])
    with vaecodec.open(path, "a", search=True) as out:
        out.write(sample_images[32:48])
    with vaecodec.open(path) as archive:
        assert archive.info.level == 14 and len(archive) == 48
        plain = vaecodec.decode(vaecodec.encode(sample_images[:48], quality=14))
        assert (metrics.psnr(sample_images[:48], archive[:])
                > metrics.psnr(sample_images[:48], plain) + 0.5)
    lossless = tmp_path / "l.vaez"
    with vaecodec.open(lossless, "w", lossless=True) as out:
        out.write(sample_images[:2])
    with pytest.raises(SettingsError, match="search is for lossy files"):
        vaecodec.open(lossless, "a", search=True)


def test_compress_search_from_the_command_line(tmp_path, sample_dir):
    digits = tmp_path / "digits"
    shutil.copytree(sample_dir / "3", digits / "3")
    runner = CliRunner()
    for args in (["-q", "14"], ["-q", "14", "--search"]):
        out = tmp_path / f"{len(args)}.vaez"
        result = runner.invoke(main, ["compress", str(digits), str(out), "--quiet", *args])
        assert result.exit_code == 0, result.output
    plain, searched = (vaecodec.decode((tmp_path / f"{n}.vaez").read_bytes()) for n in (2, 3))
    assert not np.array_equal(plain, searched)
    result = runner.invoke(main, ["compress", str(digits), str(tmp_path / "x.vaez"),
                                  "--lossless", "--search"])
    assert result.exit_code != 0
    assert result.output.strip().splitlines()[-1].startswith("Error: search is for lossy")
    assert not (tmp_path / "x.vaez").exists()
