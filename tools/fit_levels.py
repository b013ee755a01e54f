"""Fit the quality levels' priors on the MNIST training split and measure them on the test
split; writes checkpoints/levels.json.

    python tools/fit_levels.py --data ../shared/data

A released level must never change (files name it by number): add levels to
``vaecodec.train.levels.MNIST_LEVELS``, don't edit them. The levels already in the output
file are kept as they are; only the new ones are fitted and appended. Write to a new
file to fit every level afresh.
"""

from __future__ import annotations

import argparse
import sys

from vaecodec.data import mnist
from vaecodec.errors import VaezError
from vaecodec.train import levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default="checkpoints/levels.json", help="output file")
    args = parser.parse_args(argv)
    try:
        new = levels.release_levels(args.out, levels.MNIST_LEVELS,
                                    lambda split: mnist.mnist_images(args.data, split))
    except VaezError as e:
        print(f"Error: {e}", file=sys.stderr)
        return 1
    if not new:
        print(f"{args.out} already holds every level; nothing to fit")
    for level in new:
        m = level.measured
        print(f"level {level.level}: {level.model} step {level.quant_step}: "
              f"{m['bytes_per_image']:.2f} B/image (zstd {m['bytes_per_image_zstd']:.2f}), "
              f"{m['psnr_db']:.2f} dB, SSIM {m['ssim']:.4f}, one image "
              f"{m['single_image_file_bytes_mean']:.1f} B (max {m['single_image_file_bytes_max']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
