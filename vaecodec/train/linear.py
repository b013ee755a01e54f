"""A linear model: the principal components of the training images, as the base layer.

On photographs the MLP VAEs stop below what the images' own principal components give:
on the grayscale photograph tiles of issue 28 the first 20 components reconstruct the
held-out tiles at 26.1 dB where the trained 20-d VAE's best level reaches 25.4, and
uniform steps on 128 of them, entropy-coded per dimension, give 27.6 dB at 12.9 bytes a
tile where WebP quality 0 needs 64 bytes for 27.4 dB (docs/notes/training.md#a-linear-
model-for-photographs). The codec runs such a model as it runs a VAE (``core.runtime``,
``output`` "linear"): the encoder's mean is the projection onto the components, the
decoder the sum of the components, clipped, its pixels exact on every machine
(``core.fixednet``). Computed in seconds, numpy only: no training loop.
"""

from __future__ import annotations

import numpy as np

from ..core import tensors as tensor_names
from ..format import shapes

LINEAR_IMAGES = 200_000  # images the components are computed on, at most (a seeded sample)
LINEAR_BATCH = 4096  # images per product while the covariance is summed
# the levels' steps, in the components' units (intensities in [0, 1], orthonormal
# components): a uniform step is what squared error wants on orthonormal coefficients
LINEAR_STEPS = (1.4, 1.0, 0.8, 0.6, 0.45, 0.35)
LINEAR_LATENT = 256  # components kept, at most (fewer for images of fewer values)
# images of at most this many values (64x64 grayscale, 32x32 RGBA): the covariance of
# more (its eigenvectors: cubic in the values) would take minutes
MAX_VALUES = 4096


def considered(image_shape: tuple[int, ...]) -> bool:
    """Whether a linear model is made for images of ``image_shape``."""
    return shapes.values(image_shape) <= MAX_VALUES


def latent_size(image_shape: tuple[int, ...]) -> int:
    """The components a linear model of ``image_shape`` keeps."""
    return min(LINEAR_LATENT, shapes.values(image_shape))


def fit_linear(images: np.ndarray, size: int, seed: int = 1
               ) -> tuple[dict[str, np.ndarray], list[float]]:
    """The tensors of the linear model of uint8 ``images`` (N, ...) with ``size``
    components (``core.tensors``: ``mu`` projects, ``linear.0`` reconstructs), and each
    component's standard deviation on the images (what ``sample`` draws with)."""
    count = len(images)
    flat = images.reshape(count, -1)
    if count > LINEAR_IMAGES:
        pick = np.sort(np.random.default_rng(seed).choice(count, LINEAR_IMAGES, replace=False))
        flat = flat[pick]
    values = flat.shape[1]
    if not 1 <= size <= values:
        raise ValueError(f"a linear model keeps 1..{values} components, not {size}")
    mean = flat.mean(axis=0, dtype=np.float64) / 255.0
    scatter = np.zeros((values, values))
    for i in range(0, len(flat), LINEAR_BATCH):
        x = flat[i : i + LINEAR_BATCH].astype(np.float64) / 255.0 - mean
        scatter += x.T @ x
    variances, vectors = np.linalg.eigh(scatter / max(1, len(flat) - 1))
    order = np.argsort(variances)[::-1][:size]
    components = vectors[:, order]  # (values, size), orthonormal columns
    # a sign for each component that does not depend on the eigen solver: its largest
    # entry (the first of equal ones) positive
    signs = np.sign(components[np.argmax(np.abs(components), axis=0), np.arange(size)])
    components *= np.where(signs == 0, 1.0, signs)
    std = np.sqrt(np.maximum(variances[order], 0.0))
    tensors = {
        tensor_names.key("mu", None, "weight"): components.T,  # (size, values): out, in
        tensor_names.key("mu", None, "bias"): -(mean @ components),
        tensor_names.key(tensor_names.LINEAR, 0, "weight"): components,  # (values, size)
        tensor_names.key(tensor_names.LINEAR, 0, "bias"): mean,
    }
    return ({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()},
            [round(float(s), 6) for s in std])
