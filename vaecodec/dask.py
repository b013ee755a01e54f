"""Compressing a data set on a Dask cluster (dask.distributed imported here only).

    from dask.distributed import Client
    import vaecodec.dask
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=4))
    result = vaecodec.dask.compress(["/shared/images/"], "/shared/images.json", client)
    vaecodec.open("/shared/images.json")             # the shards, read as one archive

The files are listed here, in the order ``compress`` stores them, and dealt out in shards
of ``shard_images`` files; each shard is one task, which reads its files and writes one
.vaez file (a multiple of the chunk size, so that the shards' chunks are those a single
file would hold and decode to the same pixels). A shard file appears complete or not at
all (it is written under a temporary name and renamed), and a task whose worker fails or
is killed is run again elsewhere (``retries``), so no shard is ever half-written into the
data set. The shards are written into a new temporary folder, which takes its final name
(``big.shards/`` beside ``big.json``) only when every shard is done; then the manifest
(JSON: the shards' paths, image counts, sizes and sha256) is written, atomically, and
only then is an older data set of that name (``force``) removed, so a failed run leaves
it as it was; it is what ``vaecodec.open``, ``vaecodec ls``,
``vaecodec decompress`` and ``vaecodec.torch`` read. Every worker needs vaecodec, the
model family and the files at the same paths (shared storage).
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import itertools
import os
import secrets
import shutil
from pathlib import Path

from . import codec, images as image_files
from .archive import ArchiveWriter
from .atomic import atomic_write_bytes, check_output_file
from .errors import EmptySelectionError, OutputExistsError, SettingsError
from .format import chunked, manifest as manifest_format

SHARD_IMAGES = 16 * chunked.CHUNK_IMAGES  # files per shard: 65,536


@dataclasses.dataclass(frozen=True)
class DaskResult:
    manifest: Path
    count: int  # images stored
    size: int  # bytes of all shards
    shards: int
    skipped: list[str]


def shards_folder(manifest: Path) -> Path:
    """Where the shards of ``manifest`` go: ``big.json`` -> ``big.shards/`` beside it."""
    return manifest.with_name(manifest.stem + ".shards")


def compress(sources, manifest, client, *, shard_images: int = SHARD_IMAGES,
             force: bool = False, retries: int = 3, resize: bool = False,
             skip_invalid: bool = False, progress=None, **options) -> DaskResult:
    """Compress image files and folders into shards on the cluster of ``client`` (a
    ``dask.distributed.Client``), tied together by the manifest file ``manifest``.
    ``options``: ``encode``'s (quality, model, lossless, max_error, polarity...).
    ``progress("compressing", done, total)`` as shards finish."""
    from dask.distributed import as_completed

    if shard_images < 1 or shard_images % chunked.CHUNK_IMAGES:
        raise SettingsError(f"shard_images must be a positive multiple of "
                            f"{chunked.CHUNK_IMAGES} (whole chunks)")
    polarity = options.pop("polarity", "auto")
    codec.resolve(**options)  # the options are checked here, before any task runs
    manifest = Path(manifest)
    check_output_file(manifest, force)
    final = shards_folder(manifest)
    if final.exists() and not force:
        raise OutputExistsError(f"{final} already exists (use --force to overwrite)")
    sources = [os.fspath(s) for s in sources]
    total = image_files.count_files(sources)
    files = image_files.iter_files(sources)
    # the shards go to a new folder, which takes the final name only when all are done:
    # a failed run leaves what was there (an older data set included) as it was
    token = secrets.token_hex(4)
    folder = final.with_name(f".{final.name}.{token}.tmp")
    folder.mkdir(parents=True)
    futures, count = [], 0
    try:
        for k in itertools.count():
            part = list(itertools.islice(files, shard_images))
            if not part:
                break
            target = os.fspath(folder / f"{k:05d}.vaez")
            futures.append(client.submit(_compress_shard, part, target, options, polarity,
                                         resize, skip_invalid, key=f"vaecodec-shard-{k}-"
                                         f"{hashlib.sha1(target.encode()).hexdigest()[:8]}",
                                         retries=retries, pure=False))
        done = 0
        for future in as_completed(futures):
            done += future.result()["files"]
            if progress:
                progress("compressing", done, total)
        results = [f.result() for f in futures]
    except BaseException:
        for future in futures:
            future.cancel()
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shards = [manifest_format.Shard(f"{final.name}/{Path(r['path']).name}", r["images"],
                                    r["bytes"], r["sha256"]) for r in results if r["images"]]
    skipped = [m for r in results for m in r["skipped"]]
    for r in results:  # a shard whose every file was skipped wrote nothing
        count += r["images"]
    if not shards:
        shutil.rmtree(folder, ignore_errors=True)
        raise EmptySelectionError("no readable image among the selected files")
    for leftover in folder.glob(".vaecodec-*.tmp"):  # of tasks whose worker was killed
        leftover.unlink(missing_ok=True)
    model = results[0]["model"]
    data = manifest_format.Manifest(tuple(shards), model).to_bytes()
    old = final.with_name(f".{final.name}.{token}.old")
    moved = final.exists()
    if moved:  # with force: the older shards wait aside until the manifest is new
        final.rename(old)
    try:
        folder.rename(final)
        try:
            atomic_write_bytes(manifest, data, force)
        except BaseException:
            final.rename(folder)  # the new shards back under their temporary name
            raise
    except BaseException:
        if moved:
            old.rename(final)
        shutil.rmtree(folder, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return DaskResult(manifest, count, sum(s.bytes for s in shards), len(shards), skipped)


@functools.lru_cache(maxsize=4)
def _settings(options: tuple) -> codec.Settings:
    """The resolved settings of a worker's tasks, its models loaded once per process
    rather than once per task."""
    return codec.resolve(**dict(options))


def _compress_shard(files, target: str, options: dict, polarity: str, resize: bool,
                    skip_invalid: bool) -> dict:
    """One task: ``files`` into the shard ``target`` (written whole or not at all)."""
    settings = _settings(tuple(sorted(options.items())))
    writer = ArchiveWriter(target, settings, force=True, polarity=polarity, named=True,
                           check_names=False)
    skipped: list[str] = []
    with writer:
        for pixels, names, part_skipped in image_files.iter_images(
                files, settings.image_shape, resize, skip_invalid, workers=1):
            skipped += part_skipped
            if names:
                writer.write(pixels, names)
        if not writer.count:
            writer.abort()
            return {"path": target, "images": 0, "bytes": 0, "sha256": "", "files": len(files),
                    "skipped": skipped, "model": settings.model.model_id[:4].hex()}
        count = writer.count
        writer.close()
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return {"path": target, "images": count, "bytes": os.path.getsize(target),
            "sha256": digest.hexdigest(), "files": len(files), "skipped": skipped,
            "model": settings.model.model_id[:4].hex()}
