"""Train on a .vaez archive with two ranks (DistributedDataParallel, gloo on the CPU),
stop in the middle of an epoch and resume from the saved state.

    vaecodec compress samples/digits digits.vaez
    python examples/train_ddp.py digits.vaez [--ranks 2] [--workers 2] [--epochs 2]

Each rank streams its share of the archive through ``VaezIterableDataset``: the same
number of images on every rank (so that no rank waits at a step the others never take),
dealt to the DataLoader's workers a batch at a time (so the order does not depend on
their number). The model, a small autoencoder in ``DistributedDataParallel``, averages
its gradients over the ranks at every step. In the last epoch the job stops after
``--stop-after`` batches and saves a checkpoint with ``dataset.state_dict()``; a new
dataset and DataLoader, as a restarted job would make them, load it and go on with
exactly the images left. ``--record DIR`` writes what each rank read (for tests).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import socket
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader

from vaecodec.torch import VaezIterableDataset


def autoencoder(pixels: int) -> torch.nn.Module:
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(pixels, 32),
                               torch.nn.ReLU(), torch.nn.Linear(32, pixels),
                               torch.nn.Sigmoid())


def fingerprint(image: torch.Tensor) -> str:
    return hashlib.sha1((image * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()


def run(rank: int, args, port: int) -> None:
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=args.ranks, timeout=datetime.timedelta(seconds=120))
    torch.manual_seed(0)

    def dataset() -> VaezIterableDataset:  # rank and world size from torch.distributed
        return VaezIterableDataset(args.archive, seed=args.seed, batch_size=args.batch_size)

    data = dataset()
    height, width = data.image_shape
    model = DistributedDataParallel(autoencoder(height * width))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    checkpoint = Path(args.checkpoint)
    record: dict[str, list[str]] = {}

    def epoch_of(data: VaezIterableDataset, epoch: int, stop_after: int | None) -> int:
        """Train over what is left of ``epoch``; the batches taken."""
        loader = DataLoader(data, batch_size=args.batch_size, num_workers=args.workers)
        seen = record.setdefault(str(epoch), [])
        batches = 0
        for images in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy(model(images),
                                                            images.flatten(1))
            loss.backward()  # the gradients are averaged over the ranks here
            optimizer.step()
            seen.extend(fingerprint(image) for image in images)
            batches += 1
            if batches == stop_after:
                break
        return batches

    last = args.epochs - 1
    for epoch in range(args.epochs):
        data.set_epoch(epoch)
        stop = args.stop_after if epoch == last else None
        batches = epoch_of(data, epoch, stop)
        print(f"rank {rank} epoch {epoch}: {len(record[str(epoch)])} images in {batches} "
              f"batches", flush=True)
    # the job "stopped": save where the last epoch stands (the same on every rank, since
    # every rank took the same number of batches), then resume as a restarted job would
    seen = min(args.stop_after * args.batch_size, len(data))
    if rank == 0:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(),
                    "data": data.state_dict(samples_seen=seen)}, checkpoint)
    dist.barrier()
    saved = torch.load(checkpoint)
    model.load_state_dict(saved["model"])
    optimizer.load_state_dict(saved["optimizer"])
    resumed = dataset()
    resumed.load_state_dict(saved["data"])
    batches = epoch_of(resumed, resumed.epoch, None)
    print(f"rank {rank} epoch {resumed.epoch} resumed after {seen} images: {batches} more "
          f"batches, {len(record[str(last)])} images in the epoch", flush=True)
    if args.record:
        Path(args.record, f"rank{rank}.json").write_text(json.dumps(record))
    resumed.close()
    data.close()
    dist.destroy_process_group()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("archive", help="a .vaez archive (or a manifest of shards)")
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers per rank")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--stop-after", type=int, default=2,
                        help="batches of the last epoch before the job stops and resumes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--checkpoint", default="ddp-checkpoint.pt")
    parser.add_argument("--record", default=None,
                        help="a folder for rankN.json: the images each rank read")
    args = parser.parse_args()
    with socket.socket() as s:  # a free port for the ranks to meet on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    torch.multiprocessing.spawn(run, args=(args, port), nprocs=args.ranks)


if __name__ == "__main__":
    main()
