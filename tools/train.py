"""Train a vaecodec model from scratch and write its weights and metadata.

    python tools/train.py --recipe default --data ../shared/data --out checkpoints/

writes OUT/vae-<recipe>.safetensors (the weights) and OUT/vae-<recipe>.json (recipe,
hyperparameters, seed, data checksums, weights sha256, test-split metrics).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

from vaecodec.data import mnist
from vaecodec.train import export, loop
from vaecodec.train.recipes import RECIPES


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Train a vaecodec VAE on the MNIST training split.")
    parser.add_argument("--recipe", choices=sorted(RECIPES), default="default",
                        help="training recipe (default: %(default)s; 'seed' is the reference)")
    parser.add_argument("--data", default="../shared/data",
                        help="MNIST root in torchvision's layout; downloaded there when missing")
    parser.add_argument("--out", default="checkpoints", help="output folder (default: %(default)s)")
    parser.add_argument("--epochs", type=int, help="override the recipe's number of epochs")
    parser.add_argument("--seed", type=int, help="override the recipe's seed")
    parser.add_argument("--device", default="cpu", help="torch device (default: %(default)s)")
    args = parser.parse_args(argv)

    recipe = RECIPES[args.recipe]
    overrides = {k: v for k, v in (("epochs", args.epochs), ("seed", args.seed)) if v is not None}
    if overrides:
        recipe = dataclasses.replace(recipe, **overrides)
    start = time.perf_counter()
    model = loop.train(recipe, mnist.mnist_images(args.data, "train"), device=args.device)
    seconds = time.perf_counter() - start
    info = export.save_checkpoint(model, recipe, Path(args.out),
                                  mnist.mnist_images(args.data, "test"), data_root=args.data,
                                  train_seconds=seconds)
    print(f"wrote {info.weights_path} and its .json ({seconds:.0f} s of training)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
