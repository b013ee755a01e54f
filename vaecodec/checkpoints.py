"""Shipped weights: finding, verifying (sha256) and loading them; model ids.

A model is a pair of files in the checkpoint folder: ``NAME.safetensors`` (the weights)
and ``NAME.json`` (its metadata, written by ``scripts/train.py``). Its id is the sha256
of the weights file, so a .vaez file names exactly the weights that made it.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
from pathlib import Path

from .errors import UnknownModelError, VaezError

DEFAULT_MODEL = "vae-default"
ENV_DIR = "VAECODEC_CHECKPOINTS"  # extra folder searched first (for models trained locally)


@dataclasses.dataclass(frozen=True)
class ModelInfo:
    name: str
    model_id: bytes  # sha256 of the weights file
    weights_path: Path
    metadata: dict


def checkpoint_dirs() -> list[Path]:
    """Folders searched for models: $VAECODEC_CHECKPOINTS, the installed copy, the repo's."""
    package = Path(__file__).resolve().parent
    dirs = [package / "_checkpoints", package.parent / "checkpoints"]
    if os.environ.get(ENV_DIR):
        dirs.insert(0, Path(os.environ[ENV_DIR]))
    return [d for d in dirs if d.is_dir()]


@functools.lru_cache(maxsize=None)
def _registry(dirs: tuple[Path, ...]) -> dict[str, ModelInfo]:
    models: dict[str, ModelInfo] = {}
    for folder in dirs:
        for meta_path in sorted(folder.glob("*.json")):
            name = meta_path.stem
            weights = meta_path.with_suffix(".safetensors")
            if name in models or not weights.is_file():
                continue
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
            models[name] = ModelInfo(
                name, bytes.fromhex(metadata["weights_sha256"]), weights, metadata
            )
    return models


PIXEL_MODEL = "pixel-model"  # metadata "kind" of the residual layer's pixel models
DEFAULT_PIXEL_MODEL = "pixel-l1"


def list_models(kind: str = "vae") -> list[ModelInfo]:
    """Shipped models of one kind: "vae" (the base layer) or PIXEL_MODEL."""
    return [info for info in _registry(tuple(checkpoint_dirs())).values()
            if info.metadata.get("kind", "vae") == kind]


def find(name_or_id: str | bytes | None = None, kind: str = "vae") -> ModelInfo:
    """A model by name, by id (the sha256, or its first bytes as a file stores them; bytes
    or hex), or the default model for None."""
    if name_or_id is None:
        name_or_id = DEFAULT_MODEL if kind == "vae" else DEFAULT_PIXEL_MODEL
    key = name_or_id
    for info in list_models(kind):
        if isinstance(key, bytes):
            if len(key) >= 4 and info.model_id.startswith(key):
                return info
        elif key == info.name or (len(key) >= 8 and info.model_id.hex().startswith(key)):
            return info
    known = ", ".join(m.name for m in list_models(kind)) or "none"
    what = "model" if kind == "vae" else "pixel model"
    if isinstance(key, bytes):
        raise UnknownModelError(
            f"unknown {what} id {key.hex()[:16]}: the file was made with a {what} this "
            f"vaecodec does not have (it has: {known})"
        )
    raise UnknownModelError(f"no {what} named {key!r} (available: {known})")


def _verified_tensors(info: ModelInfo) -> dict:
    """The tensors of a model's weights file, after checking its sha256."""
    from safetensors.numpy import load as load_tensors

    data = info.weights_path.read_bytes()
    if hashlib.sha256(data).digest() != info.model_id:
        raise VaezError(f"weights file {info.weights_path} does not match its sha256; reinstall")
    return load_tensors(data)


@functools.lru_cache(maxsize=4)
def load(model_id: bytes):
    """The numpy runtime for a model id, after checking the weights' sha256."""
    from .runtime import NumpyVAE

    return NumpyVAE(_verified_tensors(find(model_id)))


@functools.lru_cache(maxsize=4)
def load_pixel_model(model_id: bytes):
    """The residual layer's pixel model for an id, after checking the weights' sha256."""
    from .residual import PixelModel

    info = find(model_id, PIXEL_MODEL)
    return PixelModel.from_tensors(info.name, info.model_id, info.metadata,
                                   _verified_tensors(info))
