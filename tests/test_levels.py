"""scripts/fit_levels.py keeps released levels as they are (files name a level by number)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from vaecodec import checkpoints

REPO = Path(__file__).resolve().parents[1]


def load_script():
    spec = importlib.util.spec_from_file_location("fit_levels", REPO / "scripts" / "fit_levels.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def shipped_rows() -> list[dict]:
    folder = next(d for d in checkpoints.checkpoint_dirs() if (d / "levels.json").is_file())
    return json.loads((folder / "levels.json").read_text(encoding="utf-8"))["levels"]


def test_shipped_levels_are_the_scripts_levels_in_order():
    rows = shipped_rows()
    assert [(r["model"], r["quant_step"]) for r in rows] == load_script().LEVELS
    assert [r["level"] for r in rows] == list(range(1, len(rows) + 1))


def test_a_complete_file_is_left_alone(tmp_path, capsys):
    out = tmp_path / "levels.json"
    text = json.dumps({"levels": shipped_rows()}, indent=1) + "\n"
    out.write_text(text, encoding="utf-8")
    load_script().main(["--data", str(tmp_path / "no-mnist"), "--out", str(out)])
    assert "nothing to fit" in capsys.readouterr().out
    assert out.read_text(encoding="utf-8") == text


@pytest.mark.parametrize("change", ["step", "model", "extra"])
def test_a_released_level_cannot_be_changed(tmp_path, change):
    rows = shipped_rows()
    if change == "step":
        rows[0]["quant_step"] = 0.5
    elif change == "model":
        rows[-1]["model"] = "vae-seed"
    else:
        rows.append(dict(rows[-1], level=len(rows) + 1))
    out = tmp_path / "levels.json"
    out.write_text(json.dumps({"levels": rows}), encoding="utf-8")
    before = out.read_bytes()
    with pytest.raises(SystemExit, match="cannot change|LEVELS only"):
        load_script().main(["--data", str(tmp_path / "no-mnist"), "--out", str(out)])
    assert out.read_bytes() == before
