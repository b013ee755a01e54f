"""Give a trained family a table pixel model (residual layout 4), keeping its other
pixel model for the files that name it: the way the shipped ``icons`` family got its
table without retraining its VAE (``vaecodec train`` makes the choice itself for new
families).

The table is counted on the family's own training split of the images it was trained on
(checked by the sha256 of their pixels, split as ``vaecodec train`` split them), and both
pixel models code the family's validation images, lossless and at each max error
``vaecodec train`` compares: from each of those on, new files use the one that codes them
in fewer bytes (the family's ``pixel_models``). The family file is rewritten atomically.

    python tools/add_table_model.py \\
        packages/vaecodec-models/vaecodec_models/checkpoints/icons.vaem \\
        build/colour-sets/icons-train.npy
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import numpy as np

from vaecodec import codec
from vaecodec.core import tablemodel
from vaecodec.fsio import atomic_write_bytes
from vaecodec.train.family import (
    MAX_ERROR_SAMPLE,
    compare_pixel_models,
    pixel_model_ranges,
    split,
)
from vaecodec.zoo import ModelInfo, families
from vaecodec.zoo.families import Family
from vaecodec.zoo.models import PIXEL_MODEL, VAE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("family", type=Path, help="the family's .vaem file (rewritten)")
    parser.add_argument("images", type=Path, help="the .npy the family was trained on")
    parser.add_argument("--min-count", type=int, default=16)
    parser.add_argument("--weight", type=int, default=32)
    args = parser.parse_args(argv)
    family, models, levels = families.read_file(args.family)
    images = np.load(args.images)
    data = family.metadata.get("data", {})
    if hashlib.sha256(images.tobytes()).hexdigest() != data.get("pixels_sha256"):
        print(f"Error: {args.images} are not the images {family.name} was trained on",
              file=sys.stderr)
        return 1
    if any(tablemodel.is_table(m.metadata) for m in models):
        print(f"Error: {family.name} has a table pixel model already", file=sys.stderr)
        return 1
    vae = next(m for m in models if m.kind == VAE)
    network = next(m for m in models if m.kind == PIXEL_MODEL)
    train, valid = split(images, data["split_seed"])
    valid = valid[: data["validation_images"]]
    base = network.metadata["base_level"]
    table = ModelInfo.in_memory(f"{family.name}.table", *tablemodel.fit_pixel_model(
        train, base, vae.model_id.hex(), args.min_count, args.weight))
    candidates = [("network", network), ("table", table)]
    tried, sizes = compare_pixel_models(family.name, vae, candidates, levels,
                                        family.default_level, valid)
    for what, (data_bytes, _, zoo) in tried.items():
        assert np.array_equal(codec.decode(data_bytes, zoo=zoo), valid)
    ranges = pixel_model_ranges(sizes)
    for what, by_k in sizes.items():
        print(f"{family.name}, {what}: bytes per validation image at max error "
              + ", ".join(f"{k}: {v:.2f}" for k, v in by_k.items()))
    print(f"{family.name}: new files use " + ", ".join(
        f"from max error {k} the {what}" for k, what in ranges))
    if all(what != "table" for _, what in ranges):
        return 0
    kept = ranges[0][1]
    lossless = sizes[kept][0]
    validation = {**family.metadata.get("validation", {}),
                  "pixel_model_choice": {
                      "kept": kept, "max_error_images": min(len(valid), MAX_ERROR_SAMPLE),
                      "ranges": ranges, "added_by": "tools/add_table_model.py",
                      "bytes_per_image": {what: {str(k): round(v, 2) for k, v in by_k.items()}
                                          for what, by_k in sizes.items()}},
                  "lossless_bytes_per_image": round(lossless, 2),
                  "lossless_bits_per_pixel": round(8 * lossless / (
                      valid.shape[1] * valid.shape[2]), 4)}
    first = tried[kept][1]
    family = Family(family.name, vae.name, first.name, family.default_level,
                    {**family.metadata, "validation": validation,
                     "pixel_models": [[k, tried[what][1].name] for k, what in ranges]})
    # the first pixel model is the one for lossless files; the network stays in any case
    # (files name it)
    ordered = [vae, first] + [m for m in (table, network) if m is not first]
    atomic_write_bytes(args.family, families.to_bytes(family, ordered, levels), force=True)
    print(f"wrote {args.family}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
