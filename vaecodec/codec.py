"""encode(images) -> bytes, decode(bytes) -> images, and the file-level helpers.

The pipeline: pixels -> model (encoder mean) -> quantizer -> container bytes, and back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import os
import tempfile
from pathlib import Path
from typing import Callable, Iterable

import numpy as np

from . import checkpoints, container, images as image_files, levels, quantize
from .errors import (
    CorruptHeaderError,
    CorruptPayloadError,
    InputError,
    OutputExistsError,
    OutputPathError,
    UnknownLevelError,
    VaezError,
)

Progress = Callable[[int, int], None]  # (done, total)


class InvalidArrayError(InputError):
    """An array passed to ``encode`` has the wrong shape or values."""


def _as_array(images) -> np.ndarray:
    """uint8 or float [0, 1] array / tensor, (N, 28, 28) or (28, 28) -> float32 (N, 784)."""
    if type(images).__module__.split(".")[0] == "torch" and hasattr(images, "detach"):
        images = images.detach().cpu().numpy()
    if not isinstance(images, np.ndarray):
        raise TypeError(
            f"images must be a numpy array or torch tensor, not {type(images).__name__}"
        )
    if images.ndim == 2:
        images = images[None]
    if images.ndim != 3 or images.shape[1:] != image_files.IMAGE_SHAPE:
        raise InvalidArrayError(
            f"images must have shape (N, 28, 28) or (28, 28), got {images.shape}"
        )
    if len(images) == 0:
        raise InvalidArrayError("no images to encode (the array is empty)")
    if images.dtype == np.uint8:
        return images.reshape(len(images), -1).astype(np.float32) / np.float32(255.0)
    if images.dtype.kind == "f":
        values = images.reshape(len(images), -1).astype(np.float32)
        if not np.all(np.isfinite(values)) or values.min() < 0.0 or values.max() > 1.0:
            raise InvalidArrayError("float images must hold finite values in [0, 1]")
        return values
    raise TypeError(f"images must be uint8 (0..255) or float (0..1), not {images.dtype}")


def _max_error(lossless, max_error) -> int | None:
    """The residual layer's error bound (0 = lossless), or None for a lossy file."""
    if not isinstance(lossless, bool):
        raise TypeError(f"lossless must be True or False, not {lossless!r}")
    if max_error is not None:
        if isinstance(max_error, bool) or not isinstance(max_error, (int, np.integer)):
            raise TypeError(f"max_error must be an integer, not {max_error!r}")
        if not 0 <= max_error <= container.MAX_RESIDUAL_ERROR:
            raise ValueError(f"max_error must be 0..{container.MAX_RESIDUAL_ERROR} (on the "
                             f"0..255 pixel scale), got {max_error}")
        if lossless and max_error != 0:
            raise ValueError("lossless means max_error 0; give one or the other")
        return int(max_error)
    return 0 if lossless else None


def _settings(quality, quant_step, model, coder, max_error=None):
    """Check encoding options; returns (level or None, step, coder, model info)."""
    if max_error is not None:
        if quant_step is not None:
            raise ValueError("lossless and max-error files use a quality level for their "
                             "base layer, not a quantization step")
        pixel_model = checkpoints.find(None, checkpoints.PIXEL_MODEL)
        base = pixel_model.metadata["base_level"]
        if quality is not None and quality != base:
            raise ValueError(f"lossless and max-error files use quality level {base} as "
                             f"their base layer (the pixel model is fitted on it), not {quality}")
        quality = base
    if coder not in (None, "range", "zstd"):
        raise ValueError(f"coder must be 'range' or 'zstd', not {coder!r}")
    if quant_step is not None:
        if quality is not None:
            raise ValueError("give a quality level or a quantization step, not both")
        if coder == "range":
            raise ValueError("the range coder needs a quality level (its prior is fitted "
                             "per level); use coder='zstd' with an explicit step")
        return None, quantize.check_step(quant_step), "zstd", checkpoints.find(model)
    level = levels.get(levels.DEFAULT_LEVEL if quality is None else quality)
    if model is not None and checkpoints.find(model).name != level.model:
        raise ValueError(f"quality level {level.level} uses model {level.model}, "
                         f"not {model}; give quant_step to use another model")
    # by id, not name: the level's prior belongs to exactly these weights
    return level, level.quant_step, coder or "range", checkpoints.find(level.model_id)


def encode(images, *, quality: int | None = None, quant_step: float | None = None,
           model: str | None = None, coder: str | None = None,
           names: Iterable[str] | None = None, lossless: bool = False,
           max_error: int | None = None) -> bytes:
    """Compress images to the bytes of a .vaez file.

    ``images``: uint8 (N, 28, 28) or (28, 28), float in [0, 1], or a torch tensor of either.
    ``quality``: a quality level (``vaecodec.list_levels()``; default ``DEFAULT_LEVEL``).
    ``quant_step``: instead of a level, an explicit quantization step (smaller: more
    bytes, better quality), with ``model`` (default: the default model) and zstd.
    ``coder``: "range" (the learned prior; levels only, the default) or "zstd".
    ``names``: optional relative names stored with the images (restored by ``decompress``).
    ``lossless``: add a residual layer so that ``decode`` returns exactly the uint8 pixels
    (float images are rounded to uint8 first). ``max_error``: a residual layer that keeps
    every pixel within +-max_error (0..32) of the original; 0 is lossless. Both use the
    pixel model's base level (``quality`` 1) for the latent.
    """
    pixels = _as_array(images)
    max_error = _max_error(lossless, max_error)
    level, quant_step, coder, info = _settings(quality, quant_step, model, coder, max_error)
    if max_error is not None and len(pixels) > container.MAX_RESIDUAL_COUNT:
        raise InvalidArrayError(f"{len(pixels)} images: a lossless or max-error file holds "
                                f"at most {container.MAX_RESIDUAL_COUNT}; split them")
    net = checkpoints.load(info.model_id)
    symbols = quantize.quantize(net.encode_mean(pixels), quant_step)
    if names is not None:
        names = container.check_names(list(names), len(pixels))
    if coder == "range":
        from . import entropy

        payload, dtype = entropy.range_encode(symbols, level.prior), "int32"
    else:
        dtype = symbols.dtype.name
        payload = container.zstd_payload(symbols, dtype)
    header = container.Header(
        model_id=info.model_id,
        latent_size=net.latent_size,
        image_shape=image_files.IMAGE_SHAPE,
        count=len(pixels),
        quant_step=None if level else quant_step,
        level=level.level if level else None,
        coder=coder,
        symbol_dtype=dtype,
        names=names,
    )
    if max_error is None:
        return container.pack(header, payload)
    from . import residual

    pixel_info = checkpoints.find(None, checkpoints.PIXEL_MODEL)
    pixel_model = checkpoints.load_pixel_model(pixel_info.model_id)
    exact = np.rint(pixels * 255.0).astype(np.uint8)
    base = pixel_model.base_pixels(symbols)
    chunks = [residual.encode(pixel_model, exact[i : i + container.RESIDUAL_CHUNK],
                              base[i : i + container.RESIDUAL_CHUNK], max_error)
              for i in range(0, len(exact), container.RESIDUAL_CHUNK)]
    header = dataclasses.replace(header, residual=container.Residual(
        pixel_model.model_id, max_error, tuple(len(c) for c in chunks)))
    return container.pack(header, payload, b"".join(chunks))


def _reconstruct(archive: container.Archive) -> np.ndarray:
    """uint8 images (N, 28, 28) of a parsed archive (model, level and prior resolved)."""
    header = archive.header
    info = checkpoints.find(header.model_id)
    pixel_model = None
    if header.residual is not None:  # both models are known before anything is decoded
        pixel_model = checkpoints.find(header.residual.model_id, checkpoints.PIXEL_MODEL)
    step, symbols = header.quant_step, archive.symbols
    if header.level is not None:
        try:
            level = levels.get(header.level)
        except UnknownLevelError:
            from . import __version__

            raise UnknownLevelError(
                f"the file uses quality level {header.level}, which this vaecodec "
                f"({__version__}) does not define (levels: {levels.known_range()}); if a "
                "newer vaecodec made it, upgrade"
            ) from None
        if level.model_id != info.model_id:
            raise CorruptHeaderError(
                f"quality level {level.level} uses model {level.model}, but the header names "
                f"model {header.model_id.hex()}"
            )
        step = level.quant_step
        if header.coder == "range":
            symbols = _range_decode(archive.payload, level.prior, header.count)
    net = checkpoints.load(info.model_id)
    if header.latent_size != net.latent_size or header.image_shape != image_files.IMAGE_SHAPE:
        raise CorruptHeaderError(
            f"header says latent size {header.latent_size} and images {header.image_shape}, "
            f"but its model has {net.latent_size} and {image_files.IMAGE_SHAPE}"
        )
    if pixel_model is not None:
        return _decode_residual(archive, symbols, pixel_model).reshape(
            header.count, *image_files.IMAGE_SHAPE)
    latents = quantize.dequantize(symbols, step)
    return net.decode_pixels(latents).reshape(header.count, *image_files.IMAGE_SHAPE)


def _decode_residual(archive: container.Archive, symbols: np.ndarray,
                     info: checkpoints.ModelInfo) -> np.ndarray:
    from . import residual

    header, layer = archive.header, archive.header.residual
    pixel_model = checkpoints.load_pixel_model(info.model_id)
    if pixel_model.base_level != header.level:
        raise CorruptHeaderError(
            f"pixel model {info.name} works on quality level {pixel_model.base_level}, but "
            f"the file's base layer is level {header.level}")
    base = pixel_model.base_pixels(symbols)
    out = np.empty((header.count, residual.PIXELS), dtype=np.uint8)
    offset = 0
    for n, size in enumerate(layer.chunk_sizes):
        rows = slice(n * container.RESIDUAL_CHUNK, (n + 1) * container.RESIDUAL_CHUNK)
        try:
            out[rows] = residual.decode(pixel_model, archive.residual[offset : offset + size],
                                        base[rows], layer.max_error)
        except (KeyboardInterrupt, SystemExit, MemoryError):
            raise
        except BaseException as e:  # constriction reports bad data as errors (or Rust panics)
            raise CorruptPayloadError(f"residual chunk {n} does not decode ({e})") from None
        offset += size
    return out


def _range_decode(payload: bytes, prior, count: int) -> np.ndarray:
    from . import entropy

    try:
        return entropy.range_decode(payload, prior, count)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as e:  # constriction reports bad data as errors (or Rust panics)
        raise CorruptPayloadError(f"range-coded payload does not decode ({e})") from None


def decode(data: bytes) -> np.ndarray:
    """The images (N, 28, 28) uint8 of a .vaez file's bytes."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"data must be bytes, not {type(data).__name__}")
    return _reconstruct(container.unpack(bytes(data)))


# --- files ---------------------------------------------------------------------------------
def _read_archive(path: Path) -> container.Archive:
    """A whole .vaez file, its size checked against the header before the payload is read."""
    try:
        with open(path, "rb") as f:
            parsed = container.read_header(f)
            f.seek(0)
            return container.unpack(f.read(), parsed)
    except VaezError as e:
        raise type(e)(f"{path}: {e}") from None


def read_info(source: str | os.PathLike | bytes) -> container.Header:
    """The header of a .vaez file (path) or of its bytes, without decoding any image."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        return container.read_header(io.BytesIO(bytes(source)))[0]
    try:
        with open(source, "rb") as f:
            return container.read_header(f)[0]
    except VaezError as e:
        raise type(e)(f"{source}: {e}") from None


def _check_output_file(path: Path, force: bool) -> None:
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise OutputPathError(f"folder {path.parent} does not exist")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _atomic_write_bytes(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, then rename."""
    _check_output_file(path, force)
    parent = path.parent
    fd, tmp = tempfile.mkstemp(dir=parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise


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
             progress: Progress | None = None) -> CompressResult:
    """Compress image files and folders (recursively) into one .vaez file.

    Names are stored relative to each source folder (a file given directly: its base name).
    The output is written atomically; an existing file needs ``force=True``.
    ``quality``, ``quant_step``, ``model``, ``coder``, ``lossless``, ``max_error``: as for
    ``encode``.
    ``progress(done, total)`` is called as images are read.
    """
    output = Path(output)
    sources = list(sources)
    settings = dict(quality=quality, quant_step=quant_step, model=model, coder=coder,
                    lossless=lossless, max_error=max_error)
    _settings(quality, quant_step, model, coder, _max_error(lossless, max_error))  # before reading
    _check_output_file(output, force)
    files = image_files.collect(sources)
    pixels, names, skipped = image_files.read_images(files, resize, skip_invalid, progress)
    data = encode(pixels, names=names, **settings)
    _atomic_write_bytes(output, data, force)
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
               force: bool = False, progress: Progress | None = None) -> DecompressResult:
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
    pixels = _reconstruct(parsed)

    if out_dir.exists() and not out_dir.is_dir():
        raise OutputPathError(f"{out_dir} exists and is not a folder")
    if not force:
        existing = [t for t in targets if os.path.lexists(t)]
        if existing:
            more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
            raise OutputExistsError(f"{existing[0]}{more} already exist (use --force to overwrite)")
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
