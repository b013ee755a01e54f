"""A training set from what a user has: image files and folders (the input policy of
``compress``), MNIST-style IDX files and ``.npy`` arrays, all of one image size."""

from __future__ import annotations

import hashlib
import os
from collections import Counter
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from .. import arrays
from .. import images as image_files
from ..errors import EmptySelectionError, ImageSizeError, InputError
from ..modes import has_colour


def _read_array(path: Path) -> np.ndarray:
    """The uint8 images of an array file (float values rounded to 8 bits)."""
    return arrays.to_pixels(arrays.open_array(path), path)[0]


def _first_size(files: list[tuple[str, str]], skip_invalid: bool) -> tuple[int, int]:
    """The size of the first image file (with ``skip_invalid``: of the first readable
    one); the reason it cannot be read otherwise."""
    if skip_invalid:
        for path, _ in files:
            size = image_files.image_size(path)
            if size is not None:
                return size
        raise EmptySelectionError("no readable image among the selected files")
    return image_files.read_image(files[0][0]).shape


def needed_channels(images: np.ndarray) -> int:
    """The fewest channels that hold uint8 images (N, H, W) or (N, H, W, C) whole: alpha
    only where some pixel is not fully opaque, colour only where some pixel's colour
    channels differ (1: grayscale, 2: grayscale and alpha, 3: RGB, 4: RGBA)."""
    if images.ndim == 3:
        return 1
    have = images.shape[3]
    alpha = have in (2, 4) and bool((images[..., -1] != 255).any())
    colour = have >= 3 and has_colour(images)
    return _LAYOUTS[(alpha, colour)]


_LAYOUTS = {(False, False): 1, (True, False): 2, (False, True): 3, (True, True): 4}


def common_size(files: list[tuple[str, str]], skip_invalid: bool = False
                ) -> tuple[tuple[int, int], int]:
    """The size (height, width) most of the image files have (the first file's among
    equals), and how many files have another size."""
    sizes = [image_files.image_size(path) for path, _ in files]
    counts = Counter(size for size in sizes if size is not None)
    if not counts:  # none readable: the first file says why (or skip_invalid finds none)
        return _first_size(files, skip_invalid), 0
    first = {size: i for i, size in reversed(list(enumerate(sizes)))}
    shape = max(counts, key=lambda size: (counts[size], -first[size]))
    return shape, sum(1 for size in sizes if size is not None and size != shape)


def load_images(sources: Sequence[str | os.PathLike], skip_invalid: bool = False,
                progress: Callable[[int, int], None] | None = None, resize: bool = False
                ) -> tuple[np.ndarray, dict]:
    """(uint8 images (N, H, W), a description: each source with its kind and count, how
    many image files were resized, and the sha256 of the pixels). Every image must have the
    size of the first; with ``resize``, image files of another size are scaled (Lanczos) to
    the size of the IDX or .npy arrays given, else to the size most of the files have."""
    parts: list[tuple[str, str, np.ndarray]] = []
    loose: list[str | os.PathLike] = []
    resized = 0
    for source in sources:
        path = Path(source)
        kind = arrays.array_kind(path)
        if kind is not None:
            parts.append((str(path), kind, _read_array(path)))
        else:
            loose.append(source)
    if loose:
        found = image_files.collect(loose)
        shape = parts[0][2].shape[1:] if parts else None
        if shape is None and resize:
            shape, resized = common_size(found, skip_invalid)
        elif shape is None:
            shape = _first_size(found, skip_invalid)
        if resize and parts:
            resized = sum(1 for path, _ in found
                          if image_files.image_size(path) not in (None, shape))
        # read with every channel, then cut to what the images use (needed_channels)
        read, names, skipped = image_files.read_images(found, (*shape[:2], 4), resize,
                                                       skip_invalid, progress)
        if len(read) == 0:
            raise InputError("no readable images in " + ", ".join(map(str, loose)))
        parts.append((", ".join(map(str, loose)), "images", read))
        skipped_count = len(skipped)
    else:
        skipped_count = 0
    for name, _, array in parts:
        if not all(1 <= side <= 4096 for side in array.shape[1:3]):
            raise ImageSizeError(f"{name}: images of {array.shape[2]}x{array.shape[1]}; a model "
                                 "takes sides of 1..4096 pixels")
    sizes = {part.shape[1:3] for _, _, part in parts}
    if len(sizes) > 1:
        described = "; ".join(f"{name}: {a.shape[2]}x{a.shape[1]}" for name, _, a in parts)
        raise ImageSizeError(f"the images must all have one size to train a model ({described})")
    # one channel layout, the fewest that hold every source whole
    wanted = [needed_channels(a) for _, _, a in parts]
    channels = _LAYOUTS[(any(c in (2, 4) for c in wanted), any(c >= 3 for c in wanted))]
    images = np.ascontiguousarray(np.concatenate(
        [image_files.convert_channels(a, channels)[0] for _, _, a in parts]))
    description = {
        # base names only: a shared model file should not reveal the trainer's folders
        "sources": [{"source": ", ".join(Path(n).name for n in name.split(", ")),
                     "kind": kind, "images": len(a)} for name, kind, a in parts],
        "images": len(images),
        "image_shape": list(images.shape[1:]),
        "pixels_sha256": hashlib.sha256(images.tobytes()).hexdigest(),
        "skipped_files": skipped_count,
        "resized_files": resized,
    }
    return images, description
