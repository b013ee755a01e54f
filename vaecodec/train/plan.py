"""The time plan of ``vaecodec train``: how a ``--time-budget`` is shared between the
stages of a run (reading the images, the VAE, the quality levels, the pixel model, the
checks). Numpy only: no torch needed to read a plan. (The recipe chosen from the data is
``recipes.auto_recipe``.)

The stages after the VAE are sized from a cost per pixel (``SECONDS_PER_MPIXEL``, per
million pixels: cautious estimates, not fitted); the VAE gets what is left. The
budget is a deadline, not an estimate: each stage is given the time the plan left it when
it starts, so a stage that overran is paid for by the ones after it, and the pixel model
(the last to train) trains for what remains before the checks.
"""

from __future__ import annotations

import dataclasses
import time

# Cost of the stages after the VAE, seconds per million pixels, and seconds whatever the
# count: cautious estimates. The runs of benchmarks/bench_train.py spent less (the levels
# of 1,950 32x32 tiles: 3 s where these plan 36 s; docs/data/bench_train_300.json):
SECONDS_PER_MPIXEL = {
    "levels": 4.0,   # one level: fit its prior, code the validation images (two coders), decode
    "checks": 6.0,   # the lossless round trip of the validation images and per-image PSNR
    "features": 3.0,  # the pixel model's base images and features, per training pixel
}
SECONDS_FIXED = {"levels": 0.5, "checks": 1.0}  # per level; once
# the levels and the checks measure at most this share of the budget's worth of validation
# images (at least MIN_MEASURED of them)
MEASURE_SHARE = 0.15
MIN_MEASURED = 200
# the pixel model's share of what the VAE and it are left
PIXEL_SHARE = 0.25
# the pixel model's fixed cost: converting it to integers (``pixel.CONVERSION_SECONDS``)
PIXEL_FIXED_SECONDS = 5.0
# the pixel model holds 42 bytes of features per pixel in memory: at most this many pixels
MAX_PIXEL_MODEL_PIXELS = 24_000_000
# time held back for what the plan cannot see (installing, the last progress lines)
MARGIN = 0.02


@dataclasses.dataclass
class Plan:
    """Seconds per stage and the deadline of the run (``time.monotonic()`` clock)."""

    budget: float | None
    started: float
    stages: dict[str, float]
    pixel_images: int  # training images the pixel model sees
    measured_images: int  # validation images the levels and the checks are measured on

    def deadline(self) -> float | None:
        return None if self.budget is None else self.started + self.budget * (1 - MARGIN)

    def left(self) -> float | None:
        """Seconds left before the deadline (None without a budget)."""
        deadline = self.deadline()
        return None if deadline is None else deadline - time.monotonic()

    def until_end_of(self, stage: str) -> float | None:
        """Seconds the stage may take from now: what is left, less the planned time of the
        stages after it (None without a budget)."""
        left = self.left()
        if left is None:
            return None
        after = list(self.stages)[list(self.stages).index(stage) + 1:]
        return max(0.0, left - sum(self.stages[s] for s in after))

    def describe(self) -> str:
        if self.budget is None:
            return "no time budget: every stage runs its recipe's full schedule"
        parts = ", ".join(f"{stage} {seconds:.0f} s" for stage, seconds in self.stages.items())
        return f"plan for {self.budget:.0f} s: {parts}"


def make_plan(budget: float | None, started: float, train_count: int, valid_count: int,
              image_pixels: int, levels: int) -> Plan:
    """The plan of a run that started at ``started`` (``time.monotonic()``, before the
    images were read) with ``budget`` seconds in all (``image_pixels``: values per
    image, every channel counted)."""
    pixel_images = min(train_count, max(1, MAX_PIXEL_MODEL_PIXELS // image_pixels))
    per_image = (levels * SECONDS_PER_MPIXEL["levels"] + SECONDS_PER_MPIXEL["checks"]) \
        * image_pixels / 1e6
    measured = valid_count
    if budget is not None:
        fixed = levels * SECONDS_FIXED["levels"] + SECONDS_FIXED["checks"]
        fits = int(max(0.0, MEASURE_SHARE * budget - fixed) / per_image)
        measured = min(valid_count, max(MIN_MEASURED, fits))
    mpixels = measured * image_pixels / 1e6
    after_vae = {
        "levels": levels * (SECONDS_FIXED["levels"] + SECONDS_PER_MPIXEL["levels"] * mpixels),
        "pixel model": 0.0,
        "checks": SECONDS_FIXED["checks"] + SECONDS_PER_MPIXEL["checks"] * mpixels,
    }
    spent = time.monotonic() - started
    if budget is None:
        return Plan(None, started, {"reading": spent}, pixel_images, measured)
    left = max(0.0, budget * (1 - MARGIN) - spent - after_vae["levels"] - after_vae["checks"])
    features = SECONDS_PER_MPIXEL["features"] * pixel_images * image_pixels / 1e6
    pixel = max(PIXEL_SHARE * left, min(features * 1.5 + PIXEL_FIXED_SECONDS, left / 2))
    if features > pixel / 2:  # fewer images, so that training has the other half
        pixel_images = max(1, int(pixel_images * (pixel / 2) / features))
    stages = {"reading": spent, "VAE": max(0.0, left - pixel), **after_vae}
    stages["pixel model"] = pixel
    return Plan(budget, started, stages, pixel_images, measured)
