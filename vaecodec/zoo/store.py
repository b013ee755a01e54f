"""A ``Zoo``: the models and quality levels the codec may use, and their loaded runtimes.

``Zoo.installed()`` is what ships with vaecodec (and ``$VAECODEC_CHECKPOINTS``). A zoo is
never changed in place: ``with_models`` and ``with_levels`` return a new zoo with more
entries, which is how a model or level that is not installed yet (being trained or
fitted) is handed to the codec. Loaded networks are cached per family of zoos; a model id
is the sha256 of its weights, so the cache can never serve other weights under one id.
"""

from __future__ import annotations

import dataclasses
import functools
from pathlib import Path
from typing import Iterable

from ..errors import CorruptModelError, UnknownLevelError, UnknownModelError
from ..format.constants import (
    MODEL_ID_BYTES,  # the id prefix a file stores identifies a model
)
from . import companion
from . import families as family_files
from . import levels as level_files
from .defaults import DEFAULT_FAMILY
from .families import Family
from .levels import Level
from .models import DEFAULTS, PIXEL_MODEL, VAE, ModelInfo, checkpoint_dirs, scan


class Zoo:
    """The models, quality levels and families a codec may use, and their loaded
    runtimes. ``Zoo.installed()`` is what ships with vaecodec plus the user's store;
    ``from_folders``, ``with_models``, ``with_levels`` and ``with_family`` make others
    (nothing is registered globally: pass a zoo to ``encode``/``decode``/``open``)."""

    def __init__(self, models: Iterable[ModelInfo] = (), levels: Iterable[Level] = (),
                 _cache: dict | None = None, families: Iterable[Family] = ()):
        self._models: list[ModelInfo] = []
        seen: set[tuple[str, str]] = set()
        for info in models:  # the first of a name wins (search order)
            if (info.kind, info.name) not in seen:
                seen.add((info.kind, info.name))
                self._models.append(info)
        self._families = {f.name: f for f in families}
        # a level belongs to the family of its model: (family name or None, number)
        self._levels = {(self._family_key(lv.model_id), lv.level): lv for lv in levels}
        self._cache = {} if _cache is None else _cache

    @staticmethod
    def installed() -> "Zoo":
        """The models, levels and families installed with vaecodec (and in
        $VAECODEC_CHECKPOINTS), and the families in the user's store
        (``families.store_dir``), which take precedence over shipped ones of a name."""
        store = family_files.store_dir()
        listing = ()
        if store.is_dir():
            listing = tuple((p.name, p.stat().st_mtime_ns, p.stat().st_size)
                            for p in sorted(store.glob("*" + family_files.SUFFIX)))
        return _installed(tuple(checkpoint_dirs()), store, listing)

    @staticmethod
    def installed_models() -> "Zoo":
        """The models and levels installed with vaecodec (and in $VAECODEC_CHECKPOINTS)
        without the families, whose files are read and checked whole: what reading a
        file's header needs when its model is not a family's (``vaecodec info``)."""
        return _installed_models(tuple(checkpoint_dirs()))

    def knows(self, model_id: bytes) -> bool:
        """Whether this zoo has the model a file names by (a prefix of) its id."""
        return any(info.model_id.startswith(model_id)
                   for kind in (VAE, PIXEL_MODEL) for info in self.models(kind))

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

    _is_installed = False  # what Zoo.installed() returned: pickled as that call

    def __reduce__(self):
        """A zoo sent to another process goes without its loaded runtimes (rebuilt there
        when first used); the installed zoo goes as ``Zoo.installed()``, which the other
        process reads from its own installation (a model is still checked by its sha256
        id against what a file names)."""
        if self._is_installed:
            return (Zoo.installed, ())
        state = dict(self.__dict__)
        state["_cache"] = {}
        return (Zoo.__new__, (Zoo,), state)

    def with_models(self, *models: ModelInfo) -> "Zoo":
        """This zoo and ``models`` (which take precedence over installed ones of the same
        name)."""
        return Zoo([*models, *self._models], self._levels.values(), self._cache,
                   self._families.values())

    def with_levels(self, *levels: Level) -> "Zoo":
        """This zoo with ``levels`` added (replacing any of the same family and number)."""
        return Zoo(self._models, [*self._levels.values(), *levels], self._cache,
                   self._families.values())

    def with_family(self, family: Family, models: Iterable[ModelInfo],
                    levels: Iterable[Level]) -> "Zoo":
        """This zoo with a family, its models and levels (replacing one of the same name)."""
        if family.name == DEFAULT_FAMILY:
            raise CorruptModelError(f"the family name {DEFAULT_FAMILY!r} is the shipped one's")
        models = [dataclasses.replace(m, metadata={**m.metadata, "family": family.name})
                  for m in models]
        others = [m for m in self._models if m.metadata.get("family") != family.name]
        taken = {(m.kind, m.name) for m in others}
        for m in models:
            if (m.kind, m.name) in taken:
                where = f" ({family.path})" if family.path else ""
                raise CorruptModelError(f"model family {family.name}{where}: a model named "
                                        f"{m.name} exists already")
        families = [f for f in self._families.values() if f.name != family.name] + [family]
        kept = [lv for (key, _), lv in self._levels.items() if key != family.name]
        return Zoo([*models, *others], [*kept, *levels], self._cache, families)

    # --- families -------------------------------------------------------------------------
    def name_taken(self, name: str) -> bool:
        """Whether a new family ``name`` (models ``name``, ``name.pixel``, ``name.table``)
        would clash with a family or model this zoo has (its own family of that name
        aside)."""
        if name == DEFAULT_FAMILY:
            return True
        others = [m for m in self._models if m.metadata.get("family") != name]
        return any(m.name in (name, f"{name}.pixel", f"{name}.table") for m in others)

    def families(self) -> list[Family]:
        """The families besides the shipped one, by name."""
        return [self._families[name] for name in sorted(self._families)]

    def family(self, name: str) -> Family:
        """The installed family ``name`` (``UnknownModelError`` when there is none)."""
        if name not in self._families:
            hint = self.not_installed(name=name)
            if hint is not None:
                raise UnknownModelError(hint)
            known = ", ".join([DEFAULT_FAMILY, *sorted(self._families)])
            raise UnknownModelError(f"no model family named {name!r} (available: {known})")
        return self._families[name]

    def family_file(self, name: str) -> bytes:
        """The .vaem file of a family (its VAE, pixel models and levels), to export or
        embed."""
        family = self.family(name)
        models = [self.find(family.vae)]
        if family.pixel_model is not None:  # the one new files use first, then the others
            first = self.find(family.pixel_model, PIXEL_MODEL)
            models += [first] + [m for m in self.models(PIXEL_MODEL)
                                 if m.metadata.get("family") == family.name
                                 and m.model_id != first.model_id]
        return family_files.to_bytes(family, models, self.levels(name))

    def family_of(self, model_id: bytes) -> Family | None:
        """The family a model belongs to (None: the shipped one, or none)."""
        key = self._family_key(model_id)
        return None if key is None else self._families[key]

    def _family_key(self, model_id: bytes) -> str | None:
        for family in self._families.values():
            if any(m.model_id == model_id and m.metadata.get("family") == family.name
                   for m in self._models):
                return family.name
        return None

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
        hint = (self.not_installed(model_id=key) if isinstance(key, bytes)
                else self.not_installed(name=key))
        if hint is not None:  # a model the default install leaves out
            raise UnknownModelError(hint)
        if isinstance(key, bytes):
            raise UnknownModelError(
                f"unknown {what} id {key.hex()[:16]}: the file was made with a {what} this "
                f"vaecodec does not have (it has: {known}); if it is a model of your own, "
                "import its family: vaecodec models import FILE.vaem"
            )
        raise UnknownModelError(f"no {what} named {key!r} (available: {known})")

    def complete_header(self, header):
        """A file's ``format.container.Header`` with its image shape taken from its model
        where the file does not store it (versions 2-6) and this zoo knows the model."""
        if header.image_shape is not None:
            return header
        try:
            shape = self.find(header.model_id).image_shape
        except UnknownModelError:
            return header
        return dataclasses.replace(header, image_shape=shape)

    @staticmethod
    def not_installed(model_id: bytes | None = None, name: str | None = None) -> str | None:
        """What to install for a model or family (by id prefix or name) that the companion
        package ``vaecodec-models`` holds and this installation lacks, or None."""
        return companion.missing(checkpoint_dirs(), model_id, name)

    def vae(self, info: ModelInfo):
        """The numpy runtime (``NumpyVAE``) of a VAE, loaded once."""

        def build():
            from ..core.runtime import NumpyVAE

            if info.image_shape is None:
                raise CorruptModelError(f"model {info.name}: its metadata lacks the image shape")
            return NumpyVAE(info.tensors(), info.image_shape)

        return self._load(info, build)

    def pixel_model(self, info: ModelInfo):
        """The residual layer's ``PixelModel`` (a ``TablePixelModel`` for a table), loaded
        once. Its image shape is its
        metadata's, or (for models written before it was recorded) its base model's."""

        def build():
            from ..core.residual import PixelModel
            from ..core.tablemodel import TablePixelModel, is_table

            shape = info.image_shape
            if shape is None:
                base = self.find(bytes.fromhex(info.metadata.get("base_model_sha256", "")))
                shape = base.image_shape
            if not is_table(info.metadata):
                return PixelModel.from_tensors(info.name, info.model_id, info.metadata,
                                               info.tensors(), shape)
            # a table has no base decoder to check its size against: its VAE's shape
            base = self.find(bytes.fromhex(str(info.metadata.get("base_model_sha256"))))
            if base.image_shape != tuple(shape):
                raise ValueError(f"its images are {tuple(shape)}, its VAE's "
                                 f"{base.image_shape}")
            return TablePixelModel.from_tensors(info.name, info.model_id, info.metadata,
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
    def levels(self, family: str | None = None) -> list[Level]:
        """The quality levels of a family (default: the shipped one), in order of quality,
        with their measured rate and quality.

        Within one model a higher level costs more bytes; a newer model's level can cost
        less than an older one below it (level 7 beats levels 5 and 6 on both counts; they
        stay because files name them)."""
        key = self._key(family)
        return [lv for (k, _), lv in sorted(self._levels.items(), key=lambda kv: kv[0][1])
                if k == key]

    def known_range(self, family: str | None = None) -> str:
        """The levels as "1..9" (or "none installed"), for messages."""
        numbers = [lv.level for lv in self.levels(family)]
        return f"{min(numbers)}..{max(numbers)}" if numbers else "none installed"

    def level(self, number: int, family: str | None = None) -> Level:
        """Level ``number`` of a family (default: the shipped one)."""
        key = self._key(family)
        if (isinstance(number, bool) or not isinstance(number, int)
                or (key, number) not in self._levels):
            where = "" if key is None else f" for model {key}"
            raise UnknownLevelError(f"quality level {number!r} is not defined{where} (levels: "
                                    f"{self.known_range(family)})")
        return self._levels[(key, number)]

    def level_model(self, level: Level) -> ModelInfo:
        """The model of a level, by id (its prior belongs to exactly those weights)."""
        return self.find(level.model_id)

    def _key(self, family: str | None) -> str | None:
        if family is None or family == DEFAULT_FAMILY:
            return None
        return self.family(family).name


@functools.lru_cache(maxsize=2)
def _shipped(folders: tuple[Path, ...]) -> Zoo:
    """The models and levels of ``folders`` and the families shipped beside them
    (fashion-mnist): read once per process, whatever the user's store holds."""
    zoo = Zoo.from_folders(folders)
    for folder in folders:
        for family, models, levels in family_files.scan_store(folder):
            zoo = zoo.with_family(family, models, levels)
    return zoo


@functools.lru_cache(maxsize=4)
def _installed(folders: tuple[Path, ...], store: Path, listing: tuple) -> Zoo:
    # the shipped zoo, then the user's store (read again whenever its listing changes);
    # every installed zoo shares the shipped one's loaded networks (cached by model id)
    shipped = _shipped(folders)
    zoo = Zoo(shipped._models, shipped._levels.values(), shipped._cache,
              shipped._families.values())
    for family, models, levels in family_files.scan_store(store):
        zoo = zoo.with_family(family, models, levels)
    zoo._is_installed = True
    return zoo


@functools.lru_cache(maxsize=4)
def _installed_models(folders: tuple[Path, ...]) -> Zoo:
    return Zoo.from_folders(folders)
