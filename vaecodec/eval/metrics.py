"""Distortion metrics on uint8 images, as a user sees them (numpy only)."""

from __future__ import annotations

import numpy as np


def psnr(original: np.ndarray, reconstructed: np.ndarray) -> float:
    """PSNR in dB from the mean squared error over the whole set (peak 255)."""
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(reconstructed, dtype=np.float64)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0.0:
        return float("inf")
    return 10.0 * np.log10(255.0**2 / mse)


def psnr_per_image(original: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """PSNR of each image (N, H, W) or (N, H, W, C) in dB (the squared error over every
    channel); inf where an image is exact."""
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(reconstructed, dtype=np.float64)
    mse = np.mean((a - b) ** 2, axis=tuple(range(1, a.ndim)))
    with np.errstate(divide="ignore"):
        return 10.0 * np.log10(255.0**2 / mse)


def _gaussian_window(size: int = 11, sigma: float = 1.5) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    w = np.exp(-(x**2) / (2 * sigma**2))
    return w / w.sum()


def _filter_valid(images: np.ndarray, window: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of (N, H, W) or (N, H, W, C) images with a 1-d window
    on both spatial axes (each channel on its own)."""
    k = len(window)
    h, w = images.shape[1:3]
    rows = sum(window[i] * images[:, i : h - k + 1 + i, :] for i in range(k))
    return sum(window[j] * rows[:, :, j : w - k + 1 + j] for j in range(k))


def ssim_per_image(original: np.ndarray, reconstructed: np.ndarray) -> np.ndarray:
    """SSIM (Wang et al. 2004) of each image: 11x11 Gaussian window, sigma 1.5,
    K1 = 0.01, K2 = 0.03, L = 255, mean over the valid region (no padding) and, for
    images of several channels, over the channels. Images smaller than the window (8x8
    sprites) get the largest odd window that fits them."""
    a = np.asarray(original, dtype=np.float64)
    b = np.asarray(reconstructed, dtype=np.float64)
    if a.ndim == 2:
        a, b = a[None], b[None]
    fits = min(11, *a.shape[1:3])
    window = _gaussian_window(fits - (1 - fits % 2))
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    mu_a, mu_b = _filter_valid(a, window), _filter_valid(b, window)
    var_a = _filter_valid(a * a, window) - mu_a**2
    var_b = _filter_valid(b * b, window) - mu_b**2
    cov = _filter_valid(a * b, window) - mu_a * mu_b
    ssim_map = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / (
        (mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2)
    )
    return ssim_map.mean(axis=tuple(range(1, ssim_map.ndim)))


def ssim(original: np.ndarray, reconstructed: np.ndarray, batch: int = 2000) -> float:
    """Mean SSIM over a set of images (see ``ssim_per_image``)."""
    a, b = np.asarray(original), np.asarray(reconstructed)
    if a.ndim == 2:
        a, b = a[None], b[None]
    parts = [ssim_per_image(a[i : i + batch], b[i : i + batch]) for i in range(0, len(a), batch)]
    return float(np.concatenate(parts).mean())
