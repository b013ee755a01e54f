"""The training loop for the VAE (needs the ``train`` extra: torch).

``tools/train.py`` is the command-line entry point; everything worth testing lives here.
"""

from __future__ import annotations

import math
import time
from typing import Callable

import numpy as np

from . import import_torch
from .model import VAE, ConvVAE, FactorizedPrior, loss_terms, squared_error
from .recipes import Recipe

torch = import_torch()
F = torch.nn.functional


def to_tensor(images: np.ndarray):
    """uint8 images (N, H, W) or (N, H, W, C) -> float intensities in [0, 1], flattened
    to (N, H * W (* C))."""
    return torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0).reshape(
        len(images), -1)


def random_shift(x, image_shape: tuple[int, ...], shift: int, generator,
                 fill: str = "zero"):
    """Flattened images x (N, H * W (* C), channels last), each moved by its own random
    offset in -shift..shift rows and columns; pixels moved in from outside are 0
    (``fill="zero"``) or the nearest border pixel's (``fill="edge"``)."""
    n, (height, width) = len(x), image_shape[:2]
    channels = image_shape[2] if len(image_shape) == 3 else 1
    pad = (shift, shift, shift, shift)
    planes = x.reshape(n, height, width, channels).permute(0, 3, 1, 2)  # (n, C, H, W)
    padded = F.pad(planes, pad, mode="replicate") if fill == "edge" else F.pad(planes, pad)
    padded = padded.permute(0, 2, 3, 1)  # (n, H + 2 shift, W + 2 shift, C)
    dy = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=generator).to(x.device)
    rows = torch.arange(height, device=x.device).view(1, height, 1) + dy
    cols = torch.arange(width, device=x.device).view(1, 1, width) + dx
    return padded[torch.arange(n, device=x.device).view(n, 1, 1), rows, cols].reshape(n, -1)


def build_model(recipe: Recipe, image_shape: tuple[int, ...]) -> VAE:
    if recipe.architecture == "conv":
        return ConvVAE(image_shape, recipe.latent_size, recipe.hidden)
    return VAE(image_shape, recipe.latent_size, recipe.hidden)


# with a time budget, the steps that fit are planned from the time of the first
# PLAN_AFTER steps (or the first epoch, when it is shorter), then again after every epoch
PLAN_AFTER = 50


def train(
    recipe: Recipe,
    train_images: np.ndarray,
    log: Callable[[str], None] = print,
    device: str = "cpu",
    time_budget: float | None = None,
    progress: Callable[[int, int, float], None] | None = None,
) -> VAE:
    """Train a VAE on uint8 images (N, H, W) with ``recipe``; reproducible from its seed
    (and thread count). The run is ``recipe.steps`` optimisation steps when set, else
    ``recipe.epochs`` epochs. ``time_budget`` (seconds): as many of those steps as fit in
    it, planned from the time of the first ones and again after every epoch (the
    learning-rate schedule and the KL warm-up follow the plan). ``progress(step, steps,
    loss)`` after each epoch and at the end."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    image_shape = tuple(train_images.shape[1:])
    model = build_model(recipe, image_shape).to(device)
    if recipe.rate not in ("kl", "entropy"):
        raise ValueError(f"a recipe's rate is 'kl' or 'entropy', not {recipe.rate!r}")
    prior = FactorizedPrior(recipe.latent_size).to(device) if recipe.rate == "entropy" else None
    parameters = list(model.parameters()) + ([] if prior is None else list(prior.parameters()))
    optimizer = torch.optim.Adam(parameters, lr=recipe.learning_rate)
    data = to_tensor(train_images).to(device)
    n = len(data)
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total_steps = recipe.steps if recipe.steps else recipe.epochs * steps_per_epoch
    planned_steps = total_steps
    step = 0
    started = time.perf_counter()
    epoch = 0
    while step < total_steps:
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        total, seen = 0.0, 0
        for i in range(0, n, recipe.batch_size):
            if step >= total_steps:
                break
            if recipe.lr_schedule == "cosine":
                lr = 0.5 * recipe.learning_rate * (1 + math.cos(math.pi * step / total_steps))
                for group in optimizer.param_groups:
                    group["lr"] = lr
            x = data[order[i : i + recipe.batch_size]]
            if recipe.shift:
                x = random_shift(x, image_shape, recipe.shift, generator, recipe.shift_fill)
            if prior is not None:  # rate-distortion: noisy rounding, learned prior
                mu, logvar = model.encode(x)
                u = torch.rand(mu.shape, generator=generator).to(device) - 0.5
                y = mu + recipe.rate_step * u
                logits = model.decode_logits(y)
            elif recipe.quant_noise:
                mu, logvar = model.encode(x)
                u = torch.rand(mu.shape, generator=generator).to(device) - 0.5
                logits = model.decode_logits(mu + recipe.quant_noise * u)
            else:
                logits, mu, logvar = model(x)
            bce, kl = loss_terms(logits, x, mu, logvar)
            if recipe.distortion == "mse":
                distortion = squared_error(logits, x) / (2 * recipe.mse_sigma**2)
            else:
                distortion = bce
            rate = kl if prior is None else prior.nats(y, recipe.rate_step)
            beta = recipe.beta
            if recipe.kl_warmup > 0:
                beta *= min(1.0, step / (recipe.kl_warmup * total_steps))
            loss = distortion + beta * rate
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            seen += len(x)
            step += 1
            if time_budget is not None and (step == PLAN_AFTER or i + recipe.batch_size >= n):
                # the steps that fit in the budget, planned after the first PLAN_AFTER steps
                # (or the first epoch) and again after every epoch, from the time per step
                # so far (the schedule's horizon moves with it)
                per_step = (time.perf_counter() - started) / step
                total_steps = max(step, min(planned_steps, int(time_budget / per_step)))
        epoch += 1
        log(
            f"epoch {epoch} (step {step}/{total_steps}): train loss {total / max(seen, 1):.2f} "
            f"nats/image ({time.perf_counter() - start:.1f} s)"
        )
        if progress:
            progress(step, total_steps, total / max(seen, 1))
    return model.cpu().eval()


def test_loss(model: VAE, images: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Negative ELBO (BCE + KL, beta = 1) per image with one sampled z, in nats."""
    torch.manual_seed(seed)
    with torch.no_grad():
        x = to_tensor(images)
        logits, mu, logvar = model(x)
        bce, kl = loss_terms(logits, x, mu, logvar)
    n = len(images)
    return {
        "test_loss_nats": float(bce + kl) / n,
        "test_bce_nats": float(bce) / n,
        "test_kl_nats": float(kl) / n,
    }
