"""Lossless and max-error modes on the MNIST test split: size, bound, PSNR and speed.

    python benchmarks/bench_residual.py --data ../shared/data --repeat 3 \
        --json docs/data/residual.json

For lossless and each K in --max-errors: vaecodec.encode(images, max_error=K) and
vaecodec.decode on the whole split (medians of --repeat runs for lossless, of
--repeat-bounded runs for K > 0, which are about 4x slower), checking that every pixel is
within +-K; in the same run, per-image PNG (Pillow, optimize) and lzma over the raw array
as baselines for size and speed.
"""

from __future__ import annotations

import argparse
import json
import lzma
import statistics
import time

import numpy as np

import vaecodec
from vaecodec.data import mnist
from vaecodec.eval import benchmark, metrics


def timed(func, repeat: int):
    times, result = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


CLASSES = {"0": (0, 0), "1-4": (1, 4), "5-250": (5, 250), "251-255": (251, 255)}


def bits_breakdown(images: np.ndarray, max_error: int, both_ends: bool) -> dict:
    """Residual bits per image (ideal code length) split by the original pixel value."""
    from vaecodec.train import pixel as pixel_training
    from vaecodec.zoo import PIXEL_MODEL, Zoo

    zoo = Zoo.installed()
    model = zoo.pixel_model(zoo.find(None, PIXEL_MODEL))
    latent = pixel_training.base_symbols(zoo.level(model.base_level), images, zoo)
    bits = pixel_training.pixel_bits(model, images, model.base_pixels(latent), max_error, latent,
                                     both_ends)
    values = images.reshape(bits.shape)
    out = {"max_error": max_error, "bits_per_image": float(bits.sum() / len(images)),
           "classes": {}}
    print(f"max error {max_error}: residual {out['bits_per_image']:.1f} bits/image (ideal)")
    for name, (lo, hi) in CLASSES.items():
        mask = (values >= lo) & (values <= hi)
        row = {"pixels_per_image": float(mask.sum() / len(images)),
               "bits_per_image": float(bits[mask].sum() / len(images))}
        out["classes"][name] = row
        print(f"  values {name:8s} {row['pixels_per_image']:6.1f} pixels/image  "
              f"{row['bits_per_image']:6.1f} bits/image  "
              f"({row['bits_per_image'] / max(row['pixels_per_image'], 1e-9):.2f} bits each)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per timing (median)")
    parser.add_argument("--repeat-bounded", type=int, default=1,
                        help="runs per timing for K > 0 (default: %(default)s)")
    parser.add_argument("--limit", type=int, help="only the first N test images")
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST")
    parser.add_argument("--model", metavar="FAMILY",
                        help="vaecodec's model family (default: the shipped mnist)")
    parser.add_argument("--pixel-model", metavar="NAME",
                        help="the shipped family's pixel model to measure (default: its "
                             "default one, DEFAULT_PIXEL_MODEL)")
    parser.add_argument("--layout", type=int, choices=[1, 2],
                        help="write every file in this residual payload layout (default: "
                             "what vaecodec writes, coders.residual_coder)")
    parser.add_argument("--max-errors", type=int, nargs="*", default=[0, 1, 2, 4, 8, 16, 32],
                        help="max errors to run (default: 0 1 2 4 8 16 32; 0 is lossless)")
    parser.add_argument("--json", help="write the rows here")
    parser.add_argument("--breakdown", type=int, nargs="*", default=[], metavar="K",
                        help="also print where the residual's bits go, by original pixel "
                             "value, for these max errors (ideal code lengths)")
    args = parser.parse_args()
    if args.pixel_model:  # what encode() picks for the shipped family
        from vaecodec.zoo import models as zoo_models

        zoo_models.DEFAULTS[zoo_models.PIXEL_MODEL] = args.pixel_model
    if args.layout:  # layout 1's levels, as vaecodec wrote max-error files before layout 2
        from vaecodec.core import coders

        coders.residual_coder = lambda max_error: coders.RESIDUAL_CODERS[args.layout]
    images = mnist.mnist_images(args.data, "test", args.dataset)[: args.limit]
    n, pixels = len(images), images.size
    print(f"{n} test images, medians of {args.repeat} runs")
    print(f"{'codec':24s} {'B/image':>8s} {'bpp':>6s} {'max err':>7s} {'PSNR':>6s} "
          f"{'enc img/s':>9s} {'dec img/s':>9s}")
    rows = []

    def report(name, size, decoded, enc_s, dec_s, **extra):
        err = int(np.abs(decoded.astype(int) - images).max())
        psnr = None if err == 0 else metrics.psnr(images, decoded)
        row = {"codec": name, "bytes_per_image": size / n, "bits_per_pixel": 8 * size / pixels,
               "max_abs_error": err, "psnr_db": psnr, "encode_images_per_s": n / enc_s,
               "decode_images_per_s": n / dec_s, **extra}
        rows.append(row)
        print(f"{name:24s} {row['bytes_per_image']:8.2f} {row['bits_per_pixel']:6.3f} "
              f"{err:7d} {'exact' if psnr is None else f'{psnr:6.2f}':>6s} "
              f"{row['encode_images_per_s']:9,.0f} {row['decode_images_per_s']:9,.0f}", flush=True)
        return row

    # the RD benchmark's per-image Pillow path, here in one process
    blobs, enc_s = timed(lambda: benchmark.pillow_encode("PNG", {"optimize": True}, images),
                         args.repeat)
    decoded, dec_s = timed(lambda: benchmark.pillow_decode(blobs, images.shape), args.repeat)
    report("PNG per image (1 core)", sum(map(len, blobs)), decoded, enc_s, dec_s)
    raw = images.tobytes()
    blob, enc_s = timed(lambda: lzma.compress(raw, preset=9 | lzma.PRESET_EXTREME), args.repeat)
    back, dec_s = timed(lambda: lzma.decompress(blob), args.repeat)
    report("lzma (raw array)", len(blob), np.frombuffer(back, np.uint8).reshape(images.shape),
           enc_s, dec_s)
    lossless_size = None
    for k in args.max_errors:
        repeat = args.repeat if k == 0 else args.repeat_bounded
        data, enc_s = timed(lambda: vaecodec.encode(images, max_error=k, model=args.model),
                            repeat)
        decoded, dec_s = timed(lambda: vaecodec.decode(data), repeat)
        name = "vaecodec lossless" if k == 0 else f"vaecodec --max-error {k}"
        row = report(name, len(data), decoded, enc_s, dec_s, max_error=k)
        if row["max_abs_error"] > k:
            raise SystemExit(f"BOUND VIOLATED: max error {row['max_abs_error']} > {k}")
        if k == 0:
            lossless_size = len(data)
        elif lossless_size:
            row["fraction_of_lossless"] = len(data) / lossless_size
            print(f"{'':24s} {row['fraction_of_lossless']:.1%} of the lossless size")
    breakdown = [bits_breakdown(images, k, args.layout != 1) for k in args.breakdown]
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"images": n, "repeat": args.repeat, "repeat_bounded": args.repeat_bounded,
                       "pixel_model": args.pixel_model, "layout": args.layout, "rows": rows,
                       "breakdown": breakdown},
                      f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
