"""A ``Zoo``: the models and quality levels the codec may use, and their loaded runtimes.

``Zoo.installed()`` is what ships with vaecodec (and ``$VAECODEC_CHECKPOINTS``). A zoo is
never changed in place: ``with_models`` and ``with_levels`` return a new zoo with more
entries, which is how a model or level that is not installed yet (being trained or
fitted) is handed to the codec. Loaded networks are cached per family of zoos; a model id
is the sha256 of its weights, so the cache can never serve other weights under one id.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Iterable

from ..errors import CorruptModelError, UnknownLevelError, UnknownModelError
from ..format.constants import MODEL_ID_BYTES  # the id prefix a file stores identifies a model
from . import levels as level_files
from .levels import Level
from .models import DEFAULTS, VAE, ModelInfo, checkpoint_dirs, scan



class Zoo:
    def __init__(self, models: Iterable[ModelInfo] = (), levels: Iterable[Level] = (),
                 _cache: dict | None = None):
        self._models: list[ModelInfo] = []
        seen: set[tuple[str, str]] = set()
        for info in models:  # the first of a name wins (search order)
            if (info.kind, info.name) not in seen:
                seen.add((info.kind, info.name))
                self._models.append(info)
        self._levels = {lv.level: lv for lv in levels}
        self._cache = {} if _cache is None else _cache

    @staticmethod
    def installed() -> "Zoo":
        """The models and levels installed with vaecodec (and in $VAECODEC_CHECKPOINTS)."""
        return _installed(tuple(checkpoint_dirs()))

    @classmethod
    def from_folders(cls, folders: Iterable[Path]) -> "Zoo":
        """The models of each folder, in order (the first of a name wins), and the levels
        file of the first folder that has one."""
        folders = [Path(folder) for folder in folders]
        models = [info for folder in folders for info in scan(folder)]
        levels: list[Level] = []
        for folder in folders:
            path = folder / level_files.LEVELS_FILE
            if path.is_file():
                levels = level_files.read_levels(path)
                break
        return cls(models, levels)

    def with_models(self, *models: ModelInfo) -> "Zoo":
        """This zoo and ``models`` (which take precedence over installed ones of the same
        name)."""
        return Zoo([*models, *self._models], self._levels.values(), self._cache)

    def with_levels(self, *levels: Level) -> "Zoo":
        """This zoo with ``levels`` added (replacing any of the same numbers)."""
        return Zoo(self._models, [*self._levels.values(), *levels], self._cache)

    # --- models -----------------------------------------------------------------------------
    def models(self, kind: str = VAE) -> list[ModelInfo]:
        """The models of one kind: VAE (the base layer) or PIXEL_MODEL."""
        return [info for info in self._models if info.kind == kind]

    def find(self, name_or_id: str | bytes | None = None, kind: str = VAE) -> ModelInfo:
        """A model by name, by id (the sha256, or its first bytes as a file stores them;
        bytes, or hex of at least 8 digits), or the default model of its kind for None."""
        key = DEFAULTS[kind] if name_or_id is None else name_or_id
        for info in self.models(kind):
            if isinstance(key, bytes):
                if len(key) >= MODEL_ID_BYTES and info.model_id.startswith(key):
                    return info
            elif key == info.name or (len(key) >= 2 * MODEL_ID_BYTES
                                      and info.model_id.hex().startswith(key)):
                return info
        known = ", ".join(m.name for m in self.models(kind)) or "none"
        what = "model" if kind == VAE else "pixel model"
        if isinstance(key, bytes):
            raise UnknownModelError(
                f"unknown {what} id {key.hex()[:16]}: the file was made with a {what} this "
                f"vaecodec does not have (it has: {known})"
            )
        raise UnknownModelError(f"no {what} named {key!r} (available: {known})")

    def vae(self, info: ModelInfo):
        """The numpy runtime (``NumpyVAE``) of a VAE, loaded once."""

        def build():
            from ..core.runtime import NumpyVAE

            if info.image_shape is None:
                raise CorruptModelError(f"model {info.name}: its metadata lacks the image shape")
            return NumpyVAE(info.tensors(), info.image_shape)

        return self._load(info, build)

    def pixel_model(self, info: ModelInfo):
        """The residual layer's ``PixelModel``, loaded once. Its image shape is its
        metadata's, or (for models written before it was recorded) its base model's."""

        def build():
            from ..core.residual import PixelModel

            shape = info.image_shape
            if shape is None:
                base = self.find(bytes.fromhex(info.metadata.get("base_model_sha256", "")))
                shape = base.image_shape
            return PixelModel.from_tensors(info.name, info.model_id, info.metadata,
                                           info.tensors(), shape)

        return self._load(info, build)

    def _load(self, info: ModelInfo, build):
        if info.model_id not in self._cache:
            try:
                self._cache[info.model_id] = build()
            except (ValueError, KeyError) as e:  # tensors that do not make the network
                raise CorruptModelError(f"model {info.name} is damaged ({e}); reinstall") from None
        return self._cache[info.model_id]

    # --- quality levels --------------------------------------------------------------------
    def levels(self) -> list[Level]:
        """Every quality level, in order of quality, with its measured rate and quality.

        Within one model a higher level costs more bytes; a newer model's level can cost
        less than an older one below it (level 7 beats levels 5 and 6 on both counts; they
        stay because files name them)."""
        return [self._levels[k] for k in sorted(self._levels)]

    def known_range(self) -> str:
        """The levels as "1..9" (or "none installed"), for messages."""
        return f"{min(self._levels)}..{max(self._levels)}" if self._levels else "none installed"

    def level(self, number: int) -> Level:
        if isinstance(number, bool) or not isinstance(number, int) or number not in self._levels:
            raise UnknownLevelError(
                f"quality level {number!r} is not defined (levels: {self.known_range()})")
        return self._levels[number]

    def level_model(self, level: Level) -> ModelInfo:
        """The model of a level, by id (its prior belongs to exactly those weights)."""
        return self.find(level.model_id)


@functools.lru_cache(maxsize=4)
def _installed(folders: tuple[Path, ...]) -> Zoo:
    return Zoo.from_folders(folders)
