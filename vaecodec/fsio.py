"""The file system, safely: regular files opened without blocking (``open_regular``),
files written atomically (``AtomicFile``, ``atomic_write_bytes``), one writer of a path
at a time (``WriteLock``), and a tree of output files moved into place all together or
not at all (``OutputTree``)."""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
import tempfile
from pathlib import Path
from typing import Sequence

from .errors import InputError, OutputExistsError, OutputPathError


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


def open_regular(path: str | os.PathLike, error: type[InputError] = InputError,
                 mode: str = "rb"):
    """A binary file object for ``path``, which must be a regular file: a FIFO, a device
    or a socket raises ``error`` instead of blocking (it is opened without waiting for a
    writer and checked before anything is read). ``mode``: "rb", or "r+b" to update it."""
    access = os.O_RDWR if mode == "r+b" else os.O_RDONLY
    fd = os.open(path, access | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise error(f"{path} is not a regular file")
        return os.fdopen(fd, mode)
    except BaseException:
        os.close(fd)
        raise


class OutputTree:
    """Files written under one folder without following any symbolic link inside it: each
    folder is opened relative to its parent with O_NOFOLLOW, each file is created
    exclusively under a temporary name, and nothing takes its final name before
    ``commit``. Leaving the ``with`` block without a commit removes every temporary file,
    every file and folder this tree made, and restores any file it replaced.

    Files are staged in the order of ``relative`` (their final names); the i-th file's
    temporary name is derived from i and a random token of this run, so that what the
    tree remembers per file is a few bytes, not its names."""

    def __init__(self, top: str, relative: Sequence[str]):
        self.top = top
        self.relative = relative
        self.token = secrets.token_hex(6)
        self.dirs: dict[str, int] = {}  # relative folder ("" for top) -> open fd
        self.created: list[tuple[str, str]] = []  # (parent rel, name) of folders made here
        self.created_above: list[str] = []  # the output folder and missing ones above it
        self.staged = 0  # files 0..staged-1 are written under their temporary names
        self.renamed: dict[int, str] = {}  # temporary names not derived from the index
        self.placed = 0  # files 0..placed-1 have their final names
        self.backups: dict[int, str] = {}  # file index -> where the file it replaced waits
        self.committed = False

    def __enter__(self):
        missing, folder = [], os.path.abspath(self.top)
        while not os.path.isdir(folder):
            missing.append(folder)
            folder = os.path.dirname(folder)
        try:
            for folder in reversed(missing):
                os.mkdir(folder)
                self.created_above.append(folder)
            self.dirs[""] = os.open(self.top, os.O_RDONLY | os.O_DIRECTORY)
        except BaseException:
            self._roll_back()
            raise
        return self

    def _folder(self, rel: str) -> int:
        """The fd of folder ``rel`` (made if missing), refusing a link or a non-folder."""
        if rel in self.dirs:
            return self.dirs[rel]
        parent, name = os.path.split(rel)
        parent_fd = self._folder(parent)
        try:
            os.mkdir(name, dir_fd=parent_fd)
            self.created.append((parent, name))
        except FileExistsError:
            pass
        try:
            fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
        except OSError:
            where = os.path.join(self.top, rel)
            what = "a symbolic link" if os.path.islink(where) else "not a folder"
            raise OutputPathError(f"{where} is {what}; refusing to write through it") from None
        self.dirs[rel] = fd
        return fd

    def _temporary(self, i: int) -> str:
        return self.renamed.get(i) or f".vaecodec-{self.token}-{i:x}.tmp"

    def _where(self, i: int) -> tuple[int, str, str]:
        """(folder fd, temporary name, final name) of file i."""
        folder, final = os.path.split(self.relative[i])
        return self.dirs[folder], self._temporary(i), final

    def stage(self, data: bytes) -> None:
        """Write ``data``, the next file's content, to a new temporary file in its folder."""
        i = self.staged
        rel = self.relative[i]
        dir_fd = self._folder(os.path.split(rel)[0])
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        while True:  # a short name, whatever the length of the final one
            try:
                fd = os.open(self._temporary(i), flags, 0o666, dir_fd=dir_fd)
                break
            except FileExistsError:  # not made by this run: another name
                self.renamed[i] = f".vaecodec-{secrets.token_hex(6)}.tmp"
        self.staged += 1
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
        except OSError as e:  # a full disk: say where
            raise OSError(e.errno, e.strerror, os.path.join(self.top, rel)) from None

    def commit(self, force: bool) -> None:
        """Give every staged file its final name: without ``force`` only where no file
        exists (checked atomically: another run may have written one meanwhile); with
        ``force`` replacing it, its original kept aside until every file is in place."""
        for i in range(self.staged):
            dir_fd, temporary, final = self._where(i)
            if not force:
                move_no_clobber(temporary, final, dir_fd,
                                os.path.join(self.top, self.relative[i]))
                self.placed += 1
                continue
            if lexists_at(final, dir_fd):
                backup = f".vaecodec-{secrets.token_hex(6)}.orig"
                os.rename(final, backup, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                self.backups[i] = backup
            self.placed += 1
            os.rename(temporary, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        for i, backup in self.backups.items():
            os.unlink(backup, dir_fd=self._where(i)[0])
        self.committed = True

    def __exit__(self, *exc_info) -> None:
        try:
            if not self.committed:
                self._roll_back()
        finally:
            for fd in self.dirs.values():
                os.close(fd)

    def _roll_back(self) -> None:
        for i in reversed(range(self.placed)):
            with contextlib.suppress(OSError):
                dir_fd, _, final = self._where(i)
                if i in self.backups:
                    os.rename(self.backups[i], final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
                else:
                    os.unlink(final, dir_fd=dir_fd)
        for i in range(self.placed, self.staged):
            with contextlib.suppress(OSError):
                dir_fd, temporary, _ = self._where(i)
                os.unlink(temporary, dir_fd=dir_fd)
        for parent, name in reversed(self.created):
            with contextlib.suppress(OSError):
                os.rmdir(name, dir_fd=self.dirs[parent])
        for folder in reversed(self.created_above):
            with contextlib.suppress(OSError):
                os.rmdir(folder)
