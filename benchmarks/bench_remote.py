"""Reading an archive over HTTP: range requests per image, and a DataLoader's throughput
over a URL against the same archive on the local disk.

    python benchmarks/bench_remote.py --data ../shared/data --json docs/data/bench_remote.json

The archive: --images MNIST digits (the 60,000 training images repeated to 100,000) at
level 4, served by a real HTTP server on 127.0.0.1 that answers range requests
(tests/rangeserver.py, in this process's threads). "Reads": --reads times, a fresh
``vaecodec.open(url)`` and one image at a random position; the requests opening made and
those the image made after it (each a GET with a Range header), and the bytes they
fetched. "Loading": one epoch of ``VaezDataset`` (shuffled) and of
``VaezIterableDataset`` through ``torch.utils.data.DataLoader`` (--workers, batches of
--batch-size), from the URL and from the local path in turn, --repeat times; images/s
are medians, and the ratio is URL / local. "Lookups" (``--names``: the archive stores
names, ``D/NNNNNN.png``): --reads times, a fresh open and one image by a random name, as
``archive[name]`` finds it now (the chunks' headers, then the one chunk) and as it did
before (every chunk read whole for its names: ``Reader.position``); requests and bytes
after open, medians. ``--skip-loading`` leaves the DataLoader epochs out.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import vaecodec
from vaecodec.data.mnist import mnist_images
from vaecodec.torch import VaezDataset, VaezIterableDataset

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from rangeserver import RangeServer  # noqa: E402


def fetched(requests) -> int:
    """Bytes asked for by the ranged GETs among ``requests``."""
    total = 0
    for method, _, wanted in requests:
        if method == "GET" and wanted:
            start, end = wanted.removeprefix("bytes=").split("-")
            total += int(end) - int(start) + 1
    return total


def reads(server, count: int, trials: int, seed: int) -> dict:
    rng = np.random.default_rng(seed)
    opening, after, opening_bytes, after_bytes = [], [], [], []
    for _ in range(trials):
        start = len(server.requests)
        with vaecodec.open(server.url("digits.vaez")) as archive:
            opened = len(server.requests)
            archive[int(rng.integers(count))]
            done = len(server.requests)
        opening.append(opened - start)
        after.append(done - opened)
        opening_bytes.append(fetched(server.requests[start:opened]))
        after_bytes.append(fetched(server.requests[opened:done]))
    return {"trials": trials, "open_requests_max": max(opening),
            "image_requests_median": statistics.median(after),
            "image_requests_max": max(after),
            "open_bytes_median": statistics.median(opening_bytes),
            "image_bytes_median": statistics.median(after_bytes)}


def lookups(server, count: int, trials: int, seed: int) -> dict:
    """Requests and bytes of ``archive[name]`` after open, now and the old way."""
    from vaecodec.archive import Reader

    rng = np.random.default_rng(seed)
    out: dict = {}
    for way in ("now", "before"):
        requests, sizes = [], []
        for _ in range(trials):
            i = int(rng.integers(count))
            with vaecodec.open(server.url("digits.vaez")) as archive:
                opened = len(server.requests)
                name = f"{i % 10}/{i:06d}.png"
                position = (archive.position(name) if way == "now"
                            else Reader.position(archive, name))
                archive[position]
                done = len(server.requests)
            assert position == i
            requests.append(done - opened)
            sizes.append(fetched(server.requests[opened:done]))
        out[way] = {"requests_median": statistics.median(requests),
                    "bytes_median": statistics.median(sizes)}
    return {"trials": trials, **out}


def epoch_rate(dataset, batch_size: int, workers: int) -> float:
    streaming = isinstance(dataset, torch.utils.data.IterableDataset)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=not streaming,
                        num_workers=workers)
    start = time.perf_counter()
    seen = sum(len(images) for images in loader)
    return seen / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--reads", type=int, default=100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--names", action="store_true",
                        help="store names and measure lookups by name")
    parser.add_argument("--skip-loading", action="store_true",
                        help="leave out the DataLoader epochs")
    args = parser.parse_args()
    train = mnist_images(args.data, "train")
    images = np.resize(train, (args.images, *train.shape[1:]))  # repeated to --images
    work = Path(tempfile.mkdtemp(prefix="vaecodec-remote-"))
    path = work / "digits.vaez"
    with vaecodec.open(path, "w", quality=4) as out:
        out.write(images, names=[f"{i % 10}/{i:06d}.png" for i in range(args.images)]
                  if args.names else None)
    size = path.stat().st_size
    print(f"{args.images:,} digits at level 4: {size:,} bytes", flush=True)
    rows = []
    with RangeServer(work) as server:
        result = {"archive_bytes": size, "images": args.images,
                  "reads": reads(server, args.images, args.reads, seed=0)}
        print(json.dumps(result["reads"]), flush=True)
        if args.names:
            result["lookups"] = lookups(server, args.images, args.reads, seed=1)
            print(json.dumps(result["lookups"]), flush=True)
        url = server.url("digits.vaez")
        for label, kind in () if args.skip_loading else (("VaezDataset", VaezDataset),
                            ("VaezIterableDataset",
                             lambda p: VaezIterableDataset(p, batch_size=args.batch_size))):
            rates: dict[str, list[float]] = {"url": [], "local": []}
            for _ in range(args.repeat):  # interleaved: the machine's load hits both
                for where, source in (("url", url), ("local", path)):
                    with kind(source) as dataset:
                        rates[where].append(epoch_rate(dataset, args.batch_size,
                                                       args.workers))
            row = {"dataset": label, "url_images_per_s": round(statistics.median(rates["url"])),
                   "local_images_per_s": round(statistics.median(rates["local"])),
                   "url_runs": [round(r) for r in rates["url"]],
                   "local_runs": [round(r) for r in rates["local"]]}
            row["ratio"] = round(row["url_images_per_s"] / row["local_images_per_s"], 3)
            rows.append(row)
            print(json.dumps(row), flush=True)
    result["loading"] = rows
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": " ".join(["python", "benchmarks/bench_remote.py", *sys.argv[1:]]),
             "workers": args.workers, "batch_size": args.batch_size, **result},
            indent=2) + "\n")


if __name__ == "__main__":
    main()
