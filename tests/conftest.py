from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

from vaecodec import images

# Fuzz tests (marker "fuzz") run a quick pass by default; `--hypothesis-profile=long` (CI's
# second run, README) runs them for much longer.
settings.register_profile("quick", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("long", max_examples=3000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("quick")

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "digits"
SHARED_DATA = REPO.parent / "shared" / "data"


@pytest.fixture(scope="session")
def sample_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def sample_images() -> np.ndarray:
    pixels, names, skipped = images.read_images(images.collect([SAMPLES]), (28, 28))
    assert len(names) == 200 and not skipped
    return pixels


@pytest.fixture(scope="session")
def mnist_root() -> Path:
    if not (SHARED_DATA / "MNIST" / "raw" / "t10k-images-idx3-ubyte").is_file():
        pytest.skip("needs the full MNIST data set at ../shared/data (present in CI)")
    return SHARED_DATA


@pytest.fixture(autouse=True)
def model_store(tmp_path_factory, monkeypatch) -> Path:
    """Every test sees an empty model store of its own (never the user's)."""
    store = tmp_path_factory.mktemp("store")
    monkeypatch.setenv("VAECODEC_MODELS", str(store))
    return store
