"""Write the first N test images of MNIST or Fashion-MNIST as PNG files,
OUT/<label>/<index>.png, or of the colour icons of tools/make_train_sets.py (their test
split, drawn offline) as RGB PNG files OUT/<index>.png.

    python tools/make_samples.py --data ../shared/data --out samples/digits --count 200
    python tools/make_samples.py --data ../shared/data --dataset FashionMNIST \
        --out samples/fashion --count 100
    python tools/make_samples.py --dataset icons --out samples/icons --count 100

MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.
Fashion-MNIST by Zalando Research, MIT licence. The icons are drawn by this repository's
script with the font Pillow ships (Aileron by dotcolon, CC0 1.0).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vaecodec import images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="data root (torchvision layout)")
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST", "icons"],
                        default="MNIST")
    parser.add_argument("--out", default="samples/digits", help="output folder")
    parser.add_argument("--count", type=int, default=200, help="how many test images")
    parser.add_argument("--flat", action="store_true", help="no per-label folders")
    args = parser.parse_args()
    out = Path(args.out)
    if args.dataset == "icons":
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        from make_train_sets import TEST_SEED, icons

        for index, image in enumerate(icons(args.count, seed=TEST_SEED)):  # the test split's
            path = out / f"{index:05d}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            images.write_png(path, image)
        print(f"wrote {args.count} images under {out}")
        return
    import torchvision.datasets

    dataset = getattr(torchvision.datasets, args.dataset)(root=args.data, train=False,
                                                          download=True)
    for index in range(args.count):
        label = int(dataset.targets[index])
        path = out / f"{index:05d}.png" if args.flat else out / str(label) / f"{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        images.write_png(path, dataset.data[index].numpy())
    print(f"wrote {args.count} images under {out}")


if __name__ == "__main__":
    main()
