"""encode(images) -> bytes, decode(bytes) -> images.

The pipeline: pixels -> model (encoder mean) -> quantizer -> coder -> container bytes, and
back. Options are checked and resolved once, by ``resolve``, into a frozen ``Settings``
that the rest of the way only reads; a file's header is resolved the same way by
``settings_for``. The models come from a ``Zoo`` (by default the installed one), which is
how a caller hands over a model or level that is not installed.
"""

from __future__ import annotations

import collections
import dataclasses
import functools
import hashlib
import io
import math
import warnings
from typing import Callable, Iterable, Iterator

import numpy as np

from .core import coders, pixels as pixel_conv, quantize, runtime, search
from .errors import (
    ArgumentTypeError,
    CorruptHeaderError,
    CorruptModelError,
    CorruptPayloadError,
    DuplicateNameError,
    FormatError,
    ImageLimitError,
    OutOfMemoryError,
    QualityError,
    QualityWarning,
    InvalidArrayError,
    SettingsError,
    TrailingBytesError,
    UnknownLevelError,
    UnknownModelError,
    UnsafeNameError,
    VaezError,
)
from .format import chunked, container
from .zoo import DEFAULT_LEVEL, PIXEL_MODEL, VAE, Level, ModelInfo, Zoo
from .zoo import families
from .zoo.defaults import DEFAULT_FAMILY


#: The quality guard: images whose PSNR together falls more than GUARD_MARGIN_DB +
#: GUARD_SMALL_DB / sqrt(n) below what the level measured on the model's own data are
#: "unlike the model's data" (a few images vary more than many; chosen from measurements,
#: scripts/guard_rates.py, docs/benchmarks.md); an image GUARD_IMAGE_DB below is counted.
GUARD_MARGIN_DB = 4.0
GUARD_SMALL_DB = 4.0
GUARD_IMAGE_DB = 6.0
GUARD_SAMPLE = 1000  # images measured at most (evenly spaced), so the guard costs little


@dataclasses.dataclass(frozen=True)
class QualityReport:
    """How well images reconstruct at a level, against what the level measured on the
    model's own (test or validation) images."""

    images: int
    measured: int  # images measured (all, or GUARD_SAMPLE evenly spaced)
    psnr_db: float  # of the measured images, together
    expected_psnr_db: float  # the level's, on the model's own data
    far_below: int  # images estimated more than GUARD_IMAGE_DB below expected_psnr_db
    model: str
    level: int

    @property
    def margin_db(self) -> float:
        """How far below the expected PSNR the images may fall before ``poor``."""
        return GUARD_MARGIN_DB + GUARD_SMALL_DB / math.sqrt(self.measured)

    @property
    def poor(self) -> bool:
        return self.psnr_db < self.expected_psnr_db - self.margin_db

    @classmethod
    def combine(cls, reports: list["QualityReport"]) -> "QualityReport | None":
        """One report for the images of several (shards of one data set): their squared
        errors averaged over all the images measured."""
        reports = [r for r in reports if r is not None]
        if not reports:
            return None
        measured = sum(r.measured for r in reports)
        mse = sum(255.0**2 / 10 ** (r.psnr_db / 10) * r.measured for r in reports) / measured
        first = reports[0]
        return cls(sum(r.images for r in reports), measured,
                   float(10 * np.log10(255.0**2 / max(mse, 1e-3))), first.expected_psnr_db,
                   sum(r.far_below for r in reports), first.model, first.level)

    def message(self) -> str:
        share = (f"{self.far_below} of {self.images} images" if self.measured == self.images
                 else f"about {self.far_below} of {self.images} images (measured on "
                      f"{self.measured})")
        return (f"these images reconstruct at {self.psnr_db:.1f} dB PSNR, far below the "
                f"{self.expected_psnr_db:.1f} dB model {self.model} reaches at level "
                f"{self.level} on images like its own; {share} are more than "
                f"{GUARD_IMAGE_DB:g} dB below. They are unlike what the model was trained on: "
                "use --lossless or --max-error K for exact or bounded pixels, or train a "
                "model on them (vaecodec train)")


def check_quality(settings: "Settings", pixels: np.ndarray, symbols: np.ndarray
                  ) -> QualityReport | None:
    """The quality guard's figures for uint8 images (N, H * W) coded as ``symbols`` at a
    level (None for an explicit step, or a level without a measured PSNR): GUARD_SAMPLE
    of them at most, evenly spaced, are decoded and compared."""
    tally = _GuardTally(settings, GUARD_SAMPLE)
    tally.add(pixels, symbols)
    return tally.report()


#: ``decode`` and ``decompress`` refuse files of more images unless given a higher limit.
DEFAULT_MAX_IMAGES = container.DEFAULT_MAX_IMAGES


@dataclasses.dataclass(frozen=True)
class Settings:
    """Everything an encoder (or a file's decoder) needs, resolved and checked."""

    model: ModelInfo  # the VAE of the base layer
    quant_step: float
    coder: str  # a key of core.coders.CODERS
    level: Level | None = None  # None: an explicit step
    max_error: int | None = None  # the residual layer's bound: None lossy, 0 lossless
    pixel_model: ModelInfo | None = None  # the residual layer's model
    zoo: Zoo = dataclasses.field(default_factory=Zoo.installed, repr=False, compare=False)
    search: bool = False  # choose the latent symbols by a rate-distortion search (core.search)

    @property
    def image_shape(self) -> tuple[int, int]:
        return self.vae().image_shape

    def vae(self):
        return self.zoo.vae(self.model)

    def prior(self):
        return self.level.prior if self.level is not None else None


def _check_max_error(lossless, max_error) -> int | None:
    """The residual layer's error bound (0 = lossless), or None for a lossy file."""
    if not isinstance(lossless, bool):
        raise ArgumentTypeError(f"lossless must be True or False, not {lossless!r}")
    if max_error is None:
        return 0 if lossless else None
    if isinstance(max_error, (bool, np.bool_)) or not isinstance(max_error, (int, np.integer)):
        raise ArgumentTypeError(f"max_error must be an integer, not {max_error!r}")
    if not 0 <= max_error <= container.MAX_RESIDUAL_ERROR:
        raise SettingsError(f"max_error must be 0..{container.MAX_RESIDUAL_ERROR} (on the "
                            f"0..255 pixel scale), got {max_error}")
    if lossless and max_error != 0:
        raise SettingsError("lossless means max_error 0; give one or the other")
    return int(max_error)


def resolve(*, quality: int | None = None, quant_step: float | None = None,
            model: str | None = None, coder: str | None = None, lossless: bool = False,
            max_error: int | None = None, zoo: Zoo | None = None,
            search: bool = False) -> Settings:
    """Check encoding options (as ``encode`` takes them) and resolve them into Settings:
    the level, its model, the step, the coder and, for a residual layer, its pixel model."""
    zoo = Zoo.installed() if zoo is None else zoo
    if not isinstance(zoo, Zoo):
        raise ArgumentTypeError(f"zoo must be a vaecodec.Zoo, not {type(zoo).__name__}")
    max_error = _check_max_error(lossless, max_error)
    # a family name (the shipped "mnist" or one trained or imported) picks its levels
    family = model if model == DEFAULT_FAMILY or model in {f.name for f in zoo.families()} \
        else None
    pixel_model = None
    if max_error is not None:
        if quant_step is not None:
            raise SettingsError("lossless and max-error files use a quality level for their "
                                "base layer, not a quantization step")
        pixel_model = _pixel_model_of(zoo, family)
        base = pixel_model.metadata["base_level"]
        if quality is not None and quality != base:
            raise SettingsError(f"lossless and max-error files use quality level {base} as "
                                f"their base layer (the pixel model is fitted on it), not "
                                f"{quality}")
        quality = base
    if coder is not None and coder not in coders.CODERS:
        choices = " or ".join(repr(name) for name in coders.CODERS)
        raise SettingsError(f"coder must be {choices}, not {coder!r}")
    if quant_step is not None:
        if quality is not None:
            raise SettingsError("give a quality level or a quantization step, not both")
        if coder is not None and coders.CODERS[coder].needs_prior:
            raise SettingsError(f"the {coder} coder needs a quality level (its prior is "
                                "fitted per level); an explicit step is coded with zstd")
        if family is not None:
            model = None if family == DEFAULT_FAMILY else zoo.family(family).vae
        return searching(Settings(zoo.find(model), quantize.check_step(quant_step), "zstd",
                                  zoo=zoo), search)
    if quality is None:
        quality = DEFAULT_LEVEL if family in (None, DEFAULT_FAMILY) \
            else zoo.family(family).default_level
    level = zoo.level(quality, family)
    if family is None and model is not None and zoo.find(model).name != level.model:
        raise SettingsError(f"quality level {level.level} uses model {level.model}, "
                            f"not {model}; another model takes an explicit step (--step)")
    return searching(Settings(zoo.level_model(level), level.quant_step, coder or "range",
                              level, max_error, pixel_model, zoo), search)


def searching(settings: Settings, search: bool) -> Settings:
    """``settings`` with the latent search on or off (``encode``'s ``search``);
    SettingsError where it does not apply."""
    if not isinstance(search, bool):
        raise ArgumentTypeError(f"search must be True or False, not {search!r}")
    if not search:
        return dataclasses.replace(settings, search=False)
    if settings.max_error is not None:
        raise SettingsError("search is for lossy files; lossless and max-error files code "
                            "every pixel anyway")
    if settings.level is None:
        raise SettingsError("search needs a quality level (its prior prices the symbols), "
                            "not an explicit step")
    return dataclasses.replace(settings, search=True)


def _pixel_model_of(zoo: Zoo, family: str | None) -> ModelInfo:
    if family is None or family == DEFAULT_FAMILY:
        return zoo.find(None, PIXEL_MODEL)
    name = zoo.family(family).pixel_model
    if name is None:
        raise SettingsError(f"model {family} has no pixel model, which lossless and "
                            "max-error files need")
    return zoo.find(name, PIXEL_MODEL)


def _as_array(images) -> np.ndarray:
    """A numpy view of what the caller passed (an array or a torch tensor), type-checked."""
    if type(images).__module__.split(".")[0] == "torch" and hasattr(images, "detach"):
        images = images.detach().cpu()
        if images.is_floating_point() and images.element_size() < 4:  # numpy has no bfloat16
            images = images.float()
        images = images.numpy()
    if not isinstance(images, np.ndarray):
        raise ArgumentTypeError(
            f"images must be a numpy array or torch tensor, not {type(images).__name__}")
    if images.dtype != np.uint8 and images.dtype.kind != "f":
        raise ArgumentTypeError(
            f"images must be uint8 (0..255) or float (0..1), not {images.dtype}")
    return images


def _pixels(images: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray | None]:
    """(float32 intensities (N, H * W), the uint8 pixels (N, H * W) when given as uint8)."""
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != tuple(shape):
        h, w = shape
        raise InvalidArrayError(
            f"images must have shape (N, {h}, {w}) or ({h}, {w}), got {images.shape}")
    if len(images) == 0:
        raise InvalidArrayError("no images to encode (the array is empty)")
    if images.dtype == np.uint8:
        return pixel_conv.to_unit(images), images.reshape(len(images), -1)
    values = images.reshape(len(images), -1).astype(np.float32)
    if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
        raise InvalidArrayError("float images must hold finite values in [0, 1]")
    return values, None


def _names(names, count: int) -> tuple[str, ...] | None:
    if names is None:
        return None
    if isinstance(names, (str, bytes)):
        raise ArgumentTypeError("names must be a list of strings, not one string")
    names = list(names)
    if len(names) != count:
        raise InvalidArrayError(f"{len(names)} names for {count} images; give one per image")
    return container.check_names(names)


def encode(images, *, quality: int | None = None, quant_step: float | None = None,
           model: str | None = None, coder: str | None = None,
           names: Iterable[str] | None = None, lossless: bool = False,
           max_error: int | None = None, zoo: Zoo | None = None,
           embed_model: bool = False, strict: bool = False, polarity: str = "auto",
           search: bool = False) -> bytes:
    """Compress images to the bytes of a .vaez file.

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
    images = _as_array(images)
    settings = resolve(quality=quality, quant_step=quant_step, model=model, coder=coder,
                       lossless=lossless, max_error=max_error, zoo=zoo, search=search)
    try:
        return encode_with(settings, images, names, embed_model=embed_model, strict=strict,
                           polarity=polarity)
    except MemoryError as e:
        if isinstance(e, VaezError):
            raise
        raise OutOfMemoryError(
            f"{len(images):,} images need more memory than there is to encode at once: "
            "encode them in parts, or write them to vaecodec.open(path, 'w') a chunk at a "
            "time") from None


def latent_symbols(settings: Settings, unit: np.ndarray) -> np.ndarray:
    """The latent symbols of images ``unit`` (N, P) in [0, 1]: the encoder's means rounded
    to the step, or with ``settings.search`` chosen by a rate-distortion search."""
    vae = settings.vae()
    mean = vae.encode_mean(unit)
    if not settings.search:
        return quantize.quantize(mean, settings.quant_step)
    return search.search_symbols(vae, unit, mean, settings.quant_step, settings.prior())


def _guard(settings: Settings, pixels: np.ndarray, symbols: np.ndarray, strict: bool,
           on_quality: Callable[[QualityReport], None] | None) -> None:
    report = check_quality(settings, pixels, symbols)
    if report is not None and on_quality is not None:
        on_quality(report)
    judge(report, strict, stacklevel=5)


def judge(report: QualityReport | None, strict: bool, stacklevel: int) -> None:
    """A ``QualityWarning`` for a poor report, or with ``strict`` a ``QualityError``."""
    if report is None or not report.poor:
        return
    if strict:
        raise QualityError(report.message().replace("these images", "refused (strict): "
                                                    "these images", 1))
    warnings.warn(QualityWarning(report.message(), report), stacklevel=stacklevel)


LIGHT_ON_DARK, DARK_ON_LIGHT = "light-on-dark", "dark-on-light"
POLARITIES = ("auto", "as-is")


def polarity_of(model: ModelInfo) -> str:
    """The polarity a model was trained on: MNIST's light strokes on a dark ground unless
    its metadata says otherwise."""
    return model.metadata.get("polarity", LIGHT_ON_DARK)


def dark_on_light(images: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Per image (uint8 (N, H * W)): whether its border (the outermost ring of pixels) is
    light on average, i.e. it is drawn dark on a light ground (exact integer arithmetic)."""
    h, w = shape
    grid = images.reshape(len(images), h, w)
    ring = np.ones((h, w), dtype=bool)
    ring[1:-1, 1:-1] = False
    total = grid[:, ring].sum(axis=1, dtype=np.int64)
    return 2 * total > 255 * int(ring.sum())


def _flags(inverted: bytes | None, count: int) -> np.ndarray | None:
    if inverted is None:
        return None
    bits = np.unpackbits(np.frombuffer(inverted, dtype=np.uint8), bitorder="little")
    return bits[:count].astype(bool)


def encode_with(settings: Settings, images: np.ndarray, names=None,
                progress: Callable[[int, int], None] | None = None,
                embed_model: bool = False, strict: bool = False,
                on_quality: Callable[[QualityReport], None] | None = None,
                polarity: str = "auto") -> bytes:
    """``encode`` with resolved settings (``images`` a numpy array); ``progress(done,
    total)`` as images are encoded. A lossy file whose images reconstruct far below the
    level's own figures (``check_quality``) emits a ``QualityWarning``, or with ``strict``
    raises ``QualityError``; ``on_quality(report)`` receives the figures of any lossy file
    coded at a level.

    Up to ``chunked.CHUNK_IMAGES`` images make an unchunked file (version 2, 3 or 4: a
    single image takes 31-40 bytes); more make a chunked one (version 5)."""
    check_writing(settings, embed_model, polarity)
    images = _as_array(images)
    unit, exact = _pixels(images, settings.image_shape)
    if len(unit) <= chunked.CHUNK_IMAGES:
        names = _names(names, len(unit))
        embedded = _embedded(settings) if embed_model else b""
        return _encode_whole(settings, unit, exact, names, progress, embedded, strict,
                             on_quality, polarity)
    out = io.BytesIO()
    encoder = StreamEncoder(out, settings, embed_model=embed_model, polarity=polarity,
                            named=names is not None)
    if progress is not None:
        encoder.on_progress = lambda done: progress(done, len(unit))
    encoder.write(images, names)
    report = encoder.finish(strict=strict)
    if report is not None and on_quality is not None:
        on_quality(report)
    return out.getvalue()


def check_writing(settings: Settings, embed_model: bool = False, polarity: str = "auto",
                  chunk_images: int = chunked.CHUNK_IMAGES) -> None:
    """Refuse options no file can be written with, before anything is coded."""
    if not isinstance(embed_model, bool):
        raise ArgumentTypeError(f"embed_model must be True or False, not {embed_model!r}")
    if polarity not in POLARITIES:
        raise SettingsError(f"polarity must be 'auto' or 'as-is', not {polarity!r}")
    if not 1 <= chunk_images <= (container.RESIDUAL_CHUNK if settings.max_error is not None
                                 else chunked.MAX_CHUNK_IMAGES):
        raise SettingsError(f"chunk_images must be 1..{chunked.MAX_CHUNK_IMAGES} "
                            f"({container.RESIDUAL_CHUNK} with a residual layer)")
    if embed_model:
        _family_to_embed(settings)


def _family_to_embed(settings: Settings) -> families.Family:
    family = settings.zoo.family_of(settings.model.model_id)
    if family is None:
        raise SettingsError(f"model {settings.model.name} is not a family of your own "
                            "(the shipped mnist family is in every vaecodec); only those "
                            "can be embedded")
    return family


def _embedded(settings: Settings) -> bytes:
    """The model family file of ``settings``' model, to carry in an archive."""
    return settings.zoo.family_file(_family_to_embed(settings).name)


def _polarity(settings: Settings, unit: np.ndarray, exact: np.ndarray | None,
              polarity: str) -> tuple[np.ndarray, np.ndarray | None, bytes | None]:
    """Images in the other polarity than the model's are coded inverted (and restored):
    (unit, exact, the inverted-images bitmap or None). Float images with any inverted
    are rounded to uint8 first, as lossless files do."""
    flags = dark_on_light(exact if exact is not None else pixel_conv.to_uint8(unit),
                          settings.image_shape)
    if polarity_of(settings.model) == DARK_ON_LIGHT:
        flags = ~flags
    if polarity == "as-is" or not flags.any():
        return unit, exact, None
    exact = (exact if exact is not None else pixel_conv.to_uint8(unit)).copy()
    exact[flags] = 255 - exact[flags]
    return pixel_conv.to_unit(exact), exact, np.packbits(flags, bitorder="little").tobytes()


def _encode_whole(settings: Settings, unit: np.ndarray, exact: np.ndarray | None, names,
                  progress, embedded: bytes, strict: bool, on_quality, polarity: str) -> bytes:
    """One unchunked file (version 2, 3 or 4) of images in ``_pixels``'s form."""
    count = len(unit)
    unit, exact, inverted = _polarity(settings, unit, exact, polarity)
    net = settings.vae()
    symbols = latent_symbols(settings, unit)
    if settings.max_error is None:  # exact and bounded files need no warning
        _guard(settings, exact if exact is not None else pixel_conv.to_uint8(unit), symbols,
               strict, on_quality)
    payload, dtype = coders.CODERS[settings.coder].encode(symbols, settings.prior())
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
    if settings.max_error is None:
        if progress:
            progress(count, count)
        return container.pack(header, payload, model=embedded)
    pixel_model = settings.zoo.pixel_model(settings.pixel_model)
    if exact is None:  # float input (checked to be in [0, 1]): the uint8 pixels it rounds to
        exact = pixel_conv.to_uint8(unit)
    coder = coders.residual_coder(settings.max_error)
    chunks = coder.encode(pixel_model, exact, symbols, settings.max_error, progress)
    header = dataclasses.replace(header, residual=container.Residual(
        pixel_model.model_id, settings.max_error, tuple(len(c) for c in chunks), coder.layout))
    return container.pack(header, payload, b"".join(chunks), embedded)



class _GuardTally:
    """The quality guard's figures summed over a file's chunks: up to ``per_chunk``
    images of each chunk (GUARD_CHUNK_SAMPLE), evenly spaced, are decoded and compared."""

    def __init__(self, settings: Settings, per_chunk: int = 0):
        self.settings = settings
        self.per_chunk = per_chunk or GUARD_CHUNK_SAMPLE
        self.images = self.measured = 0
        self.mse_sum = self.below = 0.0

    def add(self, pixels: np.ndarray, symbols: np.ndarray) -> None:
        expected = self.settings.level.measured.get("psnr_db") if self.settings.level else None
        if expected is None:
            return
        count = len(symbols)
        rows = (np.arange(count) if count <= self.per_chunk
                else np.linspace(0, count - 1, self.per_chunk).astype(np.int64))
        decoded = self.settings.vae().decode_pixels(
            quantize.dequantize(symbols[rows], self.settings.quant_step))
        error = decoded.astype(np.float32) - pixels[rows]
        mse = np.maximum(np.mean(error * error, axis=1), 1e-3)
        per_image = 10 * np.log10(255.0**2 / mse)
        self.images += count
        self.measured += len(rows)
        self.mse_sum += float(mse.sum())
        self.below += np.count_nonzero(per_image < expected - GUARD_IMAGE_DB) * count / len(rows)

    def report(self) -> QualityReport | None:
        if not self.measured:
            return None
        together = float(10 * np.log10(255.0**2 / max(self.mse_sum / self.measured, 1e-3)))
        return QualityReport(self.images, self.measured, together,
                             float(self.settings.level.measured["psnr_db"]),
                             int(round(self.below)), self.settings.model.name,
                             self.settings.level.level)


GUARD_CHUNK_SAMPLE = 256  # images of each chunk the guard measures at most


def _name_key(name: str) -> bytes:
    """8 bytes standing for a name in the writer's set of names (bounded memory)."""
    return hashlib.blake2b(name.encode("utf-8", "surrogatepass"), digest_size=8).digest()


class StreamEncoder:
    """Writes a version 5 file to a binary file object in one pass, a chunk of
    ``chunk_images`` images at a time: memory for one chunk, whatever the count.

    ``named``: whether images carry names (then every ``write`` gives one per image).
    ``check_names``: refuse a name given twice (keeping 8 bytes per name); False when
    the caller knows they are distinct (compress of files).
    ``append``: an ``ArchiveDecoder`` of the file ``out`` holds, positioned at its end, to
    add chunks to (its settings, names and polarity rule are kept)."""

    def __init__(self, out, settings: Settings, *, embed_model: bool = False,
                 polarity: str = "auto", named: bool = False,
                 chunk_images: int = chunked.CHUNK_IMAGES, append: "ArchiveDecoder | None" = None,
                 check_names: bool = True):
        check_writing(settings, embed_model, polarity, chunk_images)
        self.out, self.settings, self.polarity = out, settings, polarity
        self.chunk_images = chunk_images
        self.tally = _GuardTally(settings)
        # images written, not yet coded: (unit, exact or None, their names or None)
        self.pending: list[tuple[np.ndarray, np.ndarray | None, tuple | None]] = []
        self.pending_count = 0
        self.pixel_model = (settings.zoo.pixel_model(settings.pixel_model)
                            if settings.max_error is not None else None)
        self.finished = False
        # on_progress(images coded so far, this run), within a residual chunk too
        self.on_progress: Callable[[int], None] | None = None
        self._start = 0
        if append is None:
            embedded = _embedded(settings) if embed_model else b""
            self.header = file_header(settings, len(embedded), named)
            data = chunked.pack_header(self.header, embedded)
            out.write(data)
            self.offset, self.entries, self.dead = len(data), [], []
            self.count = 0
            self.names: set[bytes] = set()
        else:
            index = append.index
            self.header = append.header
            self.offset, self.entries = index.end, list(index.chunks)
            self.dead = list(index.dead) + [(index.offset, index.end - index.offset)]
            self.count = self._start = index.count
            self.names = ({_name_key(n) for n in append.names()} if self.header.named
                          else set())
            out.seek(self.offset)  # reading the names moved it
        self.named = self.header.named
        self.check_names = check_names or append is not None

    def write(self, images, names=None) -> None:
        """Add images (as ``encode`` takes them) and their names; full chunks are coded and
        written at once."""
        unit, exact = _pixels(_as_array(images), self.settings.image_shape)
        if self.named and names is None:
            raise SettingsError("this archive stores a name per image: give names")
        if not self.named and names is not None:
            raise SettingsError("this archive stores no names (it was started without them)")
        if names is not None:
            names = _names(names, len(unit))
        if self.count + self.pending_count + len(unit) > chunked.MAX_COUNT:
            raise InvalidArrayError(f"a file holds at most {chunked.MAX_COUNT} images")
        if names is not None and self.check_names:  # distinct among themselves (_names)
            keys = [_name_key(n) for n in names]
            clash = next((n for n, k in zip(names, keys) if k in self.names), None)
            if clash is not None:
                raise DuplicateNameError(f"the archive already holds an image named {clash!r}")
            self.names.update(keys)
        self.pending.append((unit, exact, names))
        self.pending_count += len(unit)
        while self.pending_count >= self.chunk_images:
            self._flush(self.chunk_images)

    def _take(self, rows: int):
        """The next ``rows`` pending images: (unit, exact or None, names or None)."""
        units, exacts, names, taken = [], [], [], 0
        while taken < rows:
            unit, exact, batch = self.pending[0]
            n = min(rows - taken, len(unit))
            units.append(unit[:n])
            exacts.append(exact[:n] if exact is not None else pixel_conv.to_uint8(unit[:n]))
            if batch is not None:
                names.extend(batch[:n])
            if n == len(unit):
                self.pending.pop(0)
            else:
                self.pending[0] = (unit[n:], None if exact is None else exact[n:],
                                   None if batch is None else batch[n:])
            taken += n
        self.pending_count -= rows
        return np.concatenate(units), np.concatenate(exacts), (names or None)

    def _flush(self, rows: int) -> int:
        unit, exact, names = self._take(rows)
        unit, exact, inverted = _polarity(self.settings, unit, exact, self.polarity)
        settings = self.settings
        symbols = latent_symbols(settings, unit)
        payload, dtype = coders.CODERS[settings.coder].encode(symbols, settings.prior())
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
                              None if names is None else tuple(names), inverted,
                              symbol_dtype=dtype)
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
        if self.count == self._start and self._start:  # an append of nothing: as it was
            self.finished = True
            return None
        report = self.report()
        judge(report, strict, stacklevel=4)
        self.out.write(chunked.pack_index(self.offset, self.count, self.entries, self.dead))
        self.finished = True
        return report


def file_header(settings: Settings, model_size: int = 0, named: bool = False
                ) -> chunked.FileHeader:
    """The version 5 file header of files coded with ``settings``."""
    residual = None
    if settings.max_error is not None:
        residual = container.Residual(settings.pixel_model.model_id, settings.max_error, (),
                                      coders.residual_coder(settings.max_error).layout)
    # the file's coder id; each chunk records its own symbol type (zstd: the narrowest)
    return chunked.FileHeader(settings.model.model_id, settings.vae().latent_size,
                              settings.level.level if settings.level else None,
                              None if settings.level else settings.quant_step,
                              settings.coder, "int32", residual, model_size, named)


# --- decoding -----------------------------------------------------------------------------
def settings_for(header: container.Header, zoo: Zoo | None = None) -> Settings:
    """The Settings a file's header names, checked against the zoo's models and levels
    before anything is decoded."""
    zoo = Zoo.installed() if zoo is None else zoo
    model = zoo.find(header.model_id)
    pixel_model = None
    if header.residual is not None:  # both models are known before anything is decoded
        pixel_model = zoo.find(header.residual.model_id, PIXEL_MODEL)
    level, step = None, header.quant_step
    if step is not None and not quantize.MIN_STEP <= step <= quantize.MAX_STEP:
        raise CorruptHeaderError(f"the file's quantization step {step!r} is outside "
                                 f"{quantize.MIN_STEP}..{quantize.MAX_STEP}")
    if header.level is not None:
        family = zoo.family_of(model.model_id)
        family = None if family is None else family.name
        try:
            level = zoo.level(header.level, family)
        except UnknownLevelError:
            from . import __version__

            raise UnknownLevelError(
                f"the file uses quality level {header.level}, which this vaecodec "
                f"({__version__}) does not define (levels: {zoo.known_range(family)}); if a "
                "newer vaecodec made it, upgrade"
            ) from None
        if level.model_id != model.model_id:
            raise CorruptHeaderError(
                f"quality level {level.level} uses model {level.model}, but the header names "
                f"model {header.model_id.hex()}"
            )
        step = level.quant_step
    settings = Settings(model, step, header.coder, level,
                        None if header.residual is None else header.residual.max_error,
                        pixel_model, zoo)
    net = settings.vae()
    shape_ok = header.image_shape is None or tuple(header.image_shape) == net.image_shape
    if header.latent_size != net.latent_size or not shape_ok:
        shown = "the model's" if header.image_shape is None else str(tuple(header.image_shape))
        raise CorruptHeaderError(
            f"header says latent size {header.latent_size} and images {shown}, "
            f"but its model has {net.latent_size} and {net.image_shape}"
        )
    return settings


def decode_symbols(archive: container.Archive, settings: Settings) -> np.ndarray:
    """The latent symbols (count, latent_size) of a checked file."""
    header = archive.header
    return coders.CODERS[header.coder].decode(archive.payload, header.count,
                                              header.latent_size, header.symbol_dtype,
                                              settings.prior())


def check_count(header: container.Header, max_images: int, doing: str = "decode it") -> None:
    """Refuse a file that holds more images than the caller allows, before decoding it
    (or reading its names, listing them...: ``doing``): a few bytes can declare millions
    of images, and work on them costs time and memory in proportion."""
    if isinstance(max_images, (bool, np.bool_)) or not isinstance(max_images, (int, np.integer)):
        raise ArgumentTypeError(f"max_images must be an integer, not {max_images!r}")
    if max_images < 1:
        raise SettingsError(f"max_images must be at least 1, got {max_images}")
    if header.count > max_images:
        raise ImageLimitError(
            f"the file holds {header.count:,} images, more than the limit of {max_images:,}; "
            f"raise the limit to {doing} (--max-images, or max_images= in Python)")


def zoo_for(archive: container.Archive, zoo: Zoo | None = None) -> Zoo:
    """The zoo to decode a file with: ``zoo`` (default: the installed one), with the model
    family the file carries, if any (checked to be the one its header names)."""
    header = archive.header
    return _zoo_with(archive.model, header.model_id,
                     None if header.residual is None else header.residual.model_id, zoo)


def _zoo_with(model: bytes | None, model_id: bytes, pixel_id: bytes | None,
              zoo: Zoo | None) -> Zoo:
    zoo = Zoo.installed() if zoo is None else zoo
    if not model:
        return zoo
    family, models, levels = families.from_bytes(model)
    vae = next(m for m in models if m.kind == VAE)
    pixel = [m for m in models if m.kind == PIXEL_MODEL]
    if not vae.model_id.startswith(model_id) or (
            pixel_id is not None and not (pixel and pixel[0].model_id.startswith(pixel_id))):
        raise CorruptHeaderError("the embedded model is not the one the header names")
    return zoo.with_family(family, models, levels)


def _pixel_model_for(settings: Settings, level: int):
    """The residual layer's loaded pixel model, checked to work on the file's base level."""
    pixel_model = settings.zoo.pixel_model(settings.pixel_model)
    if pixel_model.base_level != level:
        raise CorruptHeaderError(
            f"pixel model {settings.pixel_model.name} works on quality level "
            f"{pixel_model.base_level}, but the file's base layer is level {level}")
    return pixel_model


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
    flags = _flags(header.inverted, header.count)

    def restored(start: int, pixels: np.ndarray) -> np.ndarray:
        if flags is not None:
            rows = flags[start : start + len(pixels)]
            pixels[rows] = 255 - pixels[rows]
        return pixels.reshape(len(pixels), *shape)

    if header.residual is None:
        for i in range(0, header.count, runtime.BATCH):
            try:
                pixels = net.decode_symbols(symbols[i : i + runtime.BATCH], settings.quant_step)
            except ValueError as e:  # weights the exact decoder cannot take
                raise CorruptModelError(f"model {settings.model.name} is damaged ({e})") from None
            if progress:
                progress(i + len(pixels), header.count)
            yield restored(i, pixels)
        return
    pixel_model = _pixel_model_for(settings, header.level)
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


class ArchiveDecoder:
    """A version 5 file read from a seekable binary file object: its header and index are
    read and checked when it opens; a read reads the chunks of the images asked for and
    decodes those images, or whole chunks (decoded images, and lossy chunks' symbols, are
    kept up to a memory budget each: ``images``). An append
    that did not finish (bytes after the last complete index) is skipped over:
    ``trailing`` says how many bytes."""

    PIXEL_CACHE_BYTES = 128 * 2**20  # whole decoded chunks kept (40 of 4,096 digits)
    SYMBOL_CACHE_BYTES = 64 * 2**20  # lossy chunks' symbols kept (a few hundred chunks)

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
        self.info = info_header(self.header, self.index.count, model_size=len(model))
        self._zoo, self._settings = zoo, None
        self._starts = [entry.first for entry in self.index.chunks]
        self._starts_array = np.asarray(self._starts, dtype=np.int64)
        self._cache: collections.OrderedDict = collections.OrderedDict()
        # lossy chunks being filled image by image: n -> (pixels, which rows are decoded)
        self._filling: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self._symbol_cache: collections.OrderedDict = collections.OrderedDict()
        self._symbol_bytes = self._pixel_bytes = 0
        self._summary: container.Header | None = None

    @property
    def named(self) -> bool:
        return self.header.named

    @property
    def settings(self) -> Settings:
        """The models and level the file names, resolved on first use (with the family it
        carries)."""
        if self._settings is None:
            h = self.header
            zoo = _zoo_with(self.model, h.model_id,
                            None if h.residual is None else h.residual.model_id, self._zoo)
            settings = settings_for(self.info, zoo)
            if settings.max_error is not None:
                _pixel_model_for(settings, h.level)
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

    def _check_found(self, rows: np.ndarray, chunks: np.ndarray) -> None:
        """Chunks found by scanning leave gaps where chunks were lost: a position there
        is an error, not another chunk's image."""
        inside = chunks >= 0
        inside[inside] = rows[inside] < self._ends_array[chunks[inside]]
        if not inside.all():
            lost = int(rows[~inside][0])
            raise CorruptPayloadError(f"image {lost} is in a damaged part of the archive "
                                      "(its chunk was not found)")

    def read_chunk(self, n: int, names: bool = True) -> chunked.Chunk:
        """Chunk ``n``, checked (``names=False``: without its names, to read its images)."""
        if self.index_error is None:
            return chunked.read_chunk(self.f, self.header, self.index, n, names)
        entry = self.index.chunks[n]  # found by scanning: the chunk's own header rules
        self.f.seek(entry.offset)
        return chunked.parse_chunk(self.f.read(entry.size), self.header, names)

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
        trailer = chunked._trailer_at(self.f, size, self.header.size)
        last = max((e.offset + e.size for e in kept), default=self.header.size)
        self.tail_known = trailer is not None and trailer[0] == last
        return chunked.Index(end, tuple(kept), (), size, size)

    def symbols(self, chunk: chunked.Chunk) -> np.ndarray:
        settings = self.settings
        return coders.CODERS[self.header.coder].decode(
            chunk.payload, chunk.count, self.header.latent_size, chunk.symbol_dtype,
            settings.prior())

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
        settings = self.settings
        try:
            return settings.vae().decode_symbols(symbols, settings.quant_step)
        except ValueError as e:  # weights the exact decoder cannot take
            raise CorruptModelError(f"model {settings.model.name} is damaged ({e})") from None

    def _restored(self, pixels: np.ndarray, chunk: chunked.Chunk, rows: np.ndarray
                  ) -> np.ndarray:
        """Decoded ``pixels`` (n, H*W) of a chunk's ``rows`` in their own polarity, (n, H, W)."""
        flags = _flags(chunk.inverted, chunk.count)
        if flags is not None:
            flipped = flags[rows]
            pixels[flipped] = 255 - pixels[flipped]
        return pixels.reshape(len(rows), *self.settings.image_shape)

    def _pixels_of(self, n: int) -> np.ndarray:
        """The decoded images of chunk ``n``, through a small cache."""
        if n in self._cache:
            self._cache.move_to_end(n)
            return self._cache[n]
        chunk = self.read_chunk(n, names=False)
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
        chunk = self.read_chunk(n, names=False)
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
        chunks = np.searchsorted(self._starts_array, rows, side="right") - 1
        if self.index_error is not None:
            self._check_found(rows, chunks)
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
            images = self.decode_chunk(self.read_chunk(n, names=False), progress=within)
            if progress:
                progress(entry.first + entry.count, self.index.count)
            yield entry.first, images

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
        listed: list[str] = []
        payload, residual, inverted, names_size = 0, [], [], 0
        for n, entry in enumerate(self.index.chunks):
            chunk = self.read_chunk(n, names=names)
            if chunk.names is not None:
                listed.extend(chunk.names)
            names_size += chunk.names_size
            payload += len(chunk.payload)
            if chunk.residual is not None:
                residual.append(len(chunk.residual))
            if chunk.inverted is not None:  # only chunks with inverted images cost memory
                inverted.append((entry.first, chunk.count, chunk.inverted))
        if names and self.header.named and len(set(listed)) != len(listed):
            raise UnsafeNameError("stored names are not unique")
        bitmap = None
        if inverted:
            flags = np.zeros(self.index.count, dtype=bool)
            for first, count, packed in inverted:
                flags[first : first + count] = _flags(packed, count)
            bitmap = np.packbits(flags, bitorder="little").tobytes() if flags.any() else None
        layer = self.header.residual
        summary = dataclasses.replace(
            info_header(self.header, self.index.count,
                        tuple(listed) if self.header.named and names else None,
                        self.header.model_size, payload),
            residual=None if layer is None else dataclasses.replace(
                layer, chunk_sizes=tuple(residual)),
            names_stored_size=names_size, inverted=bitmap)
        if names:
            self._summary = summary
        return summary

    def latents(self) -> np.ndarray:
        settings = self.settings
        out = np.empty((self.index.count, self.header.latent_size), dtype=np.float32)
        for n, entry in enumerate(self.index.chunks):
            out[entry.first : entry.first + entry.count] = quantize.dequantize(
                self.symbols(self.read_chunk(n, names=False)), settings.quant_step)
        return out


def info_header(header: chunked.FileHeader, count: int, names=None,
                model_size: int = 0, payload_size: int = 0) -> container.Header:
    """A version 5 file's header in the shape of the older versions' (what ``info`` shows
    and ``settings_for`` resolves)."""
    return container.Header(
        model_id=header.model_id, latent_size=header.latent_size, image_shape=None,
        count=count, quant_step=header.quant_step, level=header.level, coder=header.coder,
        symbol_dtype=header.symbol_dtype, payload_size=payload_size, names=names,
        version=chunked.VERSION, residual=header.residual, embedded_model_size=model_size)


def is_chunked(data: bytes) -> bool:
    """Whether the bytes start a version 5 file."""
    return data[:4] == container.MAGIC and data[4:5] == bytes([chunked.VERSION])


def decode(data: bytes, *, zoo: Zoo | None = None,
           max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The images (N, H, W) uint8 of a .vaez file's bytes. A file of more than
    ``max_images`` images is refused (``ImageLimitError``) before anything is decoded."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if is_chunked(data):
        decoder = _whole(data, zoo, max_images)
        out = np.empty((len(decoder), *decoder.settings.image_shape), dtype=np.uint8)
        for first, images in decoder.chunks():
            out[first : first + len(images)] = images
        return out
    archive = container.unpack(data)
    check_count(archive.header, max_images)
    return reconstruct(archive, zoo)


def _whole(data: bytes, zoo: Zoo | None, max_images: int) -> "ArchiveDecoder":
    """A decoder of a whole version 5 file's bytes, which must end exactly at its index."""
    decoder = ArchiveDecoder(io.BytesIO(data), zoo, recover=False)
    if decoder.trailing:
        raise TrailingBytesError(
            f"{decoder.trailing} unexpected bytes after the end of the file")
    check_count(decoder.info, max_images)
    return decoder


def latents(data: bytes, *, zoo: Zoo | None = None,
            max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The latent vectors of a .vaez file's images, float32 (N, latent size): the decoded
    symbols times the step, the points the decoder network turns into pixels (for
    clustering, search or classifiers, without decoding any pixel)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    data = bytes(data)
    if is_chunked(data):
        return _whole(data, zoo, max_images).latents()
    archive = container.unpack(data)
    check_count(archive.header, max_images)
    settings = settings_for(archive.header, zoo_for(archive, zoo))
    return quantize.dequantize(decode_symbols(archive, settings), settings.quant_step)


def sample(count: int, *, model: str | None = None, seed: int = 0,
           zoo: Zoo | None = None) -> np.ndarray:
    """``count`` new images (count, H, W) uint8 drawn from a model's prior: latents from
    N(0, I) (seeded) through its decoder. ``model``: a family (default: mnist, whose
    default level's model draws) or a model's name."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise ArgumentTypeError(f"count must be an integer, not {count!r}")
    if not 1 <= count <= 100_000:
        raise SettingsError(f"count must be 1..100000, got {count}")
    zoo = Zoo.installed() if zoo is None else zoo
    if model is None or model == DEFAULT_FAMILY:
        info = zoo.level_model(zoo.level(DEFAULT_LEVEL))
    elif model in {f.name for f in zoo.families()}:
        info = zoo.find(zoo.family(model).vae)
    else:
        info = zoo.find(model)
    net = zoo.vae(info)
    z = np.random.default_rng(seed).standard_normal((count, net.latent_size))
    return net.decode_pixels(z.astype(np.float32)).reshape(count, *net.image_shape)


def read_header(data: bytes, zoo: Zoo | None = None) -> container.Header:
    """The header of a file's bytes (without decoding any image), with the image shape
    filled in from its model where the file does not store it and the model is known."""
    return complete_header(container.read_header(io.BytesIO(bytes(data)))[0], zoo)


def complete_header(header: container.Header, zoo: Zoo | None = None) -> container.Header:
    if header.image_shape is not None:
        return header
    zoo = Zoo.installed() if zoo is None else zoo
    try:
        shape = zoo.find(header.model_id).image_shape
    except UnknownModelError:
        return header
    return dataclasses.replace(header, image_shape=shape)
