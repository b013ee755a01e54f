"""Compressing on a local Dask cluster: 1 worker against 2, and the shards against one file.

    python benchmarks/bench_dask.py --data ../shared/data --images 100000 \
        --json docs/data/bench_dask.json

--images MNIST training digits (repeated, shifted) are written as PNG files in folders of
10,000; then for each --workers count a LocalCluster of that many single-threaded worker
processes compresses them (vaecodec.dask.compress, shards of --shard-images), --repeat
times (the cluster's start not included; median). The manifest's images are compared with
`vaecodec compress` of the same folder into one file: they must be byte for byte the same.

With --cli, each run is instead the command a user types, timed whole (Python's start
and the cluster's included): `vaecodec compress FOLDER OUT.json --workers N --quiet`
with the default shard size (or --shard-images when given), and, as the baseline,
`vaecodec compress FOLDER OUT.vaez --quiet`; the runs of each are interleaved.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from dask.distributed import Client, LocalCluster

import vaecodec
import vaecodec.dask

sys.path.insert(0, str(Path(__file__).parent))
from bench_archive import digits, write_pngs  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--shard-images", type=int, default=None,
                        help="files per shard (default: 8192; with --cli, the CLI's own)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--cli", action="store_true",
                        help="time the command line as a user runs it")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vaecodec-dask-"))
    try:
        folder = work / "pngs"
        write_pngs(folder, digits(args.data, args.images))
        if args.cli:
            return command_line(args, folder, work)
        single = work / "single.vaez"
        start = time.perf_counter()
        vaecodec.compress([folder], single)
        single_seconds = time.perf_counter() - start
        rows = []
        for workers in map(int, args.workers.split(",")):
            with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                              dashboard_address=None) as cluster, Client(cluster) as client:
                times = []
                for k in range(args.repeat):
                    manifest = work / f"w{workers}-{k}.json"
                    start = time.perf_counter()
                    result = vaecodec.dask.compress([folder], manifest, client,
                                                    shard_images=args.shard_images or 8192)
                    times.append(time.perf_counter() - start)
            seconds = statistics.median(times)
            rows.append({"workers": workers, "seconds": round(seconds, 2),
                         "images_per_s": round(result.count / seconds),
                         "shards": result.shards, "bytes": result.size,
                         "runs": [round(t, 2) for t in times]})
            print(json.dumps(rows[-1]), flush=True)
        with vaecodec.open(single) as one, vaecodec.open(manifest) as many:
            exact = bool(np.array_equal(one[:], many[:])) and one.names == many.names
        speedup = rows[-1]["images_per_s"] / rows[0]["images_per_s"]
        summary = {"images": args.images, "single_file_seconds": round(single_seconds, 2),
                   "speedup": round(speedup, 2), "manifest_equals_single_file": exact}
        print(json.dumps(summary), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": " ".join(["python", "benchmarks/bench_dask.py", *sys.argv[1:]]),
             "rows": rows, **summary}, indent=2) + "\n")


def command_line(args, folder: Path, work: Path) -> None:
    """The --cli runs: each --workers count and the single-file baseline, interleaved."""
    counts = list(map(int, args.workers.split(",")))
    times: dict[str, list[float]] = {"single file": [], **{f"{n} workers": [] for n in counts}}
    shards: dict[str, int] = {}
    for k in range(args.repeat):
        for label in times:
            if label == "single file":
                extra, out = [], work / f"single-{k}.vaez"
            else:
                extra = ["--workers", label.split()[0]]
                if args.shard_images:
                    extra += ["--shard-images", str(args.shard_images)]
                out = work / f"{label.split()[0]}-{k}.json"
            start = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "vaecodec", "compress", str(folder),
                                   str(out), "--json", *extra], capture_output=True,
                                  text=True)
            times[label].append(time.perf_counter() - start)
            if proc.returncode:
                raise SystemExit(proc.stderr)
            shards[label] = json.loads(proc.stdout).get("shards", 1)
    rows = []
    for label, runs in times.items():
        seconds = statistics.median(runs)
        rows.append({"command": label, "seconds": round(seconds, 2),
                     "images_per_s": round(args.images / seconds), "shards": shards[label],
                     "runs": [round(t, 2) for t in runs]})
        print(json.dumps(rows[-1]), flush=True)
    one = next(r for r in rows if r["command"] == f"{counts[0]} workers")
    summary = {"images": args.images,
               "speedup": round(rows[-1]["images_per_s"] / one["images_per_s"], 2),
               "against_single_file": round(rows[-1]["images_per_s"] /
                                            rows[0]["images_per_s"], 2)}
    print(json.dumps(summary), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": " ".join(["python", "benchmarks/bench_dask.py", *sys.argv[1:]]),
             "rows": rows, **summary}, indent=2) + "\n")


if __name__ == "__main__":
    main()
