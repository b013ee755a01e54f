"""MNIST-style IDX files (numpy only): read by ``vaecodec.arrays``, which ``compress``
and ``train`` share; kept here for the callers of ``vaecodec.data``."""

from __future__ import annotations

from ..arrays import read_idx_images, read_idx_labels

__all__ = ["read_idx_images", "read_idx_labels"]
