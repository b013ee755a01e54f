"""The library's exceptions: one base class, one subclass per failure a caller may handle.

Every error a caller can cause derives from ``VaezError``; the CLI prints those (and OS
errors) as one line and lets anything else, a bug, show its traceback. Errors about a
value also derive from ``ValueError``, errors about a type from ``TypeError``, so code
written against the standard exceptions keeps working.

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


class ShardError(CorruptHeaderError):
    """A shard that a manifest lists is missing or unreadable, lies outside the
    manifest's folder (through a symbolic link), or is not the shard the manifest
    describes (size, image count, model)."""


# --- models and quality levels ------------------------------------------------------------
class ImageLimitError(VaezError):
    """A file holds more images than the caller allows (``max_images``, ``--max-images``)."""


class OutOfMemoryError(VaezError, MemoryError):
    """The work asked for needs more memory than there is (a huge array to encode at
    once): do it in parts."""


class QualityError(VaezError):
    """``strict``: the images reconstruct far worse than the model does on its own data."""


class ModelError(VaezError):
    """A model (or the quality levels that use it) cannot be found or used."""


class UnknownModelError(ModelError):
    """The file (or the caller) names a model this installation does not have."""


class CorruptModelError(ModelError):
    """A model's files are damaged: the weights do not match their sha256, or the tensors
    or level tables are inconsistent."""


class UnknownLevelError(VaezError, ValueError):
    """A quality level (in a file, or asked for) this installation does not define."""


class ReleasedLevelError(VaezError):
    """Fitting levels would change or drop a released level (files name levels by number,
    so a released level never changes)."""


class TrainingError(VaezError):
    """A trained family failed its checks (every level must beat the mean image, quality
    must rise with bytes); it is not installed."""


# --- settings ----------------------------------------------------------------------------
class SettingsError(VaezError, ValueError):
    """Encoding options that are out of range or contradict each other."""


class ArgumentTypeError(VaezError, TypeError):
    """An argument of the wrong type (``decode("...")``, ``max_error=2.0``...)."""


# --- inputs and outputs ------------------------------------------------------------------
class InputError(VaezError, ValueError):
    """An input (array, image file, folder) cannot be encoded."""


class InvalidArrayError(InputError):
    """An array passed to ``encode`` has the wrong shape or values, or the names passed
    with it do not match it."""


class InvalidImageError(InputError):
    """An image file cannot be decoded."""


class ImageSizeError(InputError):
    """An image is not the model's size (and resizing was not asked for)."""


class ConversionError(InputError):
    """An image holds what vaecodec's grayscale cannot keep (colour, transparency, samples
    deeper than 8 bits), and an exact mode (lossless, max-error) was asked for without
    accepting the conversion (``grayscale=True``, ``--grayscale``)."""


class EmptySelectionError(InputError):
    """No image was selected."""


class DuplicateNameError(InputError):
    """Two inputs would be stored under the same name."""


class OutputExistsError(VaezError):
    """An output exists and overwriting was not asked for."""


class OutputPathError(VaezError):
    """An output path cannot be written (missing folder, a folder where a file goes...)."""


# --- warnings ----------------------------------------------------------------------------
class VaezWarning(UserWarning):
    """Base class of every warning vaecodec emits."""


class QualityWarning(VaezWarning):
    """The images reconstruct far worse than the model does on its own data: they are
    unlike what it was trained on. ``report`` holds the figures
    (``pipeline.guard.QualityReport``)."""

    def __init__(self, message: str, report=None):
        super().__init__(message)
        self.report = report
