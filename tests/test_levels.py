"""Quality levels: released levels stay as they are (files name a level by number), and a
level being fitted is measured through the codec without being installed."""

from __future__ import annotations

import json

import numpy as np
import pytest

import vaecodec
from vaecodec.train import levels as fitting
from vaecodec.zoo import levels as level_files
from vaecodec.zoo.models import checkpoint_dirs


def shipped_path():
    return next(d / "levels.json" for d in checkpoint_dirs() if (d / "levels.json").is_file())


def no_data(split):
    raise AssertionError(f"nothing should be fitted, yet the {split} images were asked for")


def test_shipped_levels_are_the_release_list_in_order():
    rows = level_files.read_rows(shipped_path())
    assert [(r["model"], r["quant_step"]) for r in rows] == list(fitting.MNIST_LEVELS)
    assert [r["level"] for r in rows] == list(range(1, len(rows) + 1))


def test_a_complete_file_is_left_alone(tmp_path):
    out = tmp_path / "levels.json"
    out.write_bytes(shipped_path().read_bytes())
    before = out.read_bytes()
    assert fitting.release_levels(out, fitting.MNIST_LEVELS, no_data) == []
    assert out.read_bytes() == before


@pytest.mark.parametrize("change", ["step", "model", "extra"])
def test_a_released_level_cannot_be_changed(tmp_path, change):
    rows = level_files.read_rows(shipped_path())
    if change == "step":
        rows[0]["quant_step"] = 0.5
    elif change == "model":
        rows[-1]["model"] = "vae-seed"
    else:
        rows.append(dict(rows[-1], level=len(rows) + 1))
    out = tmp_path / "levels.json"
    out.write_text(json.dumps({"levels": rows}), encoding="utf-8")
    before = out.read_bytes()
    with pytest.raises(vaecodec.ReleasedLevelError, match="cannot change|cannot be dropped"):
        fitting.release_levels(out, fitting.MNIST_LEVELS, no_data)
    assert out.read_bytes() == before


def test_new_levels_are_appended_and_measured_without_touching_released_ones(
        tmp_path, sample_images):
    """A level list one longer than the file: only the new level is fitted (on the images
    given), measured through the codec with a zoo that holds it, and appended; the released
    rows keep their bytes."""
    shipped = level_files.read_rows(shipped_path())
    out = tmp_path / "levels.json"
    out.write_text(json.dumps({"levels": shipped[:2]}, indent=1) + "\n", encoding="utf-8")
    specs = fitting.MNIST_LEVELS[:2] + (("vae-seed", 0.3),)
    asked = []

    def images(split):
        asked.append(split)
        return sample_images[:150] if split == "train" else sample_images[150:]

    new = fitting.release_levels(out, specs, images)
    assert asked == ["train", "test"] and [lv.level for lv in new] == [3]
    rows = level_files.read_rows(out)
    assert rows[:2] == shipped[:2] and rows[2]["model"] == "vae-seed"
    measured = new[0].measured
    assert measured["images"] == 50 and 15 < measured["psnr_db"] < 30
    # the fitted level is usable through a zoo that holds it, not installed
    zoo = vaecodec.Zoo.installed().with_levels(*level_files.read_levels(out))
    data = vaecodec.encode(sample_images[150:], quality=3, zoo=zoo)
    assert len(data) == pytest.approx(measured["bytes_per_image"] * 50)
    assert vaecodec.read_info(data).level == 3
    assert np.array_equal(vaecodec.decode(data, zoo=zoo),
                          vaecodec.decode(vaecodec.encode(sample_images[150:], quant_step=0.3,
                                                          model="vae-seed")))
    # the installed zoo still has its own level 3
    assert vaecodec.Zoo.installed().level(3).model == "vae-default"
