"""A model's or a quality level's figures, measured through the real codec.

Whatever is measured goes through ``vaecodec.codec`` with a ``Zoo`` that holds it, so a
model being trained or a level being fitted is measured exactly as the installed codec
would run it (whole files, no names).
"""

from __future__ import annotations

import numpy as np

from .. import codec
from ..core.pixels import to_unit
from ..zoo import Level, ModelInfo, Zoo
from . import metrics


def evaluate_model(info: ModelInfo, test_images: np.ndarray, quant_step: float,
                   zoo: Zoo | None = None) -> dict[str, float]:
    """Test-split figures of a model at an explicit step (zstd): bytes per image, PSNR and
    SSIM of the decoded files, and the PSNR of the unquantized latent means."""
    zoo = (Zoo() if zoo is None else zoo).with_models(info)
    data = codec.encode(test_images, quant_step=quant_step, model=info.name, zoo=zoo)
    decoded = codec.decode(data, zoo=zoo)
    net = zoo.vae(info)
    recon_mu = net.decode_pixels(net.encode_mean(to_unit(test_images)))
    return {
        "quant_step": quant_step,
        "bytes_per_image": len(data) / len(test_images),
        "psnr_db": metrics.psnr(test_images, decoded),
        "ssim": metrics.ssim(test_images, decoded),
        "psnr_db_unquantized": metrics.psnr(test_images, recon_mu.reshape(test_images.shape)),
    }


def measure_level(level: Level, test_images: np.ndarray, zoo: Zoo,
                  split: str = "MNIST test", single_images: int = 1000,
                  family: str | None = None) -> dict:
    """A level's ``measured`` figures: whole files of ``test_images`` with each coder,
    PSNR and SSIM, and the size of one-image files (of the first ``single_images``).
    ``zoo`` must hold the level (``Zoo.with_levels``) and its model; ``family``: the model
    family it is a level of (default: the shipped one)."""
    zoo = zoo.with_levels(level)
    sizes = {}
    for coder in ("range", "zstd"):
        data = codec.encode(test_images, quality=level.level, coder=coder, model=family,
                            zoo=zoo)
        sizes[coder] = len(data)
    decoded = codec.decode(data, zoo=zoo)
    single = [len(codec.encode(image, quality=level.level, model=family, zoo=zoo))
              for image in test_images[:single_images]]
    return {
        "split": split, "images": int(len(test_images)),
        "bytes_per_image": sizes["range"] / len(test_images),
        "bytes_per_image_zstd": sizes["zstd"] / len(test_images),
        "psnr_db": metrics.psnr(test_images, decoded),
        "ssim": metrics.ssim(test_images, decoded),
        "single_image_file_bytes_mean": float(np.mean(single)),
        "single_image_file_bytes_max": int(np.max(single)),
    }
