"""``ArchiveDecoder``: a version 5 or 6 file read at random from a seekable binary file
object, a chunk at a time, with caches of decoded images, of lossy chunks' symbols and of
labels and metadata; an index found by scanning the file when it is damaged (salvage)."""

from __future__ import annotations

import collections
import dataclasses
import functools
from typing import Callable

import numpy as np

from ..core import coders, quantize
from ..errors import CorruptPayloadError, FormatError
from ..format import chunked, container, shapes
from ..format.sniff import info_header, summarize
from ..pipeline.chunk import inverted_flags, network_pixels
from ..pipeline.settings import Settings, pixel_model_for, settings_for, zoo_with
from ..zoo import Zoo


class ArchiveDecoder:
    """A version 5 file read from a seekable binary file object: its header and index are
    read and checked when it opens; a read reads the chunks of the images asked for and
    decodes those images, or whole chunks (decoded images, and lossy chunks' symbols, are
    kept up to a memory budget each: ``images``). An append
    that did not finish (bytes after the last complete index) is skipped over:
    ``trailing`` says how many bytes."""

    PIXEL_CACHE_BYTES = 128 * 2**20  # whole decoded chunks kept (40 of 4,096 digits)
    SYMBOL_CACHE_BYTES = 64 * 2**20  # lossy chunks' symbols kept (a few hundred chunks)
    LABEL_CACHE_CHUNKS = 1024  # chunks whose labels are kept (32 MB at most)
    META_CACHE_CHUNKS = 16  # ... whose metadata are kept

    def __init__(self, f, zoo: Zoo | None = None, *, scan_if_damaged: bool = False,
                 recover: bool = True):
        self.f = f
        self.header, model = chunked.read_file_header(f)
        size = f.seek(0, 2)
        self.index_error: str | None = None  # why the index was not used (scanned)
        self.tail_known = True  # scanned: whether no image can follow the last chunk found
        try:
            self.index = chunked.read_index(f, self.header, size, recover=recover)
        except FormatError as e:
            if not scan_if_damaged:
                raise
            self.index_error = str(e)
            self.index = self._scanned_index(size)
        self.trailing = size - self.index.end
        self.model = model or None
        self.info = info_header(self.header, self.index.count, model_size=len(model),
                                classes=self.index.classes)
        self._zoo, self._settings = zoo, None
        self._starts = [entry.first for entry in self.index.chunks]
        self._starts_array = np.asarray(self._starts, dtype=np.int64)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        # lossy chunks being filled image by image: n -> (pixels, which rows are decoded)
        self._filling: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._symbol_cache: collections.OrderedDict = collections.OrderedDict()
        self._symbol_bytes = self._pixel_bytes = 0
        self._summary: container.Header | None = None
        self._label_cache: collections.OrderedDict = collections.OrderedDict()
        # the last chunk read, with whether its names and metadata were unpacked
        self._last_chunk: tuple[int, bool, bool, chunked.Chunk] | None = None
        self._meta_cache: collections.OrderedDict = collections.OrderedDict()
        self._channels_cache: collections.OrderedDict = collections.OrderedDict()
        # find_name: the chunks whose headers were read, and which chunk listed each name
        self._listed_chunks = 0
        self._listed: dict[str, int] = {}
        self._header_guess = chunked.HEADER_GUESS

    @property
    def named(self) -> bool:
        return self.header.named

    @property
    def fields(self) -> tuple[str, ...]:
        """The per-image fields the chunks store ("label", "meta"; version 6; "channels",
        version 7)."""
        return self.header.fields

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The names of labels 0, 1, ... (version 6, when the writer gave them)."""
        return self.index.classes

    @property
    def settings(self) -> Settings:
        """The models and level the file names, resolved on first use (with the family it
        carries)."""
        if self._settings is None:
            h = self.header
            zoo = zoo_with(self.model, h.model_id,
                            None if h.residual is None else h.residual.model_id, self._zoo)
            settings = settings_for(self.info, zoo)
            if settings.max_error is not None:
                pixel_model_for(settings, h.level)
            self._settings = settings
        return self._settings

    def __len__(self) -> int:
        return self.index.count

    def prepare(self) -> None:
        """Load the models the file needs now (before a fork, the processes forked then
        share them instead of each loading its own: a DataLoader's workers)."""
        settings = self.settings
        if self.header.residual is None:
            self._network(np.zeros((0, self.header.latent_size), dtype=np.int32))
        else:
            settings.zoo.pixel_model(settings.pixel_model)

    def chunk_of(self, i: int) -> int:
        """The number of the chunk holding image ``i``."""
        import bisect

        n = bisect.bisect_right(self._starts, i) - 1
        if self.index_error is not None:
            self._check_found(np.array([i]), np.array([n]))
        return n

    @functools.cached_property
    def _ends_array(self) -> np.ndarray:
        """One past each chunk's last image (made once, for the scanned index's checks)."""
        return self._starts_array + np.asarray([e.count for e in self.index.chunks],
                                               dtype=np.int64)

    def _chunks_of(self, rows: np.ndarray) -> np.ndarray:
        """The chunk number of each file-wide position in ``rows`` (int64, in range)."""
        chunks = np.searchsorted(self._starts_array, rows, side="right") - 1
        if self.index_error is not None:
            self._check_found(rows, chunks)
        return chunks

    def _check_found(self, rows: np.ndarray, chunks: np.ndarray) -> None:
        """Chunks found by scanning leave gaps where chunks were lost: a position there
        is an error, not another chunk's image."""
        inside = chunks >= 0
        inside[inside] = rows[inside] < self._ends_array[chunks[inside]]
        if not inside.all():
            lost = int(rows[~inside][0])
            raise CorruptPayloadError(f"image {lost} is in a damaged part of the archive "
                                      "(its chunk was not found)")

    def read_chunk(self, n: int, names: bool = True, meta: bool = True) -> chunked.Chunk:
        """Chunk ``n``, checked (``names=False``, ``meta=False``: without its names or
        metadata, to read its images); its labels are kept for ``labels``."""
        last = self._last_chunk
        if last is not None and last[0] == n and last[1] >= names and last[2] >= meta:
            return last[3]  # read a moment ago (a lookup by name confirmed it)
        if self.index_error is None:
            chunk = chunked.read_chunk(self.f, self.header, self.index, n, names, meta)
        else:
            entry = self.index.chunks[n]  # found by scanning: the chunk's own header rules
            self.f.seek(entry.offset)
            chunk = chunked.parse_chunk(self.f.read(entry.size), self.header, names, meta)
        if chunk.labels is not None:
            _keep(self._label_cache, n, np.asarray(chunk.labels, dtype=np.int64),
                  self.LABEL_CACHE_CHUNKS)
        if chunk.meta is not None:
            _keep(self._meta_cache, n, chunk.meta, self.META_CACHE_CHUNKS)
        if chunk.channels is not None:
            _keep(self._channels_cache, n, np.frombuffer(chunk.channels, dtype=np.uint8),
                  self.LABEL_CACHE_CHUNKS)
        self._last_chunk = (n, names, meta, chunk)
        return chunk

    def _extras_of(self, cache: collections.OrderedDict, rows: np.ndarray, meta: bool):
        """(chunk number, rows within it, positions in ``rows``) for each chunk of
        ``rows``, each chunk's labels (or metadata) read into ``cache`` first."""
        rows = np.asarray(rows, dtype=np.int64)
        chunks = self._chunks_of(rows)
        for n in np.unique(chunks):
            n = int(n)
            if n in cache:
                cache.move_to_end(n)
            else:
                self.read_chunk(n, names=False, meta=meta)
            where = np.flatnonzero(chunks == n)
            yield cache[n], rows[where] - self._starts[n], where

    def labels(self, rows) -> np.ndarray:
        """The int64 labels of the images at file-wide positions ``rows`` (in range) of a
        labelled file."""
        if not self.header.labelled:
            raise ValueError("the file stores no labels")
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty(len(rows), dtype=np.int64)
        for labels, local, where in self._extras_of(self._label_cache, rows, False):
            out[where] = labels[local]
        return out

    def source_channels(self, rows) -> np.ndarray:
        """The channels (uint8) of the images the ones at ``rows`` (in range) were made
        from: the file's own where it does not store them."""
        rows = np.asarray(rows, dtype=np.int64)
        if "channels" not in self.header.fields:
            shape = self.header.image_shape
            return np.full(len(rows), shapes.channels(shape) if shape else 1, dtype=np.uint8)
        out = np.empty(len(rows), dtype=np.uint8)
        for channels, local, where in self._extras_of(self._channels_cache, rows, False):
            out[where] = channels[local]
        return out

    def meta(self, rows) -> list:
        """The metadata (a dict or None each) of the images at ``rows`` (in range) of a file
        that stores metadata."""
        if "meta" not in self.header.fields:
            raise ValueError("the file stores no metadata")
        rows = np.asarray(rows, dtype=np.int64)
        out: list = [None] * len(rows)
        for entries, local, where in self._extras_of(self._meta_cache, rows, True):
            for k, j in zip(where, local):
                entry = entries[j]
                out[k] = None if entry is None else dict(entry)
        return out

    def _scanned_index(self, size: int) -> chunked.Index:
        """An index of the intact chunks found by scanning the file (salvage). Positions
        are those the chunks' own headers give (the images of a chunk not found are
        missing in between); ``tail_known`` says whether the last chunk found is known to
        be the file's last: it ends where a well-formed trailer says the index starts."""
        entries, seen = [], set()
        for offset, length, chunk in chunked.scan_chunks(self.f, self.header, size):
            if chunk.first in seen:  # two chunks claim the same images: keep the first
                continue
            seen.add(chunk.first)
            entries.append(chunked.ChunkEntry(offset, length, chunk.count, chunk.first))
        entries.sort(key=lambda e: e.first)
        kept, end = [], 0
        for entry in entries:  # overlapping claims (a hostile file): the first wins
            if entry.first >= end:
                kept.append(entry)
                end = entry.first + entry.count
        trailer = chunked.trailer_at(self.f, size, self.header.size)
        last = max((e.offset + e.size for e in kept), default=self.header.size)
        self.tail_known = trailer is not None and trailer[0] == last
        return chunked.Index(end, tuple(kept), (), size, size)

    def symbols(self, chunk: chunked.Chunk) -> np.ndarray:
        header = self.header
        return coders.decode_base_layer(header.residual, header.coder, chunk.payload,
                                        chunk.count, header.latent_size, chunk.symbol_dtype,
                                        self.settings.prior(), f"chunk {chunk.seq}")

    def decode_chunk(self, chunk: chunked.Chunk, rows=None, progress=None,
                     symbols: np.ndarray | None = None) -> np.ndarray:
        """uint8 images (n, H, W) of a chunk's ``rows`` (default: all); ``progress(images
        done, n)`` within a residual chunk; ``symbols``: the chunk's, when decoded already."""
        settings = self.settings
        if symbols is None:
            symbols = self.symbols(chunk)
        rows = np.arange(chunk.count) if rows is None else np.asarray(rows)
        if chunk.residual is None:
            pixels = self._network(symbols[rows])
        else:
            coder = coders.RESIDUAL_CODERS[self.header.residual.layout]
            pixels = coder.decode_one(settings.zoo.pixel_model(settings.pixel_model),
                                      chunk.residual, symbols, settings.max_error,
                                      f"residual of chunk {chunk.seq}", progress)[rows]
        return self._restored(pixels, chunk, rows)

    def _network(self, symbols: np.ndarray) -> np.ndarray:
        """The lossy images (n, H*W) of the latent ``symbols`` (n, latent size)."""
        return network_pixels(self.settings, symbols)

    def _restored(self, pixels: np.ndarray, chunk: chunked.Chunk, rows: np.ndarray
                  ) -> np.ndarray:
        """Decoded ``pixels`` (n, H*W) of a chunk's ``rows`` in their own polarity, (n, H, W)."""
        flags = inverted_flags(chunk.inverted, chunk.count)
        if flags is not None:
            flipped = flags[rows]
            pixels[flipped] = 255 - pixels[flipped]
        return pixels.reshape(len(rows), *self.settings.image_shape)

    def _pixels_of(self, n: int) -> np.ndarray:
        """The decoded images of chunk ``n``, through a small cache."""
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n]
        chunk = self.read_chunk(n, names=False, meta=False)
        known = self._symbol_cache.get(n)
        pixels = self.decode_chunk(chunk, symbols=None if known is None else known[0])
        self._cache[n] = pixels
        self._pixel_bytes += pixels.nbytes
        while self._pixel_bytes > self.PIXEL_CACHE_BYTES and len(self._cache) > 1:
            self._pixel_bytes -= self._cache.popitem(last=False)[1].nbytes
        return pixels

    def _symbols_of(self, n: int) -> tuple[np.ndarray, chunked.Chunk]:
        """A lossy chunk's symbols (and the chunk without its payload), through a cache of
        SYMBOL_CACHE_BYTES: reading one image then costs one network evaluation."""
        if n in self._symbol_cache:
            self._symbol_cache.move_to_end(n)
            return self._symbol_cache[n]
        chunk = self.read_chunk(n, names=False, meta=False)
        entry = (self.symbols(chunk), dataclasses.replace(chunk, payload=b""))
        self._symbol_cache[n] = entry
        self._symbol_bytes += entry[0].nbytes
        while self._symbol_bytes > self.SYMBOL_CACHE_BYTES and len(self._symbol_cache) > 1:
            self._symbol_bytes -= self._symbol_cache.popitem(last=False)[1][0].nbytes
        return entry

    def image(self, i: int) -> np.ndarray:
        """The uint8 image (H, W) at file-wide position ``i`` (in range): a cached image
        without any array work. Read one at a time (a DataLoader without batched reads),
        images are decoded a chunk at a time, as reading in order wants."""
        n = self.chunk_of(i)
        local = i - self._starts[n]
        pixels = self._cache.get(n)
        if pixels is None:
            filling = self._filling.get(n)
            if filling is not None and filling[1][local]:
                return filling[0][local].copy()
            if not self._keeps_all:
                return self.images(np.array([i]))[0]
            start = self._starts[n]
            self.images(np.arange(start, start + self.index.chunks[n].count))
            pixels = self._cache[n]
        return pixels[local].copy()

    @functools.cached_property
    def _keeps_all(self) -> bool:
        """Whether every decoded image is kept: a lossy archive whose images all fit the
        pixel cache (the reads of a shuffled epoch then cost one network pass per image,
        and none once all are decoded)."""
        size = int(np.prod(self.settings.image_shape))
        return self.header.residual is None and self.index.count * size <= self.PIXEL_CACHE_BYTES

    def images(self, rows: np.ndarray) -> np.ndarray:
        """uint8 images (len(rows), H, W) at file-wide positions ``rows`` (in range)."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.settings.image_shape), dtype=np.uint8)
        chunks = self._chunks_of(rows)
        if self._keeps_all:
            self._filled(out, rows, chunks)
            return out
        for n in np.unique(chunks):
            n = int(n)
            where = np.flatnonzero(chunks == n)
            local = rows[where] - self._starts[n]
            entry = self.index.chunks[n]
            if n in self._cache or self.header.residual is not None or (
                    len(where) > entry.count // 4):  # the whole chunk: keep it
                out[where] = self._pixels_of(n)[local]
            else:
                symbols, chunk = self._symbols_of(n)
                out[where] = self.decode_chunk(chunk, local, symbols=symbols)
        return out

    def _filled(self, out: np.ndarray, rows: np.ndarray, chunks: np.ndarray) -> None:
        """``out[:] =`` the images at ``rows`` (in chunks ``chunks``) of a lossy archive that
        fits the pixel cache: those not decoded before are decoded in one network pass and
        kept (a chunk whose images are all decoded becomes an ordinary cached chunk)."""
        wanted, todo = [], []
        for n in np.unique(chunks):
            n = int(n)
            where = np.flatnonzero(chunks == n)
            local = rows[where] - self._starts[n]
            wanted.append((n, where, local))
            if n in self._cache:
                continue
            filling = self._filling.get(n)
            if filling is None:
                count = self.index.chunks[n].count
                filling = (np.empty((count, *self.settings.image_shape), dtype=np.uint8),
                           np.zeros(count, dtype=bool))
                self._filling[n] = filling
                self._pixel_bytes += filling[0].nbytes
            missing = np.unique(local[~filling[1][local]])
            if len(missing):
                todo.append((n, missing, *self._symbols_of(n)))
        if todo:
            pixels = self._network(np.concatenate([symbols[missing]
                                                   for _, missing, symbols, _ in todo]))
            start = 0
            for n, missing, _, chunk in todo:
                kept, done = self._filling[n]
                kept[missing] = self._restored(pixels[start : start + len(missing)], chunk,
                                               missing)
                start += len(missing)
                done[missing] = True
                if done.all():  # complete: an ordinary cached chunk from now on
                    del self._filling[n]
                    self._cache[n] = kept
        for n, where, local in wanted:
            out[where] = (self._cache[n] if n in self._cache else self._filling[n][0])[local]

    def chunks(self, progress: Callable[[int, int], None] | None = None):
        """(first image's position, uint8 images (n, H, W)) of every chunk, in order."""
        for n, entry in enumerate(self.index.chunks):
            within = None if progress is None else (
                lambda done, _, first=entry.first: progress(first + done, self.index.count))
            chunk = self.read_chunk(n, names=False, meta=False)
            images = self.decode_chunk(chunk, progress=within)
            if progress:
                progress(entry.first + entry.count, self.index.count)
            yield entry.first, images

    def find_name(self, name: str) -> int | None:
        """The position of the image stored as ``name`` (None: no such image), reading the
        chunks' headers one after another and only then the chunk that lists it, whole,
        which confirms it (its CRC-32 covers its names): for a file read over a network,
        where reading every chunk whole for its names would fetch the whole file. The
        names of the headers read are kept: a later lookup of a name they list reads
        only its chunk, and once every header has been read no lookup reads another."""
        n = self._listed.get(name)
        while n is None and self._listed_chunks < len(self.index.chunks):
            n = self._list_next_chunk(name)
        if n is None:
            return None
        confirmed = self.read_chunk(n, meta=False).names  # the CRC-32 checked
        if confirmed is None or name not in confirmed:
            return None
        return self.index.chunks[n].first + confirmed.index(name)

    def _list_next_chunk(self, name: str) -> int | None:
        """Read the next unread chunk's header, keep the names it lists; its number if
        ``name`` is among them."""
        n = self._listed_chunks
        try:
            listed, size = chunked.read_chunk_names(self.f, self.header, self.index, n,
                                                    self._header_guess)
            self._header_guess = size + size // 4  # the next chunk's is about as long
        except FormatError:
            listed = self.read_chunk(n, meta=False).names or ()  # damaged: checked reading
        self._listed_chunks += 1
        for listed_name in listed:
            self._listed.setdefault(listed_name, n)  # names are unique; a second is damage
        return n if name in listed else None

    def names(self) -> tuple[str, ...] | None:
        """Every image's name (reading each chunk's header), or None when none are stored."""
        if not self.header.named:
            return None
        return self.summary().names

    def summary(self, names: bool = True) -> container.Header:
        """The file's header with what its chunks hold: names, payload and residual sizes,
        inverted images (reading every chunk, decoding none). ``names=False``: the names
        are not unpacked (the header's ``names`` is None, ``names_stored_size`` counts
        them), so that memory does not grow with the number of images."""
        if self._summary is not None:
            return self._summary
        summary = summarize(self.header, self.index,
                            lambda n, listed: self.read_chunk(n, names=listed, meta=False),
                            names)
        if names:
            self._summary = summary
        return summary

    def latents(self) -> np.ndarray:
        settings = self.settings
        coders.check_latents_stored(self.header.residual)
        out = np.empty((self.index.count, self.header.latent_size), dtype=np.float32)
        for n, entry in enumerate(self.index.chunks):
            out[entry.first : entry.first + entry.count] = quantize.dequantize(
                self.symbols(self.read_chunk(n, names=False, meta=False)), settings.quant_step)
        return out



def _keep(cache: collections.OrderedDict, key, value, most: int) -> None:
    """Put ``value`` in the LRU ``cache`` of at most ``most`` entries."""
    cache[key] = value
    cache.move_to_end(key)
    while len(cache) > most:
        cache.popitem(last=False)
