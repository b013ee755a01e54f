"""A grayscale family's two kinds of pixel model, on the same VAE and levels (issue 28):
a model of the values (layouts 1 and 2) against one of the differences from LOCO-I's
median edge detector (layout 3, predictor "med"). One ``train_family`` run with its
pixel-model stage run twice, each in the stage's time; both measured on held-out test
images (lossless bits per pixel, --max-error 4 bytes per image). Named in
docs/notes/training.md ("Grayscale families choose too").

    python tools/make_train_sets.py --out build/train-sets
    python research/pixel_kind_probe.py build/train-sets/tiles-train.npy \
        build/train-sets/tiles-test.npy --budget 300
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import vaecodec
from vaecodec.train import pixel
from vaecodec.zoo import ModelInfo, Zoo
from vaecodec.zoo.families import Family


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("train", help="a .npy array (N, H, W) of training images")
    parser.add_argument("test", help="a .npy array (N, H, W) of held-out images")
    parser.add_argument("--budget", type=float, default=300.0, help="--time-budget, seconds")
    args = parser.parse_args()
    made: dict[str, tuple] = {}
    seconds: dict[str, float] = {}
    train_pixel_model = pixel.train_pixel_model

    def both(*a, **k):  # the family's own stage, run once per kind with the same budget
        for kind, predictor in (("values", None), ("med", "med")):
            started = time.monotonic()
            made[kind] = train_pixel_model(*a, **dict(k, predictor=predictor))
            seconds[kind] = time.monotonic() - started
        return made["values"]

    pixel.train_pixel_model = both  # train_family imports it from the module when it runs
    from vaecodec.train.family import train_family

    test = np.load(args.test)
    trained = train_family(np.load(args.train), "probe", time_budget=args.budget,
                           log=lambda line: None)
    vae = trained.models[0]
    for kind, (tensors, meta) in made.items():
        model = ModelInfo.in_memory("probe.pixel", tensors, meta)
        zoo = Zoo().with_family(Family("probe", vae.name, model.name,
                                       trained.family.default_level), [vae, model],
                                trained.levels)
        exact = vaecodec.encode(test, lossless=True, model="probe", zoo=zoo)
        assert np.array_equal(vaecodec.decode(exact, zoo=zoo), test)
        bounded = vaecodec.encode(test, max_error=4, model="probe", zoo=zoo)
        print(f"{kind:7s} lossless {8 * len(exact) / test.size:.3f} bits/pixel, --max-error 4 "
              f"{len(bounded) / len(test):.1f} B/image, trained in {seconds[kind]:.0f} s")


if __name__ == "__main__":
    main()
