"""vaecodec: a learned codec for small grayscale images, built on a trained VAE.

    import vaecodec
    data = vaecodec.encode(images)     # uint8 (N, 28, 28) -> bytes of a .vaez file
    images2 = vaecodec.decode(data)    # bytes -> uint8 (N, 28, 28)
    with vaecodec.open("digits.vaez") as archive:   # random access: archive[i], names, ...
        image = archive[5]

Importing vaecodec is cheap: numpy, Pillow and zstd load when a function is first used.
"""

from __future__ import annotations

from .errors import (
    ArgumentTypeError,
    BadMagicError,
    ChecksumError,
    ConversionError,
    CorruptHeaderError,
    CorruptModelError,
    CorruptPayloadError,
    DuplicateNameError,
    EmptySelectionError,
    FormatError,
    HeaderTooLargeError,
    ImageLimitError,
    ImageSizeError,
    InputError,
    InvalidArrayError,
    InvalidImageError,
    ModelError,
    OutOfMemoryError,
    OutputExistsError,
    OutputPathError,
    PayloadSizeError,
    QualityError,
    QualityWarning,
    ReleasedLevelError,
    SettingsError,
    ShardError,
    TrailingBytesError,
    TrainingError,
    TruncatedError,
    UnknownLevelError,
    UnknownModelError,
    UnsafeNameError,
    UnsupportedVersionError,
    VaezError,
    VaezWarning,
)

__version__ = "2.1.0"

__all__ = [
    "encode",
    "decode",
    "compress",
    "decompress",
    "read_info",
    "open",
    "latents",
    "sample",
    "list_models",
    "list_levels",
    "Zoo",
    "EncodeOptions",
    "DEFAULT_LEVEL",
    "DEFAULT_QUANT_STEP",
    "DEFAULT_MAX_IMAGES",
    "VaezError",
    "FormatError",
    "TruncatedError",
    "BadMagicError",
    "UnsupportedVersionError",
    "HeaderTooLargeError",
    "CorruptHeaderError",
    "TrailingBytesError",
    "ChecksumError",
    "ConversionError",
    "PayloadSizeError",
    "CorruptPayloadError",
    "UnsafeNameError",
    "ImageLimitError",
    "ModelError",
    "UnknownModelError",
    "CorruptModelError",
    "UnknownLevelError",
    "ReleasedLevelError",
    "SettingsError",
    "ShardError",
    "TrainingError",
    "ArgumentTypeError",
    "InputError",
    "InvalidArrayError",
    "InvalidImageError",
    "ImageSizeError",
    "EmptySelectionError",
    "DuplicateNameError",
    "OutOfMemoryError",
    "OutputExistsError",
    "OutputPathError",
    "QualityError",
    "VaezWarning",
    "QualityWarning",
    "__version__",
]

# Loaded on first use (PEP 562) so that `vaecodec --help` and `vaecodec info` start fast:
# public name -> (module, its name there)
_LAZY = {
    "encode": ("codec", "encode"),
    "decode": ("codec", "decode"),
    "compress": ("files", "compress"),
    "decompress": ("files", "decompress"),
    "read_info": ("headers", "read_info"),
    "open": ("archive", "open"),
    "latents": ("codec", "latents"),
    "sample": ("sampling", "sample"),
    "Zoo": ("zoo", "Zoo"),
    "EncodeOptions": ("options", "EncodeOptions"),
    "DEFAULT_LEVEL": ("zoo", "DEFAULT_LEVEL"),
    "DEFAULT_QUANT_STEP": ("core.quantize", "DEFAULT_STEP"),
    "DEFAULT_MAX_IMAGES": ("format.constants", "DEFAULT_MAX_IMAGES"),
}


def list_models(kind: str = "vae"):
    """The installed models of one kind: "vae" (the base layer) or "pixel-model"."""
    from .zoo import Zoo

    return Zoo.installed().models(kind)


def list_levels():
    """Every installed quality level by number, with its measured rate and quality
    (``Level.measured``). A released level's number never changes, so the numbers are in
    order of quality within each series released together, not overall (levels 10-13
    came after 9, level 14, the cheapest, after 13)."""
    from .zoo import Zoo

    return Zoo.installed().levels()


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module_name, attribute = _LAZY[name]
        value = getattr(importlib.import_module(f".{module_name}", __name__), attribute)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaecodec' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
