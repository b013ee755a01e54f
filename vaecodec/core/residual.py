"""The residual layer: exact (lossless) or error-bounded pixels on top of the VAE base layer.

Every pixel is coded, in raster order (images of several channels plane by plane, the
earlier planes as context: ``context.Geometry``), with a categorical distribution from a
*pixel model*:
a small integer MLP (``vaecodec.intnet``) that sees the already decoded causal neighbours
and a 5x5 window of the base reconstruction, itself computed by an integer copy of the
VAE decoder; a model may also see ``EXTRAS``: the pixel's row and column, and the base
layer's latent symbols (the same for every pixel of an image), whose share of the first
layer's sums is computed once per position and once per image. Pixels whose causal
neighbours are all 0 and whose base window is nearly black (``trivial_threshold``) skip
the network and use fixed tables.

Lossless (``max_error`` 0): a pixel value v is sent as two 16-ary symbols, ``v >> 4`` then
``v & 15``, each with its own head of the network. With ``max_error`` K > 0, values are
mapped to the nearest of levels 2K+1 apart, 0 and 255 among them (so black and white stay
exact; ``quantization_levels``: residual layout 2 counts them from both ends, layout 1
from 0), and the level index is sent with the network's 256-value distribution summed
over each level's values; the neighbours the model sees are the decoded levels.

A predictive pixel model (residual layout 3) codes each value's difference from a
prediction made from its decoded neighbours (``context.predict``) instead of the value.
A pixel model without a network, a table of contexts, is ``tablemodel`` (layout 4).

All probabilities are integers (lookup tables indexed by integer logit differences);
constriction's range coder receives them as float64 numbers that represent those integers
exactly and normalises them with IEEE-754 basic operations only, so encoder and decoder
agree on every machine.
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from ..format.container import MAX_RESIDUAL_ERROR
from . import intnet
from .context import (  # noqa: F401  (residual.features...: what the pixel model sees)
    CAUSAL,
    EXTRAS,
    FEATURES,
    NEAR,
    PREDICTORS,
    SYMBOL_LIMIT,
    WINDOW,
    Geometry,
    canvas_of,
    extra_width,
    features,
    geometry,
    geometry_of,
    is_trivial,
    latent_inputs,
    med,
    padded_base,
    position_inputs,
    predict,
    trivial_mask,
)

LUT_SIZE = 2048
LUT_STEPS_PER_NAT = 64  # about; the exact step is the output layer's unit times 2**head_shift
PROB_BITS = 20  # lookup-table probabilities are integers below 2**PROB_BITS
ENCODE_CHUNK = 8  # raster positions whose features are built at once (bounds memory)
PROB_BLOCK = 512  # pixels whose level probabilities are computed at once (cache-sized)

def quantization_levels(max_error: int, both_ends: bool = True
                        ) -> tuple[np.ndarray, np.ndarray]:
    """(levels, level_of_value): the reconstruction levels for ``max_error`` K and the index
    of the nearest level (ties to the lower) for each value 0..255.

    The levels are 2K+1 apart with 0 and 255 among them (black and white stay exact), so
    one gap is narrower: with ``both_ends`` (residual layout 2) the levels count up from 0
    and down from 255 and the narrow gap falls in the middle, where pixels are rare;
    without (layout 1) they count up from 0 and the narrow gap is the last, which splits
    the near-white values that ink is made of (252..255 in MNIST) into two levels."""
    if not 0 <= max_error <= MAX_RESIDUAL_ERROR:
        raise ValueError(f"max_error must be 0..{MAX_RESIDUAL_ERROR}")
    step = 2 * max_error + 1
    count = -(-255 // step) + 1
    if both_ends:
        low = np.arange(count // 2) * step
        levels = np.concatenate([low, 255 - np.arange(count - len(low))[::-1] * step])
    else:
        levels = np.append(np.arange(count - 1) * step, 255)
    values = np.arange(256)
    below = np.searchsorted(levels, values, side="right") - 1
    above = np.minimum(below + 1, len(levels) - 1)
    nearest = np.where(levels[above] - values < values - levels[below], above, below)
    return levels.astype(np.uint8), nearest.astype(np.int64)


def base_pixels(decoder: intnet.IntMLP, thresholds: np.ndarray, symbols: np.ndarray):
    """uint8 base images (N, P): symbols (clipped to +-SYMBOL_LIMIT) through the integer
    decoder; each pixel is the number of ``thresholds`` at most its output sum."""
    symbols = np.clip(np.asarray(symbols, dtype=np.int64), -SYMBOL_LIMIT, SYMBOL_LIMIT)
    out = np.empty((len(symbols), decoder.out_size), dtype=np.uint8)
    for i in range(0, len(symbols), 2048):
        logits = decoder.forward(symbols[i : i + 2048])
        out[i : i + 2048] = np.searchsorted(thresholds, logits, side="right")
    return out


@dataclasses.dataclass
class PixelModel:
    """A fitted pixel model with the integer base decoder it was fitted with."""

    name: str
    model_id: bytes  # sha256 of the weights file
    base_level: int
    geometry: Geometry  # the image shape
    base: intnet.IntMLP  # symbols -> integer logits of the image's pixels
    base_thresholds: np.ndarray  # (255,) pixel value = number of thresholds <= logit
    net: intnet.IntMLP  # features -> 16 high-nibble + 256 low-nibble logits
    head_shift: int  # lookup index = floor(logit difference / 2**head_shift)
    lut: np.ndarray  # (LUT_SIZE,) integer probabilities, decreasing
    trivial_threshold: int
    trivial_hi: np.ndarray  # (16,) integer probabilities for trivial pixels
    trivial_lo: np.ndarray  # (16, 16)
    extras: tuple = ()  # the inputs besides the local features (EXTRAS, in order)
    # "med": each value is coded as its difference from ``med`` of its decoded neighbours
    # (modulo 256; residual layout 3), None: as it is (layouts 1 and 2)
    predictor: str | None = None

    @property
    def coding(self) -> str:
        """What the residual layout codes with it (``coders.RESIDUAL_CODERS``): the
        values as they are (layouts 1 and 2), or their differences from the prediction
        (layout 3)."""
        return "values" if self.predictor is None else "differences"

    @property
    def local_width(self) -> int:
        """The inputs before the extras: the local features and, for several channels,
        the cross features."""
        return FEATURES + self.geometry.cross_width

    @classmethod
    def from_tensors(cls, name: str, model_id: bytes, metadata: dict,
                     tensors: dict[str, np.ndarray],
                     image_shape: tuple[int, ...]) -> "PixelModel":
        """Raises ValueError when the tensors are not a pixel model for ``image_shape``."""
        geo = geometry_of(image_shape)
        base = intnet.IntMLP.from_tensors(tensors, "base", SYMBOL_LIMIT)
        net = intnet.IntMLP.from_tensors(tensors, "pixel", 255)
        thresholds = np.asarray(tensors["base_thresholds"], dtype=np.int64)
        lut = np.asarray(tensors["lut"], dtype=np.int64)
        head = np.asarray(tensors["head_shift"], dtype=np.int64)
        t_hi = np.asarray(tensors["trivial_hi"], dtype=np.int64)
        t_lo = np.asarray(tensors["trivial_lo"], dtype=np.int64)
        architecture = metadata.get("architecture")
        extras = architecture.get("extras", []) if isinstance(architecture, dict) else []
        if not (isinstance(extras, list) and all(isinstance(e, str) for e in extras)
                and extras == [e for e in EXTRAS if e in extras]):
            raise ValueError(f"pixel model {name} has unknown extra inputs {extras!r}")
        extras = tuple(extras)
        predictor = architecture.get("predictor") if isinstance(architecture, dict) else None
        if predictor is not None and predictor not in PREDICTORS:
            raise ValueError(f"pixel model {name} has an unknown predictor {predictor!r}")
        if (base.out_size != geo.pixels or thresholds.shape != (255,)
                or np.any(np.diff(thresholds) < 0)
                or net.in_size != FEATURES + geo.cross_width + extra_width(extras,
                                                                            base.in_size)
                or net.out_size != 16 + 256
                or lut.shape != (LUT_SIZE,) or lut.min() < 1 or lut.max() >= 2**PROB_BITS
                or np.any(np.diff(lut) > 0) or head.shape != (1,)
                or abs(int(head[0])) > intnet.MAX_SHIFT
                or t_hi.shape != (16,) or t_lo.shape != (16, 16)
                or min(t_hi.min(), t_lo.min()) < 1
                or max(t_hi.max(), t_lo.max()) >= 2**PROB_BITS):
            raise ValueError(f"pixel model {name} has inconsistent tensors")
        return cls(name, model_id, int(metadata["base_level"]), geo, base, thresholds, net,
                   int(head[0]), lut, int(metadata["trivial_threshold"]), t_hi, t_lo, extras,
                   predictor)

    # --- base layer --------------------------------------------------------------------

    def base_pixels(self, symbols: np.ndarray) -> np.ndarray:
        """The integer decoder's uint8 reconstruction (N, P) of base-layer symbols."""
        return base_pixels(self.base, self.base_thresholds, symbols)

    def extra_sums(self, symbols: np.ndarray | None
                   ) -> tuple[np.ndarray | None, np.ndarray | None]:
        """The first layer's sums over the extra inputs: (per position (P, width) or None,
        per image (N, width) or None), for images with these base-layer ``symbols``."""
        per_position = per_image = None
        if "latent" in self.extras and (symbols is None or np.ndim(symbols) != 2
                                        or np.shape(symbols)[1] != self.base.in_size):
            raise ValueError(f"pixel model {self.name} needs the base layer's symbols")
        if "position" in self.extras:
            per_position = self.net.partial_sums(position_inputs(self.geometry),
                                                 self.local_width)
        if "latent" in self.extras:  # the last inputs
            lat = latent_inputs(symbols)
            per_image = self.net.partial_sums(lat, self.net.in_size - lat.shape[1])
        return per_position, per_image

    def hidden(self, local: np.ndarray, positions, images: np.ndarray,
               sums: tuple) -> np.ndarray:
        """The network's last hidden layer for local feature rows (n, local_width) at
        ``positions``
        (n,), or all at one position (an int), of ``images`` (n,); ``sums`` from
        ``extra_sums``."""
        per_position, per_image = sums
        if per_position is None and per_image is None:
            return self.net.hidden(local)
        rest = 0
        if per_position is not None:
            rest = per_position[positions]
        if per_image is not None:
            rest = rest + per_image[images]  # exact: within the first layer's bound
        return self.net.hidden(local, rest)

    # --- probabilities ---------------------------------------------------------------

    def _table(self, logits: np.ndarray, exact_int: bool = False, axis: int = -1
               ) -> np.ndarray:
        """Integer logits (..., n) -> integer probabilities (..., n): float64 (each an exact
        integer, what the coder takes) or int64 with ``exact_int``. One distribution per
        row along ``axis`` (-1, or 1 for (rows, n, heads))."""
        if 2 * self.net.output_bound >= intnet.F32_EXACT:  # differences need float64
            logits = logits.astype(np.float64)
        # exact: integers below 2**24 (float32) or 2**53 (float64)
        diff = _tree(np.maximum, logits, axis) - logits
        if self.head_shift >= 0:  # floor(diff / 2**shift) of an integer: a shift
            index = diff.astype(np.int32 if diff.dtype == np.float32 else np.int64)
            index >>= self.head_shift
            return (self.lut if exact_int else self._lut_float).take(index, mode="clip")
        diff *= self._head_scale
        np.floor(diff, out=diff)
        np.minimum(diff, LUT_SIZE - 1, out=diff)
        return (self.lut if exact_int else self._lut_float)[diff.astype(np.intp)]

    @functools.cached_property
    def _head_scale(self) -> float:
        return 2.0**-self.head_shift  # a power of two: scaling is exact

    @functools.cached_property
    def _lut_float(self) -> np.ndarray:
        return self.lut.astype(np.float64)  # integers < 2**20: exact

    def hi_probs(self, hidden: np.ndarray) -> np.ndarray:
        return self._table(self.net.output(hidden, slice(0, 16)))

    def lo_probs(self, hidden: np.ndarray, hi: np.ndarray, presorted: bool = False) -> np.ndarray:
        """Low-nibble probabilities (n, 16), each row from the head of its ``hi``
        (``presorted``: the rows are already in increasing ``hi``)."""
        out = np.empty((len(hidden), 16), dtype=np.float64)
        order = None if presorted else np.argsort(hi, kind="stable")
        grouped = hidden if presorted else hidden[order]
        start = 0
        for h, end in enumerate(np.cumsum(np.bincount(hi, minlength=16))):
            if end > start:
                column = 16 + 16 * h
                rows = slice(start, end) if presorted else order[start:end]
                out[rows] = self._table(
                    self.net.output(grouped[start:end], slice(column, column + 16)))
            start = end
        return out

    def value_probs(self, hidden: np.ndarray) -> np.ndarray:
        """Integer probabilities (n, 256) of each pixel value: P(hi) * P(lo | hi), with
        P(lo | hi) renormalised to 2**PROB_BITS by integer division."""
        logits = self.net.output(hidden)
        hi = self._table(logits[:, :16], exact_int=True)
        lo = self._table(logits[:, 16:].reshape(-1, 16, 16), exact_int=True)
        return _joint(hi, lo)

    def shifted_bin_probs(self, value_probs: np.ndarray, pred: np.ndarray, max_error: int,
                          both_ends: bool = True) -> np.ndarray:
        """Integer probabilities (n, levels) as float64 of the levels of ``max_error``
        for a predictive model: ``value_probs`` (n, 256) are those of the differences
        (value - ``pred``) modulo 256; each value's is its difference's, summed over each
        level's values (integers below 2**48: exact)."""
        _, _, starts = _bins(max_error, both_ends)
        index = (np.arange(256)[None, :] - np.asarray(pred, dtype=np.int64)[:, None]) & 255
        values = np.take_along_axis(np.atleast_2d(value_probs), index, axis=1)
        return _bin_probs(values, starts).astype(np.float64)

    def bin_probs(self, hidden: np.ndarray, max_error: int, both_ends: bool = True
                  ) -> np.ndarray:
        """Integer probabilities (n, levels) of the levels of ``max_error`` (and
        ``both_ends``, see ``quantization_levels``), as float64:
        ``value_probs`` summed over each level's values, computed a cheaper way with the
        same integers:

        - the low-nibble logits come out of the network low nibble first, (n, lo, hi), so
          that the maximum and the sum over the low nibbles are element-wise operations on
          contiguous rows (numpy's reductions over a short last axis are slow);
        - P(lo | hi) is renormalised by a float64 division, whose floor is exact: the
          quotient is at most 2**20 and, when it is not an integer, at least 2**-24 below
          the next one, while its rounding error is below 2**-33;
        - for many levels, the products P(hi) * P(lo | hi) are summed into their levels
          by one matrix product with a 0/1 matrix (exact: products below 2**40, sums
          below 2**48); for a few, the normalised low-nibble probabilities are summed
          over each run of values that share a high nibble and a level, and only those
          sums are weighted by P(hi).

        Every value is an integer below 2**53, so every sum is exact in any order. Rows
        are taken PROB_BLOCK at a time, so that the work arrays stay in the CPU's cache."""
        if len(hidden) > PROB_BLOCK:
            return np.concatenate([self.bin_probs(hidden[i : i + PROB_BLOCK], max_error,
                                                  both_ends)
                                   for i in range(0, len(hidden), PROB_BLOCK)])
        weight, bias = self._lo_major_output
        hi = self._table(self.net.output(hidden, slice(0, 16)))
        logits = hidden.astype(weight.dtype, copy=False) @ weight
        logits += bias
        lo = self._table(logits.reshape(-1, 16, 16), axis=1)  # (n, lo, hi)
        total = _tree(np.add, lo, 1)
        total *= 2.0**-PROB_BITS  # exact; lo / (total * 2**-20) == lo * 2**20 / total
        lo /= total
        np.floor(lo, out=lo)
        np.maximum(lo, 1.0, out=lo)
        levels = _level_matrix(max_error, both_ends)
        if levels.shape[1] > 16:
            lo *= hi[:, None, :]
            return lo.reshape(len(lo), 256) @ levels
        runs, run_head, level_starts = _runs(max_error, both_ends)
        lo = np.ascontiguousarray(lo.transpose(0, 2, 1)).reshape(len(lo), 256)
        weighted = np.add.reduceat(lo, runs, axis=1)
        weighted *= hi[:, run_head]
        return np.add.reduceat(weighted, level_starts, axis=1)

    @functools.cached_property
    def _lo_major_output(self) -> tuple[np.ndarray, np.ndarray]:
        """The output layer's low-nibble columns, in the order (lo, hi)."""
        w, b = self.net.layers[-1][:2]
        order = (16 + 16 * np.arange(16)[None, :] + np.arange(16)[:, None]).reshape(-1)
        return np.ascontiguousarray(w[:, order]), np.ascontiguousarray(b[order])

    def trivial_value_probs(self) -> np.ndarray:
        return _joint(self.trivial_hi[None], self.trivial_lo[None])[0]


def _tree(op, x: np.ndarray, axis: int) -> np.ndarray:
    """``op.reduce(x, axis, keepdims=True)`` for an ``axis`` of 16 (any power of two), as a
    tree of element-wise operations, unless ``x`` is small: numpy's reductions over so
    short an axis cost more. (For additions, exact when every partial sum is an integer
    float below 2**53.)"""
    width = x.shape[axis]
    if width & (width - 1) or x.size < 2048:
        return op.reduce(x, axis=axis, keepdims=True)
    index = [slice(None)] * x.ndim
    while width > 1:
        width //= 2
        low, high = list(index), list(index)
        low[axis], high[axis] = slice(0, width), slice(width, 2 * width)
        x = op(x[tuple(low)], x[tuple(high)])
    return x


def _joint(hi: np.ndarray, lo: np.ndarray) -> np.ndarray:
    lo = np.maximum(1, (lo << PROB_BITS) // lo.sum(axis=-1, keepdims=True))
    return (hi[..., :, None] * lo).reshape(*hi.shape[:-1], 256)


@functools.lru_cache(maxsize=16)
def _bins(max_error: int, both_ends: bool = True):
    levels, nearest = quantization_levels(max_error, both_ends)
    starts = np.flatnonzero(np.diff(nearest, prepend=-1))  # first value of each level's bin
    return levels, nearest, starts


@functools.lru_cache(maxsize=16)
def _runs(max_error: int, both_ends: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(runs, run_head, level_starts): the first value of each run of values sharing a high
    nibble and a level, each run's high nibble, and the first run of each level."""
    _, _, starts = _bins(max_error, both_ends)
    runs = np.union1d(starts, np.arange(0, 256, 16))
    return runs, runs >> 4, np.searchsorted(runs, starts)


@functools.lru_cache(maxsize=16)
def _level_matrix(max_error: int, both_ends: bool) -> np.ndarray:
    """(256, levels) float64: 1 where value (rows in the order lo, hi) is in the level."""
    _, nearest, _ = _bins(max_error, both_ends)
    values = np.arange(256)
    out = np.zeros((16, 16, nearest.max() + 1))
    out[values & 15, values >> 4, nearest] = 1.0
    return out.reshape(256, -1)


def _bin_probs(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    return np.add.reduceat(values, starts, axis=-1)


# --- coding ------------------------------------------------------------------------------


def _constriction():
    import constriction

    return constriction


PROGRESS_EVERY = 64  # raster positions between two calls of a progress callback


def _level_probs(model: PixelModel, trivial: np.ndarray, busy: np.ndarray, hidden,
                 pred: np.ndarray | None, tables: tuple, max_error: int, both_ends: bool
                 ) -> np.ndarray:
    """Integer probabilities (rows, levels) as float64 of ``max_error``'s levels: the
    ``trivial`` rows' from the fixed tables (``tables``: their level and value
    probabilities), the ``busy`` rows' from the network (``hidden``: their last hidden
    layer, None when there are none); a predictive model's moved onto the values by
    ``pred``."""
    t_bins, t_values = tables
    probs = np.empty((len(trivial), len(t_bins)), dtype=np.float64)
    if pred is None:
        probs[trivial] = t_bins
        if hidden is not None:
            probs[busy] = model.bin_probs(hidden, max_error, both_ends)
        return probs
    rows = np.flatnonzero(trivial)
    probs[rows] = model.shifted_bin_probs(np.broadcast_to(t_values, (len(rows), 256)),
                                          pred[rows], max_error, both_ends)
    if hidden is not None:
        probs[busy] = model.shifted_bin_probs(model.value_probs(hidden), pred[busy],
                                              max_error, both_ends)
    return probs


def encode(model: PixelModel, pixels: np.ndarray, base: np.ndarray, max_error: int,
           progress=None, latent: np.ndarray | None = None, both_ends: bool = True) -> bytes:
    """Range-coded residual of uint8 ``pixels`` (N, P) given the base images (N, P) (both
    channels last; coded in the geometry's order) and
    (for a model that sees them) the base layer's symbols ``latent`` (N, latent size);
    ``progress(positions done, P)`` now and then; ``both_ends``: the levels of
    ``max_error`` (``quantization_levels``)."""
    constriction = _constriction()
    geo = model.geometry
    levels, nearest, starts = _bins(max_error, both_ends)
    pixels = geo.to_planes(np.asarray(pixels, dtype=np.uint8).reshape(len(pixels), geo.pixels))
    n = len(pixels)
    symbols = nearest[pixels]
    # position-major copies: row q of canvas / window / symbols is position q of every image
    canvas = np.ascontiguousarray(canvas_of(levels[symbols], geo).T)
    window = np.ascontiguousarray(padded_base(geo.to_planes(base), geo).T)
    symbols = np.ascontiguousarray(symbols.T)
    sums = model.extra_sums(latent)
    encoder = constriction.stream.queue.RangeEncoder()
    family = constriction.stream.model.Categorical(perfect=False)
    if max_error == 0:
        t_hi = model.trivial_hi.astype(np.float64)
        t_lo = model.trivial_lo.astype(np.float64)
    else:
        t_values = model.trivial_value_probs()
        t_bins = _bin_probs(t_values, starts).astype(np.float64)
    for p0 in range(0, geo.pixels, ENCODE_CHUNK):
        if progress and p0 % PROGRESS_EVERY == 0:
            progress(p0, geo.pixels)
        span = slice(p0, min(geo.pixels, p0 + ENCODE_CHUNK))
        causal = canvas[geo.causal_index[span]]  # (S, 17, N)
        near = window[geo.window_index[span]]  # (S, 25, N)
        trivial = is_trivial(causal, near, model.trivial_threshold, axis=1).reshape(-1)
        s = symbols[span].reshape(-1)
        # the earlier planes around each pixel (S, X, N): the network's and the predictor's
        cross = canvas[geo.cross_canvas_index[span]] if geo.channels > 1 else None
        pred = None
        if model.predictor is not None:
            pred = predict(model.predictor, causal, cross, axis=1).reshape(-1)
            if max_error == 0:  # the difference from the prediction is what is coded
                s = (s - pred) & 255
        busy = np.flatnonzero(~trivial)
        if max_error == 0:  # busy rows sorted by high nibble: one low-nibble head per run
            busy = busy[np.argsort(s[busy] >> 4, kind="stable")]
        pos, img = np.divmod(busy, n)
        local = [causal[pos, :, img], near[pos, :, img]]
        if cross is not None:
            local += [cross[pos, :, img], window[geo.cross_window_index[span]][pos, :, img]]
        hidden = model.hidden(np.concatenate(local, 1), p0 + pos, img, sums)
        if max_error == 0:
            hi, lo = s >> 4, s & 15
            p_hi = np.empty((len(s), 16), dtype=np.float64)
            p_lo = np.empty((len(s), 16), dtype=np.float64)
            p_hi[trivial] = t_hi
            p_lo[trivial] = t_lo[hi[trivial]]
            p_hi[busy] = model.hi_probs(hidden)
            p_lo[busy] = model.lo_probs(hidden, hi[busy], presorted=True)
            hi, lo = hi.reshape(-1, n).astype(np.int32), lo.reshape(-1, n).astype(np.int32)
            p_hi, p_lo = p_hi.reshape(-1, n, 16), p_lo.reshape(-1, n, 16)
            for q in range(len(hi)):  # per position: the N high nibbles, then the N low ones
                encoder.encode(hi[q], family, p_hi[q])
                encoder.encode(lo[q], family, p_lo[q])
        else:
            probs = _level_probs(model, trivial, busy, hidden, pred, (t_bins, t_values),
                                 max_error, both_ends)
            s, probs = s.reshape(-1, n).astype(np.int32), probs.reshape(-1, n, len(starts))
            for q in range(len(s)):
                encoder.encode(s[q], family, probs[q])
    return encoder.get_compressed().astype("<u4").tobytes()


def decode(model: PixelModel, data: bytes, base: np.ndarray, max_error: int,
           progress=None, latent: np.ndarray | None = None, both_ends: bool = True
           ) -> np.ndarray:
    """Pixels (N, P) uint8 (channels last) of a residual made by ``encode`` (with the same
    ``latent`` and ``both_ends``).
    Raises ValueError when the data is not a whole number of 32-bit words (other damage
    is caught by the file's CRC)."""
    constriction = _constriction()
    if len(data) % 4:
        raise ValueError("residual payload is not a whole number of 32-bit words")
    levels, _, starts = _bins(max_error, both_ends)
    decoder = constriction.stream.queue.RangeDecoder(np.frombuffer(data, dtype="<u4").copy())
    family = constriction.stream.model.Categorical(perfect=False)
    n, geo = len(base), model.geometry
    canvas = np.zeros((geo.canvas_size, n), dtype=np.uint8)  # position-major, like encode's
    if geo.one_index is not None:
        canvas[geo.one_index] = 255
    window = np.ascontiguousarray(padded_base(geo.to_planes(base), geo).T)
    sums = model.extra_sums(latent)
    if max_error == 0:
        t_hi = model.trivial_hi.astype(np.float64)
        t_lo = model.trivial_lo.astype(np.float64)
    else:
        t_values = model.trivial_value_probs()
        t_bins = _bin_probs(t_values, starts).astype(np.float64)
    for p in range(geo.pixels):
        if progress and p % PROGRESS_EVERY == 0:
            progress(p, geo.pixels)
        causal = canvas[geo.causal_index[p]]  # (17, N)
        near = window[geo.window_index[p]]  # (25, N)
        trivial = is_trivial(causal, near, model.trivial_threshold, axis=0)
        busy = np.flatnonzero(~trivial)
        cross = canvas[geo.cross_canvas_index[p]] if geo.channels > 1 else None  # (X, N)
        pred = None
        if model.predictor is not None:
            pred = predict(model.predictor, causal, cross, axis=0)
        hidden = None
        if len(busy):
            local = [causal[:, busy], near[:, busy]]
            if cross is not None:
                local += [cross[:, busy], window[geo.cross_window_index[p]][:, busy]]
            hidden = model.hidden(np.concatenate(local).T, p, busy, sums)
        if max_error == 0:
            probs = np.empty((n, 16), dtype=np.float64)
            probs[trivial] = t_hi
            if hidden is not None:
                probs[busy] = model.hi_probs(hidden)
            hi = np.asarray(decoder.decode(family, probs), dtype=np.int64)
            probs[trivial] = t_lo[hi[trivial]]
            if hidden is not None:
                probs[busy] = model.lo_probs(hidden, hi[busy])
            lo = np.asarray(decoder.decode(family, probs), dtype=np.int64)
            if model.predictor is None:
                canvas[geo.canvas_index[p]] = (hi << 4) | lo
            else:
                canvas[geo.canvas_index[p]] = (((hi << 4) | lo) + pred) & 255
        else:
            probs = _level_probs(model, trivial, busy, hidden, pred, (t_bins, t_values),
                                 max_error, both_ends)
            sym = np.asarray(decoder.decode(family, probs), dtype=np.int64)
            canvas[geo.canvas_index[p]] = levels[sym]
    return geo.from_planes(np.ascontiguousarray(canvas[geo.canvas_index].T))
