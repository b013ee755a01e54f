"""Images given to a colour family in another mode (grayscale, grayscale and alpha, RGBA
to an RGB model...) are coded in the model's channels, and the archive records each
one's source channels (version 7's per-image field ``channels``), so that ``decompress``
writes every PNG in the mode it came in: issue 29's "PNG output in the source's mode"."""

from __future__ import annotations

import io
import tarfile

import numpy as np
import pytest
from PIL import Image
from test_colour import SHAPE, images, installed, model, zoo  # noqa: F401  (fixtures)

import vaecodec
from vaecodec import files, modes
from vaecodec.convert import to_webdataset
from vaecodec.format import chunked
from vaecodec.format import fields as per_image
from vaecodec.zoo import Zoo
from vaecodec.zoo.families import Family


@pytest.fixture(scope="module")
def exact_zoo(zoo, model):  # noqa: F811
    """The test colour family with a table pixel model: lossless and max-error files."""
    from vaecodec.core import tablemodel
    from vaecodec.zoo import ModelInfo

    train = np.random.default_rng(8).integers(0, 256, (40, *SHAPE), dtype=np.uint8)
    tensors, meta = tablemodel.fit_pixel_model(train, 1, model.model_id.hex(), min_count=4)
    info = ModelInfo.in_memory("rgb.table", tensors, meta)
    return Zoo().with_family(Family("rgb", model.name, info.name, 1), [model, info],
                             zoo.levels("rgb"))


def _sources(images, folder):  # noqa: F811
    """Five PNGs in five modes; their pixels as the files hold them, and their modes."""
    folder.mkdir()
    gray = images[1, ..., 0]
    opaque = np.full(SHAPE[:2], 255, np.uint8)
    given = {
        "a_rgb.png": Image.fromarray(images[0]),
        "b_gray.png": Image.fromarray(gray),
        "c_la.png": Image.fromarray(np.stack([images[2, ..., 1], opaque], -1), "LA"),
        "d_rgba.png": Image.fromarray(np.concatenate([images[3], opaque[..., None]], -1),
                                      "RGBA"),
        "e_palette.png": Image.fromarray(images[4] // 64 * 64).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=64),
    }
    for name, picture in given.items():
        picture.save(folder / name)
    expected = {}
    for name in given:
        with Image.open(folder / name) as png:
            shown = png.convert("RGB") if png.mode == "P" else png
            expected[name] = (np.asarray(shown), shown.mode)
    return expected


@pytest.mark.parametrize("how", [{"lossless": True}, {"max_error": 3}, {}])
def test_decompress_writes_each_image_in_its_sources_mode(exact_zoo, images, tmp_path,  # noqa: F811
                                                          how):
    expected = _sources(images, tmp_path / "src")
    out = tmp_path / "out.vaez"
    with pytest.warns(vaecodec.VaezWarning, match="2 grayscale images were converted"):
        files.compress([tmp_path / "src"], out, model="rgb", zoo=exact_zoo, **how)
    info = vaecodec.read_info(out, zoo=exact_zoo)
    assert info.version == 7 and "channels" in info.fields
    with vaecodec.open(out, zoo=exact_zoo) as archive:
        assert archive.source_channels("b_gray.png") == 1
        assert list(archive.source_channels(slice(None))) == [3, 1, 2, 4, 3]
        assert archive["b_gray.png"].shape == SHAPE  # arrays keep the model's channels
    restored = files.decompress(out, tmp_path / "restored", zoo=exact_zoo)
    bound = 0 if how.get("lossless") else how.get("max_error", 255)
    for path in restored.paths:
        pixels, mode = expected[path.name]
        with Image.open(path) as png:
            assert png.mode == mode, path.name
            error = np.abs(np.asarray(png).astype(int) - pixels).max()
        assert error <= bound, (path.name, error)
    # one member too
    one = files.decompress(out, tmp_path / "one", zoo=exact_zoo, members=["c_la.png"])
    with Image.open(one.paths[0]) as png:
        assert png.mode == "LA"


def test_a_webdataset_export_keeps_the_modes(installed, images, tmp_path):  # noqa: F811
    _sources(images, tmp_path / "src")
    with pytest.warns(vaecodec.VaezWarning):
        files.compress([tmp_path / "src"], tmp_path / "out.vaez", model=installed)
    tar = tmp_path / "data.tar"
    to_webdataset(tmp_path / "out.vaez", tar)
    with tarfile.open(tar) as archive:
        found = {member.name: Image.open(io.BytesIO(
            archive.extractfile(member).read())).mode  # type: ignore[union-attr]
            for member in archive.getmembers()}
    assert found == {"a_rgb.png": "RGB", "b_gray.png": "L", "c_la.png": "LA",
                     "d_rgba.png": "RGBA", "e_palette.png": "RGB"}
    # and in through the convert calls: a tar of the PNGs
    from vaecodec import convert

    with pytest.warns(vaecodec.VaezWarning, match="2 grayscale images"):
        convert.from_webdataset(tar, tmp_path / "again.vaez", model=installed)
    with vaecodec.open(tmp_path / "again.vaez") as archive:
        assert dict(zip(archive.names, archive.source_channels(slice(None)))) == {
            "a_rgb.png": 3, "b_gray.png": 1, "c_la.png": 2, "d_rgba.png": 4,
            "e_palette.png": 3}
    with pytest.raises(vaecodec.InvalidArrayError, match="one array"):  # not a traceback
        convert.from_arrays([images[0], images[1, ..., 0]], tmp_path / "arrays.vaez",
                            model=installed)


def test_a_hugging_face_export_keeps_the_modes(installed, images, tmp_path):  # noqa: F811
    pytest.importorskip("datasets", reason="the hf extra")
    from vaecodec.convert import to_huggingface

    _sources(images, tmp_path / "src")
    with pytest.warns(vaecodec.VaezWarning):
        files.compress([tmp_path / "src"], tmp_path / "out.vaez", model=installed)
    back = to_huggingface(tmp_path / "out.vaez", cache_dir=tmp_path / "cache")
    assert {row["name"]: row["image"].mode for row in back} == {
        "a_rgb.png": "RGB", "b_gray.png": "L", "c_la.png": "LA", "d_rgba.png": "RGBA",
        "e_palette.png": "RGB"}


def test_an_archive_that_records_no_modes_writes_the_models(exact_zoo, images, tmp_path):  # noqa: F811
    """Arrays written through the API record nothing (version 7 as before); files
    appended to such an archive are written out in the model's mode. An archive that
    records them takes the model's channels for arrays appended without any."""
    path = tmp_path / "api.vaez"
    with vaecodec.open(path, "w", model="rgb", zoo=exact_zoo, lossless=True) as archive:
        archive.write(images[:3], names=["0.png", "1.png", "2.png"])
    assert vaecodec.read_info(path, zoo=exact_zoo).fields == ()
    _sources(images, tmp_path / "src")
    with pytest.warns(vaecodec.VaezWarning):
        files.compress([tmp_path / "src"], path, zoo=exact_zoo, append=True)
    restored = files.decompress(path, tmp_path / "restored", zoo=exact_zoo)
    for name in ("b_gray.png", "c_la.png", "0.png"):
        with Image.open(restored.output_dir / name) as png:
            assert png.mode == "RGB", name
    recorded = tmp_path / "files.vaez"
    with pytest.warns(vaecodec.VaezWarning):
        files.compress([tmp_path / "src"], recorded, zoo=exact_zoo, model="rgb",
                       lossless=True)
    with vaecodec.open(recorded, "a", zoo=exact_zoo) as archive:
        archive.write(images[5:7], names=["x.png", "y.png"])
    with vaecodec.open(recorded, zoo=exact_zoo) as archive:
        assert list(archive.source_channels([1, 5, 6])) == [1, 3, 3]
        assert archive.source_channels(np.array([1, 5, 6])).dtype == np.uint8


def test_the_api_records_the_channels_it_is_given(zoo, images, tmp_path):  # noqa: F811
    path = tmp_path / "given.vaez"
    with vaecodec.open(path, "w", model="rgb", zoo=zoo) as archive:
        archive.write(images[:2], channels=[1, 4])
        with pytest.raises(vaecodec.InvalidArrayError, match="outside 1..4"):
            archive.write(images[:1], channels=[5])
        with pytest.raises(vaecodec.InvalidArrayError, match="2 source channel counts"):
            archive.write(images[:1], channels=[1, 1])
    with vaecodec.open(path, zoo=zoo) as archive:
        assert list(archive.source_channels(slice(None))) == [1, 4]
    with pytest.raises(vaecodec.SettingsError, match="colour model's images only"):
        with vaecodec.open(tmp_path / "gray.vaez", "w") as archive:
            archive.write(np.zeros((1, 28, 28), np.uint8), channels=[1])
    assert not (tmp_path / "gray.vaez").exists()


def test_a_grayscale_file_stays_version_5(tmp_path):
    """A grayscale family has nothing to record: its files are as before."""
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(src / "a.png")
    files.compress([src], tmp_path / "g.vaez")
    info = vaecodec.read_info(tmp_path / "g.vaez")
    assert info.version == 5 and info.fields == ()


def _header(model, fields, image_shape=SHAPE):  # noqa: F811
    return chunked.FileHeader(model.model_id, 8, 1, None, "range", "int32", None, 0, False,
                              fields=fields, image_shape=image_shape)


def test_hostile_source_channels_are_refused(model, monkeypatch):  # noqa: F811
    header = _header(model, ("channels",))
    parsed, _ = chunked.read_file_header(io.BytesIO(chunked.pack_header(header)))
    assert parsed.fields == ("channels",)
    good = chunked.Chunk(0, 0, 3, b"x", None, None, None, channels=b"\x01\x02\x03")
    assert chunked.parse_chunk(chunked.pack_chunk(header, good), header).channels \
        == b"\x01\x02\x03"
    pack = per_image.pack_channels
    for stored, error, match in (
            (b"\x01\x00\x03", vaecodec.CorruptHeaderError, "outside 1..4"),
            (b"\x01\x05\x03", vaecodec.CorruptHeaderError, "outside 1..4"),
            (b"\x01\x02", vaecodec.FormatError, "source channels"),
            (b"\x01\x02\x03\x04", vaecodec.FormatError, "source channels"),
            (None, vaecodec.CorruptHeaderError, "must be a zstd frame")):
        # the writer refuses such values: a hostile file is packed around its checks
        monkeypatch.setattr(per_image, "pack_channels",
                            lambda _, stored=stored: 7 if stored is None else pack(stored))
        data = chunked.pack_chunk(header, good)
        with pytest.raises(error, match=match):
            chunked.parse_chunk(data, header)
    monkeypatch.undo()
    # only a colour file records source channels
    with pytest.raises(ValueError, match="version 7"):
        chunked.pack_header(_header(model, ("channels",), None))
    import msgpack

    from vaecodec.format import container

    def hand_made(version: int, fields) -> bytes:
        raw = msgpack.packb([model.model_id[:4], 8, 1, 0, None, 0, False] + fields,
                            use_bin_type=True)
        body = container.MAGIC + bytes([version]) + bytes([len(raw)]) + raw
        return body + container.CRC.pack(__import__("zlib").crc32(body))

    assert chunked.read_file_header(io.BytesIO(hand_made(7, [["channels"], list(SHAPE)])))[
        0].fields == ("channels",)
    with pytest.raises(vaecodec.CorruptHeaderError, match="only a version 7 file"):
        chunked.read_file_header(io.BytesIO(hand_made(6, [["channels"]])))
    with pytest.raises(vaecodec.CorruptHeaderError, match="in the order label, meta, channels"):
        chunked.read_file_header(io.BytesIO(hand_made(7, [["channels", "label"],
                                                          list(SHAPE)])))


def test_images_are_written_in_any_mode_exactly():
    rng = np.random.default_rng(3)
    gray = rng.integers(0, 256, (5, 6), dtype=np.uint8)
    rgb = np.stack([gray] * 3, -1)
    assert np.array_equal(modes.in_mode(rgb, 1), gray)  # equal channels: their value
    assert np.array_equal(modes.in_mode(rgb, 2), np.stack([gray, np.full_like(gray, 255)],
                                                          -1))
    rgba = rng.integers(0, 256, (5, 6, 4), dtype=np.uint8)
    assert np.array_equal(modes.in_mode(rgba, 3), rgba[..., :3])
    assert np.array_equal(modes.in_mode(rgba, 2)[..., 1], rgba[..., 3])
    assert np.array_equal(modes.in_mode(rgb, 4)[..., :3], rgb)
    assert (modes.in_mode(rgb, 4)[..., 3] == 255).all()
    la = rng.integers(0, 256, (5, 6, 2), dtype=np.uint8)
    assert np.array_equal(modes.in_mode(la, 1), la[..., 0])
    assert np.array_equal(modes.in_mode(la, 4), np.stack([la[..., 0]] * 3 + [la[..., 1]],
                                                         -1))
    luma = modes.in_mode(rgba, 1)
    assert luma.dtype == np.uint8 and luma.shape == (5, 6)
    expected = np.rint(rgba[..., 0] * 0.299 + rgba[..., 1] * 0.587 + rgba[..., 2] * 0.114)
    assert np.array_equal(luma, expected)
