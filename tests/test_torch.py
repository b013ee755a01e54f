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


def test_the_stream_gives_every_image_once_across_ranks_and_workers(archives):
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
    assert len(epoch(0, 2, 0)) == 175
    assert epoch(0, 1, 0, epoch=1) != epoch(0, 1, 0, epoch=0)  # another order each epoch
    labels = VaezDataset(archives, labels="folder").targets
    assert sorted(label for _, label in one) == sorted(labels)


@pytest.fixture(scope="module")
def distinct(tmp_path_factory, sample_images):
    """An archive of 200 images in 7 chunks (6 of 30, one of 20), every decoded image
    different, and a map from an image's bytes to its position."""
    path = tmp_path_factory.mktemp("distinct") / "d.vaez"
    with vaecodec.open(path, "w", chunk_images=30) as out:
        out.write(sample_images)
    images = vaecodec.open(path)[:]
    where = {bytes(image): i for i, image in enumerate(images)}
    assert len(where) == 200
    return path, where


def positions(data, where, workers=0, batch_size=None, limit=None):
    """The archive positions of the images a DataLoader yields, in order (a list per
    batch when batch_size is given)."""
    loader = DataLoader(data, batch_size=batch_size, num_workers=workers)
    out = []
    for batch in loader:
        if batch_size is None:
            batch = batch.unsqueeze(0)
        out.append([where[bytes((image[0] * 255).round().to(torch.uint8).numpy())]
                    for image in batch])
        if limit is not None and len(out) == limit:
            break
    return out if batch_size else [i for b in out for i in b]


@pytest.mark.parametrize("drop_last", [False, True])
@pytest.mark.parametrize("world", [2, 3, 8, 201])
def test_every_rank_gets_as_many_images_as_the_others(distinct, world, drop_last):
    """Equal runs per rank, as DistributedSampler makes them: 7 chunks over 8 ranks or 200
    images over 201 ranks included (no rank left without images, none waiting)."""
    path, where = distinct
    runs = []
    for rank in range(world):
        data = VaezIterableDataset(path, rank=rank, world_size=world, seed=5,
                                   drop_last=drop_last)
        runs.append(positions(data, where))
        assert len(runs[-1]) == len(data)
    length = 200 // world if drop_last else -(-200 // world)
    assert {len(run) for run in runs} == {length}
    seen = sorted(i for run in runs for i in run)
    if drop_last:  # each image at most once, the fewest left out
        assert len(set(seen)) == len(seen) == length * world and 200 - len(seen) < world
    else:  # each image at least once, the fewest repeated
        assert set(seen) == set(range(200)) and len(seen) - 200 < world


def test_the_order_does_not_depend_on_the_workers(distinct):
    """With the DataLoader's batch size given, the batches come in the same order and
    with the same images for 0, 1 or 2 workers, and each rank's batches count the same."""
    path, where = distinct
    orders = {}
    for workers in (0, 1, 2):
        data = VaezIterableDataset(path, rank=1, world_size=3, seed=2, batch_size=16)
        orders[workers] = positions(data, where, workers, batch_size=16)
    assert orders[0] == orders[1] == orders[2]
    assert [len(b) for b in orders[0]] == [16, 16, 16, 16, 3]  # 67 images
    unshuffled = VaezIterableDataset(path, shuffle=False, batch_size=16)
    assert sum(positions(unshuffled, where, 2, batch_size=16), []) == list(range(200))
    for rank in (0, 2):  # the same number of batches on every rank (DDP's steps)
        data = VaezIterableDataset(path, rank=rank, world_size=3, seed=2, batch_size=16)
        assert len(positions(data, where, 2, batch_size=16)) == 5


def test_a_saved_state_resumes_with_exactly_the_images_left(distinct):
    """Stopped after 3 batches of 16 on 2 workers; resumed in a new data set with 1
    worker (or none and batches of 10): the rest of the epoch, in order, nothing twice."""
    path, where = distinct

    def stream(**keywords):
        return VaezIterableDataset(path, rank=0, world_size=2, seed=9, **keywords)

    first = stream(batch_size=16)
    first.set_epoch(4)
    whole = sum(positions(first, where, 2, batch_size=16), [])
    taken = sum(positions(first, where, 2, batch_size=16, limit=3), [])
    assert taken == whole[:48]
    state = first.state_dict(samples_seen=48)
    for workers, batch in ((1, 16), (0, 10)):
        again = stream(batch_size=batch)
        again.load_state_dict(state)
        assert again.epoch == 4
        rest = sum(positions(again, where, workers, batch_size=batch), [])
        assert rest == whole[48:]
        again.set_epoch(5)  # the next epoch is whole again
        assert len(positions(again, where)) == 100
    with pytest.raises(vaecodec.SettingsError, match="world_size 2 .here 3"):
        VaezIterableDataset(path, rank=0, world_size=3).load_state_dict(state)
    with pytest.raises(vaecodec.SettingsError, match="not a state"):
        stream().load_state_dict({"epoch": 1})
    with pytest.raises(vaecodec.SettingsError, match="outside 0..100"):
        first.state_dict(101)
    with pytest.raises(vaecodec.SettingsError, match="batch_size"):
        stream(batch_size=0)


def test_readers_pickle_by_path_and_datasets_close(distinct, tmp_path):
    """An open archive (by path, from bytes, a manifest's) pickles without its file and
    reopens; one opened from a file object says why it cannot; a dataset's ``with``
    block closes its files (no ResourceWarning)."""
    import gc
    import warnings

    path, where = distinct
    with vaecodec.open(path) as reader:
        copy = pickle.loads(pickle.dumps(reader))
        assert np.array_equal(copy[7], reader[7]) and len(pickle.dumps(reader)) < 1000
        copy.close()
    data = path.read_bytes()
    with vaecodec.open(data) as reader:
        assert np.array_equal(pickle.loads(pickle.dumps(reader))[3], reader[3])
    with open(path, "rb") as f, vaecodec.open(f) as reader:
        with pytest.raises(TypeError, match="open it by path"):
            pickle.dumps(reader)
    zoo = vaecodec.Zoo.installed()
    with vaecodec.open(path, zoo=zoo) as reader:
        reader[0]  # loads the model into the zoo
        assert len(pickle.dumps(reader)) < 1000  # the installed zoo goes by name
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for kind in (VaezDataset, VaezIterableDataset):
            with kind(path) as dataset:
                next(iter(dataset))
            del dataset
        gc.collect()
    assert not [w for w in caught if issubclass(w.category, ResourceWarning)]


@pytest.mark.slow
def test_the_ddp_example_trains_on_two_ranks_and_resumes(tmp_path, sample_images):
    """examples/train_ddp.py: two ranks (gloo), two workers each, on 195 images (the
    last rank's run padded by one): every epoch each rank reads exactly its run, in the
    order the dataset gives without workers, and the resumed epoch is that run too."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    archive = tmp_path / "a.vaez"
    with vaecodec.open(archive, "w", chunk_images=30) as out:
        out.write(sample_images[:195])
    example = Path(__file__).parent.parent / "examples" / "train_ddp.py"
    proc = subprocess.run([sys.executable, str(example), str(archive), "--record",
                           str(tmp_path), "--checkpoint", str(tmp_path / "c.pt"),
                           "--stop-after", "1"],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    assert "rank 1 epoch 1 resumed after 32 images: 3 more batches, 98 images" in proc.stdout
    with VaezIterableDataset(archive) as whole:
        everything = {fingerprint(image) for image in whole}
    for epoch in (0, 1):
        runs = []
        for rank in (0, 1):
            data = VaezIterableDataset(archive, rank=rank, world_size=2, batch_size=32)
            data.set_epoch(epoch)
            expected = [fingerprint(image) for image in data]
            record = json.loads((tmp_path / f"rank{rank}.json").read_text())
            assert record[str(epoch)] == expected and len(expected) == 98
            runs += expected
        assert set(runs) == everything


def fingerprint(image) -> str:
    import hashlib

    return hashlib.sha1((image * 255).round().to(torch.uint8).numpy().tobytes()).hexdigest()


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


# --- stored labels and metadata (format version 6) -------------------------------------------
@pytest.fixture(scope="module")
def labelled(tmp_path_factory, sample_images):
    """Two labelled archives (130 and 70 images) with metadata and the same classes."""
    folder = tmp_path_factory.mktemp("labelled")
    paths = []
    for k, count in enumerate((130, 70)):
        images = np.stack([sample_images[(i * 3 + k) % len(sample_images)]
                           for i in range(count)])
        with vaecodec.open(folder / f"l{k}.vaez", "w", chunk_images=CHUNK,
                           classes=["even", "odd"]) as out:
            out.write(images, labels=[(i + k) % 2 for i in range(count)],
                      meta=[{"k": k, "i": i} if i % 5 else None for i in range(count)])
        paths.append(folder / f"l{k}.vaez")
    return paths


def expected_labels():
    return [i % 2 for i in range(130)] + [(i + 1) % 2 for i in range(70)]


def test_stored_labels_and_metadata_come_with_the_images(labelled, archives):
    data = VaezDataset(labelled)  # labels="auto": the stored ones
    assert data.classes == ["even", "odd"] and data.targets == expected_labels()
    image, label = data[131]
    assert image.shape == (1, 28, 28) and label == 0
    with_meta = VaezDataset(labelled, metadata=True)
    assert with_meta[131][1:] == (0, {"k": 1, "i": 1}) and with_meta[130][2] == {}
    batches = list(DataLoader(VaezDataset(labelled, labels="stored"), batch_size=64,
                              num_workers=2))
    assert torch.cat([b[1] for b in batches]).tolist() == expected_labels()
    assert isinstance(VaezDataset(archives)[0], torch.Tensor)  # no labels stored: images
    assert VaezDataset(labelled, labels=None)[0].shape == (1, 28, 28)
    with pytest.raises(vaecodec.errors.SettingsError, match="stores no labels and"):
        VaezDataset([archives[0], labelled[0]])
    with pytest.raises(vaecodec.errors.SettingsError, match="stores no labels"):
        VaezDataset(archives, labels="stored")
    with pytest.raises(vaecodec.errors.SettingsError, match="stores no metadata"):
        VaezDataset(archives, metadata=True)


def test_the_stream_gives_each_image_its_stored_label(labelled):
    images = np.concatenate([vaecodec.open(p)[:] for p in labelled])
    seen = []
    for image, label, meta in VaezIterableDataset(labelled, metadata=True, seed=3):
        if meta:
            position = meta["i"] + 130 * meta["k"]
            assert np.array_equal((image[0] * 255).round().byte().numpy(), images[position])
            seen.append(position)
        assert label == int(expected_labels()[seen[-1]]) if meta else label in (0, 1)
    assert sorted(seen) == [i + 130 * k for k, n in enumerate((130, 70)) for i in range(n)
                            if i % 5]
