"""Fit the residual layer's pixel model (lossless / --max-error modes) and ship it.

    python tools/train_pixel_model.py --data ../shared/data --out checkpoints/

trains on the MNIST training split only, converts the network to integers, writes
OUT/NAME.safetensors and OUT/NAME.json (recipe, data checksums, sha256, and the ideal
lossless code length of the residual on the test split under the integer model).
"""

from __future__ import annotations

import argparse
import sys
import time

from vaecodec.core import residual
from vaecodec.data import mnist
from vaecodec.train import pixel
from vaecodec.zoo import Zoo


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
    parser.add_argument("--qat-epochs", type=float, default=0.0,
                        help="then fine-tune this many epochs through the integer "
                             "network's rounding (quantization-aware; default: %(default)s)")
    parser.add_argument("--extras", nargs="*", default=[], choices=residual.EXTRAS,
                        help="inputs besides the causal neighbours and the base window: the "
                             "pixel's position, the base layer's latent symbols")
    parser.add_argument("--context-max-error", type=int, default=0, metavar="K",
                        help="fit on neighbours quantized as --max-error K files see them")
    parser.add_argument("--level-loss", action="store_true",
                        help="with --context-max-error: fit the probability of each pixel's "
                             "level of K instead of its value's")
    parser.add_argument("--score-max-errors", type=int, nargs="*", default=[], metavar="K",
                        help="also print the residual's ideal code length on the test images "
                             "at these max errors (residual layout 2's levels)")
    parser.add_argument("--train-images", type=int, help="use only the first N training images")
    parser.add_argument("--test-images", type=int, default=10000,
                        help="test images for the reported code length (default: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-base", action="store_true",
                        help="measurement only: fit and score without the VAE base layer "
                             "(an all-black base image); not a model vaecodec can use")
    args = parser.parse_args(argv)
    if args.level_loss and not args.context_max_error:
        parser.error("--level-loss needs --context-max-error K (K > 0)")

    train = mnist.mnist_images(args.data, "train")[: args.train_images]
    test = mnist.mnist_images(args.data, "test")[: args.test_images]
    kept: dict = {}
    tensors, meta = pixel.train_pixel_model(
        train, base_level=args.base_level, hidden=args.hidden, epochs=args.epochs,
        seed=args.seed, use_base=not args.no_base, keep_float=kept,
        qat_epochs=args.qat_epochs, extras=tuple(args.extras),
        context_max_error=args.context_max_error, level_loss=args.level_loss)
    started = time.time()
    data = {"dataset": "MNIST", "train_split": f"train ({len(train)} images)",
            "sha256": mnist.checksums(args.data)}
    info, bits = pixel.save_pixel_model(args.out, args.name, tensors, meta, test, data=data)
    print(f"wrote {info.weights_path}: residual {bits:.1f} bits/image = "
          f"{bits / test[0].size:.4f} bits/pixel on {len(test)} test images (integer model; "
          f"{time.time() - started:.0f} s); "
          + ("no base layer" if args.no_base else f"base level {args.base_level}"))
    zoo = Zoo.installed().with_models(info)
    model = zoo.pixel_model(info)
    latent = pixel.base_symbols(zoo.level(model.base_level), test, zoo)
    base = model.base_pixels(latent)
    if args.no_base:  # as it was fitted: an all-black base image
        base[:] = 0
    if not args.qat_epochs:  # what the integer conversion cost
        print(f"the float network before conversion: "
              f"{pixel.float_bits_per_image(kept['net'], model, test, base, latent):.1f} "
              "bits/image")
    for k in args.score_max_errors:
        bits = pixel.pixel_bits(model, test, base, k, latent).sum() / len(test)
        print(f"--max-error {k}: residual {bits:.1f} bits/image on {len(test)} test images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
