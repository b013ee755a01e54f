"""Probe: three places where --max-error K files might still lose bits, measured.

    python research/max_error_probe.py --data ../shared/data --images 3000 --max-error 4

With the default pixel model, on the first N test images (ideal code lengths, bits/image):

1. context: each pixel's level coded with the decoded levels as neighbours (what files
   do) against the exact neighbours (an encoder-only bound: the decoder cannot have them),
   split by the original value (0..K, mid-grey, 255-K..255); trivial pixels included;
2. calibration: every pixel's level distribution (the trivial pixels' table too) raised
   to the power 1/T and renormalised, for a few temperatures T (T = 1 is the files' code
   length);
3. the latent: the base level's symbols under factorized tables fitted on the training
   split (what files use is a fitted prior like it) against a linear autoregressive
   model, each symbol predicted from the previous ones by least squares on the training
   split and its rounded prediction error coded with a table.

A measurement only (docs/notes/training.md, "The levels of max-error files"); no file is written.
"""

from __future__ import annotations

import argparse

import numpy as np

from vaecodec.core import residual
from vaecodec.data import mnist
from vaecodec.train import pixel as pixel_training
from vaecodec.zoo import PIXEL_MODEL, Zoo


def level_probs(model, context: np.ndarray, base: np.ndarray, latent: np.ndarray,
                max_error: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities (N*P, levels), normalised, float64; trivial mask (N*P,)) of every
    pixel's level given neighbours from ``context`` (N, P)."""
    feats = residual.features(context, base, model.geometry, model.extras, latent)
    feats = feats.reshape(-1, model.net.in_size)
    trivial = residual.trivial_mask(feats, model.trivial_threshold)
    _, _, starts = residual._bins(max_error)
    probs = np.empty((len(feats), len(starts)))
    probs[trivial] = residual._bin_probs(model.trivial_value_probs(), starts)
    busy = np.flatnonzero(~trivial)
    for i in range(0, len(busy), 100_000):
        rows = busy[i : i + 100_000]
        probs[rows] = model.bin_probs(model.net.hidden(feats[rows]), max_error)
    return probs / probs.sum(1, keepdims=True), trivial


def table_bits(train: np.ndarray, test: np.ndarray) -> float:
    """Bits of ``test`` under a table of ``train``'s counts (+0.5 each)."""
    low = min(train.min(), test.min())
    counts = np.bincount(train - low, minlength=max(train.max(), test.max()) - low + 1) + 0.5
    return float(-np.log2(counts[test - low] / counts.sum()).sum())


def latent_bits(train: np.ndarray, test: np.ndarray) -> tuple[float, float]:
    """(factorized, linear autoregressive) bits of the ``test`` symbols, in total."""
    factorized = autoregressive = 0.0
    for d in range(train.shape[1]):
        alone = table_bits(train[:, d], test[:, d])
        factorized += alone
        if d == 0:
            autoregressive += alone
            continue
        x_train = np.c_[train[:, :d], np.ones(len(train))]
        x_test = np.c_[test[:, :d], np.ones(len(test))]
        w = np.linalg.lstsq(x_train, train[:, d], rcond=None)[0]
        errors = [s - np.rint(x @ w).astype(np.int64)
                  for s, x in ((train[:, d], x_train), (test[:, d], x_test))]
        autoregressive += min(alone, table_bits(*errors))
    return factorized, autoregressive


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--images", type=int, default=3000, help="first N test images")
    parser.add_argument("--max-error", type=int, default=4)
    parser.add_argument("--temperatures", type=float, nargs="+", default=[0.8, 0.9, 1.0, 1.1, 1.2])
    args = parser.parse_args()
    k = args.max_error
    images = mnist.mnist_images(args.data, "test")[: args.images]
    n = len(images)
    zoo = Zoo.installed()
    model = zoo.pixel_model(zoo.find(None, PIXEL_MODEL))
    level = zoo.level(model.base_level)
    latent = pixel_training.base_symbols(level, images, zoo)
    base = model.base_pixels(latent)
    flat = images.reshape(n, -1)
    levels, nearest = residual.quantization_levels(k)
    symbols = nearest[flat].reshape(-1)
    rows = np.arange(len(symbols))
    values = flat.reshape(-1)
    classes = {f"0..{k}": values <= k, f"{k + 1}..{254 - k}": (values > k) & (values < 255 - k),
               f"{255 - k}..255": values >= 255 - k}
    print(f"--max-error {k}, {model.name}, {n} test images (bits/image)")
    print("1. context           total  " + "  ".join(f"{c:>9s}" for c in classes))
    decoded = None
    for name, context in (("decoded levels", levels[nearest[flat]]), ("exact values", flat)):
        probs, _ = level_probs(model, context, base, latent, k)
        bits = -np.log2(probs[rows, symbols])
        print(f"   {name:16s} {bits.sum() / n:6.1f}  "
              + "  ".join(f"{bits[m].sum() / n:9.1f}" for m in classes.values()))
        if decoded is None:
            decoded = probs
    print("2. calibration (decoded levels)")
    for t in args.temperatures:
        p = decoded ** (1 / t)
        p /= p.sum(1, keepdims=True)
        print(f"   T = {t:4.2f}  {-np.log2(p[rows, symbols]).sum() / n:6.1f}")
    train = pixel_training.base_symbols(level, mnist.mnist_images(args.data, "train"), zoo)
    factorized, autoregressive = latent_bits(train, latent)
    print(f"3. level {model.base_level}'s latent: factorized tables {factorized / n:.2f}, "
          f"linear autoregressive {autoregressive / n:.2f}")


if __name__ == "__main__":
    main()
