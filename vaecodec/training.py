"""Training recipes for the VAE (needs the ``train`` extra: torch and torchvision).

``scripts/train.py`` is the command-line entry point; everything worth testing lives here.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import time
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch.nn import functional as F

from .model import VAE, ConvVAE, loss_terms, squared_error

MNIST_RAW_FILES = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)


@dataclasses.dataclass(frozen=True)
class Recipe:
    name: str
    hidden: tuple[int, ...] = (400,)
    latent_size: int = 20
    beta: float = 1.0  # weight of the KL term
    # "bce": BCE + beta KL; "mse": SSE / (2 mse_sigma^2) + beta KL (a Gaussian decoder
    # with fixed sigma: the distortion PSNR measures)
    distortion: str = "bce"
    mse_sigma: float = 0.1
    architecture: str = "mlp"  # or "conv" (ConvVAE, hidden = its two channel counts)
    epochs: int = 10
    batch_size: int = 128
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # or "cosine"
    # data augmentation: each training image moved by a random whole-pixel offset of up to
    # +-shift in each direction (zero fill), drawn afresh every time the image is used
    shift: int = 0
    # quantization-aware training: when > 0, the decoder sees mu + u, u uniform in
    # +-quant_noise/2 (the error of rounding mu at that step), instead of a sample of
    # N(mu, sigma^2); the KL term stays (with sigma unused, its mu^2 / 2 is the rate term)
    quant_noise: float = 0.0
    seed: int = 1

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["hidden"] = list(self.hidden)
        return d


RECIPES = {
    # The reference: pytorch/examples' VAE (784-400-20, BCE + KL, Adam 1e-3, batch 128, 10 epochs).
    "seed": Recipe(name="seed"),
    # The shipped default: a deeper MLP, a longer cosine schedule and a lighter KL weight
    # (docs/training.md has the sweep behind each choice).
    "default": Recipe(
        name="default", hidden=(512, 256), beta=0.3, epochs=60, lr_schedule="cosine"
    ),
    # The model of the upper quality levels: wider, trained on the squared error PSNR
    # measures (a Gaussian decoder with fixed sigma 0.05) instead of BCE.
    "mse-s05": Recipe(name="mse-s05", hidden=(1024, 512), distortion="mse", mse_sigma=0.05,
                      epochs=30, lr_schedule="cosine"),
    # The same network and loss on training images shifted by up to one pixel, trained
    # longer: without the shifts, longer training overfits (docs/training.md).
    "mse-s05-aug1": Recipe(name="mse-s05-aug1", hidden=(1024, 512), distortion="mse",
                           mse_sigma=0.05, epochs=100, lr_schedule="cosine", shift=1),
    # Shifts of up to two pixels: measured, not shipped (worse than one; docs/training.md).
    "mse-s05-aug2": Recipe(name="mse-s05-aug2", hidden=(1024, 512), distortion="mse",
                           mse_sigma=0.05, epochs=100, lr_schedule="cosine", shift=2),
}


def load_mnist(root: str | Path, train: bool, download: bool = True) -> np.ndarray:
    """MNIST images as a uint8 array (N, 28, 28) through torchvision (downloads when online)."""
    from torchvision.datasets import MNIST

    dataset = MNIST(root=str(root), train=train, download=download)
    return dataset.data.numpy().astype(np.uint8)


def mnist_checksums(root: str | Path) -> dict[str, str]:
    """sha256 of each MNIST raw file that torchvision read under ``root``."""
    raw = Path(root) / "MNIST" / "raw"
    out = {}
    for name in MNIST_RAW_FILES:
        path = raw / name
        if path.is_file():
            out[name] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _to_float(images: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(images).float().div_(255.0).reshape(len(images), -1)


def random_shift(x: torch.Tensor, shift: int, generator: torch.Generator) -> torch.Tensor:
    """Flattened 28x28 images x (N, 784), each moved by its own random offset in
    -shift..shift rows and columns; pixels moved in from outside are 0."""
    n = len(x)
    padded = F.pad(x.reshape(n, 28, 28), (shift, shift, shift, shift))
    dy = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=generator).to(x.device)
    dx = torch.randint(0, 2 * shift + 1, (n, 1, 1), generator=generator).to(x.device)
    grid = torch.arange(28, device=x.device)
    rows, cols = grid.view(1, 28, 1) + dy, grid.view(1, 1, 28) + dx
    return padded[torch.arange(n, device=x.device).view(n, 1, 1), rows, cols].reshape(n, -1)


def train(
    recipe: Recipe,
    train_images: np.ndarray,
    log: Callable[[str], None] = print,
    device: str = "cpu",
) -> VAE:
    """Train a VAE on uint8 images (N, 28, 28) with ``recipe``; reproducible from its seed."""
    torch.manual_seed(recipe.seed)
    generator = torch.Generator().manual_seed(recipe.seed)
    if recipe.architecture == "conv":
        model = ConvVAE(recipe.latent_size, recipe.hidden).to(device)
    else:
        model = VAE(recipe.latent_size, recipe.hidden).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=recipe.learning_rate)
    data = _to_float(train_images).to(device)
    n = len(data)
    steps_per_epoch = math.ceil(n / recipe.batch_size)
    total_steps = recipe.epochs * steps_per_epoch
    step = 0
    for epoch in range(recipe.epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(device)
        total = 0.0
        for i in range(0, n, recipe.batch_size):
            if recipe.lr_schedule == "cosine":
                lr = 0.5 * recipe.learning_rate * (1 + math.cos(math.pi * step / total_steps))
                for group in optimizer.param_groups:
                    group["lr"] = lr
            x = data[order[i : i + recipe.batch_size]]
            if recipe.shift:
                x = random_shift(x, recipe.shift, generator)
            if recipe.quant_noise:
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
            loss = distortion + recipe.beta * kl
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item()
            step += 1
        log(
            f"epoch {epoch + 1}/{recipe.epochs}: train loss {total / n:.2f} nats/image "
            f"({time.perf_counter() - start:.1f} s)"
        )
    return model.cpu().eval()


@torch.no_grad()
def test_loss(model: VAE, images: np.ndarray, seed: int = 0) -> dict[str, float]:
    """Negative ELBO (BCE + KL, beta = 1) per image with one sampled z, in nats."""
    torch.manual_seed(seed)
    x = _to_float(images)
    logits, mu, logvar = model(x)
    bce, kl = loss_terms(logits, x, mu, logvar)
    n = len(images)
    return {
        "test_loss_nats": float(bce + kl) / n,
        "test_bce_nats": float(bce) / n,
        "test_kl_nats": float(kl) / n,
    }


def _named_linears(model: VAE) -> dict[str, torch.nn.Linear]:
    """Every linear layer under the name ``vaecodec.runtime`` reads it by."""
    named = {}
    for part in ("encoder", "decoder"):
        layers = [m for m in getattr(model, part).modules() if isinstance(m, torch.nn.Linear)]
        named.update({f"{part}.{i}": layer for i, layer in enumerate(layers)})
    named["mu"], named["logvar"] = model.to_mu, model.to_logvar
    return named


def export_weights(model: VAE) -> dict[str, np.ndarray]:
    """The model's tensors as float32 numpy arrays, named as ``vaecodec.runtime`` reads them."""
    tensors = {}
    for name, layer in _named_linears(model).items():
        tensors[f"{name}.weight"] = layer.weight.detach().numpy()
        tensors[f"{name}.bias"] = layer.bias.detach().numpy()
    return {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in tensors.items()}


def import_weights(tensors: dict[str, np.ndarray], latent_size: int, hidden) -> VAE:
    """The inverse of ``export_weights``: a torch model holding exported tensors."""
    model = VAE(latent_size, hidden)
    with torch.no_grad():
        for name, layer in _named_linears(model).items():
            layer.weight.copy_(torch.from_numpy(np.asarray(tensors[f"{name}.weight"])))
            layer.bias.copy_(torch.from_numpy(np.asarray(tensors[f"{name}.bias"])))
    return model.eval()


def evaluate(model_file_tensors: dict[str, np.ndarray], test_images: np.ndarray,
             quant_step: float) -> dict[str, float]:
    """Test-split figures of exported weights through the codec's own numpy path."""
    from . import container, metrics, quantize
    from .runtime import NumpyVAE, to_uint8

    net = NumpyVAE(model_file_tensors)
    pixels = test_images.reshape(len(test_images), -1).astype(np.float32) / np.float32(255.0)
    mu = net.encode_mean(pixels)
    symbols = quantize.quantize(mu, quant_step)
    header = container.Header(
        model_id=bytes(32), latent_size=net.latent_size, image_shape=(28, 28),
        count=len(test_images), quant_step=quant_step, symbol_dtype=symbols.dtype.name,
    )
    size = len(container.pack(header, container.zstd_payload(symbols, symbols.dtype.name)))
    recon = to_uint8(net.decode(quantize.dequantize(symbols, quant_step))).reshape(-1, 28, 28)
    recon_mu = to_uint8(net.decode(mu)).reshape(-1, 28, 28)
    return {
        "quant_step": quant_step,
        "bytes_per_image": size / len(test_images),
        "psnr_db": metrics.psnr(test_images, recon),
        "ssim": metrics.ssim(test_images, recon),
        "psnr_db_unquantized": metrics.psnr(test_images, recon_mu),
    }


def save_checkpoint(model: VAE, recipe: Recipe, out_dir: Path, test_images: np.ndarray,
                    data_root: str | Path, train_seconds: float) -> tuple[Path, Path]:
    """Write NAME.safetensors and NAME.json (metadata with test metrics) into ``out_dir``."""
    import json
    import platform

    from safetensors.numpy import save_file

    from .quantize import DEFAULT_STEP

    out_dir.mkdir(parents=True, exist_ok=True)
    name = f"vae-{recipe.name}"
    weights_path = out_dir / f"{name}.safetensors"
    tensors = export_weights(model)
    save_file(tensors, str(weights_path), metadata={
        "format": "vaecodec-mlp-vae", "latent_size": str(recipe.latent_size),
        "hidden": ",".join(map(str, recipe.hidden)),
    })
    sha = hashlib.sha256(weights_path.read_bytes()).hexdigest()
    metadata = {
        "name": name,
        "weights_file": weights_path.name,
        "weights_sha256": sha,
        "architecture": {"type": "mlp-vae", "latent_size": recipe.latent_size,
                         "hidden": list(recipe.hidden), "image_shape": [28, 28]},
        "recipe": recipe.to_dict(),
        "data": {"dataset": "MNIST", "train_split": "train (60,000 images)",
                 "test_split": "test (10,000 images)", "sha256": mnist_checksums(data_root)},
        "test_metrics": {**test_loss(model, test_images),
                         **evaluate(tensors, test_images, DEFAULT_STEP)},
        "train_seconds": round(train_seconds, 1),
        "trained_with": {"torch": torch.__version__, "python": platform.python_version(),
                         "threads": torch.get_num_threads()},
    }
    meta_path = out_dir / f"{name}.json"
    meta_path.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")
    return weights_path, meta_path
