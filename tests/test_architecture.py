"""The layers of the package point one way (import-linter's contracts in pyproject.toml),
and nothing in the code assumes the shipped models' image size."""

from __future__ import annotations

import io
import tokenize
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "vaecodec"


def test_import_contracts_are_kept(monkeypatch, capsys):
    pytest.importorskip("importlinter", reason="needs import-linter (the test extra)")
    from importlinter.cli import lint_imports

    monkeypatch.chdir(REPO)
    assert lint_imports(config_filename=str(REPO / "pyproject.toml")) == 0, capsys.readouterr().out


def test_no_image_size_is_hard_coded():
    """No number 28 or 784 in the code (comments and docstrings aside): a model knows its
    own image shape."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        tokens = list(tokenize.generate_tokens(io.StringIO(path.read_text()).readline))
        found += [f"{path.relative_to(REPO)}:{t.start[0]}"
                  for before, t in zip(tokens, tokens[1:])
                  if t.type == tokenize.NUMBER and t.string in ("28", "784")
                  and before.string != "**"]  # 2**28 is a cap, not a size
    assert not found, found


def test_the_codec_runs_without_torch_and_training_names_its_extra():
    """With torch unavailable, encode/decode/compress work, and importing the training
    loop says which extra installs it instead of a bare ModuleNotFoundError."""
    import subprocess
    import sys

    code = """
import sys
sys.modules["torch"] = sys.modules["torchvision"] = None  # import torch now fails
import numpy as np
import vaecodec
images = np.zeros((3, 28, 28), np.uint8)
assert vaecodec.decode(vaecodec.encode(images, lossless=True)).shape == (3, 28, 28)
from vaecodec.train import levels  # fitting levels needs numpy only
try:
    import vaecodec.train.loop
except ModuleNotFoundError as e:
    print(e)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == ("training needs PyTorch, which is not installed: "
                                   "pip install 'vaecodec[train]'")


def test_vaecodec_train_without_torch_is_one_line(tmp_path):
    import subprocess
    import sys

    import numpy as np

    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    code = """
import sys
sys.modules["torch"] = sys.modules["torchvision"] = None  # import torch now fails
from vaecodec.cli import main
main(["train", sys.argv[1], "--name", "x"])
"""
    proc = subprocess.run([sys.executable, "-c", code, str(tmp_path / "x.npy")],
                          capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr == ("Error: training needs PyTorch, which is not installed: "
                           "pip install 'vaecodec[train]'\n")


def test_no_module_is_a_junk_drawer():
    """No module of the package holds more than 600 lines: past that, it holds more than
    one concept and is cut along them (docs/architecture.md)."""
    long = {str(p.relative_to(REPO)): n for p in sorted(PACKAGE.rglob("*.py"))
            if (n := len(p.read_text().splitlines())) > 600}
    assert not long, long
