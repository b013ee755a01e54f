"""Unchunked files (versions 1 to 4, up to ``chunked.CHUNK_IMAGES`` images): written in one
piece (``encode_whole``) and read whole (``reconstruct``; ``WholeDecoder`` puts such a
file behind the ``Decoder`` protocol as its one chunk)."""

from __future__ import annotations

import dataclasses
import functools
from typing import Callable, Iterator

import numpy as np

from ..core import coders, quantize, runtime
from ..core import pixels as pixel_conv
from ..format import chunked, container
from ..pipeline.chunk import (
    apply_polarity,
    base_layer,
    inverted_flags,
    network_pixels,
)
from ..pipeline.guard import guard
from ..pipeline.settings import (
    Settings,
    check_count,
    pixel_model_for,
    settings_for,
    zoo_for,
)
from ..zoo import Zoo


def encode_whole(settings: Settings, unit: np.ndarray, exact: np.ndarray | None, names,
                  progress, embedded: bytes, strict: bool, on_quality, polarity: str) -> bytes:
    """One unchunked file (version 2, 3 or 4) of images in ``pixel_rows``'s form."""
    count = len(unit)
    unit, exact, inverted = apply_polarity(settings, unit, exact, polarity)
    net = settings.vae()
    pixel_model = coder = None
    if settings.max_error is not None:
        pixel_model = settings.zoo.pixel_model(settings.pixel_model)
        coder = coders.residual_coder(settings.max_error, pixel_model.coding)
    symbols, payload, dtype = base_layer(settings, unit, coder is None or coder.base_layer)
    if settings.max_error is None:  # exact and bounded files need no warning
        guard(settings, exact if exact is not None else pixel_conv.to_uint8(unit), symbols,
              strict, on_quality)
    header = container.Header(
        model_id=settings.model.model_id,
        latent_size=net.latent_size,
        image_shape=None,  # the model's
        count=count,
        quant_step=None if settings.level else settings.quant_step,
        level=settings.level.level if settings.level else None,
        coder=settings.coder,
        symbol_dtype=dtype,
        names=names,
        inverted=inverted,
    )
    if coder is None:
        if progress:
            progress(count, count)
        return container.pack(header, payload, model=embedded)
    if exact is None:  # float input (checked to be in [0, 1]): the uint8 pixels it rounds to
        exact = pixel_conv.to_uint8(unit)
    chunks = coder.encode(pixel_model, exact, symbols, settings.max_error, progress)
    header = dataclasses.replace(header, residual=container.Residual(
        pixel_model.model_id, settings.max_error, tuple(len(c) for c in chunks), coder.layout))
    return container.pack(header, payload, b"".join(chunks), embedded)


def decode_symbols(archive: container.Archive, settings: Settings) -> np.ndarray:
    """The latent symbols (count, latent_size) of a checked file; (count, 0) for a file
    without a base layer (residual layout 5)."""
    header = archive.header
    return coders.decode_base_layer(header.residual, header.coder, archive.payload,
                                    header.count, header.latent_size, header.symbol_dtype,
                                    settings.prior(), "the file")


def reconstruct_batches(archive: container.Archive, zoo: Zoo | None = None,
                        progress: Callable[[int, int], None] | None = None
                        ) -> Iterator[np.ndarray]:
    """The uint8 images (n, H, W) of a checked file, a batch at a time, in order: memory
    for one batch besides the latent symbols. ``progress(done, total)`` as images are
    decoded."""
    header = archive.header
    settings = settings_for(header, zoo_for(archive, zoo))
    symbols = decode_symbols(archive, settings)
    net = settings.vae()
    shape = net.image_shape
    flags = inverted_flags(header.inverted, header.count)

    def restored(start: int, pixels: np.ndarray) -> np.ndarray:
        if flags is not None:
            rows = flags[start : start + len(pixels)]
            pixels[rows] = 255 - pixels[rows]
        return pixels.reshape(len(pixels), *shape)

    if header.residual is None:
        for i in range(0, header.count, runtime.BATCH):
            pixels = network_pixels(settings, symbols[i : i + runtime.BATCH])
            if progress:
                progress(i + len(pixels), header.count)
            yield restored(i, pixels)
        return
    pixel_model = pixel_model_for(settings, header.level)
    layer = header.residual
    coder = coders.RESIDUAL_CODERS[layer.layout]
    done = 0
    for pixels in coder.decode(pixel_model, archive.residual, layer.chunk_sizes, symbols,
                               layer.max_error, progress):
        yield restored(done, pixels)
        done += len(pixels)


def reconstruct(archive: container.Archive, zoo: Zoo | None = None,
                progress: Callable[[int, int], None] | None = None) -> np.ndarray:
    """uint8 images (N, H, W) of a checked file; ``progress(done, total)`` as images are
    decoded."""
    batches = reconstruct_batches(archive, zoo, progress)
    first = next(batches)
    out = np.empty((archive.header.count, *first.shape[1:]), dtype=np.uint8)
    out[: len(first)] = first
    done = len(first)
    for batch in batches:
        out[done : done + len(batch)] = batch
        done += len(batch)
    return out


class WholeDecoder:
    """An unchunked (version 1 to 4) file behind the ``ArchiveDecoder`` interface: one
    chunk, decoded whole on first use."""

    def __init__(self, f, zoo: Zoo | None, max_images: int):
        self.f = f
        parsed = container.read_header(f)
        f.seek(0)
        self.archive = container.unpack(f.read(), parsed)
        check_count(self.archive.header, max_images)
        self.info = self.archive.header
        self.named = self.info.names is not None
        self.trailing = 0
        self.index_error: str | None = None  # a whole file is never scanned
        self.tail_known = True
        self.zoo = zoo
        self._images: np.ndarray | None = None
        count = self.info.count
        self.index = chunked.Index(count, (chunked.ChunkEntry(0, 0, count, 0),), (), 0, 0)

    @functools.cached_property
    def settings(self) -> Settings:
        return settings_for(self.info, zoo_for(self.archive, self.zoo))

    def __len__(self) -> int:
        return self.info.count

    def prepare(self) -> None:
        """Decode the file now (before a fork, the processes forked share its images)."""
        self.decode_chunk(None)

    fields: tuple[str, ...] = ()  # no labels nor metadata before version 6
    classes = None

    def labels(self, rows) -> np.ndarray:
        raise ValueError("the file stores no labels")

    def meta(self, rows) -> list:
        raise ValueError("the file stores no metadata")


    def read_chunk(self, n: int, names: bool = True, meta: bool = True) -> chunked.Chunk:
        """The file as its one chunk (``decode_chunk`` decodes the whole file)."""
        a = self.archive
        return chunked.Chunk(0, 0, self.info.count, a.payload, a.residual, self.info.names,
                             self.info.inverted)

    def decode_chunk(self, chunk, rows=None) -> np.ndarray:
        if self._images is None:
            self._images = reconstruct(self.archive, self.zoo)
        return self._images if rows is None else self._images[rows]

    def images(self, rows: np.ndarray) -> np.ndarray:
        return self.decode_chunk(None, rows)

    def image(self, i: int) -> np.ndarray:
        return self.decode_chunk(None, [i])[0]

    def chunks(self, progress=None):
        for start, images in _batches(reconstruct_batches(self.archive, self.zoo,
                                                                 progress)):
            yield start, images

    def names(self):
        return self.info.names

    def latents(self) -> np.ndarray:
        settings = self.settings
        coders.check_latents_stored(self.info.residual)
        return quantize.dequantize(decode_symbols(self.archive, settings),
                                   settings.quant_step)


def _batches(batches):
    start = 0
    for images in batches:
        yield start, images
        start += len(images)
