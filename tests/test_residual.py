"""Lossless and max-error files: exactness, bounds, the integer arithmetic, the format."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import msgpack
import numpy as np
import pytest

import vaecodec
from vaecodec.core import coders, intnet, residual
from vaecodec.errors import (
    CorruptHeaderError,
    HeaderTooLargeError,
    UnknownModelError,
    UnsupportedVersionError,
)
from vaecodec.format import container, wire
from vaecodec.zoo import DEFAULT_PIXEL_MODEL, PIXEL_MODEL, Zoo


def pixel_model():
    zoo = Zoo.installed()
    return zoo.pixel_model(zoo.find(None, PIXEL_MODEL))


@pytest.fixture(scope="module")
def lossless_file(sample_images) -> bytes:
    return vaecodec.encode(sample_images, lossless=True)


def test_lossless_restores_every_sample_image_exactly(sample_images, lossless_file):
    out = vaecodec.decode(lossless_file)
    assert out.dtype == np.uint8 and out.shape == sample_images.shape
    assert np.array_equal(out, sample_images)
    # the sample's PNG files take ~274 bytes/image; the residual layer must beat them
    assert len(lossless_file) / len(sample_images) < 160


# 2 and 8 in the long set: 1, 4 and 32 cover the smallest, a middle and the largest bin
@pytest.mark.parametrize("max_error", [1, pytest.param(2, marks=pytest.mark.slow), 4,
                                       pytest.param(8, marks=pytest.mark.slow), 32])
def test_max_error_bounds_every_pixel(sample_images, lossless_file, max_error):
    data = vaecodec.encode(sample_images, max_error=max_error)
    out = vaecodec.decode(data)
    error = np.abs(out.astype(int) - sample_images.astype(int))
    assert error.max() <= max_error
    assert 0 < len(data) < len(lossless_file)
    assert vaecodec.read_info(data).residual.max_error == max_error


def test_max_error_zero_is_lossless(sample_images, lossless_file):
    assert vaecodec.encode(sample_images, max_error=0) == lossless_file


def test_lossless_single_image_and_float_input(sample_images):
    image = sample_images[7]
    assert np.array_equal(vaecodec.decode(vaecodec.encode(image, lossless=True))[0], image)
    floats = sample_images[:5].astype(np.float32) / 255  # rounded back to the same uint8
    assert np.array_equal(vaecodec.decode(vaecodec.encode(floats, lossless=True)),
                          sample_images[:5])


def test_extreme_images_round_trip():
    rng = np.random.default_rng(1)
    images = np.stack([np.zeros((28, 28)), np.full((28, 28), 255), np.full((28, 28), 128),
                       rng.integers(0, 256, (28, 28))]).astype(np.uint8)
    for kwargs in ({"lossless": True}, {"max_error": 3}):
        out = vaecodec.decode(vaecodec.encode(images, **kwargs))
        assert np.abs(out.astype(int) - images).max() <= kwargs.get("max_error", 0)


def test_header_records_the_residual_layer(lossless_file):
    header = vaecodec.read_info(lossless_file)
    assert header.version == 3 and header.level == 10  # pixel-l10's base level
    layer = header.residual
    assert layer.max_error == 0 and layer.layout == 1
    assert Zoo.installed().find(layer.model_id, PIXEL_MODEL).name == DEFAULT_PIXEL_MODEL
    info = header.to_dict()["residual"]
    assert info["max_error"] == 0 and sum(info["chunk_sizes"]) == layer.size
    # lossy files are still written as version 2, which older readers understand
    assert vaecodec.read_info(vaecodec.encode(np.zeros((1, 28, 28), np.uint8))).version == 2


@pytest.mark.slow
def test_chunks_cover_more_than_one_block(sample_images):
    """More images than one residual chunk holds: the sample digits at the start, at the
    chunk boundary and in the last chunk, black images between (cheap to code)."""
    chunk = container.RESIDUAL_CHUNK
    images = np.zeros((2 * chunk + 7, 28, 28), np.uint8)
    for start in (0, chunk - 3, 2 * chunk):
        images[start : start + 7] = sample_images[start % 100 : start % 100 + 7]
    data = vaecodec.encode(images, lossless=True)
    assert len(vaecodec.read_info(data).residual.chunk_sizes) == 3
    assert np.array_equal(vaecodec.decode(data), images)


@pytest.mark.parametrize("kwargs, message", [
    ({"lossless": True, "quant_step": 0.2}, "not a quantization step"),
    ({"lossless": True, "quality": 4}, "use quality level 10"),
    ({"max_error": 33}, "max_error must be 0..32"),
    ({"max_error": -1}, "max_error must be 0..32"),
    ({"lossless": True, "max_error": 2}, "lossless means max_error 0"),
])
def test_bad_residual_settings(sample_images, kwargs, message):
    with pytest.raises(vaecodec.SettingsError, match=message):
        vaecodec.encode(sample_images[:2], **kwargs)


@pytest.mark.parametrize("kwargs", [{"max_error": 2.0}, {"max_error": True}, {"lossless": 1}])
def test_residual_settings_types(sample_images, kwargs):
    with pytest.raises(vaecodec.ArgumentTypeError):
        vaecodec.encode(sample_images[:2], **kwargs)


def test_quantization_levels_keep_black_and_white_exact():
    for k in range(33):
        for both_ends in (False, True):
            levels, nearest = residual.quantization_levels(k, both_ends)
            assert levels[0] == 0 and levels[-1] == 255
            assert np.abs(levels[nearest].astype(int) - np.arange(256)).max() <= k
            gaps = np.diff(levels.astype(int))
            assert np.all(gaps > 0) and np.all(gaps <= 2 * k + 1)
            assert len(levels) == -(-255 // (2 * k + 1)) + 1  # as few as the bound allows
            narrow = np.flatnonzero(gaps != 2 * k + 1)
            assert len(narrow) <= 1  # one gap narrower, if 2K+1 does not divide 255
            if both_ends and len(narrow):  # in the middle
                middle = int(levels[narrow[0]]) + int(levels[narrow[0] + 1])
                assert abs(middle - 255) <= 2 * (2 * k + 1)
            elif len(narrow):  # the last one
                assert narrow[0] == len(gaps) - 1
    # layout 1's levels for K = 4: 0, 9, ..., 252, 255; near-white 252..255 are split
    levels, nearest = residual.quantization_levels(4, False)
    assert list(levels[-3:]) == [243, 252, 255] and nearest[253] != nearest[254]
    # layout 2's: ..., 237, 246, 255, so 251..255 share the white level
    levels, nearest = residual.quantization_levels(4, True)
    assert list(levels[-3:]) == [237, 246, 255] and len(set(nearest[251:])) == 1


@pytest.mark.parametrize("max_error, layout", [(0, 1), (1, 1), (2, 1), (8, 1), (3, 2), (4, 2),
                                               (16, 2), (32, 2)])
def test_new_files_take_the_oldest_layout_that_codes_them_alike(sample_images, max_error,
                                                                  layout):
    """Layout 2 where its levels differ from layout 1's (2K+1 does not divide 255), layout 1
    otherwise, so that readers before layout 2 read those files."""
    images = sample_images[:6]
    data = vaecodec.encode(images, max_error=max_error)
    assert vaecodec.read_info(data).residual.layout == layout
    out = vaecodec.decode(data)
    assert np.abs(out.astype(int) - images).max() <= max_error


def test_layout_2_codes_near_white_ink_in_fewer_bytes(sample_images, monkeypatch):
    """--max-error 4 with layout 2's levels against layout 1's: smaller, and layout 1 files
    (written by vaecodec before it) still decode within the bound."""
    new = vaecodec.encode(sample_images, max_error=4)
    monkeypatch.setattr(coders, "residual_coder", lambda *_: coders.RESIDUAL_CODERS[1])
    old = vaecodec.encode(sample_images, max_error=4)
    assert vaecodec.read_info(old).residual.layout == 1
    assert len(new) < 0.98 * len(old)
    for data in (old, new):
        assert np.abs(vaecodec.decode(data).astype(int) - sample_images).max() <= 4


def test_an_append_keeps_the_archives_residual_layout(tmp_path, sample_images, monkeypatch):
    """Images appended to an archive written with layout 1 are coded with layout 1, which
    its header names for every chunk."""
    path = tmp_path / "old.vaez"
    with monkeypatch.context() as m:
        m.setattr(coders, "residual_coder", lambda *_: coders.RESIDUAL_CODERS[1])
        with vaecodec.open(path, "w", max_error=4, chunk_images=16) as out:
            out.write(sample_images[:40])
    with vaecodec.open(path, "a") as out:
        out.write(sample_images[40:])
    with vaecodec.open(path) as archive:
        assert archive.info.residual.layout == 1 and len(archive) == len(sample_images)
        assert np.abs(archive[:].astype(int) - sample_images).max() <= 4
    expected = vaecodec.decode(vaecodec.encode(sample_images[40:56], max_error=4))
    assert not np.array_equal(vaecodec.open(path)[40:56], expected)  # not layout 2's levels


# --- exact integer arithmetic -----------------------------------------------------------------


def reference_forward(net: intnet.IntMLP, x: np.ndarray) -> np.ndarray:
    """The same network in pure int64 arithmetic with arithmetic shifts."""
    x = x.astype(np.int64)
    for i, (w, b, scale, _) in enumerate(net.layers):
        acc = x @ w.astype(np.int64) + b.astype(np.int64)
        if scale is None:
            return acc
        shift = -np.log2(scale.astype(np.float64)).astype(np.int64)
        shifted = np.where(shift >= 0, acc >> np.maximum(shift, 0), acc << np.maximum(-shift, 0))
        x = np.clip(shifted, 0, intnet.ACTIVATION_MAX)


def test_integer_networks_match_int64_reference():
    model = pixel_model()
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (1000, model.net.in_size))
    assert np.array_equal(model.net.forward(x), reference_forward(model.net, x))
    z = rng.integers(-residual.SYMBOL_LIMIT, residual.SYMBOL_LIMIT + 1, (200, 20))
    assert np.array_equal(model.base.forward(z), reference_forward(model.base, z))


def test_integer_base_decoder_is_close_to_the_float_decoder(sample_images):
    from vaecodec.core import quantize
    from vaecodec.eval import metrics

    zoo = Zoo.installed()
    model = pixel_model()
    level = zoo.level(model.base_level)
    vae = zoo.vae(zoo.level_model(level))
    symbols = quantize.quantize(vae.encode_mean(sample_images.reshape(200, -1) / 255.0),
                                level.quant_step)
    exact = model.base_pixels(symbols).reshape(sample_images.shape)
    floating = vae.decode_pixels(quantize.dequantize(symbols, level.quant_step))
    # 8-bit activations cost a little: measured on 2,000 test images 19.76 vs 19.80 dB
    # (pixel-l10, level 10), 18.04 vs 18.09 dB (pixel-l1-v3, level 1)
    assert metrics.psnr(sample_images, exact) > metrics.psnr(
        sample_images, floating.reshape(sample_images.shape)) - 0.3


def test_probabilities_are_positive_integers():
    model = pixel_model()
    hidden = model.net.hidden(np.random.default_rng(2).integers(0, 256, (100, model.net.in_size)))
    for probs in (model.hi_probs(hidden), model.lo_probs(hidden, np.arange(100) % 16),
                  model.value_probs(hidden)):
        assert np.array_equal(probs, np.floor(probs)) and probs.min() >= 1
        assert probs.sum(axis=1).max() < 2**53  # exact as float64 for the coder


def test_integer_network_refuses_what_it_cannot_compute_exactly():
    weight = np.full((4, 2), 127, np.int8)
    output = intnet.IntLayer(weight, np.zeros(2, np.int64), None)
    assert intnet.IntMLP([output], 255).output_bound == 4 * 255 * 127
    with pytest.raises(ValueError, match="overflow"):
        intnet.IntMLP([output], 2**50)  # sums could pass 2**53
    hidden = intnet.IntLayer(weight, np.zeros(2, np.int64), None)
    with pytest.raises(ValueError, match="shift"):
        intnet.IntMLP([hidden, intnet.IntLayer(weight[:2], np.zeros(2, np.int64), None)], 255)


# --- the format ---------------------------------------------------------------------------------


def build_v3(residual_field, count=1, payload=b"", rest=b"", level=1) -> bytes:
    model = Zoo.installed().find("vae-default").model_id[:4]
    fields = [model, 20, level, 0, count, len(payload), None, residual_field]
    header = msgpack.packb(fields, use_bin_type=True)
    body = b"VAEZ\x03" + wire.leb128(len(header)) + header + payload + rest
    return body + struct.pack("<I", zlib.crc32(body))


def pixel_id() -> bytes:
    return Zoo.installed().find(None, PIXEL_MODEL).model_id[:4]


def test_newer_residual_layout_is_reported_clearly():
    with pytest.raises(UnsupportedVersionError,
                       match="layout 6.*reads layout 1, 2, 3, 4, 5.*upgrade"):
        vaecodec.decode(build_v3([6, pixel_id(), 0, [0]]))


def test_a_layout_that_does_not_match_the_pixel_model_is_refused():
    """Layout 3 codes differences from a prediction: the shipped pixel model codes values,
    so a file that claims layout 3 with it is damaged (not decoded as garbage)."""
    with pytest.raises(CorruptHeaderError, match="layout 3 does not match pixel model"):
        vaecodec.decode(build_v3([3, pixel_id(), 0, [0]]))
    for layout in (4, 5):
        with pytest.raises(CorruptHeaderError, match=f"layout {layout} does not match pixel"):
            vaecodec.decode(build_v3([layout, pixel_id(), 0, [0]]))


@pytest.mark.parametrize("field, error, message", [
    (None, CorruptHeaderError, "must start with a layout"),
    ([1, pixel_id(), 0], CorruptHeaderError, "4 entries"),
    ([1, b"abc", 0, [0]], CorruptHeaderError, "4 bytes"),
    ([1, pixel_id(), 33, [0]], CorruptHeaderError, "max_error"),
    ([1, pixel_id(), 0, [0, 0]], CorruptHeaderError, "1 multiples of 4"),
    ([1, pixel_id(), 0, [3]], CorruptHeaderError, "multiples of 4"),
    ([1, pixel_id(), 0, [-4]], CorruptHeaderError, "multiples of 4"),
])
def test_bad_residual_fields(field, error, message):
    with pytest.raises(error, match=message):
        vaecodec.decode(build_v3(field))


def test_residual_needs_a_level_and_bounded_count():
    with pytest.raises(CorruptHeaderError, match="quality level"):
        vaecodec.decode(build_v3([1, pixel_id(), 0, [0]], level=0.5))
    count = container.MAX_RESIDUAL_COUNT + 1
    sizes = [0] * -(-count // container.RESIDUAL_CHUNK)
    with pytest.raises(HeaderTooLargeError, match="cap"):
        vaecodec.decode(build_v3([1, pixel_id(), 0, sizes], count=count))


def test_unknown_pixel_model_is_named():
    with pytest.raises(UnknownModelError, match="unknown pixel model id 00000000"):
        vaecodec.decode(build_v3([1, bytes(4), 0, [0]]))


def test_residual_chunk_sizes_must_account_for_the_file(lossless_file):
    """A file four bytes short of what its chunk sizes add up to is truncated, four bytes
    more is trailing data, whatever the checksum says."""
    import struct
    import zlib

    def with_crc(body: bytes) -> bytes:
        return body + struct.pack("<I", zlib.crc32(body))

    body = lossless_file[:-4]
    with pytest.raises(vaecodec.TruncatedError):
        vaecodec.decode(with_crc(body[:-4]))
    with pytest.raises(vaecodec.TrailingBytesError):
        vaecodec.decode(with_crc(body + b"\0\0\0\0"))


@pytest.mark.slow
def test_training_a_pixel_model_gives_a_usable_integer_model(sample_images):
    """A few steps on the sample digits: the exported tensors load, round-trip exactly, and
    the reported code length is what the range coder spends (to within its overhead)."""
    pytest.importorskip("torch")
    from vaecodec.train import pixel as residual_training

    zoo = Zoo.installed()
    tensors, meta = residual_training.train_pixel_model(
        sample_images[:150], epochs=2, batch_size=1024, log=lambda *a: None)
    model = residual.PixelModel.from_tensors("probe", b"", meta, tensors, (28, 28))
    images = sample_images[150:]
    base = model.base_pixels(residual_training.base_symbols(zoo.level(1), images, zoo))
    data = residual.encode(model, images.reshape(len(images), -1), base, 0)
    assert np.array_equal(residual.decode(model, data, base, 0).reshape(images.shape), images)
    ideal = residual_training.bits_per_image(model, images, base) * len(images) / 8
    assert ideal <= len(data) <= ideal * 1.01 + 8


def check_split_layer_and_coding(model, images, base, latent, max_errors, picks: int,
                                 seed: int = 0) -> None:
    """For a pixel model that sees extra inputs: the codec's split first layer (extra
    inputs summed once per position and per image) equals the network on whole feature
    rows (``picks`` rows drawn), and files of each of ``max_errors`` round-trip within
    the bound at the ideal code length (to within the coder's overhead)."""
    from vaecodec.train import pixel as residual_training

    flat = images.reshape(len(images), -1)
    rows = residual.features(flat, base, model.geometry, model.extras, latent)
    pick = np.random.default_rng(seed).integers(0, rows.shape[0] * rows.shape[1], picks)
    img, pos = np.divmod(pick, rows.shape[1])
    whole = model.net.hidden(rows[img, pos])
    split = model.hidden(rows[img, pos, : model.local_width], pos, img,
                         model.extra_sums(latent))
    assert np.array_equal(whole, split)
    for max_error in max_errors:
        data = residual.encode(model, flat, base, max_error, latent=latent)
        out = residual.decode(model, data, base, max_error, latent=latent)
        assert np.abs(out.astype(int) - flat).max() <= max_error
        ideal = residual_training.pixel_bits(model, images, base, max_error, latent).sum() / 8
        assert ideal <= len(data) <= ideal * 1.01 + 8


@pytest.mark.slow  # trains two pixel models (about 6 s)
def test_a_pixel_model_that_sees_position_and_latent(sample_images):
    """A model with the extra inputs (the pixel's position, the base layer's symbols):
    the codec's split first layer (extra inputs summed once per position and per image)
    gives exactly the network's activations on whole feature rows; files round-trip
    exactly, lossless and max-error, and cost what the ideal code length says; the model
    needs the symbols, and a model whose metadata names unknown inputs is refused."""
    pytest.importorskip("torch")
    from vaecodec.train import pixel as residual_training

    zoo = Zoo.installed()
    tensors, meta = residual_training.train_pixel_model(
        sample_images[:150], epochs=2, batch_size=1024, extras=("latent", "position"),
        qat_epochs=0.5, log=lambda *a: None)
    assert meta["architecture"]["extras"] == ["position", "latent"]
    assert meta["architecture"]["features"] == residual.FEATURES + 2 + 20
    model = residual.PixelModel.from_tensors("probe", b"", meta, tensors, (28, 28))
    images = sample_images[150:]
    flat = images.reshape(len(images), -1)
    latent = residual_training.base_symbols(zoo.level(1), images, zoo)
    base = model.base_pixels(latent)
    check_split_layer_and_coding(model, images, base, latent, (0, 4), picks=3000)
    with pytest.raises(ValueError, match="symbols"):
        residual.encode(model, flat, base, 0)
    for bad in (["latent", "position"], ["colour"], "position", [1]):
        broken = {**meta, "architecture": {**meta["architecture"], "extras": bad}}
        with pytest.raises(ValueError, match="extra inputs"):
            residual.PixelModel.from_tensors("probe", b"", broken, tensors, (28, 28))
    without = {**meta, "architecture": {**meta["architecture"], "extras": ["position"]}}
    with pytest.raises(ValueError, match="inconsistent"):
        residual.PixelModel.from_tensors("probe", b"", without, tensors, (28, 28))


def test_the_level_loss_is_the_probability_of_each_pixels_level():
    """``--level-loss`` (a probe option): the heads' value distribution summed over the
    pixel's level of K, which for K = 0 is the lossless likelihood."""
    torch = pytest.importorskip("torch")
    from vaecodec.train import pixel as residual_training

    out, target = torch.randn(50, 272, generator=torch.Generator().manual_seed(0)), \
        torch.arange(0, 250, 5)
    for k in (0, 4):
        _, nearest = residual.quantization_levels(k)
        member = torch.from_numpy(nearest[:, None] == nearest[None, :])
        got = float(residual_training._level_nll(torch, out, target, member))
        values = (torch.log_softmax(out[:, :16], 1)[:, :, None]
                  + torch.log_softmax(out[:, 16:].view(-1, 16, 16), 2)).exp().reshape(50, 256)
        expected = -sum(float(np.log(values[i].numpy()[nearest == nearest[int(v)]].sum()))
                        for i, v in enumerate(target))
        assert got == pytest.approx(expected, rel=1e-5)
        if k == 0:
            lossless = float(residual_training._factorized_nll(torch, out, target))
            assert got == pytest.approx(lossless, rel=1e-6)
    with pytest.raises(ValueError, match="level_loss needs a context_max_error"):
        residual_training.train_pixel_model(np.zeros((2, 28, 28), np.uint8), level_loss=True)


def test_quantization_aware_training_simulates_the_integer_network():
    """The rounding that quantization-aware training trains through is the conversion's:
    with the activation steps fixed, the integer network's logits are the simulated ones
    (to within the biases' rounding), while a plain float forward is far off on a network
    with one large weight per unit, as long training makes them."""
    torch = pytest.importorskip("torch")
    from vaecodec.train import pixel as residual_training

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(residual.FEATURES, 24), torch.nn.ReLU(),
                              torch.nn.Linear(24, 24), torch.nn.ReLU(), torch.nn.Linear(24, 272))
    with torch.no_grad():  # a few units that watch one neighbour closely
        net[0].weight[:6, 9] = 40.0
        net[0].bias[:6] = -torch.linspace(2, 30, 6)
    rng = np.random.default_rng(0)
    rows = rng.integers(0, 256, (4000, residual.FEATURES)).astype(np.uint8)
    x = torch.from_numpy(rows).float() / 255
    scales = residual_training._activation_scales(torch, net, x)
    layers = [(m.weight.detach().double().numpy().T, m.bias.detach().double().numpy())
              for m in net if isinstance(m, torch.nn.Linear)]
    int_net, unit = residual_training.integer_mlp(layers, 1 / 255, rows / 255.0, 255,
                                                  scales=scales)
    integer = int_net.forward(rows) * unit
    with torch.no_grad():
        simulated = residual_training._fake_integer_forward(torch, net, x, scales).numpy()
        plain = net(x).numpy()
    # a rounding that lands on the other side of a step now and then: compare means
    sim_err, plain_err = np.abs(simulated - integer).mean(), np.abs(plain - integer).mean()
    assert sim_err < 0.1 * plain_err


def _reference_level_probs(model, hidden: np.ndarray, max_error: int, both_ends: bool
                           ) -> np.ndarray:
    """The levels' integer probabilities as vaecodec 2.0 computed them (the oracle): each
    value's P(hi) * P(lo | hi), with the lookup index floor((max - logit) / 2**shift),
    P(lo | hi) renormalised by integer division, summed over each level's values."""
    logits = model.net.output(hidden).astype(np.float64)

    def table(x):
        diff = np.floor((x.max(axis=-1, keepdims=True) - x) * 2.0**-model.head_shift)
        return model.lut[np.minimum(diff, residual.LUT_SIZE - 1).astype(np.int64)]

    hi = table(logits[:, :16])
    lo = table(logits[:, 16:].reshape(-1, 16, 16))
    lo = np.maximum(1, (lo << residual.PROB_BITS) // lo.sum(axis=-1, keepdims=True))
    values = (hi[:, :, None] * lo).reshape(len(hidden), 256)
    _, nearest = residual.quantization_levels(max_error, both_ends)
    out = np.zeros((len(hidden), nearest.max() + 1), dtype=np.int64)
    for v in range(256):
        out[:, nearest[v]] += values[:, v]
    return out


@pytest.mark.parametrize("head_shift", [None, 0, -3])
def test_level_probabilities_are_those_of_the_released_computation(sample_images, head_shift):
    """The error-bounded modes' cheaper computation gives the very integers the released
    one did, for every bound: on real pixels' activations, on extreme ones, in blocks,
    and for other lookup scales (a model of one's own may have any)."""
    import dataclasses

    zoo = Zoo.installed()
    model = zoo.pixel_model(zoo.find(None, PIXEL_MODEL))
    if head_shift is not None:
        model = dataclasses.replace(model, head_shift=head_shift)
    pixels = sample_images.reshape(len(sample_images), -1)
    latent = np.zeros((len(pixels), model.base.in_size), dtype=np.int64)
    feats = residual.features(pixels, pixels, model.geometry, model.extras, latent)
    feats = feats.reshape(-1, model.net.in_size)
    rng = np.random.default_rng(0)
    width = model.net.layers[-1][0].shape[0]  # the last hidden layer's
    hidden = np.concatenate([
        model.net.hidden(feats[rng.choice(len(feats), 700, replace=False)]),
        np.zeros((3, width)),
        np.full((3, width), 255.0),
        rng.integers(0, 256, (300, width)).astype(np.float64),
    ]).astype(np.float32)
    for max_error in range(1, container.MAX_RESIDUAL_ERROR + 1):
        for both_ends in (False, True):  # the levels of layouts 1 and 2
            expected = _reference_level_probs(model, hidden, max_error, both_ends)
            got = model.bin_probs(hidden, max_error, both_ends)
            assert got.dtype == np.float64
            assert np.array_equal(got, expected.astype(np.float64)), max_error
            assert np.array_equal(got, expected)  # and every one an exact integer


@pytest.mark.slow  # trains a pixel model (about 4 s)
def test_a_grayscale_predictive_pixel_model_codes_exact_and_bounded_files(sample_images):
    """Layout 3 for one plane, as `vaecodec train` now chooses for grayscale photographs:
    the model codes differences from the MED, files round-trip within each bound at the
    ideal code length, and a family with it writes layout 3 files that decode exactly."""
    pytest.importorskip("torch")
    from vaecodec.train import pixel as residual_training
    from vaecodec.zoo import ModelInfo
    from vaecodec.zoo.families import Family

    zoo = Zoo.installed()
    tensors, meta = residual_training.train_pixel_model(
        sample_images[:150], epochs=2, batch_size=1024, predictor="med", log=lambda *a: None)
    assert meta["architecture"]["predictor"] == "med"
    model = residual.PixelModel.from_tensors("probe", b"", meta, tensors, (28, 28))
    images = sample_images[150:]
    latent = residual_training.base_symbols(zoo.level(1), images, zoo)
    check_split_layer_and_coding(model, images, model.base_pixels(latent), latent, (0, 2, 4),
                                 picks=2000)
    vae = zoo.find(zoo.level(1).model)
    pixel = ModelInfo.in_memory("g.pixel", tensors, meta)
    family = Zoo().with_family(Family("g", vae.name, pixel.name, 1), [vae, pixel],
                               [zoo.level(1)])
    for bound, options in ((0, {"lossless": True}), (3, {"max_error": 3})):
        data = vaecodec.encode(images, model="g", zoo=family, **options)
        assert vaecodec.read_info(data, zoo=family).residual.layout == 3
        out = vaecodec.decode(data, zoo=family)
        assert np.abs(out.astype(int) - images).max() <= bound


def test_a_grayscale_family_models_values_or_differences_as_its_images_need(sample_images):
    """Digits, mostly black and white, are cheaper as values than as differences from
    the MED: a model of the values; clothes a little dearer (not enough to pay, as
    measured): the values too; photographs far dearer: the predictive model."""
    from PIL import Image

    from vaecodec.train.pixel import PREDICTIVE_SHARE, VALUES, choose_predictor

    rng = np.random.default_rng(4)
    name, figures = choose_predictor(sample_images, values=True)
    assert name == VALUES and set(figures) == {VALUES, "med"}
    clothes = np.stack([np.asarray(Image.open(p)) for p in sorted(
        (Path(__file__).resolve().parent.parent / "samples" / "fashion").rglob("*.png"))])
    name, figures = choose_predictor(clothes, values=True)
    assert figures["med"] < figures[VALUES] < figures["med"] / PREDICTIVE_SHARE
    assert name == VALUES
    ramp = np.linspace(0, 180, 28)[None, :, None] + np.linspace(0, 60, 28)[None, None, :]
    photos = np.clip(ramp + rng.normal(0, 3, (40, 28, 28)), 0, 255).astype(np.uint8)
    name, figures = choose_predictor(photos, values=True)
    assert name == "med" and figures["med"] < figures[VALUES] - 1
    assert VALUES not in choose_predictor(photos)[1]  # colour families: predictors only
