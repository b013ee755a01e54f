"""Small hostile files against the commands that read archives: does each of `info`, `ls`,
`test` and `decompress --salvage` finish in under 2 s and 200 MB, or stop with one line?

    python benchmarks/hostile_limits.py [--out docs/data/hostile_limits.json]

The files (each at most 1 MiB, each valid where a check would otherwise stop it early:
CRCs recomputed, sizes consistent):

- ``many-unnamed``: chunks of 65,536 images whose zstd payloads are a few bytes of
  zeros, as many chunks as fit in 57 KB (about 98 million images declared);
- ``many-named``: the same with every chunk's names stored as a zstd frame;
- ``fifteen-chunks``: 15 such chunks, about 3 KB (983,040 images declared);
- ``magics``: the file header, then 1 MiB of repeated chunk magic bytes;
- ``random``: the file header, then 1 MiB of random bytes.

Each command runs in a fresh process with a 30 s limit; its wall time and peak resident
memory (VmHWM) are printed, with its exit status and the last line it printed.
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

import msgpack
import zstandard

from vaecodec.format import chunked, wire
from vaecodec.pipeline.settings import resolve

SECONDS, MEGABYTES = 2.0, 200.0


def _header(named: bool) -> chunked.FileHeader:
    model = resolve(quant_step=0.5).model.model_id
    return chunked.FileHeader(model[:4], 20, None, 0.5, "zstd", "int8", None, 0, named)


def _chunk(header: chunked.FileHeader, seq: int, first: int, count: int) -> bytes:
    payload = zstandard.ZstdCompressor(level=3).compress(bytes(count * header.latent_size))
    names = None
    if header.named:
        raw = "\x00".join(f"{first + i:09d}.png" for i in range(count)).encode()
        names = [1, len(raw), zstandard.ZstdCompressor(level=3).compress(raw)]
    fields = [seq, first, count, len(payload), 0, names, None, 1]
    raw = msgpack.packb(fields, use_bin_type=True)
    body = chunked.CHUNK_MAGIC + wire.leb128(len(raw)) + raw + payload
    return body + chunked.CRC.pack(zlib.crc32(body))


def archive(named: bool, budget: int | None = None, chunks: int | None = None) -> bytes:
    """A valid version 5 file of chunks of 65,536 images: ``chunks`` of them, or as many
    as fit in ``budget`` bytes."""
    header = _header(named)
    head = chunked.pack_header(header)
    body, rows, n = bytearray(head), [], 0
    while True:
        if chunks is not None and n == chunks:
            break
        block = _chunk(header, n, n * 65536, 65536)
        if budget is not None and len(body) + len(block) + 24 + 16 * (n + 1) > budget:
            break
        rows.append([len(body), len(block), 65536])
        body += block
        n += 1
    index = msgpack.packb([n * 65536, rows, []], use_bin_type=True)
    offset = len(body)
    crc = zlib.crc32(index + struct.pack("<QQ", offset, len(index)))
    return bytes(body + index + chunked.TRAILER.pack(offset, len(index), crc,
                                                     chunked.INDEX_MAGIC))


def files() -> dict[str, bytes]:
    head = chunked.pack_header(_header(False))
    return {
        "many-unnamed": archive(False, budget=57 * 1024),
        "many-named": archive(True, budget=1024 * 1024),
        "fifteen-chunks": archive(False, chunks=15),
        "magics": head + chunked.CHUNK_MAGIC * (2**20 // 4),
        "random": head + os.urandom(2**20),
    }


RUN = """
import runpy, sys
sys.argv = ["vaecodec", *sys.argv[1:]]
try:
    runpy.run_module("vaecodec", run_name="__main__")
except SystemExit as e:
    code = e.code
else:
    code = 0
rss = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print("RSS", rss, "EXIT", code, file=sys.stderr)
"""


def measure(args: list[str], cwd: Path) -> dict:
    start = time.perf_counter()
    try:
        proc = subprocess.run([sys.executable, "-c", RUN, *args], cwd=cwd, capture_output=True,
                              text=True, timeout=30)
    except subprocess.TimeoutExpired:
        return {"seconds": 30.0, "rss_mb": None, "exit": None, "lines": None,
                "last": "killed after 30 s", "traceback": False}
    seconds = time.perf_counter() - start
    tail = [line for line in proc.stderr.splitlines() if line.startswith("RSS ")]
    rss = int(tail[-1].split()[1]) / 1024 if tail else None
    code = tail[-1].split()[3] if tail else proc.returncode
    lines = [line for line in (proc.stdout + proc.stderr).splitlines()
             if not line.startswith("RSS ")]
    return {"seconds": round(seconds, 2), "rss_mb": None if rss is None else round(rss, 1),
            "exit": code, "lines": len(lines), "last": lines[-1][:120] if lines else "",
            "traceback": "Traceback" in proc.stderr}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the figures as JSON")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        baseline = measure(["--version"], tmp)  # the interpreter and vaecodec's import
        print(f"baseline (vaecodec --version): {baseline['seconds']:.2f} s, "
              f"{baseline['rss_mb']} MB")
        for name, data in files().items():
            path = tmp / f"{name}.vaez"
            path.write_bytes(data)
            for command in (["info"], ["ls"], ["test"], ["decompress", "--salvage", "-o"]):
                target = [*command[:1], str(path), *command[1:]]
                if command[0] == "decompress":
                    target.append(str(tmp / f"{name}.out"))
                result = measure(target, tmp)
                ok = (result["seconds"] < SECONDS and result["rss_mb"] is not None
                      and result["rss_mb"] < MEGABYTES) or (result["lines"] == 1
                                                            and result["exit"] not in ("0", 0))
                ok = ok and not result["traceback"]
                rows.append({"file": name, "bytes": len(data), "command": command[0],
                             **result, "ok": ok})
                print(f"{name:15s} {len(data):8d} B  {command[0]:10s} {result['seconds']:6.2f} s "
                      f"{result['rss_mb'] or 0:7.1f} MB  exit {result['exit']}  "
                      f"{'ok ' if ok else 'FAIL'} {result['last']}", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"baseline": baseline, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
