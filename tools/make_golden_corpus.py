"""Write the compatibility corpus: .vaez files of every encoder setting and their pixels.

    python tools/make_golden_corpus.py --out tests/data/golden

Made once by vaecodec 1.3.0 (the release before the 2.0 restructuring) and committed;
``tests/test_golden.py`` checks that every later vaecodec decodes each file to the same
pixels (by sha256) and that ``vaecodec.encode`` with the same settings writes the same
bytes. Uses only the public API, so it runs against any release. Do not regenerate it to
make a test pass: a difference is a compatibility break.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

import vaecodec

REPO = Path(__file__).resolve().parent.parent


def inputs() -> tuple[np.ndarray, list[str]]:
    """24 sample digits and four extreme images (black, white, mid-gray, noise)."""
    from PIL import Image

    paths = sorted((REPO / "samples" / "digits").rglob("*.png"))[::8][:24]
    digits = [np.asarray(Image.open(p), dtype=np.uint8) for p in paths]
    names = [p.relative_to(REPO / "samples" / "digits").as_posix() for p in paths]
    noise = np.random.default_rng(11).integers(0, 256, (28, 28), dtype=np.uint8)
    extremes = [np.zeros((28, 28), np.uint8), np.full((28, 28), 255, np.uint8),
                np.full((28, 28), 128, np.uint8), noise]
    names += ["black.png", "white.png", "gray.png", "noise.png"]
    return np.stack(digits + extremes), names


def settings() -> list[dict]:
    """Every kind of file the encoder writes: the entries' ``encode`` keyword arguments,
    with ``images`` (a slice of the inputs) and whether names are stored."""
    out = []
    for level in vaecodec.list_levels():
        for coder in ("range", "zstd"):
            out.append({"quality": level.level, "coder": coder})
    for model in vaecodec.list_models():
        for step in (0.05, 0.2, 0.75):
            out.append({"quant_step": step, "model": model.name})
    out.append({"lossless": True})
    out += [{"max_error": k} for k in (1, 2, 4, 8, 16, 32)]
    out.append({"names": True})
    out.append({"quant_step": 0.3, "names": True})
    out.append({"lossless": True, "names": True})
    out.append({"images": [5]})
    out.append({"images": [5], "lossless": True})
    out.append({"images": [27], "max_error": 3})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="tests/data/golden", help="output folder")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    images, names = inputs()
    np.save(out / "inputs.npy", images)
    entries = []
    for number, spec in enumerate(settings()):
        kwargs = {k: v for k, v in spec.items() if k not in ("images", "names")}
        chosen = spec.get("images")
        pixels = images if chosen is None else images[chosen]
        if spec.get("names"):
            kwargs["names"] = [names[i] for i in (chosen or range(len(images)))]
        data = vaecodec.encode(pixels, **kwargs)
        decoded = vaecodec.decode(data)
        file = f"{number:02d}.vaez"
        (out / file).write_bytes(data)
        entries.append({"file": file, "images": chosen, "encode": kwargs,
                        "sha256": hashlib.sha256(data).hexdigest(),
                        "pixels_sha256": hashlib.sha256(decoded.tobytes()).hexdigest(),
                        "shape": list(decoded.shape)})
        print(f"{file}: {len(data):6d} bytes  {spec}")
    manifest = {"made_by": f"vaecodec {vaecodec.__version__}", "inputs": "inputs.npy",
                "input_names": names, "entries": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")


if __name__ == "__main__":
    main()
