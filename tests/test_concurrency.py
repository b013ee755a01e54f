"""Concurrent writers of one archive, in real processes: appends, ``open(..., "a")`` and
replacements (``--force``) of one path wait for each other (a lock file beside it), so
no run that reports success loses its images to another."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest

import vaecodec
from vaecodec.fsio import WriteLock, lock_path

APPEND = textwrap.dedent("""
    import sys, time
    import numpy as np
    import vaecodec
    path, tag, hold = sys.argv[1], sys.argv[2], float(sys.argv[3])
    images = np.load(sys.argv[4])
    with vaecodec.open(path, "a") as archive:
        time.sleep(hold)  # every writer has opened the archive before any has closed it
        archive.write(images, names=[f"{tag}/{i:03d}.png" for i in range(len(images))])
    print("ok")
""")


def _start(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def test_concurrent_appends_keep_every_run_s_images(tmp_path, sample_images):
    path = tmp_path / "a.vaez"
    with vaecodec.open(path, "w") as archive:
        archive.write(sample_images[:100], names=[f"base/{i:03d}.png" for i in range(100)])
    batch = tmp_path / "batch.npy"
    np.save(batch, sample_images[100:140])
    runs = [_start(APPEND, str(path), f"run{k}", "1.0", str(batch)) for k in range(3)]
    for run in runs:
        out, err = run.communicate(timeout=120)
        assert run.returncode == 0 and out.strip() == "ok", err
    with vaecodec.open(path) as archive:
        names = archive.names
        assert len(archive) == 100 + 3 * 40
        assert archive.verify().ok
        for k in range(3):
            assert f"run{k}/039.png" in names
            np.testing.assert_array_equal(archive[f"run{k}/000.png"],
                                          archive[f"run{(k + 1) % 3}/000.png"])
    assert not lock_path(path).exists()  # the lock file goes with the last writer


HOLD = textwrap.dedent("""
    import sys, time
    from vaecodec.fsio import WriteLock
    lock = WriteLock(sys.argv[1]).acquire()
    open(sys.argv[2], "a").write("held\\n")
    time.sleep(1.5)
    open(sys.argv[2], "a").write("released\\n")
    lock.release()
""")


def test_a_replacement_waits_for_the_writer_that_holds_the_archive(tmp_path, sample_images):
    """``open(path, "w", force=True)`` (compress --force) while another process writes the
    same path: it waits, so it cannot replace the file under an append."""
    path, log = tmp_path / "a.vaez", tmp_path / "log"
    holder = _start(HOLD, str(path), str(log))
    deadline = time.monotonic() + 60
    while not (log.exists() and "held" in log.read_text()):
        assert time.monotonic() < deadline and holder.poll() is None, holder.stderr.read()
        time.sleep(0.05)
    with vaecodec.open(path, "w", force=True) as archive:
        with open(log, "a") as f:
            f.write("replacing\n")
        archive.write(sample_images[:10])
    holder.wait(timeout=60)
    assert log.read_text().splitlines() == ["held", "released", "replacing"]
    assert len(vaecodec.open(path)) == 10


def test_a_lock_whose_holder_died_is_taken_over(tmp_path, sample_images):
    """A writer killed with its lock file left behind blocks nobody: the lock is the
    file's flock, released with the process."""
    path = tmp_path / "a.vaez"
    killed = _start("import sys, time; from vaecodec.fsio import WriteLock; "
                    "WriteLock(sys.argv[1]).acquire(); print('held', flush=True); "
                    "time.sleep(60)", str(path))
    assert killed.stdout.readline().strip() == "held"
    killed.kill()
    killed.wait()
    assert lock_path(path).exists()
    with vaecodec.open(path, "a") as archive:
        archive.write(sample_images[:5], names=[f"{i}.png" for i in range(5)])
    assert len(vaecodec.open(path)) == 5 and not lock_path(path).exists()


def test_the_lock_waits_and_says_so(tmp_path):
    first = WriteLock(tmp_path / "x.vaez").acquire()
    waited = []
    import threading

    def second():
        with WriteLock(tmp_path / "x.vaez").acquire(on_wait=lambda: waited.append(1)) as lock:
            waited.append(lock.held)

    thread = threading.Thread(target=second)
    thread.start()
    time.sleep(0.3)
    assert waited == [1]  # still waiting
    first.release()
    thread.join(timeout=10)
    assert waited == [1, True]
    assert not lock_path(tmp_path / "x.vaez").exists()


def test_a_lock_file_that_cannot_be_made_is_one_clear_error(tmp_path):
    from vaecodec.errors import OutputPathError

    with pytest.raises(OutputPathError, match="missing does not exist"):
        WriteLock(tmp_path / "missing" / "x.vaez").acquire()
    (tmp_path / ".x.vaez.lock").mkdir()  # something that cannot be opened as the lock
    with pytest.raises(OutputPathError, match="cannot make the lock file"):
        WriteLock(tmp_path / "x.vaez").acquire()
