"""Inference with numpy on exported weights: the codec needs no torch.

The tensors are those ``vaecodec.train.export.export_weights`` writes (named as
``vaecodec.core.tensors`` says); ``tests/test_model.py`` checks this forward pass against
the torch model within float tolerance.
"""

from __future__ import annotations

import numpy as np

from . import tensors as tensor_names
from .pixels import to_uint8

BATCH = 4096  # images per matrix product; bounds memory for large inputs


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class NumpyVAE:
    """The encoder mean and the decoder of a trained MLP VAE, as float32 numpy, for images
    of ``image_shape`` (height, width). Raises ValueError when the tensors do not make
    such a network."""

    def __init__(self, tensors: dict[str, np.ndarray], image_shape: tuple[int, int]):
        def matrices(layer: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
            w = np.asarray(layer.get("weight", np.zeros((0, 0))), dtype=np.float32)
            b = np.asarray(layer.get("bias", np.zeros(0)), dtype=np.float32)
            if w.ndim != 2 or w.size == 0:
                raise ValueError(f"the weights lack the {name} layer's matrix")
            return np.ascontiguousarray(w.T), b  # x @ W.T, transposed once here

        def layers(prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
            return [matrices(layer, prefix) for layer in tensor_names.layers(tensors, prefix)]

        self.image_shape = (int(image_shape[0]), int(image_shape[1]))
        self.pixels = self.image_shape[0] * self.image_shape[1]
        self.encoder = layers("encoder")
        self.decoder = layers("decoder")
        self.mu = matrices(tensor_names.layer(tensors, "mu"), "mu")
        if not self.decoder:
            raise ValueError("the weights lack the decoder")
        self.latent_size = self.mu[0].shape[1]
        sizes = [self.pixels] + [w.shape[1] for w, _ in self.encoder]
        for (w, b), n_in in zip(self.encoder + [self.mu], sizes):
            if w.shape[0] != n_in or b.shape != (w.shape[1],):
                raise ValueError("encoder weights have inconsistent shapes")
        n_in = self.latent_size
        for w, b in self.decoder:
            if w.shape[0] != n_in or b.shape != (w.shape[1],):
                raise ValueError("decoder weights have inconsistent shapes")
            n_in = w.shape[1]
        if n_in != self.pixels:
            raise ValueError(f"decoder outputs {n_in} pixels, not "
                             f"{self.image_shape[0]}x{self.image_shape[1]}")

    @staticmethod
    def _mlp(x: np.ndarray, layers, relu_last: bool) -> np.ndarray:
        for i, (w, b) in enumerate(layers):
            x = x @ w
            x += b
            if relu_last or i < len(layers) - 1:
                np.maximum(x, 0, out=x)
        return x

    def encode_mean(self, x: np.ndarray) -> np.ndarray:
        """Posterior means (N, latent) of float32 intensities x in [0, 1], shape (N, H * W)."""
        out = np.empty((len(x), self.latent_size), dtype=np.float32)
        for i in range(0, len(x), BATCH):
            h = self._mlp(np.asarray(x[i : i + BATCH], dtype=np.float32), self.encoder, True)
            out[i : i + BATCH] = h @ self.mu[0] + self.mu[1]
        return out

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Pixel intensities in [0, 1], float32 (N, H * W), for latents z (N, latent)."""
        out = np.empty((len(z), self.pixels), dtype=np.float32)
        for i in range(0, len(z), BATCH):
            logits = self._mlp(np.asarray(z[i : i + BATCH], dtype=np.float32), self.decoder, False)
            out[i : i + BATCH] = _sigmoid(logits)
        return out

    def decode_pixels(self, z: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, H * W) for latents z, converted batch by batch so that the float
        intensities of only one batch are held at a time."""
        out = np.empty((len(z), self.pixels), dtype=np.uint8)
        for i in range(0, len(z), BATCH):
            out[i : i + BATCH] = to_uint8(self.decode(z[i : i + BATCH]))
        return out
