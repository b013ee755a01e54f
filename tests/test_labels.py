"""Labels and metadata per image (format version 6): written through ``vaecodec.open``,
read back by position and name, appended to, and checked as strictly as the rest of the
format (hand-made headers, chunks and indexes)."""

from __future__ import annotations

import io
import struct
import zlib

import msgpack
import numpy as np
import pytest
import zstandard

import vaecodec
from vaecodec.errors import (
    CorruptHeaderError,
    HeaderTooLargeError,
    InvalidArrayError,
    PayloadSizeError,
    SettingsError,
    UnsupportedVersionError,
)
from vaecodec.format import chunked, container
from vaecodec.format import fields as per_image
from vaecodec.format.wire import leb128

CHUNK = 64


@pytest.fixture(scope="module")
def images(sample_images) -> np.ndarray:
    return sample_images[:150]


def names_of(count: int, start: int = 0) -> list[str]:
    return [f"{i % 10}/{i:05d}.png" for i in range(start, start + count)]


def labels_of(count: int, start: int = 0) -> list[int]:
    return [i % 10 for i in range(start, start + count)]


def meta_of(count: int, start: int = 0) -> list:
    return [None if i % 3 == 0 else {"i": i, "who": f"scan {i}", "ok": i % 2 == 0,
                                     "w": 0.5 * i, "raw": bytes([i % 256])}
            for i in range(start, start + count)]


def write(target, images, **options):
    """A version 6 archive of ``images`` in chunks of CHUNK, written in 3 parts."""
    with vaecodec.open(target, "w", chunk_images=CHUNK, **options) as out:
        for rows in np.array_split(np.arange(len(images)), 3):
            rows = [int(r) for r in rows]
            out.write(images[rows], names=names_of(len(images))[rows[0] : rows[-1] + 1],
                      labels=labels_of(len(images))[rows[0] : rows[-1] + 1],
                      meta=meta_of(len(images))[rows[0] : rows[-1] + 1])
    return target


@pytest.fixture(scope="module")
def labelled(tmp_path_factory, images):
    return write(tmp_path_factory.mktemp("labels") / "a.vaez", images,
                 classes=[f"digit {k}" for k in range(10)])


def test_labels_and_metadata_read_back_by_position_and_name(labelled, images):
    with vaecodec.open(labelled) as archive:
        assert archive.info.version == 6 and archive.labelled and archive.has_metadata
        assert archive.classes == tuple(f"digit {k}" for k in range(10))
        assert archive.labels.dtype == np.int64
        assert archive.labels.tolist() == labels_of(150)
        assert archive.metadata == meta_of(150)
        assert archive.label(137) == 7 and archive.label(-1) == 9
        assert archive.label("3/00013.png") == 3
        assert archive.meta(4) == meta_of(5)[4] and archive.meta(3) is None
        assert archive.meta("5/00005.png") == meta_of(6)[5]
        assert archive.label([149, 0, 70]).tolist() == [9, 0, 0]
        assert archive.meta(slice(0, 3)) == meta_of(3)
        assert archive.verify().ok
    # a fresh reader asked for one label reads only that label's chunk
    with vaecodec.open(labelled) as archive:
        assert archive.label(100) == 0
        assert list(archive.decoder._label_cache) == [100 // CHUNK]


def test_every_position_in_any_order_gives_its_own_label(labelled):
    """A list of every position, first and last in place and the middle reordered, is
    answered in its own order (not the file's)."""
    rows = [0, *range(148, 0, -1), 149]
    with vaecodec.open(labelled) as archive:
        assert archive.label(rows).tolist() == [labels_of(150)[r] for r in rows]
        assert archive.meta(rows) == [meta_of(150)[r] for r in rows]


def test_the_pixels_do_not_depend_on_the_labels(tmp_path, labelled, images):
    plain = tmp_path / "plain.vaez"
    with vaecodec.open(plain, "w", chunk_images=CHUNK) as out:
        out.write(images, names=names_of(150))
    assert plain.read_bytes()[4] == 5  # no labels: version 5, read by vaecodec 2.0
    with vaecodec.open(plain) as a, vaecodec.open(labelled) as b:
        assert np.array_equal(a[:], b[:])
        assert not a.labelled and a.labels is None and a.metadata is None
        assert a.classes is None
        with pytest.raises(KeyError, match="no labels"):
            a.label(0)
        with pytest.raises(KeyError, match="no metadata"):
            a.meta(0)


def test_labels_alone_and_lossless_files(tmp_path, images):
    with vaecodec.open(tmp_path / "l.vaez", "w", lossless=True) as out:
        out.write(images[:20], labels=np.arange(20) - 5)
    with vaecodec.open(tmp_path / "l.vaez") as archive:
        assert archive.labels.tolist() == list(range(-5, 15))
        assert not archive.has_metadata and archive.names is None
        assert np.array_equal(archive[:], images[:20])
    with vaecodec.open(tmp_path / "m.vaez", "w", metadata=True) as out:
        out.write(images[:3])  # metadata left out: None for each
        out.write(images[3:5], meta=[{"a": 1}, None])
    assert vaecodec.open(tmp_path / "m.vaez").metadata == [None, None, None, {"a": 1}, None]


def test_appending_keeps_labels_and_may_add_classes(tmp_path, images):
    path = write(tmp_path / "a.vaez", images[:100], classes=["zero", "one"])
    with vaecodec.open(path, "a", classes=["zero", "one", "two"]) as out:
        out.write(images[100:110], names=names_of(10, 100), labels=[2] * 10,
                  meta=meta_of(10, 100))
    with vaecodec.open(path) as archive:
        assert len(archive) == 110 and archive.classes == ("zero", "one", "two")
        assert archive.labels.tolist() == labels_of(100) + [2] * 10
        assert archive.meta(101) == meta_of(102)[101]
    before = path.read_bytes()
    for keywords, message in [
        (dict(classes=["one", "zero", "two"]), "may only be added after"),
        (dict(labelled=False), "labelled=True"),
        (dict(named=False), "named=True"),
    ]:
        with pytest.raises(SettingsError, match=message):
            vaecodec.open(path, "a", **keywords)
    with pytest.raises(SettingsError, match="give labels"):
        with vaecodec.open(path, "a") as out:
            out.write(images[:1], names=["new.png"])
    assert path.read_bytes() == before
    # an append of class names alone records them
    with vaecodec.open(path, "a", classes=["zero", "one", "two", "three"]):
        pass
    assert vaecodec.open(path).classes == ("zero", "one", "two", "three")


def test_labels_cannot_be_appended_to_an_unlabelled_archive(tmp_path, images):
    path = tmp_path / "p.vaez"
    with vaecodec.open(path, "w") as out:
        out.write(images[:10])
    with pytest.raises(SettingsError, match="stores no labels"):
        with vaecodec.open(path, "a") as out:
            out.write(images[:1], labels=[1])
    with pytest.raises(SettingsError, match="stores no labels"):
        vaecodec.open(path, "a", classes=["a"])
    assert len(vaecodec.open(path)) == 10


@pytest.mark.parametrize("labels, meta, message", [
    ([1, 2], None, "2 labels for 3 images"),
    ([1, True, 2], None, "must be an integer"),
    ([1, 2.0, 3], None, "must be an integer"),
    ([1, 2**63, 3], None, "64 bits"),
    (None, [{}, {}], "2 metadata entries"),
    (None, [{}, [1], None], "not a dict"),
    (None, [{"a": [1]}, None, None], "not a number"),
    (None, [{"a": {"b": 1}}, None, None], "not a number"),
    (None, [{"": 1}, None, None], "keys must be text"),
    (None, [{1: 1}, None, None], "keys must be text"),
    (None, [{"a": "x" * 70000}, None, None], "more than 65536 bytes"),
])
def test_the_writer_refuses_what_a_reader_would(tmp_path, images, labels, meta, message):
    with pytest.raises(InvalidArrayError, match=message):
        with vaecodec.open(tmp_path / "x.vaez", "w", labelled=labels is not None,
                           metadata=meta is not None) as out:
            out.write(images[:3], labels=labels, meta=meta)
    assert not (tmp_path / "x.vaez").exists()


@pytest.mark.parametrize("labels, width", [
    ([0, 127, -128], 1), ([0, 128], 2), ([-32769, 5], 4), ([2**31, 0], 8),
    ([-(2**63), 2**63 - 1], 8),
])
def test_labels_are_stored_in_the_narrowest_width(labels, width):
    field = per_image.pack_labels(labels)
    assert field[0] == width
    assert per_image.unpack_labels(field, len(labels)) == tuple(labels)


def test_numpy_values_are_stored_as_python_ones(tmp_path, images):
    with vaecodec.open(tmp_path / "n.vaez", "w") as out:
        out.write(images[:2], labels=np.array([3, 4], dtype=np.uint8),
                  meta=[{"x": np.float32(0.5), "k": np.int16(-2)}, None])
    archive = vaecodec.open(tmp_path / "n.vaez")
    assert archive.labels.tolist() == [3, 4] and archive.meta(0) == {"x": 0.5, "k": -2}


@pytest.mark.parametrize("classes, message", [
    ("abc", "not one string"),
    (["a", "a"], "not distinct"),
    (["a", ""], "1..1024 bytes"),
    (["a\nb"], "control"),
])
def test_class_names_are_checked(tmp_path, images, classes, message):
    with pytest.raises(InvalidArrayError, match=message):
        with vaecodec.open(tmp_path / "c.vaez", "w", classes=classes) as out:
            out.write(images[:1], labels=[0])


def test_reading_options_are_refused(labelled):
    for keyword in ("labelled", "metadata", "classes", "named"):
        with pytest.raises(vaecodec.errors.ArgumentTypeError, match=keyword):
            vaecodec.open(labelled, "r", **{keyword: True})


# --- hand-made bytes -----------------------------------------------------------------------
def header_bytes(fields_value, version: int = 6) -> bytes:
    """A file header with ``fields_value`` as its field 7 (the rest of a lossy file's)."""
    raw = msgpack.packb([b"\0\0\0\0", 20, 4, 0, None, 0, False, fields_value])
    body = container.MAGIC + bytes([version]) + leb128(len(raw)) + raw
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("value, error, message", [
    (["label", "meta"], None, None),
    ([], CorruptHeaderError, "at least one per-image field"),
    (["meta"], None, None),
    (["label", "colour"], UnsupportedVersionError, "'colour'.*upgrade vaecodec"),
    (["meta", "label"], CorruptHeaderError, "each field once, in the order"),
    (["label", "label"], CorruptHeaderError, "each field once"),
    ("label", CorruptHeaderError, "array of strings"),
    ([1], CorruptHeaderError, "array of strings"),
])
def test_the_header_lists_known_fields(value, error, message):
    data = io.BytesIO(header_bytes(value))
    if error is None:
        header, _ = chunked.read_file_header(data)
        assert header.fields == tuple(value)
    else:
        with pytest.raises(error, match=message):
            chunked.read_file_header(data)


def test_a_version_5_header_with_8_fields_is_refused():
    with pytest.raises(CorruptHeaderError, match="array of 7 fields"):
        chunked.read_file_header(io.BytesIO(header_bytes(["label"], version=5)))


HEADER = chunked.FileHeader(b"\0\0\0\0", 20, 4, None, "range", "int32", None, 0, False,
                            fields=("label", "meta"))


def chunk_bytes(extras, count: int = 2) -> bytes:
    raw = msgpack.packb([0, 0, count, 4, 0, None, None, 0, extras], use_bin_type=True)
    body = chunked.CHUNK_MAGIC + leb128(len(raw)) + raw + b"\0\0\0\0"
    return body + struct.pack("<I", zlib.crc32(body))


def zstd(raw: bytes) -> bytes:
    return zstandard.ZstdCompressor().compress(raw)


GOOD_LABELS = per_image.pack_labels([1, 2])
GOOD_META = per_image.pack_meta([None, {"a": 1}])


@pytest.mark.parametrize("extras, error, message", [
    ({"label": GOOD_LABELS, "meta": GOOD_META}, None, None),
    ({"label": GOOD_LABELS}, CorruptHeaderError, "not the file's"),
    ({"label": GOOD_LABELS, "meta": GOOD_META, "x": 1}, CorruptHeaderError, "not the file's"),
    ([GOOD_LABELS, GOOD_META], CorruptHeaderError, "not the file's"),
    ({"label": per_image.pack_labels([1, 2, 3]), "meta": GOOD_META}, PayloadSizeError,
     "labels"),
    ({"label": [1, 2], "meta": GOOD_META}, CorruptHeaderError, "zstd frame"),
    ({"label": GOOD_LABELS[1], "meta": GOOD_META}, CorruptHeaderError, "width"),
    ({"label": [3, GOOD_LABELS[1]], "meta": GOOD_META}, CorruptHeaderError, "width"),
    ({"label": [True, GOOD_LABELS[1]], "meta": GOOD_META}, CorruptHeaderError, "width"),
    ({"label": [2, GOOD_LABELS[1]], "meta": GOOD_META}, PayloadSizeError, "labels"),
    ({"label": GOOD_LABELS, "meta": [2**40, GOOD_META[1]]}, HeaderTooLargeError, "cap"),
    ({"label": GOOD_LABELS, "meta": [GOOD_META[0] + 1, GOOD_META[1]]}, PayloadSizeError,
     "metadata"),
    ({"label": GOOD_LABELS, "meta": GOOD_META[1]}, CorruptHeaderError, r"\[size, zstd"),
    ({"label": GOOD_LABELS, "meta": [3, zstd(b"\x93\xc0\xc0\xc0")]}, PayloadSizeError,
     "metadata"),
    ({"label": GOOD_LABELS, "meta": [4, zstd(b"\x93\xc0\xc0\xc0")]}, CorruptHeaderError,
     "array of 2 entries"),
    ({"label": GOOD_LABELS, "meta": per_image.pack_meta([None, [1]])}, CorruptHeaderError,
     "nil or a map"),
    ({"label": GOOD_LABELS, "meta": per_image.pack_meta([None, {"a": [1]}])},
     CorruptHeaderError, "not a number"),
    ({"label": GOOD_LABELS, "meta": per_image.pack_meta([None, {"": 1}])},
     CorruptHeaderError, "keys must be text"),
    ({"label": GOOD_LABELS, "meta": per_image.pack_meta([None, {str(k): k for k in range(300)}])},
     HeaderTooLargeError, "more than 256 keys"),
])
def test_hand_made_chunk_fields_are_checked(extras, error, message):
    data = chunk_bytes(extras)
    if error is None:
        chunk = chunked.parse_chunk(data, HEADER)
        assert chunk.labels == (1, 2) and chunk.meta == (None, {"a": 1})
    else:
        with pytest.raises(error, match=message):
            chunked.parse_chunk(data, HEADER)


def test_a_version_6_chunk_has_9_fields():
    raw = msgpack.packb([0, 0, 2, 4, 0, None, None, 0], use_bin_type=True)
    body = chunked.CHUNK_MAGIC + leb128(len(raw)) + raw + b"\0\0\0\0"
    with pytest.raises(CorruptHeaderError, match="array of 9 fields"):
        chunked.parse_chunk(body + struct.pack("<I", zlib.crc32(body)), HEADER)


@pytest.mark.parametrize("classes, error, message", [
    (["a", "b"], None, None),
    (None, None, None),
    (["a", "a"], CorruptHeaderError, "not distinct"),
    (["a", 1], CorruptHeaderError, "class name"),
    (["a", ""], CorruptHeaderError, "class name"),
    ("ab", CorruptHeaderError, "array of text"),
    ("missing", CorruptHeaderError, "class names"),
])
def test_hand_made_indexes_of_version_6_are_checked(labelled, classes, error, message):
    data = labelled.read_bytes()
    f = io.BytesIO(data)
    header, _ = chunked.read_file_header(f)
    index = chunked.read_index(f, header, len(data))
    rows = [[c.offset, c.size, c.count] for c in index.chunks]
    fields = [index.count, rows, []] + ([] if classes == "missing" else [classes])
    raw = msgpack.packb(fields)
    sizes = struct.pack("<QQ", index.offset, len(raw))
    bad = data[: index.offset] + raw + sizes + struct.pack("<I", zlib.crc32(raw + sizes)) \
        + b"VZIX"
    if error is None:
        assert vaecodec.open(bad).classes == (None if classes is None else tuple(classes))
    else:
        with pytest.raises(error, match=message):
            vaecodec.open(bad)


def test_version_6_decodes_through_every_entry_point(labelled, images):
    data = labelled.read_bytes()
    pixels = vaecodec.decode(data)
    with vaecodec.open(labelled) as archive:
        assert np.array_equal(pixels, archive[:])
    info = vaecodec.read_info(labelled)
    assert info.version == 6 and info.count == 150


# --- compress and decompress ---------------------------------------------------------------
@pytest.fixture()
def folder(tmp_path, images):
    from PIL import Image

    root = tmp_path / "src"
    for k, cls in enumerate(["cat", "dog", "eel"]):
        (root / cls).mkdir(parents=True)
        for i in range(4):
            Image.fromarray(images[4 * k + i]).save(root / cls / f"{i}.png")
    return root


def run(*args):
    from click.testing import CliRunner

    from vaecodec.cli import main

    return CliRunner().invoke(main, [str(a) for a in args])


def test_labels_from_folders_round_trip_through_a_labels_file(tmp_path, folder):
    out = tmp_path / "a.vaez"
    result = run("compress", folder, out, "--labels-from-folders", "--lossless")
    assert result.exit_code == 0, result.output
    with vaecodec.open(out) as archive:
        assert archive.classes == ("cat", "dog", "eel")
        assert archive.labels.tolist() == [0] * 4 + [1] * 4 + [2] * 4
    info = run("info", out)
    assert "labels:         one per image, 3 classes: cat, dog, eel" in info.output
    result = run("decompress", out, "-o", tmp_path / "plain")
    assert "--labels-out FILE writes them" in result.output
    for suffix in (".csv", ".json"):
        table = tmp_path / f"labels{suffix}"
        result = run("decompress", out, "-o", tmp_path / suffix[1:], "--labels-out", table)
        assert result.exit_code == 0 and "--labels-out" not in result.output
        again = tmp_path / f"again{suffix}.vaez"
        result = run("compress", tmp_path / suffix[1:], again, "--labels", table, "--lossless")
        assert result.exit_code == 0, result.output
        with vaecodec.open(out) as a, vaecodec.open(again) as b:
            assert a.classes == b.classes and a.names == b.names
            assert np.array_equal(a.labels, b.labels) and np.array_equal(a[:], b[:])
    assert (tmp_path / "labels.csv").read_text().splitlines()[:2] == ["name,label",
                                                                     "cat/0.png,cat"]


def test_labels_and_metadata_from_csv_and_json(tmp_path, folder):
    from vaecodec import files

    csv_file = tmp_path / "l.csv"
    lines = ["name,label,source,note"] + [
        f"{cls}/{i}.png,{k},scan {k}{i}," + ("odd" if i % 2 else "")
        for k, cls in enumerate(["cat", "dog", "eel"]) for i in range(4)]
    csv_file.write_text("\n".join(lines + ["zebra/0.png,3,x,"]) + "\n")
    with pytest.warns(vaecodec.VaezWarning, match="1 of the 13 names .* 'zebra/0.png'"):
        result = files.compress([folder], tmp_path / "c.vaez", lossless=True,
                                labels=csv_file)
    with vaecodec.open(result.output) as archive:
        assert archive.classes is None and archive.label("dog/1.png") == 1
        assert archive.meta("dog/1.png") == {"source": "scan 11", "note": "odd"}
        assert archive.meta("dog/0.png") == {"source": "scan 10"}
    mapping = {f"{cls}/{i}.png": {"label": cls, "w": i / 2, "flag": i == 0}
               for cls in ["eel", "cat", "dog"] for i in range(4)}
    result = files.compress([folder], tmp_path / "j.vaez", lossless=True, labels=mapping)
    with vaecodec.open(result.output) as archive:
        assert archive.classes == ("cat", "dog", "eel")  # sorted, as folders are
        assert archive.meta("eel/3.png") == {"w": 1.5, "flag": False}


@pytest.mark.parametrize("table, message", [
    ("name,label\ncat/0.png,1\n", "gives this image no entry"),
    ("name,label\ncat/0.png,1\ncat/0.png,2\n", "given twice"),
    ("label\n1\n", "one of them 'name'"),
    ("name,label\ncat/0.png,1,3\n", "3 cells for 2 columns"),
    ("", "is empty"),
    ("name,label\n" + "".join(f"{c}/{i}.png,{1 if c == 'cat' else 'x'}\n"
                              for c in ["cat", "dog", "eel"] for i in range(4)), "mix"),
    ("name,label\n" + "".join(f"{c}/{i}.png,{'' if c == 'eel' else 1}\n"
                              for c in ["cat", "dog", "eel"] for i in range(4)),
     "no label"),
])
def test_bad_labels_files_leave_no_output(tmp_path, folder, table, message):
    labels = tmp_path / "l.csv"
    labels.write_text(table)
    result = run("compress", folder, tmp_path / "x.vaez", "--labels", labels, "--lossless")
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert message in result.output
    assert not (tmp_path / "x.vaez").exists()


@pytest.mark.parametrize("document, message", [
    ("[1, 2]", "an object from image names"),
    ('{"cat/0.png": 1.5}', "an integer or a class name"),
    ('{"cat/0.png": true}', "an integer or a class name"),
    ('{"cat/0.png": {"label": 1, "x": [1]}}', "not a number"),
    ('{"classes": ["a"], "images": {"cat/0.png": "b"}}', "not among the classes"),
    ('{"classes": "ab", "images": {}}', "not one string"),
    ("{", "not valid JSON"),
])
def test_bad_json_labels_are_refused(tmp_path, folder, document, message):
    labels = tmp_path / "l.json"
    labels.write_text(document)
    result = run("compress", folder, tmp_path / "x.vaez", "--labels", labels, "--lossless")
    assert result.exit_code == 1 and message in result.output, result.output


def test_appending_with_labels(tmp_path, folder, images):
    from PIL import Image

    from vaecodec import files

    out = tmp_path / "a.vaez"
    files.compress([folder], out, lossless=True, labels="folders")
    more = tmp_path / "more"
    (more / "fox").mkdir(parents=True)
    (more / "cat").mkdir()
    Image.fromarray(images[20]).save(more / "fox" / "9.png")
    Image.fromarray(images[21]).save(more / "cat" / "9.png")
    result = run("compress", more, out, "--append")
    assert result.exit_code == 1 and "stores a label per image" in result.output
    result = run("compress", more, out, "--append", "--labels-from-folders")
    assert result.exit_code == 0, result.output
    with vaecodec.open(out) as archive:
        assert archive.classes == ("cat", "dog", "eel", "fox")
        assert archive.label("fox/9.png") == 3 and archive.label("cat/9.png") == 0
    plain = tmp_path / "p.vaez"
    files.compress([folder], plain, lossless=True)
    before = plain.read_bytes()
    result = run("compress", more, plain, "--append", "--labels-from-folders")
    assert result.exit_code == 1 and "stores no labels" in result.output
    assert plain.read_bytes() == before


def test_arrays_take_their_labels_from_an_array(tmp_path, images):
    from vaecodec import files

    np.save(tmp_path / "x.npy", images[:30])
    np.save(tmp_path / "y.npy", np.arange(30) % 7)
    result = files.compress([tmp_path / "x.npy"], tmp_path / "a.vaez", lossless=True,
                            labels=tmp_path / "y.npy")
    with vaecodec.open(result.output) as archive:
        assert archive.labels.tolist() == (np.arange(30) % 7).tolist()
        assert archive.names[0] == "x/00000.png"
    np.save(tmp_path / "short.npy", np.arange(29))
    with pytest.raises(vaecodec.errors.InputError, match="holds 29 labels"):
        files.compress([tmp_path / "x.npy"], tmp_path / "b.vaez", lossless=True,
                       labels=tmp_path / "short.npy")
    np.save(tmp_path / "long.npy", np.arange(31))
    with pytest.raises(vaecodec.errors.InputError, match="1 labels past the last image"):
        files.compress([tmp_path / "x.npy"], tmp_path / "b.vaez", lossless=True,
                       labels=tmp_path / "long.npy")
    assert not (tmp_path / "b.vaez").exists()


def test_labels_out_refuses_what_it_cannot_write(tmp_path, images):
    from vaecodec import files

    with vaecodec.open(tmp_path / "a.vaez", "w", lossless=True) as out:
        out.write(images[:2], names=["a.png", "b.png"], meta=[{"raw": b"\0"}, None])
    with pytest.raises(vaecodec.errors.InputError, match="holds bytes"):
        files.decompress(tmp_path / "a.vaez", tmp_path / "o", labels_out=tmp_path / "l.csv")
    assert not (tmp_path / "o").exists() and not (tmp_path / "l.csv").exists()
    with vaecodec.open(tmp_path / "p.vaez", "w", lossless=True) as out:
        out.write(images[:2])
    with pytest.raises(vaecodec.errors.InputError, match="no labels nor metadata"):
        files.decompress(tmp_path / "p.vaez", tmp_path / "o", labels_out=tmp_path / "l.csv")
    (tmp_path / "l.csv").write_text("mine")
    with vaecodec.open(tmp_path / "q.vaez", "w", lossless=True) as out:
        out.write(images[:2], labels=[1, 2])
    result = run("decompress", tmp_path / "q.vaez", "-o", tmp_path / "o", "--labels-out",
                 tmp_path / "l.csv")
    assert result.exit_code == 1 and "already exists" in result.output
    assert (tmp_path / "l.csv").read_text() == "mine" and not (tmp_path / "o").exists()
    result = run("decompress", tmp_path / "q.vaez", "-o", tmp_path / "o", "--labels-out",
                 tmp_path / "l.txt")
    assert result.exit_code == 1 and ".csv or .json" in result.output
