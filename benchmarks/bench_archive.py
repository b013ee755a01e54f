"""Chunked archives measured: random reads, damage, and compress's memory and rate.

    python benchmarks/bench_archive.py --data ../shared/data --json docs/data/bench_archive.json

- reads: an archive of --images images (MNIST training digits, each repetition shifted
  by one more pixel) at level 4; --reads random single-image reads in one process, each
  timed (median and 99th percentile; the file is in the page cache, as it is after the
  first pass of a training run).
- damage: an archive of --damage-images images; --flips times, one random bit of one
  random byte inside a random chunk is flipped, and decompress --salvage's images are
  compared with an undamaged decode: what is lost, and whether every other image is exact.
- compress: for each --compress-sizes N, a folder of N PNG files (the same digits) and
  `vaecodec compress` run on it as a separate process: peak RSS (ru_maxrss of the
  process and its reading workers) and images/s, median of --repeat runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def digits(root: str, count: int) -> np.ndarray:
    """``count`` digits: the MNIST training split, repeated, shifted by 1, 2, ... pixels
    (so that no two repetitions are the same images)."""
    from vaecodec.data.mnist import mnist_images

    train = mnist_images(root, "train")
    out = np.empty((count, 28, 28), dtype=np.uint8)
    for start in range(0, count, len(train)):
        n = min(len(train), count - start)
        shift = start // len(train)
        out[start : start + n] = np.roll(train[:n], shift % 5 - 2, axis=2) if shift else train[:n]
    return out


def build(path: Path, images: np.ndarray, **options) -> float:
    import vaecodec

    start = time.perf_counter()
    with vaecodec.open(path, "w", force=True, **options) as archive:
        for i in range(0, len(images), 65536):
            archive.write(images[i : i + 65536])
    return time.perf_counter() - start


def bench_reads(root: str, count: int, reads: int, work: Path) -> dict:
    import vaecodec

    path = work / "reads.vaez"
    seconds = build(path, digits(root, count))
    start = time.perf_counter()
    archive = vaecodec.open(path)
    opened = time.perf_counter() - start
    rng = np.random.default_rng(0)
    times = []
    for i in rng.integers(0, count, reads):
        t = time.perf_counter()
        archive[int(i)]
        times.append(time.perf_counter() - t)
    ms = np.array(times) * 1e3
    result = {"images": count, "file_bytes": path.stat().st_size, "write_s": round(seconds, 2),
              "open_ms": round(opened * 1e3, 2), "reads": reads,
              "median_ms": round(float(np.median(ms)), 3),
              "p99_ms": round(float(np.percentile(ms, 99)), 3),
              "max_ms": round(float(ms.max()), 3)}
    path.unlink()
    return result


def bench_damage(root: str, count: int, flips: int, work: Path) -> dict:
    import vaecodec

    images = digits(root, count)
    path = work / "damage.vaez"
    build(path, images)
    data = path.read_bytes()
    whole = vaecodec.decode(data)
    index = vaecodec.open(path).decoder.index
    rng = np.random.default_rng(1)
    worst_lost, all_exact, trials = 0, True, []
    for k in range(flips):
        entry = index.chunks[int(rng.integers(len(index.chunks)))]
        position = entry.offset + int(rng.integers(entry.size))
        damaged = bytearray(data)
        damaged[position] ^= 1 << int(rng.integers(8))
        bad = work / f"bad{k}.vaez"
        bad.write_bytes(bytes(damaged))
        lost_images = 0
        reader = vaecodec.archive.ArchiveReader(bad, salvage=True)
        exact = True
        for first, block, damage in reader.salvage():
            if damage is not None:
                lost_images += damage.count or 0
            else:
                exact &= bool(np.array_equal(block, whole[first : first + len(block)]))
        reader.close()
        bad.unlink()
        worst_lost = max(worst_lost, lost_images)
        all_exact &= exact
        trials.append({"byte": position, "chunk_images": entry.count, "lost": lost_images,
                       "others_exact": exact})
    path.unlink()
    return {"images": count, "flips": flips, "worst_lost": worst_lost,
            "chunk_images": int(max(c.count for c in index.chunks)),
            "all_others_exact": all_exact, "trials": trials}


def write_pngs(folder: Path, images: np.ndarray) -> None:
    from PIL import Image

    for i, image in enumerate(images):
        sub = folder / f"{i // 10000:04d}"
        if i % 10000 == 0:
            sub.mkdir(parents=True)
        Image.fromarray(image).save(sub / f"{i:07d}.png", optimize=False)


RUN = ("import resource, subprocess, sys, time\n"
       "t = time.perf_counter()\n"
       "r = subprocess.run(sys.argv[1:], capture_output=True)\n"
       "s = time.perf_counter() - t\n"
       "assert r.returncode == 0, r.stderr\n"
       "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, s)\n")


def bench_compress(root: str, sizes: list[int], repeat: int, work: Path) -> list[dict]:
    rows = []
    for size in sizes:
        folder = work / f"pngs{size}"
        write_pngs(folder, digits(root, size))
        runs = []
        for _ in range(repeat):
            out = work / "c.vaez"
            proc = subprocess.run([sys.executable, "-c", RUN, sys.executable, "-m", "vaecodec",
                                   "compress", str(folder), str(out), "--force", "--quiet"],
                                  capture_output=True, text=True, check=True)
            rss_kb, seconds = proc.stdout.split()
            runs.append((int(rss_kb) / 1024, float(seconds)))
            out_bytes = out.stat().st_size
            out.unlink()
        shutil.rmtree(folder)
        rss = statistics.median(r for r, _ in runs)
        seconds = statistics.median(s for _, s in runs)
        rows.append({"images": size, "peak_rss_mb": round(rss, 1), "seconds": round(seconds, 2),
                     "images_per_s": round(size / seconds), "bytes": out_bytes,
                     "runs": [{"peak_rss_mb": round(r, 1), "seconds": round(s, 2)}
                              for r, s in runs]})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True, help="root of MNIST/raw (torchvision layout)")
    parser.add_argument("--images", type=int, default=1_000_000)
    parser.add_argument("--reads", type=int, default=1000)
    parser.add_argument("--damage-images", type=int, default=100_000)
    parser.add_argument("--flips", type=int, default=20)
    parser.add_argument("--compress-sizes", default="10000,100000",
                        help="comma-separated image counts (1000000 needs ~5 GB of disk)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=["reads", "damage", "compress"], default=None)
    parser.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    parser.add_argument("--json", default=None, help="write the results here")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="vaecodec-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    results: dict = {"command": " ".join(["python", "benchmarks/bench_archive.py", *sys.argv[1:]]),
                     "cpus": os.cpu_count()}
    try:
        if args.only in (None, "reads"):
            results["reads"] = bench_reads(args.data, args.images, args.reads, work)
            print(json.dumps(results["reads"]), flush=True)
        if args.only in (None, "damage"):
            results["damage"] = bench_damage(args.data, args.damage_images, args.flips, work)
            print(json.dumps({k: v for k, v in results["damage"].items() if k != "trials"}),
                  flush=True)
        if args.only in (None, "compress"):
            sizes = [int(s) for s in args.compress_sizes.split(",")]
            results["compress"] = bench_compress(args.data, sizes, args.repeat, work)
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
