"""Train families as a user does (``vaecodec train ... --time-budget``) on several data
sets and measure each on held-out images beside the classical codecs (issue 28).

    python benchmarks/bench_train.py --budget 600 --json build/bench_train.json

Sets: Fashion-MNIST's training split at 1,000, 5,000 and 60,000 images (measured on the
first --test images of its test split), and the glyphs and photograph tiles of
``tools/make_train_sets.py`` (measured on their test splits, drawn apart from training;
built into --sets-dir when they are not there).
Per set it prints the whole run's wall time, the mean image's PSNR, each level's bytes and
PSNR, the lossless bits per pixel, --max-error 4, and the classical codecs (WebP, JPEG,
AVIF, JPEG XL at several qualities; PNG, WebP lossless, JPEG XL lossless, lzma), then
the issue's checks:
best level >= mean image + 6 dB, PSNR rising with bytes, the levels reaching WebP quality
0's PSNR at >= 3x fewer bytes, --max-error 4 below WebP at its PSNR, lossless at or below
the best classical lossless codec.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

SETS = ("fashion-1k", "fashion-5k", "fashion-60k", "glyphs", "tiles")
GROUPS = ("vaecodec", "vaecodec-residual", "png", "webp-lossless", "jxl-lossless", "jpeg",
          "webp", "avif", "jxl", "lzma")


def load_set(name: str, data: Path, sets: Path, test: int, limit: int | None
             ) -> tuple[np.ndarray, np.ndarray]:
    """(training images, test images) of one set."""
    if name.startswith("fashion-"):
        from vaecodec.data import mnist

        count = {"1k": 1000, "5k": 5000, "60k": 60000}[name.split("-")[1]]
        train = mnist.mnist_images(data, "train", "FashionMNIST")[:count]
        held = mnist.mnist_images(data, "test", "FashionMNIST")
    else:
        train, held = np.load(sets / f"{name}-train.npy"), np.load(sets / f"{name}-test.npy")
    if limit:
        train = train[:limit]
    return train, held[:test]


def train_family(train: np.ndarray, name: str, budget: float, work: Path,
                 extra: list[str]) -> dict:
    """Run ``vaecodec train`` on the images as a user would; returns its wall time, exit
    status and output."""
    source = work / f"{name}.npy"
    np.save(source, train)
    command = [sys.executable, "-m", "vaecodec", "train", str(source), "--name", name,
               "--time-budget", str(budget), "--force", *extra]
    started = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    return {"command": " ".join(["vaecodec", *command[3:]]), "wall_s": time.monotonic() - started,
            "returncode": done.returncode, "stdout": done.stdout, "stderr": done.stderr}


def _at_psnr(points: list[dict], psnr: float) -> float | None:
    """Bytes per image along the efficient frontier of ``points`` at ``psnr``,
    interpolated in log bytes; None where the curve does not reach it."""
    from vaecodec.eval.benchmark import frontier

    best = [(p["bytes_per_image"], p["psnr_db"]) for p in frontier(points)]
    for (b0, p0), (b1, p1) in zip(best, best[1:]):
        if p0 <= psnr <= p1:
            t = (psnr - p0) / (p1 - p0)
            return float(np.exp(np.log(b0) + t * (np.log(b1) - np.log(b0))))
    if best and best[0][1] >= psnr:
        return best[0][0]
    return None


def summarize(name: str, train_count: int, run: dict, results: dict, mean_psnr: float) -> dict:
    from vaecodec.train.family import DIP_DB

    points = results["points"]
    levels = [p for p in points if p["family"] == "vaecodec levels"]
    rows = sorted(((p["bytes_per_image"], p["psnr_db"]) for p in levels), key=lambda r: r[0])
    webp = [p for p in points if p["family"] == "WebP"]
    webp_q0 = next((p for p in webp if p["param"] == 0), None)
    lossless_classical = [p for p in points if p["classical"] and p["lossless"]]
    best_classical = min(lossless_classical, key=lambda p: p["bits_per_pixel"], default=None)
    ours_lossless = next((p for p in points if p["family"] == "vaecodec lossless"), None)
    k4 = next((p for p in points if p["family"] == "vaecodec max-error" and p["param"] == 4),
              None)
    vae_curve = levels + [p for p in points if p["family"] == "vaecodec max-error"]
    out = {
        "set": name, "train_images": train_count, "test_images": results["dataset"]["count"],
        "train_wall_s": round(run["wall_s"], 1), "train_exit": run["returncode"],
        "mean_image_psnr_db": round(mean_psnr, 2),
        "levels": [(round(b, 2), round(p, 2)) for b, p in rows],
        "best_level_psnr_db": max(p for _, p in rows) if rows else None,
        "rising": all(b[1] >= a[1] - DIP_DB for a, b in zip(rows, rows[1:])),
        "webp_q0": None if webp_q0 is None else (round(webp_q0["bytes_per_image"], 1),
                                                 round(webp_q0["psnr_db"], 2)),
        "lossless_bpp": None if ours_lossless is None else round(
            ours_lossless["bits_per_pixel"], 3),
        "best_classical_lossless": None if best_classical is None else (
            best_classical["family"], round(best_classical["bits_per_pixel"], 3)),
        "max_error_4": None if k4 is None else (round(k4["bytes_per_image"], 1),
                                                round(k4["psnr_db"], 2)),
    }
    if webp_q0 is not None:
        ours = _at_psnr(levels, webp_q0["psnr_db"])
        out["levels_bytes_at_webp_q0_psnr"] = None if ours is None else round(ours, 1)
        out["webp_q0_over_levels"] = None if ours is None else round(
            webp_q0["bytes_per_image"] / ours, 2)
        reach = _at_psnr(vae_curve, webp_q0["psnr_db"])
        out["vaecodec_bytes_at_webp_q0_psnr"] = None if reach is None else round(reach, 1)
    # bytes each classical lossy codec needs / vaecodec's at equal PSNR, median over where
    # the curves overlap (the levels, and the --max-error files, which reach higher)
    for key, reference in (("ratios_vs_levels", "vaecodec levels"),
                           ("ratios_vs_max_error", "vaecodec max-error")):
        out[key] = {row["family"]: round(row["ratio_median"], 2)
                    for row in results["rate_ratios"]
                    if row["reference"] == reference and row.get("ratio_median") is not None}
    if k4 is not None:
        webp_at = _at_psnr(webp, k4["psnr_db"])
        out["webp_bytes_at_max_error_4_psnr"] = None if webp_at is None else round(webp_at, 1)
    return out


def markdown(rows: list[dict]) -> str:
    lines = ["| set | train images | run (s) | mean image dB | levels: B/image @ dB | "
             "WebP q0 B @ dB | levels' B at WebP q0's dB | --max-error 4 B @ dB (WebP B "
             "there) | lossless bpp (best classical) |",
             "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        levels = ", ".join(f"{b:g} @ {p:.1f}" for b, p in r["levels"])
        webp = "-" if r["webp_q0"] is None else f"{r['webp_q0'][0]:g} @ {r['webp_q0'][1]:.1f}"
        at = r.get("levels_bytes_at_webp_q0_psnr")
        at = "not reached" if at is None else f"{at:g} ({r.get('webp_q0_over_levels')}x fewer)"
        k4 = r["max_error_4"]
        k4 = "-" if k4 is None else (f"{k4[0]:g} @ {k4[1]:.1f} "
                                     f"({r.get('webp_bytes_at_max_error_4_psnr') or '-'})")
        best = r["best_classical_lossless"]
        best = "-" if best is None else f"{best[1]:.3f} {best[0]}"
        lines.append(f"| {r['set']} | {r['train_images']} | {r['train_wall_s']:.0f} | "
                     f"{r['mean_image_psnr_db']:.1f} | {levels} | {webp} | {at} | {k4} | "
                     f"{r['lossless_bpp']} ({best}) |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="torchvision's data folder")
    parser.add_argument("--sets-dir", default="build/train-sets",
                        help="tools/make_train_sets.py's output")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=list(SETS))
    parser.add_argument("--budget", type=float, default=600.0, help="--time-budget, seconds")
    parser.add_argument("--test", type=int, default=1000, help="test images per set")
    parser.add_argument("--limit", type=int, help="at most this many training images per set "
                        "(a smoke run)")
    parser.add_argument("--groups", nargs="+", default=list(GROUPS),
                        help="codec groups of vaecodec.eval.benchmark to measure")
    parser.add_argument("--train-args", default="", help="more arguments for vaecodec train")
    parser.add_argument("--json", help="write the results as JSON here")
    args = parser.parse_args(argv)
    from vaecodec.eval import benchmark
    from vaecodec.train.family import mean_image_psnr, split

    sets_dir = Path(args.sets_dir)
    if any(not name.startswith("fashion-") and not (sets_dir / f"{name}-test.npy").exists()
           for name in args.sets):
        sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
        from make_train_sets import build

        build(sets_dir, args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as work_dir:
        work = Path(work_dir)
        os.environ["VAECODEC_MODELS"] = str(work / "store")
        for name in args.sets:
            train, test = load_set(name, Path(args.data), sets_dir, args.test,
                                   args.limit)
            run = train_family(train, name, args.budget, work, args.train_args.split())
            print(f"{name}: {run['command']}: exit {run['returncode']} in "
                  f"{run['wall_s']:.0f} s", flush=True)
            if run["returncode"] != 0:
                print(run["stderr"][-2000:], file=sys.stderr)
                rows.append({"set": name, "train_exit": run["returncode"],
                             "stderr": run["stderr"][-2000:]})
                continue
            # the mean image of what the family trained on (its training split)
            mean_psnr = mean_image_psnr(split(train, 1)[0], test)
            results, _ = benchmark.run(test, args.groups, name, log=lambda line: None,
                                       family=name, published=False)
            row = summarize(name, len(train), run, results, mean_psnr)
            row["train_stderr"] = run["stderr"][-3000:]
            rows.append(row)
            print(json.dumps({k: v for k, v in row.items() if k != "train_stderr"}), flush=True)
    done = [r for r in rows if "levels" in r]
    print(markdown(done))
    if args.json:
        Path(args.json).write_text(json.dumps({"budget_s": args.budget, "rows": rows},
                                             indent=1) + "\n")
    return 0 if len(done) == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
