"""Fit the quality levels' priors on the MNIST training split and measure them on the test
split; writes checkpoints/levels.json.

    python scripts/fit_levels.py --data ../shared/data

A released level must never change (files name it by number): add levels, don't edit them.
The levels already in the output file are kept as they are (their priors are not refitted,
since a refit on another machine could differ in a count); only the levels of ``LEVELS``
beyond them are fitted and appended. Write to a new file to fit every level afresh.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vaecodec import datasets, levels

# (model, quantization step) per level, in order of quality (PSNR on the test split)
LEVELS = [
    ("vae-default", 1.0),
    ("vae-default", 0.65),
    ("vae-default", 0.4),
    ("vae-default", 0.2),  # the default level: vaecodec 1.0's default model and step
    ("vae-mse-s05", 0.3),
    ("vae-mse-s05", 0.1),
    # vaecodec 1.3: the model trained on shifted digits; level 7 beats levels 5 and 6 on
    # both rate and PSNR, which stay for the files that name them
    ("vae-mse-s05-aug1", 0.2),
    ("vae-mse-s05-aug1", 0.1),
    ("vae-mse-s05-aug1", 0.05),
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default="checkpoints/levels.json", help="output file")
    args = parser.parse_args(argv)
    out = Path(args.out)
    released = json.loads(out.read_text(encoding="utf-8"))["levels"] if out.is_file() else []
    if len(released) > len(LEVELS):
        raise SystemExit(f"{out} has {len(released)} levels, LEVELS only {len(LEVELS)}")
    for row, (model, step) in zip(released, LEVELS):
        if (row["model"], row["quant_step"]) != (model, step):
            raise SystemExit(f"{out}: level {row['level']} is {row['model']} step "
                             f"{row['quant_step']}, LEVELS says {model} step {step}; a "
                             "released level cannot change: add a new one instead")
    if len(released) == len(LEVELS):
        print(f"{out} already holds every level of LEVELS; nothing to fit")
        return
    new = levels.fit_levels(LEVELS[len(released):], datasets.mnist_images(args.data, "train"),
                            datasets.mnist_images(args.data, "test"), first=len(released) + 1)
    out.write_text(json.dumps({"levels": released + new}, indent=1) + "\n", encoding="utf-8")
    print(f"kept levels 1..{len(released)} of {out}" if released else f"wrote {out}")
    for row in new:
        m = row["measured"]
        print(f"level {row['level']}: {row['model']} step {row['quant_step']}: "
              f"{m['bytes_per_image']:.2f} B/image (zstd {m['bytes_per_image_zstd']:.2f}), "
              f"{m['psnr_db']:.2f} dB, SSIM {m['ssim']:.4f}, one image "
              f"{m['single_image_file_bytes_mean']:.1f} B (max {m['single_image_file_bytes_max']})")


if __name__ == "__main__":
    main()
