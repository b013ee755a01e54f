"""The variational autoencoder (PyTorch). Knows nothing of files, quantization or the CLI.

Only training and the equivalence tests import this module; the codec runs the exported
weights with numpy (see ``vaecodec.core.runtime``).
"""

from __future__ import annotations

import math
from typing import Sequence

from . import import_torch

torch = import_torch()
from torch import nn  # noqa: E402
from torch.nn import functional as F  # noqa: E402


def _mlp(sizes: Sequence[int]) -> nn.Sequential:
    """Linear layers with ReLU between them (none after the last)."""
    layers: list[nn.Module] = []
    for i, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(n_in, n_out))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*layers)


class VAE(nn.Module):
    """MLP VAE: x (the H x W (x C) intensities in [0, 1] of an image, channels last) ->
    q(z|x) = N(mu, exp(logvar)) -> p(x|z).

    ``hidden`` lists the encoder's hidden widths; the decoder mirrors them.
    """

    def __init__(self, image_shape: Sequence[int], latent_size: int = 20,
                 hidden: Sequence[int] = (400,)):
        super().__init__()
        self.latent_size = latent_size
        self.hidden = tuple(hidden)
        self.image_shape = tuple(int(v) for v in image_shape)
        self.pixels = math.prod(self.image_shape)  # values per image
        enc_sizes = [self.pixels, *self.hidden]
        self.encoder = nn.Sequential(_mlp(enc_sizes), nn.ReLU())
        self.to_mu = nn.Linear(enc_sizes[-1], latent_size)
        self.to_logvar = nn.Linear(enc_sizes[-1], latent_size)
        self.decoder = _mlp([latent_size, *reversed(self.hidden), self.pixels])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x.reshape(-1, self.pixels))
        return self.to_mu(h), self.to_logvar(h)

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        std = torch.exp(0.5 * logvar)
        return mu + std * torch.randn_like(std)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder(z)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Pixel intensities in [0, 1], shape (N, H * W)."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor):
        mu, logvar = self.encode(x)
        z = self.reparameterize(mu, logvar)
        return self.decode_logits(z), mu, logvar


class ConvVAE(VAE):
    """Convolutional VAE (measured for the quality levels, not shipped: the numpy runtime
    runs MLPs only). Encoder: two stride-2 4x4 convolutions (H -> H/2 -> H/4; sides must be
    multiples of 4) and a dense layer; the decoder mirrors it with transposed
    convolutions."""

    def __init__(self, image_shape: Sequence[int], latent_size: int = 20,
                 channels: Sequence[int] = (32, 64), dense: int = 256):
        nn.Module.__init__(self)
        c1, c2 = channels
        if len(image_shape) != 2:
            raise ValueError("the convolutional VAE takes grayscale images only")
        height, width = int(image_shape[0]), int(image_shape[1])
        if height % 4 or width % 4:
            raise ValueError(f"the convolutional VAE needs sides that are multiples of 4, "
                             f"not {width}x{height}")
        self.latent_size, self.hidden = latent_size, (c1, c2, dense)
        self.image_shape, self.pixels = (height, width), height * width
        inner = (height // 4, width // 4)
        self.encoder = nn.Sequential(
            nn.Unflatten(1, (1, height, width)),
            nn.Conv2d(1, c1, 4, 2, 1), nn.ReLU(), nn.Conv2d(c1, c2, 4, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(c2 * inner[0] * inner[1], dense), nn.ReLU(),
        )
        self.to_mu = nn.Linear(dense, latent_size)
        self.to_logvar = nn.Linear(dense, latent_size)
        self.decoder = nn.Sequential(
            nn.Linear(latent_size, dense), nn.ReLU(),
            nn.Linear(dense, c2 * inner[0] * inner[1]), nn.ReLU(),
            nn.Unflatten(1, (c2, *inner)),
            nn.ConvTranspose2d(c2, c1, 4, 2, 1), nn.ReLU(), nn.ConvTranspose2d(c1, 1, 4, 2, 1),
            nn.Flatten(),
        )


def loss_terms(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Summed BCE reconstruction term and KL(q(z|x) || N(0, I)), both in nats."""
    bce = F.binary_cross_entropy_with_logits(logits, x.reshape(logits.shape), reduction="sum")
    return bce, kl_divergence(mu, logvar)


def kl_divergence(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Summed KL(q(z|x) || N(0, I)) in nats."""
    return -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def squared_error(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Summed squared error of the decoded intensities, the distortion PSNR reports."""
    return torch.sum((torch.sigmoid(logits) - x.reshape(logits.shape)) ** 2)


class FactorizedPrior(nn.Module):
    """A learned density per latent dimension (a logistic with its own location and scale)
    for rate-distortion training: ``nats(y, step)`` is -log of the probability of each
    noisy latent y's interval [y - step/2, y + step/2], summed: the rate of y rounded at
    ``step``, differentiable in y and in the prior's parameters."""

    def __init__(self, latent_size: int):
        super().__init__()
        self.location = nn.Parameter(torch.zeros(latent_size))
        self.log_scale = nn.Parameter(torch.zeros(latent_size))

    def nats(self, y: torch.Tensor, step: float) -> torch.Tensor:
        scale = torch.exp(self.log_scale)
        upper = torch.sigmoid((y + step / 2 - self.location) / scale)
        lower = torch.sigmoid((y - step / 2 - self.location) / scale)
        return -torch.log((upper - lower).clamp_min(1e-9)).sum()
