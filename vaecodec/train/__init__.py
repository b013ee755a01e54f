"""Training: the torch models and recipes, the training loop, exporting models, fitting
the quality levels and the residual layer's pixel model.

Only the modules that run torch import it (``model``, ``loop``, ``export`` and the
pixel-model trainer); fitting levels needs numpy only.
"""

from __future__ import annotations


def import_torch():
    """torch, or an ImportError that says which extra installs it."""
    try:
        import torch
    except ModuleNotFoundError:
        raise ModuleNotFoundError(
            "training needs PyTorch, which is not installed: pip install 'vaecodec[train]'",
            name="torch") from None
    return torch
