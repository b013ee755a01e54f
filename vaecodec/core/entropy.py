"""Entropy coding of latent symbols: zstd, or a range coder driven by learned priors.

A prior is one integer frequency table per latent dimension, fitted on the training
split's symbols for one (model, quantization step) pair and stored with the quality
levels (``checkpoints/levels.json``). The range coder is constriction's; it is handed the
probabilities ``freq / 2**PRECISION``, which are exact binary fractions of the stored
integers, and constriction turns them into its fixed-point model with IEEE-754 basic
operations only. Encoder and decoder therefore build the same model on every machine:
no float result that could differ between CPUs decides a symbol.
"""

from __future__ import annotations

import numpy as np

from .prior import ESCAPE, MAX_TABLE, PRECISION, Prior  # noqa: F401  (this module's API)


def fit_prior(symbols: np.ndarray, coverage: float = 0.9999) -> Prior:
    """Integer tables from training symbols (N, D): per dimension, the range holding
    ``coverage`` of the mass, counts + 1, scaled to sum to 2**PRECISION (each >= 1)."""
    symbols = np.asarray(symbols, dtype=np.int64)
    lows, tables = [], []
    tail = (1 - coverage) / 2
    for column in symbols.T:
        lo, hi = (int(v) for v in np.quantile(column, [tail, 1 - tail], method="nearest"))
        hi = min(hi, lo + MAX_TABLE - 2)
        inside = column[(column >= lo) & (column <= hi)]
        counts = np.bincount(inside - lo, minlength=hi - lo + 1).astype(np.float64) + 1.0
        escapes = len(column) - len(inside) + 1.0
        counts = np.concatenate([[escapes], counts])
        lows.append(lo)
        tables.append(_to_fixed_point(counts))
    return Prior(tuple(lows), tuple(tables))


def _to_fixed_point(counts: np.ndarray) -> tuple[int, ...]:
    """Counts -> positive integers summing exactly to 2**PRECISION."""
    total = 2**PRECISION
    freq = np.maximum(1, np.floor(counts / counts.sum() * total)).astype(np.int64)
    # hand the remainder to (or take it from) the largest entries, deterministically
    order = np.argsort(-freq, kind="stable")
    diff = total - int(freq.sum())
    i = 0
    while diff != 0:
        j = order[i % len(order)]
        if diff > 0:
            freq[j] += 1
            diff -= 1
        elif freq[j] > 1:
            freq[j] -= 1
            diff += 1
        i += 1
    return tuple(int(f) for f in freq)


def _models(prior: Prior):
    import constriction

    return [constriction.stream.model.Categorical(
        np.asarray(table, dtype=np.float64) / 2**PRECISION, perfect=False)
        for table in prior.freqs]


def range_encode(symbols: np.ndarray, prior: Prior) -> bytes:
    """Symbols (N, D) -> bytes (little-endian 32-bit words of constriction's RangeEncoder)."""
    import constriction

    symbols = np.asarray(symbols, dtype=np.int64)
    if symbols.shape[1] != len(prior.lo):
        raise ValueError("prior and symbols disagree on the latent size")
    encoder = constriction.stream.queue.RangeEncoder()
    uniform = constriction.stream.model.Uniform(2**16)
    for d, model in enumerate(_models(prior)):
        column = symbols[:, d]
        index = column - prior.lo[d] + 1
        outside = (index < 1) | (index >= len(prior.freqs[d]))
        index[outside] = ESCAPE
        encoder.encode(index.astype(np.int32), model)
        if outside.any():  # raw 32-bit values, as two 16-bit halves
            raw = column[outside].astype(np.int64) + 2**31
            halves = np.stack([raw >> 16, raw & 0xFFFF], axis=1).reshape(-1)
            encoder.encode(halves.astype(np.int32), uniform)
    return encoder.get_compressed().astype("<u4").tobytes()


def range_decode(data: bytes, prior: Prior, count: int) -> np.ndarray:
    """Inverse of ``range_encode``: symbols (count, D), int32. Raises ValueError on data
    that does not decode."""
    import constriction

    if len(data) % 4:
        raise ValueError("range-coded payload is not a whole number of 32-bit words")
    words = np.frombuffer(data, dtype="<u4").astype(np.uint32)
    decoder = constriction.stream.queue.RangeDecoder(words)
    uniform = constriction.stream.model.Uniform(2**16)
    out = np.empty((count, len(prior.lo)), dtype=np.int64)
    for d, model in enumerate(_models(prior)):
        index = np.asarray(decoder.decode(model, count), dtype=np.int64)
        column = index + prior.lo[d] - 1
        outside = index == ESCAPE
        n_out = int(outside.sum())
        if n_out:
            halves = np.asarray(decoder.decode(uniform, 2 * n_out), dtype=np.int64)
            column[outside] = (halves[0::2] << 16) + halves[1::2] - 2**31
        out[:, d] = column
    if np.abs(out).max(initial=0) > 2**31 - 1:
        raise ValueError("range-coded payload holds out-of-range symbols")
    return out.astype(np.int32)
