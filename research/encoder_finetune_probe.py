"""Probe: can a model's encoder be trained to give the latents that the search's descent
finds (plain encoding at the search's quality)?

    python research/encoder_finetune_probe.py --model vae-mse-s05-aug1 --epochs 6 --lr 3e-4
    python research/encoder_finetune_probe.py --model vae-mse-s05-aug1 --epochs 9 --lr 1e-3 \
        --hidden 1024 1024 512
    python research/encoder_finetune_probe.py --model vae-mse-s05-aug1 --epochs 9 --lr 1e-3 \
        --refiner 512 256

Freezes the decoder and trains the encoder's mean (the model's own encoder, or with
``--hidden`` a fresh one of those widths; or with ``--refiner`` the encoder stays too, and
a new MLP of those widths, given the image, its decoding and the mean, adds a correction
to the mean: one learned step of what the search's descent does) on the training split for
the squared error of the decoded image, the latent given uniform noise of ``--noise`` (the
rounding error of that step), with ±1-pixel shifts and a cosine schedule, as the model was
trained. Prints the test split's PSNR at z = mean and at ``--step`` (bytes under a prior
fitted on the training latents) before and every few epochs. Writes nothing.
"""

from __future__ import annotations

import argparse
import itertools
import math
import time

import torch

from vaecodec.core import entropy, quantize, search
from vaecodec.core.pixels import to_uint8
from vaecodec.data import mnist
from vaecodec.eval import metrics
from vaecodec.train import loop
from vaecodec.train.export import import_model
from vaecodec.zoo import Zoo


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--model", default="vae-mse-s05-aug1")
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--noise", type=float, default=0.1, help="width of the latent's noise")
    parser.add_argument("--step", type=float, default=0.1)
    parser.add_argument("--hidden", type=int, nargs="*", help="a fresh encoder of these widths")
    parser.add_argument("--refiner", type=int, nargs="*",
                        help="keep the encoder; train a correction network of these widths")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = import_model(Zoo.installed().find(args.model))
    train = mnist.mnist_images(args.data, "train")
    test = mnist.mnist_images(args.data, "test")
    x_train, x_test = loop.to_tensor(train.copy()), loop.to_tensor(test.copy())

    refiner = None
    if args.refiner:
        sizes = [2 * model.pixels + model.latent_size, *args.refiner]
        refiner = torch.nn.Sequential(*[
            part for n_in, n_out in itertools.pairwise(sizes)
            for part in (torch.nn.Linear(n_in, n_out), torch.nn.ReLU())],
            torch.nn.Linear(sizes[-1], model.latent_size))
        torch.nn.init.zeros_(refiner[-1].weight)  # it starts at the encoder's mean
        torch.nn.init.zeros_(refiner[-1].bias)

    def latent(x: torch.Tensor) -> torch.Tensor:
        if refiner is None:
            return model.encode(x)[0]
        with torch.no_grad():
            mean = model.encode(x)[0]
            decoded = model.decode(mean)
        return mean + refiner(torch.cat([x, decoded, mean], dim=1))

    def report(tag: str) -> None:
        model.eval()
        with torch.no_grad():
            mean_train = torch.cat([latent(x_train[i : i + 10000])
                                    for i in range(0, len(x_train), 10000)]).numpy()
            mean_test = latent(x_test)
            symbols = quantize.quantize(mean_test.numpy(), args.step)
            unquantized = model.decode(mean_test).numpy()
            stepped = model.decode(torch.from_numpy(
                quantize.dequantize(symbols, args.step))).numpy()
        prior = entropy.fit_prior(quantize.quantize(mean_train, args.step))
        flat = test.reshape(len(test), -1)
        print(f"{tag}: z = mean {metrics.psnr(flat, to_uint8(unquantized)):.3f} dB; "
              f"step {args.step}: {search.symbol_bits(prior, symbols).mean() / 8:.2f} B, "
              f"{metrics.psnr(flat, to_uint8(stepped)):.3f} dB", flush=True)

    report("before")
    if args.hidden:
        sizes = [model.pixels, *args.hidden]
        model.encoder = torch.nn.Sequential(*[
            part for n_in, n_out in itertools.pairwise(sizes)
            for part in (torch.nn.Linear(n_in, n_out), torch.nn.ReLU())])
        model.to_mu = torch.nn.Linear(sizes[-1], model.latent_size)
    for parameter in model.decoder.parameters():
        parameter.requires_grad_(False)
    trained = ([*refiner.parameters()] if refiner is not None
               else [*model.encoder.parameters(), *model.to_mu.parameters()])
    optimizer = torch.optim.Adam(trained, lr=args.lr)
    generator = torch.Generator().manual_seed(1)
    total_steps, step = args.epochs * math.ceil(len(x_train) / 128), 0
    for epoch in range(args.epochs):
        start, loss_sum = time.perf_counter(), 0.0
        model.train()
        order = torch.randperm(len(x_train), generator=generator)
        for i in range(0, len(order), 128):
            for group in optimizer.param_groups:
                group["lr"] = 0.5 * args.lr * (1 + math.cos(math.pi * step / total_steps))
            x = loop.random_shift(x_train[order[i : i + 128]], model.image_shape, 1, generator)
            mean = latent(x)
            noise = (torch.rand(mean.shape, generator=generator) - 0.5) * args.noise
            loss = torch.sum((model.decode(mean + noise) - x) ** 2)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            loss_sum, step = loss_sum + loss.item(), step + 1
        print(f"epoch {epoch + 1}: train squared error {loss_sum / len(x_train):.3f} per image "
              f"({time.perf_counter() - start:.1f} s)", flush=True)
        if (epoch + 1) % 3 == 0 or epoch + 1 == args.epochs:
            report(f"after {epoch + 1} epochs")


if __name__ == "__main__":
    main()
