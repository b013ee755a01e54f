"""Write a compatibility corpus for a shipped model family: .vaez files and their pixels.

    python tools/make_family_corpus.py --model fashion-mnist --out tests/data/fashion-2.0

Made once while the family was shipped (tests/data/fashion-2.0: at commit c886ac2, whose
version was 2.0.0, with the fashion-mnist family 2.0.0 shipped, before it was retrained)
from the sample images of ``samples/fashion``, and committed; tests/data/fashion-rd the same
way with ``--model fashion-mnist-rd`` when that family was added (vaecodec 2.0.0 plus
unreleased changes, the family as first shipped); tests/data/icons-net with ``--model icons
--samples $PWD/samples/icons`` at commit 2882f2a, the icons family as shipped before
tools/add_table_model.py gave it a table (its residual files name the pixel network);
tests/data/icons-table the same way at commit dce69f7, then cut to its two residual files
(lossless and --max-error 1, residual layout 4 with the family's table; its
--max-error 4 file, coded by the pixel network, replaced by one of --max-error 1) and
their inputs;
``tests/test_golden.py`` checks that every later vaecodec decodes each file to the same
pixels. Uses only the public API. Do not regenerate it to make a test pass: a difference
is a compatibility break.
"""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np

import vaecodec

REPO = Path(__file__).resolve().parent.parent


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def main() -> None:
    from PIL import Image

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the family's name")
    parser.add_argument("--samples", default=str(REPO / "samples" / "fashion"))
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    paths = sorted(Path(args.samples).rglob("*.png"))[::6][:16]
    images = np.stack([np.asarray(Image.open(p), dtype=np.uint8) for p in paths])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "inputs.npy", images)
    levels = [lv.level for lv in vaecodec.Zoo.installed().levels(args.model)]
    settings = [{"quality": q} for q in levels]
    settings += [{"lossless": True}, {"max_error": 4}]
    entries, lossy = [], {}
    for i, setting in enumerate(settings):
        data = vaecodec.encode(images, model=args.model, **setting)
        name = f"{i:02d}.vaez"
        (out / name).write_bytes(data)
        pixels = vaecodec.decode(data)
        if "quality" in setting:
            lossy[name] = pixels
        entries.append({"file": name, "encode": {"model": args.model, **setting},
                        "sha256": sha256(data), "pixels_sha256": sha256(pixels.tobytes())})
    np.savez_compressed(out / "lossy_pixels.npz", **lossy)
    manifest = {"written_by": f"vaecodec {vaecodec.__version__}", "model": args.model,
                "family_id": vaecodec.Zoo.installed().find(args.model).model_id.hex(),
                "inputs": "inputs.npy", "samples": [p.relative_to(REPO).as_posix()
                                                    for p in paths],
                "entries": entries}
    (out / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n")
    print(f"{len(entries)} files in {out}")


if __name__ == "__main__":
    main()
