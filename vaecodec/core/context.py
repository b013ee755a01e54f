"""What the residual layer's pixel model sees (numpy only): the geometry of an image
shape (index tables from each coded position to its causal neighbours in the decoded
canvas, to its window of the base image and, for several channels, to the earlier
planes around its pixel), the feature rows built from them, the extra inputs (position,
latent symbols), the trivial-pixel rule and the median edge detector of predictive pixel
models (residual layout 3). ``residual`` codes with them."""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

CAUSAL = tuple((dy, dx) for dy in (-2, -1) for dx in range(-3, 4)) + ((0, -3), (0, -2), (0, -1))
WINDOW = tuple((dy, dx) for dy in range(-2, 3) for dx in range(-2, 3))
FEATURES = len(CAUSAL) + len(WINDOW)  # the local features, first in every feature row
# optional inputs after them, in this order: "position" (row and column, each scaled to
# 0..255), "latent" (each base-layer symbol clipped to +-SYMBOL_LIMIT, plus 128)
EXTRAS = ("position", "latent")

SYMBOL_LIMIT = 127  # base-layer symbols are clipped to +-127 before the integer decoder

# The decoded image sits in a zero-padded canvas (room above and on both sides for the
# causal offsets), the base image in a zero-padded window; a geometry's index tables give
# each position's neighbours as flat indices into them.
C_TOP = max(-dy for dy, _ in CAUSAL)
C_SIDE = max(abs(dx) for _, dx in CAUSAL)
R_PAD = max(max(abs(dy), abs(dx)) for dy, dx in WINDOW)

NEAR = tuple((dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1))  # a 3x3 window
_NONE = np.zeros((0, 0), dtype=np.int64)


@dataclasses.dataclass(frozen=True, eq=False)
class Geometry:
    """The index tables of one image shape (height, width), or (height, width, channels).

    An image of several channels is coded plane by plane: every value of channel 0 in
    raster order, then channel 1, ...: position q = c * height * width + i * width + j
    (``to_planes`` and ``from_planes`` reorder numpy's channels-last values). A value of
    channel c also sees, for each earlier channel c - 1, c - 2, ... (one slot each of
    channels - 1; a slot without a channel sees zeros), the 3x3 window around its pixel of
    that channel's decoded values and of its base image, then a one-hot of c (255 or 0
    per channel): the ``cross`` features, after the local ones."""

    height: int
    width: int
    canvas_size: int  # per plane (height + C_TOP (+ 1)) x (width + 2 C_SIDE) (+ one cell)
    causal_index: np.ndarray  # (positions, 17): each position's causal neighbours
    window_index: np.ndarray  # (positions, 25): its base window in the padded base image
    canvas_index: np.ndarray  # (positions,): the position itself in the canvas
    channels: int = 1
    # (positions, 9 (channels - 1) + channels) and (positions, 9 (channels - 1))
    cross_canvas_index: np.ndarray = dataclasses.field(default_factory=lambda: _NONE)
    cross_window_index: np.ndarray = dataclasses.field(default_factory=lambda: _NONE)
    one_index: int | None = None  # the canvas cell that holds 255 (several channels)

    @property
    def pixels(self) -> int:
        """The positions: values per image (every channel counted)."""
        return self.height * self.width * self.channels

    @property
    def cross_width(self) -> int:
        if self.channels == 1:
            return 0
        return self.cross_canvas_index.shape[1] + self.cross_window_index.shape[1]

    def to_planes(self, values: np.ndarray) -> np.ndarray:
        """(N, values) in numpy's order (channels last) -> (N, values) plane by plane."""
        if self.channels == 1:
            return values
        return np.ascontiguousarray(values.reshape(
            len(values), self.height * self.width, self.channels).transpose(0, 2, 1)
        ).reshape(len(values), -1)

    def from_planes(self, values: np.ndarray) -> np.ndarray:
        """The inverse of ``to_planes``."""
        if self.channels == 1:
            return values
        return np.ascontiguousarray(values.reshape(
            len(values), self.channels, self.height * self.width).transpose(0, 2, 1)
        ).reshape(len(values), -1)


@functools.lru_cache(maxsize=8)
def geometry(height: int, width: int, channels: int = 1) -> Geometry:
    c_w, r_w = width + 2 * C_SIDE, width + 2 * R_PAD
    # several channels: a row below each plane, for the 3x3 windows of the cross features
    c_plane = (height + C_TOP + (channels > 1)) * c_w
    r_plane = (height + 2 * R_PAD) * r_w
    i, j = np.divmod(np.arange(height * width), width)
    causal = np.stack([(i + C_TOP + dy) * c_w + j + C_SIDE + dx for dy, dx in CAUSAL], 1)
    window = np.stack([(i + R_PAD + dy) * r_w + j + R_PAD + dx for dy, dx in WINDOW], 1)
    itself = (i + C_TOP) * c_w + j + C_SIDE
    if channels == 1:
        return Geometry(height, width, c_plane, causal, window, itself)
    planes = range(channels)
    one = channels * c_plane  # canvas cell 0 (plane 0's top padding) always holds 0
    near_c = np.stack([(i + C_TOP + dy) * c_w + j + C_SIDE + dx for dy, dx in NEAR], 1)
    near_r = np.stack([(i + R_PAD + dy) * r_w + j + R_PAD + dx for dy, dx in NEAR], 1)
    zeros = np.zeros_like(near_c)  # cell 0 of the canvas and of the padded base: padding

    def slots(c: int, near, plane):
        return [near + (c - 1 - s) * plane if c - 1 - s >= 0 else zeros
                for s in range(channels - 1)]

    cross_c = np.concatenate([np.concatenate(
        slots(c, near_c, c_plane)
        + [np.full((len(i), 1), one if k == c else 0) for k in planes], 1) for c in planes])
    cross_r = np.concatenate([np.concatenate(slots(c, near_r, r_plane), 1) for c in planes])
    return Geometry(height, width, channels * c_plane + 1,
                    np.concatenate([causal + c * c_plane for c in planes]),
                    np.concatenate([window + c * r_plane for c in planes]),
                    np.concatenate([itself + c * c_plane for c in planes]),
                    channels, cross_c, cross_r, one)


def geometry_of(image_shape) -> Geometry:
    """The geometry of an image shape (height, width) or (height, width, channels)."""
    return geometry(*(int(v) for v in image_shape))

def canvas_of(planes: np.ndarray, geo: Geometry) -> np.ndarray:
    """The canvas (N, canvas size) of values (N, P) plane by plane (``to_planes``)."""
    canvas = np.zeros((len(planes), geo.canvas_size), dtype=np.uint8)
    canvas[:, geo.canvas_index] = planes
    if geo.one_index is not None:
        canvas[:, geo.one_index] = 255
    return canvas


def padded_base(planes: np.ndarray, geo: Geometry) -> np.ndarray:
    """The base images (N, P), plane by plane, each plane padded by R_PAD zeros."""
    return np.pad(planes.reshape(-1, geo.channels, geo.height, geo.width),
                  ((0, 0), (0, 0), (R_PAD, R_PAD), (R_PAD, R_PAD))).reshape(len(planes), -1)


def features(pixels: np.ndarray, base: np.ndarray, geo: Geometry, extras: tuple = (),
             symbols: np.ndarray | None = None) -> np.ndarray:
    """Network inputs (N, P, features) uint8 for known values (N, P) and base images (both
    in numpy's order, channels last), rows in coding order (``Geometry``): the 42 local
    features, the cross features of several channels, then ``extras`` (``symbols``: the
    base layer's, for "latent")."""
    canvas = canvas_of(geo.to_planes(pixels), geo)
    window = padded_base(geo.to_planes(base), geo)
    parts = [canvas[:, geo.causal_index], window[:, geo.window_index]]
    if geo.channels > 1:
        parts += [canvas[:, geo.cross_canvas_index], window[:, geo.cross_window_index]]
    n = len(pixels)
    if "position" in extras:
        parts.append(np.broadcast_to(position_inputs(geo), (n, geo.pixels, 2)))
    if "latent" in extras:
        lat = latent_inputs(symbols)
        parts.append(np.broadcast_to(lat[:, None, :], (n, geo.pixels, lat.shape[1])))
    return np.concatenate(parts, axis=2)


def position_inputs(geo: Geometry) -> np.ndarray:
    """(P, 2) uint8: each position's row and column, scaled to 0..255."""
    i, j = np.divmod(np.arange(geo.pixels) % (geo.height * geo.width), geo.width)
    return np.stack([i * 255 // max(geo.height - 1, 1),
                     j * 255 // max(geo.width - 1, 1)], 1).astype(np.uint8)


def latent_inputs(symbols: np.ndarray) -> np.ndarray:
    """(N, latent) uint8: base-layer symbols clipped to +-SYMBOL_LIMIT, plus 128."""
    symbols = np.clip(np.asarray(symbols, dtype=np.int64), -SYMBOL_LIMIT, SYMBOL_LIMIT)
    return (symbols + 128).astype(np.uint8)


def extra_width(extras: tuple, latent_size: int) -> int:
    return 2 * ("position" in extras) + latent_size * ("latent" in extras)


def is_trivial(causal: np.ndarray, window: np.ndarray, threshold: int, axis: int = -1):
    """Pixels coded with the fixed tables: black causal neighbours and a base window at
    most ``threshold`` (the neighbours along ``axis``)."""
    return (causal.max(axis=axis) == 0) & (window.max(axis=axis) <= threshold)


# a pixel model's optional predictor (metadata architecture.predictor): "med", LOCO-I's
# median edge detector in the value's own plane; "med-planes", that plus, for a plane
# after the first, the previous plane's difference from its own median edge detector at
# the same pixel (clipped to 0..255): colour edges fall at the same pixels in every plane
PREDICTORS = ("med", "med-planes")
_LEFT, _UP, _UP_LEFT = (CAUSAL.index(o) for o in ((0, -1), (-1, 0), (-1, -1)))
# the previous plane's window in the cross features: its first 9 (slot 0, NEAR's order)
_X_LEFT, _X_UP, _X_UP_LEFT, _X_HERE = (NEAR.index(o) for o in
                                       ((0, -1), (-1, 0), (-1, -1), (0, 0)))


def _med(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    low, high = np.minimum(a, b), np.maximum(a, b)
    return np.where(c >= high, low, np.where(c <= low, high, a + b - c))


def med(causal: np.ndarray, axis: int = -1) -> np.ndarray:
    """The median edge detector of LOCO-I (JPEG-LS) from causal neighbour rows (17 along
    ``axis``): left a, up b, up-left c give min(a, b) when c >= max(a, b), max(a, b) when
    c <= min(a, b), else a + b - c; int64."""
    a, b, c = (np.take(causal, k, axis=axis).astype(np.int64) for k in (_LEFT, _UP, _UP_LEFT))
    return _med(a, b, c)


def predict(predictor: str, causal: np.ndarray, cross: np.ndarray | None,
            axis: int = -1) -> np.ndarray:
    """A predictive pixel model's prediction (int64, 0..255) of each value from its causal
    neighbours and (several channels, "med-planes") the cross features' rows, along
    ``axis``; a first plane's cross features are zeros, so its prediction is its "med"."""
    own = med(causal, axis)
    if predictor == "med" or cross is None:
        return own
    a, b, c, here = (np.take(cross, k, axis=axis).astype(np.int64)
                     for k in (_X_LEFT, _X_UP, _X_UP_LEFT, _X_HERE))
    return np.clip(own + here - _med(a, b, c), 0, 255)


def trivial_mask(feats: np.ndarray, threshold: int) -> np.ndarray:
    """``is_trivial`` on feature rows (..., features)."""
    return is_trivial(feats[..., : len(CAUSAL)], feats[..., len(CAUSAL):FEATURES], threshold)
