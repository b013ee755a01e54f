"""Quality levels: each a frozen (model, quantization step, prior) triple.

``checkpoints/levels.json`` (written by ``scripts/fit_levels.py``) holds, per level, the
model's name and id, the step, the integer prior tables the range coder uses, and the
figures measured on the MNIST test split. A file names its level by number, so a level,
once released, never changes: new tables or models get new numbers.
"""

from __future__ import annotations

import dataclasses
import functools
import json

from .entropy import Prior
from .errors import UnknownLevelError

LEVELS_FILE = "levels.json"
DEFAULT_LEVEL = 4


@dataclasses.dataclass(frozen=True)
class Level:
    level: int
    model: str  # model name
    model_id: bytes  # sha256 of its weights
    quant_step: float
    prior: Prior = dataclasses.field(repr=False)
    measured: dict = dataclasses.field(default_factory=dict)  # test-split figures


def _from_row(row: dict) -> Level:
    return Level(
        level=int(row["level"]),
        model=row["model"],
        model_id=bytes.fromhex(row["model_sha256"]),
        quant_step=float(row["quant_step"]),
        prior=Prior.from_json(row["prior"]),
        measured=row.get("measured", {}),
    )


_pending: dict[int, Level] = {}  # levels being fitted: they stand in for the file until written


@functools.lru_cache(maxsize=None)
def _load_file() -> dict[int, Level]:
    from .checkpoints import checkpoint_dirs

    for folder in checkpoint_dirs():
        path = folder / LEVELS_FILE
        if path.is_file():
            spec = json.loads(path.read_text(encoding="utf-8"))
            return {int(row["level"]): _from_row(row) for row in spec["levels"]}
    return {}


def _load() -> dict[int, Level]:
    return {**_load_file(), **_pending} if _pending else _load_file()


def list_levels() -> list[Level]:
    """Every quality level, in order of quality, with its measured rate and quality.

    Within one model a higher level costs more bytes; a newer model's level can cost less
    than an older one below it (level 7 beats levels 5 and 6 on both counts; they stay
    because files name them)."""
    levels = _load()
    return [levels[k] for k in sorted(levels)]


def known_range() -> str:
    """The installed levels as "1..9" (or "none installed"), for messages."""
    levels = _load()
    return f"{min(levels)}..{max(levels)}" if levels else "none installed"


def get(level: int) -> Level:
    levels = _load()
    if isinstance(level, bool) or not isinstance(level, int) or level not in levels:
        raise UnknownLevelError(
            f"quality level {level!r} is not defined (levels: {known_range()})")
    return levels[level]


def fit_levels(specs: list[tuple[str, float]], train_images, test_images,
               first: int = 1) -> list[dict]:
    """Level records for ``levels.json``: for each (model name, step), in order as levels
    ``first``, ``first + 1``, ...: the prior fitted on ``train_images``' symbols, and the
    figures measured on ``test_images`` through the real encoder (whole files, no names)."""
    import numpy as np

    from . import checkpoints, codec, metrics, quantize
    from .entropy import fit_prior

    pixels = train_images.reshape(len(train_images), -1).astype(np.float32) / 255
    means: dict[bytes, np.ndarray] = {}  # training latents, once per model
    rows = []
    for number, (model, step) in enumerate(specs, first):
        info = checkpoints.find(model)
        if info.model_id not in means:
            means[info.model_id] = checkpoints.load(info.model_id).encode_mean(pixels)
        prior = fit_prior(quantize.quantize(means[info.model_id], step))
        rows.append({"level": number, "model": info.name, "model_sha256": info.model_id.hex(),
                     "quant_step": step, "prior": prior.to_json()})
    _pending.update({row["level"]: _from_row(row) for row in rows})
    try:
        for row in rows:
            sizes = {}
            for coder in ("range", "zstd"):
                data = codec.encode(test_images, quality=row["level"], coder=coder)
                sizes[coder] = len(data)
            decoded = codec.decode(data)
            single = [len(codec.encode(image, quality=row["level"])) for image in test_images[:1000]]
            row["measured"] = {
                "split": "MNIST test", "images": int(len(test_images)),
                "bytes_per_image": sizes["range"] / len(test_images),
                "bytes_per_image_zstd": sizes["zstd"] / len(test_images),
                "psnr_db": metrics.psnr(test_images, decoded),
                "ssim": metrics.ssim(test_images, decoded),
                "single_image_file_bytes_mean": float(np.mean(single)),
                "single_image_file_bytes_max": int(np.max(single)),
            }
    finally:
        _pending.clear()
    return rows
