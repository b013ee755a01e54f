"""The `vaecodec` command: parse options, call the library, print, map errors.

Library errors (``VaezError``) and OS errors become one line ``Error: ...`` on stderr and
exit status 1; click's own usage errors exit with 2; anything else is a bug and shows its
traceback. Defaults shown in the help come from the library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import sys

import click

from . import __version__
from .errors import VaezError
from .format.constants import CODERS, DEFAULT_MAX_IMAGES, MAX_RESIDUAL_ERROR
from .train.recipes import TRAIN_RECIPES
from .zoo.defaults import DEFAULT_FAMILY, DEFAULT_LEVEL, DEFAULT_MODEL

CODER_NAMES = list(dict.fromkeys(name for name, _ in CODERS.values()))  # in wire-id order


class _Terminated(BaseException):
    """SIGTERM arrived: unwind as an interrupt does (temporary files removed, an append
    cut back), then exit 143."""


def _terminate(signum, frame):
    raise _Terminated


def _report_errors(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        import signal

        try:
            previous = signal.signal(signal.SIGTERM, _terminate)
        except ValueError:  # not the main thread: leave SIGTERM as it is
            previous = None
        try:
            return func(*args, **kwargs)
        except KeyboardInterrupt:  # Ctrl-C: what was being written is gone; as gzip, 130
            sys.exit(130)
        except _Terminated:
            sys.exit(128 + signal.SIGTERM)
        except BrokenPipeError:  # `vaecodec ls ... | head`: the reader has gone; so do we
            import os

            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except VaezError as e:
            raise click.ClickException(str(e)) from None
        except MemoryError:
            raise click.ClickException("out of memory: this input needs more memory than "
                                       "there is") from None
        except OSError as e:
            where = f": {e.filename}" if e.filename else ""
            raise click.ClickException(f"{e.strerror or e}{where}") from None
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)

    return wrapper


@contextlib.contextmanager
def _progress(quiet: bool = False):
    """Yields a ``progress(stage, done, total)`` callback drawing one bar per stage on
    stderr (with its rate and time left), only when stderr is a terminal (and not
    ``quiet``)."""
    state: dict = {}

    def close() -> None:
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    def update(stage: str, done: int, total: int, note: str | None = None) -> None:
        """``note``: shown after the bar (the training loss)."""
        if quiet or not sys.stderr.isatty():
            return
        state["note"] = note
        if state.get("stage") != stage or state["bar"].length != total:
            close()
            state["stage"] = stage
            state["bar"] = click.progressbar(length=total, label=f"{stage:15s}",
                                             file=sys.stderr, show_pos=True,
                                             item_show_func=lambda _: state.get("note"))
            state["bar"].__enter__()
        state["bar"].update(done - state["bar"].pos, current_item=note)

    try:
        yield update
    finally:
        close()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="vaecodec")
def main() -> None:
    """vaecodec: compress small grayscale images (digits) with a trained VAE.

    \b
      vaecodec compress digits/ out.vaez
      vaecodec decompress out.vaez
      vaecodec info out.vaez
      vaecodec levels
    """


_threads_option = click.option(
    "--threads", type=click.IntRange(min=1), default=None, metavar="N",
    help="Threads for the networks' matrix products (default: one per core). On a busy "
         "machine 1 is often faster, for --lossless and --max-error above all.")


def _thread_limit(threads: int | None):
    """The BLAS and OpenMP pools limited to ``threads`` for the duration (None: as they
    are)."""
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(threads)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


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
                   "model does on its own data, instead of warning.")
@click.option("--resize", is_flag=True,
              help="Scale images that are not the model's size to it (Lanczos).")
@click.option("--grayscale", is_flag=True,
              help="Accept storing colour, transparent or 16-bit images as 8-bit grayscale "
                   "in --lossless and --max-error files (which refuse them otherwise; a "
                   "lossy file converts them with a warning).")
@click.option("--skip-invalid", is_flag=True,
              help="Skip files that cannot be decoded (with a warning) instead of failing.")
@click.option("-f", "--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
@click.option("-a", "--append", is_flag=True,
              help="Add the images to the archive OUTPUT (format version 5), with its own "
                   "model and level; their names must be new to it. On any error, or if "
                   "interrupted, the archive stays as it was.")
@click.option("--workers", type=click.IntRange(min=1), default=None, metavar="N",
              help="Compress on a local Dask cluster of N worker processes: OUTPUT is then "
                   "a manifest (JSON) tying together shards written into OUTPUT's name "
                   "without its extension + .shards/ (the dask extra).")
@click.option("--scheduler", default=None, metavar="ADDRESS",
              help="As --workers, on the Dask cluster whose scheduler is at ADDRESS "
                   "(tcp://host:8786); its workers need the files at the same paths.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and warnings.")
@_threads_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a summary as JSON (output, images, bytes, skipped files).")
@_report_errors
def compress(sources, output, quality, quant_step, model, coder, lossless, max_error,
             search, embed_model, polarity, strict, resize, grayscale, skip_invalid, force,
             append, workers, scheduler, quiet, threads, as_json):
    """Compress image files and folders (recursively) into OUTPUT (.vaez; - for standard
    output).

    Images are selected by extension (png, jpg/jpeg, bmp, gif, tif/tiff, webp, pgm/pnm);
    hidden files and other extensions in folders are ignored. Names are stored relative
    to each folder given.
    """
    from . import files
    from .options import EncodeOptions

    if not sources:  # click took the only path given for OUTPUT
        raise click.UsageError(f"Missing argument 'OUTPUT': give the images to compress, then "
                               f"the .vaez file to write (vaecodec compress {output} OUT.vaez)")
    if workers is not None or scheduler is not None:
        if workers is not None and scheduler is not None:
            raise click.UsageError("give --workers or --scheduler, not both")
        if output == "-" or append or embed_model or strict:
            raise click.UsageError("--workers and --scheduler write a manifest file; they "
                                   "take neither -, --append, --embed-model nor --strict")
    options = EncodeOptions(quality=quality, quant_step=quant_step, model=model, coder=coder,
                            lossless=lossless, max_error=max_error, search=search,
                            embed_model=embed_model, strict=strict, polarity=polarity)
    reading = dict(resize=resize, skip_invalid=skip_invalid, grayscale=grayscale)
    if workers is not None or scheduler is not None:
        _compress_on_dask(sources, output, workers, scheduler, force, quiet, as_json,
                          options, reading)
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
                                append=append, **reading)
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


def _quality_json(report) -> dict | None:
    return None if report is None else {**dataclasses.asdict(report), "poor": report.poor}


@contextlib.contextmanager
def _library_warnings():
    """The library's warnings (``VaezWarning``) raised inside, printed as ``Warning: ...``
    lines on stderr when the block ends (others as Python shows them)."""
    import warnings

    from .errors import VaezWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", VaezWarning)
        try:
            yield
        finally:
            for warning in caught:
                if issubclass(warning.category, VaezWarning):
                    click.echo(f"Warning: {warning.message}", err=True)
                else:  # not ours: as Python would have shown it
                    warnings.showwarning(warning.message, warning.category,
                                         warning.filename, warning.lineno)


def _compress_on_dask(sources, output, workers, scheduler, force, quiet, as_json, options,
                      reading):
    import importlib.util
    import warnings

    if importlib.util.find_spec("distributed") is None:
        raise click.ClickException("--workers and --scheduler need Dask: pip install "
                                   "'vaecodec[dask]'")
    from . import dask as vaecodec_dask

    # distributed's note that its HTTP port is taken (another cluster runs): not ours to
    # print, and --quiet means quiet
    warnings.filterwarnings("ignore", message=r"Port \d+ is already in use")
    with _progress(quiet or as_json) as progress, \
            vaecodec_dask.cluster_client(workers=workers, scheduler=scheduler) as client, \
            _library_warnings():
        result = vaecodec_dask.compress(sources, output, client, options, force=force,
                                        progress=progress, **reading)
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


_max_images_option = click.option(
    "--max-images", type=click.IntRange(min=1), default=DEFAULT_MAX_IMAGES, show_default=True,
    metavar="N", help="Refuse an archive of more than N images before decoding or listing "
                      "them (a few bytes can declare millions).")


@main.command()
@click.argument("archive", type=click.Path())
@click.argument("members", nargs=-1, metavar="[NAME]...")
@click.option("-o", "--output", "output_dir", type=click.Path(), default=None,
              help="Folder to write the PNGs into (default: the archive's name without "
                   ".vaez, beside it).")
@click.option("--salvage", is_flag=True,
              help="Restore every image of the chunks that are intact, and say which images "
                   "are lost, instead of failing on a damaged archive.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing files.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@_threads_option
@_max_images_option
@click.option("--json", "as_json", is_flag=True,
              help="Print a summary as JSON (output folder, images, files written).")
@_report_errors
def decompress(archive, members, output_dir, salvage, force, quiet, threads, max_images,
               as_json):
    """Decode ARCHIVE (.vaez; - for standard input, with -o) into PNG files, restoring their
    relative names; only the images NAME... when given (as `vaecodec ls` lists them)."""
    from . import files

    _refuse_dash_folder(output_dir)
    archive = _archive_arg(archive)
    with _progress(quiet or as_json) as progress, _thread_limit(threads):
        result = files.decompress(archive, output_dir, force=force, progress=progress,
                                  max_images=max_images, members=members or None,
                                  salvage=salvage)
    for damage in result.lost:
        click.echo(f"Warning: lost {_lost_images(damage)}: {damage.message}", err=True)
    if result.trailing:
        click.echo(f"Warning: {result.trailing} bytes after the archive's end were ignored "
                   "(an append that did not finish; the next append removes them)", err=True)
    if as_json:
        click.echo(json.dumps({"output_dir": str(result.output_dir), "images": len(result.paths),
                               "files": [str(p) for p in result.paths],
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


def _refuse_dash_folder(output) -> None:
    """``-o -``: standard output, which cannot hold a folder of PNG files (it used to make
    a folder named "-")."""
    if output == "-":
        raise click.UsageError("-o - would be standard output, but the images are written "
                               "as files into a folder: give a folder name (./- for a "
                               "folder named '-')")


def _archive_arg(archive: str):
    """An ARCHIVE argument: ``-`` reads the archive from standard input."""
    return sys.stdin.buffer.read() if archive == "-" else archive


def _lost_images(damage) -> str:
    """Which images a damage (``archive.Damage``) loses, in words."""
    if damage.first is not None and damage.count:
        return f"images {damage.first}..{damage.first + damage.count - 1}"
    if damage.first is not None and damage.count is None:
        return f"any images from {damage.first} on"
    return "unknown images"


@main.command(name="ls")
@click.argument("archive", type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help="Print the archive's count and names as JSON.")
@_max_images_option
@_report_errors
def list_names(archive, as_json, max_images):
    """List the images of ARCHIVE (- for standard input) by name, in order (numbered
    00000.png, ... when it stores no names, as decompress writes them)."""
    from . import archive as archive_io
    from .pipeline.settings import check_count

    with archive_io.open(_archive_arg(archive), max_images=max_images) as reader:
        check_count(reader.info, max_images, "list them")
        names = reader.names
        count = len(reader)
        if as_json:
            click.echo(json.dumps({"archive": str(archive), "images": count,
                                   "names": None if names is None else list(names)}, indent=2))
            return
        if names is None:
            width = max(5, len(str(count - 1)))
            for i in range(count):
                click.echo(f"{i:0{width}d}.png")
        else:
            for name in names:
                click.echo(name)


@main.command(name="test")
@click.argument("archives", nargs=-1, required=True, type=click.Path())
@click.option("--quiet", is_flag=True, help="Print nothing but problems.")
@_threads_option
@_max_images_option
@_report_errors
def test_archives(archives, quiet, threads, max_images):
    """Check that every chunk of each ARCHIVE (- for standard input) decodes, writing
    nothing. Exit status 0 when all are intact, 1 when any is damaged (each damaged chunk
    is named)."""
    from . import archive as archive_io
    from .errors import FormatError, ImageLimitError
    from .pipeline.settings import check_count

    damaged = False
    with _progress(quiet) as progress, _thread_limit(threads):
        for path in archives:
            try:
                source = _archive_arg(path)
                reader = archive_io.open_reader(source, salvage=True, max_images=max_images)
            except FormatError as e:
                click.echo(f"Error: {e}", err=True)
                damaged = True
                continue
            try:
                check_count(reader.info, max_images, "test it")
            except ImageLimitError as e:
                reader.close()
                click.echo(f"Error: {path}: {e}", err=True)
                damaged = True
                continue
            with reader:
                report = reader.verify(lambda done, total: progress("testing", done, total))
            if reader.index_error:
                click.echo(f"{path}: damaged index ({reader.index_error}); chunks found by "
                           "scanning", err=True)
            for d in report.damaged:
                click.echo(f"{path}: damaged: {_lost_images(d)}: {d.message}", err=True)
            if report.trailing:
                click.echo(f"Warning: {path}: {report.trailing} bytes after the archive's end "
                           "(an append that did not finish; the next append removes them)",
                           err=True)
            if report.ok and not reader.index_error:
                if not quiet:
                    click.echo(f"{path}: OK ({_plural(report.images, 'image')} in "
                               f"{_plural(report.chunks, 'chunk')})")
            else:
                damaged = True
    if damaged:
        sys.exit(1)


@main.command()
@click.argument("archive", type=click.Path())
@click.option("--json", "as_json", is_flag=True, help="Print the header as JSON.")
@_max_images_option
@_report_errors
def info(archive, as_json, max_images):
    """Show what a .vaez file holds (reads only its headers; - for standard input). The
    names of an archive of more than --max-images images are counted, not listed."""
    import os

    from . import archive as archive_io
    from . import files
    from .errors import UnknownModelError
    from .zoo import Zoo

    zoo = Zoo.installed()
    shards = None
    if archive == "-":
        data = sys.stdin.buffer.read()
        header, size = files.read_info(data, zoo=zoo, max_images=max_images), len(data)
    else:
        header = files.read_info(archive, zoo=zoo, max_images=max_images)
        size = os.path.getsize(archive)
        if archive_io.is_manifest(archive):  # the data set's size: its shards' and its own
            with archive_io.ManifestReader(archive, zoo=zoo) as reader:
                shards = reader.manifest.shards
                named = reader.named
            size += sum(shard.bytes for shard in shards)
    try:
        model_name = zoo.find(header.model_id).name
    except UnknownModelError:
        model_name = None
    if as_json:
        click.echo(json.dumps({**header.to_dict(), "file_size": size, "model_name": model_name},
                              indent=2))
        return
    if shards is not None:
        names = f"stored in {_plural(len(shards), 'shard')}" if named else "none stored"
    elif header.names is not None:
        names = f"{len(header.names)} stored ({header.names_stored_size} bytes)"
    elif header.names_stored_size:
        names = (f"stored ({header.names_stored_size} bytes; not listed: more than "
                 f"{max_images:,} images, --max-images)")
    else:
        names = "none stored"
    if header.level is not None:
        quant = f"quality level {header.level}"
        with contextlib.suppress(VaezError):
            family = zoo.family_of(zoo.find(header.model_id).model_id)
            level = zoo.level(header.level, None if family is None else family.name)
            quant += f" (step {level.quant_step:g})"
    else:
        quant = f"step {header.quant_step:g}"
    coder = ("range coder, learned prior" if header.coder == "range"
             else f"zstd, {header.symbol_dtype} symbols")
    shape = ("size unknown" if header.image_shape is None
             else f"{header.image_shape[1]}x{header.image_shape[0]}")
    rows = [
        ("format version", str(header.version)),
        ("images", f"{header.count} ({shape})"),
        ("model", f"{model_name or 'unknown to this vaecodec'} ({header.model_id.hex()})"),
        ("latent size", str(header.latent_size)),
        ("quantization", quant),
        ("payload", (f"{header.payload_size} bytes" if shards is None
                     else f"in {_plural(len(shards), 'shard')}") + f" ({coder})"),
        ("residual", _residual_row(header.residual, zoo)),
        ("names", names),
        ("embedded model", f"{header.embedded_model_size} bytes"
         if header.embedded_model_size else "none"),
        ("file size", f"{size} bytes ({size / header.count:.2f} bytes/image)"),
    ]
    click.echo(f"{archive}:")
    for key, value in rows:
        click.echo(f"  {key + ':':16}{value}")


def _residual_row(layer, zoo) -> str:
    if layer is None:
        return "none (lossy)"
    from .errors import UnknownModelError
    from .zoo import PIXEL_MODEL

    try:
        name = zoo.find(layer.model_id, PIXEL_MODEL).name
    except UnknownModelError:
        name = "unknown to this vaecodec"
    bound = "lossless" if layer.max_error == 0 else f"max error {layer.max_error}"
    return (f"{bound}, {layer.size} bytes in {len(layer.chunk_sizes)} chunk(s), pixel model "
            f"{name} ({layer.model_id.hex()}), layout {layer.layout}")


@main.command(name="levels")
@click.option("--json", "as_json", is_flag=True, help="Print the levels as JSON.")
@_report_errors
def list_levels(as_json):
    """List the quality levels with their size and quality on the MNIST test split."""
    from .zoo import Zoo

    rows = Zoo.installed().levels()
    if as_json:
        click.echo(json.dumps([{"level": lv.level, "model": lv.model,
                                "quant_step": lv.quant_step, **lv.measured} for lv in rows],
                              indent=2))
        return
    width = max([len("model")] + [len(lv.model) for lv in rows])
    click.echo(f"level  {'model':{width}s}   step  bytes/image  PSNR (dB)   SSIM  "
               "(MNIST test split)")
    for lv in rows:
        m = lv.measured
        default = "  (default)" if lv.level == DEFAULT_LEVEL else ""
        click.echo(f"{lv.level:5d}  {lv.model:{width}s}  {lv.quant_step:5g}  "
                   f"{m.get('bytes_per_image', 0):11.2f}  {m.get('psnr_db', 0):9.2f}  "
                   f"{m.get('ssim', 0):5.3f}{default}")



@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--name", required=True,
              help="The model family's name (letters, digits, '.', '_', '-'), used as "
                   "--model NAME.")
@click.option("--recipe", type=click.Choice(TRAIN_RECIPES), default="default",
              show_default=True, help="Training recipe (docs/training.md).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Epochs of VAE training (default: the recipe's).")
@click.option("--time-budget", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Train the VAE for as many epochs as fit in SECONDS (measured on the "
                   "first); levels and the pixel model take a little longer.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the split and the training: the same data, seed and thread "
                   "count give the same model.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu",
              show_default=True, help="Where torch trains the VAE.")
@click.option("--skip-invalid", is_flag=True,
              help="Skip image files that cannot be decoded instead of failing.")
@click.option("-f", "--force", is_flag=True, help="Replace a model of the same name.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors.")
@_report_errors
def train(sources, name, recipe, epochs, time_budget, seed, device, skip_invalid, force,
          quiet):
    """Train a model family on your images: image files and folders, MNIST-style IDX
    files or .npy arrays (N, height, width), all of one size, grayscale. 10% are held out
    to measure it. The family (VAE, quality levels, pixel model) goes into the model store
    (`vaecodec models`); compress with --model NAME."""
    from . import files
    from .data.sources import load_images
    from .zoo import manage

    _check_family_name(name)
    manage.check_new_family(name, force)  # before any training
    from .train import import_torch

    try:
        import_torch()  # before reading any data
    except ModuleNotFoundError as e:
        raise click.ClickException(str(e)) from None
    from .train.family import train_family

    with _progress(quiet) as progress:
        images, described = load_images(sources, skip_invalid,
                                        files.stage_progress(progress, "reading images"))
        trained = train_family(images, name, recipe=recipe, epochs=epochs,
                               time_budget=time_budget, seed=seed, device=device,
                               data=described, log=lambda line: None, progress=progress)
    target = manage.install_trained(name, trained.data, force=force)
    if quiet:
        return
    meta = trained.family.metadata
    click.echo(f"trained {name} on {meta['data']['train_images']} images in "
               f"{meta['train_seconds']['total']:.0f} s; wrote {target}")
    _print_family_levels(trained.levels, trained.family.default_level,
                         f"validation, {meta['data']['validation_images']} images")
    click.echo(f"lossless: {meta['validation']['lossless_bits_per_pixel']:.3f} bits/pixel")


def _check_family_name(name: str) -> None:
    """A bad --name is a usage error (exit status 2), as click reports its own."""
    from .errors import SettingsError
    from .zoo import manage

    try:
        manage.check_family_name(name)
    except SettingsError as e:
        raise click.BadParameter(str(e), param_hint="'--name'") from None


def _map(value) -> dict:
    """A metadata entry as a map (a hostile file may hold anything there)."""
    return value if isinstance(value, dict) else {}


def _print_family_levels(levels, default_level, where) -> None:
    click.echo(f"level   step  bytes/image  PSNR (dB)  ({where})")
    for lv in levels:
        m = lv.measured
        default = "  (default)" if lv.level == default_level else ""
        click.echo(f"{lv.level:5d}  {lv.quant_step:5g}  {m.get('bytes_per_image', 0):11.2f}  "
                   f"{m.get('psnr_db', 0):9.2f}{default}")


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the families as JSON.")
@click.pass_context
@_report_errors
def models(ctx, as_json):
    """List the model families: the shipped mnist and those in the model store (the
    folder $VAECODEC_MODELS, else the platform's user data folder)."""
    if ctx.invoked_subcommand is not None:
        return
    from .zoo import Zoo
    from .zoo.families import store_dir

    zoo = Zoo.installed()
    rows = [_family_row(zoo, name) for name in [DEFAULT_FAMILY] + [f.name for f in zoo.families()]]
    if as_json:
        click.echo(json.dumps({"store": str(store_dir()), "families": rows}, indent=2))
        return
    click.echo(f"model store: {store_dir()}")
    width = max(len(r["name"]) for r in rows)
    click.echo(f"{'name':{width}s}  {'id':16s}  size   levels  default  lossless bits/pixel")
    for r in rows:
        size = f"{r['image_shape'][1]}x{r['image_shape'][0]}"
        bpp = r["lossless_bits_per_pixel"]
        bpp = "-" if bpp is None else f"{bpp:.3f}"
        click.echo(f"{r['name']:{width}s}  {r['id'][:16]:16s}  {size:5s}  {r['levels']:6d}  "
                   f"{r['default_level']:7d}  {bpp}")


def _family_row(zoo, name: str) -> dict:
    if name == DEFAULT_FAMILY:
        vae, levels, default, validation, path = zoo.find(), zoo.levels(), DEFAULT_LEVEL, {}, None
    else:
        family = zoo.family(name)
        vae, levels, default = zoo.find(family.vae), zoo.levels(name), family.default_level
        validation, path = _map(family.metadata.get("validation")), family.path
    bpp = validation.get("lossless_bits_per_pixel")
    return {"name": name, "id": vae.model_id.hex(), "image_shape": list(vae.image_shape),
            "levels": len(levels), "default_level": default,
            "lossless_bits_per_pixel": bpp if isinstance(bpp, (int, float)) else None,
            "file": None if path is None else str(path)}


@models.command(name="show")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print the family as JSON.")
@_report_errors
def models_show(name, as_json):
    """Show a model family: its levels with their measured size and quality, its pixel
    model, what it was trained on, and how."""
    from .zoo import Zoo

    zoo = Zoo.installed()
    row = _family_row(zoo, name)
    family = None if name == DEFAULT_FAMILY else zoo.family(name)
    levels = zoo.levels(None if family is None else name)
    if as_json:
        click.echo(json.dumps({**row, "metadata": {} if family is None else family.metadata,
                               "levels": [{"level": lv.level, "quant_step": lv.quant_step,
                                           **lv.measured} for lv in levels]}, indent=2))
        return
    size = f"{row['image_shape'][1]}x{row['image_shape'][0]}"
    click.echo(f"{name}: {size} images, model id {row['id']}")
    if row["file"]:
        click.echo(f"file: {row['file']}")
    where = "MNIST test split" if family is None else "validation split"
    _print_family_levels(levels, row["default_level"], where)
    if family is not None:
        meta = family.metadata
        data, recipe = _map(meta.get("data")), _map(meta.get("recipe"))
        click.echo(f"lossless: {row['lossless_bits_per_pixel']} bits/pixel ({where})")
        click.echo(f"trained on {data.get('train_images')} images (sha256 "
                   f"{str(data.get('pixels_sha256'))[:16]}...), recipe {recipe.get('name')}, "
                   f"{recipe.get('epochs')} epochs, "
                   f"{_map(meta.get('train_seconds')).get('total')} s")


@models.command(name="export")
@click.argument("name")
@click.argument("file", type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Overwrite FILE if it exists.")
@_report_errors
def models_export(name, file, force):
    """Write model family NAME to FILE (.vaem): everything needed to decode its files
    elsewhere (`vaecodec models import FILE`)."""
    from .zoo import manage

    manage.export_family(name, file, force=force)
    click.echo(f"exported {name} to {file}")


@models.command(name="import")
@click.argument("file", type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Replace a model family of the same name.")
@_report_errors
def models_import(file, force):
    """Add the model family in FILE (a .vaem file from `vaecodec models export`, or a
    .vaez archive that embeds its model) to the model store."""
    from . import files
    from .zoo import manage

    target = manage.install_family(files.read_model_source(file), force=force, source=file)
    click.echo(f"imported {target.stem} into {target}")


@models.command(name="remove")
@click.argument("name")
@_report_errors
def models_remove(name):
    """Delete model family NAME from the model store (files made with it no longer
    decode here until it is imported again)."""
    from .zoo import manage

    if name != DEFAULT_FAMILY:
        _check_family_name(name)
    target = manage.remove_family(name)
    click.echo(f"removed {name} ({target})")


@main.command()
@click.option("--model", default=None,
              help="Model family (default: mnist) or a model's name.")
@click.option("-n", "count", type=click.IntRange(1, 100_000), default=64, show_default=True,
              help="How many images to draw.")
@click.option("-o", "--output", type=click.Path(), required=True,
              help="A .png file (one grid of all the images) or a folder (one PNG each).")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the random latents: the same seed draws the same images.")
@click.option("-f", "--force", is_flag=True, help="Overwrite existing files.")
@_report_errors
def sample(model, count, output, seed, force):
    """Draw new images from a model: random latents from its prior, N(0, I), through its
    decoder (the classic demo of a VAE)."""
    from . import files
    from .sampling import sample

    _refuse_dash_folder(output)
    images = sample(count, model=model, seed=seed)
    files.write_images(images, output, force=force)
    click.echo(f"drew {_plural(count, 'image')} into {output}")


if __name__ == "__main__":  # python -m vaecodec.cli: every command is defined by now
    main()
