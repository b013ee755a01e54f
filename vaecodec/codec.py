"""encode(images) -> bytes, decode(bytes) -> images.

The pipeline: pixels -> model (encoder mean) -> quantizer -> coder -> container bytes, and
back. Options are checked and resolved once, by ``resolve``, into a frozen ``Settings``
that the rest of the way only reads; a file's header is resolved the same way by
``settings_for``. The models come from a ``Zoo`` (by default the installed one), which is
how a caller hands over a model or level that is not installed.
"""

from __future__ import annotations

import dataclasses
import io
import math
import warnings
from typing import Callable, Iterable, Iterator

import numpy as np

from .core import coders, pixels as pixel_conv, quantize, runtime
from .errors import (
    ArgumentTypeError,
    CorruptHeaderError,
    CorruptModelError,
    ImageLimitError,
    QualityError,
    QualityWarning,
    InvalidArrayError,
    SettingsError,
    UnknownLevelError,
    UnknownModelError,
)
from .format import container
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
    level (None for an explicit step, or a level without a measured PSNR)."""
    expected = settings.level.measured.get("psnr_db") if settings.level else None
    if expected is None:
        return None
    count = len(symbols)
    rows = (np.arange(count) if count <= GUARD_SAMPLE
            else np.linspace(0, count - 1, GUARD_SAMPLE).astype(np.int64))
    decoded = settings.vae().decode_pixels(quantize.dequantize(symbols[rows],
                                                               settings.quant_step))
    error = decoded.astype(np.float32) - pixels[rows]
    mse = np.maximum(np.mean(error * error, axis=1), 1e-3)
    per_image = 10 * np.log10(255.0**2 / mse)
    together = float(10 * np.log10(255.0**2 / max(float(mse.mean()), 1e-3)))
    below = int(np.count_nonzero(per_image < expected - GUARD_IMAGE_DB))
    return QualityReport(count, len(rows), together, float(expected),
                         int(round(below * count / len(rows))), settings.model.name,
                         settings.level.level)


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
            max_error: int | None = None, zoo: Zoo | None = None) -> Settings:
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
        return Settings(zoo.find(model), quantize.check_step(quant_step), "zstd", zoo=zoo)
    if quality is None:
        quality = DEFAULT_LEVEL if family in (None, DEFAULT_FAMILY) \
            else zoo.family(family).default_level
    level = zoo.level(quality, family)
    if family is None and model is not None and zoo.find(model).name != level.model:
        raise SettingsError(f"quality level {level.level} uses model {level.model}, "
                            f"not {model}; another model takes an explicit step (--step)")
    return Settings(zoo.level_model(level), level.quant_step, coder or "range", level,
                    max_error, pixel_model, zoo)


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
        images = images.detach().cpu().numpy()
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
           embed_model: bool = False, strict: bool = False, polarity: str = "auto") -> bytes:
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
    pixel model's base level (``quality`` 1) for the latent.
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
                       lossless=lossless, max_error=max_error, zoo=zoo)
    return encode_with(settings, images, names, embed_model=embed_model, strict=strict,
                       polarity=polarity)


def _guard(settings: Settings, pixels: np.ndarray, symbols: np.ndarray, strict: bool,
           on_quality: Callable[[QualityReport], None] | None) -> None:
    report = check_quality(settings, pixels, symbols)
    if report is not None and on_quality is not None:
        on_quality(report)
    if report is None or not report.poor:
        return
    if strict:
        raise QualityError(report.message().replace("these images", "refused (strict): "
                                                    "these images", 1))
    warnings.warn(QualityWarning(report.message(), report), stacklevel=4)


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
    coded at a level."""
    if not isinstance(embed_model, bool):
        raise ArgumentTypeError(f"embed_model must be True or False, not {embed_model!r}")
    if polarity not in POLARITIES:
        raise SettingsError(f"polarity must be 'auto' or 'as-is', not {polarity!r}")
    embedded = b""
    if embed_model:
        family = settings.zoo.family_of(settings.model.model_id)
        if family is None:
            raise SettingsError(f"model {settings.model.name} is not a family of your own "
                                "(the shipped mnist family is in every vaecodec); only those "
                                "can be embedded")
        embedded = settings.zoo.family_file(family.name)
    unit, exact = _pixels(_as_array(images), settings.image_shape)
    count = len(unit)
    # images in the other polarity than the model's are coded inverted, and restored
    flags = dark_on_light(exact if exact is not None else pixel_conv.to_uint8(unit),
                          settings.image_shape)
    if polarity_of(settings.model) == DARK_ON_LIGHT:
        flags = ~flags
    if polarity == "as-is":
        flags[:] = False
    inverted = None
    if flags.any():  # (in uint8: float images are rounded first, as lossless files do)
        inverted = np.packbits(flags, bitorder="little").tobytes()
        exact = (exact if exact is not None else pixel_conv.to_uint8(unit)).copy()
        exact[flags] = 255 - exact[flags]
        unit = pixel_conv.to_unit(exact)
    names = _names(names, count)
    if settings.max_error is not None and count > container.MAX_RESIDUAL_COUNT:
        raise InvalidArrayError(f"{count} images: a lossless or max-error file holds "
                                f"at most {container.MAX_RESIDUAL_COUNT}; split them")
    net = settings.vae()
    symbols = quantize.quantize(net.encode_mean(unit), settings.quant_step)
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
    coder = coders.RESIDUAL_CODERS[max(coders.RESIDUAL_CODERS)]
    chunks = coder.encode(pixel_model, exact, pixel_model.base_pixels(symbols),
                          settings.max_error, progress)
    header = dataclasses.replace(header, residual=container.Residual(
        pixel_model.model_id, settings.max_error, tuple(len(c) for c in chunks), coder.layout))
    return container.pack(header, payload, b"".join(chunks), embedded)


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


def check_count(header: container.Header, max_images: int) -> None:
    """Refuse a file that holds more images than the caller allows, before decoding it: a
    few bytes can declare millions of images, and decoding them costs time and memory in
    proportion."""
    if isinstance(max_images, (bool, np.bool_)) or not isinstance(max_images, (int, np.integer)):
        raise ArgumentTypeError(f"max_images must be an integer, not {max_images!r}")
    if max_images < 1:
        raise SettingsError(f"max_images must be at least 1, got {max_images}")
    if header.count > max_images:
        raise ImageLimitError(
            f"the file holds {header.count:,} images, more than the limit of {max_images:,}; "
            "raise the limit to decode it (--max-images, or max_images= in Python)")


def zoo_for(archive: container.Archive, zoo: Zoo | None = None) -> Zoo:
    """The zoo to decode a file with: ``zoo`` (default: the installed one), with the model
    family the file carries, if any (checked to be the one its header names)."""
    zoo = Zoo.installed() if zoo is None else zoo
    if archive.model is None:
        return zoo
    family, models, levels = families.from_bytes(archive.model)
    vae = next(m for m in models if m.kind == VAE)
    header = archive.header
    pixel = [m for m in models if m.kind == PIXEL_MODEL]
    if not vae.model_id.startswith(header.model_id) or (
            header.residual is not None
            and not (pixel and pixel[0].model_id.startswith(header.residual.model_id))):
        raise CorruptHeaderError("the embedded model is not the one the header names")
    return zoo.with_family(family, models, levels)


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
    pixel_model = settings.zoo.pixel_model(settings.pixel_model)
    if pixel_model.base_level != header.level:
        raise CorruptHeaderError(
            f"pixel model {settings.pixel_model.name} works on quality level "
            f"{pixel_model.base_level}, but the file's base layer is level {header.level}")
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


def decode(data: bytes, *, zoo: Zoo | None = None,
           max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The images (N, H, W) uint8 of a .vaez file's bytes. A file of more than
    ``max_images`` images is refused (``ImageLimitError``) before anything is decoded."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    archive = container.unpack(bytes(data))
    check_count(archive.header, max_images)
    return reconstruct(archive, zoo)


def latents(data: bytes, *, zoo: Zoo | None = None,
            max_images: int = DEFAULT_MAX_IMAGES) -> np.ndarray:
    """The latent vectors of a .vaez file's images, float32 (N, latent size): the decoded
    symbols times the step, the points the decoder network turns into pixels (for
    clustering, search or classifiers, without decoding any pixel)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ArgumentTypeError(f"data must be bytes, not {type(data).__name__}")
    archive = container.unpack(bytes(data))
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
