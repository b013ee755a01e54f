"""Speed of a colour family (issue 29's targets: lossy >= 10,000 images/s, lossless >=
1,000 images/s, on this CPU), with its size and PSNR, and the Pillow codecs' speed on the
same images in the same run as the baseline.

    python benchmarks/bench_colour.py --family icons --repeat 5 --max-errors 0 1 4 \
        --json docs/data/bench_colour_icons.json

The images are the icons' test split (``tools/make_train_sets.py``, drawn here, no
download), or ``--images`` a .npy array (N, H, W, C). For each setting (every level,
``--max-errors``, 0 being lossless) one call of ``vaecodec.encode`` and one of
``vaecodec.decode`` on all the images: the first call of each, which loads the model and
builds its tables, is timed apart ("first"), then the median of ``--repeat`` calls
("steady"). Each Pillow codec codes the images one by one (its own speed, one process).
"""

from __future__ import annotations

import argparse
import io
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

import vaecodec
from vaecodec.eval import metrics

REPO = Path(__file__).resolve().parent.parent
PILLOW = (("WebP q0", "WEBP", {"quality": 0}), ("WebP lossless", "WEBP", {"lossless": True}),
          ("PNG", "PNG", {"optimize": True}))


def clock(func, repeat: int) -> tuple[object, float, float]:
    """(result, first call's seconds, median of ``repeat`` more calls' seconds)."""
    start = time.perf_counter()
    result = func()
    first = time.perf_counter() - start
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return result, first, statistics.median(times)


def pillow(images: np.ndarray, fmt: str, options: dict, repeat: int) -> dict:
    def encode():
        out = []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, fmt, **options)
            out.append(buffer.getvalue())
        return out

    blobs, _, enc = clock(encode, repeat)

    def decode():
        return np.stack([np.asarray(Image.open(io.BytesIO(b)).convert("RGB")) for b in blobs])

    decoded, _, dec = clock(decode, repeat)
    return {"bytes_per_image": sum(map(len, blobs)) / len(images),
            "psnr_db": metrics.psnr(images, decoded),
            "encode_images_per_s": len(images) / enc, "decode_images_per_s": len(images) / dec}


def icons(count: int, seed: int | None = None) -> np.ndarray:
    """``count`` icons as tools/make_train_sets.py draws them: its test split's (or
    ``seed``'s)."""
    sys.path.insert(0, str(REPO / "tools"))
    from make_train_sets import TEST_SEED
    from make_train_sets import icons as draw

    return draw(count, seed=TEST_SEED if seed is None else seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--family", default="icons", help="a colour family (default: icons)")
    parser.add_argument("--images", help="a .npy array (N, H, W, C) instead of the icons")
    parser.add_argument("--limit", type=int, default=1000, help="images (default: 1000)")
    parser.add_argument("--repeat", type=int, default=5, help="timed calls after the first")
    parser.add_argument("--max-errors", type=int, nargs="*", default=[0, 4],
                        help="residual settings (0: lossless; default: 0 4)")
    parser.add_argument("--json", help="write the rows here")
    args = parser.parse_args()
    images = np.load(args.images)[: args.limit] if args.images else icons(args.limit)
    n = len(images)
    zoo = vaecodec.Zoo.installed()
    settings = [(f"level {lv.level}", {"quality": lv.level}) for lv in zoo.levels(args.family)]
    settings += [("lossless" if k == 0 else f"max-error {k}",
                  {"lossless": True} if k == 0 else {"max_error": k}) for k in args.max_errors]
    print(f"{n} images {images.shape[1:]}, family {args.family}: first call, then the median "
          f"of {args.repeat}")
    print(f"{'codec':22s} {'B/image':>8s} {'PSNR':>6s} {'enc first':>9s} {'enc img/s':>9s} "
          f"{'dec first':>9s} {'dec img/s':>9s}")
    rows = []
    for name, options in settings:
        data, enc_first, enc = clock(lambda o=options: vaecodec.encode(
            images, model=args.family, **o), args.repeat)
        decoded, dec_first, dec = clock(lambda d=data: vaecodec.decode(d), args.repeat)
        assert isinstance(data, bytes) and isinstance(decoded, np.ndarray)
        if options.get("lossless"):
            assert np.array_equal(decoded, images)
        rows.append({"codec": f"vaecodec {args.family}", "setting": name,
                     "bytes_per_image": len(data) / n, "psnr_db": metrics.psnr(images, decoded),
                     "encode_first_images_per_s": n / enc_first, "encode_images_per_s": n / enc,
                     "decode_first_images_per_s": n / dec_first, "decode_images_per_s": n / dec})
    for name, fmt, options in PILLOW:
        rows.append({"codec": name, "setting": str(options),
                     **pillow(images, fmt, options, args.repeat)})
    for r in rows:
        first = (f"{r['encode_first_images_per_s']:9,.0f}" if "encode_first_images_per_s" in r
                 else f"{'':9s}")
        dfirst = (f"{r['decode_first_images_per_s']:9,.0f}" if "decode_first_images_per_s" in r
                  else f"{'':9s}")
        label = r["setting"] if r["codec"].startswith("vaecodec") else r["codec"]
        print(f"{label:22s} {r['bytes_per_image']:8.1f} {r['psnr_db']:6.2f} {first} "
              f"{r['encode_images_per_s']:9,.0f} {dfirst} {r['decode_images_per_s']:9,.0f}")
    if args.json:
        Path(args.json).write_text(json.dumps({"images": n, "repeat": args.repeat,
                                               "family": args.family, "rows": rows}, indent=1))


if __name__ == "__main__":
    main()
