"""Decoding gives the same pixels on every machine: across BLAS thread counts and the CPU
kernels OpenBLAS can pick (forced with OPENBLAS_CORETYPE), lossy files as well as
lossless ones (core/fixednet.py says how).

Each configuration decodes the same files in a fresh interpreter (the BLAS reads its
settings when it loads) and prints the sha256 of the pixels; all must agree. The files
hold enough images (about 3 million pixels per level) that the float32 decoder of 1.3.0
gives different pixels under another CPU kernel.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vaecodec

GOLDEN = Path(__file__).parent / "data" / "golden"
DECODED = GOLDEN / "decoded-2.json"

DECODE_SCRIPT = """
import hashlib, sys
from pathlib import Path
import vaecodec
for path in sorted(Path(sys.argv[1]).glob("*.vaez")):
    pixels = vaecodec.decode(path.read_bytes())
    print(path.name, hashlib.sha256(pixels.tobytes()).hexdigest())
"""


def _avx512() -> bool:
    try:
        return "avx512f" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def configurations() -> list[dict[str, str]]:
    out = [{"OPENBLAS_NUM_THREADS": "1"}, {"OPENBLAS_NUM_THREADS": "2"}]
    cores = ["Prescott", "Sandybridge", "Haswell"] + (["SkylakeX"] if _avx512() else [])
    out += [{"OPENBLAS_NUM_THREADS": "2", "OPENBLAS_CORETYPE": core} for core in cores]
    return out


def decode_in(folder: Path, env: dict[str, str]) -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if not k.startswith("OPENBLAS")}
    full.update(env)
    result = subprocess.run([sys.executable, "-c", DECODE_SCRIPT, str(folder)], env=full,
                            capture_output=True, text=True, timeout=300, check=True)
    return dict(line.split() for line in result.stdout.splitlines())


@pytest.fixture(scope="module")
def files(tmp_path_factory, sample_images) -> Path:
    """Lossy files at every level, an explicit step, lossless and max-error: ~4,000
    varied digits each (the samples shifted and with noise)."""
    rng = np.random.default_rng(7)
    base = np.concatenate([np.roll(sample_images, (dy, dx), axis=(1, 2))
                           for dy in range(-2, 3) for dx in range(-2, 2)])
    noise = rng.integers(-20, 21, size=base.shape)
    images = np.clip(base.astype(int) + noise, 0, 255).astype(np.uint8)
    folder = tmp_path_factory.mktemp("determinism")
    levels = [lv.level for lv in vaecodec.list_levels()]
    assert levels == list(range(1, 15))
    for level in levels:
        (folder / f"level{level}.vaez").write_bytes(vaecodec.encode(images, quality=level))
    (folder / "step.vaez").write_bytes(vaecodec.encode(images, quant_step=0.05))
    (folder / "lossless.vaez").write_bytes(vaecodec.encode(images[:500], lossless=True))
    (folder / "max-error.vaez").write_bytes(vaecodec.encode(images[:500], max_error=4))
    return folder


@pytest.mark.slow  # about 12 s per configuration: the long set only (CI runs it)
def test_every_thread_count_and_cpu_kernel_decodes_the_same_pixels(files):
    results = {json.dumps(env): decode_in(files, env) for env in configurations()}
    first = next(iter(results.values()))
    assert len(first) == 17
    for env, hashes in results.items():
        assert hashes == first, f"{env} decodes differently"


def test_lossy_golden_files_decode_to_the_pixels_of_every_machine():
    """The exact decoder's pixels of the 1.3.0 lossy files, recorded once
    (decoded-2.json): another machine, BLAS or numpy must give them bit for bit."""
    expected = json.loads(DECODED.read_text())
    assert len(expected) >= 30
    for name, digest in expected.items():
        pixels = vaecodec.decode((GOLDEN / name).read_bytes())
        assert hashlib.sha256(pixels.tobytes()).hexdigest() == digest, name
