"""Fitting the quality levels, and the rule that keeps released levels as they are.

A level is a (model, quantization step) with a prior fitted on the training split's
symbols, measured on the test split through the real codec (``eval.evaluate``). Files
name a level by number, so a released level must never change: ``release_levels`` keeps
the levels already in a levels file byte for byte (their priors are not refitted, since a
refit on another machine could differ in a count) and fits only the new ones.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from ..core import pixels, quantize
from ..core.entropy import fit_prior
from ..errors import ReleasedLevelError
from ..eval.evaluate import measure_level
from ..fsio import atomic_write_bytes
from ..zoo import Level, Zoo
from ..zoo.levels import read_rows

# The MNIST family's levels: (model, quantization step) per level, in order of quality
# (PSNR on the test split).
MNIST_LEVELS: tuple[tuple[str, float], ...] = (
    ("vae-default", 1.0),
    ("vae-default", 0.65),
    ("vae-default", 0.4),
    ("vae-default", 0.2),  # the default level: vaecodec 1.0's default model and step
    ("vae-mse-s05", 0.3),
    ("vae-mse-s05", 0.1),
    # vaecodec 1.3: the model trained on shifted digits; level 7 beats levels 5 and 6 on
    # both rate and PSNR, which stay for the files that name them
    ("vae-mse-s05-aug1", 0.2),
    ("vae-mse-s05-aug1", 0.1),
    ("vae-mse-s05-aug1", 0.05),
    # after 2.0.0: rate-distortion-trained models (docs/notes/training.md): at each level's
    # bytes, 0.6 to 1.3 dB above the curve of the levels before them
    ("vae-rd-s04-aug1", 1.1),
    ("vae-rd-s04-aug1", 0.8),
    ("vae-rd-s04-aug1", 0.5),
    ("vae-rd-s015-aug1", 0.95),
    # the cheapest level, and with encode(search=True) 4.9 B at 20.6 dB (docs/notes/training.md)
    ("vae-rd-s04-aug1", 1.25),
)


def fit_levels(specs: Sequence[tuple[str, float]], train_images: np.ndarray,
               test_images: np.ndarray, zoo: Zoo | None = None, first: int = 1) -> list[Level]:
    """For each (model name, step) of ``specs``, in order as levels ``first``, ``first +
    1``, ...: the prior fitted on ``train_images``' symbols, and the figures measured on
    ``test_images`` through the real encoder (whole files, no names)."""
    zoo = Zoo.installed() if zoo is None else zoo
    unit = pixels.to_unit(train_images)
    means: dict[bytes, np.ndarray] = {}  # training latents, once per model
    fitted = []
    for number, (model, step) in enumerate(specs, first):
        info = zoo.find(model)
        if info.model_id not in means:
            means[info.model_id] = zoo.vae(info).encode_mean(unit)
        prior = fit_prior(quantize.quantize(means[info.model_id], step))
        fitted.append(Level(number, info.name, info.model_id, step, prior))
    zoo = zoo.with_levels(*fitted)
    return [Level(lv.level, lv.model, lv.model_id, lv.quant_step, lv.prior,
                  measure_level(lv, test_images, zoo)) for lv in fitted]


def levels_to_fit(released: list[dict], specs: Sequence[tuple[str, float]]) -> int:
    """How many of ``specs`` the released rows already hold (they must be its first ones,
    unchanged); raises ReleasedLevelError when a released level would change or go."""
    if len(released) > len(specs):
        raise ReleasedLevelError(f"{len(released)} levels are released, the list has only "
                                 f"{len(specs)}: a released level cannot be dropped")
    for row, (model, step) in zip(released, specs):
        if (row["model"], row["quant_step"]) != (model, step):
            raise ReleasedLevelError(
                f"level {row['level']} is {row['model']} step {row['quant_step']}, the list "
                f"says {model} step {step}; a released level cannot change: add a new one")
    return len(released)


def release_levels(path: Path, specs: Sequence[tuple[str, float]],
                   load_images: Callable[[str], np.ndarray], zoo: Zoo | None = None) -> list[Level]:
    """Fit the levels of ``specs`` that the levels file at ``path`` lacks and append them,
    keeping the released ones byte for byte. ``load_images(split)`` gives the "train" and
    "test" images, and is called only when there is something to fit. Returns the new
    levels (none when the file already holds every level)."""
    path = Path(path)
    released = read_rows(path) if path.is_file() else []
    done = levels_to_fit(released, specs)
    if done == len(specs):
        return []
    new = fit_levels(specs[done:], load_images("train"), load_images("test"), zoo, done + 1)
    text = json.dumps({"levels": released + [lv.to_row() for lv in new]}, indent=1) + "\n"
    atomic_write_bytes(path, text.encode("utf-8"), force=True)
    return new
