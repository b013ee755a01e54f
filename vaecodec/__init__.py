"""vaecodec: a learned lossy codec for 28x28 grayscale images, built on a trained VAE.

    import vaecodec
    data = vaecodec.encode(images)     # uint8 (N, 28, 28) -> bytes of a .vaez file
    images2 = vaecodec.decode(data)    # bytes -> uint8 (N, 28, 28)

Importing vaecodec is cheap: numpy, Pillow and zstd load when a function is first used.
"""

from __future__ import annotations

from .errors import (
    BadMagicError,
    ChecksumError,
    CorruptHeaderError,
    CorruptPayloadError,
    DuplicateNameError,
    EmptySelectionError,
    FormatError,
    HeaderTooLargeError,
    ImageSizeError,
    InputError,
    InvalidImageError,
    OutputExistsError,
    OutputPathError,
    PayloadSizeError,
    TrailingBytesError,
    TruncatedError,
    UnknownLevelError,
    UnknownModelError,
    UnsafeNameError,
    UnsupportedVersionError,
    VaezError,
)

__version__ = "1.3.0"

__all__ = [
    "encode",
    "decode",
    "compress",
    "decompress",
    "read_info",
    "list_models",
    "list_levels",
    "DEFAULT_LEVEL",
    "DEFAULT_QUANT_STEP",
    "UnknownLevelError",
    "VaezError",
    "FormatError",
    "TruncatedError",
    "BadMagicError",
    "UnsupportedVersionError",
    "HeaderTooLargeError",
    "CorruptHeaderError",
    "TrailingBytesError",
    "ChecksumError",
    "PayloadSizeError",
    "CorruptPayloadError",
    "UnsafeNameError",
    "UnknownModelError",
    "InputError",
    "InvalidImageError",
    "ImageSizeError",
    "EmptySelectionError",
    "DuplicateNameError",
    "OutputExistsError",
    "OutputPathError",
    "__version__",
]

# Loaded on first use (PEP 562) so that `vaecodec --help` and `vaecodec info` start fast.
_LAZY = {
    "encode": "codec",
    "decode": "codec",
    "compress": "codec",
    "decompress": "codec",
    "read_info": "codec",
    "list_models": "checkpoints",
    "list_levels": "levels",
    "DEFAULT_LEVEL": "levels",
    "DEFAULT_QUANT_STEP": "quantize",
}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        value = getattr(module, "DEFAULT_STEP" if name == "DEFAULT_QUANT_STEP" else name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaecodec' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
