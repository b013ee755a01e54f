"""``vaecodec.open``: an archive read at random, in chunks, or written incrementally.

    with vaecodec.open("digits.vaez") as archive:
        len(archive), archive[5], archive[10:20], archive["3/00018.png"], archive.names
        for start, images in archive.chunks(): ...
        archive.verify()

    with vaecodec.open("new.vaez", "w", quality=4) as archive:
        archive.write(images, names=names)      # as often as needed; memory for one chunk

    with vaecodec.open("train.vaez", "w", classes=["cat", "dog"]) as archive:
        archive.write(images, labels=labels, meta=[{"source": "a.png"}, ...])
    vaecodec.open("train.vaez").labels, .label(i), .meta(i), .metadata, .classes

    with vaecodec.open("new.vaez", "a") as archive:   # add images; existing chunks stay
        archive.write(more_images, names=more_names)

Version 5 and 6 files (format/chunked.py) are read a chunk at a time; older versions are read
whole on first use. The policy of ``files`` holds: nothing is replaced without ``force``,
a new file appears complete or not at all, and a failed or interrupted append leaves the
archive as it was.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import remote
from ..errors import ArgumentTypeError, SettingsError
from ..format import chunked
from ..format.manifest import looks_like as looks_like_manifest
from ..fsio import WriteLock
from ..options import EncodeOptions, with_keywords
from ..pipeline.settings import DEFAULT_MAX_IMAGES, resolve
from ..zoo import Zoo
from .manifest import ManifestReader, is_manifest, shard_paths
from .reader import ArchiveReader, Damage, Reader, VerifyReport
from .writer import Appending, ArchiveWriter

__all__ = ["open", "open_reader", "ArchiveReader", "ManifestReader", "ArchiveWriter",
           "Appending", "Reader", "Damage", "VerifyReport", "is_manifest", "shard_paths",
           "MODES"]

MODES = ("r", "w", "a")


def open(path, mode: str = "r", options: EncodeOptions | None = None, *,
         zoo: Zoo | None = None, max_images: int = DEFAULT_MAX_IMAGES, force: bool = False,
         named: bool | None = None, chunk_images: int = chunked.CHUNK_IMAGES,
         labelled: bool | None = None, metadata: bool | None = None, classes=None,
         **keywords):
    """Open a .vaez archive: ``"r"`` to read (a path or a binary file object; a path may
    name a manifest of shards, read as one archive: ``vaecodec.dask``), ``"w"`` to
    write a new one (a path, replaced only with ``force``, or a binary stream), ``"a"`` to
    add images to one (a version 5 or 6 file; created when missing).

    Reading: ``max_images`` limits older (unchunked) files, which are decoded whole, and
    the archives whose names are read at once (``names``, lookup by name).
    Writing: ``options`` (an ``EncodeOptions``, or its fields as keywords) as ``encode``
    takes them; ``named``, ``labelled``, ``metadata`` say whether images carry names,
    integer labels and dicts of metadata (default: whether the first ``write`` gives
    them); ``classes`` names labels 0, 1, .... Appending takes the archive's own settings
    (giving other ones is an error; ``search``, ``polarity`` and more ``classes`` after
    the archive's may be given)."""
    if mode not in MODES:
        raise SettingsError(f"mode must be 'r', 'w' or 'a', not {mode!r}")
    if mode == "r":
        writing = [k for k, v in (("named", named), ("labelled", labelled),
                                  ("metadata", metadata), ("classes", classes))
                   if v is not None]
        if writing:
            keywords = {**keywords, writing[0]: True}
        if options is not None or keywords:
            given = "options" if options is not None else sorted(keywords)[0]
            raise ArgumentTypeError(f"open() for reading takes no encoding options "
                                    f"({given})")
        return open_reader(path, zoo=zoo, max_images=max_images)
    options = with_keywords(options, keywords, "open")
    if remote.is_url(path):
        raise SettingsError(f"{path}: open() writes archives on a local disk; compress() "
                            "writes one to a URL, or copy the finished file there")
    if mode == "a" and hasattr(path, "write"):
        raise SettingsError("appending needs an archive file, not a stream")
    # appending: the archive is locked before it is looked at, so that concurrent appends
    # (or a replacement) wait for each other instead of losing one run's images; a new
    # file's writer takes the lock itself
    lock = WriteLock(path).acquire() if mode == "a" else None
    try:
        if lock is not None and os.path.lexists(path):
            given = options.choosing_the_coding()
            if given:
                raise SettingsError("appending uses the archive's own model and level; leave "
                                    "out " + ", ".join(given))
            writer = ArchiveWriter.append(Path(path), zoo=zoo, polarity=options.polarity,
                                          search=options.search, strict=options.strict,
                                          lock=lock, classes=classes)
            header = writer.header
            has = {"named": header.named, "labelled": header.labelled,
                   "metadata": "meta" in header.fields}
            for key, wanted in (("named", named), ("labelled", labelled),
                                ("metadata", metadata)):
                if wanted is not None and wanted != has[key]:
                    writer.abort()
                    raise SettingsError(f"{path} was made with {key}={has[key]}; appending "
                                        "keeps it")
            return writer
        return ArchiveWriter(path, resolve(options, zoo=zoo), force=force,
                             embed_model=options.embed_model, polarity=options.polarity,
                             named=named, chunk_images=chunk_images, strict=options.strict,
                             lock=lock, labelled=labelled, metadata=metadata,
                             classes=classes)
    except BaseException:
        if lock is not None:
            lock.release()
        raise


def open_reader(source, *, zoo: Zoo | None = None, max_images: int = DEFAULT_MAX_IMAGES,
                salvage: bool = False):
    """An archive opened for reading: a path, a URL (``remote``), bytes or a binary file
    object of a .vaez file (``ArchiveReader``), or a path or URL of a manifest of shards
    (``ManifestReader``). The one way every reader of the library and the command line
    opens what it is given."""
    if remote.is_url(source):  # one connection tells which it is and reads the archive
        f = remote.RemoteFile(source)
        try:
            sniffed = looks_like_manifest(f.read(64))
            f.seek(0)
        except BaseException:
            f.close()
            raise
        if sniffed:
            f.close()
            return ManifestReader(source, zoo=zoo, salvage=salvage, max_images=max_images)
        return ArchiveReader(source, zoo=zoo, max_images=max_images, salvage=salvage,
                             _opened=f)
    if is_manifest(source):
        return ManifestReader(source, zoo=zoo, salvage=salvage, max_images=max_images)
    return ArchiveReader(source, zoo=zoo, max_images=max_images, salvage=salvage)

