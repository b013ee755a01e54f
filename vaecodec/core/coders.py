"""The coders, in one table: how latent symbols and residual layers become bytes and back.

``CODERS`` maps a coder's name (what a file's header names, through the wire ids of
``vaecodec.format.container.CODERS``) to its implementation; ``RESIDUAL_CODERS`` maps a
residual payload layout to its. A new coder is one entry here (and its wire id in the
format). Decoding never trusts the bytes: anything that does not decode is a
``CorruptPayloadError``.
"""

from __future__ import annotations

import contextlib
from typing import Callable, Protocol

import numpy as np

from ..errors import CorruptPayloadError, InputError
from ..format import container
from . import entropy


class LatentCoder(Protocol):
    name: str
    needs_prior: bool  # the range coder codes with a level's prior tables

    def encode(self, symbols: np.ndarray, prior: entropy.Prior | None) -> tuple[bytes, str]:
        """Symbols (N, D) -> (payload, the symbol type the header records)."""

    def decode(self, payload: bytes, count: int, latent_size: int, symbol_dtype: str,
               prior: entropy.Prior | None) -> np.ndarray:
        """The symbols (count, latent_size) of a payload."""


@contextlib.contextmanager
def _decoding(what: str):
    """Turn whatever a decoder raises on bad data into CorruptPayloadError."""
    try:
        yield
    except (KeyboardInterrupt, SystemExit, MemoryError, CorruptPayloadError):
        raise
    except BaseException as e:  # constriction reports bad data as errors (or Rust panics)
        raise CorruptPayloadError(f"{what} does not decode ({e})") from None


class ZstdCoder:
    """One zstd frame of the symbols in the narrowest integer type, dimension-major: each
    latent dimension's symbols sit together, which compresses better than image-major."""

    name = "zstd"
    needs_prior = False

    def encode(self, symbols, prior=None):
        import zstandard

        dtype = symbols.dtype.name
        raw = np.ascontiguousarray(np.asarray(symbols).T, dtype=np.dtype(dtype).newbyteorder("<"))
        return zstandard.ZstdCompressor(level=container.ZSTD_LEVEL).compress(raw.tobytes()), dtype

    def decode(self, payload, count, latent_size, symbol_dtype, prior=None):
        dtype = np.dtype(symbol_dtype).newbyteorder("<")
        raw = container.decompress_exact(payload, count * latent_size * dtype.itemsize,
                                         "payload")
        return np.frombuffer(raw, dtype=dtype).reshape(latent_size, count).T


class RangeCoder:
    """constriction's range coder with a level's integer prior tables."""

    name = "range"
    needs_prior = True

    def encode(self, symbols, prior):
        return entropy.range_encode(symbols, prior), "int32"

    def decode(self, payload, count, latent_size, symbol_dtype, prior):
        with _decoding("range-coded payload"):
            return entropy.range_decode(payload, prior, count)


CODERS: dict[str, LatentCoder] = {"range": RangeCoder(), "zstd": ZstdCoder()}


class ResidualLayout1:
    """Residual layout 1 (docs/format.md): chunks of ``container.RESIDUAL_CHUNK`` images,
    each one range-coded stream of the pixel model's probabilities; with max_error K,
    levels 0, 2K+1, 2(2K+1), ... and 255."""

    layout = 1
    both_ends = False  # residual.quantization_levels
    # what the pixel model codes (its ``coding``): "values" as they are (layouts 1 and 2),
    # their "differences" from a prediction (layout 3), or a "table" model's (layouts 4, 5)
    coding = "values"

    @property
    def base_layer(self) -> bool:
        """Whether the file stores the base layer's latent symbols (all but layout 5)."""
        return self.layout not in container.LAYOUTS_WITHOUT_BASE

    def encode(self, pixel_model, pixels: np.ndarray, symbols: np.ndarray, max_error: int,
               progress: Callable[[int, int], None] | None = None) -> list[bytes]:
        """uint8 pixels (N, P) and the base layer's symbols (N, latent) -> one byte string
        per chunk; ``progress(images done, N)`` after each chunk."""
        from . import residual

        step, chunks = container.RESIDUAL_CHUNK, []
        for i in range(0, len(pixels), step):
            rows = min(step, len(pixels) - i)
            latent = symbols[i : i + step]
            chunks.append(residual.encode(pixel_model, pixels[i : i + step],
                                          pixel_model.base_pixels(latent), max_error,
                                          _within(progress, i, rows, len(pixels)), latent,
                                          self.both_ends))
            if progress:
                progress(i + rows, len(pixels))
        return chunks

    def decode(self, pixel_model, data: bytes, chunk_sizes, symbols: np.ndarray,
               max_error: int, progress: Callable[[int, int], None] | None = None):
        """The uint8 pixels (rows, P) of each chunk in turn, given the base layer's symbols
        (N, latent): one chunk's images at a time. ``progress(images done, N)`` as they
        are decoded."""
        from . import residual

        step, offset, total = container.RESIDUAL_CHUNK, 0, len(symbols)
        for n, size in enumerate(chunk_sizes):
            rows = symbols[n * step : (n + 1) * step]
            base = pixel_model.base_pixels(rows)
            with _decoding(f"residual chunk {n}"):
                pixels = residual.decode(pixel_model, data[offset : offset + size], base,
                                         max_error, _within(progress, n * step, len(rows), total),
                                         rows, self.both_ends)
            offset += size
            if progress:
                progress(n * step + len(rows), total)
            yield pixels


    def decode_one(self, pixel_model, data: bytes, symbols: np.ndarray, max_error: int,
                   what: str = "residual chunk", progress=None) -> np.ndarray:
        """The uint8 pixels (n, P) of one chunk of any size, given its symbols (n, latent);
        ``progress(images done, n)`` as it goes."""
        from . import residual

        with _decoding(what):
            return residual.decode(pixel_model, data, pixel_model.base_pixels(symbols),
                                   max_error, _within(progress, 0, len(symbols), len(symbols)),
                                   symbols, self.both_ends)


def _within(progress, start: int, rows: int, total: int):
    """A chunk's ``(positions done, positions)`` as images done of ``total``."""
    if progress is None:
        return None
    return lambda done, positions: progress(start + rows * done // positions, total)


class ResidualLayout2(ResidualLayout1):
    """Residual layout 2: layout 1 with max_error K's levels counted from both ends (0, 2K+1,
    ... and 255, 255 - (2K+1), ...; the narrow gap in the middle), so that near-white
    values share a level. The same bytes as layout 1 when 2K+1 divides 255 (and lossless)."""

    layout = 2
    both_ends = True


class ResidualLayout3(ResidualLayout2):
    """Residual layout 3: layout 2 for a predictive pixel model (``predictor`` "med" or
    "med-planes", ``context.predict``): each value is coded as its difference from the
    prediction made from its decoded neighbours (lossless: modulo 256), or its level with
    the probabilities of those differences moved onto the values (max-error). Needs such
    a model, and only such a model may be used with it."""

    layout = 3
    coding = "differences"


class ResidualLayout4(ResidualLayout2):
    """Residual layout 4: a table pixel model (``core.tablemodel``) codes each chunk's
    values, position by position, plane by plane; with max_error K, layout 2's levels.
    The base layer is in the file (its level is the model's ``base_level``) but the
    table does not read it."""

    layout = 4
    coding = "table"

    def encode(self, pixel_model, pixels, symbols, max_error, progress=None):
        step, chunks = container.RESIDUAL_CHUNK, []
        for i in range(0, len(pixels), step):
            chunks.append(pixel_model.encode(pixels[i : i + step], max_error))
            if progress:
                progress(i + len(pixels[i : i + step]), len(pixels))
        return chunks

    def decode(self, pixel_model, data, chunk_sizes, symbols, max_error, progress=None):
        step, offset, total = container.RESIDUAL_CHUNK, 0, len(symbols)
        for n, size in enumerate(chunk_sizes):
            rows = len(symbols[n * step : (n + 1) * step])
            with _decoding(f"residual chunk {n}"):
                pixels = pixel_model.decode(data[offset : offset + size], rows, max_error)
            offset += size
            if progress:
                progress(n * step + rows, total)
            yield pixels

    def decode_one(self, pixel_model, data, symbols, max_error, what="residual chunk",
                   progress=None):
        with _decoding(what):
            pixels = pixel_model.decode(data, len(symbols), max_error)
        if progress:
            progress(len(symbols), len(symbols))
        return pixels


class ResidualLayout5(ResidualLayout4):
    """Residual layout 5: layout 4 without the base layer, which the table never reads:
    the latent payload of each chunk (or of an unchunked file) is empty, and the file has
    no latents (``no_symbols`` stands in for them)."""

    layout = 5  # in container.LAYOUTS_WITHOUT_BASE


RESIDUAL_CODERS = {1: ResidualLayout1(), 2: ResidualLayout2(), 3: ResidualLayout3(),
                   4: ResidualLayout4(), 5: ResidualLayout5()}


def stores_base_layer(residual) -> bool:
    """Whether a file whose header has this residual layer (a ``container.Residual``, or
    None for a lossy file) stores the base layer's latent symbols."""
    return residual is None or RESIDUAL_CODERS[residual.layout].base_layer


def no_symbols(count: int) -> np.ndarray:
    """The symbols of ``count`` images of a file without a base layer: (count, 0)."""
    return np.zeros((count, 0), dtype=np.int32)


def decode_base_layer(residual, coder: str, payload: bytes, count: int, latent_size: int,
                      symbol_dtype: str, prior, what: str) -> np.ndarray:
    """The latent symbols (count, latent_size) of a file's (or a chunk's) ``payload``, coded
    by ``coder``; for a file without a base layer (its ``residual`` layout 5), whose
    payloads must be empty (else ``CorruptPayloadError``), ``no_symbols``."""
    if not stores_base_layer(residual):
        if payload:
            raise CorruptPayloadError(f"{what} holds {len(payload)} bytes of latent payload, "
                                      "but its residual layout 5 has no base layer")
        return no_symbols(count)
    return CODERS[coder].decode(payload, count, latent_size, symbol_dtype, prior)


def check_latents_stored(residual) -> None:
    """Refuse to give the latents of a file without a base layer (``InputError``)."""
    if not stores_base_layer(residual):
        raise InputError("the file stores no latents: its table pixel model codes every "
                         "value (residual layout 5), without a base layer")


def residual_coder(max_error: int, coding: str = "values") -> ResidualLayout1:
    """The layout new files with ``max_error`` use for a pixel model of ``coding``: 5
    for a table (no base layer), 3 for a predictive network; else 2, or 1 where the two
    code alike (lossless, and K whose 2K+1 divides 255), so that readers before layout 2
    read them."""
    from . import residual

    if coding == "table":
        return RESIDUAL_CODERS[5]
    if coding == "differences":
        return RESIDUAL_CODERS[3]

    same = all(np.array_equal(a, b) for a, b in zip(residual.quantization_levels(max_error, False),
                                                    residual.quantization_levels(max_error, True)))
    return RESIDUAL_CODERS[1 if same else 2]
