"""Finding, verifying and loading models and their quality levels.

``Zoo`` holds the models and levels a codec may use (``Zoo.installed()``: what ships with
vaecodec, and the user's store); ``models`` reads and writes model files; ``levels`` the
levels file; ``families`` model family files; ``manage`` the store's operations
(``install_family``, ``remove_family``, ``export_family``, ``family_path``). The names
below load on first use, so that the command line's help stays fast.
"""

from __future__ import annotations

_LAZY = {
    "Zoo": "store", "ModelInfo": "models", "Level": "levels", "DEFAULT_LEVEL": "defaults",
    "DEFAULT_MODEL": "defaults", "DEFAULT_PIXEL_MODEL": "defaults", "PIXEL_MODEL": "models",
    "VAE": "models",
}
__all__ = list(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
