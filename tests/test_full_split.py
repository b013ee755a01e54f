"""Quality and size of the shipped default on the whole MNIST test split (needs ../shared).

In the long set: `python -m pytest -m "slow or fuzz"`.
"""

from __future__ import annotations

import pytest

import vaecodec
from vaecodec.data import mnist as datasets
from vaecodec.eval import metrics

pytestmark = pytest.mark.slow


def test_default_settings_on_the_test_split(mnist_root):
    originals = datasets.mnist_images(mnist_root, "test")
    assert originals.shape == (10_000, 28, 28)
    names = [f"{i:05d}.png" for i in range(len(originals))]
    data = vaecodec.encode(originals, names=names)
    decoded = vaecodec.decode(data)
    assert len(data) / len(originals) <= 16.0  # whole file, names included
    assert metrics.psnr(originals, decoded) >= 21.0
    assert metrics.ssim(originals, decoded) >= 0.89


def test_lossless_on_the_test_split(mnist_root):
    """Every one of the 10,000 test images comes back exactly, under PNG's size by far
    (max-error bounds on the full split are checked by benchmarks/bench_residual.py)."""
    originals = datasets.mnist_images(mnist_root, "test")
    data = vaecodec.encode(originals, lossless=True)
    assert (vaecodec.decode(data) == originals).all()
    assert len(data) / len(originals) <= 115.0  # measured 109.9; PNG files: ~274
