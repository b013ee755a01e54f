"""Every quality level with and without encode(search=True), on a test split.

    python benchmarks/bench_search.py --data ../shared/data --json docs/data/search.json
    python benchmarks/bench_search.py --data ../shared/data --dataset FashionMNIST \
        --model fashion-mnist --json docs/data/search_fashion.json

The shipped MNIST levels on MNIST's test split, or with --model a family's levels (on
--dataset's test split). For each level: vaecodec.encode(images, quality=L) and with
search=True on the whole split (whole files, range coder), the bytes per image, the PSNR
and SSIM of vaecodec.decode, and the encoding speed (one run each, the search timed after
the plain encoder, in the same run); the decoder is the same for both.
"""

from __future__ import annotations

import argparse
import json
import time

import vaecodec
from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.zoo import Zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST",
                        help="which IDX data set under --data (default: %(default)s)")
    parser.add_argument("--model", metavar="FAMILY",
                        help="a model family's levels (default: the shipped MNIST levels)")
    parser.add_argument("--limit", type=int, help="only the first N test images")
    parser.add_argument("--levels", type=int, nargs="*", help="default: every level")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    images = mnist.mnist_images(args.data, "test", args.dataset)[: args.limit]
    n = len(images)
    levels = args.levels or [lv.level for lv in Zoo.installed().levels(args.model)]
    print(f"{n} test images")
    print(f"{'level':>5s} {'B/image':>8s} {'PSNR':>6s} {'SSIM':>6s} {'enc img/s':>9s}   "
          f"{'search: B/image':>15s} {'PSNR':>6s} {'SSIM':>6s} {'enc img/s':>9s}")
    rows = []
    for level in levels:
        row = {"level": level}
        for name, search in (("plain", False), ("search", True)):
            start = time.perf_counter()
            data = vaecodec.encode(images, quality=level, model=args.model, search=search)
            seconds = time.perf_counter() - start
            decoded = vaecodec.decode(data)
            row[name] = {"bytes_per_image": len(data) / n,
                         "psnr_db": metrics.psnr(images, decoded),
                         "ssim": metrics.ssim(images, decoded),
                         "encode_images_per_s": n / seconds}
        rows.append(row)
        p, s = row["plain"], row["search"]
        print(f"{level:5d} {p['bytes_per_image']:8.2f} {p['psnr_db']:6.2f} {p['ssim']:6.4f} "
              f"{p['encode_images_per_s']:9,.0f}   {s['bytes_per_image']:15.2f} "
              f"{s['psnr_db']:6.2f} {s['ssim']:6.4f} {s['encode_images_per_s']:9,.0f}",
              flush=True)
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"images": n, "dataset": args.dataset, "family": args.model,
                       "rows": rows}, f, indent=2)
            f.write("\n")


if __name__ == "__main__":
    main()
