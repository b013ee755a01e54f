"""Image shapes as files and models record them (plain Python, no numpy).

A shape is ``(height, width)`` for grayscale images and ``(height, width, channels)`` for
images with more than one channel, numpy's layout of one image: 2 channels are
grayscale and alpha, 3 are RGB, 4 are RGBA (Pillow's modes L, LA, RGB and RGBA). A
grayscale shape is never written with a third entry of 1, so that every shape has one
spelling.
"""

from __future__ import annotations

from ..errors import CorruptHeaderError

MAX_SIDE = 4096
MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}  # channels -> Pillow's mode
MAX_CHANNELS = max(MODES)


def is_shape(shape) -> bool:
    """Whether ``shape`` (a list or tuple) is a valid image shape: two sides in
    1..MAX_SIDE, and a channel count of 2..MAX_CHANNELS where there is a third entry."""
    if not isinstance(shape, (list, tuple)) or len(shape) not in (2, 3):
        return False
    if not all(type(v) is int for v in shape):
        return False
    if not all(1 <= side <= MAX_SIDE for side in shape[:2]):
        return False
    return len(shape) == 2 or 2 <= shape[2] <= MAX_CHANNELS


def check_shape(shape, what: str = "header field 'image'") -> tuple[int, ...]:
    """A stored shape as a tuple; ``CorruptHeaderError`` naming ``what`` otherwise."""
    if not is_shape(shape):
        raise CorruptHeaderError(
            f"{what} must be [height, width] or [height, width, channels] with sides "
            f"1..{MAX_SIDE} and 2..{MAX_CHANNELS} channels")
    return tuple(shape)


def normal(shape) -> tuple[int, ...]:
    """``shape`` with a channel count of 1 dropped: (H, W, 1) -> (H, W)."""
    shape = tuple(int(v) for v in shape)
    return shape[:2] if len(shape) == 3 and shape[2] == 1 else shape


def channels(shape) -> int:
    return int(shape[2]) if len(shape) == 3 else 1


def values(shape) -> int:
    """Values per image: height x width x channels."""
    return int(shape[0]) * int(shape[1]) * channels(shape)


def describe(shape) -> str:
    """"28x28", "32x32 RGB": width x height, and the channels where there are several."""
    size = f"{shape[1]}x{shape[0]}"
    return size if channels(shape) == 1 else f"{size} {MODES[channels(shape)]}"
