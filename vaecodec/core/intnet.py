"""Multilayer perceptrons evaluated in exact integer arithmetic (numpy only).

The residual layer's probabilities must come out bit-identical on every machine, so every
network that feeds them runs on integers: int8 weights, integer biases, uint8 activations.
Products and sums are formed by numpy's float32/float64 matrix products, but every operand
and every partial sum is an integer below 2**24 (float32) or 2**53 (float64), so each
result is exact whatever order or instruction set the BLAS uses. Rescaling between layers is
a floor division by a power of two per output (an arithmetic shift), exact in floating
point too.
``IntMLP.check`` proves the bounds from the weights before the network is used.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from . import tensors as tensor_names

MAX_SHIFT = 40
ACTIVATION_MAX = 255
WEIGHT_MAX = 127
F32_EXACT = 2**24
F64_EXACT = 2**53


@dataclasses.dataclass
class IntLayer:
    weight: np.ndarray  # (in, out) integers in [-127, 127]
    bias: np.ndarray  # (out,) integers
    shift: np.ndarray | None  # (out,) h = floor(acc / 2**shift); None for an output layer


def quantize_layer(weight: np.ndarray, bias: np.ndarray, in_scale: float,
                   out_scale: float | None) -> IntLayer:
    """An integer layer approximating ``x_real @ weight + bias`` where ``x_real = x_int *
    in_scale``. Hidden layers (``out_scale`` given) return ``relu(.) / out_scale`` rounded
    down and clipped to 0..255; each output's weight scale is the largest that makes the
    rescaling a power of two. Output layers (``None``) use one weight scale for all outputs
    and return the raw integer sums."""
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    shift = None
    if out_scale is None:
        w_scale = WEIGHT_MAX / max(np.abs(weight).max(), 1e-12)
    else:
        peak = np.maximum(np.abs(weight).max(axis=0), 1e-12)
        # w_scale * out_scale / in_scale must be 2**shift, with |w| * w_scale <= 127
        shift = np.floor(np.log2(WEIGHT_MAX / peak * out_scale / in_scale))
        shift = np.clip(shift, -MAX_SHIFT, MAX_SHIFT)
        w_scale = 2.0**shift * in_scale / out_scale
        shift = shift.astype(np.int64)
    w_int = np.clip(np.rint(weight * w_scale), -WEIGHT_MAX, WEIGHT_MAX)
    b_int = np.rint(bias * w_scale / in_scale)
    return IntLayer(np.ascontiguousarray(w_int, dtype=np.int8), b_int.astype(np.int64), shift)


class IntMLP:
    """``forward(x)``: integer inputs (N, in) within ``input_bound`` -> hidden layers with
    ReLU, requantized to 0..255 -> the last layer's exact integer sums (N, out), as floats."""

    def __init__(self, layers: list[IntLayer], input_bound: int):
        self.input_bound = int(input_bound)
        self.layers = []
        bound = self.input_bound
        for i, layer in enumerate(layers):
            w = np.asarray(layer.weight, dtype=np.int64)
            b = np.asarray(layer.bias, dtype=np.int64)
            last = i == len(layers) - 1
            if w.ndim != 2 or b.shape != (w.shape[1],) or np.abs(w).max() > WEIGHT_MAX:
                raise ValueError("integer layer has bad shapes or weights")
            if (layer.shift is None) != last:
                raise ValueError("only the output layer lacks a requantization shift")
            worst = int(bound * np.abs(w).sum(axis=0).max() + np.abs(b).max())
            dtype = np.float32 if worst < F32_EXACT else np.float64
            if worst >= F64_EXACT:
                raise ValueError("integer layer can overflow exact arithmetic")
            scale = None
            if not last:
                shift = np.asarray(layer.shift, dtype=np.int64)
                if shift.shape != b.shape or np.abs(shift).max() > MAX_SHIFT:
                    raise ValueError("integer layer's shifts are out of range")
                scale = (2.0 ** -shift).astype(dtype)  # exact: a power of two
            weight = np.ascontiguousarray(w, dtype=dtype)
            self.layers.append((weight, b.astype(dtype), scale, worst))
            bound = ACTIVATION_MAX
        self.in_size = self.layers[0][0].shape[0]
        self.out_size = self.layers[-1][0].shape[1]
        #: the largest |output| possible, for callers that bound their own arithmetic
        self.output_bound = self.layers[-1][3]

    def hidden(self, x: np.ndarray, rest: np.ndarray | None = None) -> np.ndarray:
        """Activations (N, H) of the last hidden layer, integers 0..255 as floats.

        ``rest``: ``x`` holds only the first inputs, and ``rest`` (N, first layer's width)
        is ``partial_sums`` of the others (inputs that repeat across rows, summed once)."""
        x = np.asarray(x)
        fits = x.dtype == np.uint8 and self.input_bound >= 255  # pixels: no pass needed
        if x.size and not fits and np.abs(x).max() > self.input_bound:
            raise ValueError("integer network input out of range")
        for i, (w, b, scale, _) in enumerate(self.layers[:-1]):
            if i == 0 and rest is not None:
                acc = x.astype(w.dtype, copy=False) @ self._leading_rows(x.shape[1])
                acc += rest  # exact: every partial sum is within the layer's bound
            else:
                acc = x.astype(w.dtype, copy=False) @ w
            acc += b
            acc *= scale
            np.floor(acc, out=acc)
            np.clip(acc, 0, ACTIVATION_MAX, out=acc)
            x = acc
        return x

    def partial_sums(self, x: np.ndarray, start: int) -> np.ndarray:
        """The first layer's sums (N, width) over its inputs ``start`` to ``start`` + k
        alone, for integer inputs ``x`` (N, k) within ``input_bound``; the sums over
        disjoint inputs after the first ones add up to ``hidden``'s ``rest``."""
        x = np.asarray(x)
        w = self.layers[0][0]
        if x.ndim != 2 or start < 1 or start + x.shape[1] > len(w):
            raise ValueError("partial input of the wrong width")
        if x.size and np.abs(x.astype(np.int64)).max() > self.input_bound:
            raise ValueError("integer network input out of range")
        return x.astype(w.dtype) @ w[start : start + x.shape[1]]

    def _leading_rows(self, count: int) -> np.ndarray:
        """The first layer's weights of its first ``count`` inputs (contiguous, cached)."""
        cache = self.__dict__.setdefault("_leading", {})
        if count not in cache:
            cache[count] = np.ascontiguousarray(self.layers[0][0][:count])
        return cache[count]

    def output(self, hidden: np.ndarray, columns: slice | None = None) -> np.ndarray:
        """The last layer's integer sums for ``hidden`` (optionally some columns only), as
        float32 when ``output_bound`` < 2**24, else float64."""
        w, b, _, _ = self.layers[-1]
        if columns is not None:
            w, b = w[:, columns], b[columns]
        acc = hidden.astype(w.dtype, copy=False) @ w
        acc += b
        return acc

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.output(self.hidden(x))

    def to_tensors(self, prefix: str) -> dict[str, np.ndarray]:
        out = {}
        for i, (w, b, scale, _) in enumerate(self.layers):
            # C order: safetensors stores the raw buffer
            out[tensor_names.key(prefix, i, "weight")] = np.ascontiguousarray(w, dtype=np.int8)
            out[tensor_names.key(prefix, i, "bias")] = np.ascontiguousarray(b, dtype=np.int64)
            if scale is not None:
                out[tensor_names.key(prefix, i, "shift")] = -np.log2(
                    scale.astype(np.float64)).astype(np.int64)
        return out

    @classmethod
    def from_tensors(cls, tensors: dict[str, np.ndarray], prefix: str,
                     input_bound: int) -> "IntMLP":
        layers = [IntLayer(layer["weight"], layer.get("bias"), layer.get("shift"))
                  for layer in tensor_names.layers(tensors, prefix)]
        if not layers or any(layer.bias is None for layer in layers):
            raise ValueError(f"no integer layers named {prefix}.*")
        return cls(layers, input_bound)
