"""The rate-distortion benchmark on 50 sample digits: JSON shape and sane numbers."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vaecodec.eval import benchmark

REPO = Path(__file__).resolve().parent.parent


KEYS = {"family", "setting", "param", "classical", "lossless", "exact", "bytes_total",
        "bytes_per_image", "bits_per_pixel", "psnr_db", "psnr_mean_db", "ssim",
        "max_abs_error", "encode_images_per_s", "decode_images_per_s", "group"}


# The run of every codec (the tests marked slow) takes a while; a small run of two stands
# in for it in the default suite.
def test_a_small_run_writes_the_json_schema(sample_images):
    res, kept = benchmark.run(sample_images[:4], ["png", "jpeg", "zstd"], "sample digits",
                              log=lambda s: None)
    res = json.loads(json.dumps(res))
    assert res["schema"] == benchmark.SCHEMA
    assert res["dataset"] == {"source": "sample digits", "count": 4, "image_shape": [28, 28]}
    assert {p["family"] for p in res["points"]} == {"PNG", "JPEG", "zstd (raw pixels)"}
    for p in res["points"]:
        assert set(p) == KEYS
        assert p["bytes_per_image"] == pytest.approx(p["bytes_total"] / 4)
    png = next(p for p in res["points"] if p["family"] == "PNG")
    assert png["exact"] and png["max_abs_error"] == 0


@pytest.fixture(scope="module")
def results(sample_images):
    res, kept = benchmark.run(sample_images[:50], ["vaecodec", "vaecodec-search",
                                                     "vaecodec-residual", "png", "jpeg", "zstd"],
                              "sample digits", log=lambda s: None)
    return json.loads(json.dumps(res)), kept  # what a reader of the JSON file sees


@pytest.mark.slow
def test_json_shape(results):
    res, kept = results
    assert res["schema"] == benchmark.SCHEMA
    assert res["dataset"] == {"source": "sample digits", "count": 50, "image_shape": [28, 28]}
    for p in res["points"]:
        assert set(p) == KEYS
        assert p["bytes_per_image"] == pytest.approx(p["bytes_total"] / 50)
        assert p["bits_per_pixel"] == pytest.approx(8 * p["bytes_per_image"] / 784)
    families = {p["family"] for p in res["points"]}
    assert {"PNG", "JPEG", "zstd (raw pixels)", "vaecodec levels", "vaecodec levels (zstd)",
            "vaecodec vae-default (steps, zstd)"} <= families
    steps = [p for p in res["points"] if p["family"] == "vaecodec vae-default (steps, zstd)"]
    assert len(steps) >= 6
    assert len([p for p in res["points"] if p["family"] == "vaecodec levels"]) >= 5
    assert all(v.shape == (16, 28, 28) for v in kept.values())
    # the plot's curve of the levels before the rate-distortion-trained ones
    assert res["earlier_levels"] == {"family": "vaecodec levels", "up_to": 9,
                                     "label": "vaecodec levels 1-9 (2.0.0)"}


@pytest.mark.slow
def test_the_search_points_beat_the_levels_they_search(results):
    res, _ = results
    plain = {p["param"]: p for p in res["points"] if p["family"] == benchmark.LEVELS_FAMILY}
    searched = {p["param"]: p for p in res["points"] if p["family"] == benchmark.SEARCH_FAMILY}
    assert searched.keys() == plain.keys()
    for level, p in searched.items():
        assert p["psnr_db"] > plain[level]["psnr_db"] + 0.3, level
        assert p["bytes_per_image"] < plain[level]["bytes_per_image"] + 1.0, level


@pytest.mark.slow
def test_lossless_codecs_are_exact(results):
    res, _ = results
    for p in res["points"]:
        if p["lossless"]:
            assert p["exact"] and p["psnr_db"] is None and p["max_abs_error"] == 0
            assert p["ssim"] == 1.0


@pytest.mark.slow
def test_more_bytes_never_far_worse(results):
    res, _ = results
    for family in {p["family"] for p in res["points"] if not p["lossless"]}:
        # quality levels are numbered by quality within each series released together
        # (1-9, 10-13, 14; a newer model's level may cost less than an older model's
        # level below it); every other family by its setting's bytes
        levels = family.startswith(benchmark.LEVELS_FAMILY)
        key = "param" if levels else "bytes_per_image"
        pts = [p for p in res["points"] if p["family"] == family]
        series = ([[p for p in pts if benchmark.level_series(p["param"]) == i]
                   for i in range(len(benchmark.LEVEL_SERIES))] if levels else [pts])
        for run in series:
            run = sorted(run, key=lambda p: p[key])
            for cheaper, dearer in zip(run, run[1:]):
                assert dearer["psnr_db"] > cheaper["psnr_db"] - 0.5, family
        for p in pts:
            assert 10 < p["psnr_db"] < 70 and 0 < p["ssim"] <= 1


@pytest.mark.slow
def test_residual_rows_keep_their_bounds_and_beat_png(results):
    res, _ = results
    png = next(p for p in res["points"] if p["family"] == "PNG")
    lossless = next(p for p in res["points"] if p["family"] == "vaecodec lossless")
    assert lossless["exact"] and lossless["bytes_per_image"] < png["bytes_per_image"] / 1.5
    bounded = [p for p in res["points"] if p["family"] == benchmark.RESIDUAL_FAMILY]
    assert [p["param"] for p in bounded] == list(benchmark.MAX_ERRORS)
    for p in bounded:
        assert p["max_abs_error"] <= p["param"]
        assert p["bytes_per_image"] < lossless["bytes_per_image"]
    assert [r["bits_per_pixel"] for r in res["published_lossless"]] == [1.29, 1.4]
    # rate ratios against the lossy levels, the levels with the search and, separately,
    # the error-bounded files
    assert {r["reference"] for r in res["rate_ratios"]} == {
        "vaecodec levels", benchmark.SEARCH_FAMILY, benchmark.RESIDUAL_FAMILY}


@pytest.mark.slow
def test_vaecodec_is_far_smaller_than_png(results):
    res, _ = results
    png = next(p for p in res["points"] if p["family"] == "PNG")
    vae = [p for p in res["points"] if p["family"] == "vaecodec levels"]
    assert max(p["bytes_per_image"] for p in vae) < png["bytes_per_image"] / 5


def test_rate_ratio_interpolation():
    def pt(family, nbytes, psnr, classical=True):
        return {"family": family, "bytes_per_image": nbytes, "psnr_db": psnr,
                "classical": classical, "lossless": False}
    points = [pt("ref", 10, 20, False), pt("ref", 20, 22, False),
              pt("A", 100, 19), pt("A", 200, 23), pt("B", 500, 30), pt("B", 900, 35)]
    rows = {r["family"]: r for r in benchmark.compare_rates(points, "ref")}
    assert rows["A"]["overlap_db"] == [20, 22]
    # at 20 dB: A ~ 100 * 2**(1/4) bytes against 10; at 22 dB: A ~ 100 * 2**(3/4) against 20
    assert rows["A"]["ratio_max"] == pytest.approx(10 * 2 ** 0.25, rel=1e-6)
    assert rows["A"]["ratio_min"] == pytest.approx(5 * 2 ** 0.75, rel=1e-6)
    assert rows["B"]["overlap_db"] is None and "no PSNR overlap" in rows["B"]["note"]


def test_unknown_codec_is_refused(sample_images):
    with pytest.raises(ValueError, match="unknown codecs"):
        benchmark.run(sample_images[:2], ["gif"], "x", log=lambda s: None)


def script(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "benchmarks" / "rd_benchmark.py"),
                           *map(str, args)], capture_output=True, text=True)


@pytest.mark.slow
def test_script_writes_json_picture_and_plot(tmp_path, sample_dir):
    pytest.importorskip("matplotlib")
    out = tmp_path / "rd.json"
    run = script("--images", sample_dir, "--limit", 40, "--codecs", "vaecodec", "jpeg", "webp",
                 "--json", out, "--picture", tmp_path / "digits.png")
    assert run.returncode == 0, run.stderr
    assert "JPEG" in run.stdout and "the bytes of vaecodec levels" in run.stdout
    res = json.loads(out.read_text())
    assert res["dataset"]["count"] == 40 and res["command"].startswith("python benchmarks/")
    assert script("--from-json", out, "--plot", tmp_path / "rd.png").returncode == 0
    from PIL import Image

    assert Image.open(tmp_path / "rd.png").size[0] > 800
    assert Image.open(tmp_path / "digits.png").size[1] >= 5 * 28 * 3


def test_script_help_lists_every_option():
    run = script("--help")
    assert run.returncode == 0
    for option in ("--data", "--images", "--split", "--limit", "--json", "--plot", "--codecs",
                   "--picture", "--from-json"):
        assert option in run.stdout
    assert script("--codecs", "gif").returncode == 2
