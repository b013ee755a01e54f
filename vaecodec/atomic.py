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
    with AtomicFile(path, force) as f:
        f.write(data)
        f.commit()


class AtomicFile:
    """A file written under a temporary name beside ``path`` and moved into place by
    ``commit`` (after an fsync); leaving the ``with`` block (or ``abort``) without a commit
    removes it. Without ``force`` the move refuses to replace a file, even one that
    appeared meanwhile (a hard link, which fails if the name exists)."""

    def __init__(self, path: str | os.PathLike, force: bool):
        self.path, self.force = Path(path), force
        _check_target(self.path)
        # a short name, whatever the length of the final one
        fd, self.tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".vaecodec-",
                                        suffix=".tmp")
        try:
            os.chmod(self.tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a new file: as usual
            self.file = os.fdopen(fd, "w+b")
        except BaseException:
            os.close(fd)
            os.unlink(self.tmp)
            raise
        self.done = False

    def write(self, data) -> int:
        return self.file.write(data)

    def tell(self) -> int:
        return self.file.tell()

    def commit(self) -> None:
        try:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
            if self.force:
                os.replace(self.tmp, self.path)
            else:
                move_no_clobber(self.tmp, self.path, shown=self.path)
        except BaseException:
            self.abort()
            raise
        self.done = True

    def abort(self) -> None:
        if not self.done:
            self.done = True
            self.file.close()
            if os.path.lexists(self.tmp):
                os.unlink(self.tmp)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.abort()


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


def lock_path(path: str | os.PathLike) -> Path:
    """The lock file of ``path``: ``.NAME.lock`` beside it."""
    path = Path(path)
    return path.with_name(f".{path.name}.lock")


class WriteLock:
    """Exclusive right to write ``path`` among cooperating processes: an advisory lock
    (``flock``) on the file ``.NAME.lock`` beside it, held from ``acquire`` to ``release``.

    A second writer waits (``on_wait()`` is called once when it starts waiting) until the
    first releases, then goes on: appends, replacements and model-store writes of one path
    are serialised, so no run's work is lost to another's. The lock file is removed on
    release (while still locked, so a waiter that got the removed file sees that it is
    gone and locks the new one); a process that dies releases its lock with its file
    descriptors, and the next writer reuses or replaces the file it left."""

    def __init__(self, path: str | os.PathLike):
        self.path = lock_path(path)
        self._fd: int | None = None

    def acquire(self, on_wait=None) -> "WriteLock":
        if self._fd is not None:
            return self
        waited = False
        flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)
        while True:
            try:
                fd = os.open(self.path, flags, 0o666)
            except OSError as e:
                if not self.path.parent.is_dir():
                    raise OutputPathError(f"folder {self.path.parent} does not exist") from None
                raise OutputPathError(f"cannot make the lock file {self.path} "
                                      f"({e.strerror or e}), which keeps other writers out "
                                      "while this one writes") from None
            try:
                try:
                    _lock(fd, blocking=False)
                except BlockingIOError:
                    if on_wait is not None and not waited:
                        on_wait()
                    waited = True
                    _lock(fd, blocking=True)
                held = os.fstat(fd)
                try:
                    now = os.stat(self.path, follow_symlinks=False)
                except FileNotFoundError:
                    now = None
            except BaseException:
                os.close(fd)
                raise
            if now is not None and (now.st_dev, now.st_ino) == (held.st_dev, held.st_ino):
                self._fd = fd
                return self
            os.close(fd)  # the holder removed it as we waited: lock the new one

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.unlink(self.path)
        except OSError:
            pass
        finally:
            os.close(self._fd)  # closing the descriptor releases the lock
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def __enter__(self) -> "WriteLock":
        return self.acquire()

    def __exit__(self, *exc_info) -> None:
        self.release()


def _lock(fd: int, blocking: bool) -> None:
    try:
        import fcntl
    except ImportError:  # Windows: a byte-range lock of the lock file
        import msvcrt

        mode = msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK
        while True:
            try:
                msvcrt.locking(fd, mode, 1)
                return
            except OSError:
                if not blocking:
                    raise BlockingIOError from None
    fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
