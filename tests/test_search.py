"""encode(search=True) / compress --search: the latent symbols chosen by a rate-distortion
search (vaecodec.core.search) instead of rounding; decoding is unchanged."""

from __future__ import annotations

import itertools
import shutil

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec.cli import main
from vaecodec.core import coders, quantize, search
from vaecodec.errors import ArgumentTypeError, SettingsError
from vaecodec.eval import metrics
from vaecodec.format import container
from vaecodec.pipeline.settings import settings_for
from vaecodec.stream.whole import decode_symbols
from vaecodec.zoo import Zoo


def level_inputs(number: int, images: np.ndarray):
    """Level ``number``, its model's numpy VAE, the images in [0, 1] (N, P) and their
    encoder means."""
    zoo = Zoo.installed()
    level = zoo.level(number)
    vae = zoo.vae(zoo.level_model(level))
    unit = images.reshape(len(images), -1).astype(np.float32) / 255
    return level, vae, unit, vae.encode_mean(unit)


def test_the_search_lowers_error_plus_bits_for_every_image(sample_images):
    level, vae, unit, mean = level_inputs(14, sample_images[:40])
    rounded = quantize.quantize(mean, level.quant_step)
    chosen = search.search_symbols(vae, unit, mean, level.quant_step, level.prior)
    assert chosen.dtype == rounded.dtype and chosen.shape == rounded.shape

    def cost(symbols):
        error = vae.decode((symbols * level.quant_step).astype(np.float32)) - unit
        return (error**2).sum(1) + search.LAMBDA * search.symbol_bits(level.prior, symbols)

    assert np.all(cost(chosen) <= cost(rounded) + 1e-6)
    assert (cost(chosen) < cost(rounded)).mean() > 0.5
    # the bits the search prices are the range coder's (to within its few bytes)
    payload, _ = coders.CODERS["range"].encode(chosen, level.prior)
    assert abs(len(payload) - search.symbol_bits(level.prior, chosen).sum() / 8) < 8


def test_the_error_gradient_is_the_derivative_of_the_squared_error():
    rng = np.random.default_rng(0)
    sizes = [5, 7, 6, 9]  # a ReLU MLP with a sigmoid out, as NumpyVAE's decoders
    layers = [(rng.normal(size=(a, b)), rng.normal(size=b)) for a, b in itertools.pairwise(sizes)]
    z, target = rng.normal(size=(3, 5)), rng.uniform(size=(3, 9))

    def error(latents):
        h = latents
        for i, (w, b) in enumerate(layers):
            h = h @ w + b
            if i < len(layers) - 1:
                h = np.maximum(h, 0)
        return ((1 / (1 + np.exp(-h)) - target) ** 2).sum(1)

    numeric = np.empty_like(z)
    for d in range(z.shape[1]):
        e = np.zeros_like(z)
        e[:, d] = 1e-6
        numeric[:, d] = (error(z + e) - error(z - e)) / 2e-6
    assert np.allclose(search._error_gradient(layers, z, target), numeric, rtol=1e-5,
                       atol=1e-8)


def test_the_relaxed_bits_rise_as_the_table_does():
    level = Zoo.installed().level(8)
    prior, step = level.prior, level.quant_step
    d = 3
    lo, size = prior.lo[d], len(prior.freqs[d]) - 1
    symbols = np.zeros((size - 1, len(prior.lo)), dtype=np.int64)
    symbols[:, d] = np.arange(lo, lo + size - 1)
    latents = ((symbols + 0.5) * step).astype(np.float32)  # half-way to the next symbol
    slope = search.relaxed_bits_slope(prior, latents, step)[:, d]
    up = symbols.copy()
    up[:, d] += 1
    rise = search.symbol_bits(prior, up) - search.symbol_bits(prior, symbols)
    assert np.allclose(slope * step, rise, atol=1e-4)
    outside = np.zeros((2, len(prior.lo)), dtype=np.float32)
    outside[:, d] = [(lo - 3) * step, (lo + size + 2) * step]
    assert list(search.relaxed_bits_slope(prior, outside, step)[:, d] * step) == [
        -search.ESCAPE_BITS, search.ESCAPE_BITS]  # back towards the table


def test_the_descent_finds_closer_images_at_fine_steps(sample_images):
    images = sample_images[:40]
    level, vae, unit, mean = level_inputs(8, images)
    step, prior = level.quant_step, level.prior

    def psnr(symbols):
        return metrics.psnr(images, vae.decode_symbols(symbols, step).reshape(images.shape))

    sweeps_only = search.search_symbols(vae, unit, mean, step, prior, descent_steps=0)
    chosen = search.search_symbols(vae, unit, mean, step, prior)
    assert psnr(chosen) > psnr(sweeps_only) + 0.3 > psnr(quantize.quantize(mean, step)) + 0.6
    assert (search.symbol_bits(prior, chosen).mean()
            < search.symbol_bits(prior, sweeps_only).mean() + 8)
    # an image's latent moves by its own gradient, whatever else is searched with it
    together = search.descend(vae, unit, mean, step, prior)
    alone = search.descend(vae, unit[5:6], mean[5:6], step, prior)
    assert np.abs(together[5] - mean[5]).max() > 2 * step
    assert np.allclose(alone[0], together[5], atol=1e-4)


def test_search_makes_better_files_that_decode_as_ever(sample_images):
    sample_images = sample_images[:60]
    plain = vaecodec.encode(sample_images, quality=14)
    searched = vaecodec.encode(sample_images, quality=14, search=True)
    assert vaecodec.read_info(searched).level == 14
    archive = container.unpack(searched)
    settings = settings_for(archive.header)
    symbols = decode_symbols(archive, settings)
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
