"""Every benchmark in benchmarks/ runs end to end on a small input (the long set): the
figures in docs/ come from these scripts, so a script that no longer runs is a figure
nobody can reproduce. Sizes here are for speed, not for the figures."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow

# name -> (arguments ({data}: the MNIST root, {tmp}: a scratch folder), whether it writes
# JSON: with --json {tmp}/out.json added, or --out given here)
SMOKE = {
    "bench_archive": (["--data", "{data}", "--images", "5000", "--reads", "20",
                       "--damage-images", "5000", "--flips", "2", "--compress-sizes", "5000",
                       "--repeat", "1", "--work", "{tmp}/work"], True),
    "bench_cli": (["--data", "{data}", "--limit", "300", "--repeat", "1"], True),
    "bench_colour": (["--limit", "50", "--repeat", "1", "--max-errors", "0", "1"],
                     True),
    "bench_dask": (["--data", "{data}", "--images", "8192", "--workers", "1",
                    "--shard-images", "4096", "--repeat", "1", "--cli"], True),
    "bench_labels": (["--data", "{data}", "--limit", "300", "--repeat", "1"], True),
    "bench_learning": (["--data", "{data}", "--levels", "4", "--epochs", "1", "--seeds", "1",
                        "--limit", "500"], True),
    "bench_levels": (["--data", "{data}", "--repeat", "1", "--limit", "200"], False),
    "bench_loader": (["--data", "{data}", "--workers", "1", "--repeat", "1",
                      "--limit", "2000"], True),
    "bench_remote": (["--data", "{data}", "--images", "5000", "--reads", "5",
                      "--workers", "1", "--repeat", "1", "--names"], True),
    "bench_residual": (["--data", "{data}", "--repeat", "1", "--limit", "100",
                        "--max-errors", "0", "4"], True),
    "bench_train": (["--data", "{data}", "--sets", "fashion-1k", "glyphs", "--limit", "300",
                     "--budget", "40", "--test", "50", "--groups", "vaecodec", "webp", "png",
                     "--sets-dir", "{tmp}/sets"], True),
    "bench_search": (["--data", "{data}", "--limit", "20", "--levels", "4"], True),
    "concurrent_appends": (["--writers", "2", "--rounds", "2"], False),
    "guard_rates": (["--data", "{data}", "--repeat", "1", "--limit", "300"], False),
    "rd_benchmark": (["--data", "{data}", "--limit", "40", "--codecs", "vaecodec", "png"],
                     True),
    "step_sweep": (["--data", "{data}", "--limit", "200"], False),
    "hostile_limits": (["--out", "{tmp}/out.json"], False),
    "salvage_campaign": (["--out", "{tmp}/out.json"], False),
}


def test_every_benchmark_has_a_smoke_run():
    assert {p.stem for p in (REPO / "benchmarks").glob("*.py")} == set(SMOKE)


@pytest.mark.parametrize("name", sorted(SMOKE))
def test_a_benchmark_runs_on_a_small_input(name, mnist_root, tmp_path):
    arguments, writes_json = SMOKE[name]
    args = [a.format(data=mnist_root, tmp=tmp_path) for a in arguments]
    if writes_json:
        args += ["--json", str(tmp_path / "out.json")]
    proc = subprocess.run([sys.executable, str(REPO / "benchmarks" / f"{name}.py"), *args],
                          capture_output=True, text=True, timeout=900, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), "printed nothing"
    if writes_json or "{tmp}/out.json" in arguments:
        json.loads((tmp_path / "out.json").read_text())
