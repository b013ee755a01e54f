"""Inputs that are URLs, read through fsspec (the ``remote`` extra, imported only here).

Any fsspec URL may be given where vaecodec reads an archive or a manifest:
``https://host/data/train.vaez``, ``s3://bucket/train.json`` (with s3fs installed),
``memory://x.vaez``, and fsspec's chained caches, such as
``blockcache::https://host/train.vaez`` (the blocks read are kept in a local folder,
``simplecache`` the whole file). A file is read with range requests of what the reader
asks for: the header, the index, the chunks it decodes (``RemoteFile``). Local paths are
opened as before, by ``fsio.open_regular``.
"""

from __future__ import annotations

import errno
import os
import re
import urllib.parse

from .errors import OutputExistsError, SettingsError
from .fsio import open_regular

# a scheme and "://", or fsspec's chaining of one ("blockcache::https://...")
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*(::[A-Za-z][A-Za-z0-9+.\-]*)*://")


def is_url(path) -> bool:
    """Whether ``path`` is a URL (a str with a scheme), not a local path."""
    return isinstance(path, str) and _URL.match(path) is not None


def _fsspec():
    try:
        import fsspec
    except ImportError:
        raise SettingsError("reading a URL needs fsspec: pip install 'vaecodec[remote]'"
                            ) from None
    return fsspec


def filesystem(url: str):
    """(fsspec file system, path within it) of ``url``; a missing backend is one clear
    error naming what to install."""
    fsspec = _fsspec()
    try:
        return fsspec.core.url_to_fs(url)
    except ImportError as e:  # a backend's own package: aiohttp for http, s3fs for s3
        raise SettingsError(f"{url}: {e}") from None
    except ValueError as e:  # an unknown protocol
        raise SettingsError(f"{url}: {e}") from None


class RemoteFile:
    """A file of an fsspec file system, read-only and seekable. Each read is one range
    request of exactly what is asked for, except that the first ``HEAD`` and the last
    ``TAIL`` bytes are fetched once, on the first read that falls in them: what opening
    an archive reads (its header; its trailer and index). Failures (a server that
    refuses, a connection lost) are ``OSError`` naming the URL, as a local file's are."""

    HEAD = 1 << 14
    TAIL = 1 << 16

    def __init__(self, url: str):
        self.url = url
        fs, path = filesystem(url)
        from fsspec.implementations.cached import CachingFileSystem

        # read exactly what is asked for (block_size: only how far a cache would read
        # ahead), except through a local cache, which reads its own blocks
        exact = {} if isinstance(fs, CachingFileSystem) else {"block_size": 1 << 20,
                                                              "cache_type": "none"}
        try:
            self._f = fs.open(path, "rb", **exact)
        except FileNotFoundError as e:
            raise self._not_found(e) from None
        except Exception as e:  # noqa: BLE001 - every backend has its own errors
            raise self._error(e) from None
        if not self._f.seekable():
            self._f.close()
            raise OSError(f"{url}: the server cannot send parts of the file (no range "
                          "requests), which reading an archive needs")
        size = getattr(self._f, "size", None)  # a file in a local cache has none
        self.size = int(size) if size is not None else self._f.seek(0, os.SEEK_END)
        self._pos = 0
        self._blocks: dict[tuple[int, int], bytes] = {}  # (start, end): the head, the tail

    def _not_found(self, e: FileNotFoundError) -> OSError:
        """fsspec's FileNotFoundError, which over HTTP also stands for a refused
        connection or a server's error: what it was."""
        cause = e.__cause__
        status = getattr(cause, "status", None)
        if isinstance(cause, OSError):  # aiohttp's connection errors are OSErrors
            return OSError(f"{self.url}: cannot connect ({getattr(cause, 'os_error', cause)})")
        if status is not None and status != 404:
            return OSError(f"{self.url}: the server answered {status} "
                           f"{getattr(cause, 'message', '')}".rstrip())
        return FileNotFoundError(errno.ENOENT, "no such file", self.url)

    def _error(self, e: Exception) -> OSError:
        if isinstance(e, OSError) and e.filename:
            return e
        return OSError(f"{self.url}: {e or type(e).__name__}")

    def _fetch(self, start: int, end: int) -> bytes:
        try:
            self._f.seek(start)
            data = self._f.read(end - start)
        except ValueError as e:
            if "range" in str(e):  # fsspec: the server sent the whole file instead
                raise OSError(f"{self.url}: the server does not send parts of files (range "
                              "requests), which reading an archive needs") from None
            raise self._error(e) from None
        except Exception as e:  # noqa: BLE001
            raise self._error(e) from None
        if len(data) != end - start:
            raise OSError(f"{self.url}: the server sent {len(data)} bytes where "
                          f"{end - start} were asked for")
        return data

    def _cached(self, start: int, end: int) -> bytes | None:
        """Bytes start..end from the head or the tail block (fetched on first use)."""
        for block_start, block_end in ((0, min(self.HEAD, self.size)),
                                       (max(0, self.size - self.TAIL), self.size)):
            if block_start <= start and end <= block_end:
                key = (block_start, block_end)
                if key not in self._blocks:
                    self._blocks[key] = self._fetch(block_start, block_end)
                return self._blocks[key][start - block_start : end - block_start]
        return None

    def read(self, n: int = -1) -> bytes:
        start = min(self._pos, self.size)
        end = self.size if n is None or n < 0 else min(self.size, start + n)
        if end <= start:
            return b""
        data = self._cached(start, end)
        if data is None:
            data = self._fetch(start, end)
        self._pos = end
        return data

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._pos = base + offset
        return self._pos

    def tell(self) -> int:
        return self._pos

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    @property
    def closed(self) -> bool:
        return self._f.closed

    def close(self) -> None:
        self._f.close()
        self._blocks.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()


def open_input(path):
    """A file to read: a URL through fsspec (``RemoteFile``), else a local regular file
    (``fsio.open_regular``: no FIFO or device blocks the read)."""
    if is_url(path):
        return RemoteFile(path)
    return open_regular(path)


def size_of(path) -> int:
    """The size in bytes of a local file or of a URL's."""
    if is_url(path):  # opening asks for the size only; errors as RemoteFile words them
        with RemoteFile(path) as f:
            return f.size
    return os.path.getsize(path)


def sibling(url: str, relative: str) -> str:
    """``relative`` (a checked relative path: no "..", no leading "/") beside the file
    ``url``: a manifest's shard. Over HTTP its characters that mean something in a URL
    ("?", "#", "%", spaces) are escaped."""
    if url.split("::")[-1].lower().startswith(("http://", "https://")):
        relative = urllib.parse.quote(relative, safe="/")
    return url.rsplit("/", 1)[0] + "/" + relative


def check_upload(url: str, force: bool) -> None:
    """Refuse, before any work, to replace the file at ``url`` without ``force``."""
    fs, path = filesystem(url)
    try:
        exists = fs.exists(path)
    except Exception as e:  # noqa: BLE001 - every backend has its own errors
        raise OSError(f"{url}: {e or type(e).__name__}") from None
    if exists and not force:
        raise OutputExistsError(f"{url} already exists (use --force to overwrite)")


def upload(local, url: str, force: bool) -> None:
    """The finished file ``local`` copied to ``url`` in one put (an object store makes it
    appear whole or not at all); an existing one is replaced only with ``force``."""
    check_upload(url, force)
    fs, path = filesystem(url)
    try:
        fs.put_file(os.fspath(local), path)
    except NotImplementedError:
        raise OSError(f"{url}: this file system cannot be written to") from None
    except Exception as e:  # noqa: BLE001
        raise OSError(f"{url}: cannot write it ({e or type(e).__name__})") from None
