"""A table pixel model for exact colour: no network, one fixed table of difference
distributions per context, counted on training images (issue 29's lossless speed; the
probe and its figures: research/context_model_probe.py, docs/notes/training.md).

Not yet a residual layout of the file format: this module is the model and its exact
coder, tested on their own, so that the format, training and the shipped family can be
built on a measured base.

The values of an image (H, W, C) are coded plane by plane, each plane in raster order. A
value's **prediction** is LOCO-I's median edge detector (MED) of its left, upper and
upper-left neighbours in its own plane, except that in a plane after the first it is the
value of the first neighbour (left, up, up-left, up-right) whose earlier planes all equal
this pixel's, where one does (a flat colour continues: the *match*). Its **context** is
the plane, LOCO-I's three local gradients (9 regions each), the earlier plane's
difference from its own prediction (8 classes), whether the earlier plane's value equals
its left and its upper neighbour's, and which neighbour matched (or none): 349,920
contexts for three planes. The difference from the prediction, modulo 256, is sent as
two nibbles with the table row of the context, exactly as the residual layer sends a
value (integer probabilities, constriction's range coder): files decode to the same
values on every machine.

With ``max_error`` K > 0 the values are coded as the residual layer's levels (each
within K, black and white exact): the contexts are formed from the decoded levels, and a
level's probability is the sum of its values', each value's being that of its difference
from the prediction (as residual layout 3 does), in integer arithmetic.

A context seen fewer than ``min_count`` times in training has no row of its own and
uses its plane's row; a row is the context's counts mixed with its plane's distribution
(``weight`` pseudo-counts), so no value has probability 0.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import residual

GRADIENT_EDGES = np.array([-21, -7, -3, 0, 1, 4, 8, 22])  # LOCO-I's 9 regions (T1..T3)
PLANE_EDGES = np.array([-16, -4, -1, 1, 2, 5, 17])  # the earlier plane's difference
AROUND = ((0, -1), (-1, 0), (-1, -1), (-1, 1))  # left, up, up-left, up-right
PROB_BITS = 16  # the tables' probabilities: integers 1 .. 2**PROB_BITS
_GRADIENT_LUT = np.searchsorted(GRADIENT_EDGES, np.arange(-255, 256), side="right")
_PLANE_LUT = np.searchsorted(PLANE_EDGES, np.arange(-128, 128), side="right")


def context_count(planes: int) -> int:
    """Raw context ids of an image of ``planes`` planes: 0 .. this - 1."""
    return planes * 729 * 8 * 4 * 5


def _context(canvas: np.ndarray, k: int, i: int, j: int, previous: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, raw context id) of the value at row i, column j of plane k (canvas
    coordinates) of every image: ``canvas`` (planes, H + 1, W + 2, N) int64, zero-padded
    above, left and right, holding the values decoded so far; ``previous``: the earlier
    plane's signed difference at this pixel (None for the first plane)."""
    plane = canvas[k]
    a, b, c, d = plane[i, j - 1], plane[i - 1, j], plane[i - 1, j - 1], plane[i - 1, j + 1]
    low, high = np.minimum(a, b), np.maximum(a, b)
    pred = np.where(c >= high, low, np.where(c <= low, high, a + b - c))
    ctx = ((k * 9 + _GRADIENT_LUT[d - b + 255]) * 9 + _GRADIENT_LUT[b - c + 255]) * 9 \
        + _GRADIENT_LUT[c - a + 255]
    matched = np.zeros_like(pred)
    equal = np.zeros_like(pred)
    if k:
        ctx = ctx * 8 + _PLANE_LUT[previous + 128]
        earlier = canvas[k - 1]
        equal = 2 * (earlier[i, j] == earlier[i, j - 1]) + (earlier[i, j] == earlier[i - 1, j])
        for which in range(len(AROUND) - 1, -1, -1):  # the first neighbour that matches
            di, dj = AROUND[which]
            same = canvas[0, i, j] == canvas[0, i + di, j + dj]
            for e in range(1, k):
                same &= canvas[e, i, j] == canvas[e, i + di, j + dj]
            pred = np.where(same, plane[i + di, j + dj], pred)
            matched = np.where(same, which + 1, matched)
    else:
        ctx = ctx * 8
    return pred, (ctx * 4 + equal) * 5 + matched


def _signed(diff: np.ndarray) -> np.ndarray:
    return ((diff + 128) & 255) - 128


def _positions(shape: tuple[int, int, int]):
    """(plane, canvas row, canvas column) of every value, in coding order."""
    height, width, planes = shape
    for k in range(planes):
        for i in range(1, height + 1):
            for j in range(1, width + 1):
                yield k, i, j


def _canvas(images: np.ndarray) -> np.ndarray:
    """(planes, H + 1, W + 2, N) int64: the images, zero-padded as ``_context`` reads."""
    n, height, width, planes = images.shape
    canvas = np.zeros((planes, height + 1, width + 2, n), dtype=np.int64)
    canvas[:, 1:, 1:-1] = images.transpose(3, 1, 2, 0)
    return canvas


def _as_planes(images: np.ndarray) -> np.ndarray:
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4:
        raise ValueError("images must be uint8 (N, H, W, C)")
    return images


@dataclasses.dataclass
class TableModel:
    """Integer probability tables: ``rows`` maps each raw context id to a row of ``hi``
    (rows, 16) and ``lo`` (rows, 16, 16); rows 0 .. planes - 1 are the planes' own."""

    shape: tuple[int, int, int]  # (height, width, planes) of the images it codes
    rows: np.ndarray  # (context_count(planes),) int32
    hi: np.ndarray  # (rows, 16) int64, each in 1 .. 2**PROB_BITS
    lo: np.ndarray  # (rows, 16, 16) int64, likewise

    @classmethod
    def fit(cls, images: np.ndarray, min_count: int = 16, weight: float = 32.0
            ) -> "TableModel":
        """Count the training ``images`` (N, H, W, C) uint8 into tables."""
        images = _as_planes(images)
        shape = images.shape[1:]
        planes = shape[2]
        ids, symbols = cls._ids_and_symbols(images)
        total = context_count(planes)
        counts_of = np.bincount(ids, minlength=total)
        own = np.flatnonzero(counts_of >= min_count)
        rows = np.zeros(total, dtype=np.int32)
        plane_of = np.arange(total) // (total // planes)
        rows[:] = plane_of  # every context starts on its plane's row
        rows[own] = planes + np.arange(len(own), dtype=np.int32)
        counts = np.bincount(rows[ids].astype(np.int64) * 256 + symbols,
                             minlength=(planes + len(own)) * 256
                             ).reshape(-1, 256).astype(np.float64)
        for k in range(planes):  # a plane's row: every value of the plane
            counts[k] = np.bincount(symbols[plane_of[ids] == k], minlength=256)
        plane_p = (counts[:planes] + 0.5) / (counts[:planes] + 0.5).sum(1, keepdims=True)
        row_plane = np.concatenate([np.arange(planes), plane_of[own]])
        mixed = counts + weight * plane_p[row_plane]
        mixed /= mixed.sum(1, keepdims=True)
        joint = mixed.reshape(-1, 16, 16)  # (row, hi, lo)
        hi = joint.sum(2)
        lo = joint / hi[:, :, None]
        return cls(shape, rows, _integers(hi), _integers(lo))

    @staticmethod
    def _ids_and_symbols(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw context ids and symbols of every value of the images, in coding order
        (position-major: every image's value at a position, then the next position)."""
        canvas = _canvas(images)
        ids, symbols = [], []
        previous = None
        for k, i, j in _positions(images.shape[1:]):
            if j == 1 and i == 1:
                diffs = np.zeros(canvas.shape[1:], dtype=np.int64)
            pred, ctx = _context(canvas, k, i, j, None if k == 0 else previous[i, j])
            ids.append(ctx)
            symbols.append((canvas[k, i, j] - pred) & 255)
            diffs[i, j] = _signed(canvas[k, i, j] - pred)
            if i == images.shape[1] and j == images.shape[2]:
                previous = diffs
        return np.concatenate(ids), np.concatenate(symbols)

    def encode(self, images: np.ndarray, max_error: int = 0) -> bytes:
        """The range-coded values of uint8 ``images`` (N, H, W, C) of the model's shape:
        exact, or with ``max_error`` K > 0 each value within K (the residual layer's
        levels, ``residual.quantization_levels``; the contexts are then formed from the
        decoded levels, as the decoder sees them)."""
        import constriction

        images = _as_planes(images)
        if images.shape[1:] != self.shape:
            raise ValueError(f"images of shape {images.shape[1:]}, not {self.shape}")
        n = len(images)
        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Categorical(perfect=False)
        if max_error:
            levels, nearest, starts = residual._bins(max_error)
            decoded = levels[nearest[images]]
            ids, symbols = self._ids_and_symbols(decoded)
            preds = (decoded.transpose(3, 1, 2, 0).reshape(-1) - symbols) & 255
            coded = nearest[decoded].transpose(3, 1, 2, 0).reshape(-1).astype(np.int32)
            rows = self.rows.take(ids)
            for start in range(0, len(symbols), n):
                at = slice(start, start + n)
                encoder.encode(coded[at], family,
                               self._level_probs(rows[at], preds[at], starts))
            return encoder.get_compressed().astype("<u4").tobytes()
        ids, symbols = self._ids_and_symbols(images)
        rows = self.rows.take(ids)
        hi_p = self.hi.astype(np.float64)
        lo_p = self.lo.astype(np.float64).reshape(-1, 16)  # row r, high nibble h: 16r + h
        hi, lo = (symbols >> 4).astype(np.int32), (symbols & 15).astype(np.int32)
        lo_rows = rows * 16 + hi
        for start in range(0, len(symbols), n):
            at = slice(start, start + n)
            encoder.encode(hi[at], family, hi_p.take(rows[at], axis=0))
            encoder.encode(lo[at], family, lo_p.take(lo_rows[at], axis=0))
        return encoder.get_compressed().astype("<u4").tobytes()

    def decode(self, data: bytes, n: int, max_error: int = 0) -> np.ndarray:
        """The ``n`` images (N, H, W, C) uint8 that ``encode`` coded into ``data`` (with
        the same ``max_error``)."""
        import constriction

        if len(data) % 4:
            raise ValueError("the coded values are not a whole number of 32-bit words")
        height, width, planes = self.shape
        decoder = constriction.stream.queue.RangeDecoder(
            np.frombuffer(data, dtype="<u4").copy())
        family = constriction.stream.model.Categorical(perfect=False)
        hi_p = self.hi.astype(np.float64)
        lo_p = self.lo.astype(np.float64).reshape(-1, 16)  # row r, high nibble h: 16r + h
        if max_error:
            levels, _, starts = residual._bins(max_error)
        canvas = np.zeros((planes, height + 1, width + 2, n), dtype=np.int64)
        previous = None
        for k, i, j in _positions(self.shape):
            if j == 1 and i == 1:
                diffs = np.zeros(canvas.shape[1:], dtype=np.int64)
            pred, ctx = _context(canvas, k, i, j, None if k == 0 else previous[i, j])
            rows = self.rows.take(ctx)
            if max_error:
                level = decoder.decode(family, self._level_probs(rows, pred, starts))
                canvas[k, i, j] = levels[np.asarray(level, dtype=np.int64)]
                diff = (canvas[k, i, j] - pred) & 255
            else:
                hi = np.asarray(decoder.decode(family, hi_p.take(rows, axis=0)),
                                dtype=np.int64)
                lo = np.asarray(decoder.decode(family, lo_p.take(rows * 16 + hi, axis=0)),
                                dtype=np.int64)
                diff = (hi << 4) | lo
                canvas[k, i, j] = (pred + diff) & 255
            diffs[i, j] = _signed(diff)
            if i == height and j == width:
                previous = diffs
        return canvas[:, 1:, 1:-1].transpose(3, 1, 2, 0).astype(np.uint8)

    def _level_probs(self, rows: np.ndarray, pred: np.ndarray, starts: np.ndarray
                     ) -> np.ndarray:
        """Integer probabilities (n, levels), as float64, of the levels whose first values
        are ``starts``: each value v's is that of its difference (v - ``pred``) modulo 256,
        summed over the level's values: a difference of two running sums over the
        differences' distribution written twice (a level's values may wrap past 255).
        Integers below 2**45: every sum exact."""
        values = self._joint.take(rows, axis=0)  # (n, 256)
        running = np.zeros((len(rows), 513), dtype=np.int64)
        np.cumsum(np.concatenate([values, values], axis=1), axis=1, out=running[:, 1:])
        sizes = np.diff(np.append(starts, 256))
        first = (starts[None, :] - pred[:, None]) & 255  # each level's first difference
        return (np.take_along_axis(running, first + sizes, axis=1)
                - np.take_along_axis(running, first, axis=1)).astype(np.float64)

    @functools.cached_property
    def _joint(self) -> np.ndarray:
        """(rows, 256) int64: each difference's integer probability, as the residual
        layer's network rows have theirs (``residual._joint``)."""
        return residual._joint(self.hi, self.lo)


def _integers(p: np.ndarray) -> np.ndarray:
    """Probabilities (..., 16) as integers 1 .. 2**PROB_BITS (never 0)."""
    return np.maximum(1, np.rint(p * 2**PROB_BITS)).astype(np.int64)
