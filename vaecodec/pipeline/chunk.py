"""One batch of images <-> latent symbols: the caller's array checked and normalised, the
polarity rule (an image drawn the other way round than the model's is coded inverted and
restored), the encoder's symbols and the decoder network's pixels."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..core import coders, quantize, search
from ..core import pixels as pixel_conv
from ..errors import ArgumentTypeError, CorruptModelError, InvalidArrayError
from ..format import container, shapes
from ..zoo import ModelInfo

if TYPE_CHECKING:
    from .settings import Settings

LIGHT_ON_DARK, DARK_ON_LIGHT = "light-on-dark", "dark-on-light"
AS_IS = "as-is"  # a colour model's: its images are never inverted
POLARITIES = ("auto", "as-is")



def as_array(images) -> np.ndarray:
    """A numpy view of what the caller passed (an array or a torch tensor), type-checked."""
    if type(images).__module__.split(".")[0] == "torch" and hasattr(images, "detach"):
        images = images.detach().cpu()
        if images.is_floating_point() and images.element_size() < 4:  # numpy has no bfloat16
            images = images.float()
        images = images.numpy()
    if not isinstance(images, np.ndarray):
        raise ArgumentTypeError(
            f"images must be a numpy array or torch tensor, not {type(images).__name__}")
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise ArgumentTypeError(
            f"images must be uint8 (0..255) or float (0..1), not {images.dtype}")
    return images


def pixel_rows(images: np.ndarray, shape: tuple[int, ...]
               ) -> tuple[np.ndarray, np.ndarray | None]:
    """(float32 intensities (N, V), the uint8 values (N, V) when given as uint8), V the
    values of one image of ``shape`` (channels last, numpy's order)."""
    if images.ndim == len(shape):
        images = images[None]
    if images.ndim != len(shape) + 1 or images.shape[1:] != tuple(shape):
        one = ", ".join(map(str, shape))
        extra = ""
        if len(shape) == 2 and images.ndim == 4 and images.shape[1:3] == tuple(shape):
            extra = " (a grayscale model: its images have no channel axis)"
        elif len(shape) == 3 and images.shape[-2:] == tuple(shape[:2]):
            extra = (f" (a {shapes.MODES[shape[2]]} model: give the {shape[2]} channels "
                     "last)")
        raise InvalidArrayError(
            f"images must have shape (N, {one}) or ({one}), got {images.shape}{extra}")
    if len(images) == 0:
        raise InvalidArrayError("no images to encode (the array is empty)")
    if images.dtype == np.uint8:
        return pixel_conv.to_unit(images), images.reshape(len(images), -1)
    values = images.reshape(len(images), -1).astype(np.float32)
    if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
        raise InvalidArrayError("float images must hold finite values in [0, 1]")
    return values, None


def image_names(names, count: int) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, (str, bytes)):
        raise ArgumentTypeError("names must be a list of strings, not one string")
    names = list(names)
    if len(names) != count:
        raise InvalidArrayError(f"{len(names)} names for {count} images; give one per image")
    return container.check_names(names)


def polarity_of(model: ModelInfo) -> str:
    """The polarity a model was trained on: MNIST's light strokes on a dark ground unless
    its metadata says otherwise."""
    return model.metadata.get("polarity", LIGHT_ON_DARK)


def dark_on_light(images: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Per grayscale image (uint8 (N, H * W)): whether its border (the outermost ring of
    pixels) is light on average, i.e. it is drawn dark on a light ground (exact integer
    arithmetic)."""
    h, w = shape
    grid = images.reshape(len(images), h, w)
    ring = np.ones((h, w), dtype=bool)
    ring[1:-1, 1:-1] = False
    total = grid[:, ring].sum(axis=1, dtype=np.int64)
    return 2 * total > 255 * int(ring.sum())


def inverted_flags(inverted: bytes | None, count: int) -> np.ndarray | None:
    if inverted is None:
        return None
    bits = np.unpackbits(np.frombuffer(inverted, dtype=np.uint8), bitorder="little")
    return bits[:count].astype(bool)


def apply_polarity(settings: Settings, unit: np.ndarray, exact: np.ndarray | None,
              polarity: str) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Images in the other polarity than the model's are coded inverted (and restored):
    (unit, exact, the inverted-images bitmap or None). Float images with any inverted
    are rounded to uint8 first, as lossless files do. Images of several channels are
    coded as they are (a colour model learns its images' polarities)."""
    if len(settings.image_shape) == 3:
        return unit, exact, None
    flags = dark_on_light(exact if exact is not None else pixel_conv.to_uint8(unit),
                          settings.image_shape)
    if polarity_of(settings.model) == DARK_ON_LIGHT:
        flags = ~flags
    if polarity == "as-is" or not flags.any():
        return unit, exact, None
    exact = (exact if exact is not None else pixel_conv.to_uint8(unit)).copy()
    exact[flags] = 255 - exact[flags]
    return pixel_conv.to_unit(exact), exact, np.packbits(flags, bitorder="little").tobytes()


def latent_symbols(settings: Settings, unit: np.ndarray) -> np.ndarray:
    """The latent symbols of images ``unit`` (N, P) in [0, 1]: the encoder's means rounded
    to the step, or with ``settings.search`` chosen by a rate-distortion search."""
    vae = settings.vae()
    mean = vae.encode_mean(unit)
    if not settings.search:
        return quantize.quantize(mean, settings.quant_step)
    return search.search_symbols(vae, unit, mean, settings.quant_step, settings.prior())



def base_layer(settings: Settings, unit: np.ndarray, stored: bool
               ) -> tuple[np.ndarray, bytes, str]:
    """(symbols, coded payload, symbol type) of images ``unit``'s base layer; a file
    that does not store one (residual layout 5: a table codes every value) has no
    symbols, an empty payload and no VAE encode."""
    if not stored:
        return coders.no_symbols(len(unit)), b"", "int32"
    symbols = latent_symbols(settings, unit)
    payload, dtype = coders.CODERS[settings.coder].encode(symbols, settings.prior())
    return symbols, payload, dtype


def network_pixels(settings: Settings, symbols: np.ndarray) -> np.ndarray:
    """The lossy images (n, H*W) uint8 of latent ``symbols`` (n, latent size) through the
    decoder network of ``settings``' model."""
    try:
        return settings.vae().decode_symbols(symbols, settings.quant_step)
    except ValueError as e:  # weights the exact decoder cannot take
        raise CorruptModelError(f"model {settings.model.name} is damaged ({e})") from None
