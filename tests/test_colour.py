"""Colour through the codec: a model of several channels (RGB here) codes colour images
as they are, in format version 7, through arrays, files, archives and the torch
datasets; grayscale given to it is widened with a warning (refused with strict); the
header records the channels and is checked as strictly as the rest."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import msgpack
import numpy as np
import pytest
from PIL import Image
from test_residual import check_split_layer_and_coding
from test_shapes import random_vae

import vaecodec
from vaecodec import files
from vaecodec.core.entropy import fit_prior
from vaecodec.core.quantize import quantize
from vaecodec.data.sources import load_images, needed_channels
from vaecodec.eval import metrics
from vaecodec.format import chunked, container, shapes
from vaecodec.pipeline.settings import settings_for
from vaecodec.zoo import Level, Zoo
from vaecodec.zoo.families import Family

SHAPE = (16, 20, 3)  # height, width, channels


@pytest.fixture(scope="module")
def model():
    return random_vae(SHAPE, latent=8, hidden=64)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (12, *SHAPE), dtype=np.uint8)


@pytest.fixture(scope="module")
def zoo(model, images):
    """A colour family of one level (step 0.2, a prior fitted on the images), without a
    pixel model."""
    means = Zoo([model]).vae(model).encode_mean(images.reshape(len(images), -1) / 255.0)
    level = Level(1, model.name, model.model_id, 0.2, fit_prior(quantize(means, 0.2)),
                  measured={"bytes_per_image": 10.0, "psnr_db": 10.0, "ssim": 0.1})
    return Zoo().with_family(Family("rgb", model.name, None, 1), [model], [level])


def test_shapes_have_one_spelling():
    assert shapes.is_shape([32, 32]) and shapes.is_shape((32, 32, 3))
    for bad in ([32, 32, 1], [32, 32, 5], [0, 3], [32], [32, 32.0], [4097, 2], "32x32",
                [32, True]):
        assert not shapes.is_shape(bad), bad
    assert shapes.normal((8, 9, 1)) == (8, 9)
    assert shapes.describe((32, 28, 3)) == "28x32 RGB" and shapes.describe((5, 6)) == "6x5"
    assert shapes.values((32, 28, 4)) == 32 * 28 * 4


def test_lossy_colour_round_trip_is_a_version_7_file(zoo, model, images):
    data = vaecodec.encode(images, model="rgb", zoo=zoo)
    header = vaecodec.read_info(data, zoo=zoo)
    assert header.version == 7 and header.image_shape == SHAPE
    decoded = vaecodec.decode(data, zoo=zoo)
    assert decoded.shape == images.shape and decoded.dtype == np.uint8
    # the same pixels as the model's own decoder at the level's step, channel for channel
    net = zoo.vae(model)
    means = net.encode_mean(images.reshape(len(images), -1) / np.float32(255))
    expected = net.decode_pixels((np.rint(means / 0.2) * 0.2).astype(np.float32))
    assert np.abs(decoded.astype(int) - expected.reshape(decoded.shape)).max() <= 1
    # one image, without the N axis; float images in [0, 1]
    assert vaecodec.decode(vaecodec.encode(images[0], model="rgb", zoo=zoo),
                           zoo=zoo).shape == (1, *SHAPE)
    floats = vaecodec.encode(images / 255.0, model="rgb", zoo=zoo)
    assert np.array_equal(vaecodec.decode(floats, zoo=zoo), decoded)


def test_arrays_of_the_wrong_layout_say_which(zoo):
    with pytest.raises(vaecodec.InvalidArrayError, match=r"\(N, 16, 20, 3\).*channels last"):
        vaecodec.encode(np.zeros((2, 3, 16, 20), np.uint8), model="rgb", zoo=zoo)
    with pytest.raises(vaecodec.InvalidArrayError, match=r"\(N, 16, 20, 3\)"):
        vaecodec.encode(np.zeros((2, 16, 20), np.uint8), model="rgb", zoo=zoo)
    with pytest.raises(vaecodec.InvalidArrayError, match="no channel axis"):
        vaecodec.encode(np.zeros((2, 28, 28, 3), np.uint8))  # the shipped grayscale model


def test_a_colour_family_without_a_pixel_model_refuses_exact_files(zoo, images):
    for kwargs in ({"lossless": True}, {"max_error": 4}):
        with pytest.raises(vaecodec.SettingsError, match="model rgb has no pixel model"):
            vaecodec.encode(images, model="rgb", zoo=zoo, **kwargs)


def _chunked_header(model, image_shape, fields=()):
    return chunked.FileHeader(model.model_id, 8, 1, None, "range", "int32", None, 0, False,
                              fields=fields, image_shape=image_shape)


def test_the_version_7_header_round_trips_and_is_checked(model):
    header = _chunked_header(model, SHAPE)
    data = chunked.pack_header(header)
    assert data[4] == 7
    parsed, _ = chunked.read_file_header(io.BytesIO(data))
    assert parsed.image_shape == SHAPE and parsed.version == 7 and parsed.fields == ()
    labelled, _ = chunked.read_file_header(io.BytesIO(chunked.pack_header(
        _chunked_header(model, SHAPE, ("label",)))))
    assert labelled.labelled and labelled.image_shape == SHAPE
    with pytest.raises(ValueError):  # grayscale is never written as version 7
        chunked.pack_header(_chunked_header(model, (16, 20)))

    def hand_made(fields) -> bytes:
        raw = msgpack.packb(fields, use_bin_type=True)
        body = container.MAGIC + bytes([7]) + bytes([len(raw)]) + raw
        return body + container.CRC.pack(__import__("zlib").crc32(body))

    base = [model.model_id[:4], 8, 1, 0, None, 0, False]
    assert chunked.read_file_header(io.BytesIO(hand_made(base + [[], [16, 20, 3]])))[0] \
        .image_shape == SHAPE
    for image, message in (([16, 20], "height, width, channels"),
                           ([16, 20, 1], "2..4 channels"), ([16, 20, 9], "2..4 channels"),
                           ([0, 20, 3], "sides"), ("16x20", "must be"),
                           ([16, 20, 3, 1], "must be")):
        with pytest.raises(vaecodec.CorruptHeaderError, match=message):
            chunked.read_file_header(io.BytesIO(hand_made(base + [[], image])))
    with pytest.raises(vaecodec.CorruptHeaderError, match="array of 9 fields"):
        chunked.read_file_header(io.BytesIO(hand_made(base + [[]])))


def test_a_file_that_hides_a_colour_models_channels_is_refused(zoo, model):
    """A header of version 2-6 names no channels: naming a colour model, it is damaged."""
    header = container.Header(model_id=model.model_id, latent_size=8, image_shape=None,
                              count=1, level=1, coder="range", version=5)
    with pytest.raises(vaecodec.CorruptHeaderError, match="does not record its channels"):
        settings_for(header, zoo)


def test_colour_files_compress_and_decompress_in_colour(zoo, images, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    for i, image in enumerate(images[:4]):
        Image.fromarray(image).save(src / f"{i}.png")
    out = tmp_path / "out.vaez"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # colour for a colour model: no conversion, no warning
        files.compress([src], out, model="rgb", zoo=zoo)
    restored = files.decompress(out, tmp_path / "restored", zoo=zoo)
    decoded = vaecodec.decode(out.read_bytes(), zoo=zoo)
    for path, expected in zip(restored.paths, decoded):
        with Image.open(path) as png:
            assert png.mode == "RGB" and np.array_equal(np.asarray(png), expected)
    # grayscale (widened, its channels equal) and transparency (composited on black)
    Image.fromarray(images[4, ..., 0]).save(src / "gray.png")
    rgba = np.concatenate([images[5], np.full((*SHAPE[:2], 1), 128, np.uint8)], -1)
    Image.fromarray(rgba, "RGBA").save(src / "glass.png")
    with pytest.warns(vaecodec.VaezWarning) as caught:
        files.compress([src], tmp_path / "mixed.vaez", model="rgb", zoo=zoo)
    said = [str(w.message) for w in caught]
    assert any("1 grayscale image was converted to RGB" in m for m in said), said
    assert any("1 image was converted to the model's RGB, dropping transparency" in m
               for m in said), said
    with pytest.raises(vaecodec.ConversionError, match="--strict"):
        files.compress([src], tmp_path / "strict.vaez", model="rgb", zoo=zoo, strict=True)
    assert not (tmp_path / "strict.vaez").exists()


def test_colour_arrays_compress_and_colour_is_not_given_to_a_gray_model(zoo, images,
                                                                           tmp_path):
    np.save(tmp_path / "rgb.npy", images)
    out = tmp_path / "rgb.vaez"
    files.compress([tmp_path / "rgb.npy"], out, model="rgb", zoo=zoo)
    assert vaecodec.decode(out.read_bytes(), zoo=zoo).shape == images.shape
    np.save(tmp_path / "first.npy", images.transpose(0, 3, 1, 2))
    with pytest.raises(vaecodec.InputError, match="channels first"):
        files.compress([tmp_path / "first.npy"], tmp_path / "x.vaez", model="rgb", zoo=zoo)


def test_archives_of_colour_images_read_at_random_and_append(zoo, images, tmp_path):
    path = tmp_path / "a.vaez"
    with vaecodec.open(path, "w", model="rgb", zoo=zoo) as archive:
        archive.write(images[:7], names=[f"{i}.png" for i in range(7)])
    with vaecodec.open(path, "a", zoo=zoo) as archive:
        archive.write(images[7:], names=[f"{i}.png" for i in range(7, 12)])
    whole = vaecodec.decode(path.read_bytes(), zoo=zoo)
    with vaecodec.open(path, zoo=zoo) as archive:
        assert len(archive) == 12 and archive.image_shape == SHAPE
        assert np.array_equal(archive[9], whole[9]) and archive["3.png"].shape == SHAPE
    assert vaecodec.read_info(path, zoo=zoo).version == 7


def test_the_torch_datasets_give_channels_first(zoo, images, tmp_path):
    torch = pytest.importorskip("torch")
    from vaecodec.torch import VaezDataset, VaezIterableDataset

    path = tmp_path / "a.vaez"
    path.write_bytes(vaecodec.encode(images, model="rgb", zoo=zoo))
    decoded = vaecodec.decode(path.read_bytes(), zoo=zoo)
    with VaezDataset(path, zoo=zoo) as dataset:
        assert dataset.image_shape == SHAPE
        image = dataset[2]
        assert image.shape == (3, 16, 20)
        assert torch.equal(image, torch.from_numpy(decoded[2]).permute(2, 0, 1) / 255.0)
    with VaezIterableDataset(path, zoo=zoo, shuffle=False) as dataset:
        batch = torch.stack(list(dataset))
    assert batch.shape == (12, 3, 16, 20)


def test_training_data_keeps_the_channels_the_images_use(tmp_path, images):
    gray, rgb, opaque = tmp_path / "gray", tmp_path / "rgb", tmp_path / "opaque"
    for folder in (gray, rgb, opaque):
        folder.mkdir()
    for i in range(3):
        Image.fromarray(images[i, ..., 1]).save(gray / f"{i}.png")
        Image.fromarray(images[i]).save(rgb / f"c{i}.png")
        Image.fromarray(np.concatenate([images[i], np.full((16, 20, 1), 255, np.uint8)], -1),
                        "RGBA").save(opaque / f"{i}.png")
    loaded, described = load_images([gray])
    assert loaded.shape == (3, 16, 20) and np.array_equal(loaded, images[:3, ..., 1])
    loaded, described = load_images([opaque])  # alpha only where something is transparent
    assert loaded.shape == (3, 16, 20, 3) and np.array_equal(loaded, images[:3])
    loaded, described = load_images([gray, rgb])  # mixed: the grayscale ones widened
    assert loaded.shape == (6, 16, 20, 3) and described["image_shape"] == [16, 20, 3]
    assert np.array_equal(loaded[3:], images[:3])
    assert np.array_equal(loaded[:3], np.repeat(images[:3, ..., 1:2], 3, -1))
    assert needed_channels(np.full((2, 4, 4, 4), 255, np.uint8)) == 1
    assert needed_channels(np.zeros((2, 4, 4, 2), np.uint8)) == 2


def test_data_sets_in_colour_convert_in_one_call(installed, zoo, images, tmp_path):
    """``convert.from_arrays`` takes (N, H, W, C) arrays for a colour model; PIL images
    and channels-first tensors of a data set keep their colour."""
    from vaecodec import convert

    out = tmp_path / "a.vaez"
    convert.from_arrays(images, out, labels=np.arange(12) % 3, model="rgb")
    assert vaecodec.decode(out.read_bytes(), zoo=zoo).shape == images.shape

    class Pictures:  # what a torchvision data set gives: (PIL image, label)
        def __len__(self):
            return 4

        def __getitem__(self, i):
            picture = (Image.fromarray(images[i]) if i % 2
                       else images[i].transpose(2, 0, 1).copy())  # (C, H, W)
            return picture, i

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # colour to a colour model: nothing to say
        convert.from_torchvision(Pictures(), tmp_path / "t.vaez", model="rgb")
    expected = vaecodec.decode(vaecodec.encode(images[:4], model="rgb", zoo=zoo), zoo=zoo)
    assert np.array_equal(vaecodec.decode((tmp_path / "t.vaez").read_bytes(), zoo=zoo),
                          expected)

    class Gray(Pictures):  # grayscale PIL images and a (1, H, W) tensor: widened, said
        def __getitem__(self, i):
            gray = images[i, ..., 0]
            return (Image.fromarray(gray) if i % 2 else gray[None].copy()), i

    with pytest.warns(vaecodec.VaezWarning, match="4 grayscale images were converted to RGB"):
        convert.from_torchvision(Gray(), tmp_path / "g.vaez", model="rgb")
    widened = vaecodec.decode((tmp_path / "g.vaez").read_bytes(), zoo=zoo)
    assert widened.shape == (4, *SHAPE)


# the default suite fits the predictor the icons use; the long set the other two as well
@pytest.mark.parametrize("predictor", [pytest.param(None, marks=pytest.mark.slow), "med",
                                       pytest.param("med-planes", marks=pytest.mark.slow)])
def test_a_colour_pixel_model_codes_exact_and_bounded_colour(zoo, model, images, predictor):
    """A pixel model fitted on colour images (a few steps) codes every channel, plane by
    plane with the earlier planes as context: lossless files restore every value,
    max-error files bound each channel's error, the bytes are the ideal code length (to
    within the coder's overhead), and the split first layer (position and latent summed
    apart) equals the whole network on the colour feature rows."""
    pytest.importorskip("torch")
    from vaecodec.core import residual
    from vaecodec.train import pixel as fitting
    from vaecodec.zoo import ModelInfo

    rng = np.random.default_rng(5)
    train = rng.integers(0, 256, (40, *SHAPE), dtype=np.uint8)
    tensors, meta = fitting.train_pixel_model(train, zoo=zoo, family="rgb", epochs=2,
                                              batch_size=1024, extras=("position", "latent"),
                                              predictor=predictor, log=lambda *a: None)
    assert meta["architecture"].get("predictor") == predictor
    assert meta["architecture"]["image_shape"] == list(SHAPE)
    geo = residual.geometry(*SHAPE)
    assert geo.cross_width == 2 * 18 + 3
    assert meta["architecture"]["features"] == residual.FEATURES + geo.cross_width + 2 + 8
    pixel = residual.PixelModel.from_tensors("p", b"", meta, tensors, SHAPE)
    latent = fitting.base_symbols(zoo.level(1, "rgb"), images, zoo)
    check_split_layer_and_coding(pixel, images, pixel.base_pixels(latent), latent, (0, 3),
                                 picks=2000)
    # through the codec: a family with the pixel model writes version 7 residual files
    info = ModelInfo.in_memory("rgb.pixel", tensors, meta)
    family = Family("rgb", model.name, info.name, 1)
    full = Zoo().with_family(family, [model, info], zoo.levels("rgb"))
    exact = vaecodec.encode(images, lossless=True, model="rgb", zoo=full)
    header = vaecodec.read_info(exact, zoo=full)
    assert header.version == 7 and header.residual.layout == (3 if predictor else 1)
    assert np.array_equal(vaecodec.decode(exact, zoo=full), images)
    # a header whose layout does not match the pixel model's kind is refused
    import dataclasses

    wrong = dataclasses.replace(header, residual=dataclasses.replace(
        header.residual, layout=1 if predictor else 3))
    with pytest.raises(vaecodec.CorruptHeaderError, match="does not match pixel model"):
        settings_for(wrong, full)
    bounded = vaecodec.decode(vaecodec.encode(images, max_error=4, model="rgb", zoo=full),
                              zoo=full)
    assert np.abs(bounded.astype(int) - images).max() <= 4


def test_a_table_pixel_model_is_residual_layout_5(zoo, model, images, tmp_path):
    """A family whose pixel model is a table (``core.tablemodel``) writes residual layout
    5, without the base layer the table does not read: lossless files and archives restore
    every value, max-error files bound each channel's error, the table loads from its
    model file's tensors, and a header that gives the table another layout (or a network
    layout 4 or 5) is refused."""
    import dataclasses

    from vaecodec.core import tablemodel
    from vaecodec.zoo import ModelInfo

    rng = np.random.default_rng(8)
    train = rng.integers(0, 256, (40, *SHAPE), dtype=np.uint8)
    tensors, meta = tablemodel.fit_pixel_model(train, 1, model.model_id.hex(), min_count=4)
    info = ModelInfo.in_memory("rgb.table", tensors, meta)
    full = Zoo().with_family(Family("rgb", model.name, info.name, 1), [model, info],
                             zoo.levels("rgb"))
    assert isinstance(full.pixel_model(info), tablemodel.TablePixelModel)
    exact = vaecodec.encode(images, lossless=True, model="rgb", zoo=full)
    header = vaecodec.read_info(exact, zoo=full)
    assert header.version == 7 and header.residual.layout == 5
    assert header.payload_size == 0  # no base layer
    assert np.array_equal(vaecodec.decode(exact, zoo=full), images)
    with pytest.raises(vaecodec.InputError, match="stores no latents.*layout 5"):
        vaecodec.latents(exact, zoo=full)
    for layout in (1, 3):
        wrong = dataclasses.replace(header, residual=dataclasses.replace(
            header.residual, layout=layout))
        with pytest.raises(vaecodec.CorruptHeaderError, match=f"layout {layout} does not "
                           "match pixel model rgb.table, which codes with a table"):
            settings_for(wrong, full)
    bounded = vaecodec.decode(vaecodec.encode(images, max_error=3, model="rgb", zoo=full),
                              zoo=full)
    assert np.abs(bounded.astype(int) - images).max() <= 3
    # a table counted on images of another size than its VAE's is a damaged family
    small = ModelInfo.in_memory("rgb.small", *tablemodel.fit_pixel_model(
        train[:, :8], 1, model.model_id.hex(), min_count=4))
    odd = Zoo().with_family(Family("rgb", model.name, small.name, 1), [model, small],
                            zoo.levels("rgb"))
    with pytest.raises(vaecodec.CorruptModelError, match=r"rgb.small is damaged .*VAE's"):
        vaecodec.encode(images, lossless=True, model="rgb", zoo=odd)
    path = tmp_path / "table.vaez"
    with vaecodec.open(path, "w", model="rgb", lossless=True, zoo=full,
                       chunk_images=5) as archive:
        archive.write(images, names=[f"i{n}" for n in range(len(images))])
    assert vaecodec.read_info(path, zoo=full).residual.layout == 5
    with vaecodec.open(path, zoo=full) as archive:
        assert np.array_equal(archive[7], images[7])
        assert np.array_equal(np.stack([archive[n] for n in range(len(images))]), images)


def test_a_grayscale_family_takes_a_table_too(tmp_path):
    """Layout 4 on one plane: a grayscale family whose pixel model is a table codes
    exactly, within K, and in a family file that keeps another pixel model second (the
    first is the one new files use; files naming the second still decode); the family's
    ``pixel_models`` picks one per max error, and is checked when the file is read."""
    from vaecodec.core import tablemodel
    from vaecodec.zoo import ModelInfo, families

    vae = random_vae((10, 12), latent=4, hidden=16, seed=3)
    rng = np.random.default_rng(2)
    digits = rng.integers(0, 256, (30, 10, 12), dtype=np.uint8)
    digits[:, :, :4] = 0  # some flat ink-free ground
    means = Zoo([vae]).vae(vae).encode_mean(digits.reshape(len(digits), -1) / 255.0)
    level = Level(1, vae.name, vae.model_id, 0.2, fit_prior(quantize(means, 0.2)),
                  measured={"bytes_per_image": 3.0, "psnr_db": 10.0, "ssim": 0.1})
    info = ModelInfo.in_memory("g.table", *tablemodel.fit_pixel_model(
        digits, 1, vae.model_id.hex(), min_count=2))
    full = Zoo().with_family(Family("g", vae.name, info.name, 1), [vae, info], [level])
    exact = vaecodec.encode(digits, lossless=True, model="g", zoo=full)
    assert vaecodec.read_info(exact, zoo=full).residual.layout == 5
    assert np.array_equal(vaecodec.decode(exact, zoo=full), digits)
    # an unchunked file too has no base layer; one whose layout 5 carries a payload is damaged
    archive = container.unpack(exact)
    assert archive.header.version <= 4 and archive.payload == b""
    hostile = container.pack(archive.header, b"\x01\x02", archive.residual)
    with pytest.raises(vaecodec.CorruptPayloadError, match="2 bytes of latent payload.*layout 5"):
        vaecodec.decode(hostile, zoo=full)
    with pytest.raises(vaecodec.InputError, match="stores no latents"):
        vaecodec.latents(exact, zoo=full)
    near = vaecodec.decode(vaecodec.encode(digits, max_error=2, model="g", zoo=full),
                           zoo=full)
    assert np.abs(near.astype(int) - digits).max() <= 2
    # a second pixel model in the family: exported with it, found by the files' ids
    other = ModelInfo.in_memory("g.table2", *tablemodel.fit_pixel_model(
        digits[:10], 1, vae.model_id.hex(), min_count=2))
    both = Zoo().with_family(Family("g", vae.name, other.name, 1), [vae, other, info],
                             [level])
    _, models, _ = families.from_bytes(both.family_file("g"))
    assert [m.name for m in models] == [vae.name, "g.table2", "g.table"]
    family, models, levels = families.from_bytes(both.family_file("g"))
    reloaded = Zoo().with_family(family, models, levels)
    assert family.pixel_model == "g.table2"
    assert np.array_equal(vaecodec.decode(exact, zoo=reloaded), digits)
    newer = vaecodec.encode(digits, lossless=True, model="g", zoo=reloaded)
    assert vaecodec.read_info(newer, zoo=reloaded).residual.model_id == other.model_id[:4]
    # pixel_models: from max error 2 on, new files use the other one
    ranged = Family("g", vae.name, other.name, 1, {"pixel_models": [[0, "g.table2"],
                                                                     [2, "g.table"]]})
    zoo = Zoo().with_family(ranged, [vae, other, info], [level])
    family, models, levels = families.from_bytes(zoo.family_file("g"))
    zoo = Zoo().with_family(family, models, levels)
    for k, pixel in ((0, other), (1, other), (2, info), (32, info)):
        data = vaecodec.encode(digits[:3], max_error=k, model="g", zoo=zoo)
        assert vaecodec.read_info(data, zoo=zoo).residual.model_id == pixel.model_id[:4]
    for bad in ([[1, "g.table"]], [[0, "g.table"], [0, "g.table2"]], [[0, "g.other"]],
                [[0, "g.table"], [33, "g.table2"]], [[0, "g.table"], [True, "g.table2"]],
                [0, "g.table"], "g.table", []):
        hostile = Family("g", vae.name, other.name, 1, {"pixel_models": bad})
        data = Zoo().with_family(hostile, [vae, other, info], [level]).family_file("g")
        with pytest.raises(vaecodec.CorruptModelError, match="pixel_models"):
            families.from_bytes(data)


@pytest.fixture
def installed(zoo, model, tmp_path, monkeypatch):
    """The rgb family installed in a store of its own (for what uses the installed zoo)."""
    from vaecodec.zoo import families

    store = tmp_path / "store"
    store.mkdir()
    (store / "rgb.vaem").write_bytes(families.to_bytes(
        zoo.family("rgb"), [model], zoo.levels("rgb")))
    monkeypatch.setenv("VAECODEC_MODELS", str(store))
    return "rgb"


def test_the_rate_distortion_benchmark_measures_colour(installed, images, tmp_path):
    """The classical codecs keep the channels (lossless ones are exact), the colour
    family's levels are measured, and the picture is drawn in colour."""
    from vaecodec.eval import benchmark

    results, kept = benchmark.run(images, ["vaecodec", "png", "png-atlas", "webp-lossless",
                                           "webp"], "colour", log=lambda line: None,
                                  family=installed, published=False)
    points = {(p["family"], p["setting"]): p for p in results["points"]}
    for lossless in (("PNG", "optimize"), ("PNG atlas", "optimize"),
                     ("WebP lossless", "default")):
        assert points[lossless]["exact"], lossless
    assert results["dataset"]["image_shape"] == list(SHAPE)
    assert points[(benchmark.LEVELS_FAMILY, "q=1")]["bits_per_pixel"] == pytest.approx(
        8 * points[(benchmark.LEVELS_FAMILY, "q=1")]["bytes_per_image"] / (16 * 20))
    assert kept[("WebP", "q=0")].shape == (len(images), *SHAPE)
    benchmark.picture(images[:4], benchmark.picture_rows(results, kept)[:2],
                      str(tmp_path / "p.png"))
    assert Image.open(tmp_path / "p.png").mode == "RGB"


def test_salvage_restores_the_intact_colour_chunks(zoo, images, tmp_path):
    """A colour archive with one chunk damaged: salvage writes the others' images in
    colour and names what it lost."""
    path = tmp_path / "a.vaez"
    with vaecodec.open(path, "w", model="rgb", zoo=zoo, chunk_images=4) as out:
        out.write(images, names=[f"{i:02d}.png" for i in range(12)])
    with vaecodec.open(path, zoo=zoo) as archive:
        decoded, middle = archive[:], archive.decoder.index.chunks[1]
    data = bytearray(path.read_bytes())
    data[middle.offset + middle.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = files.decompress(path, tmp_path / "out", zoo=zoo, salvage=True)
    written = sorted(p.name for p in result.paths)
    assert written == [f"{i:02d}.png" for i in (0, 1, 2, 3, 8, 9, 10, 11)]
    for name in written:
        with Image.open(tmp_path / "out" / name) as png:
            assert png.mode == "RGB"
            assert np.array_equal(np.asarray(png), decoded[int(name[:2])])
    assert [(d.chunk, d.first, d.count) for d in result.lost] == [(1, 4, 4)]


def test_info_shows_the_channels_without_the_model(zoo, images, tmp_path):
    """``info`` reads a version 7 file's shape from its header: no model needed."""
    from click.testing import CliRunner

    from vaecodec.cli import main

    path = tmp_path / "a.vaez"
    path.write_bytes(vaecodec.encode(images, model="rgb", zoo=zoo))
    result = CliRunner().invoke(main, ["info", str(path)])
    assert result.exit_code == 0, result.output
    assert "12 (20x16 RGB)" in result.output and "format version: 7" in result.output
    shown = CliRunner().invoke(main, ["info", "--json", str(path)])
    assert '"image_shape": [\n    16,\n    20,\n    3\n  ]' in shown.output


def test_a_colour_familys_predictor_is_chosen_from_its_images():
    """Flat icons differ least from their own plane's prediction; photographs, whose
    edges fall at the same pixels in every channel, from the planes' together."""
    from vaecodec.train.pixel import choose_predictor

    rng = np.random.default_rng(3)
    flat = np.repeat(rng.integers(0, 256, (30, 1, 1, 3), dtype=np.uint8), 16, 1)
    flat = np.repeat(flat, 16, 2)
    flat[:, 4:12, 4:12] = rng.integers(0, 256, (30, 1, 1, 3), dtype=np.uint8)
    assert choose_predictor(flat)[0] == "med"
    ramp = (np.linspace(0, 200, 16)[None, :, None, None]
            + np.linspace(0, 40, 16)[None, None, :, None])
    shade = rng.uniform(0.3, 1.0, (30, 1, 1, 1)) * np.array([1.0, 0.8, 0.6])
    texture = rng.normal(0, 6, (30, 16, 16, 1))  # the same in every channel
    photo = np.clip((ramp + texture) * shade, 0, 255).astype(np.uint8)
    name, figures = choose_predictor(photo)
    assert name == "med-planes" and figures["med-planes"] < figures["med"]


@pytest.mark.slow  # trains a colour family (about 2 minutes)
def test_train_makes_a_colour_family_that_codes_colour(tmp_path, model_store):
    """The user's way, on icons drawn offline: ``vaecodec train`` on an (N, 32, 32, 3)
    array makes a colour family that passes its checks, with a predictive pixel network
    chosen from the images and a table pixel model, keeping the one that codes its
    validation images in fewer bytes (the table); it codes colour lossy, lossless
    (exactly) and error-bounded, and ``sample`` draws colour images."""
    import sys
    from pathlib import Path

    from click.testing import CliRunner

    from vaecodec.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))
    from make_train_sets import icons

    np.save(tmp_path / "icons.npy", icons(1200, seed=5))
    result = CliRunner().invoke(main, ["train", str(tmp_path / "icons.npy"), "--name", "ic",
                                       "--time-budget", "150"])
    assert result.exit_code == 0, result.output
    assert "1080 training images of 32x32 RGB" in result.output
    assert "pixel model: med" in result.output
    # the network and both tables are tried; on icons the plain table codes fewer bytes
    # (their colours are flat: the subtract-green transform does not pay)
    assert "pixel model: the table (table " in result.output
    zoo = Zoo.installed()
    choice = zoo.family("ic").metadata["validation"]["pixel_model_choice"]
    sizes = choice["bytes_per_image"]
    assert choice["kept"] == "table" and sizes["table"]["0"] < sizes["network"]["0"]
    assert sizes["table"]["0"] < sizes["table-sg"]["0"] and set(sizes["table-sg"]) == {"0"}
    assert set(sizes["table"]) == {"0", "1", "2", "4", "8", "16", "32"}
    pixel = zoo.find(zoo.family("ic").pixel_model, "pixel-model")
    assert pixel.metadata["architecture"]["type"] == "table"
    test = icons(40, seed=6)
    exact = vaecodec.encode(test, model="ic", lossless=True)
    assert vaecodec.read_info(exact).residual.layout == 5
    assert np.array_equal(vaecodec.decode(exact), test)
    bounded = vaecodec.decode(vaecodec.encode(test, model="ic", max_error=4))
    assert np.abs(bounded.astype(int) - test).max() <= 4
    lossy = vaecodec.decode(vaecodec.encode(test, model="ic"))
    mean = np.broadcast_to(test.mean(axis=0).round().astype(np.uint8), test.shape)
    from vaecodec.eval import metrics

    assert metrics.psnr(test, lossy) > metrics.psnr(test, mean) + 3
    assert vaecodec.sample(4, model="ic").shape == (4, 32, 32, 3)


def test_the_shipped_colour_family_codes_its_samples(tmp_path):
    """The companion's icons family on samples/icons (its test images): lossy within its
    measured quality, with no warning; lossless every pixel as it was, as RGB PNGs."""
    icons = Path(__file__).resolve().parent.parent / "samples" / "icons"
    given = np.stack([np.asarray(Image.open(p)) for p in sorted(icons.glob("*.png"))])
    assert given.shape == (100, 32, 32, 3)
    zoo = Zoo.installed()
    assert tuple(zoo.find(zoo.family("icons").vae).image_shape) == (32, 32, 3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # in colour and of the family's kind: nothing to say
        data = vaecodec.encode(given, model="icons")
    level = zoo.levels("icons")[zoo.family("icons").default_level - 1]
    assert len(data) / 100 < 2 * level.measured["bytes_per_image"] + 50
    assert metrics.psnr(given, vaecodec.decode(data)) > level.measured["psnr_db"] - 1.5
    out = tmp_path / "exact.vaez"
    files.compress([icons], out, model="icons", lossless=True)
    assert vaecodec.read_info(out).residual.layout == 5  # the family's table
    # from max error 2 up the family's pixel network codes its icons in fewer bytes
    assert zoo.family("icons").metadata["pixel_models"] == [[0, "icons.table"],
                                                            [2, "icons.pixel"]]
    from click.testing import CliRunner

    from vaecodec.cli import main

    shown = CliRunner().invoke(main, ["models", "show", "icons"]).output
    assert ("pixel model: icons.table (a table) up to --max-error 1, icons.pixel (a "
            "network) from --max-error 2") in shown
    for k, layout in ((1, 5), (2, 3)):
        bounded = vaecodec.encode(given[:5], model="icons", max_error=k)
        assert vaecodec.read_info(bounded).residual.layout == layout
        assert np.abs(vaecodec.decode(bounded).astype(int) - given[:5]).max() <= k
        # the family carried in the file holds both pixel models; either may be named
        carried = vaecodec.encode(given[:2], model="icons", max_error=k, embed_model=True)
        assert np.abs(vaecodec.decode(carried).astype(int) - given[:2]).max() <= k
    restored = files.decompress(out, tmp_path / "back")
    for path in restored.paths:
        with Image.open(path) as back, Image.open(icons / Path(path).name) as source:
            assert back.mode == "RGB" and np.array_equal(np.asarray(back), np.asarray(source))
