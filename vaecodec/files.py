"""Files and folders in and out: compress image files into a .vaez file, decompress one
into PNGs, read a file's header. The output policy lives here: nothing is overwritten
without ``force``, outputs are written atomically, and on error nothing is left behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import codec, images as image_files
from .atomic import atomic_write_bytes, check_output_file
from .errors import OutputExistsError, OutputPathError, VaezError
from .format import container
from .zoo import Zoo

Progress = Callable[[int, int], None]  # (done, total)


def _read_archive(path: Path) -> container.Archive:
    """A whole .vaez file, its size checked against the header before the payload is read."""
    try:
        with open(path, "rb") as f:
            parsed = container.read_header(f)
            f.seek(0)
            return container.unpack(f.read(), parsed)
    except VaezError as e:
        raise type(e)(f"{path}: {e}") from None


def read_info(source: str | os.PathLike | bytes, *, zoo: Zoo | None = None) -> container.Header:
    """The header of a .vaez file (path) or of its bytes, without decoding any image.

    ``image_shape`` is filled in from the file's model when the format does not store it
    (versions 2 and 3) and the model is installed (else None)."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return codec.read_header(bytes(source), zoo)
    try:
        with open(source, "rb") as f:
            header = container.read_header(f)[0]
    except VaezError as e:
        raise type(e)(f"{source}: {e}") from None
    return codec.complete_header(header, zoo)


@dataclasses.dataclass(frozen=True)
class CompressResult:
    output: Path
    count: int
    size: int  # bytes of the .vaez file
    skipped: list[str]  # one message per skipped input


def compress(sources: Iterable[str | os.PathLike], output: str | os.PathLike, *,
             quality: int | None = None, quant_step: float | None = None,
             model: str | None = None, coder: str | None = None,
             lossless: bool = False, max_error: int | None = None, resize: bool = False,
             skip_invalid: bool = False, force: bool = False,
             progress: Progress | None = None, zoo: Zoo | None = None) -> CompressResult:
    """Compress image files and folders (recursively) into one .vaez file.

    Names are stored relative to each source folder (a file given directly: its base name).
    The output is written atomically; an existing file needs ``force=True``.
    ``quality``, ``quant_step``, ``model``, ``coder``, ``lossless``, ``max_error``,
    ``zoo``: as for ``encode``. ``progress(done, total)`` is called as images are read.
    """
    output = Path(output)
    sources = list(sources)
    settings = codec.resolve(quality=quality, quant_step=quant_step, model=model,
                             coder=coder, lossless=lossless, max_error=max_error, zoo=zoo)
    check_output_file(output, force)  # before reading anything
    files = image_files.collect(sources)
    pixels, names, skipped = image_files.read_images(files, settings.image_shape, resize,
                                                     skip_invalid, progress)
    data = codec.encode_with(settings, pixels, names)
    atomic_write_bytes(output, data, force)
    return CompressResult(output, len(names), len(data), skipped)


def default_output_dir(archive: Path) -> Path:
    """``digits.vaez`` -> ``digits/`` beside it; another name gets ``.d`` appended."""
    if archive.suffix.lower() == ".vaez":
        return archive.with_suffix("")
    return archive.with_name(archive.name + ".d")


@dataclasses.dataclass(frozen=True)
class DecompressResult:
    output_dir: Path
    paths: list[Path]


def decompress(archive: str | os.PathLike, output_dir: str | os.PathLike | None = None, *,
               force: bool = False, progress: Progress | None = None,
               zoo: Zoo | None = None) -> DecompressResult:
    """Decode a .vaez file into PNG files under ``output_dir`` (see ``images.output_names``).

    Everything is checked before the first file is written: the whole archive, every name,
    and that no file would be overwritten (unless ``force``). On error, what was written is
    removed again. ``progress(done, total)`` is called as images are written.
    """
    archive = Path(archive)
    out_dir = Path(output_dir) if output_dir is not None else default_output_dir(archive)
    parsed = _read_archive(archive)
    header = parsed.header
    names = header.names
    if names is None:
        width = max(5, len(str(header.count - 1)))
        names = tuple(f"{i:0{width}d}.png" for i in range(header.count))
    top = os.fspath(out_dir)
    targets = [os.path.join(top, rel) for rel in image_files.output_names(names)]
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputPathError(f"{out_dir} exists and is not a folder")
    if not force:
        existing = [t for t in targets if os.path.lexists(t)]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputExistsError(f"{existing[0]}{more} already exist (use --force to overwrite)")
    pixels = codec.reconstruct(parsed, zoo)  # after the cheap checks: decoding takes longest
    _write_pngs(top, targets, pixels, progress)
    return DecompressResult(out_dir, [Path(t) for t in targets])


def _write_pngs(top: str, targets: list[str], pixels: np.ndarray,
                progress: Progress | None) -> None:
    """Write each image to its target under ``top`` (temporary file, then rename); on any
    error remove what this call wrote and the folders it made."""
    created_dirs: list[str] = []
    written: list[str] = []
    tmp = None
    checked: set[str] = set()
    try:
        if not os.path.isdir(top):
            os.makedirs(top)
            created_dirs.append(top)
        root = os.path.realpath(top)
        for done, (target, image) in enumerate(zip(targets, pixels), 1):
            parent = os.path.dirname(target)
            if parent not in checked:
                missing = []
                d = parent
                while d != top and not os.path.isdir(d):
                    missing.append(d)
                    d = os.path.dirname(d)
                for d in reversed(missing):
                    os.mkdir(d)
                    created_dirs.append(d)
                # a symlinked folder inside the output could lead elsewhere: refuse it
                if os.path.commonpath([root, os.path.realpath(parent)]) != root:
                    raise OutputPathError(f"{parent} leads outside {top}; refusing to write there")
                checked.add(parent)
            tmp = os.path.join(parent, f".{os.path.basename(target)}.tmp")
            image_files.write_png(tmp, image)
            os.replace(tmp, target)
            tmp = None
            written.append(target)
            if progress:
                progress(done, len(targets))
    except BaseException:
        for path in written + ([tmp] if tmp else []):
            with contextlib.suppress(OSError):
                os.unlink(path)
        for d in reversed(created_dirs):
            with contextlib.suppress(OSError):
                os.rmdir(d)
        raise
