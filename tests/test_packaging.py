"""What a user installs: the wheel, built from this tree and installed without extras into
a clean virtual environment, runs the command line from another folder (long set: it
builds and installs, about a minute)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*cmd, cwd=None, timeout=600):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


def test_the_wheel_installs_without_extras_and_round_trips(tmp_path):
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", tmp_path / "dist", REPO)
    (wheel,) = (tmp_path / "dist").glob("vaecodec-*.whl")
    contents = zipfile.ZipFile(wheel).namelist()
    assert "vaecodec/py.typed" in contents
    assert any(name.endswith("licenses/LICENSE") for name in contents)
    assert {"vaecodec/_checkpoints/vae-default.safetensors",
            "vaecodec/_checkpoints/levels.json",
            "vaecodec/_checkpoints/pixel-l1.safetensors",
            "vaecodec/_checkpoints/pixel-l1-v2.safetensors",
            "vaecodec/_checkpoints/pixel-l1-v3.safetensors",
            "vaecodec/_checkpoints/pixel-l10.safetensors",
            "vaecodec/_checkpoints/fashion-mnist.vaem",
            "vaecodec/_checkpoints/fashion-mnist-2.0.vaem",
            "vaecodec/_checkpoints/fashion-mnist-rd.vaem",
            "vaecodec/_checkpoints/vae-rd-s04-aug1.safetensors"} <= set(contents)
    assert not any(name.startswith("tests/") for name in contents)

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python, vaecodec = venv / "bin" / "python", venv / "bin" / "vaecodec"
    run(python, "-m", "pip", "install", "-q", wheel)
    work = tmp_path / "elsewhere"
    work.mkdir()
    samples = REPO / "samples" / "digits"
    run(vaecodec, "compress", samples, "digits.vaez", "--lossless", cwd=work)
    run(vaecodec, "decompress", "digits.vaez", cwd=work)
    written = sorted(p.relative_to(work / "digits") for p in (work / "digits").rglob("*.png"))
    assert written == sorted(p.relative_to(samples) for p in samples.rglob("*.png"))
    import numpy as np
    from PIL import Image

    for rel in written:  # lossless: every pixel as it was
        assert np.array_equal(np.asarray(Image.open(work / "digits" / rel)),
                              np.asarray(Image.open(samples / rel)))
    check = ("import sys, vaecodec; vaecodec.decode(open('digits.vaez', 'rb').read()); "
             "assert 'torch' not in sys.modules; "
             "assert vaecodec.__file__.startswith(sys.prefix), vaecodec.__file__; "
             "print(vaecodec.__version__)")
    assert run(python, "-c", check, cwd=work).stdout.strip() == run(
        python, "-m", "vaecodec", "--version", cwd=work).stdout.split()[-1]
