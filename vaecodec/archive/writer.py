"""Writing an archive: ``ArchiveWriter`` makes a new one atomically (or writes to a
stream), or appends to one, cutting it back to what it was on failure."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO, Callable, NamedTuple

from .. import images as image_files
from ..errors import OutputPathError, SettingsError, VaezError
from ..format import chunked, container
from ..format.sniff import is_chunked
from ..fsio import AtomicFile, WriteLock, check_output_file, open_regular
from ..pipeline.guard import QualityReport
from ..pipeline.settings import Settings, check_writing, searching
from ..stream.decoder import ArchiveDecoder
from ..stream.encoder import StreamEncoder
from ..zoo import Zoo


class Appending(NamedTuple):
    """An archive to append to, opened and read (``ArchiveWriter.append`` makes it)."""

    path: Path
    file: BinaryIO
    decoder: ArchiveDecoder


class ArchiveWriter:
    """A .vaez archive opened for writing (``vaecodec.open(path, "w")``) or appending
    (``"a"``): ``write(images, names=None, labels=None, meta=None)`` as often as needed,
    then ``close()`` (or leave the ``with`` block), which returns the quality guard's
    figures. Full chunks are coded and written as they fill. Leaving the ``with`` block on
    an error (or ``abort()``) leaves no new file, and an archive appended to as it was.

    ``named``, ``labelled``, ``metadata``: whether images carry names, an integer label,
    a small dict of metadata (default: whether the first ``write`` gives them; labels or
    metadata make a version 6 file). ``classes``: the names of labels 0, 1, ...;
    appending may add names after the archive's. ``source_channels`` (a colour model
    only): store per image the channels of the image it was made from (``write(...,
    channels=)``; 1 grayscale, 2 with alpha, 3 RGB, 4 RGBA; default: whether the first
    ``write`` gives them), so that ``decompress`` writes each in its source's mode."""

    def __init__(self, target, settings: Settings, *, force: bool = False,
                 embed_model: bool = False, polarity: str = "auto",
                 named: bool | None = None, chunk_images: int = chunked.CHUNK_IMAGES,
                 strict: bool = False, check_names: bool = True,
                 lock: WriteLock | None = None, append_to: "Appending | None" = None,
                 labelled: bool | None = None, metadata: bool | None = None,
                 classes=None, source_channels: bool | None = None):
        # the options are checked before any file is made (the encoder starts at the
        # first write, when it knows whether images carry names)
        check_writing(settings, embed_model, polarity, chunk_images)
        self._lock = lock
        self.settings, self.strict = settings, strict
        self._options = dict(embed_model=embed_model, polarity=polarity,
                             chunk_images=chunk_images, check_names=check_names)
        self._named = named
        if classes is not None and labelled is False:
            raise SettingsError("class names name labels: give labelled=True with classes")
        self._labelled = True if classes is not None and labelled is None else labelled
        self._metadata, self._classes = metadata, classes
        if source_channels and len(settings.image_shape) != 3:
            raise SettingsError("source channels are stored for a colour model's images only")
        self._sources = source_channels
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
            self._encoder = StreamEncoder(f, settings, polarity=polarity, append=decoder,
                                          classes=classes)
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
               lock: WriteLock | None = None, classes=None) -> "ArchiveWriter":
        """A writer that adds images to the version 5 or 6 archive ``path`` with its own
        settings (``lock``: held already by the caller; else taken here); ``classes``:
        the archive's class names, with more after them."""
        own_lock = lock is None
        lock = WriteLock(path).acquire() if own_lock else lock
        try:
            f = open_regular(path, mode="r+b")
            try:
                prefix = f.read(container.MAX_PREFIX)
                f.seek(0)
                if not is_chunked(prefix):
                    container.read_prefix(prefix)  # a clear error for what is no .vaez file
                    raise SettingsError(f"{path} is a version {prefix[4]} file; only version "
                                        "5 and 6 files (written by vaecodec 2.0 and later) "
                                        "can be appended to")
                decoder = ArchiveDecoder(f, zoo)
                settings = searching(decoder.settings, search)
                return cls(None, settings, polarity=polarity, strict=strict, lock=lock,
                           append_to=Appending(path, f, decoder), classes=classes)
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

    @property
    def header(self) -> chunked.FileHeader:
        """The file header of the archive appended to (an appending writer only)."""
        if self._append_state is None or self._encoder is None:
            raise SettingsError("only an appending writer knows its header before writing")
        return self._encoder.header

    @property
    def stored_classes(self) -> tuple[str, ...] | None:
        """The class names of the archive appended to (an appending writer only)."""
        if self._append_state is None or self._encoder is None:
            raise SettingsError("only an appending writer has stored class names")
        return self._encoder.classes

    def add_classes(self, classes) -> None:
        """Set the class names (before the first ``write``), or, appending, extend the
        archive's (its names first)."""
        if self._encoder is None:
            self._classes = classes
            if self._labelled is None:
                self._labelled = True
        else:
            self._encoder.classes = self._encoder.check_classes(classes,
                                                                self._encoder.classes or ())

    def on_progress(self, callback: Callable[[int], None] | None) -> None:
        """``callback(images coded so far)`` as chunks are coded (within a residual chunk
        too)."""
        self._progress = callback
        if self._encoder is not None:
            self._encoder.on_progress = callback

    def write(self, images, names=None, labels=None, meta=None, channels=None) -> None:
        """Add images (uint8 (N, H, W) or (H, W), float in [0, 1], or a torch tensor) and,
        for a named archive, their names (distinct from every name already in it); for a
        labelled one, their labels (integers); ``meta``: a dict (or None) per image;
        ``channels``: per image, its source's channel count (an archive that stores them;
        ignored by one that does not)."""
        if self.closed:
            raise SettingsError("the archive is closed")
        if self._encoder is None:
            named = (names is not None) if self._named is None else self._named
            labelled = (labels is not None) if self._labelled is None else self._labelled
            with_meta = (meta is not None) if self._metadata is None else self._metadata
            sources = (channels is not None) if self._sources is None else self._sources
            if sources and len(self.settings.image_shape) != 3:
                raise SettingsError("source channels are stored for a colour model's images "
                                    "only")
            fields = (("label",) * labelled + ("meta",) * with_meta
                      + ("channels",) * sources)
            self._encoder = StreamEncoder(self._out, self.settings, named=named,
                                          fields=fields, classes=self._classes,
                                          **self._options)
            self._encoder.on_progress = self._progress
        self._encoder.write(images, names, labels, meta, channels)

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

