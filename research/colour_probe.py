"""A first look at colour (issue 29): a colour family's levels and lossless files on a
colour set's held-out images beside WebP, JPEG and PNG (Pillow): bytes per image, PSNR
over every channel, and bits per pixel (all channels of a pixel together). Linked from
docs/guide.md#6-colour-images.

    python tools/make_train_sets.py --colour --out build/colour-sets
    vaecodec train build/colour-sets/icons-train.npy --name icons --time-budget 300
    python research/colour_probe.py build/colour-sets/icons-test.npy --family icons
"""

from __future__ import annotations

import argparse
import io
import time

import numpy as np
from PIL import Image

import vaecodec
from vaecodec.eval import metrics

CLASSICAL = (("WebP", "WEBP", {"quality": 0}), ("WebP", "WEBP", {"quality": 50}),
             ("JPEG", "JPEG", {"quality": 10}), ("JPEG", "JPEG", {"quality": 50}),
             ("WebP lossless", "WEBP", {"lossless": True}),
             ("PNG", "PNG", {"optimize": True}))


def classical(images: np.ndarray) -> list[dict]:
    rows = []
    for name, fmt, options in CLASSICAL:
        sizes, decoded = [], []
        for image in images:
            buffer = io.BytesIO()
            Image.fromarray(image).save(buffer, fmt, **options)
            sizes.append(buffer.tell())
            with Image.open(io.BytesIO(buffer.getvalue())) as back:
                decoded.append(np.asarray(back.convert("RGB")))
        rows.append(_row(name, str(options), float(np.mean(sizes)), images,
                         np.stack(decoded)))
    return rows


def _row(codec: str, setting: str, size: float, images: np.ndarray, decoded: np.ndarray
         ) -> dict:
    return {"codec": codec, "setting": setting, "bytes_per_image": size,
            "psnr_db": metrics.psnr(images, decoded),
            "bits_per_pixel": 8 * size / (images.shape[1] * images.shape[2])}


def levels(images: np.ndarray, family: str) -> list[dict]:
    zoo = vaecodec.Zoo.installed()
    rows = []
    settings = [(f"level {level.level}", {"quality": level.level})
                for level in zoo.levels(family)]
    if zoo.family(family).pixel_model is not None:
        settings += [("max-error 4", {"max_error": 4}), ("lossless", {"lossless": True})]
    for setting, options in settings:
        started = time.perf_counter()
        data = vaecodec.encode(images, model=family, **options)
        encoded = time.perf_counter()
        decoded = vaecodec.decode(data)
        done = time.perf_counter()
        rows.append({**_row(f"vaecodec {family}", setting, len(data) / len(images), images,
                            decoded),
                     "encode_images_per_s": len(images) / (encoded - started),
                     "decode_images_per_s": len(images) / (done - encoded)})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("test", help="a .npy array (N, H, W, 3) of held-out images")
    parser.add_argument("--family", help="an installed colour family to measure")
    parser.add_argument("--count", type=int, default=1000, help="images measured")
    args = parser.parse_args()
    images = np.load(args.test)[: args.count]
    rows = (levels(images, args.family) if args.family else []) + classical(images)
    print(f"{len(images)} images of {images.shape[2]}x{images.shape[1]}, {args.test}")
    for row in rows:
        speed = ""
        if "encode_images_per_s" in row:
            speed = (f"  encode {row['encode_images_per_s']:,.0f}/s, decode "
                     f"{row['decode_images_per_s']:,.0f}/s")
        print(f"{row['codec']:22s} {row['setting']:22s} {row['bytes_per_image']:8.1f} B "
              f"{row['psnr_db']:6.2f} dB {row['bits_per_pixel']:6.3f} bits/pixel{speed}")


if __name__ == "__main__":
    main()
