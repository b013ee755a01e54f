"""The array API: ``encode(images) -> bytes``, ``decode(bytes) -> images``, ``latents``.

A thin façade over the layers below: the options are resolved once into a frozen
``Settings`` (``pipeline.settings.resolve``); up to ``chunked.CHUNK_IMAGES`` images make
one unchunked file (``stream.whole``), more a chunked one (``stream.encoder``); bytes are
read back by the decoder their first bytes call for (``stream``).
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Callable, Iterable

import numpy as np

from .errors import (
    ArgumentTypeError,
    OutOfMemoryError,
    TrailingBytesError,
    VaezError,
)
from .format import chunked, container
from .format import sniff as _sniff
from .options import EncodeOptions, with_keywords
from .pipeline import chunk as _chunk
from .pipeline import guard as _guard
from .pipeline import settings as _settings
from .pipeline.settings import DEFAULT_MAX_IMAGES
from .stream import decoder as _decoder
from .stream import encoder as _encoder
from .stream import whole as _whole_file
from .zoo import Zoo

if TYPE_CHECKING:
    from .stream import Decoder

__all__ = ["encode", "decode", "latents", "read_header", "complete_header", "encode_with",
           "DEFAULT_MAX_IMAGES"]


def encode(images, options: EncodeOptions | None = None, *,
           names: Iterable[str] | None = None, zoo: Zoo | None = None, **keywords) -> bytes:
    """Compress images to the bytes of a .vaez file.

    ``options``: an ``EncodeOptions``; its fields may also be given as keywords (they
    override the object's): ``encode(images, quality=13)``.

    ``images``: uint8 (N, H, W) or (H, W), float in [0, 1], or a torch tensor of either,
    in the model's image shape (28x28 for the shipped models).
    ``quality``: a quality level (``vaecodec.list_levels()``; default ``DEFAULT_LEVEL``).
    ``quant_step``: instead of a level, an explicit quantization step (smaller: more
    bytes, better quality), with ``model`` (default: the default model) and zstd.
    ``coder``: "range" (the learned prior; levels only, the default) or "zstd".
    ``names``: optional relative names stored with the images (restored by ``decompress``).
    ``lossless``: add a residual layer so that ``decode`` returns exactly the uint8 pixels
    (float images are rounded to uint8 first). ``max_error``: a residual layer that keeps
    every pixel within +-max_error (0..32) of the original; 0 is lossless. Both use the
    pixel model's base level (``quality`` 10) for the latent.
    ``search``: choose the latent symbols by a rate-distortion search instead of rounding
    (a quality level's lossy files only): 1.0 to 1.35 dB better on MNIST, at about the same
    bytes where the step is fine, but 20 to 75 times the encoder's time; decoding is
    unchanged.
    ``zoo``: where models and levels come from (default: the installed ones).
    ``embed_model``: carry the model family in the file (a family of one's own; see
    ``vaecodec.Zoo.families``), so that it decodes where the family is not installed.
    ``strict``: raise ``QualityError`` instead of the ``QualityWarning`` emitted when the
    images reconstruct far below what the level achieves on the model's own data.
    ``polarity``: "auto" codes an image drawn in the other polarity than the model's (dark
    on a light ground for the digit models) inverted, and restores it; "as-is" codes every
    image as it is (the bytes vaecodec 1.x wrote).
    """
    options = with_keywords(options, keywords, "encode")
    images = _chunk.as_array(images)
    settings = _settings.resolve(options, zoo=zoo)
    try:
        return encode_with(settings, images, names, embed_model=options.embed_model,
                           strict=options.strict, polarity=options.polarity)
    except MemoryError as e:
        if isinstance(e, VaezError):
            raise
        raise OutOfMemoryError(
            f"{len(images):,} images need more memory than there is to encode at once: "
            "encode them in parts, or write them to vaecodec.open(path, 'w') a chunk at a "
            "time") from None


def encode_with(settings: _settings.Settings, images: np.ndarray, names=None,
                progress: Callable[[int, int], None] | None = None,
                embed_model: bool = False, strict: bool = False,
                on_quality: Callable[[_guard.QualityReport], None] | None = None,
                polarity: str = "auto") -> bytes:
    """``encode`` with resolved settings (``images`` a numpy array); ``progress(done,
    total)`` as images are encoded. A lossy file whose images reconstruct far below the
    level's own figures (``check_quality``) emits a ``QualityWarning``, or with ``strict``
    raises ``QualityError``; ``on_quality(report)`` receives the figures of any lossy file
    coded at a level.

    Up to ``chunked.CHUNK_IMAGES`` grayscale images make an unchunked file (version 2, 3
    or 4: a single image takes 31-40 bytes); more, or images of several channels, make a
    chunked one (version 5, or 7 for several channels)."""
    _settings.check_writing(settings, embed_model, polarity)
    images = _chunk.as_array(images)
    unit, exact = _chunk.pixel_rows(images, settings.image_shape)
    if len(unit) <= chunked.CHUNK_IMAGES and len(settings.image_shape) == 2:
        names = _chunk.image_names(names, len(unit))
        embedded = _settings.embedded_family(settings) if embed_model else b""
        return _whole_file.encode_whole(settings, unit, exact, names, progress, embedded, strict,
                             on_quality, polarity)
    out = io.BytesIO()
    encoder = _encoder.StreamEncoder(out, settings, embed_model=embed_model, polarity=polarity,
                            named=names is not None)
    if progress is not None:
        encoder.on_progress = lambda done: progress(done, len(unit))
    encoder.write(images, names)
    report = encoder.finish(strict=strict)
    if report is not None and on_quality is not None:
        on_quality(report)
    return out.getvalue()


def decode(data: bytes, *, zoo: Zoo | None = None,
           max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The images (N, H, W) uint8 of a .vaez file's bytes. A file of more than
    ``max_images`` images is refused (``ImageLimitError``) before anything is decoded."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    decoder = _whole(data, zoo, max_images)
    if isinstance(decoder, _whole_file.WholeDecoder):  # versions 1-4: one piece
        return decoder.decode_chunk(None)
    out = np.empty((len(decoder), *decoder.settings.image_shape), dtype=np.uint8)
    for first, images in decoder.chunks():
        out[first : first + len(images)] = images
    return out


def _whole(data: bytes, zoo: Zoo | None, max_images: int) -> Decoder:
    """The decoder of a whole file's bytes, checked against ``max_images``: versions 1-4
    read in one piece, version 5 chunk by chunk (it must end exactly at its index)."""
    if not _sniff.is_chunked(data):
        return _whole_file.WholeDecoder(io.BytesIO(data), zoo, max_images)
    decoder = _decoder.ArchiveDecoder(io.BytesIO(data), zoo, recover=False)
    if decoder.trailing:
        raise TrailingBytesError(
            f"{decoder.trailing} unexpected bytes after the end of the file")
    _settings.check_count(decoder.info, max_images)
    return decoder


def latents(data: bytes, *, zoo: Zoo | None = None,
            max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The latent vectors of a .vaez file's images, float32 (N, latent size): the decoded
    symbols times the step, the points the decoder network turns into pixels (for
    clustering, search or classifiers, without decoding any pixel)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    return _whole(bytes(data), zoo, max_images).latents()


def read_header(data: bytes, zoo: Zoo | None = None) -> container.Header:
    """The header of a file's bytes (without decoding any image), with the image shape
    filled in from its model where the file does not store it and the model is known."""
    return complete_header(container.read_header(io.BytesIO(bytes(data)))[0], zoo)


def complete_header(header: container.Header, zoo: Zoo | None = None) -> container.Header:
    """``header`` with its image shape taken from its model where the file does not store
    it (versions 2-5) and the model is known (``zoo``, default: the installed one)."""
    if header.image_shape is not None:
        return header
    return (Zoo.installed() if zoo is None else zoo).complete_header(header)


# vaecodec 2.0 kept the whole pipeline in this module; its names still resolve here, with
# a DeprecationWarning, until 3.0 (the new homes are on the right).
_MOVED = {
    "Settings": "pipeline.settings", "resolve": "pipeline.settings",
    "searching": "pipeline.settings", "settings_for": "pipeline.settings",
    "check_count": "pipeline.settings", "check_writing": "pipeline.settings",
    "zoo_for": "pipeline.settings",
    "QualityReport": "pipeline.guard", "check_quality": "pipeline.guard",
    "judge": "pipeline.guard", "GUARD_MARGIN_DB": "pipeline.guard",
    "GUARD_SMALL_DB": "pipeline.guard", "GUARD_IMAGE_DB": "pipeline.guard",
    "GUARD_SAMPLE": "pipeline.guard", "GUARD_CHUNK_SAMPLE": "pipeline.guard",
    "latent_symbols": "pipeline.chunk", "polarity_of": "pipeline.chunk",
    "dark_on_light": "pipeline.chunk", "LIGHT_ON_DARK": "pipeline.chunk",
    "DARK_ON_LIGHT": "pipeline.chunk", "POLARITIES": "pipeline.chunk",
    "StreamEncoder": "stream.encoder", "file_header": "stream.encoder",
    "ArchiveDecoder": "stream.decoder",
    "decode_symbols": "stream.whole", "reconstruct": "stream.whole",
    "reconstruct_batches": "stream.whole",
    "info_header": "format.sniff", "is_chunked": "format.sniff",
    "sample": "sampling",
}


def __getattr__(name: str):
    if name in _MOVED:
        import importlib
        import warnings

        home = _MOVED[name]
        warnings.warn(f"vaecodec.codec.{name} moved to vaecodec.{home}.{name}; the old path "
                      "goes in vaecodec 3.0", DeprecationWarning, stacklevel=2)
        return getattr(importlib.import_module(f"vaecodec.{home}"), name)
    raise AttributeError(f"module 'vaecodec.codec' has no attribute {name!r}")
