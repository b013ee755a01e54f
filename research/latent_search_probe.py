"""Probe: choosing each image's latent symbols by a rate-distortion search instead of rounding.

    python research/latent_search_probe.py --data ../shared/data --images 2000 --step 1.25 \
        --lam 0.04 --sweeps 1 2 4

An encoder-side change only (a decoder reads the symbols as ever). For a level's model
(default: level 10's, ``vae-rd-s04-aug1``) at a quantization step, with the prior fitted
on the training split's rounded symbols at that step (as ``fit_levels.py`` fits a level's),
each test image starts from the rounded mean; then, ``--sweeps`` times over the latent
dimensions, one symbol at a time is moved to the other neighbour of the mean (``other``)
or by +-1 (``pm1``) when that lowers squared error (pixels in [0, 1], summed) + ``lam`` x
bits under the prior; ``--lam -1`` accepts a move only when it lowers the error without
adding bits (never bigger, never worse). Prints bytes/image (ideal code length) and PSNR
of the float decoder's pixels, and the search's speed with torch on one thread.

A measurement only (docs/notes/training.md, "Choosing the symbols by a search"), in torch with
the variants vaecodec does not ship (moves of +-1, no bits added); what it ships is
vaecodec/core/search.py. No file is written.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from vaecodec.core import entropy, quantize, search
from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.zoo import Zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--images", type=int, default=2000, help="first N test images")
    parser.add_argument("--level", type=int, default=10, help="the level whose model to use")
    parser.add_argument("--step", type=float, default=1.25)
    parser.add_argument("--lam", type=float, nargs="+", default=[0.04],
                        help="bits' weight against squared error; -1: no bits added")
    parser.add_argument("--sweeps", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--moves", nargs="+", default=["other", "pm1"],
                        choices=["other", "pm1"])
    args = parser.parse_args()

    import torch

    torch.set_num_threads(1)
    zoo = Zoo.installed()
    vae = zoo.vae(zoo.level_model(zoo.level(args.level)))
    train = mnist.mnist_images(args.data, "train")
    test = mnist.mnist_images(args.data, "test")[: args.images]
    flat = test.reshape(len(test), -1)
    x = flat.astype(np.float32) / 255
    step = args.step
    prior = entropy.fit_prior(quantize.quantize(
        vae.encode_mean(train.reshape(len(train), -1).astype(np.float32) / 255), step))
    mean = vae.encode_mean(x)
    layers = [(torch.from_numpy(np.asarray(w, np.float32)),
               torch.from_numpy(np.asarray(b, np.float32))) for w, b in vae.decoder]
    target = torch.from_numpy(x)

    def bits(symbols: np.ndarray) -> np.ndarray:  # under the prior, as encode(search=True)
        return search.symbol_bits(prior, symbols)

    def decoded(symbols: np.ndarray):
        h = torch.from_numpy((symbols * step).astype(np.float32))
        with torch.no_grad():
            for i, (w, b) in enumerate(layers):
                h = h @ w + b
                if i < len(layers) - 1:
                    h = torch.relu(h)
            return torch.sigmoid(h)

    def figures(symbols: np.ndarray) -> str:
        pixels = np.clip(np.rint(decoded(symbols).numpy() * 255), 0, 255).astype(np.uint8)
        return (f"{bits(symbols).mean() / 8:.3f} B/image, "
                f"{metrics.psnr(flat, pixels):.3f} dB")

    rounded = quantize.quantize(mean, step).astype(np.int64)
    other = np.where(mean / step > rounded, 1, -1)  # toward the other neighbour of the mean
    print(f"{vae_name(zoo, args.level)} at step {step}, {len(test)} test images: "
          f"rounding {figures(rounded)}")
    for lam in args.lam:
        for moves in args.moves:
            for sweeps in args.sweeps:
                symbols, started = rounded.copy(), time.perf_counter()
                error = ((decoded(symbols) - target) ** 2).sum(1).numpy()
                cost = bits(symbols)
                for _ in range(sweeps):
                    for d in range(symbols.shape[1]):
                        for delta in ((-1, 1) if moves == "pm1" else (None,)):
                            trial = symbols.copy()
                            if delta is None:
                                trial[:, d] = np.where(trial[:, d] == rounded[:, d],
                                                       rounded[:, d] + other[:, d],
                                                       rounded[:, d])
                            else:
                                trial[:, d] += delta
                            t_error = ((decoded(trial) - target) ** 2).sum(1).numpy()
                            t_cost = bits(trial)
                            if lam < 0:
                                better = (t_cost <= cost) & (t_error < error)
                            else:
                                better = t_error + lam * t_cost < error + lam * cost
                            symbols[better], error[better] = trial[better], t_error[better]
                            cost[better] = t_cost[better]
                rate = len(test) / (time.perf_counter() - started)
                print(f"  lam {lam}, {moves}, {sweeps} sweeps: {figures(symbols)} "
                      f"({rate:,.0f} images/s, one thread)", flush=True)


def vae_name(zoo: Zoo, level: int) -> str:
    return f"level {level}'s model {zoo.level_model(zoo.level(level)).name}"


if __name__ == "__main__":
    main()
