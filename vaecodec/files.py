"""Files and folders in and out: compress image files into a .vaez file, decompress one
into PNGs, read a file's header. The output policy lives here: nothing is overwritten
without ``force``, outputs are written atomically, and on error nothing is left behind.
"""

from __future__ import annotations

import dataclasses
import io
import os
import urllib.parse
import warnings
from pathlib import Path
from typing import BinaryIO, Callable, Iterable, Sequence

from . import archive as archive_io
from . import arrays, labelling, modes, remote
from . import images as image_files
from .errors import (
    CorruptModelError,
    DuplicateNameError,
    EmptySelectionError,
    FormatError,
    InputError,
    OutputExistsError,
    OutputPathError,
    VaezError,
    VaezWarning,
)
from .format import container
from .format.sniff import is_chunked
from .fsio import OutputTree, atomic_write_bytes, check_output_file, open_regular
from .headers import read_info  # noqa: F401  (files.read_info: vaecodec.read_info)
from .options import EncodeOptions, with_keywords
from .pipeline.guard import QualityReport
from .pipeline.settings import DEFAULT_MAX_IMAGES, check_count, resolve
from .stream.decoder import ArchiveDecoder
from .zoo import Zoo

# progress(stage, done, total): "reading images" then "encoding" (compress), "decoding"
# (decompress: images decoded and written)
Progress = Callable[[str, int, int], None]


MAX_MODEL_FILE = 2 * 2**30  # bytes read from a model file at most (families are a few MB)


def read_model_source(path: str | os.PathLike) -> bytes:
    """The bytes of a model family file (.vaem), or of the family a .vaez file carries;
    a regular file of at most MAX_MODEL_FILE bytes."""
    with open_regular(path, CorruptModelError) as f:
        size = os.fstat(f.fileno()).st_size
        if size > MAX_MODEL_FILE:
            raise CorruptModelError(f"{path} is {size} bytes, more than a model file can be")
        data = f.read(MAX_MODEL_FILE + 1)
    if not data.startswith(container.MAGIC):
        return data
    try:
        if is_chunked(data):
            model = ArchiveDecoder(io.BytesIO(data)).model
        else:
            model = container.unpack(data).model
    except VaezError as e:
        raise type(e)(f"{path}: {e}") from None
    if model is None:
        raise CorruptModelError(f"{path} carries no model (compress --embed-model makes one "
                                "that does)")
    return model


@dataclasses.dataclass(frozen=True)
class CompressResult:
    output: Path | str | None  # a str for a URL; None when written to a file object
    count: int
    size: int  # bytes of the .vaez file
    skipped: list[str]  # one message per skipped input
    quality: "QualityReport | None" = None  # the quality guard's figures (lossy levels)


def compress(sources: Iterable[str | os.PathLike], output: str | os.PathLike | BinaryIO,
             options: EncodeOptions | None = None, *, resize: bool = False,
             skip_invalid: bool = False, force: bool = False,
             progress: Progress | None = None, zoo: Zoo | None = None,
             append: bool = False, grayscale: bool = False, labels=None,
             **keywords) -> CompressResult:
    """Compress image files and folders (recursively) into one .vaez file.

    Names are stored relative to each source folder (a file given directly: its base name).
    ``output`` is a path, written atomically (an existing file needs ``force=True``), a
    URL (``remote``: written locally, then put whole where the file system allows it),
    or a binary file object (``sys.stdout.buffer``) that receives the bytes.
    ``options``: an ``EncodeOptions`` (or its fields as keywords: ``quality``,
    ``quant_step``, ``model``, ``coder``, ``lossless``, ``max_error``, ``embed_model``,
    ``strict``, ``polarity``, ``search``), as for ``encode`` (nothing is written when
    ``strict`` refuses). ``append``: add the images to the archive ``output`` (with its
    own settings; names must be new to it), leaving it as it was on any error.
    Files are read (in parallel) and coded a chunk at a time, so memory does not grow with
    their number beyond their names. ``progress("compressing", done, total)`` as files
    are read and coded.

    ``sources`` may instead be arrays: ``.npy`` files (uint8, or float in [0, 1]) and
    IDX files (``arrays``), their images stored as ``STEM/00000.png``, ...; arrays and
    image files go to separate runs.

    ``labels``: store a label (and metadata) per image (a version 6 file): ``"folders"``
    (the first folder of each stored name is its class, as torchvision's ``ImageFolder``
    takes it), a labels file (CSV, JSON; an array of labels for array sources), or a dict
    from stored names to labels or dicts (``labelling``). Every image needs a label;
    names the file gives that no image has are reported in one ``VaezWarning``.

    Images are stored as 8-bit values in the model's channels: grayscale for the
    shipped families, RGB (or another layout) for a colour family. A file that holds
    more (colour for a grayscale model, transparency, deeper samples) is refused with
    ``ConversionError`` for an exact file (``lossless``, ``max_error``) unless
    ``grayscale=True`` accepts the conversion to grayscale; a lossy file converts it and
    says how many were converted in one ``VaezWarning``. A grayscale image given to a
    colour model is widened (its channels equal), with one ``VaezWarning`` that says
    how many. With ``strict``, either conversion is a ``ConversionError``.
    """
    options = with_keywords(options, keywords, "compress")
    to_stream = hasattr(output, "write")
    sources = list(sources)
    if not to_stream and remote.is_url(output):
        return _compress_to_url(sources, output, options, resize=resize,
                                skip_invalid=skip_invalid, force=force, progress=progress,
                                zoo=zoo, append=append, grayscale=grayscale, labels=labels)
    counting = _Counting(output) if to_stream else None
    array_files = _array_sources(sources)
    given = None if labels is None else labelling.load(labels, arrays_given=array_files)
    if append:
        if to_stream:
            raise OutputPathError("appending needs an archive file, not a stream")
        writer = archive_io.open(output, "a", options, zoo=zoo)
        _check_append_labels(writer, given, output)
    else:
        # the options and the output are checked before anything is read
        settings = resolve(options, zoo=zoo)
        writer = archive_io.ArchiveWriter(
            counting if to_stream else Path(output), settings, force=force,
            embed_model=options.embed_model, polarity=options.polarity, named=True,
            strict=options.strict, check_names=False,  # iter_files checks the names
            labelled=given is not None and given.has_labels,
            metadata=given is not None and given.has_meta,
            # a colour model records each image's channels, for decompress
            source_channels=len(settings.image_shape) == 3)
    skipped: list[str] = []
    converted = widened = 0
    rounded = [0]  # images of arrays whose float values were rounded
    shape = writer.settings.image_shape
    exact = writer.settings.max_error is not None and not grayscale
    before = writer.count  # an archive appended to: the images it holds
    with writer:  # on any error: no new file, an archive appended to as it was
        folders: set[str] = set()
        if array_files:
            total = sum(len(arrays.open_array(path)) for path in sources)
            folders = {arrays.stem(path) for path in sources}
            parts = _array_parts(sources, shape, resize, exact, rounded)
        else:
            # a walk: for the progress, the workers and the classes of folders
            total = image_files.count_files(sources, folders)
            # names are unique within one source (the writer need not keep them) and
            # checked across several as they come (iter_files)
            parts = image_files.iter_images(
                image_files.iter_files(sources), writer.settings.image_shape, resize,
                skip_invalid, total=total, exact=exact)
        if progress is not None:  # files coded (or skipped) of all
            writer.on_progress(lambda coded: progress("compressing", coded + len(skipped),
                                                      total))
        assign = None
        if given is not None:
            stored = writer.header if append else None
            assign = labelling.Assigner(given, None if stored is None else
                                        writer.stored_classes,
                                        None if stored is None else stored.labelled, folders)
            if assign.classes is not None:
                writer.add_classes(assign.classes)
        for part in parts:
            skipped.extend(part.skipped)
            converted += part.converted
            widened += part.widened
            if options.strict and (part.converted or part.widened):
                raise image_files.strict_refusal(converted if part.converted else 0, widened,
                                                 shape)
            if part.names:
                extras = (None, None) if assign is None else assign(part.names)
                writer.write(part.pixels, part.names, *extras, channels=part.sources)
        if writer.count == before:
            raise EmptySelectionError("no readable image among the selected files"
                                      + _skipped_list(skipped))
        unused = [] if assign is None else assign.unused()
        if unused and given is not None and given.by_position is not None:
            raise InputError(f"{given.source}: {unused[0]}; give one label per image")
        count = writer.count - before
        quality_report = writer.close()
    if unused:
        warnings.warn(f"{len(unused)} of the {len(given.entries or ())} names in "
                      f"{given.source} match no image compressed (the first: {unused[0]!r})",
                      VaezWarning, stacklevel=2)
    if converted:
        warnings.warn(image_files.conversion_warning(converted, shape), VaezWarning,
                      stacklevel=2)
    if widened:
        warnings.warn(image_files.widening_warning(widened, shape), VaezWarning,
                      stacklevel=2)
    if rounded[0]:
        were = "image's" if rounded[0] == 1 else "images'"
        warnings.warn(f"{rounded[0]} {were} float values were rounded to 8 bits (vaecodec "
                      "stores 8-bit pixels)", VaezWarning, stacklevel=2)
    if counting is not None:
        return CompressResult(None, count, counting.written, skipped, quality_report)
    return CompressResult(Path(output), count, os.path.getsize(output), skipped,
                          quality_report)


def _array_parts(sources, shape, resize: bool, exact: bool, rounded: list[int]):
    """The ``Part``s of array files read at ``shape``; ``rounded[0]`` counts the images
    whose float values were rounded to 8 bits."""
    import numpy as np

    for path in sources:
        array = arrays.open_array(path)
        source = array.shape[3] if array.ndim == 4 else 1
        for block, names, lost, dropped, widened in arrays.parts(path, shape, resize, exact):
            rounded[0] += lost
            yield image_files.Part(block, names, [], dropped, widened,
                                   np.full(len(block), source, dtype=np.uint8))


def _check_append_labels(writer, given, output) -> None:
    """An archive appended to keeps its labels and metadata: the new images need labels
    exactly when it has them, and metadata only where it stores them."""
    header = writer.header
    problem = None
    if header.labelled and (given is None or not given.has_labels):
        problem = (f"{output} stores a label per image: give the new images' labels "
                   "(--labels FILE, --labels-from-folders)")
    elif given is not None and given.has_labels and not header.labelled:
        problem = f"{output} stores no labels, so the images added to it cannot have them"
    elif given is not None and given.has_meta and "meta" not in header.fields:
        problem = (f"{output} stores no metadata, so the images added to it cannot have "
                   f"any ({given.source} gives metadata)")
    if problem is not None:
        writer.abort()
        raise InputError(problem)


def _compress_to_url(sources, url: str, options: EncodeOptions, *, append: bool,
                     force: bool, **reading) -> CompressResult:
    """``compress`` into a local temporary file, then put whole at ``url``."""
    import tempfile

    if append:
        raise OutputPathError("appending needs an archive on a local disk, not a URL")
    remote.check_upload(url, force)  # before anything is read
    with tempfile.TemporaryDirectory(prefix="vaecodec-") as folder:
        local = Path(folder) / "upload.vaez"
        result = compress(sources, local, options, force=True, **reading)
        remote.upload(local, url, force)
    return dataclasses.replace(result, output=url)


def _array_sources(sources: list) -> bool:
    """Whether ``sources`` are arrays (.npy, IDX files) to compress; arrays and image
    files in one run are refused, as are two arrays that would share a folder."""
    kinds = [arrays.array_kind(source) for source in sources]
    if not any(kinds):
        return False
    if not all(kinds):
        given = next(s for s, kind in zip(sources, kinds) if kind is None)
        raise InputError(f"{given}: give arrays (.npy, IDX files) and image files or folders "
                         "to separate runs of compress (--append adds one to the other)")
    folders: dict[str, str] = {}
    for source in sources:
        folder = arrays.stem(source)
        if folder in folders:
            raise DuplicateNameError(f"{folders[folder]} and {source} would both store their "
                                     f"images in {folder}/; compress them into separate "
                                     "files, or rename one")
        folders[folder] = source
    return True


def _skipped_list(skipped: list[str], shown: int = 5) -> str:
    """The files skipped, for the error that says none was left."""
    if not skipped:
        return ""
    more = f"; and {len(skipped) - shown} more" if len(skipped) > shown else ""
    return " (skipped: " + "; ".join(skipped[:shown]) + more + ")"


class _Counting:
    """A binary stream that counts the bytes written to it."""

    def __init__(self, stream: BinaryIO):
        self.stream, self.written = stream, 0

    def write(self, data) -> int:
        self.stream.write(data)
        self.written += len(data)
        return len(data)

    def flush(self) -> None:
        self.stream.flush()


def stage_progress(progress: Progress | None, stage: str):
    """A ``(done, total)`` callback reporting one stage to ``progress``."""
    if progress is None:
        return None
    return lambda done, total: progress(stage, done, total)


def default_output_dir(archive: Path) -> Path:
    """``digits.vaez`` -> ``digits/`` beside it; another name gets ``.d`` appended."""
    if archive.suffix.lower() == ".vaez":
        return archive.with_suffix("")
    return archive.with_name(archive.name + ".d")


@dataclasses.dataclass(frozen=True)
class DecompressResult:
    output_dir: Path
    paths: Sequence[Path]  # the images written, in the archive's order
    lost: tuple = ()  # with salvage: an archive.Damage for each damaged chunk
    trailing: int = 0  # bytes after the archive's end that were ignored
    annotated: bool = False  # the archive stores labels or metadata per image
    labels_file: Path | None = None  # where they were written (labels_out)


def decompress(archive: str | os.PathLike | bytes, output_dir: str | os.PathLike | None = None,
               *,
               force: bool = False, progress: Progress | None = None,
               zoo: Zoo | None = None,
               max_images: int = DEFAULT_MAX_IMAGES,
               members: Sequence[str] | None = None,
               salvage: bool = False,
               labels_out: str | os.PathLike | None = None) -> DecompressResult:
    """Decode a .vaez file (a path, or its bytes) into PNG files under ``output_dir`` (see
    ``images.output_names``; default for a path: ``default_output_dir``). A file of more
    than ``max_images`` images is refused (``ImageLimitError``) before anything is decoded.
    ``members``: only the images of these stored names (``00017.png`` for an archive
    without names). ``salvage``: write every image of the chunks that are intact and
    report the damaged ones in ``lost`` instead of failing (a damaged index: the chunks
    are found by scanning the file). ``labels_out``: a .csv or .json file to write the
    images' labels and metadata to (an archive that stores them), by the paths written
    under ``output_dir``, as ``compress(labels=...)`` reads them back.

    Everything is checked before the first file is written: the archive's structure, every
    name, and that no file would be overwritten (unless ``force``). Nothing outside
    ``output_dir`` is touched: no symbolic link inside it is followed. Every image is first
    written to a new temporary file; only when all are complete are they moved into place,
    so that on any error (a full disk...) every file that existed is as it was and what
    this call wrote is removed. Images are decoded and written a chunk at a time.
    ``progress("decoding", done, total)`` is called as images are decoded and written.
    """
    if isinstance(archive, (bytes, bytearray, memoryview)):
        if output_dir is None:
            raise OutputPathError("an archive that is not a file needs an output folder (-o)")
        source, shown = bytes(archive), "archive"
    elif remote.is_url(archive):  # the folder goes in the current one, as curl -O's file
        source = shown = archive
        if output_dir is None:
            output_dir = default_output_dir(Path(Path(urllib.parse.urlsplit(
                archive.split("::")[-1]).path).name or "archive.vaez"))
    else:
        archive = Path(archive)
        source, shown = archive, archive
    if remote.is_url(output_dir):
        raise OutputPathError(f"{output_dir}: decompress writes PNG files into a folder on a "
                              "local disk, not to a URL")
    out_dir = Path(output_dir) if output_dir is not None else default_output_dir(archive)
    with archive_io.open_reader(source, max_images=max_images, zoo=zoo,
                                salvage=salvage) as reader:
        try:
            return _decompress(reader, out_dir, force, progress, members, salvage, max_images,
                               labels_out)
        except FormatError as e:  # a damaged file: say which
            if str(e).startswith(f"{shown}:"):
                raise
            raise type(e)(f"{shown}: {e}") from None


def _decompress(reader, out_dir: Path, force: bool, progress, members, salvage: bool,
                max_images: int, labels_out=None) -> DecompressResult:
    import numpy as np

    check_count(reader.info, max_images)
    annotated = reader.labelled or reader.has_metadata
    if labels_out is not None:
        if not annotated:
            raise InputError("the archive stores no labels nor metadata to write to "
                             f"{labels_out}")
        labels_out = labelling.check_output(labels_out, force)
    lost: list = []
    positions = None  # all images
    if salvage:  # the images of the chunks that decode
        intact, lost = reader.intact_chunks()
        positions = [p for first, count, _ in intact for p in range(first, first + count)]
        names = (None if not reader.named
                 else [name for _, _, chunk_names in intact for name in chunk_names])
    else:
        names = reader.names
    if names is None:  # numbered names, made as they are needed; they never collide
        numbered = _Numbered(len(reader))
        relative = numbered if positions is None else [numbered[p] for p in positions]
    else:
        relative = image_files.output_names(names)
    if members is not None:
        chosen = _chosen(list(members), names, relative, positions, len(reader))
        relative = [relative[k] for k in chosen]
        positions = chosen if positions is None else [positions[k] for k in chosen]
    top = os.fspath(out_dir)
    if os.path.lexists(top) and not out_dir.is_dir():
        raise OutputPathError(f"{out_dir} exists and is not a folder")
    existing = [t for t in (os.path.join(top, rel) for rel in relative) if os.path.lexists(t)]
    folders = [t for t in existing if os.path.isdir(t) and not os.path.islink(t)]
    if folders:
        raise OutputPathError(f"{folders[0]} is a folder; an image of the archive goes there")
    if existing and not force:
        more = f" and {len(existing) - 1} more" if len(existing) > 1 else ""
        verb = "exists" if len(existing) == 1 else "exist"
        raise OutputExistsError(f"{existing[0]}{more} already {verb} (use --force to overwrite)")
    # after the cheap checks: decoding takes longest
    report = stage_progress(progress, "decoding")
    if positions is None:
        images = (image for first, batch in reader.chunks(report) for image in _sources(
            reader, np.arange(first, first + len(batch)), batch))
    else:
        images = _images_at(reader, positions, report)
    table = None
    if labels_out is not None:  # made before the images are written: nothing half done
        rows = np.arange(len(reader)) if positions is None else np.asarray(positions,
                                                                          dtype=np.int64)
        table = labelling.render(labels_out, list(relative),
                                 reader.label(rows) if reader.labelled else None,
                                 reader.meta(rows) if reader.has_metadata else None,
                                 reader.classes)
    _write_tree(top, relative, images, force)
    if table is not None:
        atomic_write_bytes(labels_out, table, force)
    return DecompressResult(out_dir, _Paths(out_dir, relative), tuple(lost), reader.trailing,
                            annotated, labels_out)


def _chosen(members: list[str], names, relative, positions, count: int) -> list[int]:
    """Which of the images on offer (``relative`` output names, at ``positions`` of the
    archive, None: all) ``members`` are: their stored names, or for an archive without
    names their numbered ones (``00017.png``). Indexes into the offer, in the order given."""
    if not members:
        raise EmptySelectionError("no image names given")
    if names is not None:
        offered = {name: k for k, name in enumerate(names)}
    else:  # a number: a position of the archive
        offered = None if positions is None else {p: k for k, p in enumerate(positions)}
    chosen = []
    for member in members:
        if names is not None:
            k = offered.get(member)
        else:
            stem = member[:-4] if member.lower().endswith(".png") else member
            number = int(stem) if stem.isdigit() else -1
            k = (number if 0 <= number < count else None) if offered is None \
                else offered.get(number)
        if k is None:
            raise EmptySelectionError(f"no image named {member!r} in the archive"
                                      + (" (or it is in a damaged chunk)"
                                         if positions is not None else ""))
        chosen.append(k)
    if len(set(chosen)) != len(chosen):
        raise EmptySelectionError("an image is named twice")
    return chosen


def _images_at(reader, positions: list[int], progress):
    """The images at ``positions``, in that order, decoded a few thousand at a time."""
    import numpy as np

    step = 4096
    for i in range(0, len(positions), step):
        rows = np.asarray(positions[i : i + step], dtype=np.int64)
        batch = reader[rows]
        if progress:
            progress(min(i + step, len(positions)), len(positions))
        yield from _sources(reader, rows, batch)


def _sources(reader, rows, batch):
    """The images ``batch`` (at ``rows``) as PNG files keep them: in the modes of the
    images they were made from, where the archive records them (a colour model's)."""
    if batch.ndim < 4:
        return batch
    return modes.in_source_modes(batch, reader.source_channels(rows))


def _write_tree(top: str, relative: Sequence[str], images, force: bool) -> None:
    """Each uint8 image of ``images`` as a PNG at its ``relative`` name under ``top``,
    through an ``OutputTree``: all in place at the end, or none."""
    with OutputTree(top, relative) as tree:
        for image in images:
            tree.stage(image_files.png_bytes(image))
        tree.commit(force)


class _Paths(Sequence[Path]):
    """The paths of the written images, made on demand from their relative names."""

    def __init__(self, top: Path, relative: Sequence[str]):
        self.top, self.relative = top, relative

    def __len__(self) -> int:
        return len(self.relative)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(len(self)))]
        return self.top / self.relative[i]


class _Numbered(Sequence[str]):
    """The names 00000.png, 00001.png, ... of an archive without stored names, made on
    demand (a few bytes of archive can hold millions of images)."""

    def __init__(self, count: int):
        self.count, self.width = count, max(5, len(str(count - 1)))

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[k] for k in range(*i.indices(self.count))]
        if not -self.count <= i < self.count:
            raise IndexError(i)
        return f"{i % self.count:0{self.width}d}.png"


def write_images(images, output: str | os.PathLike, *, force: bool = False,
                 columns: int | None = None) -> list[Path]:
    """Write uint8 images (N, H, W) or (N, H, W, C): to ``output`` as one grid PNG when
    it ends in .png
    (``columns`` wide, default about square, 2 black pixels between images), else as
    00000.png, 00001.png, ... into the folder ``output`` (as ``decompress`` writes: no
    link followed, nothing replaced without ``force``, nothing left on failure)."""
    import numpy as np

    images = np.asarray(images, dtype=np.uint8)
    output = Path(output)
    if output.suffix.lower() == ".png":
        n, h, w = images.shape[:3]
        columns = columns or int(np.ceil(np.sqrt(n)))
        rows = -(-n // columns)
        grid = np.zeros((rows * (h + 2) - 2, columns * (w + 2) - 2, *images.shape[3:]),
                        dtype=np.uint8)
        for i, image in enumerate(images):
            r, c = divmod(i, columns)
            grid[r * (h + 2) : r * (h + 2) + h, c * (w + 2) : c * (w + 2) + w] = image
        check_output_file(output, force)
        atomic_write_bytes(output, image_files.png_bytes(grid), force)
        return [output]
    top = os.fspath(output)
    if os.path.lexists(top) and not output.is_dir():
        raise OutputPathError(f"{output} exists and is not a folder")
    relative = _Numbered(len(images))
    existing = [t for t in (os.path.join(top, rel) for rel in relative) if os.path.lexists(t)]
    if existing and not force:
        raise OutputExistsError(f"{existing[0]} already exists (use --force to overwrite)")
    _write_tree(top, relative, images, force)
    return list(_Paths(output, relative))
