"""What every command shares: the ``main`` group, the error mapping, progress bars,
warnings as ``Warning:`` lines, the shared options.

Library errors (``VaezError``) and OS errors become one line ``Error: ...`` on stderr and
exit status 1; click's own usage errors exit with 2; anything else is a bug and shows its
traceback. Defaults shown in the help come from the library.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import sys
import time

import click

from .. import __version__
from ..errors import VaezError
from ..format.constants import DEFAULT_MAX_IMAGES, WIRE_CODERS

CODER_NAMES = list(dict.fromkeys(name for name, _ in WIRE_CODERS.values()))  # in wire-id order


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


# with lines=True and stderr not a terminal: a progress line at most this often per stage
LINE_EVERY = 10.0


@contextlib.contextmanager
def _progress(quiet: bool = False, lines: bool = False):
    """Yields a ``progress(stage, done, total[, note])`` callback drawing one bar per stage
    on stderr (with its rate and time left) when stderr is a terminal (and not ``quiet``);
    with ``lines``, where stderr is not a terminal (a log file, a job scheduler), a plain
    line per stage at its start, every LINE_EVERY seconds and at its end instead."""
    state: dict = {}

    def close() -> None:
        if "bar" in state:
            state.pop("bar").__exit__(None, None, None)

    def line(stage: str, done: int, total: int, note: str | None) -> None:
        now = time.monotonic()
        if state.get("stage") != stage:
            state.update(stage=stage, began=now, shown=None)
        last = state["shown"]
        if state.get("line") == (stage, done, total) or (
                last is not None and done < total and now - last < LINE_EVERY):
            return
        state["shown"], state["line"] = now, (stage, done, total)
        spent = now - state["began"]
        left = f", about {spent * (total - done) / done:.0f} s left" if 0 < done < total else ""
        click.echo(f"{stage}: {done}/{total} ({100 * done / max(total, 1):.0f}%), "
                   f"{spent:.0f} s{left}{f', {note}' if note else ''}", err=True)

    def update(stage: str, done: int, total: int, note: str | None = None) -> None:
        """``note``: shown after the bar (the training loss)."""
        if quiet:
            return
        if not sys.stderr.isatty():
            if lines:
                line(stage, done, total, note)
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
    """vaecodec: compress small images (digits; your own, grayscale or colour) with a
    trained VAE.

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


def _quality_json(report) -> dict | None:
    return None if report is None else {**dataclasses.asdict(report), "poor": report.poor}


@contextlib.contextmanager
def _library_warnings():
    """The library's warnings (``VaezWarning``) raised inside, printed as ``Warning: ...``
    lines on stderr when the block ends (others as Python shows them)."""
    import warnings

    from ..errors import VaezWarning

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


_max_images_option = click.option(
    "--max-images", type=click.IntRange(min=1), default=DEFAULT_MAX_IMAGES, show_default=True,
    metavar="N", help="Refuse an archive of more than N images before decoding or listing "
                      "them (a few bytes can declare millions).")


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
