"""The commands that code: ``compress`` (into a file, standard output or, on Dask, a
manifest of shards) and ``decompress``."""

from __future__ import annotations

import dataclasses
import json
import sys

import click

from ..format.constants import MAX_RESIDUAL_ERROR
from ..zoo.defaults import DEFAULT_LEVEL, DEFAULT_MODEL
from ._base import (
    CODER_NAMES,
    _archive_arg,
    _library_warnings,
    _lost_images,
    _max_images_option,
    _plural,
    _progress,
    _quality_json,
    _refuse_dash_folder,
    _report_errors,
    _thread_limit,
    _threads_option,
    main,
)


@main.command()
@click.argument("sources", nargs=-1, type=click.Path())
@click.argument("output", type=click.Path())
@click.option("-q", "--quality", type=int, default=None, metavar="LEVEL",
              help="Quality level: a number from `vaecodec levels`, which lists each "
                   f"level's measured size and quality (default {DEFAULT_LEVEL}).")
@click.option("--step", "quant_step", type=float, default=None, metavar="FLOAT",
              help="Instead of a level: the latent's quantization step (smaller: bigger "
                   "file, better quality); coded with zstd.")
@click.option("--model", default=None,
              help="Model family whose levels (and pixel model) to use: mnist (the "
                   "default) or one trained or imported (`vaecodec models`); with --step, "
                   f"also a single model's name (default: {DEFAULT_MODEL}).")
@click.option("--coder", type=click.Choice(CODER_NAMES), default=None,
              help="Entropy coder for a quality level: range (learned prior, default) "
                   "or zstd.")
@click.option("--lossless", is_flag=True,
              help="Add a residual layer so that decompress restores every pixel exactly.")
@click.option("--max-error", type=click.IntRange(0, MAX_RESIDUAL_ERROR), default=None,
              metavar="K",
              help="Add a residual layer that keeps every pixel within +-K "
                   f"(0..{MAX_RESIDUAL_ERROR}, "
                   "on the 0..255 scale) of the original; 0 is --lossless.")
@click.option("--search", is_flag=True,
              help="Choose each image's latent symbols by a rate-distortion search instead "
                   "of rounding (lossy levels): better images for about the same bytes, "
                   "decoded as ever, but encoding takes 20 to 75 times as long.")
@click.option("--embed-model", is_flag=True,
              help="Carry the model family (--model, one of your own) in the archive, so "
                   "that it decompresses where that family is not installed (adds the "
                   "model's size once).")
@click.option("--polarity", type=click.Choice(["auto", "as-is"]), default="auto",
              show_default=True,
              help="auto: images drawn in the other polarity than the model's (dark on "
                   "light for the digit models) are coded inverted and restored; as-is: "
                   "every image as it is.")
@click.option("--strict", is_flag=True,
              help="Refuse (write nothing) when the images reconstruct far worse than the "
                   "model does on its own data, or when images must change channels "
                   "(colour to a grayscale model, grayscale to a colour one), instead of "
                   "warning.")
@click.option("--resize", is_flag=True,
              help="Scale images that are not the model's size to it (Lanczos).")
@click.option("--grayscale", is_flag=True,
              help="Accept storing colour, transparent or 16-bit images as 8-bit grayscale "
                   "in --lossless and --max-error files of a grayscale model (which refuse "
                   "them otherwise; a lossy file converts them with a warning).")
@click.option("--skip-invalid", is_flag=True,
              help="Skip files that cannot be decoded (with a warning) instead of failing.")
@click.option("--labels", "labels_file", type=click.Path(), default=None, metavar="FILE",
              help="Store a label and metadata per image from FILE: CSV (columns name, "
                   "label, any others as metadata), JSON (name -> label or object), or for "
                   "arrays an array of labels (.npy, IDX). Every image needs one.")
@click.option("--labels-from-folders", is_flag=True,
              help="Store each image's first folder as its label (classes sorted by name, "
                   "as torchvision's ImageFolder).")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("-a", "--append", is_flag=True,
              help="Add the images to the archive OUTPUT (format version 5 or 6), with its own "
                   "model and level; their names must be new to it. On any error, or if "
                   "interrupted, the archive stays as it was.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Compress on a local Dask cluster of N worker processes: OUTPUT is then "
                   "a manifest (JSON) tying together shards written into OUTPUT's name "
                   "without its extension + .shards/ (the dask extra).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="As --workers, on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786); its workers need the files at the same paths.")
@click.option("--shard-images", type=click.IntRange(min=1), default=None, metavar="N",
              help="With --workers or --scheduler: N images per shard, one task each (a "
                   "multiple of 4096; default: about two shards per worker, at most 65536 "
                   "images each).")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and warnings.")
@_threads_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a summary as JSON (output, images, bytes, skipped files).")
@_report_errors
def compress(sources, output, quality, quant_step, model, coder, lossless, max_error,
             search, embed_model, polarity, strict, resize, grayscale, skip_invalid,
             labels_file, labels_from_folders, force, append, workers, scheduler,
             shard_images, quiet, threads, as_json):
    """Compress image files and folders (recursively) into OUTPUT (.vaez; - for standard
    output).

    Images are selected by extension (png, jpg/jpeg, bmp, gif, tif/tiff, webp, pgm/pnm);
    hidden files and other extensions in folders are ignored. Names are stored relative
    to each folder given.
    """
    from .. import files
    from ..options import EncodeOptions

    if not sources:  # click took the only path given for OUTPUT
        raise click.UsageError(f"Missing argument 'OUTPUT': give the images to compress, then "
                               f"the .vaez file to write (vaecodec compress {output} OUT.vaez)")
    if labels_file is not None and labels_from_folders:
        raise click.UsageError("give --labels FILE or --labels-from-folders, not both")
    labels = "folders" if labels_from_folders else labels_file
    if workers is not None or scheduler is not None:
        if workers is not None and scheduler is not None:
            raise click.UsageError("give --workers or --scheduler, not both")
        if output == "-" or append or embed_model:
            raise click.UsageError("--workers and --scheduler write a manifest file; they "
                                   "take neither -, --append nor --embed-model")
    elif shard_images is not None:
        raise click.UsageError("--shard-images goes with --workers or --scheduler")
    options = EncodeOptions(quality=quality, quant_step=quant_step, model=model, coder=coder,
                            lossless=lossless, max_error=max_error, search=search,
                            embed_model=embed_model, strict=strict, polarity=polarity)
    reading = dict(resize=resize, skip_invalid=skip_invalid, grayscale=grayscale)
    if workers is not None or scheduler is not None:
        _compress_on_dask(sources, output, workers, scheduler, force, quiet, as_json,
                          options, dict(reading, labels=labels), shard_images)
        return
    to_stdout = output == "-"
    if to_stdout:
        stdout = sys.stdout.buffer
        if stdout.isatty():
            raise click.ClickException("refusing to write compressed data to a terminal "
                                       "(redirect it, or give a file name)")
        output = stdout
    with (_progress(quiet or as_json) as progress, _thread_limit(threads),
          _library_warnings()):
        result = files.compress(sources, output, options, force=force, progress=progress,
                                append=append, labels=labels, **reading)
    shown = "standard output" if to_stdout else result.output
    if result.skipped:
        click.echo(f"Warning: skipped {_plural(len(result.skipped), 'unreadable file')}:",
                   err=True)
        for message in result.skipped:
            click.echo(f"  {message}", err=True)
    if as_json:  # on stderr when stdout holds the archive
        report = result.quality
        click.echo(json.dumps({"output": "-" if to_stdout else str(result.output),
                               "images": result.count, "bytes": result.size,
                               "skipped": result.skipped,
                               "quality": _quality_json(report)},
                              indent=2), err=to_stdout)
    elif not quiet and append:
        click.echo(f"appended {_plural(result.count, 'image')} to {shown} (now "
                   f"{result.size} bytes)")
    elif not quiet:
        click.echo(f"compressed {_plural(result.count, 'image')} into {shown} "
                   f"({result.size} bytes, {result.size / result.count:.1f} bytes/image)",
                   err=to_stdout)


def _compress_on_dask(sources, output, workers, scheduler, force, quiet, as_json, options,
                      reading, shard_images):
    import importlib.util
    import warnings

    if importlib.util.find_spec("distributed") is None:
        raise click.ClickException("--workers and --scheduler need Dask: pip install "
                                   "'vaecodec[dask]'")
    from .. import dask as vaecodec_dask

    # distributed's note that its HTTP port is taken (another cluster runs): not ours to
    # print, and --quiet means quiet
    warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
    with _progress(quiet or as_json) as progress, \
            vaecodec_dask.cluster_client(workers=workers, scheduler=scheduler) as client, \
            _library_warnings():
        result = vaecodec_dask.compress(sources, output, client, options, force=force,
                                        progress=progress, shard_images=shard_images,
                                        **reading)
    if result.skipped:
        click.echo(f"Warning: skipped {_plural(len(result.skipped), 'unreadable file')}:",
                   err=True)
        for message in result.skipped:
            click.echo(f"  {message}", err=True)
    if as_json:
        click.echo(json.dumps({"output": str(result.manifest), "images": result.count,
                               "bytes": result.size, "shards": result.shards,
                               "skipped": result.skipped,
                               "quality": _quality_json(result.quality)}, indent=2))
    elif not quiet:
        click.echo(f"compressed {_plural(result.count, 'image')} into "
                   f"{_plural(result.shards, 'shard')} ({result.size} bytes, "
                   f"{result.size / result.count:.1f} bytes/image), manifest {result.manifest}")


@main.command()
@click.argument("archive", type=click.Path())
@click.argument("members", nargs=-1, metavar="[NAME]...")
@click.option("-o", "--output", "output_dir", type=click.Path(), default=None,
              help="Folder to write the PNGs into (default: the archive's name without "
                   ".vaez, beside it).")
@click.option("--salvage", is_flag=True,
              help="Restore every image of the chunks that are intact, and say which images "
                   "are lost, instead of failing on a damaged archive.")
@click.option("--labels-out", type=click.Path(), default=None, metavar="FILE",
              help="Write the images' labels and metadata to FILE (.csv or .json), by the "
                   "paths written, as compress --labels reads them.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing files.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@_threads_option
@_max_images_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a summary as JSON (output folder, images, files written).")
@_report_errors
def decompress(archive, members, output_dir, salvage, labels_out, force, quiet, threads,
               max_images, as_json):
    """Decode ARCHIVE (.vaez: a path, a URL, - for standard input with -o) into PNG files,
    restoring their relative names; only the images NAME... when given (as `vaecodec ls`
    lists them)."""
    from .. import files

    _refuse_dash_folder(output_dir)
    archive = _archive_arg(archive)
    with _progress(quiet or as_json) as progress, _thread_limit(threads):
        result = files.decompress(archive, output_dir, force=force, progress=progress,
                                  max_images=max_images, members=members or None,
                                  salvage=salvage, labels_out=labels_out)
    for damage in result.lost:
        click.echo(f"Warning: lost {_lost_images(damage)}: {damage.message}", err=True)
    if result.annotated and result.labels_file is None and not quiet:
        click.echo("Note: the archive stores labels or metadata, which PNG files do not "
                   "hold; --labels-out FILE writes them", err=True)
    if result.trailing:
        click.echo(f"Warning: {result.trailing} bytes after the archive's end were ignored "
                   "(an append that did not finish; the next append removes them)", err=True)
    if as_json:
        click.echo(json.dumps({"output_dir": str(result.output_dir), "images": len(result.paths),
                               "files": [str(p) for p in result.paths],
                               "labels_file": (None if result.labels_file is None
                                               else str(result.labels_file)),
                               "lost": [dataclasses.asdict(d) for d in result.lost]},
                              indent=2))
    elif not quiet:
        lost = sum(d.count or 0 for d in result.lost)
        unknown = any(d.count is None for d in result.lost)
        what = (f"{lost} or more lost" if unknown and lost else "more may be lost" if unknown
                else f"{lost} lost")
        click.echo(f"decompressed {_plural(len(result.paths), 'image')} into "
                   f"{result.output_dir}" + (f" ({what})" if result.lost else ""))
    if result.lost:
        sys.exit(1)
