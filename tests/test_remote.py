"""Archives and manifests read from URLs (vaecodec.remote, fsspec): a real HTTP server on
127.0.0.1 with range requests (tests/rangeserver.py) and fsspec's memory:// file system."""

from __future__ import annotations

import functools
import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec import remote
from vaecodec.cli import main

fsspec = pytest.importorskip("fsspec", reason="fsspec is the 'remote' extra")
pytest.importorskip("aiohttp", reason="aiohttp is fsspec's HTTP backend (the 'remote' extra)")

from rangeserver import RangeServer  # noqa: E402


@pytest.fixture(scope="module")
def served(tmp_path_factory, sample_images):
    """A folder with an archive of 200 named images in 7 chunks, a manifest of two shards
    in a sub-folder (one name with a space), served over HTTP."""
    folder = tmp_path_factory.mktemp("served")
    names = [f"{i % 10}/{i:03d}.png" for i in range(200)]
    with vaecodec.open(folder / "a.vaez", "w", chunk_images=30) as out:
        out.write(sample_images, names)
    (folder / "set").mkdir()
    rows = []
    for k in range(2):
        shard = folder / "set" / f"shard {k}.vaez"
        with vaecodec.open(shard, "w", chunk_images=40) as out:
            out.write(sample_images[k * 100:(k + 1) * 100], names[k * 100:(k + 1) * 100])
        rows.append({"path": shard.name, "images": 100, "bytes": shard.stat().st_size,
                     "sha256": hashlib.sha256(shard.read_bytes()).hexdigest()})
    model = vaecodec.open(folder / "a.vaez").info.model_id[:4].hex()
    (folder / "set" / "m.json").write_text(json.dumps(
        {"vaecodec_manifest": 1, "images": 200, "model": model, "shards": rows}))
    with RangeServer(folder) as server:
        yield folder, server


def test_an_archive_over_http_reads_as_the_local_file(served):
    folder, server = served
    local = vaecodec.open(folder / "a.vaez")
    with vaecodec.open(server.url("a.vaez")) as archive:
        assert len(archive) == 200 and archive.names == local.names
        assert np.array_equal(archive[[5, 199, 31]], local[[5, 199, 31]])
        assert np.array_equal(archive["3/103.png"], local["3/103.png"])
        assert archive.verify().ok
    assert vaecodec.read_info(server.url("a.vaez")) == vaecodec.read_info(folder / "a.vaez")
    local.close()


def test_open_costs_three_requests_and_an_image_one(served, monkeypatch):
    """Open: the size (HEAD), the first and the last bytes (header; trailer and index);
    then image i reads exactly its chunk, one range request. (The head and tail blocks are
    shrunk to 512 bytes here: this archive is smaller than their usual size.)"""
    monkeypatch.setattr(remote.RemoteFile, "HEAD", 512)
    monkeypatch.setattr(remote.RemoteFile, "TAIL", 512)
    folder, server = served
    size = (folder / "a.vaez").stat().st_size
    before = len(server.requests)
    with vaecodec.open(server.url("a.vaez")) as archive:
        opened = server.requests[before:]
        image = archive[137]
        asked = server.requests[before + len(opened):]
    assert [(method, rng) for method, _, rng in opened] == [
        ("HEAD", None), ("GET", "bytes=0-511"), ("GET", f"bytes={size - 512}-{size - 1}")]
    assert np.array_equal(image, vaecodec.open(folder / "a.vaez")[137])
    with vaecodec.open(folder / "a.vaez") as local:
        entry = local.decoder.index.chunks[local.decoder.chunk_of(137)]
    assert asked == [("GET", "/a.vaez", f"bytes={entry.offset}-{entry.offset + entry.size - 1}")]


def test_a_manifest_over_http_reads_its_shards_beside_it(served):
    folder, server = served
    url = server.url("set/m.json")
    with vaecodec.open(url) as data, vaecodec.open(folder / "a.vaez") as whole:
        assert len(data) == 200 and np.array_equal(data[150], whole[150])
        assert data.verify().ok  # every shard's sha256 too
    assert any("/set/shard%200.vaez" in path for _, path, _ in server.requests)


def test_the_torch_datasets_read_a_url_through_worker_processes(served):
    torch = pytest.importorskip("torch", reason="torch is the 'train' extra")
    from vaecodec.torch import VaezDataset, VaezIterableDataset

    folder, server = served
    streaming = functools.partial(VaezIterableDataset, batch_size=50)
    for kind in (VaezDataset, streaming):
        with kind(server.url("set/m.json")) as remote_set, \
                kind(folder / "set" / "m.json") as local:
            loader = torch.utils.data.DataLoader(remote_set, batch_size=50, num_workers=2)
            got = torch.cat(list(loader))
            expected = torch.cat(list(torch.utils.data.DataLoader(local, batch_size=50)))
            assert torch.equal(got, expected)


def test_the_command_line_reads_urls(served, tmp_path, monkeypatch):
    folder, server = served
    runner = CliRunner()
    listed = runner.invoke(main, ["ls", server.url("a.vaez")])
    assert listed.exit_code == 0 and listed.output.splitlines()[:2] == ["0/000.png", "1/001.png"]
    info = runner.invoke(main, ["info", "--json", server.url("set/m.json")])
    assert info.exit_code == 0, info.output
    assert json.loads(info.output)["count"] == 200
    tested = runner.invoke(main, ["test", server.url("a.vaez")])
    assert tested.exit_code == 0 and "OK (200 images in 7 chunks)" in tested.output
    out = tmp_path / "out"
    done = runner.invoke(main, ["decompress", server.url("a.vaez"), "-o", str(out)])
    assert done.exit_code == 0, done.output
    assert len(list(out.rglob("*.png"))) == 200
    monkeypatch.chdir(tmp_path)  # no -o: ./a/, the URL's name without .vaez
    done = runner.invoke(main, ["decompress", server.url("a.vaez"), "--quiet"])
    assert done.exit_code == 0, done.output
    assert len(list((tmp_path / "a").rglob("*.png"))) == 200


@pytest.mark.parametrize("case", ["missing", "no ranges", "refused", "protocol"])
def test_a_url_that_cannot_be_read_is_one_error_line(served, monkeypatch, case):
    folder, server = served
    if case == "missing":
        url = server.url("nothing.vaez")
    elif case == "refused":  # a port nothing listens on
        import socket

        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            url = f"http://127.0.0.1:{s.getsockname()[1]}/a.vaez"
    elif case == "protocol":
        url = "nosuchprotocol://x/a.vaez"
    if case == "no ranges":  # (a file larger than the blocks read at open)
        monkeypatch.setattr(remote.RemoteFile, "HEAD", 512)
        monkeypatch.setattr(remote.RemoteFile, "TAIL", 512)
        with RangeServer(folder, ranges=False) as plain:
            result = CliRunner().invoke(main, ["ls", plain.url("a.vaez")])
    else:
        result = CliRunner().invoke(main, ["ls", url])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.output
    expected = {"missing": "no such file: http://127.0.0.1:", "refused": "cannot connect",
                "no ranges": "does not send parts of files (range requests)",
                "protocol": "Protocol not known"}
    assert expected[case] in lines[0]


def test_memory_urls_and_a_local_block_cache(served, tmp_path):
    """memory:// (any fsspec file system reads the same way), and fsspec's blockcache::
    chained before an HTTP URL: a block read once is read from the local cache after."""
    folder, server = served
    memory = fsspec.filesystem("memory")
    memory.pipe("/remote-test/a.vaez", (folder / "a.vaez").read_bytes())
    with vaecodec.open("memory://remote-test/a.vaez") as archive:
        assert np.array_equal(archive[77], vaecodec.open(folder / "a.vaez")[77])
    memory.rm("/remote-test/a.vaez")
    url = "blockcache::" + server.url("a.vaez")
    with vaecodec.open(url) as archive:
        first = archive[42]
    before = len(server.requests)
    with vaecodec.open(url) as archive:
        assert np.array_equal(archive[42], first)
    assert not [r for r in server.requests[before:] if r[2] is not None]


def test_a_url_is_told_from_a_path():
    assert remote.is_url("https://h/a.vaez") and remote.is_url("s3://b/k.json")
    assert remote.is_url("blockcache::https://h/a.vaez")
    assert not remote.is_url("digits/a.vaez") and not remote.is_url("C:\\data\\a.vaez")
    assert not remote.is_url("odd:name.vaez")
    assert remote.sibling("http://h:8/d/m.json", "s 1?.vaez") == "http://h:8/d/s%201%3F.vaez"
    assert remote.sibling("memory://d/m.json", "s 1.vaez") == "memory://d/s 1.vaez"


def test_compress_writes_an_archive_to_a_url_where_the_file_system_allows(served, tmp_path):
    """memory:// takes the finished file in one put (refused over an existing one without
    force); the read-only HTTP server refuses with one line, and nothing is left
    locally; open(url, "w"), decompress -o URL and a Dask manifest at a URL are refused."""
    folder, server = served
    digits = "samples/digits"
    url = "memory://written/d.vaez"
    result = vaecodec.compress([digits], url, lossless=True)
    assert result.output == url and result.count == 200
    with vaecodec.open(url) as archive:
        assert len(archive) == 200 and archive.verify().ok
    with pytest.raises(vaecodec.OutputExistsError, match="memory://written/d.vaez already"):
        vaecodec.compress([digits], url)
    vaecodec.compress([digits], url, force=True, quality=2)
    assert vaecodec.read_info(url).level == 2
    fsspec.filesystem("memory").rm("/written", recursive=True)
    refused = CliRunner().invoke(main, ["compress", digits, server.url("new.vaez")])
    assert refused.exit_code == 1 and refused.output.startswith("Error: http://127.0.0.1")
    assert len(refused.output.strip().splitlines()) == 1 and not (folder / "new.vaez").exists()
    with pytest.raises(vaecodec.SettingsError, match="compress.. writes one to a URL"):
        vaecodec.open("memory://x.vaez", "w")
    with pytest.raises(vaecodec.OutputPathError, match="not to a URL"):
        vaecodec.decompress(folder / "a.vaez", "memory://out/")


def test_a_name_is_found_over_http_without_reading_every_chunk(served, monkeypatch):
    """Lookup by name reads the chunks' headers (a small range each) until one lists the
    name, then that chunk whole, which confirms it: not every chunk whole."""
    monkeypatch.setattr(remote.RemoteFile, "HEAD", 512)
    monkeypatch.setattr(remote.RemoteFile, "TAIL", 512)
    monkeypatch.setattr(vaecodec.format.chunked, "HEADER_GUESS", 64)
    folder, server = served
    local = vaecodec.open(folder / "a.vaez")
    chunks = local.decoder.index.chunks
    target = local.names[95]  # in the fourth chunk of 30
    with vaecodec.open(server.url("a.vaez")) as archive:
        before = len(server.requests)
        image = archive[target]
        asked = server.requests[before:]
        with pytest.raises(KeyError, match="no image named"):
            archive["nothing.png"]
    assert np.array_equal(image, local[95])
    ranges = [tuple(map(int, rng[6:].split("-"))) for _, _, rng in asked]
    fetched = sum(end + 1 - start for start, end in ranges)
    whole = {(c.offset, c.offset + c.size - 1) for c in chunks}
    assert [r for r in ranges if r in whole] == [(chunks[3].offset,
                                                   chunks[3].offset + chunks[3].size - 1)]
    # a header costs one request (the last header's size, read first, is about right) or
    # two (it was short); the first chunk's lies in the head block read at open
    assert len(asked) <= 2 * 3 + 1 and fetched < chunks[3].size + 4 * 200
    local.close()


def test_a_lookup_reuses_the_headers_read_before(served, monkeypatch):
    """The names of the headers a lookup read are kept: a name they list costs its chunk
    alone, and once a miss has read every header, so does any name."""
    monkeypatch.setattr(remote.RemoteFile, "HEAD", 512)
    monkeypatch.setattr(remote.RemoteFile, "TAIL", 512)
    folder, server = served
    with vaecodec.open(folder / "a.vaez") as local:
        chunks = local.decoder.index.chunks
        names = local.names
        expected = {k: local[k] for k in (35, 65, 95, 125)}
    whole = [(c.offset, c.offset + c.size - 1) for c in chunks]

    def fetched(archive, name):
        before = len(server.requests)
        image = archive[name]
        asked = server.requests[before:]
        return image, [tuple(map(int, rng[6:].split("-"))) for _, _, rng in asked]

    with vaecodec.open(server.url("a.vaez")) as archive:
        image, ranges = fetched(archive, names[95])  # headers 0..3, then chunk 3
        assert np.array_equal(image, expected[95]) and ranges[-1] == whole[3]
        image, ranges = fetched(archive, names[35])  # listed already: chunk 1 alone
        assert np.array_equal(image, expected[35]) and ranges == [whole[1]]
        with pytest.raises(KeyError, match="no image named"):
            archive["nothing.png"]  # reads the headers not read yet
        for k in (125, 65):  # chunks 4 and 2 (30 images a chunk)
            image, ranges = fetched(archive, names[k])
            assert np.array_equal(image, expected[k]) and ranges == [whole[k // 30]]


def test_a_name_is_found_in_a_manifest_over_http(served):
    folder, server = served
    with vaecodec.open(server.url("set/m.json")) as remote_set, \
            vaecodec.open(folder / "set" / "m.json") as local_set:
        for name in ("3/103.png", "0/000.png", "9/199.png"):
            assert remote_set.position(name) == local_set.position(name)
            assert np.array_equal(remote_set[name], local_set[name])
        with pytest.raises(KeyError, match="no image named"):
            remote_set.position("3/1030.png")


def test_a_damaged_header_is_not_trusted_by_a_lookup(tmp_path, sample_images):
    """A chunk header edited so that it lists another name (its CRC-32 no longer
    matches): the lookup does not answer from it."""
    # one image a chunk: a name alone is stored as it is (zstd would make it longer)
    names = [f"image-{i}.png" for i in range(60)]
    path = tmp_path / "a.vaez"
    with vaecodec.open(path, "w", chunk_images=1) as out:
        out.write(sample_images[:60], names)
    data = bytearray(path.read_bytes())
    at = data.find(names[0].encode())
    assert at > 0
    data[at : at + 3] = b"zzz"
    fsspec.filesystem("memory").pipe("/lookup-damaged.vaez", bytes(data))
    with vaecodec.open("memory://lookup-damaged.vaez") as archive:
        with pytest.raises(vaecodec.ChecksumError):
            archive["zzz" + names[0][3:]]
        assert np.array_equal(archive[names[31]], vaecodec.open(path)[31])
        with pytest.raises(KeyError):  # what the damaged chunk really holds is unknown
            archive[names[0]]
