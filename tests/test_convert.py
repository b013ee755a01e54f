"""vaecodec.convert: data sets in and out in one call, with the real libraries (torchvision,
Hugging Face datasets) and real tar files in WebDataset's layout."""

from __future__ import annotations

import io
import json
import tarfile

import numpy as np
import pytest
from PIL import Image

import vaecodec
from vaecodec import convert
from vaecodec.errors import ConversionError, ImageSizeError, InputError


@pytest.fixture(scope="module")
def digits(sample_images) -> np.ndarray:
    return sample_images[:40]


def read_back(path):
    with vaecodec.open(path) as archive:
        return (archive[:], None if not archive.labelled else archive.labels.tolist(),
                archive.metadata, archive.classes, archive.names)


def test_from_arrays_with_labels(tmp_path, digits):
    labels = np.arange(40) % 4
    out = convert.from_arrays(digits, tmp_path / "a.vaez", labels=labels,
                              classes=["a", "b", "c", "d"], lossless=True,
                              meta=[{"k": int(k)} for k in range(40)])
    pixels, got, meta, classes, names = read_back(out)
    assert np.array_equal(pixels, digits) and got == labels.tolist()
    assert classes == ("a", "b", "c", "d") and meta[7] == {"k": 7} and names is None


def test_from_torchvision_fake_data_and_tensors(tmp_path, digits):
    datasets = pytest.importorskip("torchvision.datasets")
    fake = datasets.FakeData(size=30, image_size=(1, 28, 28), num_classes=5, random_offset=3)
    out = convert.from_torchvision(fake, tmp_path / "f.vaez", lossless=True)
    pixels, labels, _, _, names = read_back(out)
    assert labels == [int(fake[i][1]) for i in range(30)]
    assert np.array_equal(pixels[4], np.asarray(fake[4][0])) and names[4] == "00004.png"

    class Tensors(list):  # (float tensor (1, H, W), int) pairs and class names
        classes = ["zero", "one"]

    torch = pytest.importorskip("torch")
    pairs = Tensors((torch.from_numpy(d).float().div(255).unsqueeze(0), i % 2)
                    for i, d in enumerate(digits[:10]))
    out = convert.from_torchvision(pairs, tmp_path / "t.vaez", lossless=True)
    pixels, labels, _, classes, _ = read_back(out)
    assert np.array_equal(pixels, digits[:10]) and classes == ("zero", "one")
    colour = datasets.FakeData(size=3, image_size=(3, 28, 28))
    with pytest.raises(ConversionError, match="colour"):
        convert.from_torchvision(colour, tmp_path / "c.vaez", lossless=True)
    assert not (tmp_path / "c.vaez").exists()
    with pytest.warns(vaecodec.VaezWarning, match="3 .*converted"):
        convert.from_torchvision(colour, tmp_path / "c.vaez")
    big = datasets.FakeData(size=2, image_size=(1, 32, 32))
    with pytest.raises(ImageSizeError, match="32x32"):
        convert.from_torchvision(big, tmp_path / "b.vaez")
    convert.from_torchvision(big, tmp_path / "b.vaez", resize=True)
    with pytest.raises(InputError, match="not an integer"):
        convert.from_torchvision([(digits[0], "cat")], tmp_path / "x.vaez")


def test_from_torchvision_mnist(tmp_path, mnist_root):
    datasets = pytest.importorskip("torchvision.datasets")
    mnist = datasets.MNIST(mnist_root, train=False)

    class First(list):
        classes = mnist.classes

    subset = First(mnist[i] for i in range(200))
    out = convert.from_torchvision(subset, tmp_path / "m.vaez", lossless=True)
    pixels, labels, _, classes, _ = read_back(out)
    assert labels == mnist.targets[:200].tolist() and classes == tuple(mnist.classes)
    assert np.array_equal(pixels, mnist.data[:200].numpy())


def test_huggingface_in_and_out(tmp_path, digits):
    datasets = pytest.importorskip("datasets", reason="the hf extra")
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=["even", "odd"]),
                                  "source": datasets.Value("string")})
    hf = datasets.Dataset.from_dict(
        {"image": [Image.fromarray(d) for d in digits[:12]], "label": [i % 2 for i in range(12)],
         "source": [f"scan {i}" for i in range(12)]}, features=features)
    out = convert.from_huggingface(hf, tmp_path / "h.vaez", meta=["source"], lossless=True)
    pixels, labels, meta, classes, _ = read_back(out)
    assert np.array_equal(pixels, digits[:12]) and labels == [i % 2 for i in range(12)]
    assert classes == ("even", "odd") and meta[3] == {"source": "scan 3"}
    back = convert.to_huggingface(out, cache_dir=tmp_path / "hf-cache")
    assert (tmp_path / "hf-cache").is_dir()
    assert back.features["label"].names == ["even", "odd"] and len(back) == 12
    assert np.array_equal(np.asarray(back[5]["image"]), digits[5])
    assert back[5]["label"] == 1 and json.loads(back[3]["meta"]) == {"source": "scan 3"}
    again = convert.from_huggingface(back, tmp_path / "again.vaez", lossless=True)
    assert read_back(again)[1] == labels and read_back(again)[3] == classes
    with pytest.raises(InputError, match="lacks the column 'label'"):
        convert.from_huggingface([{"image": Image.fromarray(digits[0])}], tmp_path / "n.vaez")


def make_tar(path, samples):
    with tarfile.open(path, "w") as out:
        for name, data in samples:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            out.addfile(info, io.BytesIO(data))


def png(image) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def test_webdataset_in_and_out(tmp_path, digits):
    samples = []
    for i in range(15):
        key = f"part/{i:04d}"
        samples += [(f"{key}.png", png(digits[i])), (f"{key}.cls", str(i % 3).encode()),
                    (f"{key}.json", json.dumps({"i": i, "w": i / 4}).encode())]
    make_tar(tmp_path / "s0.tar", samples[:30])
    make_tar(tmp_path / "s1.tar", samples[30:])
    out = convert.from_webdataset([tmp_path / "s0.tar", tmp_path / "s1.tar"],
                                  tmp_path / "w.vaez", lossless=True)
    pixels, labels, meta, _, names = read_back(out)
    assert np.array_equal(pixels, digits[:15]) and labels == [i % 3 for i in range(15)]
    assert meta[6] == {"i": 6, "w": 1.5} and names[6] == "part/0006.png"
    assert convert.to_webdataset(out, tmp_path / "back.tar") == 15
    with tarfile.open(tmp_path / "back.tar") as back:
        members = back.getnames()
        assert members[:3] == ["part/0000.png", "part/0000.cls", "part/0000.json"]
        assert back.extractfile("part/0004.cls").read() == b"1"
    again = convert.from_webdataset(tmp_path / "back.tar", tmp_path / "again.vaez",
                                    lossless=True)
    assert read_back(again)[1:] == read_back(out)[1:]
    assert np.array_equal(read_back(again)[0], pixels)


@pytest.mark.parametrize("samples, message", [
    ([("a.txt", b"x")], "holds no image"),
    ([("a.png", b"not a png")], "cannot be decoded"),
    ([("a.png", None), ("a.cls", b"cat")], "not an integer label"),
    ([("a.png", None), ("a.json", b"[1]")], "must hold an object"),
    ([("a.png", None), ("a.cls", b"1"), ("b.png", None)], "every sample needs a .cls"),
])
def test_bad_webdataset_samples(tmp_path, digits, samples, message):
    make_tar(tmp_path / "bad.tar", [(n, png(digits[0]) if d is None else d)
                                    for n, d in samples])
    with pytest.raises(InputError, match=message):
        convert.from_webdataset(tmp_path / "bad.tar", tmp_path / "x.vaez")
    assert not (tmp_path / "x.vaez").exists()
    (tmp_path / "junk.tar").write_bytes(b"\0" * 10 + b"junk")
    with pytest.raises(InputError, match="tar"):
        convert.from_webdataset(tmp_path / "junk.tar", tmp_path / "x.vaez")


def test_a_name_with_two_dots_is_no_webdataset_key(tmp_path, digits):
    out = convert.from_arrays(digits[:2], tmp_path / "a.vaez", names=["a.b.png", "c.png"],
                              lossless=True)
    with pytest.raises(InputError, match="cannot hold a dot"):
        convert.to_webdataset(out, tmp_path / "a.tar")
    assert not (tmp_path / "a.tar").exists()


def test_to_arrays(tmp_path, digits):
    out = convert.from_arrays(digits, tmp_path / "a.vaez", labels=np.arange(40) - 3,
                              lossless=True)
    convert.to_arrays(out, tmp_path / "x.npy", tmp_path / "y.npy")
    assert np.array_equal(np.load(tmp_path / "x.npy"), digits)
    assert np.load(tmp_path / "y.npy").tolist() == list(range(-3, 37))
    with pytest.raises(vaecodec.OutputExistsError):
        convert.to_arrays(out, tmp_path / "x.npy")
    plain = convert.from_arrays(digits, tmp_path / "p.vaez", lossless=True)
    with pytest.raises(InputError, match="no labels"):
        convert.to_arrays(plain, tmp_path / "z.npy", tmp_path / "zl.npy")
    assert not (tmp_path / "z.npy").exists()
