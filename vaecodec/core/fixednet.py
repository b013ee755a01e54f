"""The lossy decoder, evaluated so that it gives the same pixels on every machine.

A float32 matrix product depends on the order in which the BLAS adds its terms, and that
order changes with the thread count and with the CPU kernel the BLAS picks: 1.3.0 decoded a
handful of pixels in a million one grey level apart on different machines. Here every
matrix product is made exact instead, so that the order cannot matter:

- a layer's inputs are integers ``h`` (real value ``h * 2**-f_i`` per input ``i``) and its
  weights are integers ``round(w * 2**-f_i * 2**a_j)`` (``a_j`` per output ``j``), so each
  output sum is an integer;
- every sum is kept below 2**53 whatever the inputs (inputs are clipped to bounds that
  the weights are checked against, in exact integer arithmetic), so numpy's float64 matrix
  product computes it exactly, in any order, on any BLAS;
- everything else is element by element (a multiplication by a power of two, floor,
  clip): single IEEE operations, the same everywhere;
- a pixel is the number of the 255 sigmoid thresholds ``logit((k - 0.5) / 255)`` that
  its output reaches: the thresholds are computed in decimal arithmetic (correctly
  rounded, so identical everywhere) and compared exactly; no libm function is involved.
  A linear model's output is the intensity itself: its thresholds are ``(k - 0.5) / 255``
  (one correctly rounded division each).

The scales are chosen from the weights alone, by exact integer searches, and the hidden
layers' clipping bounds from a fixed set of calibration latents run through the same exact
arithmetic: the network built from a model file is the same on every machine, and so are
its outputs. It approximates the float network to about 2**-26 of each activation's range,
so it agrees with the float32 decoder on all but a few pixels in a million (one level apart).
"""

from __future__ import annotations

import decimal
import functools

import numpy as np

EXACT = 2**53  # float64 represents every integer below this exactly
ACTIVATION_BITS = 26  # each hidden activation's resolution: 2**-26 of its clipping bound
LATENT_LIMIT = 64.0  # |latent| is clipped here (the prior is N(0, 1); a white image: 10.5)
CALIBRATION_LATENT = 4.0  # calibration latents are uniform in +-4
CALIBRATION_COUNT = 2048
CALIBRATION_MARGIN = 8  # hidden bounds: 8 times the largest calibration activation
MAX_EXPONENT = 400  # weight scales 2**a with |a| below this (far inside float64's range)


@functools.lru_cache(maxsize=1)
def pixel_thresholds() -> np.ndarray:
    """(257,) float64: -inf, logit((k - 0.5) / 255) for k = 1..255, +inf. A pixel whose
    output x lies in [t[p], t[p + 1]) is p, which is round(255 * sigmoid(x))."""
    with decimal.localcontext() as ctx:
        ctx.prec = 40
        values = []
        for k in range(1, 256):
            v = decimal.Decimal(2 * k - 1) / 2
            values.append(float((v / (255 - v)).ln()))  # correctly rounded both times
    return np.array([-np.inf, *values, np.inf], dtype=np.float64)


@functools.lru_cache(maxsize=1)
def linear_thresholds() -> np.ndarray:
    """(257,) float64: -inf, (k - 0.5) / 255 for k = 1..255, +inf: the thresholds of a
    linear model's output (an intensity: the pixel is round(255 x), clipped to 0..255)."""
    values = [(2 * k - 1) / 510 for k in range(1, 256)]  # each correctly rounded
    return np.array([-np.inf, *values, np.inf], dtype=np.float64)


OUTPUTS = {"sigmoid": pixel_thresholds, "linear": linear_thresholds}


@functools.lru_cache(maxsize=2)
def _bounds(output: str = "sigmoid") -> tuple[np.ndarray, np.ndarray]:
    """(t[p], t[p + 1]) for p = 0..255 of the output's thresholds, each contiguous (made
    once)."""
    t = OUTPUTS[output]()
    below, above = t[:-1].copy(), t[1:].copy()
    below.flags.writeable = above.flags.writeable = False
    return below, above


def _column_exponents(weight: np.ndarray, bias: np.ndarray, bounds: np.ndarray,
                      start: np.ndarray | None = None) -> np.ndarray:
    """For each output j the largest a_j (|a_j| < MAX_EXPONENT) such that the integer
    weights round(w_ij * 2**a_j) and bias round(b_j * 2**a_j) keep
    sum_i bounds_i * |w_int_ij| + |b_int_j| below 2**53 - 1. The sum grows with a_j (at
    a_j + 1 it is at least twice the sum at a_j less sum_i bounds_i, far below 2**52),
    so the exact search finds the one answer whatever the starting guess: the result
    depends on the weights alone. The guess (``start`` for a test) is each column's own
    float estimate, a step or two from the answer."""
    bounds_f = bounds.astype(np.float64)[:, None]
    bounds_i = bounds.astype(np.int64)[:, None]

    def fits(a: np.ndarray) -> np.ndarray:
        scale = np.exp2(a.astype(np.float64))
        w = np.abs(np.rint(weight * scale))
        b = np.abs(np.rint(bias * scale))
        # element by element (the same everywhere): each term below 2**53, so that the
        # exact int64 sum of 2**10 of them cannot overflow; the sums of blocks of 2**10
        # rows are added saturating at 2**53 (where the answer is "too big" anyway)
        ok = ((bounds_f * w).max(axis=0, initial=0) < EXACT) & (b < EXACT)
        w_int = np.where(ok, w, 0).astype(np.int64)
        total = np.where(ok, b, 0).astype(np.int64)
        for start in range(0, len(bounds_i), 2**10):
            rows = slice(start, start + 2**10)
            block = (bounds_i[rows] * w_int[rows]).sum(axis=0)
            total = np.minimum(total + np.minimum(block, EXACT), EXACT)
        return ok & (total < EXACT - 1)

    if start is None:
        total = (bounds_f * np.abs(weight)).sum(axis=0) + np.abs(bias)
        with np.errstate(divide="ignore"):  # a column of zeros: +inf, clipped below
            start = np.floor(np.log2(2.0**52 / total))
    a = np.clip(start, -MAX_EXPONENT + 1, MAX_EXPONENT - 1).astype(np.int64)
    while not (fitting := fits(a)).all():  # down until every column fits ...
        a = np.where(fitting, a, a - 1)
        if (a <= -MAX_EXPONENT).any():
            raise ValueError("decoder weights too large to evaluate exactly")
    while (up := fits(a + 1) & (a + 1 < MAX_EXPONENT)).any():  # ... then up while it does
        a = np.where(up, a + 1, a)
    return a


class FixedDecoder:
    """A float MLP decoder (layers [(W (in, out), b)], ReLU between, sigmoid at the end;
    ``output`` "linear": no sigmoid, the output is the intensity) for the integer symbols
    of a quantization ``step``, evaluated exactly (module doc)."""

    def __init__(self, layers: list[tuple[np.ndarray, np.ndarray]], step: float,
                 output: str = "sigmoid"):
        if output not in OUTPUTS:
            raise ValueError(f"unknown decoder output {output!r}")
        self.output = output
        layers = [(np.asarray(w, dtype=np.float64), np.asarray(b, dtype=np.float64))
                  for w, b in layers]
        if not all(np.all(np.isfinite(w)) and np.all(np.isfinite(b)) for w, b in layers):
            raise ValueError("decoder weights are not all finite numbers")
        self.symbol_limit = int(LATENT_LIMIT / step)
        n_in = layers[0][0].shape[0]
        # the first layer's inputs are symbols; their real value, symbol * step, is folded
        # into its weights (one rounding, the same everywhere)
        bounds = np.full(n_in, self.symbol_limit, dtype=np.int64)
        in_scale = np.full(n_in, step, dtype=np.float64)
        calibration = self._calibration_symbols(n_in, step)
        self.layers = []
        for i, (w, b) in enumerate(layers):
            last = i == len(layers) - 1
            w = w * in_scale[:, None]
            a = _column_exponents(w, b, bounds)
            scale = np.exp2(a.astype(np.float64))
            w_int = np.rint(w * scale)
            b_int = np.rint(b * scale)
            if last:
                self.layers.append((w_int, b_int, np.exp2(-a.astype(np.float64)), None))
                break
            # hidden: real activation = relu(acc) * 2**-a_j; clip it to CALIBRATION_MARGIN
            # times its calibration peak, kept with ACTIVATION_BITS of resolution
            acc = calibration @ w_int + b_int  # exact
            peak = np.maximum(acc.max(axis=0), 1.0) * 2.0 ** -a.astype(np.float64)
            _, e = np.frexp(peak * CALIBRATION_MARGIN)  # bound <= 2**e (exact)
            f = ACTIVATION_BITS - e  # units of 2**-f
            limit = float(2**ACTIVATION_BITS - 1)
            to_units = np.exp2((f - a).astype(np.float64))  # acc * 2**-a * 2**f
            self.layers.append((w_int, b_int, to_units, limit))
            calibration = np.clip(np.floor(np.maximum(acc, 0) * to_units), 0, limit)
            bounds = np.full(w.shape[1], 2**ACTIVATION_BITS - 1, dtype=np.int64)
            in_scale = np.exp2(-f.astype(np.float64))
        self.out_size = layers[-1][0].shape[1]

    @staticmethod
    def _calibration_symbols(n: int, step: float) -> np.ndarray:
        """CALIBRATION_COUNT fixed latents (N, n), uniform in +-CALIBRATION_LATENT, as
        symbols: splitmix64 of a counter, in integer arithmetic (the same on every
        machine, unlike a float random generator's normals)."""
        z = np.arange(CALIBRATION_COUNT * n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            z = z * np.uint64(0x9E3779B97F4A7C15) + np.uint64(0x9E3779B97F4A7C15)
            z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            z ^= z >> np.uint64(31)
        limit = int(CALIBRATION_LATENT / step)
        values = (z % np.uint64(2 * limit + 1)).astype(np.int64) - limit
        return values.astype(np.float64).reshape(-1, n)

    def pixels(self, symbols: np.ndarray, out: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, out_size) of integer symbols (N, latent), written into ``out``."""
        x = np.clip(np.asarray(symbols, dtype=np.float64), -self.symbol_limit,
                    self.symbol_limit)
        for w_int, b_int, to_units, limit in self.layers:
            x = x @ w_int  # exact: every partial sum is an integer below 2**53
            x += b_int
            x *= to_units  # a power of two per column: exact
            if limit is not None:
                np.floor(x, out=x)
                np.clip(x, 0, limit, out=x)
        # x is now each pixel's exact output; its pixel value p has t[p] <= x < t[p + 1]:
        # estimate p from the sigmoid (in float32: within one level of it), or from the
        # intensity itself, then settle it by exact comparisons
        below, above = _bounds(self.output)
        estimate = x.astype(np.float32)
        if self.output == "linear":
            estimate *= 255.0
            np.clip(estimate, 0.0, 255.0, out=estimate)
        else:
            estimate *= 0.5
            np.tanh(estimate, out=estimate)
            estimate *= 127.5
            estimate += 127.5
        np.rint(estimate, out=estimate)
        guess = estimate.astype(np.intp)  # one index array for both lookups
        p = guess.astype(np.uint8)
        # at most one of these holds (t[p] < t[p + 1]): p + 1 where x >= t[p + 1] (never
        # past 255: t[256] is +inf), p - 1 where x < t[p] (never below 0: t[0] is -inf)
        p += x >= above.take(guess)
        p -= x < below.take(guess)
        out[...] = p
        return out
