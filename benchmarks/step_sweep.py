"""Size and quality of each installed model of MNIST's image size (28x28 grayscale) at
several quantization steps (MNIST test split).

    python benchmarks/step_sweep.py --data ../shared/data

Whole .vaez files without names (vaecodec.encode), bytes divided by the image count.
"""

from __future__ import annotations

import argparse

import vaecodec
from vaecodec.data import mnist
from vaecodec.eval import metrics

STEPS = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--limit", type=int, help="only the first N test images")
    args = parser.parse_args()
    originals = mnist.mnist_images(args.data, "test")[: args.limit]
    print("| model | step | bytes/image | PSNR (dB) | SSIM |")
    print("|---|---|---|---|---|")
    for info in vaecodec.list_models():
        if tuple(info.image_shape) != originals.shape[1:]:  # the colour icons, for one
            continue
        for step in STEPS:
            data = vaecodec.encode(originals, quant_step=step, model=info.name)
            decoded = vaecodec.decode(data)
            print(f"| {info.name} | {step} | {len(data) / len(originals):.2f} | "
                  f"{metrics.psnr(originals, decoded):.2f} | "
                  f"{metrics.ssim(originals, decoded):.4f} |", flush=True)


if __name__ == "__main__":
    main()
