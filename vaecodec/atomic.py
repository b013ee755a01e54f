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


def check_output_file(path: Path, force: bool) -> None:
    """Refuse an output that is a folder, that exists (without ``force``), or whose folder
    does not exist."""
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give a file name for the output")
    if path.exists() and not force:
        raise OutputExistsError(f"{path} already exists (use --force to overwrite)")
    if not path.parent.is_dir():
        raise OutputPathError(f"folder {path.parent} does not exist")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: Path, data: bytes, force: bool) -> None:
    """Write ``data`` to ``path`` through a temporary file beside it, then rename."""
    path = Path(path)
    check_output_file(path, force)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file gets the usual mode
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
