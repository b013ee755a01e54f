"""Build the training benchmark's data sets of other kinds of images, offline, as .npy
arrays (N, 32, 32) uint8: a training and a test split each (``benchmarks/bench_train.py``).

    python tools/make_train_sets.py --out build/train-sets

- **glyphs**: letters, digits and symbols drawn dark on light with the font Pillow ships
  (``ImageFont.load_default(size=...)``: Aileron, SIL Open Font Licence), at random sizes,
  positions, rotations and stroke widths. Training and test draw from separate seeds; the
  test split uses the same characters in new poses.
- **tiles**: 32x32 grayscale tiles of the photographs scikit-image ships in
  ``skimage/data`` (the ``bench`` extra; each image's source and licence are in the
  docstring of its ``skimage.data`` function: public domain, CC0 or CC BY). The test
  tiles come from photographs that no training tile comes from (``TEST_PHOTOS``), so the
  figures are on images the model has never seen.

The same command gives the same arrays (seeded); ``--limit`` caps each split's count.
"""

from __future__ import annotations

import argparse
import string
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

SIDE = 32
CHARACTERS = string.ascii_letters + string.digits + "&@#%?!$+=*<>{}"
# photographs of skimage/data: test tiles come only from these, training tiles from the rest
TRAIN_PHOTOS = ("astronaut.png", "brick.png", "camera.png", "coins.png", "grass.png",
                "gravel.png", "hubble_deep_field.jpg", "ihc.png", "moon.png",
                "motorcycle_left.png", "page.png", "retina.jpg")
TEST_PHOTOS = ("chelsea.png", "coffee.png", "rocket.jpg")


def glyphs(count: int, seed: int) -> np.ndarray:
    """``count`` glyph images (N, 32, 32), dark ink on white."""
    rng = np.random.default_rng(seed)
    fonts = {size: ImageFont.load_default(size=size) for size in range(14, 29)}
    out = np.empty((count, SIDE, SIDE), np.uint8)
    for i in range(count):
        char = CHARACTERS[rng.integers(len(CHARACTERS))]
        font = fonts[int(rng.integers(14, 29))]
        big = Image.new("L", (2 * SIDE, 2 * SIDE), 255)
        draw = ImageDraw.Draw(big)
        stroke = int(rng.integers(0, 2))
        draw.text((SIDE, SIDE), char, font=font, fill=int(rng.integers(0, 60)), anchor="mm",
                  stroke_width=stroke, stroke_fill=0)
        big = big.rotate(float(rng.uniform(-15, 15)), resample=Image.Resampling.BILINEAR,
                         fillcolor=255)
        dx, dy = rng.integers(-3, 4, size=2)
        left, top = SIDE // 2 + int(dx), SIDE // 2 + int(dy)
        out[i] = np.asarray(big.crop((left, top, left + SIDE, top + SIDE)))
    return out


def photo(name: str) -> np.ndarray:
    """One of the photographs in scikit-image's ``skimage/data`` folder (read from the
    installed package, never downloaded) as 8-bit grayscale (ITU-R 601 luma)."""
    import skimage

    with Image.open(Path(skimage.__file__).parent / "data" / name) as image:
        return np.asarray(image.convert("RGB").convert("L"))


def tiles(names, stride: int) -> np.ndarray:
    """Every 32x32 tile at ``stride`` of the named photographs (N, 32, 32)."""
    out = []
    for name in names:
        image = photo(name)
        for y in range(0, image.shape[0] - SIDE + 1, stride):
            for x in range(0, image.shape[1] - SIDE + 1, stride):
                out.append(image[y:y + SIDE, x:x + SIDE])
    return np.stack(out)


def build(out: Path, limit: int | None = None) -> dict[str, Path]:
    """Write the four arrays into ``out``; returns their paths by split name."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    train_tiles = tiles(TRAIN_PHOTOS, 16)
    sets = {
        "glyphs-train": glyphs(limit or 12000, seed=1),
        "glyphs-test": glyphs(min(limit or 2000, 2000), seed=2),
        "tiles-train": train_tiles[rng.permutation(len(train_tiles))][:limit],
        "tiles-test": tiles(TEST_PHOTOS, 32)[:limit],
    }
    paths = {}
    for name, array in sets.items():
        paths[name] = out / f"{name}.npy"
        np.save(paths[name], array)
    return paths


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="build/train-sets", help="folder for the arrays")
    parser.add_argument("--limit", type=int, help="at most this many images per split")
    args = parser.parse_args()
    for name, path in build(Path(args.out), args.limit).items():
        print(f"{path}: {np.load(path).shape[0]} images")


if __name__ == "__main__":
    main()
