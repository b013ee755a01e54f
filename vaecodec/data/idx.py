"""MNIST-style IDX image files (numpy only)."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from ..errors import InputError


def read_idx_images(path: str | Path) -> np.ndarray:
    """Images (N, H, W) uint8 from an uncompressed IDX3 file, checking its header."""
    data = Path(path).read_bytes()
    if len(data) < 16:
        raise InputError(f"{path} is too short for an IDX image file")
    magic, count, rows, cols = struct.unpack(">IIII", data[:16])
    if magic != 0x00000803:
        raise InputError(f"{path} is not an IDX3 uint8 image file")
    if len(data) != 16 + count * rows * cols:
        raise InputError(f"{path} holds {len(data) - 16} pixel bytes, header implies "
                         f"{count * rows * cols}")
    return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows, cols)


def read_idx_labels(path: str | Path) -> np.ndarray:
    """Labels (N,) uint8 from an uncompressed IDX1 file, checking its header."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise InputError(f"{path} is too short for an IDX label file")
    magic, count = struct.unpack(">II", data[:8])
    if magic != 0x00000801:
        raise InputError(f"{path} is not an IDX1 uint8 label file")
    if len(data) != 8 + count:
        raise InputError(f"{path} holds {len(data) - 8} labels, header implies {count}")
    return np.frombuffer(data, dtype=np.uint8, offset=8)
