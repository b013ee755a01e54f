"""A real HTTP server on 127.0.0.1 that serves a folder with range requests (as object
stores and web servers do), and logs every request: what the remote-read tests and
benchmarks/bench_remote.py read archives from.

    with RangeServer(folder) as server:
        server.url("a.vaez"), server.requests  # [(method, path, range or None), ...]
"""

from __future__ import annotations

import os
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _Handler(BaseHTTPRequestHandler):
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet
        pass

    def _file(self) -> str | None:
        relative = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        path = os.path.realpath(os.path.join(self.server.folder, relative))
        if os.path.commonpath([path, self.server.folder]) != self.server.folder:
            return None
        return path if os.path.isfile(path) else None

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, body: bool) -> None:
        wanted = self.headers.get("Range")
        with self.server.lock:
            self.server.requests.append((self.command, self.path, wanted))
        path = self._file()
        if path is None:
            self.send_error(404)
            return
        size = os.path.getsize(path)
        start, end = 0, size - 1
        ranged = wanted is not None and self.server.ranges
        if ranged:
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", wanted.strip())
            if match is None or (not match.group(1) and not match.group(2)):
                self.send_error(416)
                return
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:  # the last N bytes
                start = max(0, size - int(match.group(2)))
            if start >= size or start > end:
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
        self.send_response(206 if ranged else 200)
        if self.server.ranges:
            self.send_header("Accept-Ranges", "bytes")
        if ranged:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.send_header("Content-Length", str(end - start + 1))
        self.send_header("Content-Type", "application/octet-stream")
        self.end_headers()
        if body:
            with open(path, "rb") as f:
                f.seek(start)
                self.wfile.write(f.read(end - start + 1))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    folder: str
    ranges: bool
    requests: list
    lock: threading.Lock


class RangeServer:
    """``folder`` served at ``http://127.0.0.1:PORT/``; ``ranges=False``: a server that
    ignores Range headers (it sends whole files)."""

    def __init__(self, folder, ranges: bool = True):
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.folder = os.path.realpath(folder)
        self._server.ranges = ranges
        self._server.requests = []
        self._server.lock = threading.Lock()
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def requests(self) -> list:
        """(method, path, Range header or None) of every request so far."""
        return self._server.requests

    def url(self, relative: str = "") -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/{relative}"

    def __enter__(self) -> "RangeServer":
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
