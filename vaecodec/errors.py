"""The library's exceptions: one base class, one subclass per failure a caller may handle.

Messages are written for the person at the keyboard; the CLI prints them as they are.
"""

from __future__ import annotations


class VaezError(Exception):
    """Base class of every error vaecodec raises on purpose."""


# --- reading a .vaez file --------------------------------------------------------------
class FormatError(VaezError):
    """The bytes are not a valid .vaez file."""


class TruncatedError(FormatError):
    """The file ends before the structure it announces."""


class BadMagicError(FormatError):
    """The file does not start with the .vaez magic bytes."""


class UnsupportedVersionError(FormatError):
    """The file uses a format version this vaecodec cannot read."""


class HeaderTooLargeError(FormatError):
    """The header length exceeds the cap, or a size in it exceeds its limit."""


class CorruptHeaderError(FormatError):
    """The header is not the msgpack map of the expected keys and types."""


class TrailingBytesError(FormatError):
    """Bytes follow the end of the .vaez structure."""


class ChecksumError(FormatError):
    """The stored CRC-32 does not match the header and payload."""


class PayloadSizeError(FormatError):
    """A zstd frame's content size is missing or differs from what the header implies."""


class CorruptPayloadError(FormatError):
    """A zstd frame does not decompress."""


class UnsafeNameError(FormatError):
    """A stored image name would land outside the output folder."""


class UnknownModelError(VaezError):
    """The file names a model this installation does not have."""


class UnknownLevelError(VaezError, ValueError):
    """A quality level (in a file, or asked for) this installation does not define."""


# --- inputs and outputs ------------------------------------------------------------------
class InputError(VaezError, ValueError):
    """An input (array, image file, folder) cannot be encoded."""


class InvalidImageError(InputError):
    """An image file cannot be decoded."""


class ImageSizeError(InputError):
    """An image is not 28x28 (and resizing was not asked for)."""


class EmptySelectionError(InputError):
    """No image was selected."""


class DuplicateNameError(InputError):
    """Two inputs would be stored under the same name."""


class OutputExistsError(VaezError):
    """An output exists and overwriting was not asked for."""


class OutputPathError(VaezError):
    """An output path cannot be written (missing folder, a folder where a file goes...)."""
