"""The table pixel model (``core/tablemodel.py``) with and without the subtract-green
colour transform, at each pseudo-count weight ``TableModel.fit_choosing`` tries: the
test split's code length in bits per pixel (every channel of a pixel together; the
tables' ideal code length, values only: no file header nor base layer), the tables
counted on the training split (the first 40,000,000 values, as ``vaecodec train``
counts them). Issue 29's photograph tiles and issue 28's grayscale tiles against their
lossless targets (JPEG XL lossless 9.511 and 3.674 bits a pixel). Named in
docs/notes/training.md.

    python tools/make_train_sets.py --colour --out build/colour-sets
    python tools/make_train_sets.py --out build/train-sets
    python research/table_transform_probe.py build/colour-sets/icons \
        build/colour-sets/colour-tiles build/train-sets/tiles
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vaecodec.core import tablemodel
from vaecodec.core.tablemodel import TableModel

TABLE_VALUES = 40_000_000  # as vaecodec.train.family counts a table


def planes(images: np.ndarray) -> np.ndarray:
    return images if images.ndim == 4 else images[..., None]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("sets", nargs="+", help="PREFIX: PREFIX-train.npy, PREFIX-test.npy")
    parser.add_argument("--min-count", type=int, default=16)
    args = parser.parse_args()
    print("| set | transform | " + " | ".join(f"weight {w}" for w in tablemodel.WEIGHTS)
          + " | seconds to count |")
    print("|---|---|" + "---|" * (len(tablemodel.WEIGHTS) + 1))
    for prefix in args.sets:
        train = planes(np.load(f"{prefix}-train.npy"))
        test = planes(np.load(f"{prefix}-test.npy"))
        train = train[: max(1, TABLE_VALUES // train[0].size)]
        pixels = test.shape[0] * test.shape[1] * test.shape[2]
        for transform in tablemodel.TRANSFORMS[: 2 if train.shape[-1] >= 3 else 1]:
            started = time.monotonic()
            counted = TableModel.count(tablemodel.transformed(train, transform),
                                       args.min_count)
            seconds = time.monotonic() - started
            coded = tablemodel.transformed(test, transform)
            bits = [TableModel.from_counts(*counted, w).code_bits(coded) / pixels
                    for w in tablemodel.WEIGHTS]
            print(f"| {prefix.split('/')[-1]} ({len(train)} / {len(test)}) | {transform} | "
                  + " | ".join(f"{b:.3f}" for b in bits) + f" | {seconds:.1f} |", flush=True)


if __name__ == "__main__":
    main()
