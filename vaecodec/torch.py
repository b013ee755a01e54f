"""PyTorch datasets over .vaez archives (torch is imported here only).

    from vaecodec.torch import VaezDataset, VaezIterableDataset
    train = VaezDataset("mnist-train.vaez", labels="folder")   # (image, label) pairs
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True, num_workers=2)

``VaezDataset`` is map-style, so ``shuffle=True`` works as with any dataset: a DataLoader
reads a batch at once (``__getitems__``), decoding only the batch's images in one network
pass; ``dataset[i]`` decodes the chunk holding image i. Decoded images are kept per
worker (every one when the archive's images fit 128 MB, else a few chunks), and the
models are loaded once, before the workers start.
``VaezIterableDataset`` streams whole chunks in a shuffled order, split between the
DataLoader's workers and the ranks of a distributed job: each chunk is decoded once per
epoch, which is the fastest way through a large archive.

An image comes as a float32 tensor (1, H, W) in [0, 1] (what torchvision's ``ToTensor``
gives), passed through ``transform`` when one is given. ``labels="folder"`` adds the
class of each image, taken from the first folder of its stored name (``3/00018.png`` ->
class "3"), as torchvision's ``ImageFolder`` does: ``classes`` lists them sorted,
``class_to_idx`` maps them to the integers returned.
"""

from __future__ import annotations

import bisect
import os
from typing import Callable, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, IterableDataset, get_worker_info

from . import archive as archive_io
from .errors import SettingsError
from .format import chunked

LABELS = (None, "folder")


def _paths(sources) -> list[str]:
    """The archives' paths, a manifest replaced by its shards."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = [os.fspath(p) for p in archive_io.shard_paths(sources)]
    if not paths:
        raise SettingsError("give at least one .vaez archive")
    return paths


def _to_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W) -> float32 (..., 1, H, W) in [0, 1]."""
    return torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(-3).float().div_(255.0)


class _Archives:
    """The archives of a dataset, opened lazily in each process (a forked or spawned
    worker opens its own files), with their sizes and, for ``labels``, their names'
    classes."""

    def __init__(self, paths: list[str], labels: str | None, zoo=None):
        if labels not in LABELS:
            raise SettingsError(f"labels must be None or 'folder', not {labels!r}")
        self.paths, self.labels, self.zoo = paths, labels, zoo
        self._readers: list | None = None
        self._limited: int | None = None  # the process whose BLAS pool was limited
        readers = self.readers()
        for reader in readers:  # the models, loaded once here for every worker to share
            reader.decoder.prepare()
        self.sizes = [len(r) for r in readers]
        self.starts = list(np.cumsum([0] + self.sizes[:-1]))
        self.targets: np.ndarray | None = None
        self.classes: list[str] = []
        if labels == "folder":
            folders = []
            for path, reader in zip(paths, readers):
                names = reader.names
                if names is None:
                    raise SettingsError(f"{path} stores no names, so it has no folders to "
                                        "take labels from")
                folders.extend(name.split("/", 1)[0] if "/" in name else "" for name in names)
            if "" in folders:
                raise SettingsError("labels='folder': some images are not in a folder (their "
                                    "names have no '/')")
            self.classes = sorted(set(folders))
            index = {c: k for k, c in enumerate(self.classes)}
            self.targets = np.array([index[f] for f in folders], dtype=np.int64)

    def readers(self) -> list:
        if self._readers is None:
            # the data set is the user's own choice of files: no cap on its names
            self._readers = [archive_io.ArchiveReader(p, zoo=self.zoo,
                                                      max_images=chunked.MAX_COUNT)
                             for p in self.paths]
        if get_worker_info() is not None and self._limited != os.getpid():
            # a DataLoader worker: one BLAS thread, as torch takes one thread per worker;
            # several workers each running a BLAS pool on the same cores slow each other
            from threadpoolctl import threadpool_limits

            threadpool_limits(1)
            self._limited = os.getpid()
        return self._readers

    def __getstate__(self) -> dict:  # spawned workers: reopen the files there
        state = dict(self.__dict__)
        state["_readers"] = None
        return state

    def locate(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.starts, i) - 1
        return k, i - self.starts[k]

    @property
    def total(self) -> int:
        return sum(self.sizes)


class VaezDataset(Dataset):
    """A map-style dataset of the images of one or more .vaez archives, in order.

    ``labels``: None (items are images) or "folder" (items are (image, class index)).
    ``transform`` / ``target_transform``: applied to the image tensor / the label."""

    def __init__(self, archives: str | os.PathLike | Sequence[str | os.PathLike], *,
                 labels: str | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None, zoo=None):
        """``archives``: .vaez files, or manifests of shards (``vaecodec.dask``)."""
        self._archives = _Archives(_paths(archives), labels, zoo)
        self.transform, self.target_transform = transform, target_transform

    @property
    def classes(self) -> list[str]:
        """The class names (folder names, sorted), as torchvision's ImageFolder has them."""
        return list(self._archives.classes)

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label, as torchvision's ImageFolder has it."""
        return {c: k for k, c in enumerate(self._archives.classes)}

    @property
    def targets(self) -> list[int] | None:
        """Every image's label in order (None without labels)."""
        t = self._archives.targets
        return None if t is None else t.tolist()

    def __len__(self) -> int:
        return self._archives.total

    def _position(self, i) -> int:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"index a dataset with an int, not {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} images")
        return int(i) % n

    def _item(self, i: int, image: torch.Tensor):
        if self.transform is not None:
            image = self.transform(image)
        if self._archives.targets is None:
            return image
        target = int(self._archives.targets[i])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return image, target

    def __getitem__(self, i):
        i = self._position(i)
        k, local = self._archives.locate(i)
        return self._item(i, _to_tensor(self._archives.readers()[k][local]))

    def __getitems__(self, indices: Sequence[int]) -> list:
        """The items ``[self[i] for i in indices]``, their images decoded together (a
        DataLoader asks for a batch this way): a batch costs one network pass per archive,
        and only the images it holds are decoded."""
        positions = np.array([self._position(i) for i in indices], dtype=np.int64)
        archives = np.searchsorted(self._archives.starts, positions, side="right") - 1
        images: list = [None] * len(positions)
        readers = self._archives.readers()
        for k in np.unique(archives):
            where = np.flatnonzero(archives == k)
            batch = _to_tensor(readers[k][positions[where] - self._archives.starts[k]])
            for j, image in zip(where, batch):
                images[j] = image
        return [self._item(int(i), image) for i, image in zip(positions, images)]


class VaezIterableDataset(IterableDataset):
    """The images of one or more .vaez archives, streamed a chunk at a time.

    Each epoch, the chunks of all archives are shuffled (``shuffle``, with ``seed`` plus
    the epoch, ``set_epoch``) and dealt out to the ranks of a distributed job (``rank``,
    ``world_size``: from ``torch.distributed`` when it is initialised) and then to the
    DataLoader's workers; each worker decodes its chunks and yields their images, in a
    shuffled order within each chunk. Every image comes once per epoch across all
    workers and ranks (a rank may get one chunk more than another)."""

    def __init__(self, archives: str | os.PathLike | Sequence[str | os.PathLike], *,
                 labels: str | None = None, transform: Callable | None = None,
                 target_transform: Callable | None = None, shuffle: bool = True,
                 seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 zoo=None):
        self._archives = _Archives(_paths(archives), labels, zoo)
        self.transform, self.target_transform = transform, target_transform
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        if (rank is None) != (world_size is None):
            raise SettingsError("give both rank and world_size, or neither")
        if rank is None and torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.rank, self.world_size = rank or 0, world_size or 1
        if not 0 <= self.rank < self.world_size:
            raise SettingsError(f"rank {self.rank} is outside 0..{self.world_size - 1}")
        self.units = [(k, n) for k, reader in enumerate(self._archives.readers())
                      for n in range(len(reader.decoder.index.chunks))]

    @property
    def classes(self) -> list[str]:
        """The class names (folder names, sorted), as torchvision's ImageFolder has them."""
        return list(self._archives.classes)

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order to use (call it before each epoch, as with
        ``DistributedSampler``)."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self._archives.total

    def my_units(self) -> list[tuple[int, int]]:
        """The (archive, chunk) pairs this rank and worker read this epoch."""
        units = list(self.units)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(len(units))
            units = [units[j] for j in order]
        units = units[self.rank :: self.world_size]
        info = get_worker_info()
        if info is not None:
            units = units[info.id :: info.num_workers]
        return units

    def __iter__(self):
        info = get_worker_info()
        worker = 0 if info is None else info.id
        rng = np.random.default_rng([self.seed, self.epoch, self.rank, worker])
        readers = self._archives.readers()
        for k, n in self.my_units():
            decoder = readers[k].decoder
            entry = decoder.index.chunks[n]
            chunk = decoder.read_chunk(n, names=False)
            images = _to_tensor(decoder.decode_chunk(chunk))  # one pass
            order = rng.permutation(len(images)) if self.shuffle else range(len(images))
            start = self._archives.starts[k] + entry.first
            for j in order:
                image = images[j]
                if self.transform is not None:
                    image = self.transform(image)
                if self._archives.targets is None:
                    yield image
                    continue
                target = int(self._archives.targets[start + j])
                if self.target_transform is not None:
                    target = self.target_transform(target)
                yield image, target
