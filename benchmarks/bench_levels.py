"""Encode and decode speed from arrays at every quality level (MNIST test split).

    python benchmarks/bench_levels.py --data ../shared/data --repeat 5 [--invert]

Times vaecodec.encode(images, quality=L) and vaecodec.decode(data) on the whole split,
median of --repeat runs each, and prints images/s with the file size and PSNR.
"""

from __future__ import annotations

import argparse
import statistics
import time

import vaecodec
from vaecodec.data import mnist
from vaecodec.eval import metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--coder", choices=["range", "zstd"], default="range")
    parser.add_argument("--invert", action="store_true",
                        help="the digits dark on light (255 - pixels), as scans are")
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N images of each split (a quick run)")
    args = parser.parse_args()
    images = mnist.mnist_images(args.data, "test")[: args.limit]
    if args.invert:
        images = 255 - images
    n = len(images)
    print(f"{n} images{' (inverted)' if args.invert else ''}, coder {args.coder}, medians of "
          f"{args.repeat} runs")
    print("level  bytes/image  PSNR (dB)  encode images/s  decode images/s")
    for level in vaecodec.list_levels():
        enc, dec = [], []
        for _ in range(args.repeat):
            start = time.perf_counter()
            data = vaecodec.encode(images, quality=level.level, coder=args.coder)
            enc.append(time.perf_counter() - start)
            start = time.perf_counter()
            decoded = vaecodec.decode(data)
            dec.append(time.perf_counter() - start)
        print(f"{level.level:5d}  {len(data) / n:11.2f}  {metrics.psnr(images, decoded):9.2f}"
              f"  {n / statistics.median(enc):15,.0f}  {n / statistics.median(dec):15,.0f}")


if __name__ == "__main__":
    main()
