"""What compression costs a classifier trained on the decoded images.

    python benchmarks/bench_learning.py --data ../shared/data --json docs/data/bench_learning.json

A LeNet-5 (examples/classifier.py) is trained for --epochs on the MNIST training
split as decoded from .vaez files at each --levels level and lossless, and on the
original images, each with --seeds seeds; every model is tested on the original test
images. Training data, bytes per image and test accuracy (mean and each seed) are printed.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

import vaecodec
from vaecodec.data.mnist import mnist_images, mnist_labels

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
from classifier import accuracy, fit, lenet  # noqa: E402


def as_tensor(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.array(images)).float().div(255).unsqueeze(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--levels", default="1,4,7")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--json", default=None)
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N images of each split (a quick run)")
    args = parser.parse_args()
    n = args.limit
    train, labels = mnist_images(args.data, "train")[:n], mnist_labels(args.data, "train")[:n]
    test = as_tensor(mnist_images(args.data, "test")[:n])
    test_labels = torch.from_numpy(mnist_labels(args.data, "test")[:n].astype(np.int64))
    variants = [("original", None, {})]
    variants += [(f"level {q}", q, {"quality": q}) for q in map(int, args.levels.split(","))]
    variants += [("lossless", "lossless", {"lossless": True})]
    rows = []
    for label, key, options in variants:
        if options:
            data = vaecodec.encode(train, **options)
            images, size = vaecodec.decode(data), len(data) / len(train)
        else:
            images, size = train, None
        psnr = (None if options == {} or options.get("lossless") else float(
            10 * np.log10(255**2 / np.mean((images.astype(np.float64) - train) ** 2))))
        accs = []
        for seed in range(args.seeds):
            torch.manual_seed(seed)
            loader = DataLoader(TensorDataset(as_tensor(images),
                                              torch.from_numpy(labels.astype(np.int64))),
                                batch_size=128, shuffle=True)
            start = time.perf_counter()
            model = fit(lenet(), loader, args.epochs)
            accs.append(accuracy(model, test, test_labels))
            seconds = time.perf_counter() - start
        rows.append({"training images": label, "bytes_per_image": size and round(size, 2),
                     "train_psnr_db": psnr and round(psnr, 2),
                     "test_accuracy": round(float(np.mean(accs)), 4),
                     "accuracies": [round(a, 4) for a in accs],
                     "train_seconds": round(seconds, 1)})
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": " ".join(["python", "benchmarks/bench_learning.py", *sys.argv[1:]]),
             "epochs": args.epochs, "seeds": args.seeds, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
