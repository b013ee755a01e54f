"""Data sets in and out of .vaez archives in one call: arrays with labels, torchvision
and Hugging Face data sets, WebDataset tar files; back out to arrays, a WebDataset tar or
a Hugging Face data set (an image folder: ``vaecodec.decompress(..., labels_out=)``).

    from vaecodec import convert
    convert.from_arrays(images, "train.vaez", labels=labels, classes=names)
    convert.from_torchvision(torchvision.datasets.MNIST(root), "mnist.vaez", lossless=True)
    convert.from_huggingface(hf_dataset, "data.vaez")          # columns image, label
    convert.from_webdataset(["shard-0000.tar"], "data.vaez")    # KEY.png, KEY.cls, KEY.json
    convert.to_arrays("train.vaez", "images.npy", "labels.npy")
    convert.to_webdataset("train.vaez", "train.tar")
    hf = convert.to_huggingface("train.vaez")                   # datasets.Dataset

Images are stored as ``images`` stores files: 8-bit grayscale of the model's size, a
colour, transparent or deeper image converted with one warning for a lossy archive and
refused by ``lossless`` and ``max_error`` unless ``grayscale=True``; another size needs
``resize=True``. Labels become the archive's labels (format version 6), with the data
set's class names where it has them. The libraries are not imported here: a torchvision
data set is any sequence of (image, target) pairs, a Hugging Face one any sequence of
dicts; ``datasets`` is imported by ``to_huggingface`` only.
"""

from __future__ import annotations

import io
import json
import os
import tarfile
import warnings
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from . import archive as archive_io
from . import arrays, modes
from . import images as image_files
from .errors import ConversionError, ImageSizeError, InputError, InvalidArrayError, VaezWarning
from .format import shapes
from .fsio import AtomicFile, check_output_file
from .options import EncodeOptions, with_keywords

BATCH = 4096  # images gathered before each write (one chunk)
IMAGE_EXTENSIONS = ("png", "jpg", "jpeg", "pgm", "ppm", "pnm", "bmp", "tif", "tiff", "webp",
                    "gif")


# --- in ----------------------------------------------------------------------------------------
def from_arrays(images, output, *, labels=None, names=None, meta=None, classes=None,
                options: EncodeOptions | None = None, force: bool = False,
                **keywords) -> Path:
    """An archive of ``images`` (uint8 (N, H, W), or float in [0, 1]) with their
    ``labels`` (N integers), ``names``, ``meta`` (a dict or None each) and ``classes`` (the
    names of labels 0, 1, ...), written a chunk at a time. Returns the path."""
    options = with_keywords(options, keywords, "from_arrays")
    if not hasattr(images, "shape"):
        try:
            images = np.asarray(images)
        except ValueError:  # images of several shapes
            raise InvalidArrayError("images must be one array (N, H, W) or (N, H, W, C) "
                                    "of images of one shape") from None
    count = len(images)
    with archive_io.open(output, "w", options, force=force, classes=classes,
                         labelled=labels is not None, metadata=meta is not None,
                         named=names is not None) as out:
        for start in range(0, count, BATCH):
            end = min(count, start + BATCH)
            out.write(images[start:end],
                      names=None if names is None else list(names[start:end]),
                      labels=None if labels is None else labels[start:end],
                      meta=None if meta is None else list(meta[start:end]))
    return Path(output)


def from_torchvision(dataset, output, *, options: EncodeOptions | None = None,
                     force: bool = False, resize: bool = False, grayscale: bool = False,
                     **keywords) -> Path:
    """An archive of a torchvision-style data set: every item an (image, target) pair,
    the image a PIL image, a uint8 array or a float tensor/array in [0, 1] (1, H, W) or
    (H, W), the target an integer label (``dataset.classes``, when it has them, become
    the archive's class names). Images are named by position (``00000.png``...)."""
    options = with_keywords(options, keywords, "from_torchvision")
    classes = _class_names(getattr(dataset, "classes", None))
    pairs = ((item[0], item[1], None) for item in _items(dataset, "(image, target) pairs"))
    return _write(pairs, len(dataset), output, options, force, resize, grayscale,
                  classes, labelled=True)


def from_huggingface(dataset, output, *, image: str = "image", label: str | None = "label",
                     meta: Iterable[str] = (), options: EncodeOptions | None = None,
                     force: bool = False, resize: bool = False, grayscale: bool = False,
                     **keywords) -> Path:
    """An archive of a Hugging Face data set (``datasets.Dataset``, or any iterable of
    dicts): the column ``image`` (PIL images, as its Image feature gives them), the
    integer column ``label`` (None: no labels; a ``ClassLabel``'s names become the class
    names) and the columns ``meta`` stored as metadata. Images are named by position."""
    options = with_keywords(options, keywords, "from_huggingface")
    meta = list(meta)
    classes = None
    features = getattr(dataset, "features", None)
    if label is not None and features is not None and label in features:
        classes = _class_names(getattr(features[label], "names", None))

    def rows():
        for row in dataset:  # a datasets.Dataset yields its rows faster than by index
            if not isinstance(row, dict):
                raise InputError(f"a row is a {type(row).__name__}, not a dict of columns")
            missing = [c for c in (image, label, *meta) if c is not None and c not in row]
            if missing:
                raise InputError(f"a row lacks the column {missing[0]!r}")
            yield (row[image], None if label is None else row[label],
                   {c: row[c] for c in meta} if meta else None)

    count = len(dataset) if hasattr(dataset, "__len__") else None
    return _write(rows(), count, output, options, force, resize, grayscale,
                  classes, labelled=label is not None, with_meta=bool(meta))


def from_webdataset(tars, output, *, options: EncodeOptions | None = None,
                    force: bool = False, resize: bool = False, grayscale: bool = False,
                    **keywords) -> Path:
    """An archive of WebDataset tar files (paths, in order): each sample is the files
    that share a key (the member's path up to the first dot of its name): one image
    (``KEY.png``, ``.jpg``, ...), its label (``KEY.cls``: an integer as text) and
    metadata (``KEY.json``: an object of scalars). Stored as ``KEY.EXT``; labels and
    metadata when the first sample has them (then every sample needs them)."""
    options = with_keywords(options, keywords, "from_webdataset")
    tars = [tars] if isinstance(tars, (str, os.PathLike)) else list(tars)
    samples = _webdataset_samples(tars)
    first = next(samples, None)
    if first is None:
        raise InputError("the tar files hold no sample with an image")
    labelled, with_meta = first[2] is not None, first[3] is not None

    def items():
        for name, picture, label, entry in _chain(first, samples):
            if (label is not None) != labelled or (entry is not None) != with_meta:
                raise InputError(f"{name}: every sample needs a .cls and a .json when the "
                                 "first has them (and none when it has none)")
            yield picture, label, entry, name

    return _write(items(), None, output, options, force, resize, grayscale, None,
                  labelled=labelled, with_meta=with_meta, named=True)


def _chain(first, rest):
    yield first
    yield from rest


def _webdataset_samples(tars) -> Iterator[tuple[str, object, int | None, dict | None]]:
    """(stored name, PIL image, label, metadata) of each sample of the tar files, in order;
    a sample's files follow each other, as WebDataset writes them."""
    from PIL import Image

    for path in tars:
        try:
            archive = tarfile.open(path, "r:*")
        except (OSError, tarfile.TarError) as e:
            raise InputError(f"{path}: not a readable tar file ({e})") from None
        with archive:
            key, files = None, {}
            for member in _members(archive, path):
                base = os.path.basename(member.name)
                if "." not in base.lstrip("."):
                    continue
                folder = os.path.dirname(member.name)
                stem, ext = base.split(".", 1) if not base.startswith(".") else (base, "")
                name_key = f"{folder}/{stem}" if folder else stem
                if name_key != key:
                    if key is not None:
                        yield _sample(key, files, path, Image)
                    key, files = name_key, {}
                data = archive.extractfile(member)
                files[ext.lower()] = b"" if data is None else data.read()
            if key is not None:
                yield _sample(key, files, path, Image)


def _members(archive: tarfile.TarFile, path) -> Iterator[tarfile.TarInfo]:
    try:
        for member in archive:
            if member.isfile():
                yield member
    except tarfile.TarError as e:
        raise InputError(f"{path}: a damaged tar file ({e})") from None


def _sample(key: str, files: dict, path, Image):
    found = [ext for ext in IMAGE_EXTENSIONS if ext in files]
    if not found:
        raise InputError(f"{path}: the sample {key!r} holds no image (.png, .jpg, ...)")
    ext = found[0]
    try:
        picture = Image.open(io.BytesIO(files[ext]))
        picture.load()
    except Exception as e:  # Pillow raises many types for a damaged image
        raise InputError(f"{path}: {key}.{ext} cannot be decoded ({e})") from None
    label = None
    if "cls" in files:
        text = files["cls"].decode("utf-8", "replace").strip()
        try:
            label = int(text)
        except ValueError:
            raise InputError(f"{path}: {key}.cls holds {text[:40]!r}, not an integer label") \
                from None
    entry = None
    if "json" in files:
        try:
            entry = json.loads(files["json"])
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"{path}: {key}.json is not valid JSON ({e})") from None
        if not isinstance(entry, dict):
            raise InputError(f"{path}: {key}.json must hold an object")
    return f"{key}.{ext}", picture, label, entry


def _items(dataset, what: str):
    try:
        count = len(dataset)
    except TypeError:
        raise InputError(f"give a data set with a length: a sequence of {what}") from None
    for i in range(count):
        yield dataset[i]


def _class_names(classes) -> list[str] | None:
    if classes is None or not len(classes) or not all(isinstance(c, str) for c in classes):
        return None
    return list(classes)


def _write(items, count: int | None, output, options: EncodeOptions, force: bool,
           resize: bool, grayscale: bool, classes, *, labelled: bool,
           with_meta: bool = False, named: bool = False) -> Path:
    """An archive of ``items``: (picture, label, metadata[, name]) each, gathered into
    batches and written; pictures converted as ``images`` converts files."""
    width = max(5, len(str(max((count or 1) - 1, 0))))
    converted = widened = 0
    with archive_io.open(output, "w", options, force=force, named=True, classes=classes,
                         labelled=labelled, metadata=with_meta) as out:
        shape = out.settings.image_shape
        exact = out.settings.max_error is not None and not grayscale
        batch: list = []
        position = 0
        for item in items:
            picture, label, entry = item[:3]
            name = item[3] if named else f"{position:0{width}d}.png"
            pixels, lost, wide, source = _pixels(picture, shape, resize, name)
            widened += wide
            if lost is not None:
                if exact:
                    into = ("8-bit grayscale" if len(shape) == 2
                            else f"the model's {shapes.describe(shape)} images")
                    raise ConversionError(f"{name}: storing it as {into} would drop "
                                          f"its {lost}; lossless and max_error keep exact "
                                          "pixels (grayscale=True accepts the conversion)")
                converted += 1
            if labelled and (isinstance(label, bool) or not hasattr(label, "__index__")):
                raise InputError(f"{name}: its label {label!r} is not an integer")
            # a colour model's archive records each image's own channels (for decompress)
            batch.append((pixels, name, label, entry, source if len(shape) == 3 else None))
            position += 1
            if len(batch) == BATCH:
                _flush(out, batch, labelled, with_meta)
        if batch:
            _flush(out, batch, labelled, with_meta)
        if not position:
            raise InputError("the data set holds no images")
    if converted:
        warnings.warn(image_files.conversion_warning(converted, shape), VaezWarning,
                      stacklevel=3)
    if widened:
        warnings.warn(image_files.widening_warning(widened, shape), VaezWarning, stacklevel=3)
    return Path(output)


def _flush(out, batch: list, labelled: bool, with_meta: bool) -> None:
    out.write(np.stack([b[0] for b in batch]), names=[b[1] for b in batch],
              labels=[int(b[2]) for b in batch] if labelled else None,
              meta=[b[3] for b in batch] if with_meta else None,
              channels=None if batch[0][4] is None else [b[4] for b in batch])
    batch.clear()


def _pixels(picture, shape: tuple[int, ...], resize: bool, name: str
            ) -> tuple[np.ndarray, str | None, bool, int]:
    """(uint8 image of ``shape``, what the conversion to its channels dropped or None,
    whether a grayscale image was widened to colour, the channels it had) of a PIL
    image, an array or a CPU tensor ((1, H, W) or (H, W); (C, H, W) or (H, W, C) for a
    colour model; floats in [0, 1])."""
    from PIL import Image

    channels = shapes.channels(shape)
    lost = None
    if isinstance(picture, Image.Image):
        pixels, lost, widened = modes.to_channels(picture, channels)
        source = modes.source_channels(picture)
    else:
        values = np.asarray(picture.numpy() if hasattr(picture, "numpy") else picture)
        if values.ndim == 3 and values.shape[0] == 1:
            values = values[0]
        elif (values.ndim == 3 and channels > 1 and values.shape[0] == channels
              and values.shape[2] != channels):  # a tensor's (C, H, W)
            values = np.moveaxis(values, 0, -1)
        layout = (2,) if channels == 1 else (2, 3)
        if values.ndim not in layout or (values.ndim == 3 and values.shape[2] != channels):
            wanted = "(H, W) or (1, H, W)" if channels == 1 else \
                f"(H, W, {channels}) or ({channels}, H, W)"
            raise InputError(f"{name}: an image must be {wanted}, not {values.shape}"
                             + (" (a colour tensor: give PIL images)" if channels == 1
                                else ""))
        if values.dtype != np.uint8 and values.dtype.kind != "f":
            raise InputError(f"{name}: images must be uint8 or float, not {values.dtype}")
        block, rounded = arrays.to_pixels(values[None], name)  # as arrays of files are
        source = 1 if values.ndim == 2 else int(values.shape[2])
        block, dropped, wide = modes.convert_channels(block, channels)
        pixels, widened = block[0], bool(wide[0])
        if rounded:
            lost = "floating-point samples"
        elif dropped[0]:
            lost = "colour or transparency"
    if pixels.shape[:2] != tuple(shape[:2]):
        if not resize:
            raise ImageSizeError(
                f"{name}: {pixels.shape[1]}x{pixels.shape[0]}, the model takes "
                f"{shape[1]}x{shape[0]} (resize=True scales it)")
        pixels = image_files.resized(pixels, shape)
    return pixels, lost, widened, source


# --- out ---------------------------------------------------------------------------------------
def to_arrays(archive, images_path, labels_path=None, *, force: bool = False) -> None:
    """The archive's images as a uint8 ``.npy`` (N, H, W) and, when it stores them, its
    labels as an int64 ``.npy`` (N,) (``labels_path``; an archive without labels: an
    error). Both are written whole or not at all."""
    images_path = Path(images_path)
    targets = [images_path] + ([Path(labels_path)] if labels_path is not None else [])
    for target in targets:
        check_output_file(target, force)
    with archive_io.open_reader(archive, max_images=2**40) as reader:
        if labels_path is not None and not reader.labelled:
            raise InputError("the archive stores no labels")
        shape = (len(reader), *reader.image_shape)
        with AtomicFile(images_path, force) as f:
            np.lib.format.write_array_header_1_0(
                f, {"descr": "|u1", "fortran_order": False, "shape": shape})
            for _, block in reader.chunks():  # a chunk at a time: memory for one
                f.write(np.ascontiguousarray(block).tobytes())
            if labels_path is None:
                f.commit()
                return
            buffer = io.BytesIO()
            np.save(buffer, reader.labels)
            with AtomicFile(Path(labels_path), force) as g:
                g.write(buffer.getvalue())
                g.commit()  # the labels first: images without their labels never appear
                f.commit()


def to_webdataset(archive, tar_path, *, force: bool = False) -> int:
    """The archive as one WebDataset tar: per image ``KEY.png`` (the stored name without
    its extension, or its position), ``KEY.cls`` (its label) and ``KEY.json`` (its
    metadata, when it has some), in the archive's order. Returns the images written."""
    tar_path = Path(tar_path)
    check_output_file(tar_path, force)
    count = 0
    with archive_io.open_reader(archive, max_images=2**40) as reader, \
            AtomicFile(tar_path, force) as f:
        names = reader.names
        width = max(5, len(str(len(reader) - 1)))
        with tarfile.open(fileobj=_Writable(f), mode="w|") as out:
            for first, block in reader.chunks():
                rows = np.arange(first, first + len(block))
                labels = reader.label(rows) if reader.labelled else None
                meta = reader.meta(rows) if reader.has_metadata else None
                images = modes.in_source_modes(block, reader.source_channels(rows))
                for n, image in enumerate(images):
                    i = first + n
                    key = f"{i:0{width}d}" if names is None else _key(names[i])
                    _add(out, f"{key}.png", image_files.png_bytes(image))
                    if labels is not None:
                        _add(out, f"{key}.cls", str(int(labels[n])).encode())
                    if meta is not None and meta[n]:
                        _add(out, f"{key}.json", _json_bytes(meta[n], key))
                    count += 1
        f.commit()
    return count


def _key(name: str) -> str:
    """A stored name as a WebDataset key: without its extension; a key holds no dot in its
    last part (WebDataset splits a member's name at the first dot)."""
    folder, _, base = name.rpartition("/")
    stem = base.split(".", 1)[0] if "." in base else base
    if base.count(".") > 1 or not stem:
        raise InputError(f"{name}: a WebDataset key cannot hold a dot (the tar readers split "
                         "a member's name at the first one); rename the image")
    return f"{folder}/{stem}" if folder else stem


class _Writable:
    """A write-only file object over an AtomicFile, for tarfile's stream mode."""

    def __init__(self, f: AtomicFile):
        self.f = f

    def write(self, data) -> int:
        return self.f.write(data)

    def close(self) -> None:
        pass


def _add(out: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    out.addfile(info, io.BytesIO(data))


def _json_bytes(entry: dict, key: str) -> bytes:
    if any(isinstance(v, bytes) for v in entry.values()):
        raise InputError(f"{key}: its metadata holds bytes, which JSON cannot")
    try:
        return json.dumps(entry, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except ValueError:
        raise InputError(f"{key}: its metadata holds a NaN or infinite number, which JSON "
                         "cannot") from None


def to_huggingface(archive, *, cache_dir=None):
    """The archive as a ``datasets.Dataset`` (the Hugging Face extra): columns ``image``
    (an Image feature), ``name`` when names are stored, ``label`` (a ``ClassLabel`` with
    the archive's class names, else int64) when labels are, and ``meta`` (a JSON string
    per image, "" for none) when metadata is. Written by ``datasets`` to its cache
    (``cache_dir``, default its own) a chunk at a time."""
    try:
        import datasets
    except ImportError:
        raise InputError("to_huggingface needs the datasets package: pip install "
                         "'vaecodec[hf]'") from None
    with archive_io.open_reader(archive, max_images=2**40) as reader:
        features: dict = {"image": datasets.Image()}
        if reader.named:
            features["name"] = datasets.Value("string")
        if reader.labelled:
            classes, labels = reader.classes, reader.labels
            features["label"] = (
                datasets.ClassLabel(names=list(classes))
                if classes is not None and len(labels) and labels.min() >= 0
                and labels.max() < len(classes) else datasets.Value("int64"))
        if reader.has_metadata:
            features["meta"] = datasets.Value("string")
    # written by datasets to its cache (arrow files) a chunk at a time, not held in memory
    return datasets.Dataset.from_generator(
        _hf_rows, gen_kwargs={"source": archive}, features=datasets.Features(features),
        cache_dir=None if cache_dir is None else os.fspath(cache_dir))


def _hf_rows(source):
    """The rows of ``to_huggingface``, a chunk at a time."""
    from PIL import Image

    with archive_io.open_reader(source, max_images=2**40) as reader:
        names = reader.names
        for first, block in reader.chunks():
            rows = np.arange(first, first + len(block))
            labels = reader.label(rows) if reader.labelled else None
            meta = reader.meta(rows) if reader.has_metadata else None
            images = modes.in_source_modes(block, reader.source_channels(rows))
            for n, image in enumerate(images):
                row: dict = {"image": Image.fromarray(image)}
                if names is not None:
                    row["name"] = names[first + n]
                if labels is not None:
                    row["label"] = int(labels[n])
                if meta is not None:
                    row["meta"] = "" if meta[n] is None else _json_bytes(
                        meta[n], str(first + n)).decode("utf-8")
                yield row
