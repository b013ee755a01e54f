"""Training a model family on a user's images: the VAE, its quality levels (steps and
fitted priors) and its pixel model, measured on a held-out validation split through the
real codec, as one .vaem file (``vaecodec train``)."""

from __future__ import annotations

import dataclasses
import platform
import time
from typing import Callable

import numpy as np

from .. import __version__, codec
from ..core import pixels, quantize, tablemodel
from ..core.entropy import fit_prior
from ..errors import InputError, SettingsError
from ..eval import metrics
from ..eval.evaluate import measure_level
from ..format import family as family_format
from ..format import shapes
from ..pipeline.chunk import AS_IS, DARK_ON_LIGHT, LIGHT_ON_DARK, dark_on_light
from ..zoo import Level, ModelInfo, Zoo, families
from ..zoo.families import Family
from . import import_torch, linear

# A family's levels: steps in order of quality.
STEPS = (1.0, 0.65, 0.4, 0.2, 0.1, 0.05)
# Its default level: the cheapest whose validation PSNR is within DEFAULT_WITHIN_DB of the
# best level's (where finer steps stop paying: for a 20-d latent often step 0.4 or 0.2;
# docs/notes/training.md).
DEFAULT_WITHIN_DB = 0.5
# a rate-distortion recipe is trained for one step (its rate_step): its levels sit around it
RD_STEP_FACTORS = (1.5, 1.25, 1.0, 0.8, 0.65, 0.5)
VALIDATION_FRACTION = 0.1
MAX_VALIDATION = 5000


def fit_priors(vae: ModelInfo, steps, train_images: np.ndarray) -> list[Level]:
    """Levels 1, 2, ... of ``vae`` at ``steps``: each a prior fitted on the training
    images' latent means rounded at its step (not yet measured)."""
    means = Zoo().with_models(vae).vae(vae).encode_mean(pixels.to_unit(train_images))
    return [Level(number, vae.name, vae.model_id, step,
                  fit_prior(quantize.quantize(means, step)))
            for number, step in enumerate(steps, 1)]


def _measured_levels(vae: ModelInfo, recipe, name: str, train_images: np.ndarray,
                     valid_images: np.ndarray, progress) -> list[Level]:
    """The levels of a base model (priors fitted on the training latents) with their
    figures on the validation images."""
    levels = fit_priors(vae, level_steps(recipe), train_images)
    zoo = Zoo().with_family(Family(name, name, None, 1), [vae], levels)
    measured = []
    for i, level in enumerate(levels, 1):
        measured.append(dataclasses.replace(
            level, measured=measure_level(level, valid_images, zoo, split="validation",
                                          single_images=100, family=name)))
        if progress:
            progress("levels", i, len(levels))
    return measured


def linear_gain(vae_levels: list[Level], linear_levels: list[Level]) -> float | None:
    """How many dB the linear model's levels are above the VAE's at the VAE levels' bytes,
    on average (validation figures; the linear model's PSNR interpolated in bytes, its
    best level's taken beyond its last). None when every VAE level is cheaper than the
    linear model's cheapest: no comparison at equal bytes."""
    points = sorted((lv.measured["bytes_per_image"], lv.measured["psnr_db"])
                    for lv in linear_levels)
    sizes, psnrs = [b for b, _ in points], [p for _, p in points]
    gains = [float(np.interp(lv.measured["bytes_per_image"], sizes, psnrs))
             - lv.measured["psnr_db"]
             for lv in vae_levels if lv.measured["bytes_per_image"] >= sizes[0]]
    return sum(gains) / len(gains) if gains else None


def default_level(levels: list[Level]) -> int:
    """The number of the cheapest measured level within DEFAULT_WITHIN_DB of the best
    level's PSNR."""
    best = max(lv.measured["psnr_db"] for lv in levels)
    close = [lv for lv in levels if lv.measured["psnr_db"] >= best - DEFAULT_WITHIN_DB]
    return min(close, key=lambda lv: (lv.measured["bytes_per_image"], lv.level)).level


def level_steps(recipe) -> tuple[float, ...]:
    """The quantization steps of a family's levels, in order of quality."""
    if recipe.architecture == "linear":
        return linear.LINEAR_STEPS
    if recipe.rate == "entropy":
        return tuple(round(f * recipe.rate_step, 6) for f in RD_STEP_FACTORS)
    return STEPS


# The checks of a trained family on its validation images (``check_levels``): every level
# at least MEAN_MARGIN_DB above the mean image's PSNR; PSNR rising with bytes, the best
# level at least RISE_DB above the cheapest, no level more than DIP_DB below a cheaper one.
MEAN_MARGIN_DB = 1.0
RISE_DB = 0.5
DIP_DB = 0.1


@dataclasses.dataclass
class Trained:
    family: Family
    models: list[ModelInfo]
    levels: list[Level]
    data: bytes  # the .vaem file
    # what the checks found wrong (empty: the family passed them)
    problems: list[str] = dataclasses.field(default_factory=list)


TABLE_VALUES = 40_000_000  # training values a table is counted on, at most (memory)


def split(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) images: a seeded shuffle, 10% (at most 5,000, at least 1)
    held out."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = min(MAX_VALIDATION, max(1, int(round(len(images) * VALIDATION_FRACTION))))
    if len(images) < 2:
        raise InputError("training needs at least 2 images (one is held out)")
    return images[np.sort(order[held:])], images[np.sort(order[:held])]


MAX_ERRORS_COMPARED = (0, 1, 2, 4, 8, 16, 32)  # where the pixel models are compared
MAX_ERROR_SAMPLE = 200  # validation images the max errors above 0 are compared on
TABLE_WEIGHT_SAMPLE = 500  # validation images a table's weight is chosen on


def compare_pixel_models(name: str, vae: ModelInfo, candidates: list, levels: list,
                         default: int, valid_images: np.ndarray) -> tuple[dict, dict]:
    """Each candidate pixel model (``(what, ModelInfo)``) in the family ``name`` on the
    validation images: ``tried[what]`` = (its lossless file of them all, the model, the
    zoo with it); ``sizes[what][K]`` = bytes per image at each of ``MAX_ERRORS_COMPARED``
    (K > 0 on the first ``MAX_ERROR_SAMPLE`` images; only K = 0 for a single candidate)."""
    tried, sizes = {}, {}
    sample = valid_images[:MAX_ERROR_SAMPLE]
    for what, pixel in candidates:
        zoo = Zoo().with_family(Family(name, vae.name, pixel.name, default), [vae, pixel],
                                levels)
        lossless = codec.encode(valid_images, lossless=True, model=name, zoo=zoo)
        tried[what] = (lossless, pixel, zoo)
        sizes[what] = {0: len(lossless) / len(valid_images)}
        if families.lossless_only(pixel.metadata):  # a colour-transformed table
            continue
        for k in MAX_ERRORS_COMPARED[1:] if len(candidates) > 1 else ():
            sizes[what][k] = len(codec.encode(sample, max_error=k, model=name,
                                              zoo=zoo)) / len(sample)
    return tried, sizes


TABLE_MARGIN = 0.01  # the network must save this share of the table's bytes to be kept


def pixel_model_ranges(sizes: dict) -> list[list]:
    """[[K, what], ...]: from each K on (up to the next), the pixel model that coded the
    fewest bytes at that K (``compare_pixel_models``' sizes; one that codes lossless
    files only has K = 0 alone), neighbours merged; a table ("table", "table-sg")
    wherever the others save less than ``TABLE_MARGIN`` of its bytes (it codes several
    times faster)."""
    ranges: list[list] = []
    for k in sorted({k for by_k in sizes.values() for k in by_k}):
        have = {what: by_k[k] for what, by_k in sizes.items() if k in by_k}
        best = min(have, key=have.__getitem__)
        tables = [what for what in have if what.startswith("table")]
        table = min(tables, key=have.__getitem__) if tables else best
        if have[best] > (1 - TABLE_MARGIN) * have[table]:
            best = table
        if not ranges or ranges[-1][1] != best:
            ranges.append([k, best])
    return ranges


def mean_image_psnr(train_images: np.ndarray, valid_images: np.ndarray) -> float:
    """PSNR of the validation images against the training images' mean image: what a
    codec that ignores the image gets (the floor every level must beat)."""
    mean = np.rint(train_images.mean(axis=0)).astype(np.uint8)
    return metrics.psnr(valid_images, np.broadcast_to(mean, valid_images.shape))


def check_levels(levels: list[Level], mean_psnr: float) -> list[str]:
    """What is wrong with a family's measured levels, as sentences (none: it is useful):
    every level must beat the mean image by MEAN_MARGIN_DB, and PSNR must rise with
    bytes (by RISE_DB from the cheapest level to the best, never falling by more than
    DIP_DB)."""
    rows = sorted((lv.measured["bytes_per_image"], lv.measured["psnr_db"], lv.level)
                  for lv in levels)
    problems = []
    weak = [(b, p, n) for b, p, n in rows if p < mean_psnr + MEAN_MARGIN_DB]
    if weak:
        listed = ", ".join(f"{n} ({p:.1f} dB at {b:.1f} B/image)" for b, p, n in weak)
        problems.append(f"level{'s' if len(weak) > 1 else ''} {listed} "
                        f"{'do' if len(weak) > 1 else 'does'} not beat the mean image "
                        f"({mean_psnr:.1f} dB) by {MEAN_MARGIN_DB:g} dB")
    rise = rows[-1][1] - rows[0][1]
    if rise < RISE_DB:
        problems.append(f"quality does not rise with bytes: {rows[0][0]:.1f} to "
                        f"{rows[-1][0]:.1f} B/image give {rows[0][1]:.1f} to "
                        f"{rows[-1][1]:.1f} dB (less than {RISE_DB:g} dB apart)")
    dips = [(a, b) for a, b in zip(rows, rows[1:]) if b[1] < a[1] - DIP_DB]
    if dips:
        (b0, p0, n0), (b1, p1, n1) = dips[0]
        problems.append(f"level {n1} costs more than level {n0} ({b1:.1f} against "
                        f"{b0:.1f} B/image) for a lower PSNR ({p1:.1f} against {p0:.1f} dB)")
    return problems


def advice(problems: list[str], train_count: int, seconds: float, recipe: str) -> str:
    """The one-line error for a family that failed its checks: what was measured and what
    to try."""
    return (f"the trained family failed its checks on the validation images: "
            f"{'; '.join(problems)}. It was trained on {train_count} images in "
            f"{seconds:.0f} s with the {recipe!r} recipe. Try more images (1,000 or more), "
            f"more time (--time-budget), or another --recipe; --force installs it anyway")


def train_family(images: np.ndarray, name: str, *, recipe: str = "auto",
                 epochs: int | None = None, steps: int | None = None,
                 time_budget: float | None = None, started: float | None = None,
                 seed: int = 1, device: str = "cpu", pixel_epochs: float = 6.0,
                 pixel_qat_epochs: float = 1.0, pixel_model: str = "auto",
                 data: dict | None = None,
                 log: Callable[[str], None] = print,
                 announce: Callable[[str], None] | None = None,
                 progress: Callable[..., None] | None = None) -> Trained:
    """Train the family ``name`` on uint8 images (N, H, W), measure it on a held-out split
    and check it (``Trained.problems``; installing is the caller's choice).

    ``recipe``: a name of ``TRAIN_RECIPES``; "auto" chooses from the data
    (``recipes.auto_recipe``). ``epochs`` or ``steps`` replace the recipe's schedule.
    ``time_budget`` (seconds, counted from ``started``, a ``time.monotonic()`` reading
    taken before the images were read; default: now) bounds the whole run: the plan
    (``plan.make_plan``) shares it between the VAE, the levels, the pixel model and the
    checks. ``announce(line)``: the plan and the recipe chosen, for the user.
    ``progress(stage, done, total[, note])``: "VAE" per epoch (with the loss), "levels",
    "pixel model", "checks". The pixel model trains ``pixel_epochs``, then
    ``pixel_qat_epochs`` through its integer rounding (quantization-aware, as the shipped
    ``pixel-l1-v2`` and ``pixel-l1-v3``), both cut in proportion to fit a budget.
    ``pixel_model``: "network" that pixel network, "table" a table of contexts counted on
    the training images instead (residual layout 4; seconds, no training loop), "auto"
    both, keeping the one that codes the validation images in fewer bytes."""
    import_torch()
    from . import export, loop
    from .pixel import VALUES, choose_predictor, train_pixel_model
    from .plan import make_plan
    from .recipes import PIXEL_MODELS, RECIPES, TRAIN_RECIPES, auto_recipe

    started = time.monotonic() if started is None else started
    family_format.check_name(name)
    if recipe not in TRAIN_RECIPES:
        raise SettingsError(f"recipe must be one of {', '.join(TRAIN_RECIPES)}, not {recipe!r}")
    if pixel_model not in PIXEL_MODELS:
        raise SettingsError(f"pixel_model must be one of {', '.join(PIXEL_MODELS)}, not "
                            f"{pixel_model!r}")
    shape = tuple(images.shape[1:])
    colour = len(shape) == 3  # images of several channels: coded as they are
    polarity = AS_IS
    if not colour:
        # the family's polarity is its images' majority; the others are trained on
        # inverted, as the codec will code them
        light_ground = dark_on_light(images.reshape(len(images), -1), shape)
        polarity = (DARK_ON_LIGHT if 2 * light_ground.sum() > len(images)
                    else LIGHT_ON_DARK)
        flip = light_ground if polarity == LIGHT_ON_DARK else ~light_ground
        if flip.any():
            images = images.copy()
            images[flip] = 255 - images[flip]
    train_images, valid_images = split(images, seed)
    chosen, why = (auto_recipe(len(train_images), shape, time_budget) if recipe == "auto"
                   else (RECIPES[recipe], f"the {recipe!r} recipe, as asked"))
    chosen = dataclasses.replace(chosen, seed=seed)
    if epochs is not None:
        chosen = dataclasses.replace(chosen, epochs=int(epochs), steps=None)
        why += f"; {epochs} epochs, as asked"
    if steps is not None:
        chosen = dataclasses.replace(chosen, steps=int(steps))
        why += f"; {steps} steps, as asked"
    say = announce or (lambda line: None)
    if chosen.architecture == "linear" and not linear.considered(shape):
        raise SettingsError(f"--recipe linear takes images of at most {linear.MAX_VALUES:,} "
                            f"values (64x64 grayscale); these have {shapes.values(shape):,}")
    both = recipe == "auto" and linear.considered(shape)  # the linear model and the VAE
    plan = make_plan(time_budget, started, len(train_images), len(valid_images),
                     shapes.values(shape),
                     len(level_steps(chosen)) + (len(linear.LINEAR_STEPS) if both else 0))
    log(f"{len(train_images)} training images, {len(valid_images)} held out for validation, "
        f"{shapes.describe(shape)}")
    valid_images = valid_images[:plan.measured_images]  # what the budget has time to measure
    say(f"recipe {chosen.name}: {why}")
    say(plan.describe())
    seconds = {"reading": round(time.monotonic() - started, 1)}

    def step_done(step: int, total: int, loss: float) -> None:
        if progress:
            progress("VAE", step, total, f"loss {loss:.1f} nats/image")

    # the base models: with "auto" (images of at most linear.MAX_VALUES values) the
    # linear model first (seconds), then the VAE; each gets its levels, measured on the
    # validation images, and the family keeps the one better at equal bytes there
    stage_started = time.monotonic()
    levels_seconds = []

    def measured_levels(model: ModelInfo, of) -> list[Level]:
        began = time.monotonic()
        out = _measured_levels(model, of, name, train_images, valid_images, progress)
        levels_seconds.append(time.monotonic() - began)
        return out

    bases = []  # (recipe, model, measured levels)
    if chosen.architecture == "linear" or both:
        lin = dataclasses.replace(RECIPES["linear"], latent_size=linear.latent_size(shape),
                                  seed=seed)
        tensors, std = linear.fit_linear(train_images, lin.latent_size, seed)
        model_info = ModelInfo.in_memory(name, tensors, {
            "kind": "vae", "polarity": polarity, "recipe": lin.to_dict(),
            "architecture": {"type": "linear", "latent_size": lin.latent_size, "hidden": [],
                             "image_shape": list(shape), "latent_std": std}})
        bases.append((lin, model_info, measured_levels(model_info, lin)))
    if chosen.architecture != "linear":
        model = loop.train(chosen, train_images, log, device, plan.until_end_of("VAE"),
                           step_done)
        model_info = ModelInfo.in_memory(name, export.export_weights(model), {
            "kind": "vae", "polarity": polarity, "recipe": chosen.to_dict(),
            "architecture": {"type": "mlp-vae", "latent_size": chosen.latent_size,
                             "hidden": list(chosen.hidden), "image_shape": list(shape)}})
        bases.append((chosen, model_info, measured_levels(model_info, chosen)))
    base_choice = None
    if len(bases) == 2:
        gain = linear_gain(bases[1][2], bases[0][2])
        keep = 0 if gain is not None and gain > 0 else 1
        base_choice = {"kept": "linear" if keep == 0 else "vae",
                       "linear_gain_db": None if gain is None else round(gain, 2),
                       "levels": {what: [[round(lv.measured["bytes_per_image"], 2),
                                          round(lv.measured["psnr_db"], 2)] for lv in lvs]
                                  for what, (_, _, lvs) in zip(("linear", "vae"), bases)}}
        say(f"base model: the {'linear model' if keep == 0 else 'VAE'} (the linear model "
            + ("costs more than every VAE level" if gain is None else f"{gain:+.2f} dB")
            + " at the VAE levels' bytes on validation)")
        why += ("; the linear model kept over the VAE" if keep == 0
                else "; the VAE kept over the linear model")
        bases = [bases[keep]]
    chosen, vae, levels = bases[0]
    seconds["vae"] = round(time.monotonic() - stage_started - sum(levels_seconds), 1)
    seconds["levels"] = round(sum(levels_seconds), 1)
    default = default_level(levels)
    family = Family(name, name, None, default)
    zoo = Zoo().with_family(family, [vae], levels)

    # the pixel model over level 1, for lossless and max-error files
    stage_started = time.monotonic()

    def pixel_steps(done: int, total: int) -> None:
        if progress:
            progress("pixel model", done, total)

    candidates = []
    if pixel_model in ("auto", "table"):
        # the table models (residual layout 4), counted in seconds (no training loop): a
        # plain one and, for colour, one after the subtract-green transform (lossless
        # files only), each with the pseudo-count weight that codes the validation
        # images best; before the network, whose deadline is the stage's end
        counted = train_images[: max(1, TABLE_VALUES // shapes.values(shape))]
        kinds = {"table": "none"}
        if shapes.channels(shape) >= 3:
            kinds["table-sg"] = "subtract-green"
        for what, transform in kinds.items():
            candidates.append((what, ModelInfo.in_memory(
                f"{name}.{what}", *tablemodel.fit_pixel_model(
                    counted, 1, vae.model_id.hex(), transform=transform,
                    valid=valid_images[:TABLE_WEIGHT_SAMPLE]))))
    if pixel_model in ("auto", "network"):
        # the predictor the images differ least from (layout 3), or, for grayscale images
        # a predictor helps too little (drawings of few tones, clothes), a model of the
        # values (layouts 1 and 2; pixel.PREDICTIVE_SHARE)
        kind, entropies = choose_predictor(train_images, values=not colour)
        say(f"pixel model: {kind} (entropy: " + ", ".join(
            f"{k} {v:.2f}" for k, v in entropies.items()) + " bits a value)")
        predictor = None if kind == VALUES else kind
        tensors, meta = train_pixel_model(train_images, zoo=zoo, base_level=1, family=name,
                                          epochs=pixel_epochs, qat_epochs=pixel_qat_epochs,
                                          seed=seed, log=log,
                                          time_budget=plan.until_end_of("pixel model"),
                                          max_images=plan.pixel_images, progress=pixel_steps,
                                          predictor=predictor)
        meta["predictor_entropies"] = entropies  # bits a value, what chose it
        candidates.append(("network", ModelInfo.in_memory(f"{name}.pixel", tensors, meta)))
    seconds["pixel_model"] = round(time.monotonic() - stage_started, 1)

    # the checks: exact round trip, per-image figures, every level against the mean image
    stage_started = time.monotonic()
    # with "auto", the family keeps the pixel model that codes its validation images in
    # fewer bytes, at each max error compared (both where each wins somewhere)
    tried, sizes = compare_pixel_models(name, vae, candidates, levels, default, valid_images)
    ranges = pixel_model_ranges(sizes)
    kept = ranges[0][1]
    lossless, pixel, zoo = tried[kept]
    kept_models = [tried[what][1] for what in dict.fromkeys(what for _, what in ranges)]
    say(f"pixel model: the {kept} (" + ", ".join(
        f"{what} {8 * sizes[what][0] / (shape[0] * shape[1]):.3f}" for what in tried)
        + " bits a pixel on validation)"
        + ("" if len(kept_models) == 1 else "; --max-error " + ", ".join(
            f"{k}+ the {what}" for k, what in ranges[1:]) + ": both kept"))
    if not np.array_equal(codec.decode(lossless, zoo=zoo), valid_images):
        raise AssertionError("the trained pixel model does not round-trip")  # a bug
    if progress:
        progress("checks", 1, 2)
    mean_psnr = mean_image_psnr(train_images, valid_images)
    problems = check_levels(levels, mean_psnr)
    quantiles = _psnr_quantiles(zoo, name, valid_images)
    if progress:
        progress("checks", 2, 2)
    seconds["checks"] = round(time.monotonic() - stage_started, 1)
    seconds["total"] = round(time.monotonic() - started, 1)
    torch = import_torch()
    validation = {
        "images": len(valid_images),
        "levels": {str(lv.level): {"bytes_per_image": round(lv.measured["bytes_per_image"], 2),
                              "psnr_db": round(lv.measured["psnr_db"], 2)} for lv in levels},
        "mean_image_psnr_db": round(mean_psnr, 2),
        "lossless_bytes_per_image": round(len(lossless) / len(valid_images), 2),
        # the pixel models tried: bytes per image at each max error, which are kept
        "pixel_model_choice": {"kept": kept, "max_error_images": min(
            len(valid_images), MAX_ERROR_SAMPLE), "ranges": ranges, "bytes_per_image": {
                what: {str(k): round(v, 2) for k, v in by_k.items()}
                for what, by_k in sizes.items()}},
        # per pixel, every channel of it together (24 raw bits for RGB)
        "lossless_bits_per_pixel": round(
            8 * len(lossless) / (len(valid_images) * shape[0] * shape[1]), 4),
        "psnr_db_per_image": quantiles,
        "checks": {"passed": not problems, "problems": problems},
    }
    family = Family(name, name, pixel.name, default, {
        "data": {**(data or {}), "train_images": len(train_images),
                 "validation_images": len(valid_images), "split_seed": seed},
        "validation": validation,
        "recipe": chosen.to_dict(),
        "recipe_choice": why,
        **({} if base_choice is None else {"base_model_choice": base_choice}),
        "time_budget": time_budget,
        "plan_seconds": {stage: round(t, 1) for stage, t in plan.stages.items()},
        "train_seconds": seconds,
        "trained_with": {"vaecodec": __version__, "torch": torch.__version__,
                         "python": platform.python_version(),
                         "threads": torch.get_num_threads(), "device": device},
        **({} if len(kept_models) == 1 else {"pixel_models": [
            [k, tried[what][1].name] for k, what in ranges]}),
    })
    models = [vae, *kept_models]
    return Trained(family, models, levels, families.to_bytes(family, models, levels), problems)


def _psnr_quantiles(zoo: Zoo, name: str, images: np.ndarray) -> dict:
    """Per-image PSNR at the default level on the validation images: what the model
    achieves on data like its own (the reference for warning about other data)."""
    decoded = codec.decode(codec.encode(images, model=name, zoo=zoo), zoo=zoo)
    per_image = metrics.psnr_per_image(images, decoded)
    return {f"p{q}": round(float(np.percentile(per_image, q)), 2) for q in (1, 5, 50)}
