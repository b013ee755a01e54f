"""The commands of models: ``levels``, ``train``, ``models`` (list, show, export,
import, remove) and ``sample``."""

from __future__ import annotations

import json

import click

from ..format import shapes
from ..train.recipes import PIXEL_MODELS, TRAIN_RECIPES
from ..zoo.defaults import DEFAULT_FAMILY, DEFAULT_LEVEL
from ._base import (
    _plural,
    _progress,
    _refuse_dash_folder,
    _report_errors,
    main,
)


@main.command(name="levels")
@click.option("--json", "as_json", is_flag=True, help="Print the levels as JSON.")
@_report_errors
def list_levels(as_json):
    """List the quality levels with their size and quality on the MNIST test split."""
    from ..errors import UnknownModelError
    from ..zoo import Zoo

    zoo = Zoo.installed()
    rows = zoo.levels()
    installed = {}
    for lv in rows:  # a level whose model the default install leaves out (vaecodec-models)
        try:
            zoo.level_model(lv)
            installed[lv.level] = True
        except UnknownModelError:
            installed[lv.level] = False
    if as_json:
        click.echo(json.dumps([{"level": lv.level, "model": lv.model,
                                "quant_step": lv.quant_step, **lv.measured,
                                "installed": installed[lv.level]} for lv in rows],
                              indent=2))
        return
    width = max([len("model")] + [len(lv.model) for lv in rows])
    click.echo(f"level  {'model':{width}s}   step  bytes/image  PSNR (dB)   SSIM  "
               "(MNIST test split)")
    for lv in rows:
        m = lv.measured
        default = "  (default)" if lv.level == DEFAULT_LEVEL else ""
        if not installed[lv.level]:
            default += "  (not installed: pip install vaecodec-models)"
        click.echo(f"{lv.level:5d}  {lv.model:{width}s}  {lv.quant_step:5g}  "
                   f"{m.get('bytes_per_image', 0):11.2f}  {m.get('psnr_db', 0):9.2f}  "
                   f"{m.get('ssim', 0):5.3f}{default}")


@main.command()
@click.argument("sources", nargs=-1, required=True, type=click.Path())
@click.option("--name", required=True,
              help="The model family's name (letters, digits, '.', '_', '-'), used as "
                   "--model NAME.")
@click.option("--recipe", type=click.Choice(TRAIN_RECIPES), default="auto",
              show_default=True,
              help="Training recipe; auto chooses one from the number and size of the "
                   "images, linear takes the images' principal components instead of "
                   "a network (photographs; docs/notes/training.md).")
@click.option("--epochs", type=click.IntRange(min=1), default=None,
              help="Train the VAE for this many passes over the images instead of the "
                   "recipe's schedule.")
@click.option("--steps", type=click.IntRange(min=1), default=None,
              help="Train the VAE for this many optimisation steps (batches) instead of the "
                   "recipe's schedule.")
@click.option("--time-budget", type=click.FloatRange(min=1), default=None, metavar="SECONDS",
              help="Finish the whole run (reading, VAE, levels, pixel model, checks) in "
                   "about SECONDS: the plan is printed at the start, and the VAE and the "
                   "pixel model train for what fits.")
@click.option("--resize", is_flag=True,
              help="Scale image files of another size (Lanczos) to the size most of them "
                   "have (or that of the .npy or IDX images given), with a warning that "
                   "says how many.")
@click.option("--pixel-model", type=click.Choice(PIXEL_MODELS), default="auto",
              show_default=True,
              help="The pixel model of --lossless and --max-error files: a network, a "
                   "table of contexts (counted in seconds), or auto: both, keeping the one "
                   "that codes the held-out images in fewer bytes.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Seed of the split and the training: the same data, seed and thread "
                   "count give the same model.")
@click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu",
              show_default=True, help="Where torch trains the VAE.")
@click.option("--skip-invalid", is_flag=True,
              help="Skip image files that cannot be decoded instead of failing.")
@click.option("-f", "--force", is_flag=True,
              help="Replace a model of the same name, and install the family even if it "
                   "fails its checks.")
@click.option("--quiet", is_flag=True, help="Print nothing but errors and warnings.")
@_report_errors
def train(sources, name, recipe, epochs, steps, time_budget, resize, pixel_model, seed,
          device, skip_invalid, force, quiet):
    """Train a model family on your images: image files and folders, MNIST-style IDX
    files or .npy arrays (N, height, width) or (N, height, width, channels), all of one
    size (or --resize). Colour images make a colour family (RGB; RGBA where some pixel
    is transparent), grayscale ones a grayscale family.
    10% are held out to measure it. Then it is checked: every level must beat the mean
    image and quality must rise with bytes; a family that fails is not installed (unless
    --force). The family (VAE, quality levels, pixel model) goes into the model store
    (`vaecodec models`); compress with --model NAME.

    The stages (reading, VAE, levels, pixel model, checks) show their progress on standard
    error: a bar on a terminal, otherwise a line every few seconds."""
    import time

    started = time.monotonic()
    from .. import files
    from ..data.sources import load_images
    from ..errors import TrainingError
    from ..zoo import manage

    _check_family_name(name)
    if epochs is not None and steps is not None:
        raise click.UsageError("give --epochs or --steps, not both")
    manage.check_new_family(name, force)  # before any training
    from ..train import import_torch

    try:
        import_torch()  # before reading any data
    except ModuleNotFoundError as e:
        raise click.ClickException(str(e)) from None
    from ..train.family import advice, train_family

    with _progress(quiet, lines=True) as progress:
        images, described = load_images(sources, skip_invalid,
                                        files.stage_progress(progress, "reading"), resize)
        progress("reading", len(images), len(images))
        if described["resized_files"]:
            h, w = described["image_shape"][:2]
            _warn(f"{_plural(described['resized_files'], 'image')} scaled to {w}x{h}")
        trained = train_family(images, name, recipe=recipe, epochs=epochs, steps=steps,
                               time_budget=time_budget, started=started, seed=seed,
                               device=device, pixel_model=pixel_model, data=described,
                               log=lambda line: None,
                               announce=None if quiet else _say, progress=progress)
    meta = trained.family.metadata
    where = f"validation, {meta['data']['validation_images']} images"
    if trained.problems and not force:
        if not quiet:
            _print_family_levels(trained.levels, trained.family.default_level, where,
                                 meta["validation"]["mean_image_psnr_db"], err=True)
        raise TrainingError(advice(trained.problems, meta["data"]["train_images"],
                                   meta["train_seconds"]["total"], meta["recipe"]["name"]))
    target = manage.install_trained(name, trained.data, force=force)
    if trained.problems:
        _warn(f"installed although it failed its checks (--force): "
              f"{'; '.join(trained.problems)}")
    if quiet:
        return
    seconds = meta["train_seconds"]
    stages = ", ".join(f"{stage} {seconds[key]:.0f} s" for stage, key in (
        ("reading", "reading"), ("VAE", "vae"), ("levels", "levels"),
        ("pixel model", "pixel_model"), ("checks", "checks")))
    click.echo(f"trained {name} on {meta['data']['train_images']} images in "
               f"{seconds['total']:.0f} s ({stages}); wrote {target}")
    _print_family_levels(trained.levels, trained.family.default_level, where,
                         meta["validation"]["mean_image_psnr_db"])
    click.echo(f"lossless: {meta['validation']['lossless_bits_per_pixel']:.3f} bits/pixel")


def _say(line: str) -> None:
    click.echo(line, err=True)


def _warn(line: str) -> None:
    click.echo(f"Warning: {line}", err=True)


def _check_family_name(name: str) -> None:
    """A bad --name is a usage error (exit status 2), as click reports its own."""
    from ..errors import SettingsError
    from ..zoo import manage

    try:
        manage.check_family_name(name)
    except SettingsError as e:
        raise click.BadParameter(str(e), param_hint="'--name'") from None


def _map(value) -> dict:
    """A metadata entry as a map (a hostile file may hold anything there)."""
    return value if isinstance(value, dict) else {}


def _print_family_levels(levels, default_level, where, mean_psnr=None, err=False) -> None:
    click.echo(f"level   step  bytes/image  PSNR (dB)  ({where})", err=err)
    for lv in levels:
        m = lv.measured
        default = "  (default)" if lv.level == default_level else ""
        click.echo(f"{lv.level:5d}  {lv.quant_step:5g}  {m.get('bytes_per_image', 0):11.2f}  "
                   f"{m.get('psnr_db', 0):9.2f}{default}", err=err)
    if isinstance(mean_psnr, (int, float)):
        click.echo(f" mean image         0.00  {mean_psnr:9.2f}  (what every level must beat)",
                   err=err)


@main.group(invoke_without_command=True)
@click.option("--json", "as_json", is_flag=True, help="Print the families as JSON.")
@click.pass_context
@_report_errors
def models(ctx, as_json):
    """List the model families: the shipped mnist and those in the model store (the
    folder $VAECODEC_MODELS, else the platform's user data folder)."""
    if ctx.invoked_subcommand is not None:
        return
    from ..zoo import Zoo
    from ..zoo.families import store_dir

    zoo = Zoo.installed()
    rows = [_family_row(zoo, name) for name in [DEFAULT_FAMILY] + [f.name for f in zoo.families()]]
    if as_json:
        click.echo(json.dumps({"store": str(store_dir()), "families": rows}, indent=2))
        return
    click.echo(f"model store: {store_dir()}")
    width = max(len(r["name"]) for r in rows)
    sizes = {r["name"]: shapes.describe(r["image_shape"]) for r in rows}
    side = max(5, *(len(size) for size in sizes.values()))
    click.echo(f"{'name':{width}s}  {'id':16s}  {'size':{side}s}  levels  default  "
               "lossless bits/pixel")
    for r in rows:
        size = sizes[r["name"]]
        bpp = r["lossless_bits_per_pixel"]
        bpp = "-" if bpp is None else f"{bpp:.3f}"
        click.echo(f"{r['name']:{width}s}  {r['id'][:16]:16s}  {size:{side}s}  {r['levels']:6d}  "
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
    from ..zoo import Zoo

    zoo = Zoo.installed()
    row = _family_row(zoo, name)
    family = None if name == DEFAULT_FAMILY else zoo.family(name)
    levels = zoo.levels(None if family is None else name)
    if as_json:
        click.echo(json.dumps({**row, "metadata": {} if family is None else family.metadata,
                               "levels": [{"level": lv.level, "quant_step": lv.quant_step,
                                           **lv.measured} for lv in levels]}, indent=2))
        return
    click.echo(f"{name}: {shapes.describe(row['image_shape'])} images, model id {row['id']}")
    if row["file"]:
        click.echo(f"file: {row['file']}")
    where = "MNIST test split" if family is None else "validation split"
    _print_family_levels(levels, row["default_level"], where)
    if family is not None:
        meta = family.metadata
        data, recipe = _map(meta.get("data")), _map(meta.get("recipe"))
        click.echo(f"lossless: {row['lossless_bits_per_pixel']} bits/pixel ({where})")
        if family.pixel_model is not None:
            click.echo("pixel model: " + _pixel_models_line(zoo, family))
        click.echo(f"trained on {data.get('train_images')} images (sha256 "
                   f"{str(data.get('pixels_sha256'))[:16]}...), recipe {recipe.get('name')}, "
                   f"{recipe.get('epochs')} epochs, "
                   f"{_map(meta.get('train_seconds')).get('total')} s")


def _pixel_models_line(zoo, family) -> str:
    """Which pixel model a family's files use, per max error (its ``pixel_models``), and
    what kind each is: "icons.table (a table) up to --max-error 1, icons.pixel (a
    network) from 2"."""
    from ..core.tablemodel import is_table, transform_of
    from ..zoo.models import PIXEL_MODEL

    def kind(name: str) -> str:
        metadata = zoo.find(name, PIXEL_MODEL).metadata
        if not is_table(metadata):
            return "a network"
        transform = transform_of(metadata)
        return "a table" if transform == "none" else f"a table after {transform}"

    ranges = family.metadata.get("pixel_models") or [[0, family.pixel_model]]
    parts = []
    for i, (start, name) in enumerate(ranges):
        end = ranges[i + 1][0] - 1 if i + 1 < len(ranges) else None
        span = ("" if len(ranges) == 1 else f" from --max-error {start}" if end is None
                else " for --lossless" if end == 0
                else f" at --max-error {start}" if start == end
                else f" up to --max-error {end}" if start == 0
                else f" for --max-error {start}-{end}")
        parts.append(f"{name} ({kind(name)}){span}")
    return ", ".join(parts)


@models.command(name="export")
@click.argument("name")
@click.argument("file", type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Overwrite FILE if it exists.")
@_report_errors
def models_export(name, file, force):
    """Write model family NAME to FILE (.vaem): everything needed to decode its files
    elsewhere (`vaecodec models import FILE`)."""
    from ..zoo import manage

    manage.export_family(name, file, force=force)
    click.echo(f"exported {name} to {file}")


@models.command(name="import")
@click.argument("file", type=click.Path())
@click.option("-f", "--force", is_flag=True, help="Replace a model family of the same name.")
@_report_errors
def models_import(file, force):
    """Add the model family in FILE (a .vaem file from `vaecodec models export`, or a
    .vaez archive that embeds its model) to the model store."""
    from .. import files
    from ..zoo import manage

    target = manage.install_family(files.read_model_source(file), force=force, source=file)
    click.echo(f"imported {target.stem} into {target}")


@models.command(name="remove")
@click.argument("name")
@_report_errors
def models_remove(name):
    """Delete model family NAME from the model store (files made with it no longer
    decode here until it is imported again)."""
    from ..zoo import manage

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
    from .. import files
    from ..sampling import sample

    _refuse_dash_folder(output)
    images = sample(count, model=model, seed=seed)
    files.write_images(images, output, force=force)
    click.echo(f"drew {_plural(count, 'image')} into {output}")
