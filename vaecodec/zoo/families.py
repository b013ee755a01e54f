"""Model families: a VAE with its own quality levels and pixel model, as one .vaem file
(``format.family``), and the user's store of them.

The shipped MNIST models are the family "mnist" (``checkpoints/``, levels 1-14). A family
a user trains (``vaecodec train``) or imports is one file in the store: the folder
``$VAECODEC_MODELS`` when set, else ``models`` in the platform's user data folder
(``~/.local/share/vaecodec/models`` on Linux).
"""

from __future__ import annotations

import dataclasses
import math
import os
from pathlib import Path

from ..errors import CorruptModelError
from ..format import family as family_format
from ..format import shapes
from ..format.constants import MAX_RESIDUAL_ERROR
from .levels import Level, from_row
from .models import PIXEL_MODEL, VAE, ModelInfo

ENV_STORE = "VAECODEC_MODELS"
SUFFIX = ".vaem"


@dataclasses.dataclass(frozen=True)
class Family:
    name: str
    vae: str  # its VAE's model name (the shipped family has several; this is the default's)
    pixel_model: str | None  # its pixel model's name, if it has one
    default_level: int
    metadata: dict = dataclasses.field(default_factory=dict, repr=False, compare=False)
    path: Path | None = None  # the .vaem file it was read from


def store_dir() -> Path:
    """The user's model store (it may not exist yet)."""
    if os.environ.get(ENV_STORE):
        return Path(os.environ[ENV_STORE])
    import platformdirs

    return Path(platformdirs.user_data_dir("vaecodec", appauthor=False)) / "models"


def from_bytes(data: bytes, path: Path | None = None
               ) -> tuple[Family, list[ModelInfo], list[Level]]:
    """A family file's family, models (in memory) and levels; CorruptModelError (naming
    ``path``) when the file is not a valid one."""
    try:
        header, blobs = family_format.unpack(data)
        models = [ModelInfo(m["name"], m["sha256"], None,
                            {**m["metadata"], "kind": m["kind"],
                             "weights_sha256": m["sha256"].hex(), "family": header["name"]},
                            blob)
                  for m, blob in zip(header["models"], blobs)]
        vae = next(m for m in models if m.kind == VAE)
        shape = vae.metadata.get("architecture", {}).get("image_shape") \
            if isinstance(vae.metadata.get("architecture"), dict) else None
        if not shapes.is_shape(shape):
            raise CorruptModelError("its VAE's metadata lacks a valid image shape")
        levels = [from_row({**row, "model_sha256": vae.model_id.hex()})
                  for row in header["levels"]]
        for lv in levels:  # the figures the CLI prints and the quality guard compares with
            for key in ("bytes_per_image", "psnr_db", "ssim"):
                value = lv.measured.get(key, 0.0)
                if isinstance(value, bool) or not isinstance(value, (int, float)) \
                        or not math.isfinite(value):
                    raise CorruptModelError(f"level {lv.level}'s {key} is not a number")
        numbers = {lv.level for lv in levels}
        for m in models:
            if m.kind == PIXEL_MODEL and m.metadata.get("base_level") not in numbers:
                raise CorruptModelError(f"pixel model {m.name} names no level of the family "
                                        "as its base level")
        pixel_models = [m for m in models if m.kind == PIXEL_MODEL]
        _check_ranges(header["metadata"].get("pixel_models"), [m.name for m in pixel_models],
                      [m.name for m in pixel_models if lossless_only(m.metadata)])
    except CorruptModelError as e:
        if path is None:
            raise
        raise CorruptModelError(f"{path}: {e}") from None
    pixel = next((m.name for m in models if m.kind == PIXEL_MODEL), None)
    family = Family(header["name"], vae.name, pixel, header["default_level"],
                    header["metadata"], path)
    return family, models, levels


def lossless_only(metadata: dict) -> bool:
    """Whether a pixel model codes lossless files only (a table with a colour transform)."""
    architecture = metadata.get("architecture")
    return isinstance(architecture, dict) and architecture.get("transform", "none") != "none"


def _check_ranges(ranges, names: list[str], exact_only: list[str] = ()) -> None:
    """The family metadata's ``pixel_models`` (absent, or [[K, name], ...]: from max error
    K on, new files use the pixel model ``name``): K increasing from 0 to at most
    MAX_RESIDUAL_ERROR, each name one of the family's pixel models; a model that codes
    lossless files only (``exact_only``) at K = 0 alone (not the first model without
    ranges)."""
    if ranges is None:
        if names and names[0] in exact_only:
            raise CorruptModelError(f"its pixel model {names[0]} codes lossless files only, "
                                    "and no other is named for --max-error files")
        return
    ok = isinstance(ranges, list) and 1 <= len(ranges) <= MAX_RESIDUAL_ERROR + 1 and all(
        isinstance(r, list) and len(r) == 2 and type(r[0]) is int
        and 0 <= r[0] <= MAX_RESIDUAL_ERROR and r[1] in names for r in ranges)
    if not ok or ranges[0][0] != 0 or any(a[0] >= b[0] for a, b in zip(ranges, ranges[1:])):
        raise CorruptModelError("its metadata's pixel_models is not a list of [max error, "
                                "pixel model name] from max error 0 up")
    for (k, name), after in zip(ranges, ranges[1:] + [[None, None]]):
        if name in exact_only and (k, after[0]) != (0, 1):
            raise CorruptModelError(f"its pixel model {name} codes lossless files only, but "
                                    "its metadata's pixel_models names it for --max-error")


def pixel_model_name(family: Family, max_error: int) -> str | None:
    """The pixel model new files of ``family`` with ``max_error`` use: the last of its
    ``pixel_models`` ranges that starts at or below it, or its first pixel model."""
    ranges = family.metadata.get("pixel_models")
    if not ranges:
        return family.pixel_model
    return [name for k, name in ranges if k <= max_error][-1]


def to_bytes(family: Family, models: list[ModelInfo], levels: list[Level]) -> bytes:
    """The .vaem file of a family: its models' weights, its levels and metadata."""
    header = {
        "name": family.name,
        "models": [{"kind": m.kind, "name": m.name,
                    "metadata": {k: v for k, v in m.metadata.items()
                                 if k not in ("kind", "weights_sha256", "family", "name",
                                              "weights_file")}}
                   for m in models],
        "levels": [{"level": lv.level, "model": family.vae, "quant_step": float(lv.quant_step),
                    "prior": lv.prior.to_json(), "measured": lv.measured} for lv in levels],
        "default_level": family.default_level,
        "metadata": family.metadata,
    }
    return family_format.pack(header, [m.read_weights() for m in models])


def read_file(path: Path) -> tuple[Family, list[ModelInfo], list[Level]]:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise CorruptModelError(f"{path}: cannot be read ({e.strerror})") from None
    return from_bytes(data, path)


def scan_store(folder: Path) -> list[tuple[Family, list[ModelInfo], list[Level]]]:
    """The families of the store, by file name."""
    if not folder.is_dir():
        return []
    return [read_file(path) for path in sorted(folder.glob("*" + SUFFIX)) if path.is_file()]
