"""Arbitrary bytes either decode or raise the library's own error, never anything else."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import vaecodec
from vaecodec import VaezError

VALID = vaecodec.encode(np.zeros((3, 28, 28), np.uint8), names=["a.png", "b/c.png", "d.png"])


def decode_or_own_error(data: bytes) -> None:
    try:
        out = vaecodec.decode(data)
    except VaezError:
        return
    assert out.dtype == np.uint8 and out.shape[1:] == (28, 28)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_random_bytes(data):
    decode_or_own_error(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_after_magic(data):
    decode_or_own_error(b"VAEZ\x01" + data)


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.integers(0, len(VALID) - 1), st.integers(0, 255)), max_size=8),
       st.integers(0, len(VALID)))
def test_mutated_valid_file(edits, cut):
    data = bytearray(VALID)
    for position, value in edits:
        data[position] = value
    decode_or_own_error(bytes(data[:cut]))
    try:
        vaecodec.read_info(bytes(data))
    except VaezError:
        pass
