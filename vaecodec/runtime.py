"""Inference with numpy on exported weights: the codec needs no torch.

The tensors are those ``vaecodec.training.export_weights`` writes; ``tests/test_runtime.py``
checks this forward pass against the torch model within float tolerance.
"""

from __future__ import annotations

import numpy as np

IMAGE_PIXELS = 28 * 28
BATCH = 4096  # images per matrix product; bounds memory for large inputs


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # tanh form: no overflow warning for large |x|
    return 0.5 * (1.0 + np.tanh(0.5 * x))


class NumpyVAE:
    """The encoder mean and the decoder of a trained MLP VAE, as float32 numpy."""

    def __init__(self, tensors: dict[str, np.ndarray]):
        def layers(prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
            out = []
            while f"{prefix}.{len(out)}.weight" in tensors:
                i = len(out)
                w = np.asarray(tensors[f"{prefix}.{i}.weight"], dtype=np.float32)
                b = np.asarray(tensors[f"{prefix}.{i}.bias"], dtype=np.float32)
                out.append((np.ascontiguousarray(w.T), b))  # x @ W.T, transposed once here
            return out

        self.encoder = layers("encoder")
        self.decoder = layers("decoder")
        self.mu = (
            np.ascontiguousarray(np.asarray(tensors["mu.weight"], dtype=np.float32).T),
            np.asarray(tensors["mu.bias"], dtype=np.float32),
        )
        self.latent_size = self.mu[0].shape[1]
        sizes = [IMAGE_PIXELS] + [w.shape[1] for w, _ in self.encoder]
        for (w, b), n_in in zip(self.encoder + [self.mu], sizes):
            if w.shape[0] != n_in or b.shape != (w.shape[1],):
                raise ValueError("encoder weights have inconsistent shapes")
        n_in = self.latent_size
        for w, b in self.decoder:
            if w.shape[0] != n_in or b.shape != (w.shape[1],):
                raise ValueError("decoder weights have inconsistent shapes")
            n_in = w.shape[1]
        if n_in != IMAGE_PIXELS:
            raise ValueError("decoder does not output 28x28 images")

    @staticmethod
    def _mlp(x: np.ndarray, layers, relu_last: bool) -> np.ndarray:
        for i, (w, b) in enumerate(layers):
            x = x @ w
            x += b
            if relu_last or i < len(layers) - 1:
                np.maximum(x, 0, out=x)
        return x

    def encode_mean(self, x: np.ndarray) -> np.ndarray:
        """Posterior means (N, latent) of float32 intensities x in [0, 1], shape (N, 784)."""
        out = np.empty((len(x), self.latent_size), dtype=np.float32)
        for i in range(0, len(x), BATCH):
            h = self._mlp(np.asarray(x[i : i + BATCH], dtype=np.float32), self.encoder, True)
            out[i : i + BATCH] = h @ self.mu[0] + self.mu[1]
        return out

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Pixel intensities in [0, 1], float32 (N, 784), for latents z (N, latent)."""
        out = np.empty((len(z), IMAGE_PIXELS), dtype=np.float32)
        for i in range(0, len(z), BATCH):
            logits = self._mlp(np.asarray(z[i : i + BATCH], dtype=np.float32), self.decoder, False)
            out[i : i + BATCH] = _sigmoid(logits)
        return out


    def decode_pixels(self, z: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, 784) for latents z, converted batch by batch so that the float
        intensities of only one batch are held at a time."""
        out = np.empty((len(z), IMAGE_PIXELS), dtype=np.uint8)
        for i in range(0, len(z), BATCH):
            out[i : i + BATCH] = to_uint8(self.decode(z[i : i + BATCH]))
        return out


def to_uint8(intensities: np.ndarray) -> np.ndarray:
    """Intensities in [0, 1] to uint8 pixels (round to nearest)."""
    return np.clip(np.rint(intensities * 255.0), 0, 255).astype(np.uint8)
