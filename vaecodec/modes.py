"""Pixel modes: any Pillow image, or an array of images, as the model's channels
(grayscale; grayscale and alpha; RGB; RGBA), and what the conversion dropped. The input
policy of ``images`` and ``arrays`` converts through here (numpy and Pillow only)."""

from __future__ import annotations

import numpy as np
from PIL import Image

from .format import shapes


def has_colour(values: np.ndarray) -> bool:
    """Whether some pixel of uint8 values (..., 3 or more channels) has colour channels
    that differ (R, G, B the first three)."""
    return not (np.array_equal(values[..., 0], values[..., 1])
                and np.array_equal(values[..., 1], values[..., 2]))


def _luma(rgb: np.ndarray) -> np.ndarray:
    """ITU-R 601 luma (float64) of RGB values (..., 3 or more channels)."""
    values = rgb.astype(np.float64)
    return values[..., 0] * 0.299 + values[..., 1] * 0.587 + values[..., 2] * 0.114


def _gray(rgb: np.ndarray) -> np.ndarray:
    """uint8 luma of RGB values (..., 3 or more channels), rounded: equal channels give
    their value."""
    return np.clip(np.rint(_luma(rgb)), 0, 255).astype(np.uint8)


def to_gray(image: Image.Image) -> tuple[np.ndarray, str | None]:
    """Any Pillow mode to uint8 grayscale, scaling deeper modes and compositing alpha on
    black; and what the conversion dropped ("colour", "transparency", "16-bit samples",
    ...), or None when the grayscale image holds everything the file did."""
    mode = image.mode
    if mode == "L":  # the common case: no conversion, no copy
        return np.asarray(image, dtype=np.uint8), None
    if mode == "1":
        return np.asarray(image.convert("L"), dtype=np.uint8), None
    if mode.startswith("I;16") or mode == "I":
        # 16-bit samples (Pillow reads 16-bit PNG/TIFF as I;16 or I): 0..65535 -> 0..255
        values = np.asarray(image, dtype=np.float64)
        gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
        exact = np.array_equal(gray.astype(np.float64) * 257.0, values)
        return gray, None if exact else "samples deeper than 8 bits"
    if mode == "F":
        values = np.asarray(image, dtype=np.float64)  # float samples are taken as 0..1
        gray = np.clip(np.rint(np.nan_to_num(values) * 255.0), 0, 255).astype(np.uint8)
        exact = np.array_equal(gray.astype(np.float64) / 255.0, values)
        return gray, None if exact else "floating-point samples"
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    colour = has_colour(rgba)
    transparent = bool((rgba[..., 3] != 255).any())
    lost = " and ".join(what for what, dropped in (("colour", colour),
                                                   ("transparency", transparent)) if dropped)
    if mode in ("P", "PA", "LA", "La", "RGBA", "RGBa") or "transparency" in image.info:
        gray = np.clip(np.rint(_luma(rgba) * rgba[..., 3] / 255.0), 0, 255).astype(np.uint8)
    else:
        gray = np.asarray(image.convert("RGB").convert("L"), dtype=np.uint8)
    return gray, lost or None


GRAY_MODES = ("1", "L", "LA", "La", "I", "F")  # modes without colour (and I;16...)


def is_gray_mode(mode: str) -> bool:
    return mode in GRAY_MODES or mode.startswith("I;16")


def to_channels(image: Image.Image, channels: int) -> tuple[np.ndarray, str | None, bool]:
    """Any Pillow mode to uint8 (H, W) for ``channels`` 1 (``to_gray``) or (H, W,
    channels) for 2 (grayscale and alpha), 3 (RGB) or 4 (RGBA): what the conversion
    dropped (as ``to_gray`` says it), and whether a grayscale image was widened to colour
    (nothing lost, but the user gave grayscale to a colour model)."""
    if channels == 1:
        return (*to_gray(image), False)
    widened = channels >= 3 and is_gray_mode(image.mode)
    deeper = image.mode.startswith("I;16") or image.mode in ("I", "F")
    lost = []
    if deeper:  # through to_gray's scaling, then as an L image
        gray, dropped = to_gray(image)
        if dropped:
            lost.append(dropped)
        image = Image.fromarray(gray)
    rgba = np.asarray(image.convert("RGBA"), dtype=np.uint8)
    alpha = rgba[..., 3]
    if channels in (2, 4):
        colour = rgba[..., :3]
    else:  # no alpha kept: composited on black, as to_gray does
        opaque = alpha == 255
        if not opaque.all():
            lost.append("transparency")
        colour = np.where(opaque[..., None], rgba[..., :3], np.rint(
            rgba[..., :3].astype(np.float64) * alpha[..., None] / 255.0).astype(np.uint8))
    if channels == 2:
        if has_colour(colour):
            lost.insert(0, "colour")
        out = np.stack([_gray(colour), alpha], -1)
    elif channels == 4:
        out = rgba
    else:
        out = np.ascontiguousarray(colour)
    return out, " and ".join(lost) or None, widened


def source_channels(image: Image.Image) -> int:
    """The channels a Pillow image holds as ``to_channels`` reads them: 1 grayscale, 2
    grayscale and alpha, 3 colour, 4 colour and alpha (a palette is colour; a
    transparent colour key is alpha)."""
    keyed = "transparency" in image.info
    if is_gray_mode(image.mode):
        return 2 if image.mode in ("LA", "La") or keyed else 1
    if image.mode in ("RGBA", "RGBa", "PA") or keyed or (
            image.mode == "P" and image.palette is not None and image.palette.mode == "RGBA"):
        return 4
    return 3


def in_mode(images: np.ndarray, channels: int) -> np.ndarray:
    """uint8 images (..., H, W, C) of C = 2..4 channels as ``channels`` (1..4) of them,
    a source's mode. Fewer: 1 is the luma of the colour (ITU-R 601, rounded; equal
    channels give their value) or the first channel of grayscale and alpha, 2 that and
    the alpha (255 where there is none), 3 the colour without the alpha. More: the
    grayscale repeated as colour, and an alpha of 255 where there is none."""
    have = images.shape[-1]
    if channels == have:
        return images
    if not 2 <= have <= 4 or not 1 <= channels <= 4:
        raise ValueError(f"{have} channels cannot be written as {channels}")
    alpha = images[..., -1] if have in (2, 4) else np.full(images.shape[:-1], 255, np.uint8)
    if have == 2:
        gray = colour = images[..., :1]
    else:
        colour = images[..., :3]
        gray = _gray(colour)[..., None]
    if channels <= 2:
        planes = [gray, alpha[..., None]][:channels]
    else:
        planes = [np.broadcast_to(colour, (*colour.shape[:-1], 3))]
        if channels == 4:
            planes.append(alpha[..., None])
    out = np.concatenate(planes, -1)
    return np.ascontiguousarray(out[..., 0] if channels == 1 else out)


def in_source_modes(batch: np.ndarray, channels: np.ndarray):
    """Each image of a batch (N, H, W) or (N, H, W, C) in its source's mode
    (``in_mode``): as many channels as its entry of ``channels``."""
    if batch.ndim < 4:
        yield from batch
        return
    for image, have in zip(batch, channels):
        yield image if have == batch.shape[-1] else in_mode(image, int(have))


def convert_channels(images: np.ndarray, channels: int
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """uint8 images (N, H, W) or (N, H, W, C) as ``channels`` (1: (N, H, W)), as image
    files are read (``to_channels``): (the images, per image whether something was lost
    (colour, transparency), per image whether grayscale was widened to colour)."""
    have = images.shape[3] if images.ndim == 4 else 1
    n = len(images)
    none = np.zeros(n, dtype=bool)
    if have == channels:
        return images, none, none
    if have == 1:
        gray = images.reshape(images.shape[:3])
        planes = [gray] * (1 if channels == 2 else 3)
        if channels in (2, 4):
            planes.append(np.full_like(gray, 255))
        return np.stack(planes, -1), none, np.full(n, channels >= 3)
    opaque = have == 3 or bool((images[..., -1] == 255).all())
    if opaque and channels in (1, 3) and have > channels:  # nothing to drop: a slice
        if channels == 3:
            return images[..., :3], none, none
        if have == 2 or not has_colour(images):
            return images[..., 0], none, none
    mode = shapes.MODES[have]
    out = np.empty((n, *images.shape[1:3], *((channels,) if channels > 1 else ())),
                   dtype=np.uint8)
    lost = np.zeros(n, dtype=bool)
    widened = np.zeros(n, dtype=bool)
    for i, image in enumerate(images):
        out[i], dropped, widened[i] = to_channels(Image.fromarray(image, mode), channels)
        lost[i] = dropped is not None
    return out, lost, widened
