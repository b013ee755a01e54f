"""Write the compatibility corpus of linear models: a small linear family, .vaez files made
with it and their pixels.

    python tools/make_linear_corpus.py --out tests/data/linear-8x8

Made once, when linear models were added (vaecodec 2.1.0, unreleased), and committed:
``vaecodec train``'s code path (``train_family(recipe="linear")``, table pixel model) on
2,000 seeded 8x8 grayscale images of a few random low frequencies plus noise, so that the
family file stays small (64 components). ``tests/test_linear.py`` installs the family
and checks that every later vaecodec decodes each file to the same pixels. Do not
regenerate it to make a test pass: a difference is a compatibility break.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

import vaecodec

SHAPE = (8, 8)


def smooth_images(count: int, seed: int, shape: tuple[int, int] = SHAPE) -> np.ndarray:
    """Photograph-like grayscale tiles (8x8 unless ``shape`` says otherwise): four random
    low frequencies and a little noise (``tests/test_linear.py`` makes its images here)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0 : shape[0], 0 : shape[1]] / shape[0]
    out = np.full((count, *shape), 128.0)
    for _ in range(4):
        fy, fx = rng.integers(0, 3, (2, count, 1, 1))
        phase = rng.uniform(0, 2 * np.pi, (count, 1, 1))
        out += rng.normal(0, 30, (count, 1, 1)) * np.cos(2 * np.pi * (fy * y + fx * x) + phase)
    out += rng.normal(0, 4, out.shape)
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    from vaecodec.train.family import train_family
    from vaecodec.zoo import Zoo

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    trained = train_family(smooth_images(2000, 7), "lin8", recipe="linear",
                           pixel_model="table", log=lambda line: None)
    (out / "lin8.vaem").write_bytes(trained.data)
    zoo = Zoo().with_family(trained.family, trained.models, trained.levels)
    images = smooth_images(16, 8)
    np.save(out / "inputs.npy", images)
    settings = [{"quality": lv.level} for lv in trained.levels]
    settings += [{"lossless": True}, {"max_error": 2}]
    entries = []
    for i, setting in enumerate(settings):
        data = vaecodec.encode(images, model="lin8", zoo=zoo, **setting)
        name = f"{i:02d}.vaez"
        (out / name).write_bytes(data)
        pixels = vaecodec.decode(data, zoo=zoo)
        entries.append({"file": name, "encode": {"model": "lin8", **setting},
                        "sha256": sha256(data), "pixels_sha256": sha256(pixels.tobytes())})
    manifest = {"written_by": f"vaecodec {vaecodec.__version__}", "model": "lin8",
                "family": "lin8.vaem", "inputs": "inputs.npy", "entries": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(entries)} files in {out}")


if __name__ == "__main__":
    main()
