"""Images held in arrays, as ``compress`` and ``train`` take them: a ``.npy`` file of
uint8 (0..255) or float (0..1) images (N, H, W), (N, H, W, C) with the channels last (2:
grayscale and alpha, 3: RGB, 4: RGBA) or one image (H, W), and an MNIST-style
IDX file (IDX3, uint8). Both are memory-mapped and read a part at a time, so an array
larger than memory compresses in bounded memory.

An array's images are stored under the names ``STEM/00000.png``, ``STEM/00001.png``, ...
(STEM: the file's name without ``.npy``; an IDX file's whole name), so that ``decompress``
writes them as a folder of PNGs.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Iterator

import numpy as np

from .core import pixels
from .errors import ConversionError, ImageSizeError, InputError, UnsafeNameError
from .format import shapes
from .format.names import check_name
from .fsio import open_regular
from .images import convert_channels, is_image_name, resized

IDX3_MAGIC = b"\x00\x00\x08\x03"
IDX1_MAGIC = b"\x00\x00\x08\x01"
PART_IMAGES = 4096  # images read (and converted) at a time


def array_kind(path) -> str | None:
    """"npy" or "idx" when ``path`` is a regular file holding images as an array (an IDX
    file by its first bytes, whatever its name, unless it has an image extension), else
    None."""
    if not isinstance(path, (str, os.PathLike)):
        return None
    p = Path(path)
    if not p.is_file():
        return None
    if p.suffix.lower() == ".npy":
        return "npy"
    if is_image_name(p.name):
        return None
    try:
        with open_regular(p) as f:
            return "idx" if f.read(4) == IDX3_MAGIC else None
    except OSError:
        return None


def open_array(path) -> np.ndarray:
    """The images of an array file, memory-mapped: (N, H, W) or (N, H, W, C), uint8 or
    float, N >= 1, checked (an IDX file's header against its size)."""
    path = Path(path)
    if array_kind(path) == "idx":
        return _idx(path, IDX3_MAGIC, 16, "an IDX3 image file")
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (OSError, ValueError, EOFError) as e:
        raise InputError(f"{path} is not a readable .npy array ({e})") from None
    if array.ndim == 2:
        array = array[None]
    if array.ndim == 4 and array.shape[3] == 1:
        array = array[..., 0]
    colour = array.ndim == 4 and 2 <= array.shape[3] <= shapes.MAX_CHANNELS
    if (array.ndim != 3 and not colour) or array.shape[0] == 0:
        hint = ""
        if array.ndim == 4 and 1 <= array.shape[1] <= shapes.MAX_CHANNELS:
            hint = " (channels first? move them last: array.transpose(0, 2, 3, 1))"
        raise InputError(f"{path} holds an array of shape {array.shape}; images are "
                         "(N, height, width), or (N, height, width, channels) with 2 to "
                         f"{shapes.MAX_CHANNELS} channels{hint}")
    if array.dtype != np.uint8 and array.dtype.kind != "f":
        raise InputError(f"{path} holds {array.dtype} values; images are uint8 (0..255) "
                         "or float (0..1)")
    return array


def _idx(path: Path, magic: bytes, header: int, what: str) -> np.ndarray:
    size = path.stat().st_size
    with open_regular(path) as f:
        head = f.read(header)
    if len(head) < header:
        raise InputError(f"{path} is too short for {what}")
    if head[:4] != magic:
        raise InputError(f"{path} is not {what} (uint8)")
    dims = struct.unpack(f">{(header - 4) // 4}I", head[4:])
    expected = int(np.prod(dims, dtype=object))
    if size - header != expected:
        raise InputError(f"{path} holds {size - header} bytes of data, its header implies "
                         f"{expected}")
    if dims[0] == 0:
        raise InputError(f"{path} holds no images")
    return np.memmap(path, dtype=np.uint8, mode="r", offset=header, shape=dims)


def read_idx_images(path) -> np.ndarray:
    """Images (N, H, W) uint8 from an uncompressed IDX3 file, checking its header."""
    return np.array(_idx(Path(path), IDX3_MAGIC, 16, "an IDX3 image file"))


def read_idx_labels(path) -> np.ndarray:
    """Labels (N,) uint8 from an uncompressed IDX1 file, checking its header."""
    return np.array(_idx(Path(path), IDX1_MAGIC, 8, "an IDX1 label file"))


def to_pixels(block: np.ndarray, path, exact: bool = False) -> tuple[np.ndarray, int]:
    """(uint8 images, how many lost something) of a part of an array: float values in
    [0, 1] rounded to 8 bits; with ``exact``, a float image that is not on the 8-bit grid
    (k / 255) is a ConversionError, as a colour image is for an exact file."""
    if block.dtype == np.uint8:
        return np.array(block), 0
    values = np.asarray(block, dtype=np.float64)
    if not np.all(np.isfinite(values)) or values.min() < 0 or values.max() > 1:
        raise InputError(f"{path}: float images must hold values in [0, 1]")
    out = pixels.to_uint8(values)
    lost = ~np.all(np.isclose(out / 255.0, values, rtol=0, atol=1e-6),
                   axis=tuple(range(1, values.ndim)))
    if exact and lost.any():
        raise ConversionError(f"{path}: float values that are not multiples of 1/255 would be "
                              "rounded to 8 bits; --lossless and --max-error keep exact "
                              "8-bit pixels (give uint8 images, or a lossy level)")
    return out, int(lost.sum())


def stem(path) -> str:
    """The folder an array's images are stored in: its file name without ``.npy``."""
    name = Path(path).name
    return name[:-4] if name.lower().endswith(".npy") else name


def parts(path, shape: tuple[int, ...], resize: bool = False, exact: bool = False
          ) -> Iterator[tuple[np.ndarray, list[str], int, int, int]]:
    """(uint8 images of ``shape``, their stored names, how many had float values rounded,
    how many lost colour or transparency to the shape's channels, how many grayscale
    ones were widened to colour) of an array file, PART_IMAGES at a time.
    Images of another size are an ImageSizeError naming the file, or with ``resize`` are
    scaled (Lanczos) as image files are; other channels are converted as image files are
    (``images.convert_channels``; with ``exact``, a conversion that loses something is a
    ConversionError)."""
    array = open_array(path)
    count, height, width = array.shape[:3]
    channels = shapes.channels(shape)
    if (height, width) != tuple(shape[:2]) and not resize:
        raise ImageSizeError(f"{path} holds {width}x{height} images; the model needs "
                             f"{shape[1]}x{shape[0]} images (use --resize to scale them)")
    folder = stem(path)
    try:
        check_name(f"{folder}/0.png")
    except UnsafeNameError as e:
        raise InputError(f"{path}: its images cannot be stored under its name ({e})") \
            from None
    digits = max(5, len(str(count - 1)))
    for start in range(0, count, PART_IMAGES):
        block, lost = to_pixels(array[start : start + PART_IMAGES], path, exact)
        block, dropped, widened = convert_channels(block, channels)
        if exact and dropped.any():
            raise ConversionError(
                f"{path}: image {start + int(dropped.argmax())} has colour or transparency "
                f"that the model's {shapes.describe(shape)} images cannot keep; "
                "--lossless and --max-error keep every value")
        if (height, width) != tuple(shape[:2]):
            block = np.stack([resized(image, shape) for image in block])
        names = [f"{folder}/{i:0{digits}d}.png" for i in range(start, start + len(block))]
        yield block, names, lost, int(dropped.sum()), int(widened.sum())
