"""DataLoader throughput: MNIST training images from a .vaez archive, from PNG files and
from a .npy memory map.

    python benchmarks/bench_loader.py --data ../shared/data --json docs/data/bench_loader.json

Each source is read for one epoch (the 60,000 training images, shuffled, batches of
--batch-size, --workers worker processes, a new DataLoader each time, its start included)
--repeat times; images/s are the median, with the median CPU seconds the main process and
the workers spent in it (getrusage). Then one DataLoader with persistent workers
reads it --repeat + 1 epochs and the median of epochs 2.. is reported (the steady state of
a training run, with each worker's cache warm). The sources: vaecodec.torch.VaezDataset (random
access) and VaezIterableDataset (streaming chunks) over a level-4 and a lossless archive,
a Dataset that opens each PNG with Pillow (as torchvision's ImageFolder does), and one
over np.load(mmap_mode="r") of a .npy file.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from torch.utils.data import DataLoader, Dataset

import vaecodec
from vaecodec.data.mnist import mnist_images, mnist_labels
from vaecodec.torch import VaezDataset, VaezIterableDataset


class PngFolder(Dataset):
    def __init__(self, paths, labels):
        self.paths, self.labels = paths, labels

    def __len__(self):
        return len(self.paths)

    def __getitem__(self, i):
        with Image.open(self.paths[i]) as image:
            pixels = np.array(image, dtype=np.uint8)
        return torch.from_numpy(pixels).unsqueeze(0).float().div_(255), int(self.labels[i])


class NpyMap(Dataset):
    def __init__(self, path, labels):
        self.path, self.labels, self.images = path, labels, None

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, i):
        if self.images is None:  # opened in each worker
            self.images = np.load(self.path, mmap_mode="r")
        pixels = np.array(self.images[i])  # a writable copy
        return torch.from_numpy(pixels).unsqueeze(0).float().div_(255), int(self.labels[i])


def cpu_seconds(who) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def epoch_rate(dataset, batch_size: int, workers: int) -> tuple[float, float, float]:
    """(images/s, CPU seconds of the main process, of the workers) of one epoch."""
    streaming = isinstance(dataset, torch.utils.data.IterableDataset)  # shuffles itself
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=not streaming,
                        num_workers=workers)
    main, children = cpu_seconds(resource.RUSAGE_SELF), cpu_seconds(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    seen = sum(len(images) for images, _ in loader)  # the workers end (and are reaped) here
    rate = seen / (time.perf_counter() - start)
    return (rate, cpu_seconds(resource.RUSAGE_SELF) - main,
            cpu_seconds(resource.RUSAGE_CHILDREN) - children)


def steady_rate(dataset, batch_size: int, workers: int, epochs: int) -> float:
    """Epochs 2.. of one DataLoader with persistent workers (what their caches give)."""
    streaming = isinstance(dataset, torch.utils.data.IterableDataset)
    loader = DataLoader(dataset, batch_size=batch_size, shuffle=not streaming,
                        num_workers=workers, persistent_workers=True)
    sum(len(images) for images, _ in loader)
    rates = []
    for _ in range(epochs):
        start = time.perf_counter()
        seen = sum(len(images) for images, _ in loader)
        rates.append(seen / (time.perf_counter() - start))
    return statistics.median(rates)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    parser.add_argument("--limit", type=int, default=None,
                        help="only the first N images of each split (a quick run)")
    parser.add_argument("--only", default=None,
                        help="measure only the sources whose label contains this text")
    args = parser.parse_args()
    images, labels = (mnist_images(args.data, "train")[: args.limit],
                      mnist_labels(args.data, "train")[: args.limit])
    names = [f"{label}/{i:05d}.png" for i, label in enumerate(labels)]
    work = Path(tempfile.mkdtemp(prefix="vaecodec-loader-"))
    sources = {}
    for label, options in (("vaez level 4", {"quality": 4}), ("vaez lossless", {"lossless": True})):
        path = work / f"{label.split()[-1]}.vaez"
        with vaecodec.open(path, "w", **options) as out:
            out.write(images, names)
        sources[label] = (VaezDataset(path, labels="folder"), path.stat().st_size)
        sources[label + ", streaming"] = (VaezIterableDataset(path, labels="folder",
                                                              batch_size=args.batch_size),
                                          path.stat().st_size)
    paths = []
    for i, name in enumerate(names):
        path = work / "png" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(path)
        paths.append(str(path))
    sources["PNG files"] = (PngFolder(paths, labels),
                            sum(Path(p).stat().st_size for p in paths))
    np.save(work / "train.npy", images)
    sources["npy memory map"] = (NpyMap(work / "train.npy", labels),
                                 (work / "train.npy").stat().st_size)
    rows = []
    for label, (dataset, size) in sources.items():
        if args.only is not None and args.only not in label:
            continue
        runs = [epoch_rate(dataset, args.batch_size, args.workers) for _ in range(args.repeat)]
        rates = [rate for rate, _, _ in runs]
        steady = steady_rate(dataset, args.batch_size, args.workers, args.repeat)
        rows.append({"source": label, "bytes": size,
                     "images_per_s": round(statistics.median(rates)),
                     "runs": [round(r) for r in rates],
                     "main_cpu_s": round(statistics.median(m for _, m, _ in runs), 3),
                     "workers_cpu_s": round(statistics.median(w for _, _, w in runs), 3),
                     "persistent_workers_images_per_s": round(steady)})
        print(json.dumps(rows[-1]), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"command": " ".join(["python", "benchmarks/bench_loader.py", *sys.argv[1:]]),
             "workers": args.workers, "batch_size": args.batch_size, "rows": rows},
            indent=2) + "\n")


if __name__ == "__main__":
    main()
