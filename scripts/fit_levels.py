"""Fit the quality levels' priors on the MNIST training split and measure them on the test
split; writes checkpoints/levels.json.

    python scripts/fit_levels.py --data ../shared/data

A released level must never change (files name it by number): add levels, don't edit them.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vaecodec import datasets, levels

# (model, quantization step) per level, lowest rate first
LEVELS = [
    ("vae-default", 1.0),
    ("vae-default", 0.65),
    ("vae-default", 0.4),
    ("vae-default", 0.2),  # the default level: vaecodec 1.0's default model and step
    ("vae-mse-s05", 0.3),
    ("vae-mse-s05", 0.1),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default="checkpoints/levels.json", help="output file")
    args = parser.parse_args()
    rows = levels.fit_levels(LEVELS, datasets.mnist_images(args.data, "train"),
                             datasets.mnist_images(args.data, "test"))
    Path(args.out).write_text(json.dumps({"levels": rows}, indent=1) + "\n")
    for row in rows:
        m = row["measured"]
        print(f"level {row['level']}: {row['model']} step {row['quant_step']}: "
              f"{m['bytes_per_image']:.2f} B/image (zstd {m['bytes_per_image_zstd']:.2f}), "
              f"{m['psnr_db']:.2f} dB, SSIM {m['ssim']:.4f}, one image "
              f"{m['single_image_file_bytes_mean']:.1f} B (max {m['single_image_file_bytes_max']})")


if __name__ == "__main__":
    main()
