"""Writing one file atomically: a temporary file beside the target, then a rename.

The one way vaecodec writes a whole file (archives, models): a reader sees the old file
or the complete new one, never a half-written one, and an existing file is replaced only
with ``force``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import OutputExistsError, OutputPathError


def _check_target(path: Path) -> None:
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name for the output")
    if not path.parent.is_dir():
        raise OutputPathError(f"folder {path.parent} does not exist")


def _exists_error(path: Path) -> OutputExistsError:
    return OutputExistsError(f"{path} already exists (use --force to overwrite)")


def check_output_file(path: Path, force: bool) -> None:
    """Refuse an output that is a folder, that exists (without ``force``), or whose folder
    does not exist: before the work that makes it (the write checks again, atomically)."""
    _check_target(path)
    if path.exists() and not force:
        raise _exists_error(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, then move it into
    place. Without ``force`` the move refuses to replace a file, even one that appeared
    while this one was being written (a hard link, which fails if the name exists)."""
    path = Path(path)
    _check_target(path)
    # a short name, whatever the length of the final one
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".vaecodec-", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if force:
            os.replace(tmp, path)
        else:
            move_no_clobber(tmp, path, shown=path)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def lexists_at(name: str, dir_fd: int | None = None) -> bool:
    """Whether ``name`` (in the folder ``dir_fd``) exists, a dangling link included."""
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        return False
    return True


def move_no_clobber(source: str, target: str | Path, dir_fd: int | None = None,
                    shown: str | Path = "") -> None:
    """Rename ``source`` to ``target`` (both in the folder ``dir_fd``, or paths) unless
    ``target`` exists, an existing one appearing meanwhile included: a hard link, which
    fails if the name exists, then the source removed. On a file system without hard
    links: check, then rename. ``shown``: the target as the error names it."""
    try:
        os.link(source, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd, follow_symlinks=False)
    except FileExistsError:
        raise _exists_error(shown or target) from None
    except OSError:
        if lexists_at(os.fspath(target), dir_fd):
            raise _exists_error(shown or target) from None
        os.replace(source, target, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        return
    os.unlink(source, dir_fd=dir_fd)
