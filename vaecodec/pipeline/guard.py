"""The quality guard: lossy images that reconstruct far below what their level measured on
the model's own data are "unlike the model's data", and say so (a ``QualityWarning``, or
with ``strict`` a ``QualityError``). It measures a sample of each file (or chunk)."""

from __future__ import annotations

import dataclasses
import math
import warnings
from typing import TYPE_CHECKING, Callable

import numpy as np

from ..core import quantize
from ..errors import QualityError, QualityWarning

if TYPE_CHECKING:
    from .settings import Settings


#: The quality guard: images whose PSNR together falls more than GUARD_MARGIN_DB +
#: GUARD_SMALL_DB / sqrt(n) below what the level measured on the model's own data are
#: "unlike the model's data" (a few images vary more than many; chosen from measurements,
#: benchmarks/guard_rates.py, docs/notes/benchmarks.md); an image GUARD_IMAGE_DB below is counted.
GUARD_MARGIN_DB = 4.0
GUARD_SMALL_DB = 4.0
GUARD_IMAGE_DB = 6.0
GUARD_SAMPLE = 1000  # images measured at most (evenly spaced), so the guard costs little
GUARD_CHUNK_SAMPLE = 256  # images of each chunk the guard measures at most



@dataclasses.dataclass(frozen=True)
class QualityReport:
    """How well images reconstruct at a level, against what the level measured on the
    model's own (test or validation) images."""

    images: int
    measured: int  # images measured (all, or GUARD_SAMPLE evenly spaced)
    psnr_db: float  # of the measured images, together
    expected_psnr_db: float  # the level's, on the model's own data
    far_below: int  # images estimated more than GUARD_IMAGE_DB below expected_psnr_db
    model: str
    level: int

    @property
    def margin_db(self) -> float:
        """How far below the expected PSNR the images may fall before ``poor``."""
        return GUARD_MARGIN_DB + GUARD_SMALL_DB / math.sqrt(self.measured)

    @property
    def poor(self) -> bool:
        return self.psnr_db < self.expected_psnr_db - self.margin_db

    @classmethod
    def combine(cls, reports: list["QualityReport"]) -> "QualityReport | None":
        """One report for the images of several (shards of one data set): their squared
        errors averaged over all the images measured."""
        reports = [r for r in reports if r is not None]
        if not reports:
            return None
        measured = sum(r.measured for r in reports)
        mse = sum(255.0**2 / 10 ** (r.psnr_db / 10) * r.measured for r in reports) / measured
        first = reports[0]
        return cls(sum(r.images for r in reports), measured,
                   float(10 * np.log10(255.0**2 / max(mse, 1e-3))), first.expected_psnr_db,
                   sum(r.far_below for r in reports), first.model, first.level)

    def message(self) -> str:
        share = (f"{self.far_below} of {self.images} images" if self.measured == self.images
                 else f"about {self.far_below} of {self.images} images (measured on "
                      f"{self.measured})")
        return (f"these images reconstruct at {self.psnr_db:.1f} dB PSNR, far below the "
                f"{self.expected_psnr_db:.1f} dB model {self.model} reaches at level "
                f"{self.level} on images like its own; {share} are more than "
                f"{GUARD_IMAGE_DB:g} dB below. They are unlike what the model was trained on: "
                "use --lossless or --max-error K for exact or bounded pixels, or train a "
                "model on them (vaecodec train)")


def check_quality(settings: "Settings", pixels: np.ndarray, symbols: np.ndarray
                  ) -> QualityReport | None:
    """The quality guard's figures for uint8 images (N, H * W) coded as ``symbols`` at a
    level (None for an explicit step, or a level without a measured PSNR): GUARD_SAMPLE
    of them at most, evenly spaced, are decoded and compared."""
    tally = GuardTally(settings, GUARD_SAMPLE)
    tally.add(pixels, symbols)
    return tally.report()


def guard(settings: Settings, pixels: np.ndarray, symbols: np.ndarray, strict: bool,
           on_quality: Callable[[QualityReport], None] | None) -> None:
    report = check_quality(settings, pixels, symbols)
    if report is not None and on_quality is not None:
        on_quality(report)
    judge(report, strict, stacklevel=5)


def judge(report: QualityReport | None, strict: bool, stacklevel: int) -> None:
    """A ``QualityWarning`` for a poor report, or with ``strict`` a ``QualityError``."""
    if report is None or not report.poor:
        return
    if strict:
        raise QualityError(report.message().replace("these images", "refused (strict): "
                                                    "these images", 1))
    warnings.warn(QualityWarning(report.message(), report), stacklevel=stacklevel)


class GuardTally:
    """The quality guard's figures summed over a file's chunks: up to ``per_chunk``
    images of each chunk (GUARD_CHUNK_SAMPLE), evenly spaced, are decoded and compared."""

    def __init__(self, settings: Settings, per_chunk: int = 0):
        self.settings = settings
        self.per_chunk = per_chunk or GUARD_CHUNK_SAMPLE
        self.images = self.measured = 0
        self.mse_sum = self.below = 0.0

    def add(self, pixels: np.ndarray, symbols: np.ndarray) -> None:
        expected = self.settings.level.measured.get("psnr_db") if self.settings.level else None
        if expected is None:
            return
        count = len(symbols)
        rows = (np.arange(count) if count <= self.per_chunk
                else np.linspace(0, count - 1, self.per_chunk).astype(np.int64))
        decoded = self.settings.vae().decode_pixels(
            quantize.dequantize(symbols[rows], self.settings.quant_step))
        error = decoded.astype(np.float32) - pixels[rows]
        mse = np.maximum(np.mean(error * error, axis=1), 1e-3)
        per_image = 10 * np.log10(255.0**2 / mse)
        self.images += count
        self.measured += len(rows)
        self.mse_sum += float(mse.sum())
        self.below += np.count_nonzero(per_image < expected - GUARD_IMAGE_DB) * count / len(rows)

    def report(self) -> QualityReport | None:
        level = self.settings.level
        if not self.measured or level is None:  # measured only at a level (``add``)
            return None
        together = float(10 * np.log10(255.0**2 / max(self.mse_sum / self.measured, 1e-3)))
        return QualityReport(self.images, self.measured, together,
                             float(level.measured["psnr_db"]), int(round(self.below)),
                             self.settings.model.name, level.level)

