"""Uniform scalar quantization: float latents <-> integer symbols (numpy only, deterministic)."""

from __future__ import annotations

import math

import numpy as np

from ..errors import SettingsError

#: Smallest and largest step accepted; outside this range symbols overflow or carry nothing.
MIN_STEP = 1e-3
MAX_STEP = 100.0
#: Default step, chosen from the step sweep in docs/notes/benchmarks.md.
DEFAULT_STEP = 0.2

SYMBOL_DTYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32}


def check_step(step: float) -> float:
    """Return ``step`` as a float, or raise SettingsError for a step the codec cannot use
    (a bool or a string is not a step)."""
    if isinstance(step, (bool, np.bool_)) or not isinstance(step, (int, float, np.number)):
        raise SettingsError(f"quantization step must be a number, got {step!r}")
    value = float(step)
    if not math.isfinite(value) or not MIN_STEP <= value <= MAX_STEP:
        raise SettingsError(
            f"quantization step must be between {MIN_STEP} and {MAX_STEP}, got {step!r}"
        )
    return value


def quantize(latents: np.ndarray, step: float) -> np.ndarray:
    """Round ``latents / step`` to the nearest integer, in the narrowest of int8/int16/int32."""
    step = check_step(step)
    return narrowest(np.rint(np.asarray(latents, dtype=np.float64) / step))


def narrowest(symbols: np.ndarray) -> np.ndarray:
    """Integer-valued ``symbols`` in the narrowest of int8/int16/int32."""
    lo, hi = (float(symbols.min()), float(symbols.max())) if symbols.size else (0.0, 0.0)
    for dtype in SYMBOL_DTYPES.values():
        info = np.iinfo(dtype)
        if info.min <= lo and hi <= info.max:
            return symbols.astype(dtype)
    raise SettingsError("latents too large for this quantization step")


def dequantize(symbols: np.ndarray, step: float) -> np.ndarray:
    """Integer symbols back to float32 latents (the centre of each bin)."""
    return (np.asarray(symbols, dtype=np.float64) * check_step(step)).astype(np.float32)
