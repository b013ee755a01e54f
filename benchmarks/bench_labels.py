"""What labels and metadata cost: archive bytes and reading time, on the MNIST test split.

    python benchmarks/bench_labels.py --data ../shared/data --json docs/data/bench_labels.json

The --limit first test digits, compressed at level 4 (and --lossless) as a user would from
the IDX files: ``compress t10k-images-idx3-ubyte OUT`` against ``compress
t10k-images-idx3-ubyte OUT --labels t10k-labels-idx1-ubyte`` (format version 6), and
once more with a metadata dict per image (``{"source": "mnist-test", "index": i}``, from
the API). Prints bytes per image of each and the difference, and the median (--repeat
runs) of reading every label (``vaecodec.open(path).labels``, a fresh reader each run)
against decoding every image (``archive[:]``) of the same archive.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import vaecodec
from vaecodec import files
from vaecodec.arrays import read_idx_labels
from vaecodec.data.mnist import mnist_images


def median_seconds(func, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--limit", type=int, default=10000, help="test digits used")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--json", dest="json_out", help="also write the figures to this file")
    args = parser.parse_args()

    raw = Path(args.data) / "MNIST" / "raw"
    images = mnist_images(args.data, "test")[: args.limit]
    labels = read_idx_labels(raw / "t10k-labels-idx1-ubyte")[: args.limit]
    n = len(images)
    rows = []
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        np.save(tmp / "digits.npy", images)
        np.save(tmp / "labels.npy", labels)
        for mode, options in (("level 4", {}), ("lossless", {"lossless": True})):
            plain, labelled, with_meta = (tmp / f"{mode}-{k}.vaez" for k in ("a", "b", "c"))
            files.compress([tmp / "digits.npy"], plain, **options)
            files.compress([tmp / "digits.npy"], labelled, labels=tmp / "labels.npy",
                           **options)
            with vaecodec.open(with_meta, "w", **options) as out:
                out.write(images, names=[f"digits/{i:05d}.png" for i in range(n)],
                          labels=labels,
                          meta=[{"source": "mnist-test", "index": i} for i in range(n)])
            sizes = {p: p.stat().st_size for p in (plain, labelled, with_meta)}
            with vaecodec.open(labelled) as archive:
                assert np.array_equal(archive.labels, labels)
            read_labels = median_seconds(lambda: vaecodec.open(labelled).labels, args.repeat)
            decode = median_seconds(lambda: vaecodec.open(labelled)[:], args.repeat)
            row = {"mode": mode, "images": n,
                   "bytes_per_image": sizes[plain] / n,
                   "with_labels": sizes[labelled] / n,
                   "with_labels_and_metadata": sizes[with_meta] / n,
                   "labels_cost": (sizes[labelled] - sizes[plain]) / n,
                   "metadata_cost": (sizes[with_meta] - sizes[labelled]) / n,
                   "read_labels_s": read_labels, "decode_images_s": decode}
            rows.append(row)
            print(f"{mode:9s} {n} digits: {row['bytes_per_image']:.2f} B/image, with labels "
                  f"{row['with_labels']:.2f} (+{row['labels_cost']:.3f}), with metadata "
                  f"{row['with_labels_and_metadata']:.2f} (+{row['metadata_cost']:.3f}); "
                  f"every label read in {read_labels:.3f} s, every image decoded in "
                  f"{decode:.3f} s (medians of {args.repeat})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps({"rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
