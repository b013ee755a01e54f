"""The commands that look into archives: ``ls``, ``test`` and ``info``."""

from __future__ import annotations

import contextlib
import json
import sys

import click

from ..errors import VaezError
from ..format import container, shapes
from ._base import (
    _archive_arg,
    _lost_images,
    _max_images_option,
    _plural,
    _progress,
    _report_errors,
    _thread_limit,
    _threads_option,
    main,
)


@main.command(name="ls")
@click.argument("archive", type=click.Path())
@click.option("--json", "as_json", is_flag=True,
              help="Print the archive's count and names as JSON.")
@_max_images_option
@_report_errors
def list_names(archive, as_json, max_images):
    """List the images of ARCHIVE (a path, a URL, - for standard input) by name, in order
    (numbered 00000.png, ... when it stores no names, as decompress writes them)."""
    from .. import archive as archive_io
    from ..pipeline.settings import check_count

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
    """Check that every chunk of each ARCHIVE (a path, a URL, - for standard input)
    decodes, writing nothing. Exit status 0 when all are intact, 1 when any is damaged
    (each damaged chunk is named)."""
    from .. import archive as archive_io
    from ..errors import FormatError, ImageLimitError
    from ..pipeline.settings import check_count

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
    """Show what a .vaez file holds (reads only its headers; a path, a URL, - for standard
    input). The names of an archive of more than --max-images images are counted, not
    listed."""
    from .. import headers, remote
    from ..errors import UnknownModelError
    from ..format.manifest import looks_like as looks_like_manifest
    from ..zoo import Zoo

    # the headers alone: neither numpy nor the codec is imported for a .vaez file
    zoo = Zoo.installed_models()
    shards = None
    if archive == "-":
        data = sys.stdin.buffer.read()
        header, size = headers.read_info(data, zoo=zoo, max_images=max_images), len(data)
    else:
        header = headers.read_info(archive, zoo=zoo, max_images=max_images)
        size = remote.size_of(archive)
        with remote.open_input(archive) as f:
            manifest = looks_like_manifest(f.read(64))
        if manifest:  # the data set's size: its shards' and its own
            from .. import archive as archive_io

            with archive_io.ManifestReader(archive, zoo=zoo) as reader:
                shards = reader.manifest.shards
                named = reader.named
            size += sum(shard.bytes for shard in shards)
    if not zoo.knows(header.model_id):  # a family's model: the families are read too
        zoo = Zoo.installed()
        header = zoo.complete_header(header)
    missing = None
    try:
        model_name = zoo.find(header.model_id).name
    except UnknownModelError:
        model_name = None
        missing = zoo.not_installed(header.model_id)  # left out of the default install
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
             else shapes.describe(header.image_shape))
    rows = [
        ("format version", str(header.version)),
        ("images", f"{header.count} ({shape})"),
        ("model", f"{model_name or 'unknown to this vaecodec'} ({header.model_id.hex()})"
         + ("" if missing is None else f"; {missing}")),
        ("latent size", str(header.latent_size)),
        ("quantization", quant),
        ("payload", "none (no base layer: the table codes every value)"
         if header.residual is not None
         and header.residual.layout in container.LAYOUTS_WITHOUT_BASE
         else (f"{header.payload_size} bytes" if shards is None
               else f"in {_plural(len(shards), 'shard')}") + f" ({coder})"),
        ("residual", _residual_row(header.residual, zoo)),
        ("names", names),
        *_labels_rows(header),
        ("embedded model", f"{header.embedded_model_size} bytes"
         if header.embedded_model_size else "none"),
        ("file size", f"{size} bytes ({size / header.count:.2f} bytes/image)"),
    ]
    click.echo(f"{archive}:")
    for key, value in rows:
        click.echo(f"  {key + ':':16}{value}")


def _labels_rows(header) -> list[tuple[str, str]]:
    """info's rows for a version 6 file's labels and metadata (none before)."""
    if not header.fields:
        return []
    labels = "none stored"
    if "label" in header.fields:
        classes = header.classes
        labels = "one per image" + ("" if classes is None else (
            f", {len(classes)} class{'' if len(classes) == 1 else 'es'}: "
            + ", ".join(classes[:10])
            + (", ..." if len(classes) > 10 else "")))
    rows = [("labels", labels),
            ("metadata", "per image" if "meta" in header.fields else "none stored")]
    if "channels" in header.fields:
        rows.append(("source modes", "per image (decompress writes each in its own)"))
    return rows


def _residual_row(layer, zoo) -> str:
    if layer is None:
        return "none (lossy)"
    from ..errors import UnknownModelError
    from ..zoo import PIXEL_MODEL

    try:
        name = zoo.find(layer.model_id, PIXEL_MODEL).name
    except UnknownModelError:
        name = "unknown to this vaecodec"
    bound = "lossless" if layer.max_error == 0 else f"max error {layer.max_error}"
    return (f"{bound}, {layer.size} bytes in {len(layer.chunk_sizes)} chunk(s), pixel model "
            f"{name} ({layer.model_id.hex()}), layout {layer.layout}")
