"""Write the first N test images of MNIST or Fashion-MNIST as PNG files:
OUT/<label>/<index>.png.

    python tools/make_samples.py --data ../shared/data --out samples/digits --count 200
    python tools/make_samples.py --data ../shared/data --dataset FashionMNIST \
        --out samples/fashion --count 100

MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0.
Fashion-MNIST by Zalando Research, MIT licence.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vaecodec import images


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="data root (torchvision layout)")
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST")
    parser.add_argument("--out", default="samples/digits", help="output folder")
    parser.add_argument("--count", type=int, default=200, help="how many test images")
    parser.add_argument("--flat", action="store_true", help="no per-label folders")
    args = parser.parse_args()
    import torchvision.datasets

    dataset = getattr(torchvision.datasets, args.dataset)(root=args.data, train=False,
                                                          download=True)
    out = Path(args.out)
    for index in range(args.count):
        label = int(dataset.targets[index])
        path = out / f"{index:05d}.png" if args.flat else out / str(label) / f"{index:05d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        images.write_png(path, dataset.data[index].numpy())
    print(f"wrote {args.count} images under {out}")


if __name__ == "__main__":
    main()
