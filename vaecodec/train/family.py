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
from ..core import pixels, quantize
from ..core.entropy import fit_prior
from ..errors import InputError, SettingsError
from ..eval import metrics
from ..eval.evaluate import measure_level
from ..format import family as family_format
from ..pipeline.chunk import DARK_ON_LIGHT, LIGHT_ON_DARK, dark_on_light
from ..zoo import Level, ModelInfo, Zoo, families
from ..zoo.families import Family
from . import import_torch

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


def default_level(levels: list[Level]) -> int:
    """The number of the cheapest measured level within DEFAULT_WITHIN_DB of the best
    level's PSNR."""
    best = max(lv.measured["psnr_db"] for lv in levels)
    close = [lv for lv in levels if lv.measured["psnr_db"] >= best - DEFAULT_WITHIN_DB]
    return min(close, key=lambda lv: (lv.measured["bytes_per_image"], lv.level)).level


def level_steps(recipe) -> tuple[float, ...]:
    """The quantization steps of a family's levels, in order of quality."""
    if recipe.rate == "entropy":
        return tuple(round(f * recipe.rate_step, 6) for f in RD_STEP_FACTORS)
    return STEPS


@dataclasses.dataclass
class Trained:
    family: Family
    models: list[ModelInfo]
    levels: list[Level]
    data: bytes  # the .vaem file


def split(images: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(training, validation) images: a seeded shuffle, 10% (at most 5,000, at least 1)
    held out."""
    order = np.random.default_rng(seed).permutation(len(images))
    held = min(MAX_VALIDATION, max(1, int(round(len(images) * VALIDATION_FRACTION))))
    if len(images) < 2:
        raise InputError("training needs at least 2 images (one is held out)")
    return images[np.sort(order[held:])], images[np.sort(order[:held])]


def train_family(images: np.ndarray, name: str, *, recipe: str = "default",
                 epochs: int | None = None, time_budget: float | None = None,
                 seed: int = 1, device: str = "cpu", pixel_epochs: float = 6.0,
                 pixel_qat_epochs: float = 1.0, data: dict | None = None,
                 log: Callable[[str], None] = print,
                 progress: Callable[..., None] | None = None) -> Trained:
    """Train the family ``name`` on uint8 images (N, H, W) and measure it on a held-out
    split. ``progress(stage, done, total[, note])``: "training" per epoch (with the loss),
    "levels", "pixel model". The pixel model trains ``pixel_epochs``, then
    ``pixel_qat_epochs`` through its integer rounding (quantization-aware, as the shipped
    ``pixel-l1-v2`` and ``pixel-l1-v3``)."""
    import_torch()
    from . import export, loop
    from .pixel import train_pixel_model
    from .recipes import RECIPES, TRAIN_RECIPES

    family_format.check_name(name)
    if recipe not in TRAIN_RECIPES:
        raise SettingsError(f"recipe must be one of {', '.join(TRAIN_RECIPES)}, not {recipe!r}")
    started = time.time()
    # the family's polarity is its images' majority; the others are trained on inverted,
    # as the codec will code them
    light_ground = dark_on_light(images.reshape(len(images), -1), images.shape[1:])
    polarity = (DARK_ON_LIGHT if 2 * light_ground.sum() > len(images)
                else LIGHT_ON_DARK)
    flip = light_ground if polarity == LIGHT_ON_DARK else ~light_ground
    if flip.any():
        images = images.copy()
        images[flip] = 255 - images[flip]
    chosen = RECIPES[recipe]
    chosen = dataclasses.replace(chosen, seed=seed,
                                 epochs=chosen.epochs if epochs is None else int(epochs))
    train_images, valid_images = split(images, seed)
    shape = tuple(images.shape[1:])
    log(f"{len(train_images)} training images, {len(valid_images)} held out for validation, "
        f"{shape[1]}x{shape[0]}")

    def epoch_done(epoch: int, total: int, loss: float) -> None:
        if progress:
            progress("training", epoch, total, f"loss {loss:.1f} nats/image")

    model = loop.train(chosen, train_images, log, device, time_budget, epoch_done)
    vae = ModelInfo.in_memory(name, export.export_weights(model), {
        "kind": "vae",
        "polarity": polarity,
        "architecture": {"type": "mlp-vae", "latent_size": chosen.latent_size,
                         "hidden": list(chosen.hidden), "image_shape": list(shape)},
        "recipe": chosen.to_dict(),
    })
    vae_seconds = time.time() - started

    # the levels: priors fitted on the training latents, figures from the validation split
    levels = fit_priors(vae, level_steps(chosen), train_images)
    family = Family(name, name, None, 1)
    zoo = Zoo().with_family(family, [vae], levels)
    measured = []
    for i, level in enumerate(levels, 1):
        measured.append(dataclasses.replace(
            level, measured=measure_level(level, valid_images, zoo, split="validation",
                                          single_images=100, family=name)))
        if progress:
            progress("levels", i, len(levels))
    levels = measured
    default = default_level(levels)
    family = Family(name, name, None, default)
    zoo = Zoo().with_family(family, [vae], levels)

    # the pixel model over level 1, for lossless and max-error files
    tensors, meta = train_pixel_model(train_images, zoo=zoo, base_level=1, family=name,
                                      epochs=pixel_epochs, qat_epochs=pixel_qat_epochs,
                                      seed=seed, log=log)
    pixel = ModelInfo.in_memory(f"{name}.pixel", tensors, meta)
    family = Family(name, name, pixel.name, default)
    zoo = Zoo().with_family(family, [vae, pixel], levels)
    lossless = codec.encode(valid_images, lossless=True, model=name, zoo=zoo)
    if not np.array_equal(codec.decode(lossless, zoo=zoo), valid_images):
        raise AssertionError("the trained pixel model does not round-trip")  # a bug
    if progress:
        progress("pixel model", 1, 1)
    torch = import_torch()
    validation = {
        "images": len(valid_images),
        "levels": {str(lv.level): {"bytes_per_image": round(lv.measured["bytes_per_image"], 2),
                              "psnr_db": round(lv.measured["psnr_db"], 2)} for lv in levels},
        "lossless_bytes_per_image": round(len(lossless) / len(valid_images), 2),
        "lossless_bits_per_pixel": round(8 * len(lossless) / valid_images.size, 4),
        "psnr_db_per_image": _psnr_quantiles(zoo, name, valid_images),
    }
    family = Family(name, name, pixel.name, default, {
        "data": {**(data or {}), "train_images": len(train_images),
                 "validation_images": len(valid_images), "split_seed": seed},
        "validation": validation,
        "recipe": chosen.to_dict(),
        "train_seconds": {"vae": round(vae_seconds, 1),
                          "total": round(time.time() - started, 1)},
        "trained_with": {"vaecodec": __version__, "torch": torch.__version__,
                         "python": platform.python_version(),
                         "threads": torch.get_num_threads(), "device": device},
    })
    models = [vae, pixel]
    return Trained(family, models, levels, families.to_bytes(family, models, levels))


def _psnr_quantiles(zoo: Zoo, name: str, images: np.ndarray) -> dict:
    """Per-image PSNR at the default level on the validation images: what the model
    achieves on data like its own (the reference for warning about other data)."""
    decoded = codec.decode(codec.encode(images, model=name, zoo=zoo), zoo=zoo)
    per_image = metrics.psnr_per_image(images, decoded)
    return {f"p{q}": round(float(np.percentile(per_image, q)), 2) for q in (1, 5, 50)}
