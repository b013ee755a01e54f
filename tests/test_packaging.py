"""What a user installs: the wheel, built from this tree and installed without extras into
a clean virtual environment, runs the command line from another folder (long set: it
builds and installs, about a minute)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def run(*cmd, cwd=None, timeout=600):
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd,
                          timeout=timeout)
    assert proc.returncode == 0, (cmd, proc.stdout[-3000:], proc.stderr[-3000:])
    return proc


MAX_WHEEL_BYTES = 20 * 10**6  # issue 30: the default wheel at most 20 MB
CORE = {"vae-default.safetensors", "vae-rd-s04-aug1.safetensors", "vae-seed.safetensors",
        "pixel-l1.safetensors", "pixel-l10.safetensors", "levels.json", "companion.json"}
COMPANION = {"vae-mse-s05.safetensors", "vae-mse-s05-aug1.safetensors",
             "vae-rd-s015-aug1.safetensors", "pixel-l1-v2.safetensors",
             "pixel-l1-v3.safetensors", "fashion-mnist.vaem", "fashion-mnist-2.0.vaem",
             "fashion-mnist-rd.vaem", "icons.vaem"}


@pytest.fixture(scope="module")
def dist(tmp_path_factory) -> Path:
    """The wheels of vaecodec and of its companion package, built once."""
    folder = tmp_path_factory.mktemp("dist")
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder, REPO)
    run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", folder,
        REPO / "packages" / "vaecodec-models")
    return folder


def installed(tmp_path: Path, wheel: Path) -> tuple[Path, Path]:
    """(python, vaecodec) of a new virtual environment with ``wheel`` installed."""
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv)
    python, vaecodec = venv / "bin" / "python", venv / "bin" / "vaecodec"
    run(python, "-m", "pip", "install", "-q", wheel)
    return python, vaecodec


def test_the_wheel_installs_without_extras_and_round_trips(tmp_path, dist):
    (wheel,) = dist.glob("vaecodec-*.whl")
    contents = zipfile.ZipFile(wheel).namelist()
    assert "vaecodec/py.typed" in contents
    assert any(name.endswith("licenses/LICENSE") for name in contents)
    shipped = {n.split("/")[-1] for n in contents if n.startswith("vaecodec/_checkpoints/")}
    assert CORE <= shipped and not shipped & COMPANION
    assert wheel.stat().st_size <= MAX_WHEEL_BYTES, wheel.stat().st_size
    assert not any(name.startswith("tests/") for name in contents)

    python, vaecodec = installed(tmp_path, wheel)
    work = tmp_path / "elsewhere"
    work.mkdir()
    samples = REPO / "samples" / "digits"
    run(vaecodec, "compress", samples, "digits.vaez", "--lossless", cwd=work)
    run(vaecodec, "decompress", "digits.vaez", cwd=work)
    written = sorted(p.relative_to(work / "digits") for p in (work / "digits").rglob("*.png"))
    assert written == sorted(p.relative_to(samples) for p in samples.rglob("*.png"))
    for rel in written:  # lossless: every pixel as it was
        assert np.array_equal(np.asarray(Image.open(work / "digits" / rel)),
                              np.asarray(Image.open(samples / rel)))
    check = ("import sys, vaecodec; vaecodec.decode(open('digits.vaez', 'rb').read()); "
             "assert 'torch' not in sys.modules; "
             "assert vaecodec.__file__.startswith(sys.prefix), vaecodec.__file__; "
             "print(vaecodec.__version__)")
    assert run(python, "-c", check, cwd=work).stdout.strip() == run(
        python, "-m", "vaecodec", "--version", cwd=work).stdout.split()[-1]


def test_the_companion_package_adds_what_the_default_install_leaves_out(tmp_path, dist):
    """Without vaecodec-models: the levels and families it holds, and files made with
    them, are one error line that says how to install it; with it, they work."""
    (wheel,) = dist.glob("vaecodec-*.whl")
    (extra,) = dist.glob("vaecodec_models-*.whl")
    held = {n.split("/")[-1] for n in zipfile.ZipFile(extra).namelist()
            if n.startswith("vaecodec_models/checkpoints/")}
    assert held == COMPANION | {n.replace(".safetensors", ".json") for n in COMPANION
                                if n.endswith(".safetensors")}
    python, vaecodec = installed(tmp_path, wheel)
    work = tmp_path / "work"
    work.mkdir()
    samples = REPO / "samples" / "digits"
    # a level-7 file and a Fashion-MNIST one, made here where every model is at hand
    import vaecodec as here

    here.compress([samples], work / "level7.vaez", quality=7, force=True)
    for args, hint in [
        (["compress", samples, "x.vaez", "-q", "7"], "vae-mse-s05-aug1"),
        (["decompress", "level7.vaez"], "vae-mse-s05-aug1"),
        (["compress", samples, "x.vaez", "--model", "fashion-mnist"], "fashion-mnist"),
        (["compress", REPO / "samples" / "icons", "x.vaez", "--model", "icons"], "icons"),
    ]:
        proc = subprocess.run([str(vaecodec)] + [str(a) for a in args], cwd=work,
                              capture_output=True, text=True)
        assert proc.returncode == 1, proc
        assert proc.stderr.startswith("Error: ") and len(proc.stderr.splitlines()) == 1
        assert hint in proc.stderr and "pip install vaecodec-models" in proc.stderr
    assert not (work / "x.vaez").exists() and not (work / "level7").exists()
    levels = run(vaecodec, "levels", cwd=work).stdout
    assert "vae-mse-s05-aug1" in levels and "vaecodec-models" in levels
    run(python, "-m", "pip", "install", "-q", extra)
    run(vaecodec, "decompress", "level7.vaez", cwd=work)
    run(vaecodec, "compress", samples, "f.vaez", "--model", "fashion-mnist", cwd=work)
    icons = REPO / "samples" / "icons"  # the colour family, lossless: the PNGs as they were
    run(vaecodec, "compress", icons, "i.vaez", "--model", "icons", "--lossless", cwd=work)
    run(vaecodec, "decompress", "i.vaez", cwd=work)
    for path in icons.glob("*.png"):
        with Image.open(path) as given, Image.open(work / "i" / path.name) as back:
            assert back.mode == "RGB" and np.array_equal(np.asarray(back), np.asarray(given))
    assert "vaecodec-models" not in run(vaecodec, "levels", cwd=work).stdout
