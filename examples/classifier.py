"""A small classifier (LeNet-5 sized) to measure what compression costs a model trained on
the decoded images (benchmarks/bench_learning.py, examples/train_classifier.py)."""

from __future__ import annotations

import torch
from torch import nn


def lenet(classes: int = 10, image_shape: tuple[int, int] = (28, 28)) -> nn.Module:
    """LeNet-5 for grayscale images of ``image_shape`` (padding 2 on the first
    convolution, as LeNet-5 on MNIST)."""
    # each side: kept by the padded 5x5 convolution, halved, less 4 by the second, halved
    h, w = ((side // 2 - 4) // 2 for side in image_shape)
    if h < 1 or w < 1:
        raise ValueError(f"LeNet-5 needs images of at least 12x12, not {image_shape}")
    return nn.Sequential(
        nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
        nn.Linear(16 * h * w, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(),
        nn.Linear(84, classes))


def fit(model: nn.Module, loader, epochs: int, learning_rate: float = 1e-3,
        log=None) -> nn.Module:
    """Adam on cross-entropy over ``loader``'s (images (B, 1, H, W), labels) batches."""
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        model.train()
        total, seen = 0.0, 0
        for images, labels in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(images), labels)
            loss.backward()
            optimizer.step()
            total += loss.item() * len(labels)
            seen += len(labels)
        if log:
            log(f"epoch {epoch + 1}/{epochs}: loss {total / seen:.4f}")
    return model


@torch.no_grad()
def accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
             batch: int = 1000) -> float:
    """Share of ``images`` (N, 1, H, W) float in [0, 1] classified as ``labels``."""
    model.eval()
    right = 0
    for i in range(0, len(images), batch):
        right += int((model(images[i : i + batch]).argmax(1) == labels[i : i + batch]).sum())
    return right / len(images)
