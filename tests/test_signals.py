"""Ctrl-C and SIGTERM during compress, in a real process whose files are read by worker
processes: exit 130 (143 for SIGTERM) as gzip does, no traceback from any process,
nothing left behind, an archive appended to as it was; deep trees are walked without
recursion."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vaecodec
from vaecodec.cli import main


@pytest.fixture(scope="module")
def many(tmp_path_factory, sample_images):
    """2,400 files: enough to be read by worker processes (images.PARALLEL_MIN_FILES)."""
    root = tmp_path_factory.mktemp("many") / "src"
    for i in range(2400):
        folder = root / f"{i % 8}"
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.roll(sample_images[i % 200], i // 200, axis=1)).save(
            folder / f"{i:05d}.png")
    return root


def _interrupted(workdir, args, how):
    """Run ``vaecodec ARGS`` in ``workdir`` and send it ``how`` once it is writing."""
    # Ctrl-C as a terminal's user sends it: a test run started in the background (`&` in a
    # script) hands its children SIGINT ignored, and Python keeps an ignored SIGINT so
    process = subprocess.Popen([sys.executable, "-m", "vaecodec", *map(str, args)],
                               cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True,
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while not any(p.name.startswith(".vaecodec-") or p.name.endswith(".lock")
                  for p in workdir.iterdir()):
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.02)
    time.sleep(0.5)  # reading and coding in the workers
    assert process.poll() is None, "finished before the signal: give it more work"
    if how == signal.SIGINT:  # Ctrl-C: the terminal signals the whole process group
        os.killpg(process.pid, signal.SIGINT)
    else:  # kill, timeout: the process alone
        process.send_signal(how)
    out, err = process.communicate(timeout=120)
    return process.returncode, out, err


@pytest.mark.parametrize("how, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_an_interrupted_compress_exits_quietly_and_leaves_nothing(tmp_path, many, how, status):
    work = tmp_path / "work"
    work.mkdir()
    code, out, err = _interrupted(work, ["compress", "--search", many, "out.vaez"], how)
    assert code == status, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert list(work.iterdir()) == []


def test_an_interrupted_append_leaves_the_archive_as_it_was(tmp_path, many, sample_images):
    work = tmp_path / "work"
    work.mkdir()
    archive = work / "a.vaez"
    with vaecodec.open(archive, "w") as out:
        out.write(sample_images[:10], names=[f"x{i}.png" for i in range(10)])
    before = archive.read_bytes()
    code, out, err = _interrupted(work, ["compress", "--append", "--search", many, "a.vaez"],
                                  signal.SIGINT)
    assert code == 130 and "Traceback" not in err, err
    assert archive.read_bytes() == before
    assert sorted(p.name for p in work.iterdir()) == ["a.vaez"]


@pytest.fixture
def deep_root(tmp_path):
    """A folder for a deep tree, removed one level at a time (shutil.rmtree recurses)."""
    root = tmp_path / "deep"
    yield root
    folder = os.fspath(root)
    levels = [folder]
    while os.path.isdir(os.path.join(levels[-1], "d")):
        levels.append(os.path.join(levels[-1], "d"))
    for level in reversed(levels):
        for name in os.listdir(level):
            if name != "d":
                os.unlink(os.path.join(level, name))
        os.rmdir(level)


def test_a_tree_1200_folders_deep(tmp_path, deep_root, sample_images):
    root = deep_root
    folder = os.fspath(root)
    os.mkdir(folder)
    for _ in range(1200):  # one level at a time (makedirs recurses)
        folder = os.path.join(folder, "d")
        os.mkdir(folder)
    Image.fromarray(sample_images[0]).save(os.path.join(folder, "x.png"))
    Image.fromarray(sample_images[1]).save(root / "y.png")
    out = tmp_path / "deep.vaez"
    result = CliRunner().invoke(main, ["compress", str(root), str(out)])
    # walked without recursion; its 2,405-byte name is refused naming the file
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert result.output.startswith("Error: ") and "x.png: stored name is longer than 1024" \
        in result.output and len(result.output.splitlines()) == 1
    assert not out.exists()
    from vaecodec import images

    assert images.count_files([root]) == 2
    assert [name for _, name in images._walk(os.fspath(root), "")] == [
        "d/" * 1200 + "x.png", "y.png"]


def test_a_name_that_is_not_utf_8_is_refused_naming_the_file(tmp_path, sample_images):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(sample_images[0]).save(os.path.join(os.fsencode(src), b"bad\xff.png"))
    result = CliRunner().invoke(main, ["compress", str(src), str(tmp_path / "o.vaez")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "bad\\xff.png: its name is not valid UTF-8" in result.output
    assert len(result.output.splitlines()) == 1


def test_python_m_vaecodec_cli_knows_every_command():
    result = subprocess.run([sys.executable, "-m", "vaecodec.cli", "train", "--help"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and "Train a model family" in result.stdout, result.stderr


@pytest.mark.slow
def test_ctrl_c_on_a_local_dask_cluster(tmp_path, many):
    """compress --workers: the cluster's worker processes (which the terminal's Ctrl-C
    reaches too) leave it to the client, which stops the tasks, removes the shards
    written so far and exits 130; no traceback or error log from any worker."""
    pytest.importorskip("dask.distributed", reason="Dask is the 'dask' extra")
    work = tmp_path / "work"
    work.mkdir()
    code, out, err = _interrupted(work, ["compress", "--search", many, "out.json",
                                         "--workers", "2"], signal.SIGINT)
    assert code == 130, err
    assert "Traceback" not in err and "ERROR" not in err, err
    assert list(work.iterdir()) == []
