"""A manifest's shards read as one archive (``ManifestReader``), and telling a manifest
from an archive (``is_manifest``)."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Callable

import numpy as np

from .. import remote
from ..errors import FormatError, ShardError, UnsafeNameError, VaezError
from ..format import container
from ..format import manifest as manifest_format
from ..images import shown_path as _shown
from ..pipeline.settings import DEFAULT_MAX_IMAGES, check_count
from ..zoo import Zoo
from .reader import ArchiveReader, Damage, Reader, VerifyReport


def is_manifest(path) -> bool:
    """Whether ``path`` (not a file object or bytes) names a manifest file (JSON)."""
    if hasattr(path, "read") or isinstance(path, (bytes, bytearray, memoryview)):
        return False
    try:
        with remote.open_input(path) as f:
            return manifest_format.looks_like(f.read(64))
    except (OSError, VaezError):
        return False


def shard_paths(paths) -> list:
    """``paths`` with each manifest replaced by its shards' paths (a URL's shards are
    URLs)."""
    out: list = []
    for path in paths:
        if is_manifest(path):
            out.extend(ManifestReader.read_manifest(_as_path(path))[1])
        else:
            out.append(_as_path(path))
    return out


def _as_path(path):
    """A local path as a ``Path``; a URL stays a str."""
    return path if remote.is_url(path) else Path(path)



class ManifestReader(Reader):
    """The shards a manifest lists, read as one archive (``vaecodec.open("x.json")``):
    ``len``, indexing by position, slice, list or name, ``names``, ``chunks()``,
    ``latents()``, ``salvage()``, ``verify()``, as ``ArchiveReader``. A shard is opened
    when first needed and checked against the manifest (its size and image count);
    ``verify`` also checks every shard's sha256."""

    def __init__(self, path, *, zoo: Zoo | None = None, salvage: bool = False,
                 max_images: int = DEFAULT_MAX_IMAGES):
        self.path = _as_path(path)
        self.manifest, self.paths = self.read_manifest(self.path)
        self._zoo, self._salvage, self._max_images = zoo, salvage, max_images
        self._readers: list[ArchiveReader | None] = [None] * len(self.paths)
        sizes = [s.images for s in self.manifest.shards]
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._name_positions: dict[str, int] | None = None

    @staticmethod
    def read_manifest(path):
        """(the manifest, its shards' paths: beside it, URLs for a URL's)."""
        with remote.open_input(path) as f:
            data = f.read(manifest_format.MAX_SIZE + 1)
        try:
            manifest = manifest_format.parse(data)
        except VaezError as e:
            raise type(e)(f"{path}: {e}") from None
        if remote.is_url(path):
            return manifest, [remote.sibling(path, shard.path) for shard in manifest.shards]
        return manifest, [path.parent / shard.path for shard in manifest.shards]

    def shard_path(self, k: int) -> Path:
        """Shard ``k``'s path, refused when a symbolic link takes it out of the manifest's
        folder (reading a manifest never leaves its folder)."""
        where = self.paths[k]
        if remote.is_url(where):  # its stored path was checked: relative, no ".."
            return where
        top = os.path.realpath(self.path.parent)
        real = os.path.realpath(where)
        if os.path.commonpath([top, real]) != top:
            raise ShardError(f"{_shown(where)}: a symbolic link takes this shard of "
                             f"{_shown(self.path)} out of the manifest's folder")
        return where

    def shard(self, k: int) -> ArchiveReader:
        """Shard ``k`` opened (once) and checked against the manifest: its size, image count and
        model."""
        if self._readers[k] is None:
            entry, where = self.manifest.shards[k], self.shard_path(k)
            try:
                reader = ArchiveReader(where, zoo=self._zoo, salvage=self._salvage,
                                       max_images=max(entry.images, self._max_images))
            except OSError as e:
                raise ShardError(f"{_shown(where)}: a shard of {_shown(self.path)} cannot be "
                                 f"read ({e.strerror or e})") from None
            size = reader.size
            scanned = self._salvage and reader.index_error is not None
            if size != entry.bytes or (len(reader) != entry.images and not scanned):
                reader.close()
                raise ShardError(
                    f"{_shown(where)}: {size} bytes and {len(reader)} images, the manifest "
                    f"{_shown(self.path)} says {entry.bytes} bytes and {entry.images} images")
            model = reader.info.model_id[:4].hex()
            if model != self.manifest.model:
                reader.close()
                raise ShardError(f"{_shown(where)} was made with model {model}, the manifest "
                                 f"{_shown(self.path)} says {self.manifest.model}")
            self._readers[k] = reader
        return self._readers[k]

    def __len__(self) -> int:
        return self.manifest.images

    @property
    def info(self) -> container.Header:
        """The shards' common header with the data set's image count (names not listed)."""
        return dataclasses.replace(self.shard(0).info, count=len(self), names=None)

    @property
    def named(self) -> bool:
        """Whether the shards store their images' names."""
        return self.shard(0).named

    @property
    def labelled(self) -> bool:
        """Whether the shards store an integer label per image."""
        return self.shard(0).labelled

    @property
    def has_metadata(self) -> bool:
        """Whether the shards store metadata per image."""
        return self.shard(0).has_metadata

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The names of labels 0, 1, ...: the first shard's (the others' must agree)."""
        return self.shard(0).classes

    def _by_shard(self, rows: np.ndarray):
        """(shard reader, its positions, where in ``rows``) for each shard of ``rows``."""
        shards = np.searchsorted(self._starts, rows, side="right") - 1
        for k in np.unique(shards):
            reader = self.shard(int(k))
            if reader.labelled != self.labelled or reader.has_metadata != self.has_metadata \
                    or reader.classes != self.classes:
                raise ShardError(f"{_shown(self.paths[int(k)])} does not store the labels and "
                                 "metadata the first shard stores")
            where = np.flatnonzero(shards == k)
            yield reader, rows[where] - self._starts[k], where

    def _labels_at(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(len(rows), dtype=np.int64)
        for reader, local, where in self._by_shard(rows):
            out[where] = reader.label(local)
        return out

    def _channels_at(self, rows: np.ndarray) -> np.ndarray:
        out = np.empty(len(rows), dtype=np.uint8)
        for reader, local, where in self._by_shard(rows):
            out[where] = reader.source_channels(local)
        return out

    def _meta_at(self, rows: np.ndarray) -> list:
        out: list = [None] * len(rows)
        for reader, local, where in self._by_shard(rows):
            for k, entry in zip(where, reader.meta(local)):
                out[k] = entry
        return out

    @property
    def image_shape(self) -> tuple[int, int]:
        """The images' (height, width)."""
        return self.shard(0).image_shape

    @property
    def trailing(self) -> int:
        """Bytes after the last complete index, summed over the shards opened so far."""
        return sum(r.trailing for r in self._readers if r is not None)

    @property
    def names(self) -> tuple[str, ...] | None:
        """Every image's name in order, across the shards (None when none are stored); refused above
        ``max_images``, and when two shards store the same name."""
        if not self.named:
            return None
        check_count(self.info, self._max_images, "read its names")
        names = tuple(name for k in range(len(self.paths)) for name in self.shard(k).names)
        if len(set(names)) != len(names):
            raise UnsafeNameError(f"{_shown(self.path)}: two shards store an image of the "
                                  "same name")
        return names

    def position(self, name: str) -> int:
        """The position of the image stored as ``name`` across the shards (KeyError when
        there is none). Over a URL, shard by shard as ``ArchiveReader.position`` finds it
        there, instead of every name of every shard."""
        if not remote.is_url(self.path) or self._name_positions is not None:
            return super().position(name)
        if not self.named:
            raise KeyError(f"{name!r}: this archive stores no names")
        for k in range(len(self.paths)):
            try:
                return int(self._starts[k]) + self.shard(k).position(name)
            except KeyError:
                continue
        raise KeyError(f"no image named {name!r} in the archive")

    def __getitem__(self, key):
        if isinstance(key, str):
            return self[self.position(key)]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            i = self._position(key)
            k = int(np.searchsorted(self._starts, i, side="right")) - 1
            return self.shard(k)[int(i - self._starts[k])]
        rows = self._rows(key)
        out = np.empty((len(rows), *self.image_shape), dtype=np.uint8)
        shards = np.searchsorted(self._starts, rows, side="right") - 1
        for k in np.unique(shards):
            where = np.flatnonzero(shards == k)
            out[where] = self.shard(int(k))[rows[where] - self._starts[k]]
        return out

    def chunks(self, progress: Callable[[int, int], None] | None = None):
        """(position of the first image, uint8 images (n, H, W)) of each chunk of each shard, in
        order."""
        for k in range(len(self.paths)):
            base = int(self._starts[k])
            within = None if progress is None else (
                lambda done, _, base=base: progress(base + done, len(self)))
            for start, images in self.shard(k).chunks(within):
                yield base + start, images

    def latents(self) -> np.ndarray:
        """The latent vectors float32 (N, latent size) of every shard, in order."""
        return np.concatenate([self.shard(k).latents() for k in range(len(self.paths))])

    def salvage(self, progress: Callable[[int, int], None] | None = None):
        """As ``ArchiveReader.salvage`` over every shard; a shard that cannot be opened is one
        ``Damage`` of all its images."""
        for k, entry in enumerate(self.manifest.shards):
            base = int(self._starts[k])
            try:
                reader = self.shard(k)
            except (FormatError, OSError) as e:
                yield base, None, Damage(None, base, entry.images, str(e))
                continue
            for first, images, damage in reader.salvage():
                if damage is not None:
                    damage = dataclasses.replace(
                        damage, first=None if damage.first is None else base + damage.first)
                yield (None if first is None else base + first), images, damage
            if progress:
                progress(base + entry.images, len(self))

    def intact_chunks(self):
        """As ``ArchiveReader.intact_chunks`` over every shard, positions counted across the data
        set."""
        intact, lost = [], []
        for k, entry in enumerate(self.manifest.shards):
            base = int(self._starts[k])
            try:
                reader = self.shard(k)
            except (FormatError, OSError) as e:
                lost.append(Damage(None, base, entry.images, str(e)))
                continue
            shard_intact, shard_lost = reader.intact_chunks()
            intact += [(base + first, count, names) for first, count, names in shard_intact]
            lost += [dataclasses.replace(d, first=None if d.first is None else base + d.first)
                     for d in shard_lost]
        return intact, lost

    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Every shard's sha256 against the manifest, then every chunk decoded."""
        import hashlib

        damaged: list[Damage] = []
        for k, entry in enumerate(self.manifest.shards):
            digest = hashlib.sha256()
            try:
                with remote.open_input(self.shard_path(k)) as f:
                    while block := f.read(1 << 20):
                        digest.update(block)
            except (OSError, VaezError) as e:
                damaged.append(Damage(None, int(self._starts[k]), entry.images, str(e)))
                continue
            if digest.hexdigest() != entry.sha256:
                damaged.append(Damage(None, int(self._starts[k]), entry.images,
                                      f"{self.paths[k]} is not the shard the manifest lists "
                                      "(sha256 mismatch)"))
        images = chunks = 0
        bad_shards = {d.first for d in damaged}
        for first, block, damage in self.salvage(progress):
            if damage is None or damage.chunk is not None:
                chunks += 1
            if damage is not None:
                if damage.first not in bad_shards:
                    damaged.append(damage)
            elif first is not None:
                images += len(block)
        if not damaged and self.named:
            try:
                self.names
            except VaezError as e:
                damaged.append(Damage(None, None, None, str(e)))
        return VerifyReport(images, chunks, tuple(damaged), self.trailing)

    @property
    def index_error(self) -> str | None:
        """Always None: a manifest's shards each have their own index."""
        return None

    def close(self) -> None:
        """Close every shard opened."""
        for reader in self._readers:
            if reader is not None:
                reader.close()

    def __getstate__(self) -> dict:
        """What reopens this reader in another process: the manifest's path, zoo and
        limits (the shards are opened there when first needed)."""
        return {"path": self.path, "zoo": self._zoo, "salvage": self._salvage,
                "max_images": self._max_images}

    def __setstate__(self, state: dict) -> None:
        self.__init__(state["path"], zoo=state["zoo"], salvage=state["salvage"],
                      max_images=state["max_images"])
