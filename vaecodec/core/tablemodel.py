"""A table pixel model for exact colour: no network, one fixed table of difference
distributions per context, counted on training images (issue 29's lossless speed; the
probe and its figures: research/context_model_probe.py, docs/notes/training.md).

As a family's pixel model (``TablePixelModel``) it is residual layout 4 (docs/format.md):
its tensors are the contexts that have rows of their own, the rows' counts (uint16, one
zstd frame) and the weight of the planes' distribution in each row; the integer
probabilities are derived from them in integer arithmetic (``TableModel.from_counts``).

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

A table of colour images may code them after a reversible colour **transform**
(``TRANSFORMS``): "subtract-green" codes the planes G, R - G + 128, B - G + 128 (modulo
256; then alpha) instead of R, G, B, which photographs' correlated channels need. Such a
table codes lossless files only (an error bound holds in the image's own channels).
"""

from __future__ import annotations

import dataclasses
import functools

import numpy as np

from . import residual

GRADIENT_EDGES = np.array([-21, -7, -3, 0, 1, 4, 8, 22])  # LOCO-I's 9 regions (T1..T3)
PLANE_EDGES = np.array([-16, -4, -1, 1, 2, 5, 17])  # the earlier plane's difference
AROUND = ((0, -1), (-1, 0), (-1, -1), (-1, 1))  # left, up, up-left, up-right
PROB_BITS = 16  # the tables' probabilities: integers 1 .. about 2**PROB_BITS
COUNT_LIMIT = 2**16 - 1  # a stored count's largest value (uint16)
MAX_ROWS = 2**17  # rows of their own a model file may declare (bounds the load's memory)
MAX_WEIGHT = 2**16  # the largest pseudo-count weight (keeps from_counts below 2**63)
WEIGHTS = (32, 128, 512)  # the pseudo-count weights ``fit_choosing`` tries
TRANSFORMS = ("none", "subtract-green")  # colour transforms before the table
_GRADIENT_LUT = np.searchsorted(GRADIENT_EDGES, np.arange(-255, 256), side="right")
_PLANE_LUT = np.searchsorted(PLANE_EDGES, np.arange(-128, 128), side="right")


PLANE_CONTEXTS = 729 * 8 * 4 * 5  # raw context ids of one plane (plane k: the k-th run)


def context_count(planes: int) -> int:
    """Raw context ids of an image of ``planes`` planes: 0 .. this - 1."""
    return planes * PLANE_CONTEXTS


def _rows_of(planes: int, contexts: np.ndarray) -> np.ndarray:
    """(context_count(planes),) int32: each raw context's row, its plane's (0 .. planes
    - 1), or planes + r for the r-th of ``contexts`` (the ones with rows of their own)."""
    rows = (np.arange(context_count(planes)) // PLANE_CONTEXTS).astype(np.int32)
    rows[contexts] = planes + np.arange(len(contexts), dtype=np.int32)
    return rows


def _context(canvas: np.ndarray, k: int, i: int, j: int, previous: np.ndarray | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(prediction, raw context id) of the value at row i, column j of plane k (canvas
    coordinates) of every image: ``canvas`` (planes, H + 1, W + 2, N) int64, zero-padded
    above, left and right, holding the values decoded so far; ``previous``: the earlier
    plane's signed difference at this pixel (None for the first plane)."""
    return _predict(lambda e, di, dj: canvas[e, i + di, j + dj], k, previous)


def _predict(at, k: int, previous: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """``_context`` of the values ``at(e, di, dj)`` gives: those of plane e at rows and
    columns di, dj from the coded ones (one position, or a block of rows at once)."""
    a, b, c, d = at(k, 0, -1), at(k, -1, 0), at(k, -1, -1), at(k, -1, 1)
    low, high = np.minimum(a, b), np.maximum(a, b)
    pred = np.where(c >= high, low, np.where(c <= low, high, a + b - c))
    ctx = ((k * 9 + _GRADIENT_LUT[d - b + 255]) * 9 + _GRADIENT_LUT[b - c + 255]) * 9 \
        + _GRADIENT_LUT[c - a + 255]
    matched = np.zeros_like(pred)
    equal = np.zeros_like(pred)
    if k:
        ctx = ctx * 8 + _PLANE_LUT[previous + 128]
        here = at(k - 1, 0, 0)
        equal = 2 * (here == at(k - 1, 0, -1)) + (here == at(k - 1, -1, 0))
        for which in range(len(AROUND) - 1, -1, -1):  # the first neighbour that matches
            di, dj = AROUND[which]
            same = at(0, 0, 0) == at(0, di, dj)
            for e in range(1, k):
                same &= at(e, 0, 0) == at(e, di, dj)
            pred = np.where(same, at(k, di, dj), pred)
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


BLOCK_VALUES = 2**20  # values whose contexts the encoder forms at once (bounds memory)
LEVEL_VALUES = 2**15  # values whose level probabilities the encoder forms at once


def _walk(images: np.ndarray):
    """(raw context ids, symbols), each (positions, N), of every image's values at a
    block of positions in coding order (rows of one plane; the symbol is the value's
    difference from its prediction, modulo 256): the encoder knows every value, so it
    forms the contexts of many positions at once, as the decoder forms them one by one
    (``_context``)."""
    canvas = _canvas(images)
    n, height, width, planes = images.shape
    step = max(1, BLOCK_VALUES // max(1, width * n))
    previous = None
    for k in range(planes):
        diffs = np.zeros(canvas.shape[1:], dtype=np.int64)
        for top in range(1, height + 1, step):
            rows = slice(top, min(height + 1, top + step))

            def at(e, di, dj, rows=rows):
                return canvas[e, rows.start + di : rows.stop + di, 1 + dj : width + 1 + dj]

            pred, ctx = _predict(at, k, None if k == 0 else previous[rows, 1:-1])
            symbol = (canvas[k, rows, 1:-1] - pred) & 255
            diffs[rows, 1:-1] = _signed(symbol)
            yield ctx.reshape(-1, n), symbol.reshape(-1, n)
        previous = diffs


def transformed(images: np.ndarray, transform: str) -> np.ndarray:
    """uint8 images (N, H, W, C) as the planes a table with ``transform`` codes."""
    if transform == "none":
        return images
    out = images.copy()
    green = images[..., 1].astype(np.int16)
    out[..., 0] = images[..., 1]
    out[..., 1] = (images[..., 0] - green + 128) & 255
    out[..., 2] = (images[..., 2] - green + 128) & 255
    return out


def untransformed(planes: np.ndarray, transform: str) -> np.ndarray:
    """The images whose ``transformed`` planes are ``planes``."""
    if transform == "none":
        return planes
    out = planes.copy()
    green = planes[..., 0].astype(np.int16)
    out[..., 0] = (planes[..., 1] + green - 128) & 255
    out[..., 1] = planes[..., 0]
    out[..., 2] = (planes[..., 2] + green - 128) & 255
    return out


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
    hi: np.ndarray  # (rows, 16) int64, each in 1 .. about 2**PROB_BITS
    lo: np.ndarray  # (rows, 16, 16) int64, likewise
    contexts: np.ndarray  # (rows - planes,) int32: the contexts with rows of their own
    counts: np.ndarray  # (rows, 256) uint16: what the rows were made of (``from_counts``)
    weight: int  # the planes' pseudo-counts in every row

    @classmethod
    def fit(cls, images: np.ndarray, min_count: int = 16, weight: int = 32
            ) -> "TableModel":
        """Count the training ``images`` (N, H, W, C) uint8 into tables."""
        return cls.from_counts(*cls.count(images, min_count), weight)

    @classmethod
    def count(cls, images: np.ndarray, min_count: int = 16
              ) -> tuple[tuple[int, int, int], np.ndarray, np.ndarray]:
        """What ``fit`` counts, before a weight is chosen: (shape, contexts, counts) as
        ``from_counts`` takes them."""
        images = _as_planes(images)
        shape = images.shape[1:]
        planes = shape[2]
        ids, symbols = cls._ids_and_symbols(images)
        counts_of = np.bincount(ids, minlength=context_count(planes))
        own = np.flatnonzero(counts_of >= min_count)
        rows = _rows_of(planes, own).astype(np.int64)
        counts = np.bincount(rows[ids] * 256 + symbols, minlength=(planes + len(own)) * 256
                             ).reshape(-1, 256)
        for k in range(planes):  # a plane's row: every value of the plane
            counts[k] = np.bincount(symbols[ids // PLANE_CONTEXTS == k], minlength=256)
        return shape, own.astype(np.int32), stored_counts(counts)

    @classmethod
    def fit_choosing(cls, images: np.ndarray, valid: np.ndarray, min_count: int = 16,
                     weights=WEIGHTS) -> "TableModel":
        """``fit`` with the weight of ``weights`` that codes the ``valid`` images in the
        fewest bits (``code_bits``)."""
        counted = cls.count(images, min_count)
        walked = cls._ids_and_symbols(_as_planes(valid))
        tables = [cls.from_counts(*counted, w) for w in weights]
        return min(tables, key=lambda table: table._bits(*walked))

    def code_bits(self, images: np.ndarray) -> float:
        """The ideal code length (bits) of the exact values of ``images`` (what ``encode``
        takes, within a fraction of a percent)."""
        return self._bits(*self._ids_and_symbols(_as_planes(images)))

    def _bits(self, ids: np.ndarray, symbols: np.ndarray) -> float:
        rows = self.rows.take(ids)
        hi = symbols >> 4
        log_hi = np.log2(self.hi.sum(1, keepdims=True)) - np.log2(self.hi)
        lo = self.lo.reshape(-1, 16)
        log_lo = (np.log2(lo.sum(1, keepdims=True)) - np.log2(lo)).reshape(-1)
        return float(log_hi[rows, hi].sum()
                     + log_lo.take((rows * 16 + hi) * 16 + (symbols & 15)).sum())

    @classmethod
    def from_counts(cls, shape: tuple[int, int, int], contexts: np.ndarray,
                    counts: np.ndarray, weight: int) -> "TableModel":
        """The tables of stored counts, in integer arithmetic only (the same integers on
        every machine): ``contexts`` (R,) the raw context ids that have rows of their own,
        increasing; ``counts`` (planes + R, 256) uint16, the planes' rows then theirs.

        A plane's distribution is q(v) = max(1, round(2**16 (2 c(v) + 1) / sum)) over its
        row's counts c; a row's mixed counts are m(v) = c(v) sum(q) + ``weight`` q(v) with
        q its plane's; the high nibble's probabilities are round(2**16 x its values' sum of
        m / the row's), each low nibble's round(2**16 m / its high nibble's sum), at least
        1 (rounding half up)."""
        planes = shape[2]
        c = counts.astype(np.int64)
        doubled = 2 * c[:planes] + 1
        plane_q = np.maximum(1, _ratio(doubled, doubled.sum(1, keepdims=True)))
        row_plane = np.concatenate([np.arange(planes),
                                    contexts.astype(np.int64) // PLANE_CONTEXTS])
        mixed = c * plane_q.sum(1)[row_plane, None] + weight * plane_q[row_plane]
        joint = mixed.reshape(-1, 16, 16)
        hi_sum = joint.sum(2)
        hi = np.maximum(1, _ratio(hi_sum, hi_sum.sum(1, keepdims=True)))
        lo = np.maximum(1, _ratio(joint, hi_sum[:, :, None]))
        return cls(tuple(shape), _rows_of(planes, contexts), hi, lo, contexts.astype(np.int32),
                   counts.astype(np.uint16), int(weight))

    def to_tensors(self) -> dict[str, np.ndarray]:
        """The model's tensors (``from_tensors``): its contexts, its counts as one zstd
        frame of uint16 little-endian, and its weight."""
        import zstandard

        raw = np.ascontiguousarray(self.counts, dtype="<u2").tobytes()
        frame = zstandard.ZstdCompressor(level=19).compress(raw)
        return {"table.contexts": self.contexts.astype("<i4"),
                "table.counts": np.frombuffer(frame, dtype=np.uint8).copy(),
                "table.weight": np.array([self.weight], dtype="<i8")}

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], shape: tuple[int, ...]
                     ) -> "TableModel":
        """The model of ``to_tensors``'s tensors for images of ``shape`` ((H, W) or
        (H, W, C)); ValueError when they are not a valid one (checked before any
        allocation that their sizes decide)."""
        from ..errors import FormatError
        from ..format.wire import decompress_exact

        shape = tuple(int(x) for x in shape)
        if len(shape) == 2:
            shape = (*shape, 1)
        planes = shape[2]
        contexts, frame, weight = (tensors.get(f"table.{k}")
                                   for k in ("contexts", "counts", "weight"))
        if any(t is None for t in (contexts, frame, weight)) or len(tensors) != 3:
            raise ValueError("a table model has exactly the tensors table.contexts, "
                             "table.counts and table.weight")
        if not (1 <= planes <= 4 and contexts.dtype == np.int32 and contexts.ndim == 1
                and len(contexts) <= MAX_ROWS and frame.dtype == np.uint8
                and frame.ndim == 1 and weight.dtype == np.int64 and weight.shape == (1,)
                and 1 <= int(weight[0]) <= MAX_WEIGHT):
            raise ValueError("the table's tensors have the wrong types or sizes")
        if len(contexts) and (contexts[0] < 0 or contexts[-1] >= context_count(planes)
                              or np.any(np.diff(contexts) <= 0)):
            raise ValueError("the table's contexts are not increasing context ids")
        size = (planes + len(contexts)) * 256 * 2
        try:
            raw = decompress_exact(frame.tobytes(), size, "the table's counts")
        except FormatError as e:  # the frame does not hold exactly that many bytes
            raise ValueError(str(e)) from None
        counts = np.frombuffer(raw, dtype="<u2").reshape(-1, 256)
        return cls.from_counts(shape, contexts, counts, int(weight[0]))

    @staticmethod
    def _ids_and_symbols(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Raw context ids and symbols of every value of the images, in coding order
        (position-major: every image's value at a position, then the next position)."""
        ids, symbols = zip(*_walk(images))
        return np.concatenate(ids).reshape(-1), np.concatenate(symbols).reshape(-1)

    def encode(self, images: np.ndarray, max_error: int = 0) -> bytes:
        """The range-coded values of uint8 ``images`` (N, H, W, C) of the model's shape:
        exact, or with ``max_error`` K > 0 each value within K (the residual layer's
        levels, ``residual.quantization_levels``; the contexts are then formed from the
        decoded levels, as the decoder sees them). A block of positions at a time
        (``BLOCK_VALUES``): memory for the images and one block's rows."""
        import constriction

        images = _as_planes(images)
        if images.shape[1:] != self.shape:
            raise ValueError(f"images of shape {images.shape[1:]}, not {self.shape}")
        encoder = constriction.stream.queue.RangeEncoder()
        family = constriction.stream.model.Categorical(perfect=False)
        if max_error:
            levels, nearest, starts = residual._bins(max_error)
            decoded = levels[nearest[images]]
            values = decoded.transpose(3, 1, 2, 0).reshape(-1, len(images))
            done = 0
            for ids, symbols in _walk(decoded):
                block = values[done : done + len(ids)].astype(np.int64)
                done += len(ids)
                rows = self.rows.take(ids.reshape(-1))
                pred = ((block - symbols) & 255).reshape(-1)
                coded = nearest[block].reshape(-1).astype(np.int32)
                # the symbols in coding order, each with its row, LEVEL_VALUES at a call
                for at in range(0, len(coded), LEVEL_VALUES):
                    span = slice(at, at + LEVEL_VALUES)
                    encoder.encode(coded[span], family,
                                   self._level_probs(rows[span], pred[span], starts))
            return encoder.get_compressed().astype("<u4").tobytes()
        hi_p = self.hi.astype(np.float64)
        lo_p = self.lo.astype(np.float64).reshape(-1, 16)  # row r, high nibble h: 16r + h
        for ids, symbols in _walk(images):
            rows = self.rows.take(ids)  # (positions, N)
            hi, lo = (symbols >> 4).astype(np.int32), (symbols & 15).astype(np.int32)
            # at each position the N high nibbles, then the N low ones: one call per block
            coded = np.stack([hi, lo], axis=1).reshape(-1)
            probs = np.stack([hi_p.take(rows, axis=0), lo_p.take(rows * 16 + hi, axis=0)],
                             axis=1).reshape(-1, 16)
            encoder.encode(coded, family, probs)
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
        summed over the level's values: a difference of two of the row's running sums
        (``_running``). Integers below 2**45: every sum exact."""
        sizes = np.diff(np.append(starts, 256))
        first = (starts[None, :] - pred[:, None]) & 255  # each level's first difference
        base = rows.astype(np.int64)[:, None] * 513
        flat = self._running.reshape(-1)
        return (flat.take(base + first + sizes) - flat.take(base + first)).astype(np.float64)

    @functools.cached_property
    def _running(self) -> np.ndarray:
        """(rows, 513) int64: each row's running sums over its differences' integer
        probabilities written twice (a level's values may wrap past 255), from 0."""
        running = np.zeros((len(self.hi), 513), dtype=np.int64)
        np.cumsum(np.concatenate([self._joint, self._joint], axis=1), axis=1,
                  out=running[:, 1:])
        return running

    @functools.cached_property
    def _joint(self) -> np.ndarray:
        """(rows, 256) int64: each difference's integer probability, as the residual
        layer's network rows have theirs (``residual._joint``)."""
        return residual._joint(self.hi, self.lo)


def _ratio(part: np.ndarray, whole: np.ndarray) -> np.ndarray:
    """round(2**PROB_BITS x part / whole) in int64, half up: exact (every operand below
    2**63, ``from_counts``)."""
    return (part * 2**PROB_BITS + whole // 2) // whole


def stored_counts(counts: np.ndarray) -> np.ndarray:
    """Counts (rows, 256) as uint16: a row whose largest count passes COUNT_LIMIT is
    scaled to it, each count rounded up (a value seen stays seen)."""
    counts = np.asarray(counts, dtype=np.int64)
    top = np.maximum(counts.max(1, keepdims=True), COUNT_LIMIT)
    return (-(-counts * COUNT_LIMIT // top)).astype(np.uint16)


TABLE = "table"  # the ``architecture.type`` of a table pixel model's metadata


@dataclasses.dataclass
class TablePixelModel:
    """A table model as a family's pixel model: residual layout 4 (docs/format.md). It
    works beside a base layer at ``base_level`` but does not read it."""

    name: str
    model_id: bytes  # sha256 of the weights file
    base_level: int
    image_shape: tuple[int, ...]  # (H, W) or (H, W, C)
    table: TableModel
    transform: str = "none"  # its colour transform (``TRANSFORMS``): not none, lossless only
    coding = "table"  # what its values are coded with (``coders.RESIDUAL_CODERS``)

    @property
    def lossless_only(self) -> bool:
        return self.transform != "none"

    @classmethod
    def from_tensors(cls, name: str, model_id: bytes, metadata: dict,
                     tensors: dict[str, np.ndarray], image_shape: tuple[int, ...]
                     ) -> "TablePixelModel":
        """Raises ValueError when the tensors are not a table for ``image_shape``."""
        try:
            table = TableModel.from_tensors(tensors, image_shape)
        except ValueError as e:
            raise ValueError(f"pixel model {name}: {e}") from None
        transform = table_transform(metadata)
        if transform != "none" and table.shape[2] < 3:
            raise ValueError(f"pixel model {name}: a {transform} table codes colour images")
        return cls(name, model_id, int(metadata["base_level"]), tuple(image_shape), table,
                   transform)

    def to_planes(self, pixels: np.ndarray) -> np.ndarray:
        """Pixels (N, P), channels last, as the table's images (N, H, W, C)."""
        return transformed(np.asarray(pixels, dtype=np.uint8).reshape(
            len(pixels), *self.table.shape), self.transform)

    def encode(self, pixels: np.ndarray, max_error: int) -> bytes:
        if max_error and self.lossless_only:
            raise ValueError(f"pixel model {self.name} codes lossless files only")
        return self.table.encode(self.to_planes(pixels), max_error)

    def decode(self, data: bytes, n: int, max_error: int) -> np.ndarray:
        """The pixels (n, P), channels last, of ``encode``'s bytes."""
        if max_error and self.lossless_only:
            raise ValueError(f"pixel model {self.name} codes lossless files only")
        return untransformed(self.table.decode(data, n, max_error), self.transform
                             ).reshape(n, -1)


def is_table(metadata: dict) -> bool:
    """Whether a pixel model's metadata describes a table model."""
    architecture = metadata.get("architecture")
    return isinstance(architecture, dict) and architecture.get("type") == TABLE


def transform_of(metadata: dict):
    """The colour transform a table pixel model's metadata names, as stored ("none" when
    absent; unchecked: ``table_transform`` checks it)."""
    return metadata.get("architecture", {}).get("transform", "none")


def table_transform(metadata: dict) -> str:
    """The colour transform a table pixel model's metadata names (none when absent);
    ValueError for one this vaecodec does not know."""
    transform = transform_of(metadata)
    if transform not in TRANSFORMS:
        raise ValueError(f"it names a colour transform {transform!r} that this vaecodec "
                         "does not know (upgrade vaecodec)")
    return transform


def fit_pixel_model(images: np.ndarray, base_level: int, base_model_sha256: str,
                    min_count: int = 16, weight: int = 32, transform: str = "none",
                    valid: np.ndarray | None = None
                    ) -> tuple[dict[str, np.ndarray], dict]:
    """The tensors and metadata of a table pixel model counted on uint8 ``images``
    (N, H, W) or (N, H, W, C), for a family whose VAE's weights have sha256
    ``base_model_sha256`` (hex) and whose files' base layer is ``base_level``; with
    ``valid`` images, the weight of ``WEIGHTS`` that codes them best (else ``weight``);
    ``transform``: its colour transform (``TRANSFORMS``)."""
    images = np.asarray(images)
    shape = images.shape[1:]

    def planes(x: np.ndarray) -> np.ndarray:
        return transformed(np.asarray(x).reshape(len(x), *shape[:2], -1), transform)

    if valid is None:
        table = TableModel.fit(planes(images), min_count, weight)
    else:
        table = TableModel.fit_choosing(planes(images), planes(valid), min_count)
    architecture = {"type": TABLE, "image_shape": list(shape),
                    "contexts": "plane, LOCO-I gradients, earlier plane, equal, match"}
    if transform != "none":
        architecture["transform"] = transform
    return table.to_tensors(), {
        "kind": "pixel-model",
        "base_level": int(base_level),
        "base_model_sha256": base_model_sha256,
        "architecture": architecture,
        "recipe": {"min_count": int(min_count), "weight": int(table.weight),
                   "train_images": len(images)},
    }
