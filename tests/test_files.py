"""Writing whole files: atomic, and never over an existing file without force."""

from __future__ import annotations

import pytest

import vaecodec
from vaecodec.atomic import atomic_write_bytes


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


@pytest.mark.parametrize("where, message", [("folder", "is a folder"), ("missing", "does not exist")])
def test_unwritable_targets(tmp_path, where, message):
    (tmp_path / "folder").mkdir()
    target = tmp_path / "folder" if where == "folder" else tmp_path / "missing" / "a.vaez"
    with pytest.raises(vaecodec.OutputPathError, match=message):
        atomic_write_bytes(target, b"x", force=True)
