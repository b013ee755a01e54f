"""Compressing on a real local Dask cluster: shards and a manifest that read as one
archive, the same pixels as a single file, and a killed worker's shard redone."""

from __future__ import annotations

import json
import os
import signal

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vaecodec

distributed = pytest.importorskip("dask.distributed", reason="Dask is the 'dask' extra")
import vaecodec.dask  # noqa: E402
from vaecodec.cli import main  # noqa: E402

SHARD = 4096  # the smallest shard: one chunk
COUNT = 4200  # 2 shards (the last partial) in 10 folders


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        yield client


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sample_images):
    root = tmp_path_factory.mktemp("dask") / "src"
    rng = np.random.default_rng(3)
    for i in range(COUNT):
        image = np.roll(sample_images[i % len(sample_images)], int(rng.integers(-2, 3)), 1)
        path = root / f"{i % 10}" / f"{i:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)
    return root


def test_shards_read_back_as_the_single_file_does(cluster, folder, tmp_path):
    single = tmp_path / "single.vaez"
    vaecodec.compress([folder], single)
    result = vaecodec.dask.compress([folder], tmp_path / "big.json", cluster,
                                    shard_images=SHARD)
    assert result.count == COUNT and result.shards == 2
    manifest = json.loads((tmp_path / "big.json").read_text())
    assert [s["path"] for s in manifest["shards"]] == [
        f"big.shards/{k:05d}.vaez" for k in range(2)]
    with vaecodec.open(single) as one, vaecodec.open(tmp_path / "big.json") as many:
        assert len(many) == COUNT and many.names == one.names
        assert np.array_equal(many[:], one[:])  # byte-exact pixels
        assert np.array_equal(many["7/01567.png"], one["7/01567.png"])
        rows = [COUNT - 1, 0, SHARD, SHARD - 1]  # the ends of the shards
        assert np.array_equal(many[rows], one[rows])
        assert many.verify().ok
    assert vaecodec.read_info(tmp_path / "big.json").count == COUNT
    out = vaecodec.decompress(tmp_path / "big.json", tmp_path / "restored")
    assert len(out.paths) == COUNT


def test_the_command_line_and_the_torch_dataset_take_a_manifest(cluster, folder, tmp_path):
    manifest = tmp_path / "m.json"
    vaecodec.dask.compress([folder], manifest, cluster, shard_images=SHARD)
    runner = CliRunner()
    listed = runner.invoke(main, ["ls", str(manifest)])
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == COUNT
    tested = runner.invoke(main, ["test", str(manifest)])
    assert tested.exit_code == 0, tested.output
    torch_module = pytest.importorskip("vaecodec.torch")
    data = torch_module.VaezDataset(manifest, labels="folder")
    image, label = data[2000]
    assert len(data) == COUNT and label == int(data.classes[label])
    assert np.array_equal((image[0].numpy() * 255).round(), vaecodec.open(manifest)[2000])
    (tmp_path / "m.shards" / "00001.vaez").write_bytes(b"VAEZ\x05broken")
    tested = runner.invoke(main, ["test", str(manifest)])
    assert tested.exit_code == 1 and "00001.vaez" in tested.output


def test_labels_go_to_every_shard(cluster, folder, tmp_path):
    """Labels from folders and metadata from a file: given to each file by the client,
    the same class names in every shard, read back across shards as from one file."""
    single = tmp_path / "single.vaez"
    table = {f"{i % 10}/{i:05d}.png": {"label": str(9 - i % 10), "i": i} for i in range(COUNT)}
    vaecodec.compress([folder], single, labels=table)
    result = vaecodec.dask.compress([folder], tmp_path / "l.json", cluster,
                                    shard_images=SHARD, labels=table)
    assert result.shards == 2
    with vaecodec.open(single) as one, vaecodec.open(tmp_path / "l.json") as many:
        assert many.labelled and many.has_metadata
        assert many.classes == one.classes == tuple(str(d) for d in range(10))
        assert np.array_equal(many.labels, one.labels)
        assert many.meta(SHARD + 3) == one.meta(SHARD + 3)
        assert many.meta(f"7/{4007:05d}.png") == {"i": 4007}
        assert many.metadata == one.metadata
        assert many.label(f"7/{7:05d}.png") == 2
    torch_module = pytest.importorskip("vaecodec.torch")
    data = torch_module.VaezDataset(tmp_path / "l.json")  # the stored labels
    assert data[SHARD + 3][1] == int(vaecodec.open(single).labels[SHARD + 3])
    missing = dict(list(table.items())[1:])
    with pytest.raises(vaecodec.InputError, match="gives this image no entry"):
        vaecodec.dask.compress([folder], tmp_path / "m.json", cluster, shard_images=SHARD,
                               labels=missing)
    assert not (tmp_path / "m.json").exists()
    assert not list(tmp_path.glob(".m.shards*")) and not (tmp_path / "m.shards").exists()


@pytest.mark.slow
def test_a_killed_worker_s_shard_is_redone(folder, tmp_path):
    """One worker is killed (SIGKILL) while the shards are being written: its task runs
    again on the other worker, and the data set is complete and correct."""
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        pids = list(client.run(os.getpid).values())

        def kill_one(stage, done, total):
            if pids:
                os.kill(pids.pop(), signal.SIGKILL)

        result = vaecodec.dask.compress([folder], tmp_path / "k.json", client,
                                        shard_images=SHARD, progress=kill_one)
    assert result.count == COUNT
    with vaecodec.open(tmp_path / "k.json") as archive:
        assert archive.verify().ok and len(archive) == COUNT
    assert not [p for p in (tmp_path / "k.shards").iterdir() if p.suffix != ".vaez"]


@pytest.mark.slow  # a cluster of its own: processes started and stopped
def test_the_cli_starts_a_local_cluster(folder, tmp_path):
    out = tmp_path / "c.json"
    result = CliRunner().invoke(main, ["compress", str(folder), str(out), "--workers", "2"])
    assert result.exit_code == 0, result.output
    # the CLI's shards are sized for the cluster: 4,200 images on 2 workers make one
    # shard of 4,096 and one of 104
    assert f"compressed {COUNT} images into 2 shards (" in result.output
    assert len(vaecodec.open(out)) == COUNT
    again = CliRunner().invoke(main, ["compress", str(folder), str(out), "--workers", "2"])
    assert again.exit_code == 1 and "already exists" in again.output
    one = CliRunner().invoke(main, ["compress", str(folder), str(tmp_path / "one.json"),
                                    "--workers", "2", "--shard-images", "8192"])
    assert one.exit_code == 0 and f"compressed {COUNT} images into 1 shard (" in one.output


def test_a_failed_run_leaves_an_older_data_set_as_it_was(cluster, folder, tmp_path):
    """A run with force that fails midway (here: interrupted) leaves the older manifest and
    its shards as they were; a run whose manifest name is taken meanwhile removes its
    shards again. No temporary folder is left either way."""
    manifest = tmp_path / "d.json"
    vaecodec.dask.compress([folder], manifest, cluster, shard_images=SHARD)
    before = {p.name: p.read_bytes() for p in (tmp_path / "d.shards").iterdir()}
    manifest_bytes = manifest.read_bytes()

    def interrupt(stage, done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        vaecodec.dask.compress([folder], manifest, cluster, shard_images=SHARD, force=True,
                               progress=interrupt)
    assert manifest.read_bytes() == manifest_bytes
    assert {p.name: p.read_bytes() for p in (tmp_path / "d.shards").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.shards"]

    late = tmp_path / "late.json"

    def take_the_name(stage, done, total):
        if not late.exists():
            late.write_text("someone else's")

    with pytest.raises(vaecodec.OutputExistsError):
        vaecodec.dask.compress([folder], late, cluster, shard_images=SHARD,
                               progress=take_the_name)
    assert late.read_text() == "someone else's"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.json", "d.shards", "late.json"]


# --- a cluster whose worker runs elsewhere -------------------------------------------------


def _digits(folder, images):
    for i, image in enumerate(images):
        path = folder / f"{i % 3}" / f"{i:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(image).save(path)


@pytest.fixture
def remote_cluster(tmp_path, sample_images):
    """A real scheduler and worker started as commands in a folder of their own, which
    holds other images under the client's relative names; ``start_worker(prefix)`` starts
    the worker behind a command prefix (a mount namespace)."""
    import shutil
    import subprocess
    import sys
    import time

    elsewhere = tmp_path / "elsewhere"
    _digits(elsewhere / "src", 255 - sample_images[:30])  # same names, other pixels
    dask_cli = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    info = tmp_path / "scheduler.json"
    processes = []

    def start(args, wait_for=None):
        process = subprocess.Popen(args, cwd=elsewhere, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
        processes.append(process)
        return process

    start([*dask_cli, "--scheduler-file", str(info), "--port", "0", "--no-dashboard",
           "--host", "127.0.0.1"])
    deadline = time.monotonic() + 60
    while not info.exists():
        assert time.monotonic() < deadline, "the scheduler did not start"
        time.sleep(0.1)
    time.sleep(0.2)
    address = json.loads(info.read_text())["address"]

    def start_worker(prefix=()):
        start([*prefix, sys.executable, "-m", "distributed.cli.dask_worker", address,
               "--no-nanny", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"])
        with distributed.Client(address, timeout="30s") as client:
            client.wait_for_workers(1, timeout=60)
        return address

    try:
        yield elsewhere, start_worker
    finally:
        for process in reversed(processes):  # the workers first: they do not wait to reconnect
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(elsewhere, ignore_errors=True)


@pytest.mark.slow  # a cluster of its own: processes started and stopped
def test_a_worker_in_another_folder_reads_the_client_s_files(remote_cluster, tmp_path,
                                                            sample_images, monkeypatch):
    """Relative sources and a relative output (the README's example) on a cluster whose
    worker runs in another folder holding other files of the same names: the paths leave
    the client absolute, so the data set holds the client's pixels."""
    elsewhere, start_worker = remote_cluster
    address = start_worker()
    here = tmp_path / "here"
    _digits(here / "src", sample_images[:30])
    monkeypatch.chdir(here)
    result = CliRunner().invoke(main, ["compress", "src", "out.json", "--scheduler", address,
                                       "-q", "8"])
    assert result.exit_code == 0, result.output
    single = vaecodec.compress([here / "src"], tmp_path / "single.vaez", quality=8)
    with vaecodec.open(here / "out.json") as many, vaecodec.open(single.output) as one:
        assert many.names == one.names and np.array_equal(many[:], one[:])
    assert not (elsewhere / "out.json").exists()


@pytest.mark.slow  # a cluster of its own: processes started and stopped
def test_a_worker_that_sees_other_files_at_the_same_paths_fails_clearly(
        remote_cluster, tmp_path, sample_images):
    """The worker runs in a mount namespace where the source folder is another folder (as
    a cluster node whose shared storage differs): the run fails with one line naming the
    file, and no data set is written."""
    import shutil
    import subprocess

    if shutil.which("unshare") is None or subprocess.run(
            ["unshare", "-m", "true"], capture_output=True).returncode != 0:
        pytest.skip("needs unshare -m (root) to give the worker a mount namespace")
    elsewhere, start_worker = remote_cluster
    source = tmp_path / "src"
    _digits(source, sample_images[:30])
    decoy = elsewhere / "src"
    address = start_worker(["unshare", "-m", "sh", "-c",
                            f'mount --bind "{decoy}" "{source}" && exec "$0" "$@"'])
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["compress", str(source), str(out), "--scheduler",
                                       address])
    assert result.exit_code == 1
    assert "is not the same file on the Dask worker" in result.output
    assert f"{source}{os.sep}0{os.sep}000.png" in result.output
    assert not out.exists() and not (tmp_path / "out.shards").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["elsewhere", "scheduler.json", "src"]


def test_the_quality_guard_judges_the_whole_data_set_once(cluster, tmp_path):
    """Images unlike the model's: one QualityWarning on the client for the whole data set
    (not a raw warning per shard from the workers), and the figures in the result."""
    fashion = os.path.join(os.path.dirname(__file__), "..", "samples", "fashion")
    with pytest.warns(vaecodec.QualityWarning) as caught:
        result = vaecodec.dask.compress([fashion], tmp_path / "f.json", cluster,
                                        shard_images=SHARD)
    assert len([w for w in caught if issubclass(w.category, vaecodec.QualityWarning)]) == 1
    assert result.quality is not None and result.quality.poor
    assert result.quality.images == result.count


def test_strict_refuses_the_whole_data_set_and_writes_nothing(cluster, tmp_path):
    """--strict on a cluster: the figures gathered from every shard are judged before
    anything takes its place; refused, no manifest and no shard is left."""
    fashion = os.path.join(os.path.dirname(__file__), "..", "samples", "fashion")
    with pytest.raises(vaecodec.QualityError, match="refused .strict."):
        vaecodec.dask.compress([fashion], tmp_path / "f.json", cluster, shard_images=SHARD,
                               strict=True)
    assert list(tmp_path.iterdir()) == []
    digits = os.path.join(os.path.dirname(__file__), "..", "samples", "digits")
    result = vaecodec.dask.compress([digits], tmp_path / "d.json", cluster, strict=True)
    assert result.count == 200 and not result.quality.poor


def test_shards_are_sized_for_the_cluster():
    """About two shards per worker, in whole chunks of 4,096 dealt out evenly, at most
    65,536 files each: 100,000 files (25 chunks) on 2 workers make 4 tasks of 7, 6, 6 and 6
    chunks, not 7, 7, 7 and 4 (one worker left coding 14 chunks while the other codes 11)."""
    from vaecodec.dask import shard_sizes

    assert shard_sizes(100_000, 2) == [7 * 4096, 6 * 4096, 6 * 4096, 6 * 4096]
    assert shard_sizes(100_000, 1) == [13 * 4096, 12 * 4096]
    many = shard_sizes(10**7, 4)  # 2,442 chunks: 153 shards of 15 or 16 chunks
    assert len(many) == 153 and set(many) == {15 * 4096, 16 * 4096}
    assert sum(many) >= 10**7 and sorted(many, reverse=True) == many
    assert shard_sizes(4200, 2) == [4096, 4096]
    assert shard_sizes(1, 8) == shard_sizes(0, 0) == [4096]


def test_the_cli_takes_a_shard_size_only_for_a_cluster(folder, tmp_path):
    refused = CliRunner().invoke(main, ["compress", str(folder), str(tmp_path / "x.vaez"),
                                        "--shard-images", "4096"])
    assert refused.exit_code == 2 and "--shard-images goes with --workers" in refused.output
    odd = CliRunner().invoke(main, ["compress", str(folder), str(tmp_path / "x.json"),
                                    "--workers", "1", "--shard-images", "5000"])
    assert odd.exit_code == 1 and "multiple of 4096" in odd.output
    assert not (tmp_path / "x.json").exists()


@pytest.mark.slow  # a cluster is tested in the default suite; colour through one, here
def test_colour_goes_through_the_cluster_in_colour(cluster, tmp_path):
    """The shipped colour family on the cluster: the icons' shards read back as the single
    file does and, lossless, give the PNGs back exactly; a grayscale image among them is
    widened with one warning on the client, comes back grayscale, and --strict refuses
    it, writing nothing."""
    icons = os.path.join(os.path.dirname(__file__), "..", "samples", "icons")
    single = tmp_path / "one.vaez"
    vaecodec.compress([icons], single, model="icons", lossless=True)
    result = vaecodec.dask.compress([icons], tmp_path / "c.json", cluster, model="icons",
                                    lossless=True)
    assert result.count == 100
    with vaecodec.open(single) as one, vaecodec.open(tmp_path / "c.json") as many:
        pixels = many[:]
        assert pixels.shape == (100, 32, 32, 3) and np.array_equal(pixels, one[:])
        with Image.open(os.path.join(icons, "00042.png")) as png:
            assert np.array_equal(many["00042.png"], np.asarray(png))
    src = tmp_path / "src"
    src.mkdir()
    for name in ("00000.png", "00001.png"):
        with Image.open(os.path.join(icons, name)) as png:
            png.save(src / name)
    with Image.open(os.path.join(icons, "00002.png")) as png:
        png.convert("L").save(src / "gray.png")
    with pytest.warns(vaecodec.VaezWarning) as caught:
        vaecodec.dask.compress([src], tmp_path / "w.json", cluster, model="icons")
    said = [str(w.message) for w in caught if issubclass(w.category, vaecodec.VaezWarning)]
    assert sum("1 grayscale image was converted to RGB" in m for m in said) == 1, said
    with vaecodec.open(tmp_path / "w.json") as shards:  # and comes back grayscale
        assert shards.source_channels("gray.png") == 1
    restored = vaecodec.decompress(tmp_path / "w.json", tmp_path / "w")
    with Image.open(restored.output_dir / "gray.png") as png:
        assert png.mode == "L"
    with pytest.raises(vaecodec.ConversionError, match="--strict"):
        vaecodec.dask.compress([src], tmp_path / "s.json", cluster, model="icons",
                               strict=True)
    assert not (tmp_path / "s.json").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith((".s.", "s."))]
