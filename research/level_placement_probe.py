"""Probe: what placing the max-error levels per pixel would save over fixed levels.

    python research/level_placement_probe.py --data ../shared/data --images 1000 --max-error 4

For the default pixel model's non-trivial pixels of the first N test images (exact
neighbours as context, so the fixed and the per-pixel levels are scored on the same
distributions), the ideal code length of each pixel's level, in bits per image:

- fixed: residual layout 2's levels (``residual.quantization_levels``);
- per pixel: levels 2K+1 apart, placed so that one of them takes the window of 2K+1
  values with the most probability under that pixel's distribution; with black and white
  kept exact (0..K -> 0 and 255-K..255 -> 255 fixed, the rest placed per pixel), with
  either end free, or with both free (then 0 and 255 need not come back exact).

A measurement only (docs/notes/training.md, "The levels of max-error files"); no file is written.
"""

from __future__ import annotations

import argparse

import numpy as np

from vaecodec.core import residual
from vaecodec.data import mnist
from vaecodec.train import pixel as pixel_training
from vaecodec.zoo import PIXEL_MODEL, Zoo


def placed_bits(probs: np.ndarray, values: np.ndarray, max_error: int, fix_black: bool,
                fix_white: bool) -> float:
    """Bits of ``values`` under levels placed per row of ``probs`` (n, 256), summed."""
    k, step = max_error, 2 * max_error + 1
    cum = np.concatenate([np.zeros((len(probs), 1)), np.cumsum(probs, 1)], 1)
    first = k + 1 if fix_black else 0  # the values whose levels are placed: first..last
    last = 254 - k if fix_white else 255
    starts = np.arange(first - (0 if fix_black else k), last - step + 2 + (0 if fix_white else k))
    mass = (cum[:, np.clip(starts + step, first, last + 1)]
            - cum[:, np.clip(starts, first, last + 1)])
    start = starts[mass.argmax(1)]  # the heaviest window is one level's bin
    j = np.floor((values - start) / step).astype(int)
    lo = np.clip(start + j * step, first, last + 1)
    hi = np.clip(start + j * step + step, first, last + 1)
    if fix_black:
        lo, hi = np.where(values <= k, 0, lo), np.where(values <= k, k + 1, hi)
    if fix_white:
        lo, hi = np.where(values >= 255 - k, 255 - k, lo), np.where(values >= 255 - k, 256, hi)
    rows = np.arange(len(probs))
    return float(-np.log2(cum[rows, hi] - cum[rows, lo]).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--images", type=int, default=1000, help="first N test images")
    parser.add_argument("--max-error", type=int, default=4)
    args = parser.parse_args()
    images = mnist.mnist_images(args.data, "test")[: args.images]
    n, k = len(images), args.max_error
    zoo = Zoo.installed()
    model = zoo.pixel_model(zoo.find(None, PIXEL_MODEL))
    latent = pixel_training.base_symbols(zoo.level(model.base_level), images, zoo)
    flat = images.reshape(n, -1)
    feats = residual.features(flat, model.base_pixels(latent), model.geometry, model.extras,
                              latent).reshape(-1, model.net.in_size)
    busy = np.flatnonzero(~residual.trivial_mask(feats, model.trivial_threshold))
    values = flat.reshape(-1)[busy].astype(np.int64)
    _, nearest = residual.quantization_levels(k)
    variants = {"placed, black and white exact": (True, True),
                "placed, white free": (True, False), "placed, black free": (False, True),
                "placed, both free": (False, False)}
    totals = dict.fromkeys(["fixed (layout 2)", *variants], 0.0)
    for i in range(0, len(busy), 100_000):
        rows = slice(i, i + 100_000)
        probs = model.value_probs(model.net.hidden(feats[busy[rows]])).astype(np.float64)
        probs /= probs.sum(1, keepdims=True)
        v = values[rows]
        level = np.zeros((len(probs), nearest.max() + 1))
        np.add.at(level.T, nearest, probs.T)
        totals["fixed (layout 2)"] -= np.log2(level[np.arange(len(v)), nearest[v]]).sum()
        for name, (black, white) in variants.items():
            totals[name] += placed_bits(probs, v, k, black, white)
    print(f"--max-error {k}, {model.name}, {n} test images, {len(busy) / n:.1f} non-trivial "
          "pixels/image (bits/image of their levels):")
    for name, bits in totals.items():
        print(f"  {name:32s} {bits / n:7.1f}")


if __name__ == "__main__":
    main()
