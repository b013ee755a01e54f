"""``StreamEncoder``: a version 5 file (version 6 with labels or metadata per image)
written to a binary file object in one pass, a chunk at a time (memory for one chunk,
whatever the count), or appended to."""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..core import coders
from ..core import pixels as pixel_conv
from ..errors import DuplicateNameError, InvalidArrayError, SettingsError
from ..format import chunked, container, shapes
from ..format import fields as per_image
from ..pipeline.chunk import (
    apply_polarity,
    as_array,
    base_layer,
    image_names,
    pixel_rows,
)
from ..pipeline.guard import GuardTally, QualityReport, judge
from ..pipeline.settings import Settings, check_writing, coding, embedded_family

if TYPE_CHECKING:
    from .decoder import ArchiveDecoder

def name_key(name: str) -> bytes:
    """8 bytes standing for a name in the writer's set of names (bounded memory)."""
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()


class StreamEncoder:
    """Writes a version 5 file to a binary file object in one pass, a chunk of
    ``chunk_images`` images at a time: memory for one chunk, whatever the count.

    ``named``: whether images carry names (then every ``write`` gives one per image).
    ``fields``: the per-image fields stored besides ("label": every ``write`` gives one
    per image; "meta": a write may leave it out; "channels", colour only: the channels of
    each image's source, a write that leaves them out gives the file's); with any, the
    file is version 6 (version 7 for colour).
    ``classes``: the names of labels 0, 1, ... (a labelled file only; appending: the
    archive's, extended).
    ``check_names``: refuse a name given twice (keeping 8 bytes per name); False when
    the caller knows they are distinct (compress of files).
    ``append``: an ``ArchiveDecoder`` of the file ``out`` holds, positioned at its end, to
    add chunks to (its settings, names and polarity rule are kept)."""

    def __init__(self, out, settings: Settings, *, embed_model: bool = False,
                 polarity: str = "auto", named: bool = False,
                 chunk_images: int = chunked.CHUNK_IMAGES, append: "ArchiveDecoder | None" = None,
                 check_names: bool = True, fields: tuple[str, ...] = (),
                 classes=None):
        check_writing(settings, embed_model, polarity, chunk_images)
        self.out, self.settings, self.polarity = out, settings, polarity
        self.chunk_images = chunk_images
        self.tally = GuardTally(settings)
        # images written, not yet coded: (unit, exact or None, names, labels, metadata,
        # source channels)
        self.pending: list[tuple] = []
        self.pending_count = 0
        self.pixel_model = (settings.zoo.pixel_model(settings.pixel_model)
                            if settings.max_error is not None else None)
        self.finished = False
        # on_progress(images coded so far, this run), within a residual chunk too
        self.on_progress: Callable[[int], None] | None = None
        self._start = 0
        if append is None:
            embedded = embedded_family(settings) if embed_model else b""
            self.header = file_header(settings, len(embedded), named, fields)
            self.classes = self.check_classes(classes, ())
            self._stored_classes = None
            data = chunked.pack_header(self.header, embedded)
            out.write(data)
            self.offset, self.entries, self.dead = len(data), [], []
            self.count = 0
            self.names: set[bytes] = set()
        else:
            index = append.index
            self.header = append.header
            self.classes = self.check_classes(classes, index.classes or ())
            self._stored_classes = index.classes
            self.offset, self.entries = index.end, list(index.chunks)
            self.dead = list(index.dead) + [(index.offset, index.end - index.offset)]
            self.count = self._start = index.count
            self.names = ({name_key(n) for n in append.names()} if self.header.named
                          else set())
            out.seek(self.offset)  # reading the names moved it
        self.named = self.header.named
        self.check_names = check_names or append is not None

    def check_classes(self, given, stored: tuple[str, ...]) -> tuple[str, ...] | None:
        """The class names the file will hold: ``stored`` (an archive appended to), which
        ``given`` may only extend."""
        if given is None:
            return stored or None
        classes = per_image.classes_for_writing(given)
        if not self.header.labelled:
            raise SettingsError("class names name labels: this archive stores no labels")
        if classes[: len(stored)] != stored:
            raise SettingsError("the archive's class names are "
                                + ", ".join(map(repr, stored[:5]))
                                + (", ..." if len(stored) > 5 else "")
                                + ": new class names may only be added after them")
        return classes or None

    def write(self, images, names=None, labels=None, meta=None, channels=None) -> None:
        """Add images (as ``encode`` takes them) with their names, labels, metadata and
        (a file that stores them) the channels of their sources; full chunks are coded and
        written at once."""
        unit, exact = pixel_rows(as_array(images), self.settings.image_shape)
        if self.named and names is None:
            raise SettingsError("this archive stores a name per image: give names")
        if not self.named and names is not None:
            raise SettingsError("this archive stores no names (it was started without them)")
        if self.header.labelled and labels is None:
            raise SettingsError("this archive stores a label per image: give labels")
        if not self.header.labelled and labels is not None:
            raise SettingsError("this archive stores no labels (it was started without them)")
        if "meta" not in self.header.fields and meta is not None:
            raise SettingsError("this archive stores no metadata (it was started without "
                                "it)")
        if labels is not None:
            labels = per_image.check_labels(labels, len(unit))
        if meta is not None:
            meta = per_image.meta_for_writing(meta, len(unit))
        elif "meta" in self.header.fields:
            meta = (None,) * len(unit)
        if "channels" in self.header.fields:
            channels = (bytes([shapes.channels(self.settings.image_shape)]) * len(unit)
                        if channels is None else per_image.check_channels(channels, len(unit)))
        else:
            channels = None  # a file that does not store them: images as the model's
        if names is not None:
            names = image_names(names, len(unit))
        if self.count + self.pending_count + len(unit) > chunked.MAX_COUNT:
            raise InvalidArrayError(f"a file holds at most {chunked.MAX_COUNT} images")
        if names is not None and self.check_names:  # distinct among themselves (image_names)
            keys = [name_key(n) for n in names]
            clash = next((n for n, k in zip(names, keys) if k in self.names), None)
            if clash is not None:
                raise DuplicateNameError(f"the archive already holds an image named {clash!r}")
            self.names.update(keys)
        self.pending.append((unit, exact, names, labels, meta, channels))
        self.pending_count += len(unit)
        while self.pending_count >= self.chunk_images:
            self._flush(self.chunk_images)

    def _take(self, rows: int):
        """The next ``rows`` pending images: (unit, exact, names, labels, metadata, source
        channels), each of the last four a tuple (bytes) or None."""
        units, exacts, taken = [], [], 0
        extras: list[list] = [[], [], [], []]  # names, labels, metadata, source channels
        while taken < rows:
            unit, exact, *given = self.pending[0]
            n = min(rows - taken, len(unit))
            units.append(unit[:n])
            exacts.append(exact[:n] if exact is not None else pixel_conv.to_uint8(unit[:n]))
            for k, values in enumerate(given):
                if values is not None:
                    extras[k].extend(values[:n])
            if n == len(unit):
                self.pending.pop(0)
            else:
                self.pending[0] = (unit[n:], None if exact is None else exact[n:],
                                   *(None if v is None else v[n:] for v in given))
            taken += n
        self.pending_count -= rows
        # a field the file stores is given for every image: an empty list is one it does not
        names, labels, meta = (tuple(v) if v else None for v in extras[:3])
        channels = bytes(extras[3]) if extras[3] else None
        return np.concatenate(units), np.concatenate(exacts), names, labels, meta, channels

    def _flush(self, rows: int) -> int:
        unit, exact, names, labels, meta, channels = self._take(rows)
        unit, exact, inverted = apply_polarity(self.settings, unit, exact, self.polarity)
        settings = self.settings
        symbols, payload, dtype = base_layer(settings, unit,
                                             coders.stores_base_layer(self.header.residual))
        residual = None
        if settings.max_error is None:
            self.tally.add(exact, symbols)
        else:
            coder = coders.RESIDUAL_CODERS[self.header.residual.layout]
            within = (None if self.on_progress is None else
                      lambda done, _: self.on_progress(self.count - self._start + done))
            residual = b"".join(coder.encode(self.pixel_model, exact, symbols,
                                             settings.max_error, within))
        chunk = chunked.Chunk(len(self.entries), self.count, rows, payload, residual,
                              names, inverted, symbol_dtype=dtype, labels=labels,
                              meta=meta, channels=channels)
        data = chunked.pack_chunk(self.header, chunk)
        self.out.write(data)
        self.entries.append(chunked.ChunkEntry(self.offset, len(data), rows, self.count))
        self.offset += len(data)
        self.count += rows
        if self.on_progress:
            self.on_progress(self.count - self._start)
        return rows

    def report(self) -> QualityReport | None:
        """The quality guard's figures over the images coded so far (lossy levels)."""
        return self.tally.report()

    def finish(self, strict: bool = False) -> QualityReport | None:
        """Code what is pending, end the file with its index, and judge the quality: a
        ``QualityWarning`` when the images reconstruct far below the level's own figures,
        with ``strict`` a ``QualityError`` (raised before the index is written, so that the
        file is incomplete). Returns the guard's figures."""
        if self.pending_count:
            self._flush(self.pending_count)
        if not self.count:
            raise InvalidArrayError("no images to encode (nothing was written)")
        if self.count == self._start and self._start and self.classes == self._stored_classes:
            # an append of nothing: as it was
            self.finished = True
            return None
        report = self.report()
        judge(report, strict, stacklevel=4)
        self.out.write(chunked.pack_index(self.offset, self.count, self.entries, self.dead,
                                          self.header, self.classes))
        self.finished = True
        return report


def file_header(settings: Settings, model_size: int = 0, named: bool = False,
                fields: tuple[str, ...] = ()) -> chunked.FileHeader:
    """The version 5 file header of files coded with ``settings`` (version 6 with per-image
    ``fields``; version 7 for a model of several channels, whose shape it records)."""
    residual = None
    if settings.max_error is not None:
        residual = container.Residual(settings.pixel_model.model_id, settings.max_error, (),
                                      coders.residual_coder(settings.max_error,
                                                            coding(settings)).layout)
    # the file's coder id; each chunk records its own symbol type (zstd: the narrowest)
    return chunked.FileHeader(settings.model.model_id, settings.vae().latent_size,
                              settings.level.level if settings.level else None,
                              None if settings.level else settings.quant_step,
                              settings.coder, "int32", residual, model_size, named,
                              fields=per_image.check_fields(list(fields)),
                              image_shape=(settings.image_shape
                                           if len(settings.image_shape) == 3 else None))

