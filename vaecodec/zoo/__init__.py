"""Finding, verifying and loading models and their quality levels.

``Zoo`` holds the models and levels a codec may use (``Zoo.installed()``: what ships with
vaecodec); ``models`` reads and writes model files; ``levels`` the levels file.
"""

from .levels import DEFAULT_LEVEL, Level
from .models import DEFAULT_MODEL, DEFAULT_PIXEL_MODEL, PIXEL_MODEL, VAE, ModelInfo
from .store import Zoo

__all__ = ["Zoo", "ModelInfo", "Level", "DEFAULT_LEVEL", "DEFAULT_MODEL",
           "DEFAULT_PIXEL_MODEL", "PIXEL_MODEL", "VAE"]
