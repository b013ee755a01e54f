"""The companion package ``vaecodec-models``: the models the default install leaves out
(to keep its wheel under 20 MB), found where the package is installed, and the catalogue
``checkpoints/companion.json`` shipped with vaecodec that names each of them by its sha256,
so that a file or a level that needs one says exactly which and how to get it
(``tools/make_companion.py`` writes the catalogue from ``packages/vaecodec-models``)."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

PACKAGE = "vaecodec-models"
MODULE = "vaecodec_models"
CATALOGUE = "companion.json"
# where the package's models sit in a source checkout (tests and tools run from the repo)
REPO_FOLDER = Path("packages") / PACKAGE / MODULE / "checkpoints"
HOW = (f"pip install {PACKAGE} (offline: pip wheel --no-deps packages/{PACKAGE} in "
       "vaecodec's repository, then pip install the wheel it makes)")


def folder() -> Path | None:
    """The companion's model folder: the installed package's, else a source checkout's."""
    spec = importlib.util.find_spec(MODULE)  # located, not imported
    if spec is not None and spec.origin:
        path = Path(spec.origin).parent / "checkpoints"
        if path.is_dir():
            return path
    repo = Path(__file__).resolve().parent.parent.parent / REPO_FOLDER
    return repo if repo.is_dir() else None


@functools.lru_cache(maxsize=2)
def _catalogue(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def catalogue(folders) -> dict:
    """The catalogue of the first of ``folders`` (the checkpoint folders) that has one."""
    for where in folders:
        path = Path(where) / CATALOGUE
        if path.is_file():
            return _catalogue(path)
    return {}


def missing(folders, model_id: bytes | None = None, name: str | None = None) -> str | None:
    """What to say of a model (by id or its prefix, or by name) that the companion package
    holds and this installation lacks ("model vae-mse-s05-aug1 (437476fb) is in the
    companion package ..."): None when the catalogue does not list it."""
    for entry in catalogue(folders).get("models", []):
        sha = str(entry.get("sha256", ""))
        ids = [sha] + [str(s) for s in entry.get("contains", [])]
        by_id = model_id is not None and any(s.startswith(model_id.hex()) for s in ids if s)
        if by_id or (name is not None and name == entry.get("name")):
            what = ("model family" if entry.get("kind") == "family"
                    else "pixel model" if entry.get("kind") == "pixel-model" else "model")
            shown = "" if model_id is None else f" ({model_id.hex()[:8]})"
            return (f"{what} {entry.get('name')}{shown} is in the companion package "
                    f"{PACKAGE}, which is not installed: {HOW}")
    return None
