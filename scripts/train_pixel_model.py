"""Fit the residual layer's pixel model (lossless / --max-error modes) and ship it.

    python scripts/train_pixel_model.py --data ../shared/data --out checkpoints/

trains on the MNIST training split only, converts the network to integers, writes
OUT/NAME.safetensors and OUT/NAME.json (recipe, data checksums, sha256, and the ideal
lossless code length of the residual on the test split under the integer model).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

from vaecodec import datasets, levels, residual, residual_training, training


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--out", default="checkpoints", help="output folder (default: %(default)s)")
    parser.add_argument("--name", default="pixel-l1", help="model name (default: %(default)s)")
    parser.add_argument("--base-level", type=int, default=1, help="quality level of the base layer")
    parser.add_argument("--hidden", type=int, default=96,
                        help="hidden units per layer (default: %(default)s, as shipped)")
    parser.add_argument("--epochs", type=float, default=6.0,
                        help="passes over the non-trivial training pixels (default: %(default)s)")
    parser.add_argument("--train-images", type=int, help="use only the first N training images")
    parser.add_argument("--test-images", type=int, default=10000,
                        help="test images for the reported code length (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-base", action="store_true",
                        help="measurement only: fit and score without the VAE base layer "
                             "(an all-black base image); not a model vaecodec can use")
    args = parser.parse_args(argv)

    from safetensors.numpy import save_file

    train = datasets.mnist_images(args.data, "train")[: args.train_images]
    test = datasets.mnist_images(args.data, "test")[: args.test_images]
    tensors, meta = residual_training.train_pixel_model(
        train, base_level=args.base_level, hidden=args.hidden, epochs=args.epochs,
        seed=args.seed, use_base=not args.no_base)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    weights = out / f"{args.name}.safetensors"
    save_file(tensors, str(weights), metadata={"format": "vaecodec-pixel-model"})
    sha = hashlib.sha256(weights.read_bytes())
    meta = {"name": args.name, "weights_file": weights.name, "weights_sha256": sha.hexdigest(),
            **meta,
            "data": {"dataset": "MNIST", "train_split": f"train ({len(train)} images)",
                     "sha256": training.mnist_checksums(args.data)}}
    model = residual.PixelModel.from_tensors(args.name, sha.digest(), meta, tensors)
    started = time.time()
    symbols = residual_training.base_symbols(levels.get(args.base_level), test)
    base = model.base_pixels(symbols)
    if args.no_base:
        base[:] = 0
        meta["kind"] = "measurement-only"  # never picked up as a usable pixel model
    bits = residual_training.bits_per_image(model, test, base)
    meta["test_metrics"] = {"images": len(test), "residual_bits_per_image": round(bits, 2),
                            "residual_bits_per_pixel": round(bits / 784, 4)}
    (out / f"{args.name}.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {weights}: residual {bits:.1f} bits/image = {bits / 784:.4f} bits/pixel "
          f"on {len(test)} test images (integer model; {time.time() - started:.0f} s); "
          + ("no base layer" if args.no_base else f"base level {args.base_level}"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
