"""Inference with numpy on exported weights: the codec needs no torch.

The tensors are those ``vaecodec.train.export.export_weights`` writes (named as
``vaecodec.core.tensors`` says); ``tests/test_model.py`` checks this forward pass against
the torch model within float tolerance.
"""

from __future__ import annotations

import collections

import numpy as np

from ..format import shapes
from . import tensors as tensor_names
from .fixednet import FixedDecoder

BATCH = 4096  # images per matrix product; bounds memory for large inputs
FIXED_CACHE = 3  # exact decoders (one per quantization step) kept per model


def _claim_blas_buffers() -> None:
    """Make the BLAS allocate its work buffers now, while little memory is in use: OpenBLAS
    gets them at its first matrix product, and when that fails it ends the process with
    its own message instead of raising MemoryError. Later products reuse the buffers."""
    for dtype in (np.float32, np.float64):
        a = np.ones((256, 256), dtype=dtype)
        a @ a


class NumpyVAE:
    """The encoder mean and the decoder of a trained MLP VAE (or of a linear model: the
    same interface, ``output`` "linear"), as float32 numpy, for images
    of ``image_shape`` ((height, width), or (height, width, channels): its inputs and
    outputs are the values in numpy's order, channels last). Raises ValueError when the
    tensors do not make such a network."""

    def __init__(self, tensors: dict[str, np.ndarray], image_shape: tuple[int, ...]):
        def matrices(layer: dict, name: str) -> tuple[np.ndarray, np.ndarray]:
            w = np.asarray(layer.get("weight", np.zeros((0, 0))), dtype=np.float32)
            b = np.asarray(layer.get("bias", np.zeros(0)), dtype=np.float32)
            if w.ndim != 2 or w.size == 0:
                raise ValueError(f"the weights lack the {name} layer's matrix")
            return np.ascontiguousarray(w.T), b  # x @ W.T, transposed once here

        def layers(prefix: str) -> list[tuple[np.ndarray, np.ndarray]]:
            return [matrices(layer, prefix) for layer in tensor_names.layers(tensors, prefix)]

        self.image_shape = shapes.normal(image_shape)
        self.pixels = shapes.values(self.image_shape)  # values per image
        self.encoder = layers("encoder")
        self.decoder = layers("decoder")
        self.mu = matrices(tensor_names.layer(tensors, "mu"), "mu")
        # "sigmoid": an MLP decoder, sigmoid at the end; "linear": a linear transform (the
        # principal components, ``train.linear``), one layer each way, its outputs clipped
        # to [0, 1]: stored as the stack "linear", which readers before it refuse (they
        # find no decoder) instead of decoding it through a sigmoid
        self.output = "sigmoid"
        linear = layers(tensor_names.LINEAR)
        if linear:
            if self.encoder or self.decoder or len(linear) != 1:
                raise ValueError("a linear model has one layer each way and no other")
            self.decoder, self.output = linear, "linear"
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
            raise ValueError(f"decoder outputs {n_in} values, not the "
                             f"{self.pixels} of {shapes.describe(self.image_shape)} images")
        for w, b in self.encoder + [self.mu] + self.decoder:
            if not (np.all(np.isfinite(w)) and np.all(np.isfinite(b))):
                raise ValueError("the weights are not all finite numbers")
        # exact decoders by step, the most recently used last (a few: each holds the
        # decoder's weights in float64, and a file can name any step)
        self._fixed: collections.OrderedDict[float, FixedDecoder] = collections.OrderedDict()
        _claim_blas_buffers()

    @staticmethod
    def _workspace(layers, n: int) -> list[np.ndarray]:
        """One output buffer per layer for batches of up to BATCH rows, reused batch after
        batch: no large allocation per batch, so the speed does not depend on the
        allocator's history (fresh memory costs page faults)."""
        rows = min(n, BATCH)
        return [np.empty((rows, w.shape[1]), dtype=np.float32) for w, _ in layers]

    @staticmethod
    def _mlp(x: np.ndarray, layers, relu_last: bool, workspace: list[np.ndarray]) -> np.ndarray:
        for i, (w, b) in enumerate(layers):
            x = np.matmul(x, w, out=workspace[i][: len(x)])
            x += b
            if relu_last or i < len(layers) - 1:
                np.maximum(x, 0, out=x)
        return x

    def encode_mean(self, x: np.ndarray) -> np.ndarray:
        """Posterior means (N, latent) of float32 intensities x in [0, 1], shape (N, H * W)."""
        out = np.empty((len(x), self.latent_size), dtype=np.float32)
        work = self._workspace(self.encoder, len(x))
        for i in range(0, len(x), BATCH):
            h = self._mlp(np.asarray(x[i : i + BATCH], dtype=np.float32), self.encoder, True, work)
            np.matmul(h, self.mu[0], out=out[i : i + BATCH])
            out[i : i + BATCH] += self.mu[1]
        return out

    def _decode_batches(self, z: np.ndarray):
        """Each batch's pixel intensities in [0, 1], float32 (rows, H * W), in a buffer that
        the next batch reuses."""
        work = self._workspace(self.decoder, len(z))
        for i in range(0, len(z), BATCH):
            x = self._mlp(np.asarray(z[i : i + BATCH], dtype=np.float32), self.decoder, False,
                          work)
            if self.output == "linear":
                np.clip(x, 0.0, 1.0, out=x)
            else:  # sigmoid in its tanh form (no overflow warning for large |x|), in place
                x *= 0.5
                np.tanh(x, out=x)
                x += 1.0
                x *= 0.5
            yield i, x

    def decode(self, z: np.ndarray) -> np.ndarray:
        """Pixel intensities in [0, 1], float32 (N, H * W), for latents z (N, latent)."""
        out = np.empty((len(z), self.pixels), dtype=np.float32)
        for i, intensities in self._decode_batches(z):
            out[i : i + len(intensities)] = intensities
        return out

    def decode_symbols(self, symbols: np.ndarray, step: float) -> np.ndarray:
        """uint8 pixels (N, H * W) of quantized latents (symbols of ``step``), the same on
        every machine (``fixednet``): what the codec decodes. Raises ValueError for weights
        that cannot be evaluated exactly."""
        fixed = self._fixed.get(step)
        if fixed is None:
            fixed = self._fixed[step] = FixedDecoder(self.decoder, step, self.output)
            while len(self._fixed) > FIXED_CACHE:
                self._fixed.popitem(last=False)
        self._fixed.move_to_end(step)
        out = np.empty((len(symbols), self.pixels), dtype=np.uint8)
        for i in range(0, len(symbols), BATCH):
            fixed.pixels(symbols[i : i + BATCH], out[i : i + BATCH])
        return out

    def decode_pixels(self, z: np.ndarray) -> np.ndarray:
        """uint8 pixels (N, H * W) for float latents z (``to_uint8`` of ``decode``), converted
        batch by batch so that the float intensities of only one batch are held at a time."""
        out = np.empty((len(z), self.pixels), dtype=np.uint8)
        for i, x in self._decode_batches(z):
            x *= 255.0  # to_uint8, in place
            np.rint(x, out=x)
            np.clip(x, 0, 255, out=x)
            out[i : i + len(x)] = x
        return out
