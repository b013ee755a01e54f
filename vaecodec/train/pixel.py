"""Fitting the residual layer's pixel model (needs torch: the ``train`` extra).

The float network is trained with torch on the training split, then converted to the
integer network of ``vaecodec.core.intnet`` (post-training quantization, activation
ranges calibrated on training pixels). The integer VAE decoder that makes the base images
is built the same way from the base level's float weights.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import time
from pathlib import Path

import numpy as np

from ..core import intnet, pixels, quantize, residual
from ..zoo import Level, ModelInfo, Zoo
from ..zoo.models import write_model


def _calibrated_scale(values: np.ndarray) -> float:
    """Real value of one activation step: the 99.99th percentile of ``values`` / 255."""
    top = float(np.quantile(values, 0.9999)) if values.size else 1.0
    return max(top, 1e-6) / intnet.ACTIVATION_MAX


def integer_mlp(layers: list[tuple[np.ndarray, np.ndarray]], in_scale: float,
                calibration: np.ndarray, input_bound: int, scales: list[float] | None = None
                ) -> tuple[intnet.IntMLP, float]:
    """Quantize float layers [(W (in, out), b)] with ReLU between them, given calibration
    inputs (real values). Returns the integer network and the real value of one unit of
    its output sums. ``scales``: the hidden layers' activation steps, when fixed beforehand
    (quantization-aware training), instead of calibrated here."""
    int_layers, x, scale = [], np.asarray(calibration, dtype=np.float64), in_scale
    for i, (w, b) in enumerate(layers):
        last = i == len(layers) - 1
        real = x @ w + b
        if last:
            out_scale = None
        elif scales is not None:
            out_scale = scales[i]
        else:
            out_scale = _calibrated_scale(np.maximum(real, 0))
        int_layers.append(intnet.quantize_layer(w, b, scale, out_scale))
        if not last:
            x, scale = np.clip(np.maximum(real, 0), 0, out_scale * 255), out_scale
    net = intnet.IntMLP(int_layers, input_bound)
    peak = np.abs(np.asarray(layers[-1][0], dtype=np.float64)).max()
    return net, scale * peak / intnet.WEIGHT_MAX


def integer_base_decoder(level: Level, calibration_symbols: np.ndarray, zoo: Zoo):
    """(IntMLP, thresholds) reproducing the level's VAE decoder on integer symbols."""
    vae = zoo.vae(zoo.level_model(level))
    symbols = np.clip(calibration_symbols, -residual.SYMBOL_LIMIT, residual.SYMBOL_LIMIT)
    net, unit = integer_mlp([(w.astype(np.float64), b.astype(np.float64)) for w, b in vae.decoder],
                            level.quant_step, symbols * level.quant_step, residual.SYMBOL_LIMIT)
    v = np.arange(1, 256) - 0.5
    thresholds = np.ceil(np.log(v / (255 - v)) / unit).astype(np.int64)
    return net, thresholds


def base_symbols(level: Level, images: np.ndarray, zoo: Zoo) -> np.ndarray:
    """The level's latent symbols of uint8 images (N, H, W), as the encoder makes them."""
    vae = zoo.vae(zoo.level_model(level))
    return quantize.quantize(vae.encode_mean(pixels.to_unit(images)), level.quant_step)


def _factorized_nll(torch, out, target):
    """Summed negative log-likelihood (nats) of pixel values under hi/lo heads."""
    hi, lo = target // 16, target % 16
    log_hi = torch.log_softmax(out[:, :16], 1).gather(1, hi[:, None])[:, 0]
    lo_logits = out[:, 16:].view(-1, 16, 16)[torch.arange(len(target)), hi]
    log_lo = torch.log_softmax(lo_logits, 1).gather(1, lo[:, None])[:, 0]
    return -(log_hi + log_lo).sum()


def _level_nll(torch, out, target, member):
    """Summed negative log-probability (nats) of the levels of pixel values: the hi/lo
    heads' distribution summed over each value's level; ``member`` (256, 256) bool, value
    u in the level of value v at [v, u]."""
    log_hi = torch.log_softmax(out[:, :16], 1)
    log_lo = torch.log_softmax(out[:, 16:].view(-1, 16, 16), 2)
    log_values = (log_hi[:, :, None] + log_lo).reshape(len(out), 256)
    return -log_values.masked_fill(~member[target], float("-inf")).logsumexp(1).sum()


def _trivial_tables(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    top = 2**residual.PROB_BITS - 1
    hi_counts = np.bincount(values >> 4, minlength=16) + 1.0
    lo_counts = np.zeros((16, 16)) + 1.0
    np.add.at(lo_counts, (values >> 4, values & 15), 1.0)
    hi = np.maximum(1, np.rint(hi_counts / hi_counts.sum() * top)).astype(np.int64)
    lo = np.maximum(1, np.rint(lo_counts / lo_counts.sum(1, keepdims=True) * top)).astype(np.int64)
    return hi, lo


def pixel_bits(model: residual.PixelModel, images: np.ndarray, base: np.ndarray,
               max_error: int = 0, latent: np.ndarray | None = None,
               both_ends: bool = True) -> np.ndarray:
    """Ideal code length (bits) of every value (N, P), in coding order, of uint8 ``images``
    under the integer model, for a file with this ``max_error`` (what the range coder spends, to
    within its small overhead); ``latent``: the base layer's symbols, for a model that
    sees them; ``both_ends``: the levels of ``max_error`` (residual layout 2, or 1)."""
    levels_k, nearest, starts = residual._bins(max_error, both_ends)
    flat = images.reshape(len(images), -1)
    symbols = nearest[model.geometry.to_planes(flat)].reshape(-1)  # in coding order
    feats = residual.features(levels_k[nearest[flat]], base, model.geometry, model.extras,
                              latent)
    feats = feats.reshape(-1, model.net.in_size)
    trivial = residual.trivial_mask(feats, model.trivial_threshold)
    pred = None
    if model.predictor is not None:
        pred = predicted(model.predictor, feats, model.geometry)
        if max_error == 0:
            symbols = (symbols - pred) & 255  # what layout 3 codes
    bits = np.empty(len(symbols))

    def cost(probs: np.ndarray, chosen: np.ndarray) -> np.ndarray:
        probs = np.asarray(probs, dtype=np.float64)
        return -np.log2(probs[np.arange(len(chosen)), chosen] / probs.sum(axis=1))

    rows = np.flatnonzero(trivial)
    if max_error == 0:
        v = symbols[rows]
        bits[rows] = (cost(np.broadcast_to(model.trivial_hi, (len(v), 16)), v >> 4)
                      + cost(model.trivial_lo[v >> 4], v & 15))
    elif pred is not None:
        table = np.broadcast_to(model.trivial_value_probs(), (len(rows), 256))
        bits[rows] = cost(model.shifted_bin_probs(table, pred[rows], max_error, both_ends),
                          symbols[rows])
    else:
        table = residual._bin_probs(model.trivial_value_probs(), starts)
        bits[rows] = cost(np.broadcast_to(table, (len(rows), len(table))), symbols[rows])
    busy = np.flatnonzero(~trivial)
    for i in range(0, len(busy), 200_000):
        rows = busy[i : i + 200_000]
        hidden = model.net.hidden(feats[rows])
        v = symbols[rows]
        if max_error == 0:
            bits[rows] = (cost(model.hi_probs(hidden), v >> 4)
                          + cost(model.lo_probs(hidden, v >> 4), v & 15))
        elif pred is not None:
            bits[rows] = cost(model.shifted_bin_probs(model.value_probs(hidden), pred[rows],
                                                      max_error, both_ends), v)
        else:
            bits[rows] = cost(model.bin_probs(hidden, max_error, both_ends), v)
    return bits.reshape(len(images), -1)


def predicted(predictor: str, feats: np.ndarray, geo) -> np.ndarray:
    """A predictive model's predictions of feature rows (n, features)."""
    cross = (feats[:, residual.FEATURES : residual.FEATURES + len(residual.NEAR)]
             if geo.channels > 1 else None)
    return residual.predict(predictor, feats[:, : len(residual.CAUSAL)], cross)


PREDICTOR_SAMPLE = 256  # images whose differences choose a family's predictor
VALUES = "values"  # choose_predictor's name for a model of the values (no predictor)
# a grayscale family's pixel model codes differences only where their entropy is below
# this share of the values': photograph tiles 3.83 against 6.98 bits (0.55) gained 22%;
# Fashion-MNIST 4.46 against 4.89 (0.91) gained 2% from 5,000 images and lost 3.5% from
# 1,000 (docs/notes/training.md#colour)
PREDICTIVE_SHARE = 0.8


def choose_predictor(images: np.ndarray, values: bool = False
                     ) -> tuple[str, dict[str, float]]:
    """The predictor (``context.PREDICTORS``) under which uint8 images (N, H, W[, C])
    differ least from their predictions: the lowest entropy of the differences (bits a
    value, counted over the first PREDICTOR_SAMPLE images), and each one's figure. With
    ``values``, also VALUES, the entropy of the values themselves: chosen (a pixel model
    of the values, layouts 1 and 2) unless the best predictor's entropy is below
    PREDICTIVE_SHARE of it (photographs; not drawings of two tones, as MNIST or the
    glyphs, nor Fashion-MNIST's clothes)."""
    sample = images[:PREDICTOR_SAMPLE]
    geo = residual.geometry_of(sample.shape[1:])
    flat = sample.reshape(len(sample), -1)
    feats = residual.features(flat, flat, geo).reshape(-1, residual.FEATURES + geo.cross_width)
    observed = geo.to_planes(flat).reshape(-1).astype(np.int64)

    def entropy(symbols: np.ndarray) -> float:
        counts = np.bincount(symbols, minlength=256)
        p = counts[counts > 0] / counts.sum()
        return round(float(-(p * np.log2(p)).sum()), 4)

    figures = {}
    if values:
        figures[VALUES] = entropy(observed)
    for name in residual.PREDICTORS if geo.channels > 1 else ("med",):  # one plane: the same
        figures[name] = entropy((observed - predicted(name, feats, geo)) & 255)
    best = min((name for name in figures if name != VALUES),
               key=lambda name: (figures[name], name))
    if values and not figures[best] < PREDICTIVE_SHARE * figures[VALUES]:
        return VALUES, figures
    return best, figures


def bits_per_image(model: residual.PixelModel, images: np.ndarray, base: np.ndarray,
                   latent: np.ndarray | None = None) -> float:
    """Ideal code length (bits/image) of lossless residuals under the integer model."""
    return float(pixel_bits(model, images, base, latent=latent).sum() / len(images))


def table_bits(t_hi: np.ndarray, t_lo: np.ndarray, values: np.ndarray) -> float:
    """Code length (bits) of pixel ``values`` under fixed high / low-nibble tables (the
    trivial pixels' ``_trivial_tables``)."""
    t_hi, t_lo, v = t_hi.astype(np.float64), t_lo.astype(np.float64), values.astype(np.int64)
    return float(-(np.log2(t_hi[v >> 4] / t_hi.sum())
                   + np.log2(t_lo[v >> 4, v & 15] / t_lo[v >> 4].sum(1))).sum())


def float_bits_per_image(net, model: residual.PixelModel, images: np.ndarray,
                         base: np.ndarray, latent: np.ndarray | None = None) -> float:
    """Ideal lossless code length (bits/image) of ``images`` under the *float* network
    ``net`` that ``model`` was converted from (``train_pixel_model``'s ``keep_float``),
    trivial pixels under the model's tables: with ``bits_per_image``, what the integer
    conversion costs."""
    from . import import_torch

    torch = import_torch()
    flat = images.reshape(len(images), -1)
    feats = residual.features(flat, base, model.geometry, model.extras, latent)
    feats = feats.reshape(-1, model.net.in_size)
    values = model.geometry.to_planes(flat).reshape(-1).astype(np.int64)  # coding order
    if model.predictor is not None:
        values = (values - predicted(model.predictor, feats, model.geometry)) & 255
    trivial = residual.trivial_mask(feats, model.trivial_threshold)
    bits = table_bits(model.trivial_hi, model.trivial_lo, values[trivial])
    busy = np.flatnonzero(~trivial)
    with torch.no_grad():
        for i in range(0, len(busy), 200_000):
            rows = busy[i : i + 200_000]
            out = net(torch.from_numpy(feats[rows]).float() / 255)
            bits += float(_factorized_nll(torch, out, torch.from_numpy(values[rows]))) / math.log(2)
    return float(bits / len(images))


def _activation_scales(torch, net, calibration) -> list[float]:
    """Each hidden layer's activation step, as ``integer_mlp`` calibrates it (one per layer)
    on float feature rows ``calibration`` (values in [0, 1])."""
    scales, h = [], calibration
    with torch.no_grad():
        for m in net:
            h = m(h)
            if isinstance(m, torch.nn.ReLU):
                scales.append(float(_calibrated_scale(h.double().numpy())))
                h = torch.clamp(h, max=scales[-1] * intnet.ACTIVATION_MAX)
    return scales


def _fake_integer_forward(torch, net, x, scales):
    """``net(x)`` with the weights and hidden activations rounded as the integer network
    will have them (``intnet.quantize_layer``: per-output power-of-two weight scales in
    hidden layers, one scale in the output layer; activations floored to their step and
    clipped), gradients passed straight through the rounding."""
    linears = [m for m in net if isinstance(m, torch.nn.Linear)]
    in_scale = 1 / 255
    h = x
    for i, m in enumerate(linears):
        w = m.weight.T  # (in, out)
        if i < len(linears) - 1:
            peak = w.detach().abs().amax(0).clamp_min(1e-12)
            shift = torch.floor(torch.log2(intnet.WEIGHT_MAX / peak * scales[i] / in_scale))
            w_scale = 2.0**shift * in_scale / scales[i]
        else:
            w_scale = intnet.WEIGHT_MAX / w.detach().abs().max().clamp_min(1e-12)
        w_q = torch.clamp(torch.round(w * w_scale), -intnet.WEIGHT_MAX, intnet.WEIGHT_MAX)
        w = w + (w_q / w_scale - w).detach()
        h = h @ w + m.bias
        if i < len(linears) - 1:
            h = torch.relu(h)
            q = torch.clamp(torch.floor(h / scales[i]), 0, intnet.ACTIVATION_MAX) * scales[i]
            h = h + (q - h).detach()
            in_scale = scales[i]
    return h


# what converting the trained network to integers takes (calibrating on 200,000 pixels),
# held back from a time budget (measured: 2-5 s on the 2-core development machine)
CONVERSION_SECONDS = 5.0
# the share of a budget's time left that the planned steps may take: trial steps on a
# contiguous batch ran faster than training's random batches (on 17,550 photograph tiles,
# steps planned to fit in the 165 s left took 205 s)
STEP_TIME_SHARE = 0.85


def _step_seconds(torch, net, nll, x_all, y_all, batch_size: int, trials: int = 20) -> float:
    """Seconds of one training step, from ``trials`` forward and backward passes on random
    batches, as training draws them (from a generator of their own; the weights are left as
    they are: no optimizer step)."""
    generator = torch.Generator().manual_seed(0)
    started = time.perf_counter()
    for _ in range(trials):
        batch = torch.randint(0, len(x_all), (batch_size,), generator=generator)
        net.zero_grad()
        nll(torch, net(x_all[batch].float() / 255), y_all[batch]).backward()
    net.zero_grad()
    return max(1e-6, (time.perf_counter() - started) / trials)


def integer_pixel_net(net, calibration: np.ndarray, scales: list[float] | None = None
                      ) -> dict[str, np.ndarray]:
    """The tensors of the pixel network (``pixel.*``, ``lut``, ``head_shift``) converted
    from the float torch ``net`` (Linear/ReLU layers), its activation ranges calibrated on
    ``calibration``, uint8 feature rows (or the fixed ``scales``, see ``integer_mlp``)."""
    layers = [(m.weight.detach().double().numpy().T, m.bias.detach().double().numpy())
              for m in net if hasattr(m, "weight")]
    pixel_net, unit = integer_mlp(layers, 1 / 255, calibration.astype(np.float64) / 255, 255,
                                  scales=scales)
    # lookup index = logit difference >> head_shift, about LUT_STEPS_PER_NAT steps per nat
    head = int(np.rint(-np.log2(unit * residual.LUT_STEPS_PER_NAT)))
    nats_per_step = unit * 2.0**head
    lut = np.maximum(1, np.rint((2**residual.PROB_BITS - 1) * np.exp(
        -np.arange(residual.LUT_SIZE) * nats_per_step))).astype(np.int64)
    return {**pixel_net.to_tensors("pixel"), "lut": lut,
            "head_shift": np.array([head], dtype=np.int64)}


def train_pixel_model(train_images: np.ndarray, *, zoo: Zoo | None = None,
                      base_level: int = 1, hidden: int = 96,
                      epochs: float = 6.0, trivial_threshold: int = 8, seed: int = 0,
                      batch_size: int = 4096, learning_rate: float = 3e-3,
                      context_max_error: int = 0, level_loss: bool = False,
                      use_base: bool = True,
                      keep_float: dict | None = None, family: str | None = None,
                      qat_epochs: float = 0.0, qat_learning_rate: float = 1e-4,
                      extras: tuple[str, ...] = (), predictor: str | None = None,
                      time_budget: float | None = None, max_images: int | None = None,
                      log=print, progress=None) -> tuple[dict[str, np.ndarray], dict]:
    """Fit a pixel model on uint8 training images (N, H, W) or (N, H, W, C) over the base
    level of ``zoo``
    (default: the installed one; ``family``: the base level of that model family). Returns
    (tensors, metadata) ready for
    ``ModelInfo.in_memory`` and ``zoo.models.write_model``.

    ``context_max_error``: fit on neighbours quantized as ``max_error`` files see them
    (measured: no gain at K = 4, so the shipped model uses exact neighbours);
    ``level_loss``: with it, fit the probability of each pixel's level instead of its
    value's (what a ``context_max_error`` file pays).
    ``use_base=False``: an all-black base image, to measure the coder without the latent.
    ``keep_float``: a dict that receives the float torch network under "net" (to measure
    what the integer conversion costs).
    ``qat_epochs``: after training, fine-tune that many epochs (Adam from
    ``qat_learning_rate``, cosine to 0) through the integer network's rounding
    (``_fake_integer_forward``, gradients straight through), its activation steps fixed
    beforehand and kept for the conversion: quantization-aware training. The weights of a
    long-trained network have a few large values per unit that int8 rounds the small ones
    of away (measured: 45 bits/image lost to the conversion after 12 epochs,
    docs/notes/training.md).
    Then ``keep_float``'s network is the fine-tuned one, which is meant to be rounded.
    ``max_images``: fit on a seeded sample of that many training images (the features of
    every pixel are held in memory: 42 bytes a pixel).
    ``time_budget`` (seconds, from the call): the steps of ``epochs`` and ``qat_epochs``
    cut, in proportion, to what fits after the features are made, planned from the time of
    a few trial steps. ``progress(done, total)`` after every step's block.
    ``extras``: inputs besides the local features (``residual.EXTRAS``: the pixel's
    position, the base layer's latent symbols).
    ``predictor``: "med" fits the distribution of each value's difference from the
    median edge detector of its neighbours (modulo 256: residual layout 3), "med-planes"
    from that plus the previous plane's difference (``context.PREDICTORS``), which a small
    network learns far better than the value itself where values are arbitrary (colour
    icons: 12.95 bits a pixel without, 6.68 with, docs/notes/training.md#colour); None
    the value itself."""
    from . import import_torch

    torch = import_torch()
    zoo = Zoo.installed() if zoo is None else zoo
    extras = tuple(e for e in residual.EXTRAS if e in extras)
    if level_loss and not context_max_error:
        raise ValueError("level_loss needs a context_max_error (lossless levels are values)")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    level = zoo.level(base_level, family)
    image_shape = tuple(train_images.shape[1:])
    started = time.time()
    if max_images is not None and max_images < len(train_images):
        train_images = train_images[np.sort(rng.choice(len(train_images), max_images,
                                                       replace=False))]
    symbols = base_symbols(level, train_images, zoo)
    base_net, thresholds = integer_base_decoder(level, symbols[:5000], zoo)
    base = residual.base_pixels(base_net, thresholds, symbols)
    if not use_base:  # for measuring what the latent buys: the same coder without it
        base[:] = 0
    flat = train_images.reshape(len(train_images), -1)
    levels_k, nearest = residual.quantization_levels(context_max_error)
    geo = residual.geometry_of(image_shape)
    feats = residual.features(levels_k[nearest[flat]], base, geo, extras, symbols)
    width = feats.shape[-1]
    feats = feats.reshape(-1, width)
    values = geo.to_planes(flat).reshape(-1)  # in coding order, as the feature rows
    if predictor is not None:
        if predictor not in residual.PREDICTORS:
            raise ValueError(f"predictor must be one of {residual.PREDICTORS}, not "
                             f"{predictor!r}")
        # what layout 3 codes: the difference from the prediction (int64 -> uint8 view)
        values = ((values - predicted(predictor, feats, geo)) & 255).astype(np.uint8)
    trivial = residual.trivial_mask(feats, trivial_threshold)
    t_hi, t_lo = _trivial_tables(values[trivial].astype(np.int64))
    x_all = torch.from_numpy(feats[~trivial])
    y_all = torch.from_numpy(values[~trivial].astype(np.int64))
    del feats
    log(f"{len(x_all)} non-trivial training pixels ({(~trivial).mean():.1%}); "
        f"base images in {time.time() - started:.0f} s")

    net = torch.nn.Sequential(
        torch.nn.Linear(width, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, hidden), torch.nn.ReLU(),
        torch.nn.Linear(hidden, 16 + 256),
    )
    generator = torch.Generator().manual_seed(seed)
    nll = _factorized_nll
    if level_loss:
        member = torch.from_numpy(nearest[:, None] == nearest[None, :])
        nll = functools.partial(_level_nll, member=member)

    deadline = None if time_budget is None else started + time_budget - CONVERSION_SECONDS

    def fit(forward, steps, lr, schedule, label, logs):
        """Adam on ``steps`` random batches of the non-trivial pixels, ``schedule(optimizer,
        steps)`` the learning-rate schedule; ``logs`` progress lines. Past a time budget's
        deadline it stops early (the plan's trial steps misjudged the machine)."""
        optimizer = torch.optim.Adam(net.parameters(), lr)
        scheduler = schedule(optimizer, steps)
        for step in range(steps):
            if deadline is not None and step % 50 == 49 and time.time() > deadline:
                log(f"{label}{step}/{steps}: stopped at the time budget")
                break
            batch = torch.randint(0, len(x_all), (batch_size,), generator=generator)
            loss = nll(torch, forward(x_all[batch].float() / 255), y_all[batch]) / batch_size
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
            if step % max(1, steps // logs) == 0 or step == steps - 1:
                log(f"{label}{step + 1}/{steps}: {loss.item() / math.log(2):.3f} bits/pixel "
                    f"(non-trivial), {time.time() - started:.0f} s")
                if progress:
                    progress(step + 1, steps)

    steps = max(1, int(epochs * len(x_all) / batch_size))
    qat_steps = max(1, int(qat_epochs * len(x_all) / batch_size)) if qat_epochs > 0 else 0
    if time_budget is not None:  # the steps that fit: timed on trial steps, with a margin
        fit_steps = int(STEP_TIME_SHARE * max(0.0, time_budget - CONVERSION_SECONDS
                                              - (time.time() - started))
                        / _step_seconds(torch, net, nll, x_all, y_all, batch_size))
        if fit_steps < steps + qat_steps:
            share = fit_steps / (steps + qat_steps)
            steps = max(1, int(steps * share))
            qat_steps = min(qat_steps, max(1, int(qat_steps * share)))
    fit(net, steps, learning_rate, lambda optimizer, steps: torch.optim.lr_scheduler.OneCycleLR(
        optimizer, learning_rate, total_steps=steps), "step ", 10)
    # the activation ranges: from 200,000 pixels drawn, or every pixel of a small set
    rows = rng.choice(len(x_all), 200_000) if len(x_all) >= 200_000 else np.arange(len(x_all))
    calibration = x_all[torch.from_numpy(rows)].numpy()
    scales = None
    if qat_steps:  # fine-tune through the integer network's rounding
        scales = _activation_scales(torch, net, torch.from_numpy(calibration).float() / 255)
        fit(lambda x: _fake_integer_forward(torch, net, x, scales), qat_steps,
            qat_learning_rate, torch.optim.lr_scheduler.CosineAnnealingLR,
            "quantization-aware step ", 5)
    tensors = {**base_net.to_tensors("base"), **integer_pixel_net(net, calibration,
                                                                  scales=scales),
               "base_thresholds": thresholds, "trivial_hi": t_hi, "trivial_lo": t_lo}
    metadata = {
        "kind": "pixel-model",
        "base_level": base_level,
        "base_model_sha256": level.model_id.hex(),
        "trivial_threshold": trivial_threshold,
        "uses_base_layer": use_base,
        "architecture": {"features": width, "hidden": [hidden, hidden],
                         **({"extras": list(extras)} if extras else {}),
                         **({"predictor": predictor} if predictor else {}),
                         "heads": "16 high-nibble + 16x16 low-nibble logits",
                         "image_shape": list(image_shape)},
        "recipe": {"epochs": epochs, "steps": steps, "batch_size": batch_size,
                   "learning_rate": learning_rate,
                   "lr_schedule": "one-cycle", "seed": seed, "optimizer": "adam",
                   **({"quantization_aware_epochs": qat_epochs,
                       "quantization_aware_steps": qat_steps,
                       "quantization_aware_learning_rate": qat_learning_rate,
                       "quantization_aware_schedule": "cosine"} if qat_epochs > 0 else {}),
                   **({"context_max_error": context_max_error,
                       "loss": "level" if level_loss else "value"}
                      if context_max_error else {}),
                   "train_images": len(train_images),
                   **({"time_budget": time_budget} if time_budget is not None else {})},
        "train_seconds": round(time.time() - started, 1),
    }
    if keep_float is not None:  # for measuring what the integer conversion costs
        keep_float["net"] = net
    return tensors, metadata


def save_pixel_model(folder: Path, name: str, tensors: dict, metadata: dict,
                     test_images: np.ndarray, zoo: Zoo | None = None,
                     data: dict | None = None, force: bool = True) -> tuple[ModelInfo, float]:
    """Measure a fitted pixel model on ``test_images`` (the ideal lossless code length of
    their residual under the integer model), then write it into ``folder`` with that
    figure and ``data`` (what it was trained on) in its metadata. Returns (the written
    model, bits per image). A model fitted without the base layer is written as
    "measurement-only", which the codec never picks up."""
    zoo = Zoo.installed() if zoo is None else zoo
    measured = ModelInfo.in_memory(name, tensors, metadata)
    model = zoo.with_models(measured).pixel_model(measured)
    latent = base_symbols(zoo.level(model.base_level), test_images, zoo)
    base = model.base_pixels(latent)
    metadata = dict(measured.metadata)
    if not metadata.get("uses_base_layer", True):
        base[:] = 0
        metadata["kind"] = "measurement-only"
    bits = bits_per_image(model, test_images, base, latent)
    metadata["data"] = data or {}
    metadata["test_metrics"] = {"images": len(test_images),
                                "residual_bits_per_image": round(bits, 2),
                                "residual_bits_per_pixel": round(bits / model.geometry.pixels, 4)}
    return write_model(folder, dataclasses.replace(measured, metadata=metadata), force), bits
