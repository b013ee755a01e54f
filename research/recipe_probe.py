"""Train one recipe on a few images and print each level's bytes and PSNR on held-out
images beside the mean image's PSNR: the probe behind the ``auto`` recipe (issue 28,
docs/notes/training.md#training-on-few-images).

    python research/recipe_probe.py --dataset FashionMNIST --train 2000 \
        '{"name": "x", "hidden": [1024, 512], "distortion": "mse", "mse_sigma": 0.05,
          "steps": 6000, "kl_warmup": 0.3, "lr_schedule": "cosine"}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.train import export, family, loop
from vaecodec.train.recipes import Recipe
from vaecodec.zoo import ModelInfo
from vaecodec.zoo.families import Family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", help="a recipe as JSON (Recipe fields)")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--dataset", default="FashionMNIST")
    parser.add_argument("--npy", help="train on the first --train images of this .npy "
                        "(N, H, W) and measure on its last --valid")
    parser.add_argument("--valid-npy", help="with --npy: measure on the first --valid "
                        "images of this .npy instead")
    parser.add_argument("--train", type=int, default=2000)
    parser.add_argument("--valid", type=int, default=1000)
    parser.add_argument("--time-budget", type=float)
    args = parser.parse_args()
    if args.npy:
        images = np.load(args.npy)
        train, valid = images[:args.train], images[-args.valid:]
        if args.valid_npy:
            valid = np.load(args.valid_npy)[:args.valid]
    else:
        train = mnist.mnist_images(args.data, "train", args.dataset)[:args.train]
        valid = mnist.mnist_images(args.data, "test", args.dataset)[:args.valid]
    recipe = Recipe.from_dict(json.loads(args.recipe))
    from vaecodec.pipeline.chunk import dark_on_light
    if 2 * dark_on_light(train.reshape(len(train), -1), train.shape[1:]).sum() > len(train):
        train, valid = 255 - train, 255 - valid  # light on dark, as vaecodec train does
    started = time.time()
    model = loop.train(recipe, train, log=lambda line: None, time_budget=args.time_budget)
    seconds = time.time() - started
    shape = list(train.shape[1:])
    info = ModelInfo.in_memory("probe", export.export_weights(model), {
        "kind": "vae", "architecture": {"type": "mlp-vae", "latent_size": recipe.latent_size,
                                         "hidden": list(recipe.hidden), "image_shape": shape}})
    levels = family.fit_priors(info, family.level_steps(recipe), train)
    from vaecodec import codec
    from vaecodec.zoo import Zoo
    zoo = Zoo().with_family(Family("probe", "probe", None, 1), [info], levels)
    mean = np.broadcast_to(train.mean(0).round().astype(np.uint8), valid.shape)
    rows = []
    for level in levels:
        data = codec.encode(valid, quality=level.level, model="probe", zoo=zoo)
        psnr = metrics.psnr(valid, codec.decode(data, zoo=zoo))
        rows.append((level.quant_step, len(data) / len(valid), psnr))
    fit = codec.encode(train[:1000], quality=len(levels), model="probe", zoo=zoo)
    train_psnr = metrics.psnr(train[:1000], codec.decode(fit, zoo=zoo))
    print(json.dumps({"recipe": recipe.to_dict(), "train": len(train), "seconds": round(seconds),
                      "train_psnr_best_level": round(train_psnr, 2),
                      "mean_psnr": round(metrics.psnr(valid, mean), 2),
                      "levels": [(s, round(b, 1), round(p, 2)) for s, b, p in rows]}))


if __name__ == "__main__":
    main()
