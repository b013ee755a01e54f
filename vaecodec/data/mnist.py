"""MNIST-style data sets (MNIST, Fashion-MNIST) read with numpy from their IDX files.

The files sit in torchvision's layout, ROOT/<dataset>/raw/; when they are missing,
torchvision downloads them there (the ``train`` extra and the internet are needed then).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from .idx import read_idx_images, read_idx_labels  # noqa: F401  (part of this module's API)

SPLIT_FILES = {"train": "train-images-idx3-ubyte", "test": "t10k-images-idx3-ubyte"}
RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DATASETS = ("MNIST", "FashionMNIST")  # torchvision's class and folder names


def mnist_images(root: str | Path, split: str = "test", dataset: str = "MNIST") -> np.ndarray:
    """The images of ``split`` ("train" or "test") of ``dataset`` (MNIST or FashionMNIST)
    under a torchvision-layout ``root``: read from ROOT/<dataset>/raw when the file is
    there, else downloaded there by torchvision."""
    if split not in SPLIT_FILES:
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    if dataset not in DATASETS:
        raise ValueError(f"dataset must be one of {', '.join(DATASETS)}, not {dataset!r}")
    path = Path(root) / dataset / "raw" / SPLIT_FILES[split]
    if not path.is_file():
        import torchvision.datasets

        getattr(torchvision.datasets, dataset)(root=str(root), train=split == "train",
                                               download=True)
    return read_idx_images(path)


def mnist_labels(root: str | Path, split: str = "test", dataset: str = "MNIST") -> np.ndarray:
    """The labels (0-9) of ``split`` of ``dataset``, as ``mnist_images`` finds its images."""
    mnist_images(root, split, dataset)  # downloads the split when it is missing
    name = SPLIT_FILES[split].replace("images-idx3", "labels-idx1")
    return read_idx_labels(Path(root) / dataset / "raw" / name)


def checksums(root: str | Path, dataset: str = "MNIST") -> dict[str, str]:
    """sha256 of each raw file of ``dataset`` present under ``root``."""
    raw = Path(root) / dataset / "raw"
    out = {}
    for name in RAW_FILES:
        path = raw / name
        if path.is_file():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
