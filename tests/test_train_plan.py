"""The checks a trained family must pass, and the time plan of ``vaecodec train`` (numpy
only: no torch needed)."""

from __future__ import annotations

import time

import numpy as np
import pytest

from vaecodec.train import plan
from vaecodec.train.family import check_levels, mean_image_psnr
from vaecodec.train.recipes import AUTO_MAX_STEPS, AUTO_MIN_STEPS, auto_recipe
from vaecodec.zoo import Level


def levels(*rows):
    return [Level(i, "m", b"", 1.0, {}, {"bytes_per_image": b, "psnr_db": p})
            for i, (b, p) in enumerate(rows, 1)]


def test_a_useful_family_passes():
    assert check_levels(levels((4, 18.0), (6, 19.5), (9, 20.4), (12, 20.45)), 12.0) == []


def test_levels_flat_at_the_mean_image_fail_on_both_counts():
    """What issue 28 saw: 0.7 to 8.6 B/image, the same picture."""
    problems = check_levels(levels((0.7, 11.0), (3, 11.2), (8.6, 11.3)), 10.9)
    assert len(problems) == 2
    assert "levels 1 (11.0 dB at 0.7 B/image), 2 (11.2 dB at 3.0 B/image), 3 (11.3 dB at " \
        "8.6 B/image) do not beat the mean image (10.9 dB) by 1 dB" == problems[0]
    assert problems[1].startswith("quality does not rise with bytes: 0.7 to 8.6 B/image")


def test_a_level_that_costs_more_for_less_fails():
    problems = check_levels(levels((4, 18.0), (6, 20.0), (9, 19.5)), 12.0)
    assert problems == ["level 3 costs more than level 2 (9.0 against 6.0 B/image) for a "
                        "lower PSNR (19.5 against 20.0 dB)"]


def test_one_weak_level_is_named():
    problems = check_levels(levels((2, 12.5), (6, 18.0), (9, 19.0)), 12.0)
    assert problems == ["level 1 (12.5 dB at 2.0 B/image) does not beat the mean image "
                        "(12.0 dB) by 1 dB"]


def test_the_mean_image_psnr_is_that_of_the_rounded_mean():
    train = np.array([np.full((2, 2), 10), np.full((2, 2), 20)], np.uint8)
    valid = np.full((1, 2, 2), 25, np.uint8)
    assert mean_image_psnr(train, valid) == pytest.approx(10 * np.log10(255**2 / 100))


def test_the_auto_recipe_counts_steps_not_epochs_and_shifts_small_sets():
    few, why = auto_recipe(1000, (28, 28))
    assert few.steps == AUTO_MIN_STEPS and few.shift == 1 and few.shift_fill == "edge"
    assert few.distortion == "mse" and few.kl_warmup > 0
    assert "1000 training images of 28x28" in why and "shifted" in why
    many, _ = auto_recipe(1_000_000, (32, 32))
    assert many.steps == AUTO_MAX_STEPS and many.shift == 0


def test_a_plan_shares_the_budget_and_keeps_the_order_of_the_stages():
    started = time.monotonic() - 10  # ten seconds of reading
    p = plan.make_plan(600, started, 5000, 500, 784, 6)
    assert list(p.stages) == ["reading", "VAE", "levels", "pixel model", "checks"]
    assert p.stages["reading"] == pytest.approx(10, abs=1)
    assert sum(p.stages.values()) == pytest.approx(600 * (1 - plan.MARGIN), abs=1)
    assert p.stages["VAE"] > p.stages["pixel model"] > p.stages["levels"]
    assert p.describe().startswith("plan for 600 s: reading 10 s, VAE ")
    # the time a stage may take from now: what is left less the stages after it
    after_vae = p.stages["levels"] + p.stages["pixel model"] + p.stages["checks"]
    assert p.until_end_of("VAE") == pytest.approx(p.left() - after_vae, abs=0.5)
    assert p.until_end_of("checks") == pytest.approx(p.left(), abs=0.5)


def test_a_plan_samples_the_pixel_model_s_images_to_fit_memory_and_time():
    p = plan.make_plan(None, time.monotonic(), 1_000_000, 5000, 1024, 6)
    assert p.pixel_images == plan.MAX_PIXEL_MODEL_PIXELS // 1024 and p.left() is None
    assert p.describe().startswith("no time budget")
    short = plan.make_plan(60, time.monotonic(), 1_000_000, 5000, 1024, 6)
    features = plan.SECONDS_PER_MPIXEL["features"] * short.pixel_images * 1024 / 1e6
    assert features <= short.stages["pixel model"] / 2 + 1e-6


def test_a_budget_spent_before_the_plan_leaves_every_stage_nothing_but_never_negative():
    p = plan.make_plan(5, time.monotonic() - 100, 1000, 100, 784, 6)
    assert p.stages["VAE"] == 0 and p.until_end_of("VAE") == 0


def test_a_short_budget_measures_fewer_validation_images():
    long = plan.make_plan(3600, time.monotonic(), 50_000, 5000, 1024, 6)
    short = plan.make_plan(60, time.monotonic(), 50_000, 5000, 1024, 6)
    assert long.measured_images == 5000
    assert plan.MIN_MEASURED <= short.measured_images < 5000
    assert short.stages["levels"] + short.stages["checks"] <= 0.2 * 60


def test_with_a_time_budget_the_auto_recipe_trains_for_what_fits():
    recipe, why = auto_recipe(1000, (28, 28), time_budget=600)
    assert recipe.steps == AUTO_MAX_STEPS and "as many steps as fit" in why


def test_the_auto_network_narrows_for_images_of_many_values():
    """1024-512 up to 1,024 values (28x28, 32x32 grayscale), 512-256 above (32x32 RGB):
    what the measurements of docs/notes/training.md#colour chose."""
    assert auto_recipe(5000, (28, 28))[0].hidden == (1024, 512)
    assert auto_recipe(5000, (32, 32))[0].hidden == (1024, 512)
    assert auto_recipe(5000, (32, 32, 3))[0].hidden == (512, 256)
    assert auto_recipe(5000, (64, 64), 600)[0].hidden == (512, 256)
