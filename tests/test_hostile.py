"""Hostile files with valid checksums: work and memory bounded by what is really there."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import zlib

import msgpack
import numpy as np
import pytest
import zstandard

import vaecodec
from vaecodec.format import wire


def v2_file(count: int, names_field, latent: int = 20) -> bytes:
    model = vaecodec.Zoo.installed().find().model_id[:4]
    payload = zstandard.ZstdCompressor().compress(bytes(count * latent))
    header = msgpack.packb([model, latent, 0.5, 1, count, len(payload), names_field],
                           use_bin_type=True)
    body = b"VAEZ\x02" + wire.leb128(len(header)) + header + payload
    return body + struct.pack("<I", zlib.crc32(body))


def zstd_of_zeros(size: int) -> bytes:
    """One zstd frame (content size recorded) of ``size`` NUL bytes, made in pieces."""
    import io

    out = io.BytesIO()
    with zstandard.ZstdCompressor(level=1).stream_writer(out, size=size, closefd=False) as w:
        piece = bytes(2**20)
        for start in range(0, size, len(piece)):
            w.write(piece[: size - start])
    return out.getvalue()


def peak_rss_mb(code: str, *args, timeout: float = 120) -> tuple[subprocess.CompletedProcess,
                                                                  float]:
    """Run ``code`` in a fresh interpreter; its result and peak resident memory (MB), read
    from /proc (getrusage's figure would include the test process it was forked from)."""
    wrapper = code + ("\nrss = [l for l in open('/proc/self/status') if l.startswith('VmHWM')]"
                      "\nprint('RSS', rss[0].split()[1])")
    proc = subprocess.run([sys.executable, "-c", wrapper, *map(str, args)],
                          capture_output=True, text=True, timeout=timeout)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RSS ")]
    return proc, (int(lines[-1].split()[1]) / 1024 if lines else float("nan"))


def test_a_names_field_that_expands_to_hundreds_of_megabytes_is_refused_early(tmp_path):
    """A few kilobytes whose names field is a zstd frame of 400 MB of NULs: the first
    (empty) name fails the header, without expanding the rest."""
    size = 400 * 2**20
    path = tmp_path / "bomb.vaez"
    path.write_bytes(v2_file(2**23, [1, size, zstd_of_zeros(size)]))
    assert path.stat().st_size < 64 * 1024
    code = ("import sys, vaecodec\n"
            "try:\n    vaecodec.read_info(sys.argv[1])\n"
            "except vaecodec.UnsafeNameError as e:\n    print('refused:', e)\n")
    proc, rss = peak_rss_mb(code, path)
    assert "refused:" in proc.stdout and "stored name is empty" in proc.stdout, proc.stderr
    assert rss < 150, f"peak RSS {rss:.0f} MB"


def test_one_endless_name_is_refused_at_its_cap(tmp_path):
    size = 100 * 2**20
    frame = zstandard.ZstdCompressor(level=1).compress(b"a" * size)
    path = tmp_path / "long.vaez"
    path.write_bytes(v2_file(2**20, [1, size, frame]))
    proc, rss = peak_rss_mb("import sys, vaecodec\ntry:\n    vaecodec.read_info(sys.argv[1])\n"
                            "except vaecodec.UnsafeNameError as e:\n    print('refused:', e)\n",
                            path)
    assert "longer than 1024 bytes" in proc.stdout, proc.stderr
    assert rss < 150, f"peak RSS {rss:.0f} MB"


def test_a_tiny_file_declaring_millions_of_images_is_refused_before_decoding(tmp_path):
    """5 KB declaring 8 million images: decompress refuses it at the default cap, in one
    line and small memory, writing nothing; the API raises ImageLimitError."""
    path = tmp_path / "many.vaez"
    path.write_bytes(v2_file(2**23, None))
    assert path.stat().st_size < 64 * 1024
    code = ("import runpy, sys\nsys.argv = ['vaecodec', 'decompress', *sys.argv[1:]]\n"
            "try:\n    runpy.run_module('vaecodec', run_name='__main__')\n"
            "except SystemExit as e:\n    print('exit', e.code)\n")
    proc, rss = peak_rss_mb(code, path, "-o", tmp_path / "out")
    assert "exit 1" in proc.stdout
    assert proc.stderr == ("Error: the file holds 8,388,608 images, more than the limit of "
                           "1,000,000; raise the limit to decode it (--max-images, or "
                           "max_images= in Python)\n")
    assert rss < 150, f"peak RSS {rss:.0f} MB"
    assert not (tmp_path / "out").exists()
    with pytest.raises(vaecodec.ImageLimitError, match="8,388,608 images"):
        vaecodec.decode(path.read_bytes())


def test_the_image_cap_is_the_callers(tmp_path):
    data = vaecodec.encode(np.zeros((5, 28, 28), np.uint8))
    with pytest.raises(vaecodec.ImageLimitError, match="holds 5 images, more than the limit of 4"):
        vaecodec.decode(data, max_images=4)
    with pytest.raises(vaecodec.ImageLimitError):
        vaecodec.decompress(data, tmp_path / "out", max_images=4)
    assert not (tmp_path / "out").exists()
    assert vaecodec.decode(data, max_images=5).shape == (5, 28, 28)
    assert len(vaecodec.decompress(data, tmp_path / "out", max_images=5).paths) == 5
    with pytest.raises(vaecodec.SettingsError):
        vaecodec.decode(data, max_images=0)
    with pytest.raises(vaecodec.ArgumentTypeError):
        vaecodec.decode(data, max_images=True)


@pytest.mark.slow  # about 40 s: 300,000 PNG files
def test_decompress_memory_does_not_grow_with_the_number_of_images(tmp_path):
    """240 bytes holding 300,000 images, with the cap raised: every image is written, and
    peak memory stays that of an archive of two batches (5,000 images; 1.3.0 held every
    image and name at once: 476 MB here against 175 MB now)."""
    path = tmp_path / "many.vaez"
    path.write_bytes(v2_file(300_000, None))
    code = ("import runpy, sys\nsys.argv = ['vaecodec', 'decompress', '--quiet', "
            "*sys.argv[1:]]\ntry:\n    runpy.run_module('vaecodec', run_name='__main__')\n"
            "except SystemExit as e:\n    print('exit', e.code)\n")
    small = tmp_path / "small.vaez"
    small.write_bytes(v2_file(5000, None))
    _, baseline = peak_rss_mb(code, small, "-o", tmp_path / "small")
    proc, rss = peak_rss_mb(code, path, "-o", tmp_path / "out", "--max-images", 300_000,
                            timeout=900)  # about 40 s here; a busy disk can take far longer
    assert "exit 1" not in proc.stdout, proc.stderr[-2000:]
    assert len(os.listdir(tmp_path / "out")) == 300_000
    assert rss < baseline + 40, f"peak RSS {rss:.0f} MB, {baseline:.0f} MB for 5,000 images"


@pytest.mark.slow
def test_running_out_of_memory_is_one_line_not_a_traceback(tmp_path):
    """8 million images with the cap raised, under an address-space limit a little above
    what a small archive needs: whatever fails to allocate, the user gets one line and
    no output folder."""
    import resource

    path = tmp_path / "many.vaez"
    path.write_bytes(v2_file(2**23, None))
    small = tmp_path / "small.vaez"
    small.write_bytes(v2_file(100, None))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    probe = ("import runpy, sys\nsys.argv = ['vaecodec', 'decompress', *sys.argv[1:]]\n"
             "try:\n    runpy.run_module('vaecodec', run_name='__main__')\n"
             "except SystemExit:\n    pass\n"
             "print([l for l in open('/proc/self/status') if l.startswith('VmPeak')][0])")
    out = subprocess.run([sys.executable, "-c", probe, str(small), "-o", str(tmp_path / "s")],
                         capture_output=True, text=True, env=env, check=True).stdout
    baseline = int(out.split()[-2]) * 1024  # VmPeak, kB

    def limit():  # the 8M symbols alone take 160 MB, twice while they are unpacked
        resource.setrlimit(resource.RLIMIT_AS, (baseline + 100 * 2**20,) * 2)

    proc = subprocess.run([sys.executable, "-m", "vaecodec", "decompress", str(path), "-o",
                           str(tmp_path / "out"), "--max-images", str(2**23)],
                          capture_output=True, text=True, timeout=300, preexec_fn=limit,
                          env=env)
    assert proc.returncode == 1, proc.stderr[-2000:]
    assert proc.stderr.startswith("Error: ") and proc.stderr.count("\n") == 1, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


def test_a_hugely_wide_image_is_resized_in_bounded_memory(tmp_path):
    from PIL import Image

    from vaecodec import images

    Image.new("L", (50_000_000, 1), 200).save(tmp_path / "wide.png")
    assert (tmp_path / "wide.png").stat().st_size < 100_000
    proc, rss = peak_rss_mb("import sys\nfrom vaecodec import images\n"
                            "print(images.read_image(sys.argv[1], (28, 28), resize=True).mean())",
                            tmp_path / "wide.png")
    assert abs(float(proc.stdout.split()[0]) - 200) < 3, proc.stderr[-2000:]
    assert rss < 600, f"peak RSS {rss:.0f} MB"
    with pytest.raises(vaecodec.ImageSizeError, match="wide.png is 50000000x1"):
        images.read_image(tmp_path / "wide.png", (28, 28))


def _hostile_archive(**kwargs) -> bytes:
    """``benchmarks/hostile_limits.archive``: a valid version 5 file of chunks of 65,536
    images whose payloads are a few bytes."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "benchmarks" / "hostile_limits.py"
    spec = importlib.util.spec_from_file_location("hostile_limits", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.archive(**kwargs)


@pytest.mark.parametrize("named", [False, True])
def test_ls_test_and_info_stop_at_the_image_cap(tmp_path, named):
    """A 40 KB file declaring 2,359,296 images (36 chunks of 65,536, names zstd-packed):
    ls and test refuse it in one line at the default cap (they printed millions of lines or
    decoded for minutes); info describes it without unpacking its names; the API's
    ``names`` keeps to ``max_images``."""
    from click.testing import CliRunner

    from vaecodec.cli import main

    path = tmp_path / "many.vaez"
    path.write_bytes(_hostile_archive(named=named, chunks=36))
    runner = CliRunner()
    for command in ("ls", "test"):
        result = runner.invoke(main, [command, str(path)])
        assert result.exit_code == 1, result.output
        assert len(result.output.splitlines()) == 1 and "2,359,296 images" in result.output
        assert "--max-images" in result.output
    info = runner.invoke(main, ["info", str(path)])
    assert info.exit_code == 0 and "2359296" in info.output
    if named:
        assert "not listed: more than 1,000,000 images" in info.output
        with pytest.raises(vaecodec.ImageLimitError, match="read its names"):
            vaecodec.open(path).names


def test_an_array_too_big_to_encode_at_once_is_a_vaecodec_error():
    """encode of more images than memory allows: OutOfMemoryError (a VaezError and a
    MemoryError) with what to do, not a raw MemoryError."""
    code = ("import resource, numpy as np, vaecodec\n"
            "images = np.zeros((1_000_000, 28, 28), dtype=np.uint8)\n"
            "resource.setrlimit(resource.RLIMIT_AS, (3 * 2**30, 3 * 2**30))\n"
            "try:\n    vaecodec.encode(images)\n"
            "except vaecodec.OutOfMemoryError as e:\n"
            "    print('refused:', isinstance(e, MemoryError), e)\n")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
    assert "refused: True 1,000,000 images need more memory" in proc.stdout, proc.stderr
