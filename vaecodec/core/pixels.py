"""Images as the networks see them, and back (numpy only)."""

from __future__ import annotations

import numpy as np


def to_unit(images: np.ndarray) -> np.ndarray:
    """uint8 images (N, H, W) -> float32 intensities in [0, 1], flattened to (N, H * W)."""
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)


def to_uint8(intensities: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1] to uint8 pixels (round to nearest)."""
    return np.clip(np.rint(intensities * 255.0), 0, 255).astype(np.uint8)
