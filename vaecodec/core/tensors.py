"""The naming rule of a model file's tensors, in one place.

A stack of layers is stored as ``PREFIX.I.weight``, ``PREFIX.I.bias`` (and, for integer
hidden layers, ``PREFIX.I.shift``), I = 0, 1, ... without gaps; a single layer as
``PREFIX.weight`` and ``PREFIX.bias``. The float VAE has the stacks ``encoder`` and
``decoder`` and the single layers ``mu`` and ``logvar``; a linear model (principal
components) the single layer ``mu`` and the stack ``linear`` of one layer, its decoder;
a pixel model the stacks ``base`` and ``pixel``. Training writes with ``key``; the
runtimes read with ``layers`` and ``layer``.
"""

from __future__ import annotations

PARTS = ("weight", "bias", "shift")
LINEAR = "linear"  # a linear model's decoder (``core.runtime``)


def key(prefix: str, index: int | None, part: str) -> str:
    """The name of one tensor: ``index`` None for a single layer."""
    return f"{prefix}.{part}" if index is None else f"{prefix}.{index}.{part}"


def layer(tensors: dict, prefix: str, index: int | None = None) -> dict:
    """One layer's tensors by part ("weight", "bias", and "shift" where stored)."""
    return {part: tensors[key(prefix, index, part)] for part in PARTS
            if key(prefix, index, part) in tensors}


def layers(tensors: dict, prefix: str) -> list[dict]:
    """The layers ``prefix.0``, ``prefix.1``, ... present in ``tensors``, each a dict of its
    parts ("weight", "bias", and "shift" where stored)."""
    out = []
    while key(prefix, len(out), "weight") in tensors:
        out.append(layer(tensors, prefix, len(out)))
    return out
