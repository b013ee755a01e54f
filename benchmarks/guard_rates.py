"""The quality guard's false-alarm and miss rates, and what it costs.

    python benchmarks/guard_rates.py --data ../shared/data [--repeat 5]

For every shipped level, batches of 100 images are encoded with the MNIST family: digits
(should stay quiet) and Fashion-MNIST clothes (should warn); then, at levels 1, 4, 9, 10 and 13,
batches of 10 and single images (the first 2,000 of each split). The margins
(guard.GUARD_MARGIN_DB + GUARD_SMALL_DB / sqrt(n)) were chosen on the training splits; the
rates printed for the test splits are on data they were not chosen on. The cost is the
median time of encode() of the MNIST test split with and without the guard's check, in
the same run.
"""

from __future__ import annotations

import argparse
import statistics
import time
import warnings

import numpy as np

import vaecodec
from vaecodec import codec
from vaecodec.data import mnist
from vaecodec.pipeline import guard
from vaecodec.pipeline.settings import resolve


def flagged(images: np.ndarray, level: int, batch: int) -> tuple[int, int, list[float]]:
    """(batches that warned, batches, each batch's measured PSNR) at one level."""
    hits, margins = 0, []
    reports = []
    settings = resolve(quality=level)
    for start in range(0, len(images) - batch + 1, batch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", vaecodec.QualityWarning)
            codec.encode_with(settings, images[start : start + batch],
                              on_quality=reports.append)
        hits += any(issubclass(w.category, vaecodec.QualityWarning) for w in caught)
    margins = [r.expected_psnr_db - r.psnr_db for r in reports]
    return hits, len(reports), margins


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N images of each split (a quick run)")
    args = parser.parse_args()
    sets = {split: {"MNIST": mnist.mnist_images(args.data, split)[: args.limit],
                    "Fashion-MNIST": mnist.mnist_images(args.data, split,
                                                        "FashionMNIST")[: args.limit]}
            for split in ("train", "test")}
    print(f"margin {guard.GUARD_MARGIN_DB:g} + {guard.GUARD_SMALL_DB:g} / sqrt(n) dB below each "
          "level's own PSNR")
    print("split  level  batch  MNIST batches warned (false alarms)  largest MNIST gap (dB)  "
          "Fashion batches warned  smallest Fashion gap (dB)")
    runs = [(level.level, 100, None) for level in vaecodec.list_levels()]
    runs += [(level, batch, 2000) for batch in (10, 1) for level in (1, 4, 9, 10, 13)]
    for split in ("train", "test"):
        for level, batch, limit in runs:
            d_hits, d_n, d_gap = flagged(sets[split]["MNIST"][:limit], level, batch)
            f_hits, f_n, f_gap = flagged(sets[split]["Fashion-MNIST"][:limit], level, batch)
            print(f"{split:5s}  {level:5d}  {batch:5d}  {d_hits:5d} of {d_n:5d} "
                  f"({d_hits / d_n:6.2%})            {max(d_gap):6.2f}                  "
                  f"{f_hits:5d} of {f_n:5d} ({f_hits / f_n:6.2%})  {min(f_gap):6.2f}")
    images = sets["test"]["MNIST"]
    timings = {"with the guard": [], "without": []}
    original = guard.check_quality
    for _ in range(args.repeat):
        for label in timings:
            guard.check_quality = original if label == "with the guard" else (
                lambda *args: None)
            start = time.perf_counter()
            vaecodec.encode(images)
            timings[label].append(time.perf_counter() - start)
    guard.check_quality = original
    with_guard, without = (statistics.median(timings[k]) for k in timings)
    print(f"encode of {len(images)} digits (level 4), median of {args.repeat}: "
          f"{with_guard:.3f} s with the guard, {without:.3f} s without "
          f"(+{with_guard / without - 1:.0%})")


if __name__ == "__main__":
    main()
