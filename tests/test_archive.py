"""Chunked archives (format version 5): random access, incremental writing, appending,
damage that stays in its chunk, and the commands over them (ls, test, decompress NAME...,
--salvage, compress --append)."""

from __future__ import annotations

import json
import os
import struct
import zlib

import msgpack
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vaecodec
from vaecodec import archive as archive_io
from vaecodec.cli import main
from vaecodec.errors import (
    ChecksumError,
    CorruptHeaderError,
    DuplicateNameError,
    OutputExistsError,
    QualityError,
    SettingsError,
    TruncatedError,
)
from vaecodec.format import chunked, container
from vaecodec.pipeline.settings import resolve

CHUNK = 64  # small chunks: many of them from a few hundred images


@pytest.fixture(scope="module")
def images(sample_images) -> np.ndarray:
    rng = np.random.default_rng(7)  # 600 varied digits: shifted copies of the samples
    rows = [np.roll(sample_images[i % len(sample_images)], rng.integers(-2, 3), axis=1)
            for i in range(600)]
    return np.stack(rows)


def names_of(count: int, start: int = 0, prefix: str = "") -> list[str]:
    return [f"{prefix}{i % 10}/{i:05d}.png" for i in range(start, start + count)]


def write(path, images, names=None, chunk_images=CHUNK, parts=3, **options):
    with vaecodec.open(path, "w", chunk_images=chunk_images, **options) as out:
        for rows in np.array_split(np.arange(len(images)), parts):
            out.write(images[rows], None if names is None else [names[i] for i in rows])
    return path


@pytest.fixture(scope="module")
def lossy(tmp_path_factory, images):
    path = tmp_path_factory.mktemp("lossy") / "a.vaez"
    return write(path, images, names_of(len(images)))


# --- reading ---------------------------------------------------------------------------------
def test_random_access_matches_a_whole_decode(lossy, images):
    whole = vaecodec.decode(lossy.read_bytes())
    assert whole.shape == images.shape
    with vaecodec.open(lossy) as archive:
        assert len(archive) == len(images)
        assert archive.info.version == 5
        for i in (0, 1, CHUNK - 1, CHUNK, 333, len(images) - 1, -1, -len(images)):
            assert np.array_equal(archive[i], whole[i])
        assert np.array_equal(archive[100:300:7], whole[100:300:7])
        picks = [599, 0, 64, 63, 300, 300]
        assert np.array_equal(archive[picks], whole[picks])
        assert np.array_equal(archive["3/00333.png"], whole[333])
        assert archive.position("3/00333.png") == 333
        assert archive.names == tuple(names_of(len(images)))
        assert np.array_equal(np.stack(list(archive)), whole)
        starts = [start for start, _ in archive.chunks()]
        assert starts == list(range(0, len(images), CHUNK))
        assert np.allclose(archive.latents(), vaecodec.latents(lossy.read_bytes()))
        with pytest.raises(IndexError, match="out of range"):
            archive[len(images)]
        with pytest.raises(KeyError, match="no image named"):
            archive["nope.png"]


def test_reads_decode_only_the_images_asked_for_and_keep_them(lossy, images):
    """An archive that fits the cache keeps each image it decodes; a chunk whose images
    have all been read is then an ordinary cached chunk."""
    whole = vaecodec.decode(lossy.read_bytes())
    with vaecodec.open(lossy) as archive:
        decoder = archive.decoder
        calls = []  # the images of each network pass
        network = decoder._network
        decoder._network = lambda symbols: calls.append(len(symbols)) or network(symbols)
        assert np.array_equal(archive[[5, 7, 5]], whole[[5, 7, 5]])
        assert calls == [2]  # two distinct images of chunk 0, not the chunk
        assert np.array_equal(archive[7], whole[7]) and calls == [2]  # kept
        assert np.array_equal(archive[3:9], whole[3:9]) and calls == [2, 4]
        # one image at a time (reading in order): the rest of the chunk at once
        for i in np.random.default_rng(0).permutation(CHUNK):
            assert np.array_equal(archive[int(i)], whole[i])
        assert calls == [2, 4, CHUNK - 6]
        assert 0 in decoder._cache and 0 not in decoder._filling
        assert np.array_equal(archive[CHUNK + 1], whole[CHUNK + 1])  # a chunk not read yet
        assert calls[-1] == CHUNK and 1 in decoder._cache
        picks = [2 * CHUNK + 1, 5, 3 * CHUNK + 3, 2 * CHUNK + 1]
        assert np.array_equal(archive[picks], whole[picks])
        assert calls[-1] == 2  # one pass for the images of two chunks not decoded yet


def test_batched_reads_restore_each_images_polarity(tmp_path, images):
    mixed = images.copy()
    mixed[::3] = 255 - mixed[::3]  # dark on light, every third image
    path = write(tmp_path / "mixed.vaez", mixed)
    whole = vaecodec.decode(path.read_bytes())
    picks = np.random.default_rng(1).permutation(len(images))[:200]
    with vaecodec.open(path) as archive:
        assert np.array_equal(archive[picks], whole[picks])
        assert np.array_equal(np.stack([archive[int(i)] for i in range(len(images))]), whole)
    assert np.abs(whole[::3].astype(int) - mixed[::3]).mean() < 40  # restored, not inverted


def test_chunked_payloads_are_those_of_unchunked_files(images):
    """A chunk codes its images as a whole version 2 file of them would: the same bytes."""
    data = vaecodec.encode(np.concatenate([images] * 8))  # 4,800 images: version 5
    assert data[4] == 5
    with vaecodec.open(data) as archive:
        first = archive.decoder.read_chunk(0)
    assert first.count == chunked.CHUNK_IMAGES
    whole = container.unpack(vaecodec.encode(np.concatenate([images] * 8)[:4096]))
    assert whole.header.version == 2 and first.payload == whole.payload


def test_a_lossless_archive_reads_back_exactly_at_random(tmp_path, images):
    path = write(tmp_path / "l.vaez", images[:200], lossless=True)
    with vaecodec.open(path) as archive:
        assert archive.names is None
        assert np.array_equal(archive[[5, 150, 64, 199]], images[[5, 150, 64, 199]])
        assert np.array_equal(archive[:], images[:200])
    assert np.array_equal(vaecodec.decode(path.read_bytes()), images[:200])


def test_older_versions_open_the_same_way(images):
    data = vaecodec.encode(images[:50], names=names_of(50))  # version 2
    with vaecodec.open(data) as archive:
        assert archive.info.version == 2 and len(archive) == 50
        assert np.array_equal(archive[10], vaecodec.decode(data)[10])
        assert archive.position("7/00007.png") == 7
        assert archive.verify().ok


def test_forked_readers_each_open_the_file(lossy):
    """A reader used in a child process (DataLoader workers) reads through a file of its
    own, not the parent's (whose offset a shared descriptor would move under it): here a
    chunk the parent never read."""
    archive = vaecodec.open(lossy)
    assert archive.decoder.chunk_of(400) != archive.decoder.chunk_of(len(archive) - 1)
    parent_fd = archive.decoder.f.fileno()
    archive[400]
    with vaecodec.open(lossy) as other:
        expected = other[len(other) - 1]
    read, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child)
        try:
            ok = (np.array_equal(archive[len(archive) - 1], expected)
                  and archive.decoder.f.fileno() != parent_fd)
        except BaseException:
            ok = False
        os.write(write_end, b"1" if ok else b"0")
        os._exit(0)
    os.waitpid(pid, 0)
    assert os.read(read, 1) == b"1"
    assert archive.decoder.f.fileno() == parent_fd
    assert np.array_equal(archive[len(archive) - 1], expected)
    archive.close()


# --- writing ---------------------------------------------------------------------------------
def test_written_in_parts_or_at_once_the_images_are_the_same(tmp_path, images):
    parts = write(tmp_path / "p.vaez", images, parts=7)
    once = write(tmp_path / "o.vaez", images, parts=1)
    assert parts.read_bytes() == once.read_bytes()


def test_the_writer_keeps_names_consistent(tmp_path, images):
    with pytest.raises(DuplicateNameError, match="'a.png'"):
        with vaecodec.open(tmp_path / "d.vaez", "w") as out:
            out.write(images[:2], ["a.png", "b.png"])
            out.write(images[:1], ["a.png"])
    assert not list(tmp_path.iterdir())  # nothing left
    with pytest.raises(SettingsError, match="give names"):
        with vaecodec.open(tmp_path / "n.vaez", "w") as out:
            out.write(images[:2], ["a.png", "b.png"])
            out.write(images[:1])
    with pytest.raises(SettingsError, match="at least one image"):
        with vaecodec.open(tmp_path / "e.vaez", "w"):
            pass
    assert not list(tmp_path.iterdir())


def test_the_writer_replaces_nothing_without_force(tmp_path, images):
    path = tmp_path / "x.vaez"
    path.write_bytes(b"keep")
    with pytest.raises(OutputExistsError):
        vaecodec.open(path, "w")
    assert path.read_bytes() == b"keep"
    write(path, images[:10], force=True)
    assert len(vaecodec.open(path)) == 10


def test_strict_leaves_no_file(tmp_path, images):
    noise = np.random.default_rng(0).integers(0, 256, (300, 28, 28), dtype=np.uint8)
    with pytest.raises(QualityError):
        with archive_io.ArchiveWriter(tmp_path / "s.vaez", resolve(),
                                      strict=True, chunk_images=CHUNK) as out:
            out.write(noise)
    assert not list(tmp_path.iterdir())


# --- appending --------------------------------------------------------------------------------
def test_append_adds_images_and_leaves_the_chunks_before_as_they_were(tmp_path, images):
    path = write(tmp_path / "a.vaez", images[:300], names_of(300))
    before = path.read_bytes()
    index_start = vaecodec.open(path).decoder.index.offset
    with vaecodec.open(path, "a") as out:
        out.write(images[300:], names_of(300, 300))
    after = path.read_bytes()
    assert after[:index_start] == before[:index_start]  # not one byte of a chunk rewritten
    assert after[: len(before)] == before  # the old index and trailer stay (dead)
    with vaecodec.open(path) as archive:
        assert len(archive) == 600 and archive.names == tuple(names_of(600))
        assert np.array_equal(archive[:], vaecodec.decode(write(
            tmp_path / "b.vaez", images, names_of(600)).read_bytes()))
        assert archive.verify().ok and archive.trailing == 0
    with pytest.raises(DuplicateNameError):
        with vaecodec.open(path, "a") as out:
            out.write(images[:1], ["0/00000.png"])
    assert path.read_bytes() == after  # a failed append: the archive as it was
    with pytest.raises(SettingsError, match="leave out quality"):
        vaecodec.open(path, "a", quality=2)


def test_an_append_cut_off_anywhere_leaves_the_previous_archive(tmp_path, images):
    """A crash mid-append leaves a prefix of what it was writing after the old trailer:
    at every cut, the archive opens as it was before; the next append removes the rest."""
    path = write(tmp_path / "a.vaez", images[:200], names_of(200))
    before = path.read_bytes()
    expected = vaecodec.open(path)[:]
    with vaecodec.open(path, "a") as out:
        out.write(images[200:400], names_of(200, 200))
    appended = path.read_bytes()
    cuts = list(range(len(before) + 1, len(appended), max(1, (len(appended) - len(before)) // 40)))
    cuts += [len(appended) - k for k in range(1, 30)]
    for cut in cuts:
        path.write_bytes(appended[:cut])
        with vaecodec.open(path) as archive:
            assert len(archive) == 200, cut
            assert archive.trailing == cut - len(before)
            assert np.array_equal(archive[:], expected)
    with vaecodec.open(path, "a") as out:  # and appending again works
        out.write(images[200:210], names_of(10, 200))
    with vaecodec.open(path) as archive:
        assert len(archive) == 210 and archive.trailing == 0 and archive.verify().ok


def test_only_chunked_files_take_appends(tmp_path, images):
    path = tmp_path / "v2.vaez"
    path.write_bytes(vaecodec.encode(images[:5]))
    with pytest.raises(SettingsError, match="version 2 file"):
        vaecodec.open(path, "a")


# --- damage ----------------------------------------------------------------------------------
def test_a_flipped_byte_loses_only_its_chunk(tmp_path, lossy):
    data = lossy.read_bytes()
    whole = vaecodec.decode(data)
    index = vaecodec.open(lossy).decoder.index
    rng = np.random.default_rng(1)
    for n in (0, 4, len(index.chunks) - 1):
        entry = index.chunks[n]
        damaged = bytearray(data)
        damaged[entry.offset + int(rng.integers(0, entry.size))] ^= 1 << int(rng.integers(8))
        path = tmp_path / f"d{n}.vaez"
        path.write_bytes(bytes(damaged))
        with pytest.raises(ChecksumError, match=f"chunk {n}"):
            vaecodec.decode(bytes(damaged))
        report = vaecodec.open(path).verify()
        assert [(d.chunk, d.first, d.count) for d in report.damaged] == [
            (n, entry.first, entry.count)]
        assert report.images == len(whole) - entry.count
        out = vaecodec.decompress(path, tmp_path / f"out{n}", salvage=True)
        assert len(out.paths) == len(whole) - entry.count
        kept = [i for i in range(len(whole)) if not entry.first <= i < entry.first + entry.count]
        for k, i in enumerate(kept[::37]):
            png = tmp_path / f"out{n}" / names_of(len(whole))[i]
            assert np.array_equal(np.asarray(Image.open(png)), whole[i])


def test_a_damaged_index_is_salvaged_by_scanning(tmp_path, lossy):
    data = bytearray(lossy.read_bytes())
    data[-40] ^= 0xFF  # inside the index
    path = tmp_path / "i.vaez"
    path.write_bytes(bytes(data))
    with pytest.raises(ChecksumError, match="index"):
        vaecodec.open(path)
    out = vaecodec.decompress(path, tmp_path / "out", salvage=True)
    assert len(out.paths) == 600 and not out.lost


def test_hand_made_indexes_are_checked(lossy):
    data = lossy.read_bytes()
    index = vaecodec.open(lossy).decoder.index

    def with_index(count, rows, dead=()):
        raw = msgpack.packb([count, rows, [list(d) for d in dead]])
        sizes = struct.pack("<QQ", index.offset, len(raw))
        tail = raw + sizes + struct.pack("<I", zlib.crc32(raw + sizes)) + b"VZIX"
        return data[: index.offset] + tail

    rows = [[c.offset, c.size, c.count] for c in index.chunks]
    for bad, error, message in [
        (with_index(600, rows[:-1]), CorruptHeaderError, "counts 600 images"),
        (with_index(600 - rows[0][2], rows[1:]), CorruptHeaderError, "exactly"),
        (with_index(600, [rows[1]] + [rows[0]] + rows[2:]), CorruptHeaderError, "not the one"),
        (with_index(600, rows[:1] + [[rows[1][0] + 1, rows[1][1] - 1, rows[1][2]]] + rows[2:]),
         CorruptHeaderError, "exactly"),
        (with_index(600, [[r[0], r[1], 70000] for r in rows]), CorruptHeaderError, "offset"),
        (data[:-1], TruncatedError, "does not end with an index"),
    ]:
        with pytest.raises(error, match=message):
            vaecodec.decode(bad)


# --- the commands ----------------------------------------------------------------------------
@pytest.fixture()
def folder(tmp_path, images):
    root = tmp_path / "src"
    for i, name in enumerate(names_of(150)):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(images[i]).save(root / name)
    return root


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def test_ls_test_extract_and_append_from_the_command_line(tmp_path, folder, images):
    out = tmp_path / "a.vaez"
    assert run("compress", folder, out).exit_code == 0
    listed = run("ls", out)
    assert listed.exit_code == 0 and listed.output.splitlines() == sorted(names_of(150))
    as_json = json.loads(run("ls", out, "--json").output)
    assert as_json["images"] == 150 and as_json["names"] == sorted(names_of(150))
    tested = run("test", out)
    assert tested.exit_code == 0 and "OK (150 images in 1 chunk)" in tested.output
    got = run("decompress", out, "3/00013.png", "5/00005.png", "-o", tmp_path / "some")
    assert got.exit_code == 0, got.output
    assert sorted(p.relative_to(tmp_path / "some").as_posix()
                  for p in (tmp_path / "some").rglob("*.png")) == ["3/00013.png", "5/00005.png"]
    missing = run("decompress", out, "nope.png", "-o", tmp_path / "none")
    assert missing.exit_code == 1 and missing.output == (
        "Error: no image named 'nope.png' in the archive\n")
    more = tmp_path / "more"
    more.mkdir()
    Image.fromarray(images[0]).save(more / "new.png")
    appended = run("compress", "--append", more, out)
    assert appended.exit_code == 0 and "appended 1 image to" in appended.output
    assert len(vaecodec.open(out)) == 151
    again = run("compress", "--append", more, out)
    assert again.exit_code == 1 and "already holds an image named 'new.png'" in again.output
    assert len(vaecodec.open(out)) == 151


def test_test_and_salvage_report_damage(tmp_path, lossy):
    data = bytearray(lossy.read_bytes())
    entry = vaecodec.open(lossy).decoder.index.chunks[2]
    data[entry.offset + entry.size // 2] ^= 4
    bad = tmp_path / "bad.vaez"
    bad.write_bytes(bytes(data))
    tested = run("test", lossy, bad)
    assert tested.exit_code == 1
    assert f"bad.vaez: damaged: images {entry.first}..{entry.first + entry.count - 1}" \
        in tested.output and "a.vaez: OK" in tested.output
    plain = run("decompress", bad, "-o", tmp_path / "x")
    assert plain.exit_code == 1 and "checksum mismatch" in plain.output
    assert not (tmp_path / "x").exists()
    salvaged = run("decompress", "--salvage", bad, "-o", tmp_path / "y")
    assert salvaged.exit_code == 1  # something was lost: say so in the status too
    assert f"Warning: lost images {entry.first}..{entry.first + entry.count - 1}" \
        in salvaged.output
    assert len(list((tmp_path / "y").rglob("*.png"))) == 600 - entry.count


def test_an_append_of_nothing_leaves_the_file_as_it_was(tmp_path, images):
    path = write(tmp_path / "a.vaez", images[:100], names_of(100))
    before = path.read_bytes()
    with vaecodec.open(path, "a"):
        pass
    assert path.read_bytes() == before


@pytest.mark.parametrize("options, message", [
    ({"polarity": "upside-down"}, "polarity must be"),
    ({"chunk_images": 0}, "chunk_images must be"),
    ({"embed_model": True}, "not a family of your own"),
])
def test_bad_writer_options_make_no_file(tmp_path, options, message):
    with pytest.raises(SettingsError, match=message):
        vaecodec.open(tmp_path / "a.vaez", "w", **options)
    assert not list(tmp_path.iterdir())


def test_appending_needs_a_file(images):
    import io

    with pytest.raises(SettingsError, match="not a stream"):
        vaecodec.open(io.BytesIO(), "a")


def test_an_empty_list_of_positions_gives_no_images(lossy):
    """Both readers check index keys in one place (archive.Reader): an empty list is no
    images, a list of non-integers an error."""
    with vaecodec.open(lossy) as archive:
        assert archive[[]].shape == (0, 28, 28)
        assert archive[5:5].shape == (0, 28, 28)
        with pytest.raises(vaecodec.ArgumentTypeError, match="index an archive"):
            archive[[1.5]]
