"""Encoding options checked and resolved once (``resolve``) into a frozen ``Settings`` that
the rest of the way only reads; a file's header resolved the same way (``settings_for``),
every model and level checked before anything is decoded; the limits every reader
applies (``check_count``)."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..core import coders, quantize
from ..errors import (
    ArgumentTypeError,
    CorruptHeaderError,
    ImageLimitError,
    SettingsError,
    UnknownLevelError,
)
from ..format import chunked, container, shapes
from ..format.constants import DEFAULT_MAX_IMAGES  # noqa: F401  (the readers' default)
from ..options import EncodeOptions, with_keywords
from ..zoo import DEFAULT_LEVEL, PIXEL_MODEL, VAE, Level, ModelInfo, Zoo, families
from ..zoo.defaults import DEFAULT_FAMILY
from .chunk import POLARITIES

#: ``decode`` and ``decompress`` refuse files of more images unless given a higher limit.



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
    def image_shape(self) -> tuple[int, ...]:
        """(height, width), or (height, width, channels) (``format.shapes``)."""
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


def resolve(options: EncodeOptions | None = None, *, zoo: Zoo | None = None,
            **keywords) -> Settings:
    """Check encoding options (an ``EncodeOptions``, or its fields as keywords) and resolve
    them into Settings: the level, its model, the step, the coder and, for a residual
    layer, its pixel model. The options that concern writing (``embed_model``,
    ``strict``, ``polarity``) are the writers' to check."""
    options = with_keywords(options, keywords, "resolve")
    quality, quant_step, model, coder = (options.quality, options.quant_step, options.model,
                                         options.coder)
    lossless, max_error, search = options.lossless, options.max_error, options.search
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
        pixel_model = _pixel_model_of(zoo, family, max_error)
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


def _pixel_model_of(zoo: Zoo, family: str | None, max_error: int) -> ModelInfo:
    """The pixel model new files of ``family`` with ``max_error`` use (a family may keep
    one for some max errors and another for the others: ``families.pixel_model_name``)."""
    if family is None or family == DEFAULT_FAMILY:
        return zoo.find(None, PIXEL_MODEL)
    name = families.pixel_model_name(zoo.family(family), max_error)
    if name is None:
        raise SettingsError(f"model {family} has no pixel model, which lossless and "
                            "max-error files need")
    return zoo.find(name, PIXEL_MODEL)


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
        family_to_embed(settings)


def family_to_embed(settings: Settings) -> families.Family:
    family = settings.zoo.family_of(settings.model.model_id)
    if family is None:
        raise SettingsError(f"model {settings.model.name} is not a family of your own "
                            "(the shipped mnist family is in every vaecodec); only those "
                            "can be embedded")
    return family


def embedded_family(settings: Settings) -> bytes:
    """The model family file of ``settings``' model, to carry in an archive."""
    return settings.zoo.family_file(family_to_embed(settings).name)


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
            from .. import __version__

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
    if step is None:  # the container allows neither none nor both of a level and a step
        raise CorruptHeaderError("the header gives neither a quality level nor a step")
    settings = Settings(model, step, header.coder, level,
                        None if header.residual is None else header.residual.max_error,
                        pixel_model, zoo)
    net = settings.vae()
    kind = coding(settings)
    if header.residual is not None and pixel_model is not None and kind is not None and (
            kind != coders.RESIDUAL_CODERS[header.residual.layout].coding):
        raise CorruptHeaderError(
            f"the residual layer's layout {header.residual.layout} does not match pixel "
            f"model {pixel_model.name}, which codes {CODINGS[kind]}")
    if header.image_shape is None and len(net.image_shape) == 3:
        raise CorruptHeaderError(f"the file names a {shapes.describe(net.image_shape)} "
                                 "model but does not record its channels (version 7 does)")
    shape_ok = header.image_shape is None or tuple(header.image_shape) == net.image_shape
    if header.latent_size != net.latent_size or not shape_ok:
        shown = "the model's" if header.image_shape is None else str(tuple(header.image_shape))
        raise CorruptHeaderError(
            f"header says latent size {header.latent_size} and images {shown}, "
            f"but its model has {net.latent_size} and {net.image_shape}"
        )
    return settings


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
    return zoo_with(archive.model, header.model_id,
                     None if header.residual is None else header.residual.model_id, zoo)


def zoo_with(model: bytes | None, model_id: bytes, pixel_id: bytes | None,
              zoo: Zoo | None) -> Zoo:
    zoo = Zoo.installed() if zoo is None else zoo
    if not model:
        return zoo
    family, models, levels = families.from_bytes(model)
    vae = next(m for m in models if m.kind == VAE)
    pixel = [m for m in models if m.kind == PIXEL_MODEL]
    # the header's pixel model: any of the family's (it may keep one per max error)
    if not vae.model_id.startswith(model_id) or (
            pixel_id is not None and not any(p.model_id.startswith(pixel_id) for p in pixel)):
        raise CorruptHeaderError("the embedded model is not the one the header names")
    return zoo.with_family(family, models, levels)


CODINGS = {"values": "values as they are (layouts 1 and 2)",
           "differences": "differences from a prediction (layout 3)",
           "table": "with a table of contexts (layouts 4 and 5)"}


def coding(settings: Settings) -> str | None:
    """What the settings' pixel model codes (``coders.RESIDUAL_CODERS``' ``coding``):
    None without a pixel model."""
    if settings.pixel_model is None:
        return None
    return settings.zoo.pixel_model(settings.pixel_model).coding


def pixel_model_for(settings: Settings, level: int):
    """The residual layer's loaded pixel model, checked to work on the file's base level."""
    info = settings.pixel_model
    if info is None:
        raise CorruptHeaderError("the file has a residual layer but names no pixel model")
    pixel_model = settings.zoo.pixel_model(info)
    if settings.max_error and getattr(pixel_model, "lossless_only", False):
        raise CorruptHeaderError(f"pixel model {info.name} codes lossless files only, but the "
                                 f"file's residual layer has max error {settings.max_error}")
    if pixel_model.base_level != level:
        raise CorruptHeaderError(
            f"pixel model {info.name} works on quality level "
            f"{pixel_model.base_level}, but the file's base layer is level {level}")
    return pixel_model

