"""``sample``: new images drawn from a model's prior."""

from __future__ import annotations

import numpy as np

from .errors import ArgumentTypeError, CorruptModelError, SettingsError
from .zoo import DEFAULT_LEVEL, Zoo
from .zoo.defaults import DEFAULT_FAMILY


def sample(count: int, *, model: str | None = None, seed: int = 0,
           zoo: Zoo | None = None) -> np.ndarray:
    """``count`` new images (count, H, W) uint8 drawn from a model's prior: latents from
    N(0, I) (seeded; for a linear model scaled by each component's standard deviation)
    through its decoder. ``model``: a family (default: mnist, whose
    default level's model draws) or a model's name."""
    if isinstance(count, bool) or not isinstance(count, (int, np.integer)):
        raise ArgumentTypeError(f"count must be an integer, not {count!r}")
    if not 1 <= count <= 100_000:
        raise SettingsError(f"count must be 1..100000, got {count}")
    zoo = Zoo.installed() if zoo is None else zoo
    if model is None or model == DEFAULT_FAMILY:
        info = zoo.level_model(zoo.level(DEFAULT_LEVEL))
    elif model in {f.name for f in zoo.families()}:
        info = zoo.find(zoo.family(model).vae)
    else:
        info = zoo.find(model)
    net = zoo.vae(info)
    z = np.random.default_rng(seed).standard_normal((count, net.latent_size))
    architecture = info.metadata.get("architecture")
    std = architecture.get("latent_std") if isinstance(architecture, dict) else None
    if std is not None:  # a linear model: each component's spread
        if not (isinstance(std, list) and len(std) == net.latent_size and all(
                type(v) in (int, float) and 0 <= v < 1e6 for v in std)):
            raise CorruptModelError(f"model {info.name}: its latent_std is not "
                                    f"{net.latent_size} standard deviations")
        z *= np.asarray(std, dtype=np.float64)
    return net.decode_pixels(z.astype(np.float32)).reshape(count, *net.image_shape)

