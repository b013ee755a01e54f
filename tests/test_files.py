"""Writing whole files: atomic, and never over an existing file without force."""

from __future__ import annotations

import pytest

import vaecodec
from vaecodec.fsio import atomic_write_bytes


def test_a_file_that_appeared_meanwhile_is_not_replaced(tmp_path):
    """compress checks the output before reading the images; the write itself refuses a
    file that appeared since (another run), atomically, and leaves no temporary file."""
    out = tmp_path / "out.vaez"
    out.write_bytes(b"written by another run")
    with pytest.raises(vaecodec.OutputExistsError, match="use --force"):
        atomic_write_bytes(out, b"new", force=False)
    assert out.read_bytes() == b"written by another run"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.vaez"]
    atomic_write_bytes(out, b"new", force=True)
    assert out.read_bytes() == b"new"
    atomic_write_bytes(tmp_path / "fresh.vaez", b"x", force=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fresh.vaez", "out.vaez"]


def test_a_new_file_gets_the_usual_mode(tmp_path):
    import os

    mask = os.umask(0o022)
    try:
        atomic_write_bytes(tmp_path / "a.vaez", b"x", force=False)
    finally:
        os.umask(mask)
    assert (tmp_path / "a.vaez").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize("where, message", [("folder", "is a folder"),
                                            ("missing", "does not exist")])
def test_unwritable_targets(tmp_path, where, message):
    (tmp_path / "folder").mkdir()
    target = tmp_path / "folder" if where == "folder" else tmp_path / "missing" / "a.vaez"
    with pytest.raises(vaecodec.OutputPathError, match=message):
        atomic_write_bytes(target, b"x", force=True)


# --- decompress: nothing outside the output, nothing lost -------------------------------
import os  # noqa: E402
import subprocess  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from vaecodec import files  # noqa: E402

NAMES = ["0/00003.png", "0/00010.png", "1/00002.png"]


@pytest.fixture
def archive(tmp_path, sample_images):
    path = tmp_path / "d.vaez"
    path.write_bytes(vaecodec.encode(sample_images[:3], names=NAMES))
    return path


def tree(folder):
    """Every path under ``folder`` -> what it is (a link's target, a file's bytes)."""
    out = {}
    for root, dirs, names in os.walk(folder):
        for name in dirs + names:
            path = os.path.join(root, name)
            rel = os.path.relpath(path, folder)
            if os.path.islink(path):
                out[rel] = ("link", os.readlink(path))
            elif os.path.isfile(path):
                out[rel] = ("file", open(path, "rb").read())
            else:
                out[rel] = ("folder",)
    return out


def test_links_planted_in_the_output_are_never_followed(archive, tmp_path):
    """Links where 1.3.0 put its temporary files, and a link at an output path: with or
    without --force, nothing outside the output folder changes."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    out = tmp_path / "out"
    (out / "0").mkdir(parents=True)
    os.symlink(victim, out / "0" / ".00003.png.tmp")
    os.symlink(victim, out / "0" / ".00010.png.tmp")
    files.decompress(archive, out)
    assert victim.read_text() == "precious"
    assert os.readlink(out / "0" / ".00003.png.tmp") == str(victim)  # left alone
    assert not (out / "0" / "00003.png").is_symlink()

    os.unlink(out / "0" / "00003.png")
    os.symlink(victim, out / "0" / "00003.png")
    with pytest.raises(vaecodec.OutputExistsError):
        files.decompress(archive, out)
    files.decompress(archive, out, force=True)  # replaces the link, not what it points to
    assert victim.read_text() == "precious"
    assert not (out / "0" / "00003.png").is_symlink()
    assert np.asarray(Image.open(out / "0" / "00003.png")).shape == (28, 28)


def test_an_existing_file_at_a_temporary_name_is_left_alone(archive, tmp_path):
    out = tmp_path / "out"
    (out / "0").mkdir(parents=True)
    (out / "0" / ".00003.png.tmp").write_bytes(b"mine")
    files.decompress(archive, out)
    assert (out / "0" / ".00003.png.tmp").read_bytes() == b"mine"
    assert sorted(p.name for p in (out / "0").iterdir()) == [".00003.png.tmp", "00003.png",
                                                             "00010.png"]


def test_a_file_written_by_another_run_meanwhile_is_not_replaced(archive, tmp_path):
    """The output was free when checked; another run writes one of its files while this
    one decodes (simulated from the progress callback): this run stops, keeps the other
    run's file and removes everything it wrote."""
    out = tmp_path / "out"
    out.mkdir()

    def other_run(stage, done, total):
        if stage == "decoding" and done == total:  # before the files take their names
            (out / "1").mkdir()
            (out / "1" / "00002.png").write_bytes(b"the other run's")

    with pytest.raises(vaecodec.OutputExistsError, match="1/00002.png already exists"):
        files.decompress(archive, out, progress=other_run)
    assert tree(out) == {"1": ("folder",), "1/00002.png": ("file", b"the other run's")}


def test_a_name_that_is_both_a_file_and_a_folder_is_refused_before_writing(
        tmp_path, sample_images):
    path = tmp_path / "d.vaez"
    path.write_bytes(vaecodec.encode(sample_images[:2], names=["a.png", "a.png/b.png"]))
    out = tmp_path / "fx"
    out.mkdir()
    (out / "a.png").write_bytes(b"precious")
    for force in (False, True):
        with pytest.raises(vaecodec.DuplicateNameError, match="a.png would be written as a "
                                                              "file where a.png/b.png"):
            files.decompress(path, out, force=force)
        assert tree(out) == {"a.png": ("file", b"precious")}


@pytest.fixture
def small_disk(tmp_path):
    """A real 256 KiB tmpfs (needs root; skipped where mounting is not allowed)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {proc.stderr.strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_with_force_keeps_every_original(tmp_path, small_disk, sample_images):
    """Replacing files on a disk that fills up half way: every pre-existing file keeps its
    bytes, and nothing this run wrote is left."""
    names = [f"0/{i:05d}.png" for i in range(200)]
    archive = tmp_path / "big.vaez"
    noise = np.random.default_rng(0).integers(0, 256, (200, 28, 28), dtype=np.uint8)
    archive.write_bytes(vaecodec.encode(noise, names=names, lossless=True))
    (small_disk / "0").mkdir()
    for name in names[:2]:
        (small_disk / name).write_bytes(b"original " + name.encode())
    before = tree(small_disk)
    with pytest.raises(OSError) as caught:  # 200 PNGs of noise need ~180 KB more than fits
        files.decompress(archive, small_disk, force=True)
    assert caught.value.errno == 28  # ENOSPC
    assert caught.value.filename.startswith(str(small_disk / "0" / "0"))  # says where
    assert tree(small_disk) == before


# --- compress: nothing silent, nothing stuck -----------------------------------------------
import sys  # noqa: E402


def cli(*args, timeout=60, prefix=()):
    """The real command in a fresh process (a hang fails the test instead of the suite)."""
    return subprocess.run([*prefix, sys.executable, "-m", "vaecodec", *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)


def digit_folder(path, sample_images, count=2):
    path.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        Image.fromarray(sample_images[i]).save(path / f"{i}.png")
    return path


def test_a_fifo_is_an_error_not_a_hang(tmp_path, sample_images):
    src = digit_folder(tmp_path / "src", sample_images)
    os.mkfifo(src / "x.png")
    result = cli("compress", src, tmp_path / "o.vaez")
    assert result.returncode == 1
    assert result.stderr.strip() == f"Error: {src / 'x.png'} is not a regular file"
    assert not (tmp_path / "o.vaez").exists()
    result = cli("compress", src, tmp_path / "o.vaez", "--skip-invalid")
    assert result.returncode == 0 and "x.png is not a regular file" in result.stderr
    assert "compressed 2 images" in result.stdout
    result = cli("info", src / "x.png")
    assert result.returncode == 1 and "is not a regular file" in result.stderr


def test_an_unreadable_folder_is_an_error(tmp_path, sample_images):
    """Root reads every folder: as root the command runs without the capabilities that
    override permissions (setpriv), so that the locked folder is locked for it too."""
    import shutil

    src = digit_folder(tmp_path / "src", sample_images, 1)
    digit_folder(src / "locked", sample_images, 1)
    prefix = ()
    if os.geteuid() == 0:
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv: no folder is unreadable")
        prefix = ("setpriv", "--bounding-set", "-dac_override,-dac_read_search")
    os.chmod(src / "locked", 0o000)
    try:
        result = cli("compress", src, tmp_path / "o.vaez", prefix=prefix)
    finally:
        os.chmod(src / "locked", 0o755)
    assert result.returncode == 1, result.stdout
    assert result.stderr.startswith(f"Error: cannot read folder {src / 'locked'}: ")
    assert result.stderr.count("\n") == 1
    assert not (tmp_path / "o.vaez").exists()


def test_names_that_would_collide_on_decompress_are_refused_when_compressing(
        tmp_path, sample_images):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(sample_images[0]).save(src / "7.jpg", quality=95)
    Image.fromarray(sample_images[1]).save(src / "7.png")
    Image.fromarray(sample_images[2]).save(src / "7.jpg.png")
    with pytest.raises(vaecodec.DuplicateNameError,
                       match=r"src/7.jpg and .*src/7.jpg.png would both be restored as "
                             r"7.jpg.png; rename one of them"):
        files.compress([src], tmp_path / "o.vaez")
    assert not (tmp_path / "o.vaez").exists()


def test_an_animation_is_refused_not_cut_to_its_first_frame(tmp_path, sample_images):
    src = digit_folder(tmp_path / "src", sample_images)
    frames = [Image.fromarray(image) for image in sample_images[:3]]
    frames[0].save(src / "anim.gif", save_all=True, append_images=frames[1:])
    with pytest.raises(vaecodec.InvalidImageError, match="anim.gif holds 3 frames"):
        files.compress([src], tmp_path / "o.vaez")
    result = files.compress([src], tmp_path / "o.vaez", skip_invalid=True)
    assert result.count == 2 and "anim.gif holds 3 frames" in result.skipped[0]


def test_exif_orientation_gives_the_image_as_a_viewer_shows_it(tmp_path, sample_images):
    from vaecodec import images

    stored = sample_images[0][:, :26]  # 26 wide, 28 high, no symmetry
    exif = Image.Exif()
    exif[images.EXIF_ORIENTATION] = 6  # shown rotated 90 degrees clockwise
    Image.fromarray(stored).save(tmp_path / "r.png", exif=exif)
    shown = images.read_image(tmp_path / "r.png", (26, 28))  # 28 wide, 26 high on screen
    assert np.array_equal(shown, np.rot90(stored, k=-1))
    with pytest.raises(vaecodec.ImageSizeError, match="r.png is 28x26"):
        images.read_image(tmp_path / "r.png", (28, 26))


def test_compressed_data_is_not_written_to_a_terminal(tmp_path, sample_images):
    import pty

    src = digit_folder(tmp_path / "src", sample_images)
    controller, terminal = pty.openpty()
    try:
        proc = subprocess.run([sys.executable, "-m", "vaecodec", "compress", str(src), "-"],
                              stdout=terminal, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(terminal)
        os.close(controller)
    assert proc.returncode == 1
    assert proc.stderr == ("Error: refusing to write compressed data to a terminal (redirect "
                           "it, or give a file name)\n")


def test_a_failed_decompress_removes_the_folders_it_made(archive, tmp_path):
    """Output a/b/c does not exist: all three are made, and all three go on failure."""
    out = tmp_path / "a" / "b" / "c"

    def fail(stage, done, total):
        if stage == "decoding":  # the output folders are made by now
            raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        files.decompress(archive, out, progress=fail)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["d.vaez"]
    files.decompress(archive, out)
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*.png")) == sorted(NAMES)


def test_every_stage_reports_progress(tmp_path, sample_images):
    """compress: files read and coded, a chunk at a time; decompress: decoding (and
    writing, batch by batch); each ends at its total (the residual layer, the slow part,
    within a chunk)."""
    src = digit_folder(tmp_path / "src", sample_images, 5)
    seen = []
    files.compress([src], tmp_path / "o.vaez", lossless=True,
                   progress=lambda *event: seen.append(event))
    assert {stage for stage, _, _ in seen} == {"compressing"}
    assert seen[-1] == ("compressing", 5, 5)
    coded = [done for _, done, _ in seen]
    assert len(coded) > 5 and coded == sorted(coded)  # within the chunk too
    seen.clear()
    files.decompress(tmp_path / "o.vaez", tmp_path / "out",
                     progress=lambda *event: seen.append(event))
    decoding = [done for stage, done, _ in seen if stage == "decoding"]
    assert len(decoding) > 5 and decoding == sorted(decoding) and decoding[-1] == 5
    assert {stage for stage, _, _ in seen} == {"decoding"}
