"""``vaecodec.open``: an archive read at random, in chunks, or written incrementally.

    with vaecodec.open("digits.vaez") as archive:
        len(archive), archive[5], archive[10:20], archive["3/00018.png"], archive.names
        for start, images in archive.chunks(): ...
        archive.verify()

    with vaecodec.open("new.vaez", "w", quality=4) as archive:
        archive.write(images, names=names)      # as often as needed; memory for one chunk

    with vaecodec.open("new.vaez", "a") as archive:   # add images; existing chunks stay
        archive.write(more_images, names=more_names)

Version 5 files (format/chunked.py) are read a chunk at a time; older versions are read
whole on first use. The policy of ``files`` holds: nothing is replaced without ``force``,
a new file appears complete or not at all, and a failed or interrupted append leaves the
archive as it was.
"""

from __future__ import annotations

import dataclasses
import io
import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, Iterator, NamedTuple

import numpy as np

from . import images as image_files
from .atomic import AtomicFile, WriteLock, check_output_file
from .errors import (
    ArgumentTypeError,
    FormatError,
    OutputPathError,
    SettingsError,
    ShardError,
    UnsafeNameError,
    VaezError,
)
from .format import chunked, container
from .format import manifest as manifest_format
from .format.sniff import is_chunked
from .options import EncodeOptions, with_keywords
from .pipeline.guard import QualityReport
from .pipeline.settings import DEFAULT_MAX_IMAGES, Settings, check_count, check_writing, resolve, searching
from .stream.decoder import ArchiveDecoder
from .stream.encoder import StreamEncoder
from .stream import open_decoder
from .images import shown_path as _shown
from .zoo import Zoo

MODES = ("r", "w", "a")


def open(path, mode: str = "r", options: EncodeOptions | None = None, *,
         zoo: Zoo | None = None, max_images: int = DEFAULT_MAX_IMAGES, force: bool = False,
         named: bool | None = None, chunk_images: int = chunked.CHUNK_IMAGES, **keywords):
    """Open a .vaez archive: ``"r"`` to read (a path or a binary file object; a path may
    name a manifest of shards, read as one archive: ``vaecodec.dask``), ``"w"`` to
    write a new one (a path, replaced only with ``force``, or a binary stream), ``"a"`` to
    add images to one (a version 5 file; created when missing).

    Reading: ``max_images`` limits older (unchunked) files, which are decoded whole, and
    the archives whose names are read at once (``names``, lookup by name).
    Writing: ``options`` (an ``EncodeOptions``, or its fields as keywords) as ``encode``
    takes them; ``named`` says whether images carry names (default: whether the first
    ``write`` gives them). Appending takes the archive's own settings (giving other ones
    is an error; ``search`` and ``polarity`` may be given)."""
    if mode not in MODES:
        raise SettingsError(f"mode must be 'r', 'w' or 'a', not {mode!r}")
    if mode == "r":
        if options is not None or keywords:
            given = "options" if options is not None else sorted(keywords)[0]
            raise ArgumentTypeError(f"open() for reading takes no encoding options "
                                    f"({given})")
        return open_reader(path, zoo=zoo, max_images=max_images)
    options = with_keywords(options, keywords, "open")
    if mode == "a" and hasattr(path, "write"):
        raise SettingsError("appending needs an archive file, not a stream")
    if mode == "w":
        return ArchiveWriter(path, resolve(options, zoo=zoo), force=force,
                             embed_model=options.embed_model, polarity=options.polarity,
                             named=named, chunk_images=chunk_images, strict=options.strict)
    # appending: the archive is locked before it is looked at, so that concurrent appends
    # (or a replacement) wait for each other instead of losing one run's images
    lock = WriteLock(path).acquire()
    try:
        if os.path.lexists(path):
            given = options.choosing_the_coding()
            if given:
                raise SettingsError("appending uses the archive's own model and level; leave "
                                    "out " + ", ".join(given))
            return ArchiveWriter.append(Path(path), zoo=zoo, polarity=options.polarity,
                                        search=options.search, strict=options.strict,
                                        lock=lock)
        return ArchiveWriter(path, resolve(options, zoo=zoo), force=force,
                             embed_model=options.embed_model, polarity=options.polarity,
                             named=named, chunk_images=chunk_images, strict=options.strict,
                             lock=lock)
    except BaseException:
        lock.release()
        raise


def open_reader(source, *, zoo: Zoo | None = None, max_images: int = DEFAULT_MAX_IMAGES,
                salvage: bool = False):
    """An archive opened for reading: a path, bytes or a binary file object of a .vaez
    file (``ArchiveReader``), or a path of a manifest of shards (``ManifestReader``). The
    one way every reader of the library and the command line opens what it is given."""
    if is_manifest(source):
        return ManifestReader(source, zoo=zoo, salvage=salvage, max_images=max_images)
    return ArchiveReader(source, zoo=zoo, max_images=max_images, salvage=salvage)


@dataclasses.dataclass(frozen=True)
class Damage:
    """A chunk that does not decode: its images are lost."""

    chunk: int | None  # its number in the index (None: found by scanning)
    first: int | None  # the position of its first image (None: unknown)
    count: int | None
    message: str


@dataclasses.dataclass(frozen=True)
class VerifyReport:
    images: int  # images that decode
    chunks: int  # chunks checked
    damaged: tuple[Damage, ...]
    trailing: int  # bytes after the archive's end (an append that did not finish)

    @property
    def ok(self) -> bool:
        return not self.damaged


class _Named:
    """Lookup by name, for the readers (their ``names``)."""

    _name_positions: dict[str, int] | None = None

    def position(self, name: str) -> int:
        """The position of the image stored as ``name`` (KeyError when there is none)."""
        if self._name_positions is None:
            names = self.names
            if names is None:
                raise KeyError(f"{name!r}: this archive stores no names")
            self._name_positions = {n: i for i, n in enumerate(names)}
        try:
            return self._name_positions[name]
        except KeyError:
            raise KeyError(f"no image named {name!r} in the archive") from None


class ArchiveReader(_Named):
    """A .vaez archive opened for reading (``vaecodec.open(path)``).

    ``len``, ``[i]`` (an image (H, W)), ``[a:b]`` and ``[[i, j, ...]]`` (images (n, H, W)),
    ``["name"]``, ``names``, ``position(name)``, iteration (image by image), ``chunks()``,
    ``latents()``, ``verify()``. Reading image i of a version 5 file reads one chunk and
    decodes it (one image at a time) or the images asked for (a list or slice); decoded
    images are kept, all of them when they fit 128 MB, else a few chunks. Safe to use from
    forked processes (each reopens the file):
    ``torch.utils.data.DataLoader(num_workers > 0)``."""

    def __init__(self, source, *, zoo: Zoo | None = None,
                 max_images: int = DEFAULT_MAX_IMAGES, salvage: bool = False):
        self._zoo, self._max_images, self._salvage = zoo, max_images, salvage
        self._name_positions: dict[str, int] | None = None
        if isinstance(source, (bytes, bytearray, memoryview)):
            self.path, self._data = None, bytes(source)
        elif hasattr(source, "read"):
            self.path, self._data = None, None
        else:
            self.path, self._data = Path(source), None
        self._given = source if hasattr(source, "read") else None
        self._pid, self._file = None, None
        self._decoder = None
        self._decoder = self._open()

    def _open(self):
        f = self._reopen()
        try:
            return open_decoder(f, self._zoo, self._max_images, self._salvage)
        except FormatError as e:  # a damaged file: say which
            if self.path is not None:
                raise type(e)(f"{self.path}: {e}") from None
            raise

    def _reopen(self) -> BinaryIO:
        """This process's file object (a forked process opens its own)."""
        if self._file is not None and self._pid == os.getpid():
            return self._file
        if self._given is not None:
            self._file = self._given
        elif self._data is not None:
            self._file = io.BytesIO(self._data)
        else:
            self._file = image_files.open_regular(self.path)
        self._pid = os.getpid()
        if self._decoder is not None:
            self._decoder.f = self._file
        return self._file

    @property
    def decoder(self):
        self._reopen()
        return self._decoder

    # --- what the archive holds ------------------------------------------------------------
    @property
    def info(self) -> container.Header:
        """The header (``vaecodec info``'s fields) without names."""
        return self._decoder.info

    @property
    def named(self) -> bool:
        """Whether the archive stores its images' names."""
        return self._decoder.named

    @property
    def index_error(self) -> str | None:
        """Why the index could not be used (opened with ``salvage=True``: the chunks were
        found by scanning the file), or None."""
        return getattr(self._decoder, "index_error", None)

    @property
    def trailing(self) -> int:
        """Bytes after the archive's last complete index (an append that did not finish)."""
        return self._decoder.trailing

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.decoder.settings.image_shape

    def __len__(self) -> int:
        return len(self._decoder)

    @property
    def names(self) -> tuple[str, ...] | None:
        """The images' stored names, in order (None when the archive stores none); an
        archive of more than ``max_images`` images is refused (``ImageLimitError``), since
        a few bytes can declare millions of names."""
        if self.named:
            check_count(self.info, self._max_images, "read its names")
        return self.decoder.names()

    def __getitem__(self, key):
        count = len(self)
        if isinstance(key, str):
            return self.decoder.images(np.array([self.position(key)]))[0]
        if isinstance(key, slice):
            return self.decoder.images(np.arange(*key.indices(count)))
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -count <= key < count:
                raise IndexError(f"image {key} is out of range (the archive holds {count})")
            return self.decoder.image(int(key % count))
        rows = np.asarray(key)
        if rows.ndim != 1 or rows.dtype.kind not in "iu":
            raise ArgumentTypeError("index an archive with an int, a slice, a name or a "
                                    "list of ints")
        if len(rows) and (rows.min() < -count or rows.max() >= count):
            raise IndexError(f"an index is out of range (the archive holds {count})")
        return self.decoder.images(rows % count if len(rows) else rows)

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, images in self.chunks():
            yield from images

    def chunks(self, progress: Callable[[int, int], None] | None = None
               ) -> Iterator[tuple[int, np.ndarray]]:
        """(position of the first image, uint8 images (n, H, W)) of each chunk in order."""
        return self.decoder.chunks(progress)

    def latents(self) -> np.ndarray:
        """The latent vectors float32 (N, latent size) (see ``vaecodec.latents``)."""
        return self.decoder.latents()

    def salvage(self, progress: Callable[[int, int], None] | None = None
                ) -> Iterator[tuple[int | None, np.ndarray | None, Damage | None]]:
        """Every chunk that decodes, and a ``Damage`` for every one that does not:
        (first position, images, None) or (first, None, damage). When the index itself is
        damaged, the chunks are found by scanning the file (their positions then come from
        their own headers)."""
        return _salvage(self.decoder, progress)

    def intact_chunks(self) -> tuple[list[tuple[int, int, tuple | None]], list[Damage]]:
        """([(first position, count, names or None)] of the chunks that decode, [Damage]
        of the others): what salvage can restore, each chunk decoded once to know."""
        decoder = self.decoder
        lost = [damage for _, _, damage in self.salvage() if damage is not None]
        damaged = {d.first for d in lost}
        intact = []
        for n, entry in enumerate(decoder.index.chunks):
            if entry.first in damaged:
                continue
            intact.append((entry.first, entry.count, decoder.read_chunk(n).names))
        return intact, lost

    def verify(self, progress: Callable[[int, int], None] | None = None) -> VerifyReport:
        """Decode every chunk (writing nothing): which are damaged, and how many images
        decode."""
        images = chunks = 0
        damaged = []
        for first, block, damage in self.salvage(progress):
            if damage is None or damage.chunk is not None:
                chunks += 1
            if damage is not None:
                damaged.append(damage)
            else:
                images += len(block)
        if not damaged and self.named:  # what every reader checks besides the chunks
            try:
                self.decoder.names()
            except VaezError as e:
                damaged.append(Damage(None, None, None, str(e)))
        return VerifyReport(images, chunks, tuple(damaged), self.trailing)

    # --- closing ---------------------------------------------------------------------------
    def close(self) -> None:
        if self._file is not None and self._given is None:
            self._file.close()
        self._file = None

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def __repr__(self) -> str:
        where = self.path if self.path is not None else "bytes"
        return f"<vaecodec archive {where}: {len(self)} images>"


def _salvage(decoder, progress):
    """Chunk by chunk through ``decoder``'s index: decoded images, or what went wrong
    (with an index found by scanning, the images between the chunks found are lost)."""
    index = decoder.index
    scanned = getattr(decoder, "index_error", None)
    expected = 0
    for n, entry in enumerate(index.chunks):
        if scanned and entry.first > expected:
            yield expected, None, Damage(None, expected, entry.first - expected,
                                         "no intact chunk holds these images")
        expected = max(expected, entry.first + entry.count)
        try:
            images = decoder.decode_chunk(decoder.read_chunk(n))
        except (FormatError, ValueError) as e:
            yield entry.first, None, Damage(n, entry.first, entry.count, str(e))
        else:
            yield entry.first, images, None
        if progress:
            progress(entry.first + entry.count, index.count)
    if scanned and not getattr(decoder, "tail_known", True):
        # the index is lost: how many images followed the last chunk found is unknown
        yield expected, None, Damage(
            None, expected, None,
            ("no intact chunk was found; every image is lost" if not index.chunks else
             f"the index is damaged, so whether images followed image {expected - 1} is "
             "unknown; any that did are lost") + f" ({scanned})")


class Appending(NamedTuple):
    """An archive to append to, opened and read (``ArchiveWriter.append`` makes it)."""

    path: Path
    file: BinaryIO
    decoder: ArchiveDecoder


class ArchiveWriter:
    """A .vaez archive opened for writing (``vaecodec.open(path, "w")``) or appending
    (``"a"``): ``write(images, names=None)`` as often as needed, then ``close()`` (or leave
    the ``with`` block), which returns the quality guard's figures. Full chunks are coded
    and written as they fill. Leaving the ``with`` block on an error (or ``abort()``)
    leaves no new file, and an archive appended to as it was."""

    def __init__(self, target, settings: Settings, *, force: bool = False,
                 embed_model: bool = False, polarity: str = "auto",
                 named: bool | None = None, chunk_images: int = chunked.CHUNK_IMAGES,
                 strict: bool = False, check_names: bool = True,
                 lock: WriteLock | None = None, append_to: "Appending | None" = None):
        # the options are checked before any file is made (the encoder starts at the
        # first write, when it knows whether images carry names)
        check_writing(settings, embed_model, polarity, chunk_images)
        self._lock = lock
        self.settings, self.strict = settings, strict
        self._options = dict(embed_model=embed_model, polarity=polarity,
                             chunk_images=chunk_images, check_names=check_names)
        self._named = named
        self._encoder: StreamEncoder | None = None
        self._append_state: tuple[BinaryIO, int] | None = None
        self._progress: Callable[[int], None] | None = None
        self.report: QualityReport | None = None
        self.closed = False
        self.path: Path | None = None
        if append_to is not None:  # an archive's file, opened and read by ``append``
            f, decoder = append_to.file, append_to.decoder
            self.path, self._named = append_to.path, decoder.header.named
            self._stream = self._atomic = None
            self._append_state = (f, decoder.index.end)
            f.truncate(decoder.index.end)  # what an append that did not finish left
            f.seek(decoder.index.end)
            self._out = f
            self._encoder = StreamEncoder(f, settings, polarity=polarity, append=decoder)
        elif hasattr(target, "write"):  # a stream: spooled when strict may refuse it
            self._stream = target
            self._out = tempfile.SpooledTemporaryFile(64 * 2**20) if strict else target
            self._atomic = None
        else:
            self.path = Path(target)
            if image_files.is_image_name(self.path.name):
                raise OutputPathError(f"{self.path} has an image's extension: give the .vaez "
                                      "file to write as the last argument")
            check_output_file(self.path, force)
            # one writer of a path at a time (another waits): a replacement cannot land in
            # the middle of an append, nor two appends interleave
            if self._lock is None:
                self._lock = WriteLock(self.path).acquire()
            try:
                check_output_file(self.path, force)  # again: it may have appeared meanwhile
                self._stream, self._atomic = None, AtomicFile(self.path, force)
            except BaseException:
                self._release()
                raise
            self._out = self._atomic

    @classmethod
    def append(cls, path: Path, *, zoo: Zoo | None = None, polarity: str = "auto",
               search: bool = False, strict: bool = False,
               lock: WriteLock | None = None) -> "ArchiveWriter":
        """A writer that adds images to the version 5 archive ``path`` with its own
        settings (``lock``: held already by the caller; else taken here)."""
        own_lock = lock is None
        lock = WriteLock(path).acquire() if own_lock else lock
        try:
            f = image_files.open_regular(path, mode="r+b")
            try:
                prefix = f.read(container.MAX_PREFIX)
                f.seek(0)
                if not is_chunked(prefix):
                    container.read_prefix(prefix)  # a clear error for what is no .vaez file
                    raise SettingsError(f"{path} is a version {prefix[4]} file; only version "
                                        "5 files (written by vaecodec 2.0 and later) can be "
                                        "appended to")
                decoder = ArchiveDecoder(f, zoo)
                settings = searching(decoder.settings, search)
                return cls(None, settings, polarity=polarity, strict=strict, lock=lock,
                           append_to=Appending(path, f, decoder))
            except VaezError as e:
                f.close()
                raise type(e)(f"{path}: {e}") from None
            except BaseException:
                f.close()
                raise
        except BaseException:
            if own_lock:
                lock.release()
            raise

    def on_progress(self, callback: Callable[[int], None] | None) -> None:
        """``callback(images coded so far)`` as chunks are coded (within a residual chunk
        too)."""
        self._progress = callback
        if self._encoder is not None:
            self._encoder.on_progress = callback

    def write(self, images, names=None) -> None:
        """Add images (uint8 (N, H, W) or (H, W), float in [0, 1], or a torch tensor) and,
        for a named archive, their names (distinct from every name already in it)."""
        if self.closed:
            raise SettingsError("the archive is closed")
        if self._encoder is None:
            named = (names is not None) if self._named is None else self._named
            self._encoder = StreamEncoder(self._out, self.settings, named=named,
                                                **self._options)
            self._encoder.on_progress = self._progress
        self._encoder.write(images, names)

    def close(self) -> QualityReport | None:
        """Finish the archive: code what is pending, write the index, and move a new file
        into place (or make an append durable). Returns the quality guard's figures."""
        if self.closed:
            return self.report
        try:
            if self._encoder is None:
                raise SettingsError("nothing was written: an archive holds at least one image")
            self.report = self._encoder.finish(strict=self.strict)
            if self._atomic is not None:
                self._atomic.commit()
            elif self._append_state is not None:
                f = self._append_state[0]
                f.flush()
                os.fsync(f.fileno())
                f.close()
            elif self._out is not self._stream:  # a spooled stream: now it may go out
                self._out.seek(0)
                while block := self._out.read(1 << 20):
                    self._stream.write(block)
            if self._stream is not None:
                self._stream.flush()
        except BaseException:
            self.abort()
            raise
        self.closed = True
        self._release()
        return self.report

    def _release(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def abort(self) -> None:
        """Give up: a new file is removed, an archive appended to is cut back to what it
        was."""
        if self.closed:
            return
        self.closed = True
        try:
            if self._atomic is not None:
                self._atomic.abort()
            elif self._append_state is not None:
                f, end = self._append_state
                try:
                    f.truncate(end)
                    f.flush()
                    os.fsync(f.fileno())
                finally:
                    f.close()
        finally:
            self._release()

    @property
    def count(self) -> int:
        """Images in the archive so far (coded or pending; an archive appended to: with
        those it held)."""
        if self._encoder is None:
            return 0
        return self._encoder.count + self._encoder.pending_count

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *rest) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def is_manifest(path) -> bool:
    """Whether ``path`` (not a file object or bytes) names a manifest file (JSON)."""
    if hasattr(path, "read") or isinstance(path, (bytes, bytearray, memoryview)):
        return False
    try:
        with image_files.open_regular(path) as f:
            return manifest_format.looks_like(f.read(64))
    except (OSError, VaezError):
        return False


def shard_paths(paths) -> list[Path]:
    """``paths`` with each manifest replaced by its shards' paths."""
    out = []
    for path in paths:
        if is_manifest(path):
            out.extend(ManifestReader.read_manifest(Path(path))[1])
        else:
            out.append(Path(path))
    return out


class ManifestReader(_Named):
    """The shards a manifest lists, read as one archive (``vaecodec.open("x.json")``):
    ``len``, indexing by position, slice, list or name, ``names``, ``chunks()``,
    ``latents()``, ``salvage()``, ``verify()``, as ``ArchiveReader``. A shard is opened
    when first needed and checked against the manifest (its size and image count);
    ``verify`` also checks every shard's sha256."""

    def __init__(self, path, *, zoo: Zoo | None = None, salvage: bool = False,
                 max_images: int = DEFAULT_MAX_IMAGES):
        self.path = Path(path)
        self.manifest, self.paths = self.read_manifest(self.path)
        self._zoo, self._salvage, self._max_images = zoo, salvage, max_images
        self._readers: list[ArchiveReader | None] = [None] * len(self.paths)
        sizes = [s.images for s in self.manifest.shards]
        self._starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.int64)
        self._name_positions: dict[str, int] | None = None

    @staticmethod
    def read_manifest(path: Path):
        with image_files.open_regular(path) as f:
            data = f.read(manifest_format.MAX_SIZE + 1)
        try:
            manifest = manifest_format.parse(data)
        except VaezError as e:
            raise type(e)(f"{path}: {e}") from None
        return manifest, [path.parent / shard.path for shard in manifest.shards]

    def shard_path(self, k: int) -> Path:
        """Shard ``k``'s path, refused when a symbolic link takes it out of the manifest's
        folder (reading a manifest never leaves its folder)."""
        where = self.paths[k]
        top = os.path.realpath(self.path.parent)
        real = os.path.realpath(where)
        if os.path.commonpath([top, real]) != top:
            raise ShardError(f"{_shown(where)}: a symbolic link takes this shard of "
                             f"{_shown(self.path)} out of the manifest's folder")
        return where

    def shard(self, k: int) -> ArchiveReader:
        if self._readers[k] is None:
            entry, where = self.manifest.shards[k], self.shard_path(k)
            try:
                reader = ArchiveReader(where, zoo=self._zoo, salvage=self._salvage,
                                       max_images=max(entry.images, self._max_images))
            except OSError as e:
                raise ShardError(f"{_shown(where)}: a shard of {_shown(self.path)} cannot be "
                                 f"read ({e.strerror or e})") from None
            size = os.path.getsize(where)
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
        return dataclasses.replace(self.shard(0).info, count=len(self), names=None)

    @property
    def named(self) -> bool:
        return self.shard(0).named

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.shard(0).image_shape

    @property
    def trailing(self) -> int:
        return sum(r.trailing for r in self._readers if r is not None)

    @property
    def names(self) -> tuple[str, ...] | None:
        if not self.named:
            return None
        check_count(self.info, self._max_images, "read its names")
        names = tuple(name for k in range(len(self.paths)) for name in self.shard(k).names)
        if len(set(names)) != len(names):
            raise UnsafeNameError(f"{_shown(self.path)}: two shards store an image of the "
                                  "same name")
        return names

    def __getitem__(self, key):
        count = len(self)
        if isinstance(key, str):
            return self[self.position(key)]
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            if not -count <= key < count:
                raise IndexError(f"image {key} is out of range (the archive holds {count})")
            k = int(np.searchsorted(self._starts, key % count, side="right")) - 1
            return self.shard(k)[int(key % count - self._starts[k])]
        rows = (np.arange(*key.indices(count)) if isinstance(key, slice)
                else np.asarray(key))
        if rows.ndim != 1 or (len(rows) and rows.dtype.kind not in "iu"):
            raise ArgumentTypeError("index an archive with an int, a slice, a name or a "
                                    "list of ints")
        if len(rows) and (rows.min() < -count or rows.max() >= count):
            raise IndexError(f"an index is out of range (the archive holds {count})")
        rows = rows % count if len(rows) else rows.astype(np.int64)
        out = np.empty((len(rows), *self.image_shape), dtype=np.uint8)
        shards = np.searchsorted(self._starts, rows, side="right") - 1
        for k in np.unique(shards):
            where = np.flatnonzero(shards == k)
            out[where] = self.shard(int(k))[rows[where] - self._starts[k]]
        return out

    def __iter__(self) -> Iterator[np.ndarray]:
        for _, images in self.chunks():
            yield from images

    def chunks(self, progress: Callable[[int, int], None] | None = None):
        for k in range(len(self.paths)):
            base = int(self._starts[k])
            within = None if progress is None else (
                lambda done, _, base=base: progress(base + done, len(self)))
            for start, images in self.shard(k).chunks(within):
                yield base + start, images

    def latents(self) -> np.ndarray:
        return np.concatenate([self.shard(k).latents() for k in range(len(self.paths))])

    def salvage(self, progress: Callable[[int, int], None] | None = None):
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
                with image_files.open_regular(self.shard_path(k)) as f:
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
        return None

    def close(self) -> None:
        for reader in self._readers:
            if reader is not None:
                reader.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()
