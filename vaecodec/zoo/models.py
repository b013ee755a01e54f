"""Models: finding them in folders, verifying them (sha256), loading their runtimes, and
writing them.

A model is a pair of files in a folder: ``NAME.safetensors`` (the weights) and
``NAME.json`` (its metadata). Its id is the sha256 of the weights file, so a .vaez file
names exactly the weights that made it. A model can also live in memory (a model being
trained or measured): the same bytes, no files.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path

from ..errors import CorruptModelError
from ..format import shapes
from ..fsio import atomic_write_bytes
from .defaults import DEFAULT_MODEL, DEFAULT_PIXEL_MODEL

VAE = "vae"  # metadata "kind" of the base layer's models (the default when absent)
PIXEL_MODEL = "pixel-model"  # ... of the residual layer's pixel models
DEFAULTS = {VAE: DEFAULT_MODEL, PIXEL_MODEL: DEFAULT_PIXEL_MODEL}
ENV_DIR = "VAECODEC_CHECKPOINTS"  # extra folder searched first (for models trained locally)


@dataclasses.dataclass(frozen=True, eq=False)
class ModelInfo:
    name: str
    model_id: bytes  # sha256 of the weights file
    weights_path: Path | None  # None for a model held in memory
    metadata: dict
    weights: bytes | None = dataclasses.field(default=None, repr=False)  # in memory

    @property
    def kind(self) -> str:
        return self.metadata.get("kind", VAE)

    @property
    def image_shape(self) -> tuple[int, ...] | None:
        """(height, width), or (height, width, channels) for several channels
        (``format.shapes``), from the metadata; None where it does not say (pixel models
        written before vaecodec 2.0 take their base model's)."""
        shape = self.metadata.get("architecture", {}).get("image_shape")
        if shape is None:
            return None
        if not shapes.is_shape(shape):
            raise CorruptModelError(f"model {self.name}: its image shape {shape!r} is not "
                                    "[height, width] or [height, width, channels]")
        return tuple(shape)

    def read_weights(self) -> bytes:
        """The weights file's bytes, checked against the model id."""
        data = self.weights if self.weights is not None else self.weights_path.read_bytes()
        if hashlib.sha256(data).digest() != self.model_id:
            where = self.weights_path or f"model {self.name}"
            raise CorruptModelError(f"weights file {where} does not match its sha256; reinstall")
        return data

    def tensors(self) -> dict:
        """The weights as numpy arrays, after checking the sha256."""
        from safetensors.numpy import load

        data = self.read_weights()
        try:
            return load(data)
        except Exception as e:  # safetensors raises its own error types for bad files
            raise CorruptModelError(f"model {self.name}: weights do not load ({e})") from None

    @classmethod
    def in_memory(cls, name: str, tensors: dict, metadata: dict) -> "ModelInfo":
        """A model that exists only in memory, with the id its weights file would have."""
        data = serialize(tensors, metadata)
        model_id = hashlib.sha256(data).digest()
        return cls(name, model_id, None, {**metadata, "weights_sha256": model_id.hex()}, data)


def serialize(tensors: dict, metadata: dict) -> bytes:
    """The bytes of a weights file (safetensors; its header records the network's format)."""
    from safetensors.numpy import save

    header = {"format": metadata.get("format", "vaecodec-" + metadata.get("kind", VAE))}
    return save(tensors, metadata=header)


def checkpoint_dirs() -> list[Path]:
    """Folders searched for models: $VAECODEC_CHECKPOINTS, the installed copy, the repo's,
    then the companion package's (``vaecodec-models``: installed, or in the repo)."""
    from .companion import folder as companion_folder

    package = Path(__file__).resolve().parent.parent
    dirs = [package / "_checkpoints", package.parent / "checkpoints"]
    if os.environ.get(ENV_DIR):
        dirs.insert(0, Path(os.environ[ENV_DIR]))
    extra = companion_folder()
    if extra is not None:
        dirs.append(extra)
    return [d for d in dirs if d.is_dir()]


def scan(folder: Path) -> list[ModelInfo]:
    """The models of one folder (a NAME.json with its NAME.safetensors), by name."""
    models = []
    for meta_path in sorted(folder.glob("*.json")):
        weights = meta_path.with_suffix(".safetensors")
        if not weights.is_file():
            continue
        try:
            metadata = json.loads(meta_path.read_text(encoding="utf-8"))
            model_id = bytes.fromhex(metadata["weights_sha256"])
        except (ValueError, KeyError, TypeError) as e:
            raise CorruptModelError(f"{meta_path} is not a model's metadata ({e})") from None
        models.append(ModelInfo(meta_path.stem, model_id, weights, metadata))
    return models


def write_model(folder: Path, info: ModelInfo, force: bool = False) -> ModelInfo:
    """Write a model (``ModelInfo.in_memory``) as NAME.safetensors and NAME.json into
    ``folder``, each atomically (the weights first, so that a metadata file never names
    weights that are not there). The metadata starts with the name, the weights file's
    name and its sha256. Returns the model as written."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    weights_path = folder / f"{info.name}.safetensors"
    metadata = {"name": info.name, "weights_file": weights_path.name,
                "weights_sha256": info.model_id.hex(), **info.metadata}
    atomic_write_bytes(weights_path, info.read_weights(), force)
    text = json.dumps(metadata, indent=2) + "\n"
    atomic_write_bytes(folder / f"{info.name}.json", text.encode("utf-8"), force)
    return ModelInfo(info.name, info.model_id, weights_path, metadata)
