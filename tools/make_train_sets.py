"""Build the training benchmark's data sets of other kinds of images, offline, as .npy
arrays (N, 32, 32) uint8, or (N, 32, 32, 3) for the colour sets: a training and a test
split each (``benchmarks/bench_train.py``).

    python tools/make_train_sets.py --out build/train-sets
    python tools/make_train_sets.py --colour --out build/colour-sets

- **glyphs**: letters, digits and symbols drawn dark on light with the font Pillow ships
  (``ImageFont.load_default(size=...)``: Aileron by dotcolon, CC0 1.0), at random sizes,
  positions, rotations and stroke widths. Training and test draw from separate seeds; the
  test split uses the same characters in new poses.
- **tiles**: 32x32 grayscale tiles of the photographs scikit-image ships in
  ``skimage/data`` (the ``bench`` extra; each image's source and licence are in the
  docstring of its ``skimage.data`` function: public domain, CC0 or CC BY). The test
  tiles come from photographs that no training tile comes from (``TEST_PHOTOS``), so the
  figures are on images the model has never seen.

With ``--colour``, two sets in RGB:

- **colour-tiles**: 32x32 RGB tiles of scikit-image's colour photographs, the test tiles
  again from photographs no training tile comes from (``COLOUR_TEST_PHOTOS``).
- **icons**: small flat icons drawn with Pillow: a rounded square, circle, diamond or
  ring in one colour on a ground of another, with a letter, digit or symbol of the
  bundled font in a third, at random sizes and positions (seeded).

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
# the colour photographs of skimage/data: training and test tiles, from separate photographs
COLOUR_TRAIN_PHOTOS = ("astronaut.png", "hubble_deep_field.jpg", "ihc.png",
                       "motorcycle_left.png", "motorcycle_right.png", "retina.jpg")
COLOUR_TEST_PHOTOS = TEST_PHOTOS
TEST_SEED = 2  # of the icons' test split (its first images are samples/icons)


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


def photo(name: str, mode: str = "L") -> np.ndarray:
    """One of the photographs in scikit-image's ``skimage/data`` folder (read from the
    installed package, never downloaded) as 8-bit grayscale (ITU-R 601 luma), or RGB with
    ``mode="RGB"``."""
    import skimage

    with Image.open(Path(skimage.__file__).parent / "data" / name) as image:
        rgb = image.convert("RGB")
        return np.asarray(rgb if mode == "RGB" else rgb.convert("L"))


def tiles(names, stride: int, mode: str = "L") -> np.ndarray:
    """Every 32x32 tile at ``stride`` of the named photographs (N, 32, 32), or (N, 32, 32,
    3) with ``mode="RGB"``."""
    out = []
    for name in names:
        image = photo(name, mode)
        for y in range(0, image.shape[0] - SIDE + 1, stride):
            for x in range(0, image.shape[1] - SIDE + 1, stride):
                out.append(image[y:y + SIDE, x:x + SIDE])
    return np.stack(out)


SHAPES = ("rounded", "circle", "diamond", "ring")


def _colour(rng) -> tuple[int, int, int]:
    return tuple(int(v) for v in rng.integers(0, 256, size=3))


def _far(rng, other: tuple[int, int, int]) -> tuple[int, int, int]:
    """A random colour that differs from ``other`` enough to be seen on it."""
    while True:
        colour = _colour(rng)
        if sum(abs(a - b) for a, b in zip(colour, other)) > 160:
            return colour


def icons(count: int, seed: int) -> np.ndarray:
    """``count`` flat icons (N, 32, 32, 3): a shape on a ground, a glyph on the shape,
    three colours each, drawn at twice the size and reduced (smooth edges)."""
    rng = np.random.default_rng(seed)
    big = 2 * SIDE
    fonts = {size: ImageFont.load_default(size=size) for size in range(20, 41)}
    out = np.empty((count, SIDE, SIDE, 3), np.uint8)
    for i in range(count):
        ground = _colour(rng)
        body = _far(rng, ground)
        ink = _far(rng, body)
        image = Image.new("RGB", (big, big), ground)
        draw = ImageDraw.Draw(image)
        half = int(rng.integers(20, 31))
        cx, cy = (big // 2 + int(v) for v in rng.integers(-4, 5, size=2))
        box = (cx - half, cy - half, cx + half, cy + half)
        kind = SHAPES[int(rng.integers(len(SHAPES)))]
        if kind == "rounded":
            draw.rounded_rectangle(box, radius=int(rng.integers(4, 16)), fill=body)
        elif kind == "circle":
            draw.ellipse(box, fill=body)
        elif kind == "diamond":
            draw.polygon([(cx, cy - half), (cx + half, cy), (cx, cy + half), (cx - half, cy)],
                         fill=body)
        else:
            draw.ellipse(box, outline=body, width=int(rng.integers(5, 10)))
        char = CHARACTERS[rng.integers(len(CHARACTERS))]
        draw.text((cx, cy), char, font=fonts[int(rng.integers(20, 41))], fill=ink,
                  anchor="mm")
        out[i] = np.asarray(image.resize((SIDE, SIDE), Image.Resampling.LANCZOS))
    return out


def build_colour(out: Path, limit: int | None = None) -> dict[str, Path]:
    """Write the colour sets' four arrays into ``out``; their paths by split name."""
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    train_tiles = tiles(COLOUR_TRAIN_PHOTOS, 16, "RGB")
    sets = {
        "icons-train": icons(limit or 12000, seed=1),
        "icons-test": icons(min(limit or 2000, 2000), seed=TEST_SEED),
        "colour-tiles-train": train_tiles[rng.permutation(len(train_tiles))][:limit],
        "colour-tiles-test": tiles(COLOUR_TEST_PHOTOS, 32, "RGB")[:limit],
    }
    paths = {}
    for name, array in sets.items():
        paths[name] = out / f"{name}.npy"
        np.save(paths[name], array)
    return paths


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
    parser.add_argument("--colour", action="store_true",
                        help="the colour sets (icons, colour tiles) instead")
    args = parser.parse_args()
    make = build_colour if args.colour else build
    for name, path in make(Path(args.out), args.limit).items():
        print(f"{path}: {np.load(path).shape[0]} images")


if __name__ == "__main__":
    main()
