"""The exact lossy decoder (core/fixednet.py): what it computes, and its bounds."""

from __future__ import annotations

import numpy as np
import pytest

from vaecodec.core import fixednet


def float_pixels(layers, symbols, step):
    x = symbols * step
    for i, (w, b) in enumerate(layers):
        x = x @ w.astype(np.float64) + b
        if i < len(layers) - 1:
            x = np.maximum(x, 0)
    return np.clip(np.rint(255 / (1 + np.exp(-x))), 0, 255)


def random_layers(rng, sizes):
    return [(rng.normal(0, 1 / np.sqrt(n), (n, m)).astype(np.float32),
             rng.normal(0, 0.1, m).astype(np.float32)) for n, m in zip(sizes, sizes[1:])]


def test_the_thresholds_are_the_rounded_sigmoid():
    t = fixednet.pixel_thresholds()
    assert t.shape == (257,) and t[0] == -np.inf and t[-1] == np.inf
    x = np.linspace(-12, 12, 200_001)
    p = np.searchsorted(t, x, side="right") - 1  # t[p] <= x < t[p + 1]
    ref = np.rint(255 / (1 + np.exp(-x)))
    assert np.array_equal(p, ref)


@pytest.mark.parametrize("sizes", [(20, 64, 100), (8, 32, 48, 30), (20, 2000, 50)])
def test_it_matches_the_float_network_but_for_rare_single_levels(sizes):
    rng = np.random.default_rng(len(sizes))
    layers = random_layers(rng, sizes)
    symbols = rng.integers(-40, 41, (1000, sizes[0]))
    out = np.empty((1000, sizes[-1]), np.uint8)
    fixednet.FixedDecoder(layers, 0.1).pixels(symbols, out)
    diff = np.abs(out - float_pixels(layers, symbols, 0.1))
    assert diff.max() <= 1 and np.count_nonzero(diff) <= 1e-3 * diff.size


def test_the_same_weights_make_the_same_network_and_pixels():
    rng = np.random.default_rng(5)
    layers = random_layers(rng, (20, 64, 100))
    a, b = fixednet.FixedDecoder(layers, 0.2), fixednet.FixedDecoder(layers, 0.2)
    for (wa, ba, ua, la), (wb, bb, ub, lb) in zip(a.layers, b.layers):
        assert np.array_equal(wa, wb) and np.array_equal(ba, bb) and np.array_equal(ua, ub)
        assert la == lb
    for w, b_int, _, _ in a.layers:  # integer weights: every sum exact in float64
        assert np.array_equal(w, np.rint(w)) and np.array_equal(b_int, np.rint(b_int))


def test_extreme_symbols_are_clipped_not_overflowed():
    rng = np.random.default_rng(6)
    layers = random_layers(rng, (20, 64, 100))
    fixed = fixednet.FixedDecoder(layers, 0.1)
    huge = np.full((3, 20), 2**31 - 1, dtype=np.int64) * np.array([[1], [-1], [0]])
    out = np.empty((3, 100), np.uint8)
    fixed.pixels(huge, out)
    clipped = np.clip(huge, -fixed.symbol_limit, fixed.symbol_limit)
    again = np.empty_like(out)
    assert np.array_equal(out, fixed.pixels(clipped, again))


def test_weights_that_are_not_finite_are_refused():
    rng = np.random.default_rng(7)
    layers = random_layers(rng, (20, 64, 100))
    layers[1][0][3, 4] = np.nan
    with pytest.raises(ValueError, match="not all finite"):
        fixednet.FixedDecoder(layers, 0.1)


def test_the_weight_scales_are_the_one_answer_whatever_the_search_starts_from():
    """The exponents are the largest that keep every sum exact: the column's own estimate
    (the default start) and starts far below and far above give the same ones, for
    random layers and for the shipped decoder's first and last layers."""
    from vaecodec.zoo import Zoo

    rng = np.random.default_rng(8)
    layers = random_layers(rng, (20, 300, 784))
    layers.append((np.zeros((784, 5), np.float32), np.zeros(5, np.float32)))  # no weights
    zoo = Zoo.installed()
    decoder = zoo.vae(zoo.find(None)).decoder
    layers += [decoder[0], decoder[-1]]
    for w, b in layers:
        w, b = np.asarray(w, np.float64), np.asarray(b, np.float64)
        bounds = rng.integers(1, 2**26, w.shape[0])
        found = fixednet._column_exponents(w, b, bounds)
        for start in (-100, 300):
            far = np.full(w.shape[1], start)
            assert np.array_equal(fixednet._column_exponents(w, b, bounds, far), found)
