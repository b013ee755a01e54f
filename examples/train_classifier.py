"""Train a classifier on MNIST stored as a .vaez archive, read through vaecodec.torch.

    python examples/train_classifier.py --data ../shared/data [--quality 4] [--epochs 3]

The training split is written to mnist-train.vaez (once; each image named
"<label>/<index>.png", so that labels="folder" gives the class), then a LeNet-5 is trained
on it with a DataLoader of 2 workers and tested on the original test images.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
from classifier import accuracy, fit, lenet
from torch.utils.data import DataLoader

import vaecodec
from vaecodec.data.mnist import mnist_images, mnist_labels
from vaecodec.torch import VaezDataset


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="root of MNIST/raw (torchvision layout)")
    parser.add_argument("--archive", default="mnist-train.vaez")
    parser.add_argument("--quality", type=int, default=4)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--limit", type=int, default=None,
                        help="train on the first N training images only (a quick run)")
    args = parser.parse_args()
    archive = Path(args.archive)
    if not archive.exists():
        images, labels = mnist_images(args.data, "train"), mnist_labels(args.data, "train")
        images, labels = images[: args.limit], labels[: args.limit]
        with vaecodec.open(archive, "w", quality=args.quality) as out:
            out.write(images, [f"{label}/{i:05d}.png" for i, label in enumerate(labels)])
        print(f"wrote {archive}: {archive.stat().st_size:,} bytes for {len(images):,} images")
    torch.manual_seed(0)
    train = VaezDataset(archive, labels="folder")
    loader = DataLoader(train, batch_size=128, shuffle=True, num_workers=args.workers,
                        persistent_workers=args.workers > 0)
    start = time.perf_counter()
    model = fit(lenet(len(train.classes)), loader, args.epochs, log=print)
    test = torch.from_numpy(mnist_images(args.data, "test").copy()).float().div(255).unsqueeze(1)
    labels = torch.from_numpy(mnist_labels(args.data, "test").astype("int64"))
    print(f"test accuracy {accuracy(model, test, labels):.4f} "
          f"({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
