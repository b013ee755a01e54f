"""Write checkpoints/companion.json: the catalogue of the models and families of the
companion package packages/vaecodec-models (name, kind, sha256, size; a family also the
sha256 of the models it holds), which vaecodec ships so that a file or level that needs
one of them says which and how to install it.

    python tools/make_companion.py            # rewrite the catalogue
    python tools/make_companion.py --check    # exit 1 when it is out of date
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from vaecodec.zoo import companion, families, models  # noqa: E402


def build() -> dict:
    folder = REPO / companion.REPO_FOLDER
    entries = []
    for info in models.scan(folder):
        entries.append({"name": info.name, "kind": info.kind, "sha256": info.model_id.hex(),
                        "bytes": info.weights_path.stat().st_size})
    for path in sorted(folder.glob("*" + families.SUFFIX)):
        family, held, _ = families.read_file(path)
        entries.append({"name": family.name, "kind": "family",
                        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                        "bytes": path.stat().st_size,
                        "contains": [m.model_id.hex() for m in held]})
    return {"package": companion.PACKAGE, "models": entries}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check it is up to date")
    args = parser.parse_args()
    text = json.dumps(build(), indent=1) + "\n"
    out = REPO / "checkpoints" / companion.CATALOGUE
    if args.check:
        current = out.read_text(encoding="utf-8") if out.is_file() else ""
        if current != text:
            print(f"{out} is out of date: run python tools/make_companion.py")
            return 1
        return 0
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
