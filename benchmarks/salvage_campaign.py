"""Salvage against every truncation point and every pair of damaged regions of a 3-chunk
archive: are the intact chunks' images restored exactly, is every lost image named, and
does the command's status say so?

    python benchmarks/salvage_campaign.py [--out docs/data/salvage_campaign.json]

The archive: 150 named sample digits in 3 chunks of 50. A "region" is the file header,
each chunk, the index or the trailer; a damage flips one byte at its start, middle or
end. Each case runs ``decompress(..., salvage=True)`` (what ``vaecodec decompress
--salvage`` runs; its exit status is 1 exactly when ``lost`` is not empty) and checks:

- every image of every chunk the damage did not touch is restored, to the pixels the
  undamaged archive decodes to;
- every image not restored is named by a ``lost`` entry (a range, or "from N on");
- the status is 1 when an image is lost; a damaged file header, which loses everything,
  is one error (a ``VaezError``), and nothing else is raised.
"""

from __future__ import annotations

import argparse
import itertools
import json
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

import vaecodec
from vaecodec import images as image_files
from vaecodec.errors import VaezError
from vaecodec.files import decompress

REPO = Path(__file__).resolve().parent.parent
CHUNK, COUNT = 50, 150


def build(folder: Path):
    pixels, _, _ = image_files.read_images(image_files.collect([REPO / "samples" / "digits"]),
                                           (28, 28))
    path = folder / "a.vaez"
    with vaecodec.open(path, "w", chunk_images=CHUNK) as out:
        out.write(pixels[:COUNT], names=[f"{i:03d}.png" for i in range(COUNT)])
    with vaecodec.open(path) as archive:
        decoded, entries = archive[:], archive.decoder.index.chunks
    data = path.read_bytes()
    index_start = entries[-1].offset + entries[-1].size
    regions = {"header": (0, entries[0].offset)}
    regions.update({f"chunk{n}": (e.offset, e.offset + e.size) for n, e in enumerate(entries)})
    regions["index"] = (index_start, len(data) - 24)
    regions["trailer"] = (len(data) - 24, len(data))
    return data, decoded, entries, regions


def check(folder: Path, data: bytes, decoded, entries, size: int, flips: list[int],
          case: str) -> dict:
    """One damaged file: the outcome and whether it is right."""
    path = folder / "bad.vaez"
    path.write_bytes(data)
    out = folder / "out"
    intact = [n for n, e in enumerate(entries) if e.offset + e.size <= size
              and not any(e.offset <= at < e.offset + e.size for at in flips)]
    header_hit = size < entries[0].offset or any(at < entries[0].offset for at in flips)
    try:
        result = decompress(path, out, force=True, salvage=True)
    except VaezError as e:
        ok = header_hit  # the header is every chunk's: nothing can be restored
        return {"case": case, "outcome": "error", "message": str(e).splitlines()[0][:100],
                "ok": ok}
    except Exception as e:  # a traceback for the user
        return {"case": case, "outcome": "traceback", "message": repr(e)[:100], "ok": False}
    restored = {p.name: p for p in out.rglob("*.png")}
    expect = {f"{i:03d}.png" for n in intact for i in range(n * CHUNK, (n + 1) * CHUNK)}
    exact = all(np.array_equal(np.asarray(Image.open(restored[name])), decoded[int(name[:3])])
                for name in expect if name in restored)
    missing = [i for i in range(COUNT) if f"{i:03d}.png" not in restored]

    def named(i: int) -> bool:
        return any(d.first is not None and d.first <= i
                   and (d.count is None or i < d.first + d.count) for d in result.lost)

    unnamed = [i for i in missing if not named(i)]
    status = 1 if result.lost else 0
    ok = set(restored) == expect and exact and not unnamed and (status == 1 or not missing)
    for p in restored.values():
        p.unlink()
    return {"case": case, "outcome": f"restored {len(restored)}, lost {len(missing)}",
            "status": status, "unnamed": len(unnamed), "ok": ok}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="write the summary as JSON")
    args = parser.parse_args()
    start = time.perf_counter()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        data, decoded, entries, regions = build(folder)
        for cut in range(len(data)):
            rows.append(check(folder, data[:cut], decoded, entries, cut, [], f"cut {cut}"))
        points = {name: sorted({a, (a + b) // 2, b - 1}) for name, (a, b) in regions.items()}
        singles = [(name, at) for name, ats in points.items() for at in ats]
        for damage in [*[(s,) for s in singles],
                       *[(a, b) for a, b in itertools.combinations(singles, 2) if a[0] != b[0]]]:
            bad = bytearray(data)
            for _, at in damage:
                bad[at] ^= 0x5A
            case = " + ".join(f"{name}@{at}" for name, at in damage)
            rows.append(check(folder, bytes(bad), decoded, entries, len(data),
                              [at for _, at in damage], case))
    failed = [r for r in rows if not r["ok"]]
    kinds = {}
    for r in rows:
        kind = r["case"].split()[0] if r["case"].startswith("cut") else (
            "pair" if "+" in r["case"] else "single")
        kinds.setdefault(kind, [0, 0])
        kinds[kind][0] += 1
        kinds[kind][1] += not r["ok"]
    for kind, (total, bad) in kinds.items():
        print(f"{kind:7s}: {total} cases, {bad} wrong")
    print(f"tracebacks: {sum(r['outcome'] == 'traceback' for r in rows)}; "
          f"errors (damaged header): {sum(r['outcome'] == 'error' for r in rows)}; "
          f"{time.perf_counter() - start:.0f} s")
    for r in failed[:20]:
        print("WRONG", r)
    if args.out:
        args.out.write_text(json.dumps({"cases": len(rows), "wrong": len(failed),
                                        "kinds": kinds, "failed": failed[:50]}, indent=1) + "\n")


if __name__ == "__main__":
    main()
