"""Concurrent appends to one archive, in real processes: does every run that reports
success keep its images, and does a run that fails add nothing?

    python benchmarks/concurrent_appends.py --writers 2 4 8 --rounds 50

Each round makes a 200-image archive, then starts N processes at once, each appending 40
distinct images under names of its own with ``vaecodec.open(path, "a")``; then checks the
archive: every image of every process that exited 0 is there (by name, and its pixels
equal those of a single-writer encode), no image of a process that failed, and
``verify()`` passes. Prints one line per N and a JSON summary.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import vaecodec
from vaecodec import images as image_files

REPO = Path(__file__).resolve().parent.parent
CHILD = """
import sys
import numpy as np
import vaecodec
path, tag, batch = sys.argv[1], sys.argv[2], np.load(sys.argv[3])
with vaecodec.open(path, "a") as archive:
    archive.write(batch, names=[f"{tag}/{i:03d}.png" for i in range(len(batch))])
"""


def one_round(folder: Path, writers: int, base: np.ndarray, batches: list[Path]) -> dict:
    path = folder / "a.vaez"
    path.unlink(missing_ok=True)
    with vaecodec.open(path, "w") as archive:
        archive.write(base, names=[f"base/{i:03d}.png" for i in range(len(base))])
    runs = [subprocess.Popen([sys.executable, "-c", CHILD, str(path), f"w{k}", str(batches[k])],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            for k in range(writers)]
    codes = [run.wait() for run in runs]
    with vaecodec.open(path) as archive:
        names = set(archive.names)
        ok = archive.verify().ok
        kept = lost = stray = 0
        for k, code in enumerate(codes):
            mine = {f"w{k}/{i:03d}.png" for i in range(40)}
            if code == 0:
                kept += len(mine & names)
                lost += len(mine - names)
            else:
                stray += len(mine & names)
        count = len(archive)
    return {"succeeded": codes.count(0), "failed": len(codes) - codes.count(0),
            "images_kept": kept, "images_lost": lost, "failed_runs_images": stray,
            "verify_ok": ok, "count": count, "expected": len(base) + 40 * codes.count(0)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    pixels, _, _ = image_files.read_images(image_files.collect([REPO / "samples" / "digits"]),
                                           (28, 28))
    summary = {}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        batches = []
        for k in range(max(args.writers)):
            batch = folder / f"batch{k}.npy"
            np.save(batch, np.roll(pixels[:40], k, axis=2))
            batches.append(batch)
        for writers in args.writers:
            start = time.perf_counter()
            rounds = [one_round(folder, writers, pixels, batches) for _ in range(args.rounds)]
            bad = [r for r in rounds if r["images_lost"] or r["failed_runs_images"]
                   or not r["verify_ok"] or r["count"] != r["expected"]]
            summary[writers] = {"rounds": args.rounds, "bad_rounds": len(bad),
                                "runs_succeeded": sum(r["succeeded"] for r in rounds),
                                "runs_failed": sum(r["failed"] for r in rounds),
                                "images_lost": sum(r["images_lost"] for r in rounds),
                                "seconds": round(time.perf_counter() - start, 1)}
            s = summary[writers]
            print(f"{writers} writers x {args.rounds} rounds: {s['runs_succeeded']} runs "
                  f"succeeded, {s['runs_failed']} failed, {s['images_lost']} images of "
                  f"successful runs lost, {len(bad)} bad rounds ({s['seconds']} s)",
                  flush=True)
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
