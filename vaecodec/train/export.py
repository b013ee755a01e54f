"""From a trained torch VAE to a model the codec runs, and back.

``export_weights`` names the tensors as ``vaecodec.core.tensors`` says the numpy runtime
reads them; ``save_checkpoint`` writes the weights with their metadata (recipe, data
checksums, test figures measured through the codec) into a model folder.
"""

from __future__ import annotations

import dataclasses
import platform
from pathlib import Path

import numpy as np

from ..core import tensors as tensor_names
from ..core.quantize import DEFAULT_STEP
from ..data import mnist
from ..eval.evaluate import evaluate_model
from ..zoo.models import ModelInfo, write_model
from . import import_torch
from .loop import test_loss
from .model import VAE
from .recipes import Recipe

torch = import_torch()


def _named_linears(model: VAE) -> dict[tuple[str, int | None], "torch.nn.Linear"]:
    """Every linear layer, by the (prefix, index) the runtime reads it under."""
    named = {}
    for part in ("encoder", "decoder"):
        layers = [m for m in getattr(model, part).modules() if isinstance(m, torch.nn.Linear)]
        named.update({(part, i): layer for i, layer in enumerate(layers)})
    named[("mu", None)], named[("logvar", None)] = model.to_mu, model.to_logvar
    return named


def export_weights(model: VAE) -> dict[str, np.ndarray]:
    """The model's tensors as float32 numpy arrays, named as the numpy runtime reads them."""
    tensors = {}
    for (prefix, index), layer in _named_linears(model).items():
        tensors[tensor_names.key(prefix, index, "weight")] = layer.weight.detach().numpy()
        tensors[tensor_names.key(prefix, index, "bias")] = layer.bias.detach().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}


def import_weights(tensors: dict[str, np.ndarray], image_shape, latent_size: int,
                   hidden) -> VAE:
    """The inverse of ``export_weights``: a torch model holding exported tensors."""
    model = VAE(image_shape, latent_size, hidden)
    with torch.no_grad():
        for (prefix, index), layer in _named_linears(model).items():
            weight = tensors[tensor_names.key(prefix, index, "weight")]
            bias = tensors[tensor_names.key(prefix, index, "bias")]
            layer.weight.copy_(torch.from_numpy(np.asarray(weight)))
            layer.bias.copy_(torch.from_numpy(np.asarray(bias)))
    return model.eval()


def import_model(info: ModelInfo) -> VAE:
    """The torch twin of an installed (or in-memory) model."""
    arch = info.metadata["architecture"]
    return import_weights(info.tensors(), arch["image_shape"], arch["latent_size"],
                          arch["hidden"])


def save_checkpoint(model: VAE, recipe: Recipe, out_dir: Path, test_images: np.ndarray,
                    data_root: str | Path, train_seconds: float,
                    force: bool = True) -> ModelInfo:
    """Write vae-<recipe>.safetensors and vae-<recipe>.json into ``out_dir``, each
    atomically; the JSON records the architecture, recipe, data checksums and the test
    figures measured through the codec."""
    info = ModelInfo.in_memory(f"vae-{recipe.name}", export_weights(model), {
        "architecture": {"type": "mlp-vae", "latent_size": recipe.latent_size,
                         "hidden": list(recipe.hidden), "image_shape": list(model.image_shape)},
        "recipe": recipe.to_dict(),
        "data": {"dataset": "MNIST", "train_split": "train (60,000 images)",
                 "test_split": "test (10,000 images)", "sha256": mnist.checksums(data_root)},
    })
    metadata = {
        **info.metadata,
        "test_metrics": {**test_loss(model, test_images),
                         **evaluate_model(info, test_images, DEFAULT_STEP)},
        "train_seconds": round(train_seconds, 1),
        "trained_with": {"torch": torch.__version__, "python": platform.python_version(),
                         "threads": torch.get_num_threads()},
    }
    return write_model(Path(out_dir), dataclasses.replace(info, metadata=metadata), force)
