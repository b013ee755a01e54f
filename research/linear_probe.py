"""How far the principal components of a set's training images go on its held-out images:
unquantized PSNR with the first k components, and (``--steps``) uniform steps on them,
each dimension's symbols costed by the ideal code length of a histogram counted on the
training symbols (+0.5 per symbol seen anywhere). The probe behind ``--recipe linear``
(docs/notes/training.md#a-linear-model-for-photographs).

    python research/linear_probe.py build/train-sets/tiles --components 20 32 64 128 256
    python research/linear_probe.py build/colour-sets/colour-tiles --components 128 256 \
        --steps 1.4 1.0 0.8 0.6 0.45 0.35
    python research/linear_probe.py FashionMNIST --test 1000 --components 784 --steps 1.4 0.6
"""

from __future__ import annotations

import argparse

import numpy as np

from vaecodec.eval import metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("set", help="PREFIX of PREFIX-train.npy and PREFIX-test.npy, or "
                        "MNIST or FashionMNIST (IDX files under --data)")
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--test", type=int, help="only the first N test images")
    parser.add_argument("--components", type=int, nargs="+", default=[20, 64, 256])
    parser.add_argument("--steps", type=float, nargs="*", default=[])
    args = parser.parse_args()
    if args.set in ("MNIST", "FashionMNIST"):
        from vaecodec.data import mnist

        train = mnist.mnist_images(args.data, "train", args.set)
        test = mnist.mnist_images(args.data, "test", args.set)
    else:
        train, test = np.load(args.set + "-train.npy"), np.load(args.set + "-test.npy")
    test = test[: args.test]
    x = train.reshape(len(train), -1).astype(np.float64) / 255
    pixels = test.reshape(len(test), -1)
    y = pixels.astype(np.float64) / 255
    mean = x.mean(axis=0)
    variances, vectors = np.linalg.eigh(np.cov((x - mean).T))
    vectors = vectors[:, np.argsort(variances)[::-1]]

    def psnr(reconstruction: np.ndarray) -> float:
        return metrics.psnr(pixels, np.clip(np.rint(reconstruction * 255), 0, 255))

    for k in args.components:
        v = vectors[:, :k]
        train_z, test_z = (x - mean) @ v, (y - mean) @ v
        row = [f"{k} components: {psnr(test_z @ v.T + mean):.2f} dB unquantized"]
        for step in args.steps:
            a, b = np.rint(train_z / step).astype(int), np.rint(test_z / step).astype(int)
            bits = 0.0
            for d in range(k):
                lo = min(a[:, d].min(), b[:, d].min())
                size = max(a[:, d].max(), b[:, d].max()) - lo + 1
                counts = np.bincount(a[:, d] - lo, minlength=size) + 0.5
                bits -= np.log2(counts[b[:, d] - lo] / counts.sum()).sum()
            decoded = psnr(b * step @ v.T + mean)
            row.append(f"step {step}: {bits / 8 / len(test):.1f} B {decoded:.2f} dB")
        print(" | ".join(row))


if __name__ == "__main__":
    main()
