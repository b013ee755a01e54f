"""Compressing on a local Dask cluster: 1 worker against 2, and the shards against one file.

    python benchmarks/bench_dask.py --data ../shared/data --images 100000 \
        --json docs/data/bench_dask.json

--images MNIST training digits (repeated, shifted) are written as PNG files in folders of
10,000; then for each --workers count a LocalCluster of that many single-threaded worker
processes compresses them (vaecodec.dask.compress, shards of --shard-images), --repeat
times (the cluster's start not included; median). The manifest's images are compared with
`vaecodec compress` of the same folder into one file: they must be byte for byte the same.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
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
    parser.add_argument("--shard-images", type=int, default=8192)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="vaecodec-dask-"))
    try:
        folder = work / "pngs"
        write_pngs(folder, digits(args.data, args.images))
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
                                                    shard_images=args.shard_images)
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


if __name__ == "__main__":
    main()
