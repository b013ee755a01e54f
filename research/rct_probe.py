"""Colour transform or channel context (issue 29): the entropy of LOCO-I's median edge
detector's prediction differences on a colour set, per plane and summed over a pixel's
three planes (bits per pixel), for the RGB planes as they are (`med`), with the previous
plane's difference added to the prediction (`med-planes`, what the pixel model can use),
and after a reversible colour transform: JPEG 2000's RCT and YCoCg-R (their chroma
planes take 9 bits; the differences are counted as they are, not modulo 256). Zero-order
entropies, a proxy for what a context model gains: it says which representation leaves
less to code, not what the trained pixel model spends. Named in docs/notes/training.md.

    python tools/make_train_sets.py --colour --out build/colour-sets
    python research/rct_probe.py build/colour-sets/icons-test.npy \
        build/colour-sets/colour-tiles-test.npy
"""

from __future__ import annotations

import argparse

import numpy as np


def med(plane: np.ndarray) -> np.ndarray:
    """MED of each value of planes (N, H, W) from its decoded left, upper and upper-left
    neighbours (0 outside the image)."""
    p = np.pad(plane.astype(np.int64), ((0, 0), (1, 0), (1, 0)))
    a, b, c = p[:, 1:, :-1], p[:, :-1, 1:], p[:, :-1, :-1]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def entropy(values: np.ndarray) -> float:
    """Zero-order entropy (bits a value) of integer ``values``."""
    _, counts = np.unique(values, return_counts=True)
    p = counts / counts.sum()
    return float(-(p * np.log2(p)).sum())


def rct(rgb: np.ndarray) -> list[np.ndarray]:
    """JPEG 2000's reversible colour transform: Y = (R + 2G + B) >> 2, U = B - G,
    V = R - G."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    return [(r + 2 * g + b) >> 2, b - g, r - g]


def ycocg_r(rgb: np.ndarray) -> list[np.ndarray]:
    """YCoCg-R (lifting, reversible): Co = R - B, t = B + Co >> 1, Cg = G - t,
    Y = t + Cg >> 1."""
    r, g, b = (rgb[..., k].astype(np.int64) for k in range(3))
    co = r - b
    t = b + (co >> 1)
    cg = g - t
    return [t + (cg >> 1), co, cg]


def figures(images: np.ndarray) -> dict[str, list[float]]:
    """Per-plane entropies of the prediction differences, by representation."""
    planes = [images[..., k].astype(np.int64) for k in range(3)]
    diffs = [p - med(p) for p in planes]
    out = {"RGB, med": [entropy(d & 255) for d in diffs],
           "RGB, med-planes": [entropy(diffs[0] & 255)]
           + [entropy((diffs[k] - diffs[k - 1]) & 255) for k in (1, 2)]}
    for name, transform in (("RCT (JPEG 2000), med", rct), ("YCoCg-R, med", ycocg_r)):
        out[name] = [entropy(p - med(p)) for p in transform(images)]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="+", help=".npy arrays (N, H, W, 3) uint8")
    args = parser.parse_args()
    for path in args.sets:
        images = np.load(path)
        print(f"{path}: {len(images)} images")
        for name, planes in figures(images).items():
            each = ", ".join(f"{v:.3f}" for v in planes)
            print(f"  {name:22s} {sum(planes):7.3f} bits/pixel  (planes {each})")


if __name__ == "__main__":
    main()
