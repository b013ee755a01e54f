"""The models vaecodec's default install leaves out (data only): vaecodec looks for the
folder ``checkpoints`` beside this file when this package is installed."""

from pathlib import Path

CHECKPOINTS = Path(__file__).resolve().parent / "checkpoints"
