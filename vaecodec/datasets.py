"""MNIST-style data for evaluation, read with numpy (no torch needed).

Training loads data through torchvision (``vaecodec.training.load_mnist``); evaluation and
benchmarks read the same raw IDX files that torchvision lays out under ROOT/MNIST/raw.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

SPLIT_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images (N, H, W) uint8 from an uncompressed IDX3 file, checking its header."""
    data = Path(path).read_bytes()
    if len(data) < 16:
        raise ValueError(f"{path} is too short for an IDX image file")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise ValueError(f"{path} is not an IDX3 uint8 image file")
    if len(data) != 16 + count * rows * cols:
        raise ValueError(f"{path} holds {len(data) - 16} pixel bytes, header implies "
                         f"{count * rows * cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def mnist_images(root: str | Path, split: str = "test") -> np.ndarray:
    """MNIST images of ``split`` ("train" or "test") under a torchvision-layout ``root``.

    Reads ROOT/MNIST/raw directly when the files are there; otherwise asks torchvision to
    download them (needs the ``train`` extra and the internet).
    """
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    path = Path(root) / "MNIST" / "raw" / SPLIT_FILES[split]
    if path.is_file():
        return read_idx_images(path)
    from .training import load_mnist

    return load_mnist(root, train=split == "train")
