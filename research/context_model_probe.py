"""A static context model in place of the pixel network, for colour lossless (issue 29's
speed target: >= 1,000 images/s each way, where the network's 3,072 evaluations per
32x32 RGB image cap it near 200-370). Two questions, measured:

1. **Rate**: the test images' code length (bits/pixel) under a table of difference
   distributions counted on the training images, one per context, where the context is
   built from what a decoder knows: the plane, LOCO-I's quantised local gradients, the
   earlier plane's MED difference at the pixel, and the base layer's (the VAE's
   reconstruction at the pixel model's level) distance from the MED prediction. Each
   context's counts are mixed with its plane's (a fixed weight), so that rare contexts
   fall back. The differences are taken from the MED, modulo 256 (residual layout 3).
2. **Speed**: the decoder's work per raster position without a network, over a batch of
   images: gather the neighbours, predict, form the context, look up its two nibble
   tables and range-decode both nibbles with constriction, as `core/residual.py` does.

Compare with the shipped network (`rd_benchmark.py`, `bench_colour.py`): icons 6.738
bits/pixel and 370 / 225 images/s; WebP lossless 6.046. Named in docs/notes/training.md.

    python tools/make_train_sets.py --colour --out build/colour-sets
    python research/context_model_probe.py --sets-dir build/colour-sets --set icons \
        --model icons
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import vaecodec
from vaecodec.zoo import Zoo
from vaecodec.zoo.models import PIXEL_MODEL

GRADIENT_EDGES = np.array([-21, -7, -3, 0, 1, 4, 8, 22])  # LOCO-I's 9 regions (T1..T3)
PLANE_EDGES = np.array([-16, -4, -1, 1, 2, 5, 17])  # the earlier plane's difference
BASE_EDGES = np.array([-32, -12, -4, -1, 2, 5, 13, 33])  # base - prediction
AROUND = ((0, -1), (-1, 0), (-1, -1), (-1, 1))  # left, up, up-left, up-right


def neighbours(plane: np.ndarray):
    """(a, b, c, d): left, up, up-left, up-right of each value of planes (N, H, W), 0
    outside the image, as int64."""
    p = np.pad(plane.astype(np.int64), ((0, 0), (1, 0), (1, 1)))
    return p[:, 1:, :-2], p[:, :-1, 1:-1], p[:, :-1, :-2], p[:, :-1, 2:]


def med(a, b, c):
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def signed(diff):
    """A difference modulo 256 as -128..127."""
    return ((diff + 128) & 255) - 128


def contexts(images: np.ndarray, base: np.ndarray | None, parts: set[str]):
    """(context ids, coded symbols, number of contexts) per value (N, H, W, C): the
    symbol is the difference from the prediction, modulo 256; the prediction is the MED,
    or with "match" (planes after the first) the value of the first neighbour (left, up,
    up-left, up-right) whose earlier planes all equal this pixel's (a flat colour
    continues), where there is one. The context is the plane and the ``parts`` asked for:
    "gradients" (LOCO-I's three, 9 regions each), "plane" (the earlier plane's
    difference, 8 classes), "equal" (whether the earlier plane's value equals its left
    and its upper neighbour's), "match" (which neighbour matched, or none), "base" (the
    base layer's distance from the prediction, 9 classes)."""
    planes = images.shape[-1]
    around = [neighbours(images[..., k]) for k in range(planes)]
    ids = np.zeros(images.shape, dtype=np.int64)
    symbols = np.zeros(images.shape, dtype=np.int64)
    size = planes
    previous = None
    for k in range(planes):
        x = images[..., k].astype(np.int64)
        a, b, c, d = around[k]
        pred = med(a, b, c)
        matched = np.zeros_like(x)
        if "match" in parts and k:
            for which in (3, 2, 1, 0):  # the first neighbour that matches wins
                same = np.ones(x.shape, dtype=bool)
                for j in range(k):
                    same &= images[..., j] == around[j][which]
                pred = np.where(same, around[k][which], pred)
                matched = np.where(same, which + 1, matched)
        symbols[..., k] = (x - pred) & 255
        ctx = np.full(x.shape, k, dtype=np.int64)
        size = planes
        if "gradients" in parts:
            for g in (d - b, b - c, c - a):
                ctx = ctx * 9 + np.searchsorted(GRADIENT_EDGES, g, side="right")
            size *= 729
        if "plane" in parts:
            q = (np.zeros_like(x) if previous is None
                 else np.searchsorted(PLANE_EDGES, previous, side="right"))
            ctx, size = ctx * 8 + q, size * 8
        if "equal" in parts:
            q = np.zeros_like(x)
            if k:
                p = images[..., k - 1].astype(np.int64)
                q = 2 * (p == around[k - 1][0]) + (p == around[k - 1][1])
            ctx, size = ctx * 4 + q, size * 4
        if "match" in parts:
            ctx, size = ctx * 5 + matched, size * 5
        if "base" in parts and base is not None:
            q = np.searchsorted(BASE_EDGES, base[..., k].astype(np.int64) - pred,
                                side="right")
            ctx, size = ctx * 9 + q, size * 9
        ids[..., k] = ctx
        previous = signed(x - pred)
    return ids.reshape(-1), symbols.reshape(-1), size


def code_length(train, test, planes: int, size: int, weight: float) -> float:
    """Bits of the test symbols under the training counts of each context, mixed with
    the plane's (``weight`` pseudo-counts of it), per value. Only the contexts that occur
    are tabled (their ids renumbered), so that memory follows the data, not ``size``."""
    (tr_ids, tr_sym), (te_ids, te_sym) = train, test
    used, index = np.unique(np.concatenate([tr_ids, te_ids]), return_inverse=True)
    tr, te = index[: len(tr_ids)], index[len(tr_ids):]
    counts = np.bincount(tr * 256 + tr_sym, minlength=len(used) * 256).reshape(-1, 256)
    plane_of = used // (size // planes)  # the plane is the context's top digit
    per_plane = np.stack([counts[plane_of == k].sum(0) for k in range(planes)]) + 0.5
    per_plane /= per_plane.sum(1, keepdims=True)
    totals = counts.sum(1) + weight
    probs = (counts[te, te_sym] + weight * per_plane[plane_of[te], te_sym]) / totals[te]
    return float(-np.log2(probs).sum() / len(te_ids))


def decode_speed(images: np.ndarray, repeat: int) -> float:
    """Images per second of a table decoder's loop (neighbours, MED, the gradients'
    context, the "match" prediction, two nibble tables, constriction's range decoder)
    over ``images`` (N, H, W, C), on random
    tables and symbols: the work per position, not the rate (every context is then sent
    to the tables of context 0, which the encoder used, so that the data decodes)."""
    import constriction

    n, h, w, planes = images.shape
    rng = np.random.default_rng(0)
    table_hi = rng.integers(1, 2**16, (planes * 729, 16)).astype(np.float64)
    table_lo = rng.integers(1, 2**16, (planes * 729, 16, 16)).astype(np.float64)
    family = constriction.stream.model.Categorical(perfect=False)
    encoder = constriction.stream.queue.RangeEncoder()
    symbols = rng.integers(0, 16, (h * w * planes, 2, n)).astype(np.int32)
    zero = np.zeros(n, dtype=np.int64)
    for q in range(len(symbols)):  # what the decoder reads: any symbols will do
        encoder.encode(symbols[q, 0], family, table_hi[zero])
        encoder.encode(symbols[q, 1], family, table_lo[zero, symbols[q, 0]])
    data = encoder.get_compressed()
    lut = np.searchsorted(GRADIENT_EDGES, np.arange(-255, 256), side="right")
    times = []
    for _ in range(repeat):
        decoder = constriction.stream.queue.RangeDecoder(data)
        canvas = np.zeros((planes, h + 1, w + 2, n), dtype=np.int64)  # padded, image-last
        start = time.perf_counter()
        for k in range(planes):
            plane = canvas[k]
            for i in range(1, h + 1):
                for j in range(1, w + 1):
                    a, b, c, d = plane[i, j - 1], plane[i - 1, j], plane[i - 1, j - 1], \
                        plane[i - 1, j + 1]
                    pred = med(a, b, c)
                    ctx = ((k * 9 + lut[d - b + 255]) * 9 + lut[b - c + 255]) * 9 \
                        + lut[c - a + 255]
                    for which, (di, dj) in reversed(list(enumerate(AROUND)) if k else []):
                        same = canvas[0, i, j] == canvas[0, i + di, j + dj]
                        for e in range(1, k):
                            same &= canvas[e, i, j] == canvas[e, i + di, j + dj]
                        pred = np.where(same, plane[i + di, j + dj], pred)
                        ctx = np.where(same, ctx * 5 + which + 1, ctx)
                    ctx *= 0  # the tables the encoder used: the same gathers, valid data
                    hi = decoder.decode(family, table_hi[ctx])
                    lo = decoder.decode(family, table_lo[ctx, hi])
                    plane[i, j] = (pred + (hi << 4) + lo) & 255
        times.append(time.perf_counter() - start)
    return n / float(np.median(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets-dir", default="build/colour-sets")
    parser.add_argument("--set", default="icons")
    parser.add_argument("--model", default="icons", help="the family whose base layer the "
                        "'base' context reads (its pixel model's level; a family trained "
                        "on another set gives that context little to go on)")
    parser.add_argument("--limit", type=int, default=None, help="training images (all)")
    parser.add_argument("--weight", type=float, default=32.0)
    parser.add_argument("--speed-images", type=int, default=1000, help="0: no speed run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    train = np.load(Path(args.sets_dir) / f"{args.set}-train.npy")[: args.limit]
    test = np.load(Path(args.sets_dir) / f"{args.set}-test.npy")
    zoo = Zoo.installed()
    pixel = zoo.find(zoo.family(args.model).pixel_model, PIXEL_MODEL)
    level = zoo.pixel_model(pixel).base_level
    bases = [vaecodec.decode(vaecodec.encode(x, model=args.model, quality=level))
             for x in (train, test)]
    planes = train.shape[-1]
    print(f"{args.set}: {len(train)} training, {len(test)} test images; base: level {level} "
          f"of {args.model}")
    for parts in ((), ("gradients",), ("gradients", "base"), ("gradients", "plane"),
                  ("gradients", "plane", "equal"), ("gradients", "plane", "match"),
                  ("gradients", "plane", "equal", "match"),
                  ("gradients", "plane", "equal", "match", "base")):
        tr_ids, tr_sym, size = contexts(train, bases[0], set(parts))
        te_ids, te_sym, _ = contexts(test, bases[1], set(parts))
        bits = code_length((tr_ids, tr_sym), (te_ids, te_sym), planes, size, args.weight)
        seen = len(np.unique(tr_ids))
        print(f"  {'+'.join(parts) or '(the plane alone)':36s} {size:8d} contexts "
              f"({seen} seen in training)  {bits * planes:6.3f} bits/pixel")
    if not args.speed_images:
        return
    speed = decode_speed(test[: args.speed_images], args.repeat)
    print(f"  table decoder's loop: {speed:.0f} images/s ({args.speed_images} images, "
          f"median of {args.repeat})")


if __name__ == "__main__":
    main()
