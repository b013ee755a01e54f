"""vaecodec.torch: the map-style and the streaming dataset, with real DataLoader workers."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import vaecodec

torch = pytest.importorskip("torch", reason="torch is the 'train' extra")
from torch.utils.data import DataLoader  # noqa: E402

from vaecodec.torch import VaezDataset, VaezIterableDataset  # noqa: E402

CHUNK = 50


@pytest.fixture(scope="module")
def archives(tmp_path_factory, sample_images):
    """Two archives (230 and 120 images) whose names put each image in a folder 0-9."""
    folder = tmp_path_factory.mktemp("torch")
    paths = []
    for k, count in enumerate((230, 120)):
        images = np.stack([sample_images[(i * 7 + k) % len(sample_images)]
                           for i in range(count)])
        names = [f"{(i + k) % 10}/{k}-{i:04d}.png" for i in range(count)]
        path = folder / f"a{k}.vaez"
        with vaecodec.open(path, "w", chunk_images=CHUNK) as out:
            out.write(images, names)
        paths.append(path)
    return paths


def decoded(paths):
    return np.concatenate([vaecodec.open(p)[:] for p in paths])


def test_map_dataset_items_are_the_archive_images(archives):
    data = VaezDataset(archives, labels="folder")
    expected = decoded(archives)
    assert len(data) == 350 and data.classes == [str(d) for d in range(10)]
    image, label = data[240]  # the second archive's 11th image
    assert image.dtype == torch.float32 and image.shape == (1, 28, 28)
    assert torch.equal(image, torch.from_numpy(expected[240]).float().div(255).unsqueeze(0))
    assert label == (10 + 1) % 10 and data.targets[240] == label
    assert torch.equal(data[-1][0], data[349][0])
    with pytest.raises(IndexError):
        data[350]
    plain = VaezDataset(archives[0], transform=lambda t: t * 2)
    assert float(plain[0].max()) == pytest.approx(2 * int(expected[0].max()) / 255)


def test_a_batch_of_items_is_the_items_one_by_one(archives):
    """``__getitems__`` (what a DataLoader calls for a batch) across both archives."""
    data = VaezDataset(archives, labels="folder", transform=lambda t: t * 2,
                       target_transform=lambda c: c + 100)
    picks = [349, 0, 229, 230, -1, 5, 5, 240]
    batch = data.__getitems__(picks)
    one_by_one = [data[i] for i in picks]
    assert len(batch) == len(picks)
    for (image, label), (expected, expected_label) in zip(batch, one_by_one):
        assert torch.equal(image, expected) and label == expected_label
    assert data.__getitems__([]) == []
    with pytest.raises(IndexError):
        data.__getitems__([0, 350])
    with pytest.raises(TypeError):
        data.__getitems__([0, 1.5])
    subset = torch.utils.data.Subset(VaezDataset(archives), [3, 300])
    assert torch.equal(next(iter(DataLoader(subset, batch_size=2))),
                       torch.stack([subset[0], subset[1]]))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_dataloader_with_workers_sees_every_image_once(archives, workers):
    data = VaezDataset(archives, labels="folder")
    loader = DataLoader(data, batch_size=32, shuffle=True, num_workers=workers,
                        generator=torch.Generator().manual_seed(0))
    seen = torch.cat([images for images, _ in loader])
    assert seen.shape == (350, 1, 28, 28)
    expected = torch.from_numpy(decoded(archives)).float().div(255).unsqueeze(1)
    key = lambda t: sorted(map(bytes, (t * 255).round().to(torch.uint8).numpy()))  # noqa: E731
    assert key(seen) == key(expected)


def test_the_datasets_pickle_without_their_open_files(archives):
    """Spawned workers (and other start methods) get the dataset pickled: it reopens."""
    data = VaezDataset(archives, labels="folder")
    data[0]
    copy = pickle.loads(pickle.dumps(data))
    assert torch.equal(copy[100][0], data[100][0])
    stream = pickle.loads(pickle.dumps(VaezIterableDataset(archives)))
    assert sum(1 for _ in stream) == 350


def test_the_stream_deals_chunks_to_ranks_and_workers(archives):
    expected = decoded(archives)

    def epoch(rank, world, workers, epoch=0):
        data = VaezIterableDataset(archives, labels="folder", rank=rank, world_size=world,
                                   seed=3)
        data.set_epoch(epoch)
        loader = DataLoader(data, batch_size=None, num_workers=workers)
        return [(bytes((image * 255).round().to(torch.uint8).numpy()), label)
                for image, label in loader]

    one = epoch(0, 1, 2)
    both = epoch(0, 2, 2) + epoch(1, 2, 0)
    everything = sorted((bytes(e.reshape(1, 28, 28)), 0) for e in expected)
    assert sorted(i for i, _ in one) == sorted(i for i, _ in everything)  # once each
    assert sorted(both) == sorted(one)  # two ranks together: the same images, once
    assert len(epoch(0, 2, 0)) != 350
    assert epoch(0, 1, 0, epoch=1) != epoch(0, 1, 0, epoch=0)  # another order each epoch
    labels = VaezDataset(archives, labels="folder").targets
    assert sorted(label for _, label in one) == sorted(labels)


@pytest.mark.slow
def test_the_example_trains_a_classifier_on_an_archive(tmp_path, mnist_root):
    """examples/train_classifier.py on 3,000 training digits for 2 epochs: it writes the
    archive, trains through VaezDataset with 2 workers and tests on the original test
    split (well above chance: 10%)."""
    import re
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "train_classifier.py"
    proc = subprocess.run([sys.executable, str(example), "--data", str(mnist_root),
                           "--archive", str(tmp_path / "train.vaez"), "--epochs", "2",
                           "--limit", "3000"], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "wrote" in proc.stdout and (tmp_path / "train.vaez").exists()
    accuracy = float(re.search(r"test accuracy ([0-9.]+)", proc.stdout).group(1))
    assert accuracy > 0.6


def test_half_precision_tensors_are_encoded_as_float(sample_images):
    """bfloat16 and float16 tensors (numpy has no bfloat16) are widened, not a TypeError."""
    import vaecodec

    unit = torch.from_numpy(sample_images[:4].astype(np.float32) / 255.0)
    expected = vaecodec.decode(vaecodec.encode(unit))
    for dtype in (torch.bfloat16, torch.float16):
        decoded = vaecodec.decode(vaecodec.encode(unit.to(dtype)))
        assert decoded.shape == expected.shape
        assert np.abs(decoded.astype(int) - expected).mean() < 8


@pytest.mark.parametrize("shape", [(28, 28), (32, 32), (24, 40)])
def test_the_example_classifier_takes_the_image_shape(shape):
    """examples/classifier.py's LeNet-5 sizes its layers from the images, not from 28x28."""
    import sys
    from pathlib import Path

    import torch

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "examples"))
    try:
        from classifier import lenet
    finally:
        sys.path.pop(0)
    assert lenet(7, shape)(torch.zeros(2, 1, *shape)).shape == (2, 7)
