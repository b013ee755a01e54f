"""Damaged and hostile archives and manifests: salvage restores every intact chunk and
names every image it cannot restore (exit status 1); ``test`` makes every check the
readers make; no traceback, and bounded work on small hostile files."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec import archive as archive_io
from vaecodec.cli import main
from vaecodec.errors import ShardError, VaezError
from vaecodec.format import chunked
from vaecodec.pipeline.settings import resolve

CHUNK = 50


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture(scope="module")
def three(tmp_path_factory, sample_images):
    """A 3-chunk archive of 150 named images, its bytes and its chunks' byte ranges."""
    path = tmp_path_factory.mktemp("three") / "a.vaez"
    with vaecodec.open(path, "w", chunk_images=CHUNK) as out:
        out.write(sample_images[:150], names=[f"{i:03d}.png" for i in range(150)])
    with vaecodec.open(path) as archive:
        decoded = archive[:]
        entries = archive.decoder.index.chunks
    return path.read_bytes(), decoded, entries


def _salvage(tmp_path, data: bytes, tag: str):
    bad = tmp_path / f"{tag}.vaez"
    bad.write_bytes(data)
    out = tmp_path / f"{tag}.out"
    result = run("decompress", "--salvage", bad, "-o", out)
    restored = {p.name: p for p in out.rglob("*.png")} if out.exists() else {}
    return result, restored


def _intact(entries, damaged_ranges, size):
    """The chunks (by number) that no damaged byte range touches and that lie whole in
    the first ``size`` bytes."""
    return [n for n, e in enumerate(entries)
            if e.offset + e.size <= size
            and not any(a < e.offset + e.size and e.offset < b for a, b in damaged_ranges)]


def test_a_cut_anywhere_restores_the_whole_chunks_and_says_what_is_lost(tmp_path, three):
    data, decoded, entries = three
    cuts = list(range(entries[0].offset, len(data), 97)) + [len(data) - 1]
    for cut in cuts:
        result, restored = _salvage(tmp_path, data[:cut], f"cut{cut}")
        assert result.exit_code == 1, (cut, result.output)
        assert "Traceback" not in result.output
        intact = _intact(entries, [], cut)
        expect = {f"{i:03d}.png" for n in intact for i in range(n * CHUNK, (n + 1) * CHUNK)}
        assert set(restored) == expect, cut
        first_lost = CHUNK * len(intact)
        assert f"Warning: lost any images from {first_lost} on" in result.output, cut
        for name in list(expect)[:3]:
            from PIL import Image

            pixels = np.asarray(Image.open(restored[name]))
            assert np.array_equal(pixels, decoded[int(name[:3])])


def test_two_damaged_regions_lose_only_their_chunks(tmp_path, three):
    data, decoded, entries = three
    index_start = entries[-1].offset + entries[-1].size
    regions = [(e.offset + e.size // 2, e.offset + e.size // 2 + 1) for e in entries]
    regions += [(index_start + 3, index_start + 4), (len(data) - 10, len(data) - 9)]
    for k, first in enumerate(regions):
        for second in regions[k + 1:]:
            damaged = bytearray(data)
            for a, b in (first, second):
                damaged[a] ^= 0x55
            result, restored = _salvage(tmp_path, bytes(damaged), f"r{first[0]}-{second[0]}")
            assert "Traceback" not in result.output
            intact = _intact(entries, [first, second], len(data))
            expect = {f"{i:03d}.png" for n in intact
                      for i in range(n * CHUNK, (n + 1) * CHUNK)}
            assert set(restored) == expect, (first, second, result.output)
            trailer = any(a >= len(data) - chunked.TRAILER.size for a, _ in (first, second))
            # a damaged trailer: whether images followed the last chunk is unknown
            assert result.exit_code == (1 if len(intact) < 3 or trailer else 0), \
                (first, second, result.output)
            for n in set(range(3)) - set(intact):
                assert (f"lost images {n * CHUNK}..{n * CHUNK + CHUNK - 1}" in result.output
                        or f"lost any images from {n * CHUNK} on" in result.output), \
                    (first, second, result.output)


def test_a_header_only_file_restores_nothing_and_says_so(tmp_path, three):
    data, _, entries = three
    result, restored = _salvage(tmp_path, data[:entries[0].offset], "head")
    assert result.exit_code == 1 and not restored
    assert "every image is lost" in result.output
    cut, restored = _salvage(tmp_path, data[:entries[0].offset - 5], "inside")
    assert cut.exit_code == 1 and not restored
    assert cut.output.startswith("Error: ") and "ends inside the header" in cut.output


def test_test_refuses_names_that_repeat_across_chunks(tmp_path, sample_images):
    path = tmp_path / "dup.vaez"
    writer = archive_io.ArchiveWriter(path, resolve(), named=True, chunk_images=CHUNK,
                                      check_names=False)
    with writer:
        writer.write(sample_images[:50], names=[f"{i}.png" for i in range(50)])
        writer.write(sample_images[50:60], names=[f"{i}.png" for i in range(45, 55)])
    assert run("ls", path).exit_code == 1
    tested = run("test", path)
    assert tested.exit_code == 1 and "not unique" in tested.output, tested.output
    assert "OK" not in tested.output


@pytest.fixture
def dataset(tmp_path, sample_images):
    shards = tmp_path / "d.shards"
    shards.mkdir()
    rows = []
    for k in range(2):
        path = shards / f"{k:05d}.vaez"
        with vaecodec.open(path, "w") as out:
            out.write(sample_images[k * 100:(k + 1) * 100],
                      names=[f"{k}/{i}.png" for i in range(100)])
        import hashlib

        rows.append({"path": f"d.shards/{path.name}", "images": 100,
                     "bytes": path.stat().st_size,
                     "sha256": hashlib.sha256(path.read_bytes()).hexdigest()})
    model = vaecodec.open(shards / "00000.vaez").info.model_id[:4].hex()
    manifest = tmp_path / "d.json"

    def write(rows=rows, model=model, images=None):
        total = sum(r["images"] for r in rows) if images is None else images
        manifest.write_text(json.dumps({"vaecodec_manifest": 1, "images": total,
                                        "model": model, "shards": rows}))
        return manifest

    write()
    return manifest, rows, write


def test_test_refuses_a_manifest_that_declares_more_images_than_its_shards(dataset):
    manifest, rows, write = dataset
    write([dict(rows[0], images=10**12), rows[1]])
    tested = run("test", manifest)
    assert tested.exit_code == 1 and "OK" not in tested.output
    assert "the manifest" in tested.output and "1000000000000 images" in tested.output
    with pytest.raises(ShardError):
        vaecodec.open(manifest)[5]


@pytest.mark.parametrize("command", [["test"], ["info"], ["ls"],
                                     ["decompress", "--salvage", "-o", "OUT"]])
def test_a_manifest_of_2_63_images_is_one_error_line(dataset, command, tmp_path):
    manifest, rows, write = dataset
    write([dict(rows[0], images=2**63), rows[1]])
    args = [tmp_path / "out" if a == "OUT" else a for a in command]
    result = run(*args[:1], manifest, *args[1:])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert len(result.output.splitlines()) == 1, result.output
    with pytest.raises(VaezError):
        vaecodec.open(manifest)


def test_a_shard_s_model_must_be_the_manifest_s(dataset):
    manifest, rows, write = dataset
    write(model="00000000")
    tested = run("test", manifest)
    assert tested.exit_code == 1 and "was made with model" in tested.output


def test_a_missing_shard_is_a_vaecodec_error(dataset):
    manifest, rows, write = dataset
    os.unlink(manifest.parent / rows[1]["path"])
    with pytest.raises(ShardError, match="cannot be read"):
        vaecodec.open(manifest)[150]
    tested = run("test", manifest)
    assert tested.exit_code == 1 and "Traceback" not in tested.output


def test_a_shard_reached_through_a_link_out_of_the_folder_is_refused(dataset, tmp_path):
    manifest, rows, write = dataset
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    outside.mkdir()
    shard = manifest.parent / rows[1]["path"]
    os.rename(shard, outside / shard.name)
    os.symlink(outside / shard.name, shard)  # a linked file
    with pytest.raises(ShardError, match="out of the manifest's folder"):
        vaecodec.open(manifest)[150]
    assert run("test", manifest).exit_code == 1
    assert vaecodec.open(manifest)[5] is not None  # the shard inside still reads
    os.unlink(shard)
    linked = manifest.parent / "linked"
    os.symlink(outside, linked)  # a linked folder
    write([rows[0], dict(rows[1], path=f"linked/{shard.name}")])
    with pytest.raises(ShardError, match="out of the manifest's folder"):
        vaecodec.open(manifest)[150]


def test_a_lone_surrogate_in_a_shard_path_prints_as_one_line(dataset):
    manifest, rows, write = dataset
    write([rows[0], dict(rows[1], path="d.shards/\udcff.vaez")])
    result = run("test", manifest)
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_scanning_a_file_of_chunk_magics_is_bounded(tmp_path, three):
    """A file of repeated chunk magic bytes (each a false chunk start) is scanned in one
    pass (it used to re-read the file from each false start: quadratic)."""
    data, _, entries = three
    hostile = data[:entries[0].offset] + chunked.CHUNK_MAGIC * (2**20 // 4)
    path = tmp_path / "magic.vaez"
    path.write_bytes(hostile)
    with open(path, "rb") as f:
        header, _ = chunked.read_file_header(f)
        reads = []
        original = f.read

        def counting(size=-1):
            block = original(size)
            reads.append(len(block))
            return block

        f.read = counting
        assert list(chunked.scan_chunks(f, header, len(hostile))) == []
    assert sum(reads) < 20 * len(hostile)  # was ~ len(hostile)**2 / 8


def test_info_of_a_manifest_gives_the_data_set_s_size(dataset):
    manifest, rows, write = dataset
    result = run("info", manifest)
    total = manifest.stat().st_size + sum(r["bytes"] for r in rows)
    assert result.exit_code == 0, result.output
    assert f"file size:      {total} bytes" in result.output
    assert "names:          stored in 2 shards" in result.output
    assert "payload:        in 2 shards" in result.output
