"""Compressing a data set on a Dask cluster (dask.distributed imported here only).

    from dask.distributed import Client
    import vaecodec.dask
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=4))
    result = vaecodec.dask.compress(["/shared/images/"], "/shared/images.json", client)
    vaecodec.open("/shared/images.json")             # the shards, read as one archive

The files are listed here, in the order ``compress`` stores them, and dealt out in shards
of ``shard_images`` files (by default about two shards per worker, of nearly equal
sizes, at most 65,536 files each); each shard is one task, which reads its files and writes one
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

import contextlib
import dataclasses
import functools
import hashlib
import itertools
import os
import secrets
import shutil
import socket
import time
import warnings
from pathlib import Path

from . import images as image_files
from . import labelling, remote
from .archive import ArchiveWriter
from .errors import (
    EmptySelectionError,
    InputError,
    OutputExistsError,
    QualityWarning,
    SettingsError,
    VaezWarning,
)
from .format import chunked
from .format import manifest as manifest_format
from .fsio import WriteLock, atomic_write_bytes, check_output_file
from .options import EncodeOptions, with_keywords
from .pipeline.guard import QualityReport, judge
from .pipeline.settings import Settings, resolve

SHARD_IMAGES = 16 * chunked.CHUNK_IMAGES  # the most files per shard a run chooses: 65,536
TASKS_PER_WORKER = 2  # shards a run deals to each worker (more: smaller, evener tasks)
STOP_WAIT = 10  # seconds a failed run waits for its running tasks to stop writing


@dataclasses.dataclass(frozen=True)
class DaskResult:
    manifest: Path
    count: int  # images stored
    size: int  # bytes of all shards
    shards: int
    skipped: list[str]
    quality: "QualityReport | None" = None  # the quality guard's, over every shard


@contextlib.contextmanager
def cluster_client(workers: int | None = None, scheduler: str | None = None):
    """A ``dask.distributed.Client`` for ``compress``, closed on leaving the block: of the
    scheduler at the address ``scheduler``, or of a local cluster of ``workers``
    processes (one thread each, with vaecodec preloaded, so that Ctrl-C reaches the
    client only), shut down with it."""
    from dask.distributed import Client, LocalCluster

    if (workers is None) == (scheduler is None):
        raise SettingsError("give workers or a scheduler's address, one of the two")
    if scheduler is not None:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as e:
            raise InputError(f"cannot reach the Dask scheduler at {scheduler} ({e})") from None
        with client:
            yield client
        return
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None, preload=["vaecodec.dask"]) as cluster, \
            Client(cluster) as client:
        yield client


def shards_folder(manifest: Path) -> Path:
    """Where the shards of ``manifest`` go: ``big.json`` -> ``big.shards/`` beside it."""
    return manifest.with_name(manifest.stem + ".shards")


def shard_sizes(files: int, workers: int) -> list[int]:
    """Files per shard for ``files`` files on ``workers`` workers, in whole chunks: about
    TASKS_PER_WORKER shards each (more where a shard would pass SHARD_IMAGES), their
    chunks dealt out evenly, so that no worker is left with a short last shard while
    another still codes a long one (100,000 files on 2 workers: 7, 6, 6 and 6 chunks,
    not 7, 7, 7 and 4)."""
    chunks = max(1, -(-files // chunked.CHUNK_IMAGES))
    tasks = max(max(1, workers) * TASKS_PER_WORKER,
                -(-chunks * chunked.CHUNK_IMAGES // SHARD_IMAGES))
    each, extra = divmod(chunks, min(tasks, chunks))
    return [(each + (k < extra)) * chunked.CHUNK_IMAGES for k in range(min(tasks, chunks))]


def compress(sources, manifest, client, options: EncodeOptions | None = None, *,
             shard_images: int | None = None, force: bool = False, retries: int = 3,
             resize: bool = False, skip_invalid: bool = False, grayscale: bool = False,
             progress=None, labels=None, **keywords) -> DaskResult:
    """Compress image files and folders into shards on the cluster of ``client`` (a
    ``dask.distributed.Client``), tied together by the manifest file ``manifest``.
    ``options``: an ``EncodeOptions`` (or its fields as keywords), as for ``compress``;
    a shard is written whole, so ``embed_model`` is not taken; ``strict`` refuses a
    conversion (colour to grayscale, grayscale widened) as ``compress`` does, and judges
    the whole data set's figures, gathered from the workers, before anything takes its
    place. ``shard_images``: files per shard, a multiple of the chunk size (default:
    ``shard_sizes`` for the files and the cluster's workers).
    ``progress("compressing", done, total)`` as shards finish. Paths are made absolute
    here, and each worker checks that the files it reads are those listed here (size and
    modification time). ``labels``: as ``compress`` takes them ("folders", a CSV or JSON
    file, a dict), given to each file here; every shard stores the same class names."""
    if shard_images is not None and (isinstance(shard_images, bool) or shard_images < 1 or
                                     shard_images % chunked.CHUNK_IMAGES):
        raise SettingsError(f"shard_images must be a positive multiple of "
                            f"{chunked.CHUNK_IMAGES} (whole chunks), not {shard_images}")
    options = with_keywords(options, keywords, "compress")
    if options.embed_model:
        raise SettingsError("a Dask run writes shards and a manifest: it does not take "
                            "embed_model")
    if remote.is_url(manifest):
        raise SettingsError(f"{manifest}: a Dask run writes its manifest and shards on a disk "
                            "the workers share, not to a URL")
    settings = resolve(options, zoo=None)  # the options are checked before any task runs
    exact = settings.max_error is not None and not grayscale
    given = None if labels is None else labelling.load(labels)
    # every path leaves this process absolute: a worker runs in a folder of its own
    manifest = Path(os.path.abspath(manifest))
    check_output_file(manifest, force)
    with WriteLock(manifest).acquire():  # one run writes a data set at a time
        check_output_file(manifest, force)
        return _compress(sources, manifest, client, shard_images, force, retries,
                         (resize, skip_invalid, exact), progress, options, given)


def _compress(sources, manifest: Path, client, shard_images, force, retries, reading,
              progress, options: EncodeOptions, given=None) -> DaskResult:
    from dask.distributed import Event, as_completed, wait

    final = shards_folder(manifest)
    if final.exists() and not force:
        raise OutputExistsError(f"{final} already exists (use --force to overwrite)")
    sources = [os.path.abspath(os.fspath(s)) for s in sources]
    folders: set[str] = set()
    total = image_files.count_files(sources, folders)
    # labels are given to the files here, by name: each task gets its files' own, and
    # every shard the same class names
    assign = None if given is None else labelling.Assigner(given, None, None, folders)
    if shard_images is None:  # (more files than counted, listed meanwhile: more shards)
        sizes = itertools.chain(
            shard_sizes(total, len(client.scheduler_info().get("workers", {}))),
            itertools.repeat(SHARD_IMAGES))
    else:
        sizes = itertools.repeat(shard_images)
    # each file with its size and modification time: a worker checks that it reads the
    # file the client listed, not another one at the same path
    files = ((path, name, _identity(path)) for path, name in image_files.iter_files(sources))
    # the shards go to a new folder, which takes the final name only when all are done:
    # a failed run leaves what was there (an older data set included) as it was
    token = secrets.token_hex(4)
    folder = final.with_name(f".{final.name}.{token}.tmp")
    folder.mkdir(parents=True)
    stop = f"vaecodec-stop-{token}"  # set when the run fails: the tasks stop writing
    futures, count = [], 0
    try:
        for k, size in enumerate(sizes):
            part = list(itertools.islice(files, size))
            if not part:
                break
            target = os.fspath(folder / f"{k:05d}.vaez")
            extras = None
            if assign is not None:
                extras = (assign.classes, *assign([name for _, name, _ in part]))
            futures.append(client.submit(_compress_shard, part, target, options,
                                         reading, stop, extras, key=f"vaecodec-shard-{k}-"
                                         f"{hashlib.sha1(target.encode()).hexdigest()[:8]}",
                                         retries=retries, pure=False))
        unused = [] if assign is None else assign.unused()
        done = 0
        for future in as_completed(futures):
            done += future.result()["files"]
            if progress:
                progress("compressing", done, total)
        results = [f.result() for f in futures]
    except BaseException:
        # a task already running goes on after a cancel: tell every task to stop, wait
        # until none is writing into the folder, and only then remove it
        with contextlib.suppress(Exception):
            Event(stop, client=client).set()
            wait(futures, timeout=STOP_WAIT)
        for future in futures:
            future.cancel()
        _remove_tree(folder)
        raise
    finally:
        with contextlib.suppress(Exception):
            Event(stop, client=client).clear()
    shards = [manifest_format.Shard(f"{final.name}/{Path(r['path']).name}", r["images"],
                                    r["bytes"], r["sha256"]) for r in results if r["images"]]
    skipped = [m for r in results for m in r["skipped"]]
    for r in results:  # a shard whose every file was skipped wrote nothing
        count += r["images"]
    if not shards:
        shutil.rmtree(folder, ignore_errors=True)
        raise EmptySelectionError("no readable image among the selected files")
    quality = QualityReport.combine(
        [QualityReport(**r["quality"]) for r in results if r["quality"]])
    converted = sum(r["converted"] for r in results)
    widened = sum(r.get("widened", 0) for r in results)
    if options.strict:  # refused: nothing takes the data set's place
        try:
            if converted or widened:  # as compress refuses a conversion
                raise image_files.strict_refusal(converted, widened,
                                                 _settings(options).image_shape)
            judge(quality, strict=True, stacklevel=3)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
    for leftover in [*folder.glob(".vaecodec-*.tmp"), *folder.glob(".*.lock")]:
        leftover.unlink(missing_ok=True)  # of tasks whose worker was killed
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
    if unused:
        warnings.warn(f"{len(unused)} of the {len(given.entries or ())} names in "
                      f"{given.source} match no image listed (the first: {unused[0]!r})",
                      VaezWarning, stacklevel=3)
    if converted:
        warnings.warn(image_files.conversion_warning(converted, _settings(options).image_shape),
                      VaezWarning, stacklevel=3)
    if widened:
        warnings.warn(image_files.widening_warning(widened, _settings(options).image_shape),
                      VaezWarning, stacklevel=3)
    judge(quality, strict=False, stacklevel=3)
    return DaskResult(manifest, count, sum(s.bytes for s in shards), len(shards), skipped,
                      quality)


@functools.lru_cache(maxsize=4)
def _settings(options: EncodeOptions) -> Settings:
    """The resolved settings of a worker's tasks, its models loaded once per process
    rather than once per task."""
    return resolve(options)


def _identity(path: str) -> tuple[int, int]:
    """(size, modification time in ns) of the file ``path``, as the client sees it."""
    stat = os.stat(path)
    return stat.st_size, stat.st_mtime_ns


def _check_identity(files) -> list[tuple[str, str]]:
    """The (path, name) pairs of ``files`` (path, name, identity), each file checked to be
    the one the client listed."""
    for path, _, (size, mtime) in files:
        try:
            stat = os.stat(path)
        except OSError as e:
            raise InputError(f"{path}: the Dask worker on {socket.gethostname()} cannot read "
                             f"it ({e.strerror or e}); every worker needs the files at the "
                             "same paths as the client") from None
        if (stat.st_size, stat.st_mtime_ns) != (size, mtime):
            raise InputError(f"{path} is not the same file on the Dask worker on "
                             f"{socket.gethostname()} as on the client ({stat.st_size} "
                             f"bytes, not {size}, or another modification time); every "
                             "worker needs the same files at the same paths")
    return [(path, name) for path, name, _ in files]


STOPPED = {"stopped": True}  # a task's result once its run has failed: nothing written


def _compress_shard(files, target: str, options: EncodeOptions, reading: tuple,
                    stop: str | None = None, extras=None) -> dict:
    """One task: ``files`` (path, name, identity) into the shard ``target`` (written whole
    or not at all); ``reading``: (resize, skip_invalid, exact) for ``iter_images``;
    ``stop``: the name of the run's Dask event that says to give up; ``extras``: (class
    names, labels, metadata) of the files, the last two lists in their order (or None)."""
    resize, skip_invalid, exact = reading
    event = None
    if stop is not None:
        from dask.distributed import Event

        event = Event(stop)
    if event is not None and event.is_set():
        return STOPPED  # a result, not an error: nothing to log or retry
    files = _check_identity(files)
    settings = _settings(options)
    classes, by_name = None, None
    if extras is not None:  # a file skipped as unreadable takes its label with it
        classes, labels, meta = extras
        by_name = {name: k for k, (_, name) in enumerate(files)}
    writer = ArchiveWriter(target, settings, force=True, polarity=options.polarity, named=True,
                           check_names=False,
                           labelled=extras is not None and extras[1] is not None,
                           metadata=extras is not None and extras[2] is not None,
                           classes=classes, source_channels=len(settings.image_shape) == 3)
    skipped: list[str] = []
    converted = widened = 0
    with writer:
        for k, part in enumerate(image_files.iter_images(
                files, settings.image_shape, resize, skip_invalid, workers=1, exact=exact)):
            skipped += part.skipped
            converted += part.converted
            widened += part.widened
            if part.names and by_name is None:
                writer.write(part.pixels, part.names, channels=part.sources)
            elif part.names:
                rows = [by_name[name] for name in part.names]
                writer.write(part.pixels, part.names,
                             None if labels is None else [labels[r] for r in rows],
                             None if meta is None else [meta[r] for r in rows],
                             channels=part.sources)
            if event is not None and k % 16 == 15 and event.is_set():
                writer.abort()  # what was written is removed
                return STOPPED
        if not writer.count:
            writer.abort()
            return {"path": target, "images": 0, "bytes": 0, "sha256": "", "files": len(files),
                    "skipped": skipped, "converted": 0, "quality": None,
                    "model": settings.model.model_id[:4].hex()}
        count = writer.count
        with warnings.catch_warnings():  # the client judges the whole data set's figures
            warnings.simplefilter("ignore", QualityWarning)
            report = writer.close()
    digest = hashlib.sha256()
    with open(target, "rb") as f:
        while block := f.read(1 << 20):
            digest.update(block)
    return {"path": target, "images": count, "bytes": os.path.getsize(target),
            "sha256": digest.hexdigest(), "files": len(files), "skipped": skipped,
            "converted": converted, "widened": widened,
            "model": settings.model.model_id[:4].hex(),
            "quality": None if report is None else dataclasses.asdict(report)}


def _remove_tree(folder: Path) -> None:
    """Remove ``folder``; a file that appears meanwhile (a task that had not yet seen the
    stop) is removed at the next try."""
    for _ in range(20):
        shutil.rmtree(folder, ignore_errors=True)
        if not os.path.lexists(folder):
            return
        time.sleep(0.1)


def dask_setup(worker) -> None:
    """Run in each worker process of a local cluster (``preload=["vaecodec.dask"]``):
    Ctrl-C, which the terminal sends to the whole process group, is left to the client,
    which stops the run and closes the cluster, instead of each worker printing a
    KeyboardInterrupt traceback."""
    import signal
    import threading

    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)
