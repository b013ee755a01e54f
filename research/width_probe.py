"""The auto recipe's network width for colour (issue 29): one ``train_family`` run with
``auto_recipe``'s hidden widths replaced, under a time budget, printing each level's bytes
and PSNR on the family's validation split, its lossless rate and the family file's size.
Named in docs/notes/training.md ("The network's width").

    python tools/make_train_sets.py --colour --out build/colour-sets
    python research/width_probe.py build/colour-sets/icons-train.npy --hidden 512 256 \
        --budget 600
"""

from __future__ import annotations

import argparse
import dataclasses
import time

import numpy as np

from vaecodec.train import recipes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", help="a .npy array (N, H, W[, C]) of training images")
    parser.add_argument("--hidden", type=int, nargs="+", required=True,
                        help="the encoder's hidden widths (the decoder mirrors them)")
    parser.add_argument("--budget", type=float, default=600.0, help="--time-budget, seconds")
    parser.add_argument("--out", help="write the family file here")
    args = parser.parse_args()
    auto = recipes.auto_recipe

    def widened(count, shape, time_budget=None):
        recipe, why = auto(count, shape, time_budget)
        return dataclasses.replace(recipe, hidden=tuple(args.hidden)), why

    recipes.auto_recipe = widened  # train_family imports it from the module when it runs
    from vaecodec.train.family import train_family

    started = time.monotonic()
    trained = train_family(np.load(args.train), "probe", time_budget=args.budget,
                           started=started, log=lambda line: None)
    print(f"hidden {args.hidden}: {time.monotonic() - started:.0f} s, family file "
          f"{len(trained.data) / 1e6:.1f} MB, problems {trained.problems or 'none'}")
    for level in trained.levels:
        print(f"  level {level.level} (step {level.quant_step}): "
              f"{level.measured['bytes_per_image']:.2f} B, {level.measured['psnr_db']:.2f} dB")
    print(f"  lossless {trained.family.metadata['validation']['lossless_bits_per_pixel']} "
          "bits/pixel (validation)")
    if args.out:
        with open(args.out, "wb") as f:
            f.write(trained.data)


if __name__ == "__main__":
    main()
