"""Probe: the latent search's gradient descent (``core.search.descend``), its steps, rate
and the sweeps after it, level by level.

    python research/descent_probe.py --data ../shared/data --images 1000 --levels 14 4 8 \
        --descent-steps 0 10 20 40 --descent-rate 0.02 0.05 --sweeps 1 2 4

For each level and setting, ``search.search_symbols`` on the first N test images with the
level's prior: bytes/image (ideal code length under the prior), PSNR of the exact decoder
(what a file decodes to) and the search's speed (numpy, as ``encode(search=True)`` runs
it). ``--descent-steps 0`` is the search without the descent (as first shipped, with
``--sweeps 4``); ``--sweeps 0`` rounds the descended latent (keeping the rounded mean
where that costs less); ``--lam`` weighs the bits (0: squared error alone);
``--unquantized`` also prints the float decoder's PSNR of the descended latents
themselves. A measurement only (docs/notes/training.md, "Choosing the symbols by a search"); no
file is written.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np

from vaecodec.core import quantize, search
from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.pipeline.settings import Settings, resolve


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--images", type=int, default=1000, help="first N test images")
    parser.add_argument("--levels", type=int, nargs="+", default=[14, 4, 8])
    parser.add_argument("--descent-steps", type=int, nargs="+", default=[0, search.DESCENT_STEPS])
    parser.add_argument("--descent-rate", type=float, nargs="+", default=[search.DESCENT_RATE])
    parser.add_argument("--sweeps", type=int, nargs="+", default=[search.SWEEPS])
    parser.add_argument("--lam", type=float, default=search.LAMBDA,
                        help="bits' weight against squared error (default: %(default)s)")
    parser.add_argument("--unquantized", action="store_true",
                        help="also the PSNR of the descended latents, not rounded")
    args = parser.parse_args()

    test = mnist.mnist_images(args.data, "test")[: args.images]
    flat = test.reshape(len(test), -1)
    unit = flat.astype(np.float32) / 255
    for level in args.levels:
        settings = resolve(quality=level)
        vae, prior, step = settings.vae(), settings.prior(), settings.quant_step
        mean = vae.encode_mean(unit)
        rounded = figures(settings, flat, quantize.quantize(mean, step))
        print(f"level {level} ({settings.model.name}, step {step}), {len(test)} test images: "
              f"rounding {rounded}", flush=True)
        for steps, rate, sweeps in itertools.product(args.descent_steps, args.descent_rate,
                                                     args.sweeps):
            if steps == 0 and rate != args.descent_rate[0]:
                continue  # no descent: its rate does not matter
            started = time.perf_counter()
            symbols = search.search_symbols(vae, unit, mean, step, prior, lam=args.lam,
                                            sweeps=sweeps, descent_steps=steps,
                                            descent_rate=rate)
            speed = len(test) / (time.perf_counter() - started)
            extra = ""
            if args.unquantized:
                latents = search.descend(vae, unit, mean, step, prior, args.lam, steps, rate)
                extra = f"; unquantized {metrics.psnr(flat, vae.decode_pixels(latents)):.3f} dB"
            print(f"  descent {steps:3d} steps, rate {rate:g}, {sweeps} sweeps: "
                  f"{figures(settings, flat, symbols)} ({speed:,.0f} images/s){extra}",
                  flush=True)


def figures(settings: Settings, flat: np.ndarray, symbols: np.ndarray) -> str:
    """Bytes/image under the level's prior and the PSNR of what a file decodes to."""
    pixels = settings.vae().decode_symbols(symbols, settings.quant_step)
    bits = search.symbol_bits(settings.prior(), symbols)
    return f"{bits.mean() / 8:.2f} B, {metrics.psnr(flat, pixels):.3f} dB"


if __name__ == "__main__":
    main()
