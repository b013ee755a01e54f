"""Choosing a lossy file's latent symbols by a rate-distortion search (``encode(search=True)``).

Rounding the encoder's mean to the step is one choice of symbols, not the best one: the
encoder's mean is a network's guess at the latent that decodes closest to the image, and
rounding it ignores what the symbols cost. Image by image, the search lowers

    squared error (pixels in [0, 1], summed over the image) + LAMBDA x bits (the level's prior)

in two stages: ``descend`` moves the mean ``DESCENT_STEPS`` Adam steps down the gradient
of that cost through the decoder (the bits relaxed to a piecewise-linear function of the
latent); then ``SWEEPS`` times over the latent dimensions, one symbol at a time is moved to
the other neighbour of the descended latent (or back) wherever that lowers the cost. An
image whose rounded mean still costs less keeps it. Only the encoder changes: the decoder
reads the symbols as ever. It costs about 100 decodings' work per image (20-d latent), so
it is slow; measured on the MNIST test split, it gains 1.0 to 1.35 dB over rounding at
every level, at about the same bytes where the step is fine (docs/notes/training.md, "Choosing
the symbols by a search").

The decisions use the float decoder, so the chosen symbols (not their decoding, which is
exact everywhere) may differ between machines in a near tie.
"""

from __future__ import annotations

import numpy as np

from .entropy import PRECISION, Prior
from .quantize import narrowest, quantize

LAMBDA = 0.04  # bits' weight against squared error; 0.02 to 0.04 measured alike
SWEEPS = 2  # after the descent; 4 find 0.005-0.02 dB more at 1.5 times the time
DESCENT_STEPS = 20  # gradient steps on the latent before the sweeps
DESCENT_RATE = 0.02  # Adam's learning rate for them (latent units)
ADAM = (0.9, 0.999, 1e-8)  # Adam's beta1, beta2 and epsilon (torch's defaults)
BLOCK = 1024  # images searched at once (bounds the decoder's working memory)
ESCAPE_BITS = 32  # a symbol outside its table is sent raw after the escape


def _table_bits(freqs) -> np.ndarray:
    """Code length (bits) of each entry of a frequency table ([0]: the escape)."""
    return PRECISION - np.log2(np.asarray(freqs, dtype=np.float64))


def symbol_bits(prior: Prior, symbols: np.ndarray) -> np.ndarray:
    """Code length (bits) of each image's symbols (N, D) under the prior's tables."""
    total = np.zeros(len(symbols))
    for d, (lo, freqs) in enumerate(zip(prior.lo, prior.freqs)):
        bits = _table_bits(freqs)
        index = np.asarray(symbols[:, d], dtype=np.int64) - lo + 1
        inside = (index >= 1) & (index < len(bits))
        total += np.where(inside, bits[np.where(inside, index, 0)], bits[0] + ESCAPE_BITS)
    return total


def relaxed_bits_slope(prior: Prior, latents: np.ndarray, step: float) -> np.ndarray:
    """The slope (bits per latent unit, (N, D)) of each symbol's code length, read as a
    function of the latent: linear between neighbouring symbols of a table, and climbing
    by ``ESCAPE_BITS`` per step outside it, back towards the table."""
    slope = np.empty(latents.shape, dtype=np.float32)
    for d, (lo, freqs) in enumerate(zip(prior.lo, prior.freqs)):
        bits = _table_bits(freqs)[1:]  # the table's symbols, the escape left out
        t = latents[:, d] / step - lo  # position in the table, 0 .. len(bits) - 1
        rises = np.append(np.diff(bits), 0.0)  # from symbol i to i + 1 (none past the last)
        inside = rises[np.clip(np.floor(t), 0, len(bits) - 1).astype(np.int64)]
        slope[:, d] = np.where(t < 0, -ESCAPE_BITS,
                               np.where(t > len(bits) - 1, ESCAPE_BITS, inside)) / step
    return slope


def descend(vae, unit: np.ndarray, mean: np.ndarray, step: float, prior: Prior,
            lam: float = LAMBDA, steps: int = DESCENT_STEPS,
            rate: float = DESCENT_RATE) -> np.ndarray:
    """Latents (N, D) moved from ``mean`` by ``steps`` Adam steps down the gradient of
    squared error + ``lam`` x bits, the bits relaxed to a piecewise-linear function of the
    latent (``relaxed_bits_slope``). The encoder's mean is one network's guess at the
    latent that decodes closest to the image; the decoder itself says which way is
    closer. Each image's latent moves by its own gradient only (Adam is per element), so
    an image's result does not depend on the others in its block."""
    beta1, beta2, eps = ADAM
    z = np.array(mean, dtype=np.float32)
    first, second = np.zeros_like(z), np.zeros_like(z)
    target = np.asarray(unit, dtype=np.float32)
    for t in range(1, steps + 1):
        gradient = _error_gradient(vae.decoder, z, target)
        gradient += lam * relaxed_bits_slope(prior, z, step)
        first = beta1 * first + (1 - beta1) * gradient
        second = beta2 * second + (1 - beta2) * gradient * gradient
        z -= (rate * (first / (1 - beta1**t))
              / (np.sqrt(second / (1 - beta2**t)) + eps)).astype(np.float32)
    return z


def _error_gradient(layers, z: np.ndarray, target: np.ndarray) -> np.ndarray:
    """d/dz of the squared error between the decoder's intensities (ReLU MLP, sigmoid
    out: ``NumpyVAE``'s decoder) for latents z and ``target``, by backpropagation."""
    inputs, h = [], z
    for i, (w, b) in enumerate(layers):
        inputs.append(h)
        h = h @ w + b
        if i < len(layers) - 1:
            np.maximum(h, 0, out=h)
    y = 0.5 * (np.tanh(0.5 * h) + 1.0)
    grad = 2.0 * (y - target) * y * (1.0 - y)  # through the sigmoid
    for i in range(len(layers) - 1, -1, -1):
        grad = grad @ layers[i][0].T
        if i > 0:
            grad *= inputs[i] > 0  # through the ReLU that made layer i's input
    return grad


def search_symbols(vae, unit: np.ndarray, mean: np.ndarray, step: float, prior: Prior,
                   lam: float = LAMBDA, sweeps: int = SWEEPS,
                   descent_steps: int = DESCENT_STEPS,
                   descent_rate: float = DESCENT_RATE) -> np.ndarray:
    """Symbols (N, D) for the images ``unit`` (N, P) in [0, 1] whose encoder means are
    ``mean`` (N, D), at ``step``, chosen as the module says; in the narrowest integer
    type, as ``quantize.quantize`` gives them. No image's symbols cost more (squared error
    + ``lam`` x bits) than its rounded mean's."""
    out = np.empty(mean.shape, dtype=np.int64)

    def cost(symbols: np.ndarray, target: np.ndarray) -> np.ndarray:
        error = vae.decode((symbols * step).astype(np.float32)) - target
        return np.einsum("ij,ij->i", error, error) + lam * symbol_bits(prior, symbols)

    for i in range(0, len(mean), BLOCK):
        rows = slice(i, i + BLOCK)
        target = np.asarray(unit[rows], dtype=np.float32)
        start = descend(vae, target, mean[rows], step, prior, lam, descent_steps,
                        descent_rate)
        near = quantize(start, step).astype(np.int64)
        far = near + np.where(start / step > near, 1, -1)
        current = near.copy()
        best = cost(current, target)
        for _ in range(sweeps):
            for d in range(current.shape[1]):
                trial = current.copy()
                trial[:, d] = np.where(current[:, d] == near[:, d], far[:, d], near[:, d])
                score = cost(trial, target)
                better = score < best
                current[better], best[better] = trial[better], score[better]
        if descent_steps:  # the descent can lead astray: never worse than rounding
            rounded = quantize(mean[rows], step).astype(np.int64)
            worse = cost(rounded, target) < best
            current[worse] = rounded[worse]
        out[rows] = current
    return narrowest(out)
