"""Probe: does fine-tuning a model's decoder on quantized latents raise PSNR at a step?

    python research/decoder_finetune_probe.py --model vae-default --step 1.0 --epochs 3

Freezes the encoder, quantizes the training split's posterior means with the step, trains
the decoder on them (squared error, Adam 1e-4) and prints the test-split PSNR at that step
before and after each epoch. Writes nothing: it measures whether the idea is worth a model.
"""

from __future__ import annotations

import argparse
import time

import torch

from vaecodec.core import quantize
from vaecodec.core.pixels import to_uint8, to_unit
from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.train.export import import_model
from vaecodec.zoo import Zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--model", default="vae-default")
    parser.add_argument("--step", type=float, default=1.0)
    parser.add_argument("--epochs", type=int, default=3)
    args = parser.parse_args()
    model = import_model(Zoo.installed().find(args.model))
    train = mnist.mnist_images(args.data, "train")
    test = mnist.mnist_images(args.data, "test")
    x_train = torch.from_numpy(to_unit(train))
    x_test = torch.from_numpy(to_unit(test))

    def quantized(x):
        with torch.no_grad():
            mu = model.encode(x)[0].numpy()
        return torch.from_numpy(quantize.dequantize(quantize.quantize(mu, args.step), args.step))

    z_train, z_test = quantized(x_train), quantized(x_test)

    def test_psnr() -> float:
        with torch.no_grad():
            pixels = to_uint8(model.decode(z_test).numpy()).reshape(test.shape)
        return metrics.psnr(test, pixels)

    print(f"{args.model} at step {args.step}: test PSNR before {test_psnr():.3f} dB")
    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    optimizer = torch.optim.Adam(model.decoder.parameters(), lr=1e-4)
    for epoch in range(args.epochs):
        start = time.perf_counter()
        order = torch.randperm(len(z_train), generator=generator)
        for i in range(0, len(order), 128):
            batch = order[i : i + 128]
            loss = torch.sum((model.decode(z_train[batch]) - x_train[batch]) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: test PSNR {test_psnr():.3f} dB "
              f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
