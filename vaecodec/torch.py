"""PyTorch datasets over .vaez archives (torch is imported here only).

    from vaecodec.torch import VaezDataset, VaezIterableDataset
    train = VaezDataset("mnist-train.vaez", labels="folder")   # (image, label) pairs
    loader = torch.utils.data.DataLoader(train, batch_size=128, shuffle=True, num_workers=2)

``VaezDataset`` is map-style, so ``shuffle=True`` works as with any dataset: a DataLoader
reads a batch at once (``__getitems__``), decoding only the batch's images in one network
pass; ``dataset[i]`` decodes the chunk holding image i. Decoded images are kept per
worker (every one when the archive's images fit 128 MB, else a few chunks), and the
models are loaded once, before the workers start.
For distributed training, use torch's ``DistributedSampler`` with it.
``VaezIterableDataset`` streams the archives chunk by chunk in one global order per
epoch, cut into equal runs for the ranks of a distributed job (padded or dropped, as
``DistributedSampler`` does) and dealt to the DataLoader's workers so that the order does
not depend on their number; ``state_dict``/``load_state_dict`` resume an epoch midway.
Both datasets pickle without their open files (a spawned worker reopens them by path),
and ``close()`` (or a ``with`` block) closes them.

An image comes as a float32 tensor (1, H, W), or (C, H, W) from a colour archive, in
[0, 1] (what torchvision's ``ToTensor`` gives), passed through ``transform`` when one
is given. Labels:

- ``labels="auto"`` (the default): the labels the archives store (format version 6:
  ``compress --labels``), when they store them: items are (image, label); else images;
- ``labels="stored"``: the stored labels (an archive without them is an error);
  ``classes`` are the archives' class names;
- ``labels="folder"``: the class of each image taken from the first folder of its stored
  name (``3/00018.png`` -> class "3"), as torchvision's ``ImageFolder`` does:
  ``classes`` lists them sorted, ``class_to_idx`` maps them to the integers returned;
- ``labels=None``: images only.

``metadata=True`` adds each image's stored metadata, a dict ({} for none), as the last
element of the item (torch's default collate needs the same keys in every dict of a
batch; give a ``collate_fn`` otherwise).
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

LABELS = (None, "auto", "stored", "folder")


def _paths(sources) -> list[str]:
    """The archives' paths, a manifest replaced by its shards."""
    if isinstance(sources, (str, os.PathLike)):
        sources = [sources]
    paths = [os.fspath(p) for p in archive_io.shard_paths(sources)]
    if not paths:
        raise SettingsError("give at least one .vaez archive")
    return paths


def _to_tensor(images: np.ndarray, shape: tuple[int, ...]) -> torch.Tensor:
    """uint8 images of ``shape``, (..., H, W) or (..., H, W, C) -> float32 (..., 1, H, W)
    or (..., C, H, W) in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    tensor = tensor.unsqueeze(-3) if len(shape) == 2 else tensor.movedim(-1, -3)
    return tensor.float().div_(255.0)


class _Archives:
    """The archives of a dataset, opened lazily in each process (a forked or spawned
    worker opens its own files), with their sizes and, for ``labels``, their classes:
    stored in the archives, or their names' folders."""

    def __init__(self, paths: list[str], labels: str | None, zoo=None,
                 metadata: bool = False):
        if labels not in LABELS:
            raise SettingsError("labels must be 'auto', 'stored', 'folder' or None, not "
                                f"{labels!r}")
        self.paths, self.zoo, self.metadata = paths, zoo, bool(metadata)
        self._readers: list | None = None
        self._limited: int | None = None  # the process whose BLAS pool was limited
        readers = self.readers()
        for reader in readers:  # the models, loaded once here for every worker to share
            reader.decoder.prepare()
        shapes = {tuple(r.image_shape) for r in readers}
        if len(shapes) > 1:
            raise SettingsError("the archives hold images of different sizes: "
                                + ", ".join(f"{w}x{h}" for h, w in sorted(shapes)))
        self.image_shape = shapes.pop()
        self.sizes = [len(r) for r in readers]
        self.starts = list(np.cumsum([0] + self.sizes[:-1]))
        self.targets: np.ndarray | None = None  # labels="folder": every image's
        self.classes: list[str] = []
        stored = [r.labelled for r in readers]
        if labels == "auto":
            if any(stored) and not all(stored):
                raise SettingsError(f"{paths[stored.index(False)]} stores no labels and "
                                    f"{paths[stored.index(True)]} does: give labels=None "
                                    "for images only")
            labels = "stored" if all(stored) else None
        if labels == "stored":
            if not all(stored):
                raise SettingsError(f"{paths[stored.index(False)]} stores no labels "
                                    "(labels='folder' takes them from the names' folders)")
            classes = {r.classes for r in readers}
            if len(classes) > 1:
                raise SettingsError("the archives name their classes differently: their "
                                    "labels do not mean the same")
            self.classes = list(classes.pop() or ())
        if self.metadata:
            lacking = [p for p, r in zip(paths, readers) if not r.has_metadata]
            if lacking:
                raise SettingsError(f"{lacking[0]} stores no metadata")
        self.labels = labels
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

    def close(self) -> None:
        for reader in self._readers or ():
            reader.close()
        self._readers = None

    def labels_of(self, k: int, local: np.ndarray) -> np.ndarray | None:
        """The labels of archive ``k``'s images at ``local`` positions (None: no labels)."""
        if self.labels == "stored":
            return self.readers()[k].label(local)
        if self.targets is not None:
            return self.targets[self.starts[k] + local]
        return None

    def meta_of(self, k: int, local: np.ndarray) -> list | None:
        """The metadata dicts of archive ``k``'s images at ``local`` ({} for none)."""
        if not self.metadata:
            return None
        return [m or {} for m in self.readers()[k].meta(local)]

    def all_labels(self) -> np.ndarray | None:
        if self.labels == "stored":
            return np.concatenate([r.labels for r in self.readers()])
        return self.targets

    def locate(self, i: int) -> tuple[int, int]:
        k = bisect.bisect_right(self.starts, i) - 1
        return k, i - self.starts[k]

    @property
    def total(self) -> int:
        return sum(self.sizes)


class VaezDataset(Dataset):
    """A map-style dataset of the images of one or more .vaez archives, in order.

    ``labels``: "auto" (the stored labels when the archives have them), "stored",
    "folder" or None (the module's docstring); with labels, items are (image, label).
    ``metadata``: add each image's metadata dict to the item.
    ``transform`` / ``target_transform``: applied to the image tensor / the label."""

    def __init__(self, archives: str | os.PathLike | Sequence[str | os.PathLike], *,
                 labels: str | None = "auto", metadata: bool = False,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None, zoo=None):
        """``archives``: .vaez files, or manifests of shards (``vaecodec.dask``)."""
        self._archives = _Archives(_paths(archives), labels, zoo, metadata)
        self.transform, self.target_transform = transform, target_transform

    @property
    def classes(self) -> list[str]:
        """The class names: the archives' (stored labels) or the folder names, sorted, as
        torchvision's ImageFolder has them."""
        return list(self._archives.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The images' (height, width), or (height, width, channels) for colour: a
        tensor is (1, height, width), or (channels, height, width)."""
        return self._archives.image_shape

    @property
    def class_to_idx(self) -> dict[str, int]:
        """Class name -> label, as torchvision's ImageFolder has it."""
        return {c: k for k, c in enumerate(self._archives.classes)}

    @property
    def targets(self) -> list[int] | None:
        """Every image's label in order (None without labels; stored labels are read from
        every chunk on first use)."""
        t = self._archives.all_labels()
        return None if t is None else t.tolist()

    def __len__(self) -> int:
        return self._archives.total

    def close(self) -> None:
        """Close the archives' files (this process's; a worker closes its own at exit).
        Reading again reopens them."""
        self._archives.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _position(self, i) -> int:
        if not isinstance(i, (int, np.integer)) or isinstance(i, bool):
            raise TypeError(f"index a dataset with an int, not {type(i).__name__}")
        n = len(self)
        if not -n <= i < n:
            raise IndexError(f"index {i} is out of range for {n} images")
        return int(i) % n

    def __getitem__(self, i):
        i = self._position(i)
        k, local = self._archives.locate(i)
        image = _to_tensor(self._archives.readers()[k][local], self.image_shape)
        rows = np.array([local])
        return _item(self, image, self._archives.labels_of(k, rows),
                     self._archives.meta_of(k, rows), 0)

    def __getitems__(self, indices: Sequence[int]) -> list:
        """The items ``[self[i] for i in indices]``, their images decoded together (a
        DataLoader asks for a batch this way): a batch costs one network pass per archive,
        and only the images it holds are decoded."""
        positions = np.array([self._position(i) for i in indices], dtype=np.int64)
        archives = np.searchsorted(self._archives.starts, positions, side="right") - 1
        items: list = [None] * len(positions)
        readers = self._archives.readers()
        for k in np.unique(archives):
            where = np.flatnonzero(archives == k)
            local = positions[where] - self._archives.starts[k]
            batch = _to_tensor(readers[k][local], self.image_shape)
            labels = self._archives.labels_of(k, local)
            meta = self._archives.meta_of(k, local)
            for n, j in enumerate(where):
                items[j] = _item(self, batch[n], labels, meta, n)
        return items


def _item(dataset, image: torch.Tensor, labels, meta, n: int):
    """An item: the image (transformed), then its label and its metadata where the
    dataset gives them (``labels``, ``meta``: of a batch; ``n``: the image's place)."""
    if dataset.transform is not None:
        image = dataset.transform(image)
    item = [image]
    if labels is not None:
        target = int(labels[n])
        if dataset.target_transform is not None:
            target = dataset.target_transform(target)
        item.append(target)
    if meta is not None:
        item.append(meta[n])
    return item[0] if len(item) == 1 else tuple(item)


class VaezIterableDataset(IterableDataset):
    """The images of one or more .vaez archives, streamed chunk by chunk, ready for
    distributed training.

    **The order.** Each epoch has one global order, set by ``seed`` and the epoch
    (``set_epoch``): the chunks of all archives shuffled, and the images of each chunk
    shuffled (``shuffle=False``: the archives' own order). It does not depend on the
    number of DataLoader workers.

    **Ranks.** The global order is cut into ``world_size`` equal runs, one per rank
    (``rank``, ``world_size``: from ``torch.distributed`` when it is initialised), as
    ``DistributedSampler`` does: with ``drop_last=False`` (the default) the images at
    the start of the order are repeated to fill the last runs, with ``drop_last=True``
    the last images are left out, so that every rank gets ``len(dataset)`` images and
    takes the same number of steps (no rank waits for another at a collective).

    **Workers.** A rank's run is dealt to its DataLoader's workers in blocks of
    ``batch_size`` images (the DataLoader's ``batch_size``; None as for
    ``batch_size=None``): worker w takes blocks w, w + W, ..., so that the DataLoader,
    which takes a batch from each worker in turn, yields the rank's run in order, the
    same whatever ``num_workers`` is. Each worker decodes, chunk by chunk, only the
    images of its blocks (a lossless or error-bounded chunk decodes only whole, so each
    worker that touches one decodes it).

    **Resuming.** ``state_dict(samples_seen)`` records where an epoch stands after this
    rank took ``samples_seen`` images from its DataLoader; ``load_state_dict`` makes the
    next pass over that epoch yield exactly the images that remain, in the same order."""

    def __init__(self, archives: str | os.PathLike | Sequence[str | os.PathLike], *,
                 labels: str | None = "auto", metadata: bool = False,
                 transform: Callable | None = None,
                 target_transform: Callable | None = None, shuffle: bool = True,
                 seed: int = 0, rank: int | None = None, world_size: int | None = None,
                 drop_last: bool = False, batch_size: int | None = None, zoo=None):
        if batch_size is not None and (isinstance(batch_size, bool) or
                                       not isinstance(batch_size, (int, np.integer)) or
                                       batch_size < 1):
            raise SettingsError(f"batch_size must be a positive int or None, not "
                                f"{batch_size!r}")
        self._archives = _Archives(_paths(archives), labels, zoo, metadata)
        self.transform, self.target_transform = transform, target_transform
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.drop_last, self.batch_size = bool(drop_last), batch_size
        if (rank is None) != (world_size is None):
            raise SettingsError("give both rank and world_size, or neither")
        if rank is None and torch.distributed.is_available() and torch.distributed.is_initialized():
            rank, world_size = torch.distributed.get_rank(), torch.distributed.get_world_size()
        self.rank, self.world_size = rank or 0, world_size or 1
        if not 0 <= self.rank < self.world_size:
            raise SettingsError(f"rank {self.rank} is outside 0..{self.world_size - 1}")
        # (archive, chunk number, its first image's position in the archive, its count)
        self._chunks = [(k, n, entry.first, entry.count)
                        for k, reader in enumerate(self._archives.readers())
                        for n, entry in enumerate(reader.decoder.index.chunks)]
        self._resume: tuple[int, int] | None = None  # (epoch, images this rank had taken)

    @property
    def classes(self) -> list[str]:
        """The class names: the archives' (stored labels) or the folder names, sorted, as
        torchvision's ImageFolder has them."""
        return list(self._archives.classes)

    @property
    def image_shape(self) -> tuple[int, ...]:
        """The images' (height, width), or (height, width, channels) for colour: a
        tensor is (1, height, width), or (channels, height, width)."""
        return self._archives.image_shape

    @property
    def images(self) -> int:
        """The images of all the archives (each comes once in the global order)."""
        return self._archives.total

    def set_epoch(self, epoch: int) -> None:
        """The epoch whose order to use (call it before each epoch, as with
        ``DistributedSampler``). A resume point of another epoch is dropped."""
        self.epoch = epoch
        if self._resume is not None and self._resume[0] != epoch:
            self._resume = None

    def __len__(self) -> int:
        """The images this rank gets in an epoch (the same on every rank)."""
        total, world = self._archives.total, self.world_size
        return total // world if self.drop_last else -(-total // world)

    def close(self) -> None:
        """Close the archives' files (this process's; a worker closes its own at exit)."""
        self._archives.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # --- resuming --------------------------------------------------------------------------
    def state_dict(self, samples_seen: int) -> dict:
        """Where this rank stands in the current epoch after taking ``samples_seen`` images
        from its DataLoader (for example batches done x batch size), for
        ``load_state_dict``: a small dict of ints and bools, to save with a checkpoint."""
        if isinstance(samples_seen, bool) or not isinstance(samples_seen, (int, np.integer)):
            raise SettingsError(f"samples_seen must be an int, not {samples_seen!r}")
        if not 0 <= samples_seen <= len(self):
            raise SettingsError(f"samples_seen {samples_seen} is outside 0..{len(self)}, "
                                "the images a rank gets in an epoch")
        return {"epoch": int(self.epoch), "samples_seen": int(samples_seen),
                "seed": self.seed, "shuffle": bool(self.shuffle),
                "world_size": self.world_size, "drop_last": self.drop_last,
                "images": self._archives.total}

    def load_state_dict(self, state: dict) -> None:
        """Resume from ``state_dict``'s dict: the next pass over its epoch (which becomes
        the current one) yields only the images this rank had not yet taken. The archives,
        ``seed``, ``shuffle``, ``world_size`` and ``drop_last`` must be those of the run
        that saved it (the DataLoader's batch size and workers may differ)."""
        keys = ("epoch", "samples_seen", "seed", "shuffle", "world_size", "drop_last",
                "images")
        if not isinstance(state, dict) or sorted(state) != sorted(keys):
            raise SettingsError("not a state of VaezIterableDataset.state_dict(): it needs "
                                "the keys " + ", ".join(keys))
        mine = self.state_dict(0)
        differ = [k for k in keys[2:] if state[k] != mine[k]]
        if differ:
            raise SettingsError("the saved state is of another data set or setup: "
                                + ", ".join(f"{k} {state[k]!r} (here {mine[k]!r})"
                                            for k in differ))
        seen = state["samples_seen"]
        if isinstance(seen, bool) or not isinstance(seen, int) or not 0 <= seen <= len(self):
            raise SettingsError(f"the saved state's samples_seen {seen!r} is outside "
                                f"0..{len(self)}")
        self.epoch = state["epoch"]
        self._resume = (self.epoch, seen)

    # --- the order -------------------------------------------------------------------------
    def _order(self) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's chunk order (indices into ``_chunks``) and where each starts in
        the global order."""
        count = len(self._chunks)
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(count)
        else:
            order = np.arange(count)
        sizes = np.array([self._chunks[j][3] for j in order], dtype=np.int64)
        return order, np.concatenate([[0], np.cumsum(sizes)])

    def _within(self, j: int) -> np.ndarray:
        """The order of chunk ``j``'s own images this epoch."""
        count = self._chunks[j][3]
        if not self.shuffle:
            return np.arange(count)
        return np.random.default_rng([self.seed, self.epoch, j]).permutation(count)

    def _segments(self):
        """(position in this rank's run, chunk j, first place in the chunk's order, count)
        of every piece of one chunk in this rank's run, in order: the run is positions
        rank*len .. (rank+1)*len of the global order repeated (padding wraps around)."""
        total, length = self._archives.total, len(self)
        if total == 0 or length == 0:
            return
        order, starts = self._order()
        begin = self.rank * length
        done = 0
        while done < length:
            place = (begin + done) % total
            at = int(np.searchsorted(starts, place, side="right")) - 1
            offset = place - int(starts[at])
            count = min(int(starts[at + 1]) - place, length - done)
            yield done, int(order[at]), offset, count
            done += count

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        block = self.batch_size or 1
        skip = self._resume[1] if self._resume and self._resume[0] == self.epoch else 0
        readers = self._archives.readers()
        for done, j, offset, count in self._segments():
            positions = np.arange(done, done + count)
            mine = positions[positions >= skip]
            mine = mine[((mine - skip) // block) % workers == worker]
            if not len(mine):
                continue
            k, _, first, _ = self._chunks[j]
            local = first + self._within(j)[offset + mine - done]  # positions in archive k
            images = _to_tensor(readers[k].decoder.images(local),  # one pass
                                self.image_shape)
            labels = self._archives.labels_of(k, local)  # the chunk's: read with its images
            meta = self._archives.meta_of(k, local)
            for n, image in enumerate(images):
                yield _item(self, image, labels, meta, n)
