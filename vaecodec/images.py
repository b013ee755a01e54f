"""Image files: selecting them, reading them as uint8 images of one size and one channel
layout (grayscale, or the channels of a colour model), writing PNGs.

The input policy lives here (extensions, pixel modes, sizes, names); nothing here knows
about models or the container: the size to read images at is the caller's (its model's).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import os
import warnings
from pathlib import Path
from typing import Callable, Iterable, NamedTuple

import numpy as np
from PIL import Image, ImageOps

from .errors import (
    ConversionError,
    DuplicateNameError,
    EmptySelectionError,
    ImageSizeError,
    InputError,
    InvalidImageError,
    UnsafeNameError,
)
from .format import shapes
from .format.container import check_name
from .fsio import open_regular  # noqa: F401  (images.open_regular: its old home)
from .modes import (  # noqa: F401  (images.to_gray...: their old home)
    GRAY_MODES,
    convert_channels,
    is_gray_mode,
    source_channels,
    to_channels,
    to_gray,
)

EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".pnm"}
)
MAX_PIXELS = 50_000_000  # refuse larger images before decoding them (decompression bombs)
EXIF_ORIENTATION = 0x0112  # 5..8: the image is stored rotated by 90 degrees


def is_image_name(name: str) -> bool:
    """A visible file name with an image extension (``os.path.splitext``'s, computed the
    faster way: ``_walk`` asks once per file)."""
    if "/" in name:
        return not name.startswith(".") and os.path.splitext(name)[1].lower() in EXTENSIONS
    dot = name.rfind(".")  # a base name that starts with no dot: its extension
    return dot > 0 and name[0] != "." and name[dot:].lower() in EXTENSIONS


def _walk_error(error: OSError):
    raise InputError(f"cannot read folder {error.filename}: {error.strerror or error}")


def collect(sources: Iterable[str | os.PathLike]) -> list[tuple[str, str]]:
    """(path, stored name) for every image under ``sources`` (``iter_files``), as a list."""
    return list(iter_files(sources))


def iter_files(sources: Iterable[str | os.PathLike]):
    """(path, stored name) for every image under ``sources``, source by source, each folder
    in sorted order (its files and subfolders by name), so that memory holds one folder's
    listing at a time, not every name.

    A folder is searched recursively and its images are named relative to it; a file is
    named by its base name. Hidden files and folders and other extensions are skipped
    (a file given by name must have an image extension). Two images stored under the same
    name (from two sources), or written as the same PNG (``7.jpg`` and ``7.png``), are a
    ``DuplicateNameError`` when the second is reached.
    """
    sources = list(sources)
    for source in sources:  # every source checked before the first image is read
        root = Path(source)
        if root.is_file() and not is_image_name(root.name):
            raise InputError(
                f"{root} is not an image file (expected {', '.join(sorted(EXTENSIONS))})")
        if not root.is_dir() and not root.is_file():
            raise InputError(f"{root} is neither a file nor a folder" if root.exists()
                             else f"{root} does not exist")
    several = len(sources) > 1
    seen: set[bytes] = set()  # several sources: a short digest of each name
    found = 0
    for source in sources:
        root = Path(source)
        pairs = (_walk(os.fspath(root), "") if root.is_dir()
                 else iter([(os.fspath(root), root.name)]))
        for path, name in pairs:
            _check_stored_name(path, name)
            if several:
                key = hashlib.blake2b(name.encode("utf-8", "surrogatepass"),
                                      digest_size=8).digest()
                if key in seen:
                    raise DuplicateNameError(
                        f"{path} would be stored as {name!r}, as an image of an earlier "
                        "source is; compress them into separate files")
                seen.add(key)
            found += 1
            yield path, name
    if not found:
        shown = ", ".join(str(s) for s in sources)
        raise EmptySelectionError(
            f"no image files found in {shown} (looked for {', '.join(sorted(EXTENSIONS))})")


def shown_path(path) -> str:
    """A path as a message shows it: bytes that are no valid UTF-8 (which the file system
    gives as lone surrogates) escaped, so that printing it cannot fail."""
    try:
        return os.fsencode(path).decode("utf-8", "backslashreplace")
    except UnicodeError:  # a surrogate that no file-system byte gives
        return os.fspath(path).encode("utf-8", "backslashreplace").decode("utf-8")


def _check_stored_name(path: str, name: str) -> None:
    """Refuse, naming the file, a name that cannot be stored (not valid UTF-8, too long,
    a control character)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{shown_path(path)}: its name is not valid UTF-8, and vaecodec "
                         "stores names as UTF-8; rename it") from None
    try:
        check_name(name)
    except UnsafeNameError as e:
        raise InputError(f"{shown_path(path)}: {e}") from None


def count_files(sources: Iterable[str | os.PathLike], folders: set[str] | None = None
                ) -> int:
    """How many images ``iter_files`` yields (a walk of the folders, reading no image, in
    no particular order: it only counts); ``folders``: a set to add the first folder of
    every stored name to."""
    total = 0
    for source in sources:
        root = Path(source)
        if root.is_file():
            total += 1
            continue
        if not root.is_dir():
            continue
        stack = [(os.fspath(root), None)]  # (folder, the first folder of its names)
        while stack:
            top, first = stack.pop()
            try:
                with os.scandir(top) as entries:
                    for entry in entries:
                        if entry.name.startswith("."):
                            continue
                        if entry.is_dir(follow_symlinks=False):  # a link is not followed
                            stack.append((entry.path, first or entry.name))
                        elif is_image_name(entry.name):
                            total += 1
                            if first is not None and folders is not None:
                                folders.add(first)
            except OSError as e:
                _walk_error(e)
    return total


def _listing(top: str) -> list[tuple[str, bool]]:
    """(name, is a folder) of ``top``'s entries that are not hidden, sorted by name (a
    link to a folder is no folder: it is not followed, as ``os.walk`` does not)."""
    try:
        with os.scandir(top) as entries:
            return sorted((e.name, e.is_dir(follow_symlinks=False)) for e in entries
                          if not e.name.startswith("."))
    except OSError as e:
        _walk_error(e)
        raise


class _Folder:
    """A folder being walked: its entries still to visit, and what its PNGs are written
    as (to catch a file written where a subfolder's images need a folder)."""

    def __init__(self, top: str, prefix: str, check: bool):
        self.top, self.prefix = top, prefix
        listing = _listing(top)
        self.entries = iter(listing)
        self.written: dict[str, str] = {}
        files = [name for name, is_dir in listing if not is_dir and is_image_name(name)]
        if files and check:
            try:  # caught now, while the user can still rename a file
                for name, out in zip(files, output_names(files)):
                    self.written[out] = name
            except DuplicateNameError as e:
                first, second = (os.path.join(top, name) for name in e.names)
                raise DuplicateNameError(f"{first} and {second} would both be restored as "
                                         f"{prefix}{e.written}; rename one of them") from None
        self.found = False  # whether an image under it was yielded


def _walk(top: str, prefix: str, check: bool = True):
    """(path, name) of the images under folder ``top`` (names start with ``prefix``),
    its entries in sorted order, subfolders where they sort. Iterative: a tree of any
    depth is walked in the memory of its deepest path."""
    stack = [_Folder(top, prefix, check)]
    while stack:
        folder = stack[-1]
        entry = next(folder.entries, None)
        if entry is None:
            stack.pop()
            continue
        name, is_dir = entry
        path = os.path.join(folder.top, name)
        if is_dir:
            stack.append(_Folder(path, f"{folder.prefix}{name}/", check))
        elif is_image_name(name):
            # the first image under a folder: its ancestors' checks (once each)
            for parent, child in zip(stack, stack[1:]) if not folder.found else ():
                if child.found:
                    continue
                child.found = True
                below = os.path.basename(child.top)
                if below in parent.written:  # a PNG would be written where its images go
                    raise DuplicateNameError(
                        f"{os.path.join(parent.top, parent.written[below])} would be "
                        f"written as a file where {path} needs a folder; rename one of them")
            folder.found = True
            yield path, folder.prefix + name


def read_image(path: str | os.PathLike, shape: tuple[int, ...] | None = None,
               resize: bool = False, exact: bool = False) -> np.ndarray:
    """One image file as uint8 ``shape``: (height, width) grayscale, or (height, width,
    channels) (None: grayscale at its own size). Raises InvalidImageError, or
    ImageSizeError for another size unless ``resize``; with ``exact``, ConversionError
    for a file whose conversion drops something (colour, transparency, deeper
    samples)."""
    pixels, lost, _, _ = read_image_as(path, shape, resize)
    if exact and lost:
        raise conversion_error(path, lost, shape)
    return pixels


def image_size(path: str | os.PathLike) -> tuple[int, int] | None:
    """(height, width) of an image file as a viewer shows it, from its header only; None
    where it cannot be read (reading it later says why)."""
    try:
        with open_regular(path, InvalidImageError) as f, Image.open(f) as image:
            return _shown_size(image)[1]
    except Exception:  # Pillow raises many types for hostile or broken files
        return None


def _shown_size(image: Image.Image) -> tuple[int, tuple[int, int]]:
    """(EXIF orientation, (height, width) as a viewer shows the image: orientations 5-8
    are stored rotated by 90 degrees)."""
    orientation = image.getexif().get(EXIF_ORIENTATION, 1)
    width, height = image.size
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return orientation, (height, width)


def conversion_error(path, lost: str, shape=None) -> ConversionError:
    if shape is not None and shapes.channels(shape) > 1:
        mode = shapes.MODES[shapes.channels(shape)]
        return ConversionError(
            f"{path} has {lost}, which the model's {mode} images cannot keep: a --lossless "
            "or --max-error file would not restore it")
    return ConversionError(
        f"{path} has {lost}, which vaecodec's grayscale cannot keep: a --lossless or "
        "--max-error file would not restore it (give --grayscale to store it as grayscale)")


TIFF_EXTENSIONS = (".tif", ".tiff")


def read_image_as_gray(path: str | os.PathLike, shape: tuple[int, int] | None = None,
                       resize: bool = False) -> tuple[np.ndarray, str | None]:
    """``read_image`` as grayscale, and what the conversion dropped (None: nothing)."""
    pixels, lost, _, _ = read_image_as(path, shape, resize)
    return pixels, lost


def read_image_as(path: str | os.PathLike, shape: tuple[int, ...] | None = None,
                  resize: bool = False) -> tuple[np.ndarray, str | None, bool, int]:
    """``read_image``, what the conversion to the shape's channels dropped (None:
    nothing), whether a grayscale file was widened to colour (``to_channels``), and the
    channels the file holds (``source_channels``).

    libtiff (which Pillow uses for compressed TIFFs) prints its complaints on the
    process's stderr: while a TIFF is read they are captured instead; an error it reports
    makes the file unreadable (with libtiff's words), even where Pillow returned pixels,
    and its warnings are dropped."""
    if os.path.splitext(os.fspath(path))[1].lower() not in TIFF_EXTENSIONS:
        return _read(path, shape, resize)
    complaints: list[str] = []
    try:
        with _stderr_captured(complaints):
            result = _read(path, shape, resize)
    except InvalidImageError as e:
        errors = _libtiff_errors(complaints)
        if errors:
            raise InvalidImageError(f"{e} (libtiff: {errors[0]})") from None
        raise
    errors = _libtiff_errors(complaints)
    if errors:
        raise InvalidImageError(f"{shown_path(path)} is damaged (libtiff: {errors[0]})")
    return result


def _libtiff_errors(lines: list[str]) -> list[str]:
    """libtiff's error lines ("module: message"), its warnings ("module: Warning, ...")
    left out."""
    return [line.strip() for line in lines if line.strip() and ": Warning, " not in line]


@contextlib.contextmanager
def _stderr_captured(lines: list[str]):
    """What is written to file descriptor 2 meanwhile (by C libraries) goes to ``lines``
    instead of the terminal."""
    import sys
    import tempfile

    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError, AttributeError):  # no stderr to redirect (a daemon)
        yield lines
        return
    with tempfile.TemporaryFile() as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield lines
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            lines.extend(capture.read(1 << 16).decode("utf-8", "replace").splitlines())


#: Pillow's warnings that say the file's structure is damaged (a TIFF tag skipped...):
#: such a file is refused rather than read in part; Pillow's other notes are not printed
DAMAGE_WARNINGS = ("larger than file", "truncated", "Truncated", "Corrupt", "corrupt")


def _read(path, shape, resize) -> tuple[np.ndarray, str | None, bool, int]:
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with open_regular(path, InvalidImageError) as f, Image.open(f) as image:
                frames = getattr(image, "n_frames", 1)
                if frames > 1:
                    raise InvalidImageError(f"{path} holds {frames} frames; vaecodec stores "
                                            "one still image per file")
                orientation, (height, width) = _shown_size(image)
                if shape is not None and (height, width) != tuple(shape[:2]):
                    if not resize:
                        raise ImageSizeError(
                            f"{path} is {width}x{height}; the model needs {shape[1]}x{shape[0]} "
                            "images (use --resize to scale them)"
                        )
                    if width * height > MAX_PIXELS:
                        raise InvalidImageError(f"{path} is too large ({width}x{height})")
                if orientation in range(2, 9):  # the image as a viewer shows it
                    image = ImageOps.exif_transpose(image)
                gray, lost, widened = to_channels(
                    image, 1 if shape is None else shapes.channels(shape))
                source = source_channels(image)
            damage = [str(w.message) for w in caught
                      if any(word in str(w.message) for word in DAMAGE_WARNINGS)
                      and "EXIF" not in str(w.message)]
            if damage:
                raise InvalidImageError(f"{shown_path(path)} is damaged (Pillow: "
                                        f"{damage[0].splitlines()[0]})")
            if shape is not None and gray.shape[:2] != tuple(shape[:2]):
                gray = resized(gray, shape)
    except InputError:
        raise
    except MemoryError:
        raise InvalidImageError(f"{path} needs more memory than there is to read"
                                f"{' and resize' if resize else ''}") from None
    except Exception as e:  # Pillow raises many types for hostile or broken files
        reason = str(e).splitlines()[0] if str(e) else type(e).__name__
        if reason.startswith("cannot identify image file"):  # Pillow names our file object
            reason = "not a format Pillow recognises, or damaged"
        raise InvalidImageError(f"{shown_path(path)} is not a readable image ({reason})") \
            from None
    return gray, lost, widened, source


def resized(image: np.ndarray, shape) -> np.ndarray:
    """A uint8 image (H, W) or (H, W, C) scaled to ``shape``'s height and width as
    ``--resize`` scales: Lanczos, aspect ratio not kept. A large reduction first averages
    whole blocks (reducing_gap): the same result as plain Lanczos up to a 3x reduction,
    bounded memory beyond."""
    return np.asarray(Image.fromarray(image).resize(
        (shape[1], shape[0]), Image.Resampling.LANCZOS, reducing_gap=3.0), dtype=np.uint8)


PARALLEL_MIN_FILES = 1000  # below this, starting worker processes costs more than it saves


class Part(NamedTuple):
    """A run of image files read: their pixels, stored names, the messages of the files
    skipped, how many were converted with a loss (colour to grayscale...), how many
    grayscale ones were widened to a colour model's channels, and per image the channels
    of its source (uint8; None: the model's)."""

    pixels: np.ndarray
    names: list[str]
    skipped: list[str]
    converted: int = 0
    widened: int = 0
    sources: np.ndarray | None = None


def _read_chunk(files: list[tuple[str, str]], shape: tuple[int, int], resize: bool = False,
                skip_invalid: bool = False, exact: bool = False):
    """Read one run of files: (a ``Part``, how many files). ``exact``: refuse a file whose
    conversion to the shape's channels drops something (ConversionError)."""
    pixels = np.empty((len(files), *shape), dtype=np.uint8)
    sources = np.empty(len(files), dtype=np.uint8)
    names: list[str] = []
    skipped: list[str] = []
    converted = widened = 0
    for path, name in files:
        try:
            pixels[len(names)], lost, wide, sources[len(names)] = read_image_as(
                path, shape, resize)
        except InvalidImageError as e:
            if not skip_invalid:
                raise
            skipped.append(str(e))
        else:
            if lost:
                if exact:
                    raise conversion_error(path, lost, shape)
                converted += 1
            widened += wide
            names.append(name)
    return Part(pixels[: len(names)], names, skipped, converted, widened,
                sources[: len(names)]), len(files)


def conversion_warning(converted: int, shape=None) -> str:
    """The one line that says how many images lost colour (or more) to grayscale, or
    (a ``shape`` of several channels) to the model's channels."""
    were = "image was" if converted == 1 else "images were"
    if shape is not None and shapes.channels(shape) > 1:
        mode = shapes.MODES[shapes.channels(shape)]
        return (f"{converted} {were} converted to the model's {mode}, dropping "
                "transparency, colour or samples deeper than 8 bits (--lossless and "
                "--max-error refuse such images)")
    return (f"{converted} {were} converted to grayscale, dropping colour, transparency or "
            "samples deeper than 8 bits (vaecodec stores grayscale; --lossless and "
            "--max-error refuse such images unless given --grayscale)")


def widening_warning(widened: int, shape) -> str:
    """The one line that says how many grayscale images a colour model got."""
    were = "image was" if widened == 1 else "images were"
    mode = shapes.MODES[shapes.channels(shape)]
    return (f"{widened} grayscale {were} converted to {mode} for the model's "
            f"{shapes.describe(shape)} images (their channels are equal; --strict refuses "
            "such images)")


def strict_refusal(converted: int, widened: int, shape) -> ConversionError:
    """What ``--strict`` raises for images converted (``conversion_warning``) or else
    widened (``widening_warning``): nothing was written."""
    said = (conversion_warning(converted, shape) if converted
            else widening_warning(widened, shape))
    return ConversionError(f"--strict: {said}; nothing was written")


def read_images(
    files: list[tuple[str, str]],
    shape: tuple[int, int],
    resize: bool = False,
    skip_invalid: bool = False,
    progress: Callable[[int, int], None] | None = None,
    workers: int | None = None,
) -> tuple[np.ndarray, list[str], list[str]]:
    """Read (path, name) pairs: (images (N, *shape) uint8, their names, skipped messages).

    Large selections are read by one process per core; results and the first error keep
    the files' order, as a serial read would.
    """
    parts = list(iter_images(files, shape, resize, skip_invalid, progress, workers))
    names = [name for part in parts for name in part.names]
    skipped = [message for part in parts for message in part.skipped]
    if not names:
        raise EmptySelectionError("no readable image among the selected files")
    return np.concatenate([part.pixels for part in parts]), names, skipped


def iter_images(files, shape, resize: bool = False, skip_invalid: bool = False,
                progress: Callable[[int, int], None] | None = None,
                workers: int | None = None, total: int | None = None, exact: bool = False):
    """``read_images`` a part at a time, in order: a ``Part`` (images, names, skipped
    messages, images converted with a loss) of a few hundred files each. ``files``: (path,
    name) pairs, a list or any iterable (then ``total`` says how many, for the worker
    count and progress); memory for a few parts, however many files. ``exact``: a file
    whose grayscale drops colour, transparency or deeper samples is a ConversionError."""
    import itertools

    from .core.parallel import map_chunks, worker_count

    if total is None:
        files = list(files)
        total = len(files)
    if workers is None:
        workers = worker_count(total, PARALLEL_MIN_FILES)
    # chunks: work for the pool, or steps of the progress bar when reading serially
    size = 250 if workers > 1 else 50
    pairs = iter(files)
    chunks = iter(lambda: list(itertools.islice(pairs, size)), [])
    done = 0
    read = functools.partial(_read_chunk, shape=tuple(shape), resize=resize,
                             skip_invalid=skip_invalid, exact=exact)
    for part, n in map_chunks(read, chunks, workers):
        done += n
        if progress:
            progress(done, total)
        yield part


def output_names(names: list[str] | tuple[str, ...]) -> list[str]:
    """Where each stored name is written on decompression: the same relative path as a PNG.

    A name that ends in .png is kept; any other extension is replaced by .png, unless that
    would collide with another name, in which case .png is appended (``7.jpg`` -> ``7.png``,
    or ``7.jpg.png`` when the archive also holds ``7.png``).
    """
    def png_name(name: str) -> str:  # PurePosixPath(name).with_suffix(".png"), faster
        start = name.rfind("/") + 1  # the last component (names are checked paths)
        dot = name.rfind(".", start)
        has_suffix = start < dot < len(name) - 1
        if has_suffix and name[dot:].lower() == ".png":
            return name
        return (name[:dot] if has_suffix else name) + ".png"

    first = [png_name(n) for n in names]
    counts: dict[str, int] = {}
    for n in first:
        counts[n] = counts.get(n, 0) + 1
    out = [n if counts[n] == 1 or n == orig else orig + ".png"
           for n, orig in zip(first, names)]
    owner: dict[str, str] = {}
    for written, name in zip(out, names):
        if written in owner:
            raise _collision(f"{owner[written]} and {name} would both be written as {written}",
                             (owner[written], name), written)
        owner[written] = name
    for written in out:  # a file where another name needs a folder: a.png and a.png/b.png
        end = written.rfind("/")
        while end > 0:
            parent = written[:end]
            if parent in owner:
                raise _collision(f"{owner[parent]} would be written as a file where "
                                 f"{owner[written]} needs a folder",
                                 (owner[parent], owner[written]), parent)
            end = written.rfind("/", 0, end)
    return out


def _collision(message: str, names: tuple[str, str], written: str) -> DuplicateNameError:
    error = DuplicateNameError(message)
    error.names, error.written = names, written  # the two stored names, and where they meet
    return error


def png_bytes(image: np.ndarray) -> bytes:
    """A uint8 image, grayscale (H, W) or (H, W, C) (LA, RGB, RGBA), as the bytes of a
    PNG file in that mode."""
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def write_png(path: str | os.PathLike, image: np.ndarray) -> None:
    Image.fromarray(image).save(path, format="PNG")
