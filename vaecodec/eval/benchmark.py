"""Rate-distortion benchmark: vaecodec against PNG and the classical codecs.

Every codec sits behind one small ``Codec`` interface and runs on the same uint8 images.
``run`` measures them into a JSON-ready dict (schema: docs/notes/benchmarks.md#json-schema);
``plot`` draws the rate-distortion figure from that dict alone; ``picture`` shows the same
digits through several codecs. ``benchmarks/rd_benchmark.py`` is the command-line entry point.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import lzma
import math
import platform
import time
from typing import Callable, Sequence

import numpy as np
from PIL import Image, features

from .. import codec as vae_codec
from ..core.parallel import map_chunks, worker_count
from ..format import shapes
from ..zoo import Zoo
from . import metrics

SCHEMA = "vaecodec-rd/1"
PSNR_CAP_DB = 100.0  # per-image PSNR of an exactly reconstructed image, for the mean

VAECODEC_STEPS = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0)
JPEG_QUALITIES = (5, 10, 20, 30, 50, 70, 90, 95)
WEBP_QUALITIES = (0, 5, 10, 20, 30, 50, 70, 90, 95)
AVIF_QUALITIES = (0, 20, 50, 80)  # AVIF and JPEG XL encode at ~200-600 images/s per core:
JXL_QUALITIES = (10, 30, 60, 90)  # four points each keep the 10k run within minutes
MAX_ERRORS = (1, 2, 4, 8, 16, 32)
#: Published lossless results on 8-bit MNIST (not run here): reference lines in the plot.
PUBLISHED_LOSSLESS = (
    {"name": "Bit-Swap (Kingma et al. 2019)", "bits_per_pixel": 1.29},
    {"name": "BB-ANS (Townsend et al. 2019)", "bits_per_pixel": 1.4},
)


# --- the codec interface -------------------------------------------------------------------
@dataclasses.dataclass
class Codec:
    """One codec at one setting: ``encode`` turns (N, H, W) uint8 images into blobs (one
    per image, or one for the whole set); ``decode(blobs, (N, H, W))`` turns the blobs back
    into images.
    The bytes counted are the blobs' total length: every header included."""

    family: str  # the curve this point belongs to, e.g. "JPEG"
    setting: str  # e.g. "q=50"
    encode: Callable[[np.ndarray], list[bytes]]
    decode: Callable[[list[bytes], tuple[int, int, int]], np.ndarray]
    classical: bool = True
    lossless: bool = False
    param: float | None = None  # the knob's value, for sorting


def pillow_encode(fmt: str, save_args: dict, images: np.ndarray) -> list[bytes]:
    """Each image (uint8 (N, H, W) or (N, H, W, C)) as one file of Pillow format ``fmt``."""
    blobs = []
    for image in images:
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format=fmt, **save_args)
        blobs.append(buf.getvalue())
    return blobs


def pillow_decode(blobs: list[bytes], shape: tuple[int, int, int]) -> np.ndarray:
    """The images (uint8 ``shape``: (N, H, W), or (N, H, W, C) in C's mode) of
    ``pillow_encode``'s files."""
    out = np.empty(shape, dtype=np.uint8)
    mode = shapes.MODES[shapes.channels(shape[1:])]
    for i, blob in enumerate(blobs):
        with Image.open(io.BytesIO(blob)) as image:
            out[i] = np.asarray(image.convert(mode))
    return out


CHUNK = 500  # images per task when a per-image codec runs on every core


def _pillow_codec(family: str, setting: str, fmt: str, save_args: dict,
                  lossless: bool = False, param=None) -> Codec:
    """One file per image through Pillow, spread over every core like vaecodec's own
    reading (numpy uses every core for vaecodec's networks too)."""
    def encode(images: np.ndarray) -> list[bytes]:
        chunks = [images[i : i + CHUNK] for i in range(0, len(images), CHUNK)]
        work = functools.partial(pillow_encode, fmt, save_args)
        return [b for part in map_chunks(work, chunks, worker_count(len(chunks), 2))
                for b in part]

    def decode(blobs: list[bytes], shape: tuple[int, int, int]) -> np.ndarray:
        chunks = [blobs[i : i + CHUNK] for i in range(0, len(blobs), CHUNK)]
        work = functools.partial(_decode_chunk, shape=shape[1:])
        parts = list(map_chunks(work, chunks, worker_count(len(chunks), 2)))
        return np.concatenate(parts)

    return Codec(family, setting, encode, decode, lossless=lossless, param=param)


def _decode_chunk(blobs: list[bytes], shape: tuple[int, int]) -> np.ndarray:
    return pillow_decode(blobs, (len(blobs), *shape))


def _atlas_codec() -> Codec:
    """All images tiled into one PNG (a grid of image-sized cells)."""

    def encode(images: np.ndarray) -> list[bytes]:
        n, h, w = images.shape[:3]
        rest = images.shape[3:]  # the channels, if any
        cols = math.ceil(math.sqrt(n))
        rows = math.ceil(n / cols)
        grid = np.zeros((rows * cols, h, w, *rest), dtype=np.uint8)
        grid[:n] = images
        atlas = grid.reshape(rows, cols, h, w, *rest).swapaxes(1, 2).reshape(
            rows * h, cols * w, *rest)
        buf = io.BytesIO()
        Image.fromarray(atlas).save(buf, format="PNG", optimize=True)
        return [buf.getvalue()]

    def decode(blobs: list[bytes], shape: tuple[int, ...]) -> np.ndarray:
        count, h, w = shape[:3]
        rest = tuple(shape[3:])
        mode = shapes.MODES[shapes.channels(shape[1:])]
        atlas = np.asarray(Image.open(io.BytesIO(blobs[0])).convert(mode))
        rows, cols = atlas.shape[0] // h, atlas.shape[1] // w
        cells = atlas.reshape(rows, h, cols, w, *rest).swapaxes(1, 2).reshape(-1, h, w, *rest)
        return cells[:count].copy()

    return Codec("PNG atlas", "optimize", encode, decode, lossless=True)


def _raw_codec(family: str, compress, decompress) -> Codec:
    """A general-purpose compressor over the raw (N, H, W) pixel array."""

    def encode(images: np.ndarray) -> list[bytes]:
        return [compress(np.ascontiguousarray(images).tobytes())]

    def decode(blobs: list[bytes], shape: tuple[int, int, int]) -> np.ndarray:
        return np.frombuffer(decompress(blobs[0]), dtype=np.uint8).reshape(shape)

    return Codec(family, "max", encode, decode, lossless=True)


LEVELS_FAMILY = "vaecodec levels"
# The first level of each series of the shipped family's levels released together: levels
# are numbered by quality within a series, not overall (1-9; the rate-distortion levels
# 10-13; level 14, the cheapest, made for encode(search=True))
LEVEL_SERIES = (1, 10, 14)
# The shipped family's levels in vaecodec 2.0.0, the first series (1-9, before the
# rate-distortion-trained levels): the plot draws their curve too, to show what the later
# levels moved
EARLIER_LEVELS = LEVEL_SERIES[1] - 1


def level_series(level: int) -> int:
    """The series (index into LEVEL_SERIES) of a shipped level number."""
    return sum(level >= first for first in LEVEL_SERIES) - 1


def _vae_codec(family: str, setting: str, param: float, lossless: bool = False,
               **settings) -> Codec:
    """One vaecodec point: ``vaecodec.encode(images, **settings)`` as one file, decoded by
    ``vaecodec.decode``."""
    return Codec(family, setting, lambda images: [vae_codec.encode(images, **settings)],
                 lambda blobs, shape: vae_codec.decode(blobs[0]), classical=False,
                 lossless=lossless, param=param)


def _vaecodec_codecs(family: str | None = None) -> list[Codec]:
    """Every quality level with each payload coder, and each model at explicit steps (of
    ``family``: its levels and its VAE; default: the shipped family)."""
    zoo = Zoo.installed()
    if family is not None and family != "mnist":
        vae = zoo.find(zoo.family(family).vae)
        return ([_vae_codec(LEVELS_FAMILY, f"q={lv.level}", lv.level, quality=lv.level,
                            model=family) for lv in zoo.levels(family)]
                + [_vae_codec(f"vaecodec {vae.name} (steps, zstd)", f"step={step:g}", step,
                              quant_step=step, model=vae.name) for step in VAECODEC_STEPS])
    out = []
    for coder, name in (("range", LEVELS_FAMILY), ("zstd", LEVELS_FAMILY + " (zstd)")):
        out += [_vae_codec(name, f"q={lv.level}", lv.level, quality=lv.level, coder=coder)
                for lv in zoo.levels()]
    for model in zoo.models():
        if model.metadata.get("family") is not None:  # another family's (Fashion-MNIST's)
            continue
        out += [_vae_codec(f"vaecodec {model.name} (steps, zstd)", f"step={step:g}", step,
                           quant_step=step, model=model.name) for step in VAECODEC_STEPS]
    return out


SEARCH_FAMILY = LEVELS_FAMILY + " --search"


def _search_codecs(family: str | None = None) -> list[Codec]:
    """Every quality level of ``family`` (default: the shipped one) with the latent search
    (``encode(search=True)``, range coder): the same decoder, a slower encoder."""
    model = None if family in (None, "mnist") else family
    return [_vae_codec(SEARCH_FAMILY, f"q={lv.level}", lv.level, quality=lv.level, model=model,
                       search=True) for lv in Zoo.installed().levels(model)]


RESIDUAL_FAMILY = "vaecodec max-error"


def _residual_codecs(model: str | None = None) -> list[Codec]:
    """The residual layer: lossless, and every pixel within +-K for K in MAX_ERRORS (with
    the pixel model of family ``model``; default: the shipped one)."""
    return ([_vae_codec("vaecodec lossless", "K=0", 0, lossless=True, model=model,
                        max_error=0)]
            + [_vae_codec(RESIDUAL_FAMILY, f"K={k}", k, model=model, max_error=k)
               for k in MAX_ERRORS])


def available_codecs(family: str | None = None
                     ) -> tuple[dict[str, Callable[[], list[Codec]]], dict[str, str]]:
    """Codec groups by command-line name, and the groups unavailable here with why;
    vaecodec's with the model family ``family`` (default: the shipped one)."""
    import zstandard

    groups: dict[str, Callable[[], list[Codec]]] = {
        "vaecodec": lambda: _vaecodec_codecs(family),
        "vaecodec-search": lambda: _search_codecs(family),
        "vaecodec-residual": lambda: _residual_codecs(family),
        "png": lambda: [_pillow_codec("PNG", "optimize", "PNG", {"optimize": True}, True)],
        "png-atlas": lambda: [_atlas_codec()],
        "webp-lossless": lambda: [_pillow_codec("WebP lossless", "default", "WEBP",
                                                {"lossless": True}, True)],
        "jxl-lossless": lambda: [_pillow_codec("JPEG XL lossless", "effort 7", "JXL",
                                               {"lossless": True, "effort": 7}, True)],
        "jpeg": lambda: [_pillow_codec("JPEG", f"q={q}", "JPEG", {"quality": q, "optimize": True},
                                       param=q) for q in JPEG_QUALITIES],
        "webp": lambda: [_pillow_codec("WebP", f"q={q}", "WEBP", {"quality": q, "method": 6},
                                       param=q) for q in WEBP_QUALITIES],
        "avif": lambda: [_pillow_codec("AVIF", f"q={q}", "AVIF", {"quality": q, "speed": 8},
                                       param=q) for q in AVIF_QUALITIES],
        "jxl": lambda: [_pillow_codec("JPEG XL", f"q={q}", "JXL", {"quality": q, "effort": 7},
                                      param=q) for q in JXL_QUALITIES],
        "zstd": lambda: [_raw_codec("zstd (raw pixels)",
                                    zstandard.ZstdCompressor(level=22).compress,
                                    zstandard.ZstdDecompressor().decompress)],
        "lzma": lambda: [_raw_codec("lzma (raw pixels)",
                                    lambda b: lzma.compress(b, preset=9 | lzma.PRESET_EXTREME),
                                    lzma.decompress)],
    }
    missing: dict[str, str] = {}
    if not features.check("avif"):
        missing["avif"] = ("this Pillow has no AVIF support "
                           "(Pillow >= 11.3 wheels have it; or pip install pillow-avif-plugin)")
    try:
        import pillow_jxl  # noqa: F401  (registers the JXL format with Pillow)
    except ImportError:
        missing["jxl"] = missing["jxl-lossless"] = (
            "pillow-jxl-plugin is not installed (pip install -e '.[bench]')")
    for name in missing:
        groups.pop(name)
    return groups, missing


ALL_GROUPS = ("vaecodec", "vaecodec-search", "vaecodec-residual", "png", "png-atlas",
              "webp-lossless", "jxl-lossless", "jpeg", "webp", "avif", "jxl", "zstd", "lzma")


# --- measuring ----------------------------------------------------------------------------------
def measure(codec: Codec, images: np.ndarray) -> tuple[dict, np.ndarray]:
    """One point: sizes, distortion and speed of ``codec`` on ``images``."""
    n = len(images)
    start = time.perf_counter()
    blobs = codec.encode(images)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    decoded = codec.decode(blobs, images.shape)
    decode_s = time.perf_counter() - start
    total = sum(len(b) for b in blobs)
    exact = bool(np.array_equal(decoded, images))
    per_image = np.minimum(metrics.psnr_per_image(images, decoded), PSNR_CAP_DB)
    point = {
        "family": codec.family,
        "setting": codec.setting,
        "param": codec.param,
        "classical": codec.classical,
        "lossless": codec.lossless,
        "exact": exact,
        "bytes_total": total,
        "bytes_per_image": total / n,
        "bits_per_pixel": 8 * total / (n * images.shape[1] * images.shape[2]),
        "psnr_db": None if exact else metrics.psnr(images, decoded),
        "psnr_mean_db": None if exact else float(per_image.mean()),
        "ssim": 1.0 if exact else metrics.ssim(images, decoded),
        "max_abs_error": int(np.abs(decoded.astype(np.int16) - images).max()),
        "encode_images_per_s": n / encode_s if encode_s > 0 else None,
        "decode_images_per_s": n / decode_s if decode_s > 0 else None,
    }
    return point, decoded


def frontier(points: list[dict]) -> list[dict]:
    """The lossy points sorted by bytes that beat every cheaper one (the efficient
    frontier), so PSNR increases along it."""
    out: list[dict] = []
    for p in sorted((p for p in points if p["psnr_db"] is not None),
                    key=lambda p: (p["bytes_per_image"], -p["psnr_db"])):
        if not out or p["psnr_db"] > out[-1]["psnr_db"]:
            out.append(p)
    return out


def _curve(points: list[dict], family: str) -> tuple[np.ndarray, np.ndarray]:
    """(PSNR, log bytes) along a family's efficient frontier."""
    front = frontier([p for p in points if p["family"] == family])
    psnr = np.array([p["psnr_db"] for p in front])
    log_bytes = np.log(np.array([p["bytes_per_image"] for p in front]))
    return psnr, log_bytes


def compare_rates(points: list[dict], reference: str) -> list[dict]:
    """For each classical lossy family: bytes it needs / bytes ``reference`` needs at equal
    PSNR, interpolated (log bytes, linear in PSNR) where the two curves overlap."""
    ref_psnr, ref_log = _curve(points, reference)
    out = []
    families = sorted({p["family"] for p in points if p["classical"] and not p["lossless"]})
    for family in families:
        psnr, log_bytes = _curve(points, family)
        row = {"family": family, "reference": reference}
        if len(psnr) == 0 or len(ref_psnr) == 0:
            continue
        lo, hi = max(psnr[0], ref_psnr[0]), min(psnr[-1], ref_psnr[-1])
        if lo > hi:
            row.update(overlap_db=None, note=(
                f"no PSNR overlap: {family} spans {psnr[0]:.2f}-{psnr[-1]:.2f} dB "
                f"(from {math.exp(log_bytes[0]):.0f} B/image), {reference} spans "
                f"{ref_psnr[0]:.2f}-{ref_psnr[-1]:.2f} dB "
                f"(up to {math.exp(ref_log[-1]):.1f} B/image)"))
        else:
            grid = np.linspace(lo, hi, 25)
            ratios = np.exp(np.interp(grid, psnr, log_bytes) - np.interp(grid, ref_psnr, ref_log))
            row.update(overlap_db=[float(lo), float(hi)], ratio_min=float(ratios.min()),
                       ratio_max=float(ratios.max()), ratio_median=float(np.median(ratios)))
        out.append(row)
    return out


def run(images: np.ndarray, groups: Sequence[str], source: str,
        log: Callable[[str], None] = print, keep_first: int = 16,
        family: str | None = None, published: bool = True):
    """Measure every codec of ``groups`` on ``images`` (vaecodec's with model family
    ``family``). Returns (results dict, the first ``keep_first`` decoded images of every
    point, keyed by (family, setting)). ``published``: include the published lossless
    figures, which are MNIST's."""
    from .. import __version__

    available, missing = available_codecs(family)
    unknown = [g for g in groups if g not in ALL_GROUPS]
    if unknown:
        raise ValueError(f"unknown codecs {unknown}; choose from {', '.join(ALL_GROUPS)}")
    points, kept = [], {}
    for group in groups:
        if group in missing:
            log(f"skipping {group}: {missing[group]}")
            continue
        for codec in available[group]():
            point, decoded = measure(codec, images)
            point["group"] = group
            points.append(point)
            kept[(codec.family, codec.setting)] = decoded[:keep_first].copy()
            log(format_row(point))
    vae_families = sorted({p["family"] for p in points if not p["classical"]
                           and p["family"] not in (RESIDUAL_FAMILY, SEARCH_FAMILY)})
    reference = LEVELS_FAMILY if LEVELS_FAMILY in vae_families else (
        vae_families[0] if vae_families else None)
    results = {
        "schema": SCHEMA,
        "dataset": {"source": source, "count": int(len(images)),
                    "image_shape": list(images.shape[1:])},
        "environment": {"python": platform.python_version(), "machine": platform.machine(),
                        "pillow": Image.__version__, "numpy": np.__version__,
                        "vaecodec": __version__},
        "metrics": {
            "psnr_db": "10 log10(255^2 / MSE), MSE over every pixel of the set; null if exact",
            "psnr_mean_db": f"mean of per-image PSNR, each capped at {PSNR_CAP_DB:g} dB",
            "ssim": "mean SSIM, 11x11 Gaussian window, sigma 1.5, K1 0.01, K2 0.03, valid "
                    "region; vaecodec.eval.metrics.ssim",
        },
        "skipped": [{"group": g, "reason": missing[g]} for g in groups if g in missing],
        "points": points,
        # (MNIST figures: for MNIST only)
        "published_lossless": [
            dict(r, bytes_per_image=r["bits_per_pixel"] * images[0].size / 8)
            for r in PUBLISHED_LOSSLESS] if published else [],
        # against the lossy levels, the levels with the latent search, and the
        # error-bounded files, which reach PSNRs the levels do not
        # (compare_rates gives no rows for a reference that was not run)
        "rate_ratios": [row for ref in (reference, SEARCH_FAMILY, RESIDUAL_FAMILY) if ref
                        for row in compare_rates(points, ref)],
    }
    if family in (None, "mnist") and any(p["family"] == LEVELS_FAMILY
                                         and p["param"] > EARLIER_LEVELS for p in points):
        results["earlier_levels"] = {"family": LEVELS_FAMILY, "up_to": EARLIER_LEVELS,
                                     "label": f"{LEVELS_FAMILY} 1-{EARLIER_LEVELS} (2.0.0)"}
    return results, kept


# --- reporting ----------------------------------------------------------------------------------
def _fmt(value, spec: str, none: str = "exact") -> str:
    return none if value is None else format(value, spec)


def format_row(p: dict) -> str:
    return (f"{p['family']:22s} {p['setting']:10s} {p['bytes_per_image']:9.2f} "
            f"{p['bits_per_pixel']:7.3f} {_fmt(p['psnr_db'], '7.2f'):>7s} "
            f"{_fmt(p['psnr_mean_db'], '7.2f'):>7s} {p['ssim']:7.4f} "
            f"{_fmt(p['encode_images_per_s'], '9.0f', '-'):>9s} "
            f"{_fmt(p['decode_images_per_s'], '9.0f', '-'):>9s}")


HEADER = (f"{'codec':22s} {'setting':10s} {'B/image':>9s} {'bpp':>7s} {'PSNR':>7s} "
          f"{'mPSNR':>7s} {'SSIM':>7s} {'enc img/s':>9s} {'dec img/s':>9s}")


def summary_lines(results: dict) -> list[str]:
    lines = []
    for row in results["rate_ratios"]:
        if row.get("overlap_db") is None:
            lines.append(f"{row['family']}: {row['note']}")
        else:
            lo, hi = row["overlap_db"]
            lines.append(
                f"{row['family']} needs {row['ratio_min']:.1f}-{row['ratio_max']:.1f}x "
                f"(median {row['ratio_median']:.1f}x) the bytes of {row['reference']} "
                f"for the same PSNR, over {lo:.2f}-{hi:.2f} dB")
    return lines


def table_markdown(results: dict) -> str:
    """The points as a markdown table, then the published reference figures."""
    head = ("| codec | setting | bytes/image | bpp | PSNR (dB) | mean per-image PSNR | SSIM | "
            "encode img/s | decode img/s |\n|---|---|---|---|---|---|---|---|---|")
    rows = [head]
    for p in results["points"]:
        rows.append(
            f"| {p['family']} | {p['setting']} | {p['bytes_per_image']:.2f} | "
            f"{p['bits_per_pixel']:.3f} | {_fmt(p['psnr_db'], '.2f')} | "
            f"{_fmt(p['psnr_mean_db'], '.2f')} | {p['ssim']:.4f} | "
            f"{_fmt(p['encode_images_per_s'], ',.0f', '-')} | "
            f"{_fmt(p['decode_images_per_s'], ',.0f', '-')} |")
    for ref in results.get("published_lossless", []):
        rows.append(f"| {ref['name']} (published, not run here) | lossless | "
                    f"{ref['bytes_per_image']:.2f} | {ref['bits_per_pixel']:.3f} | exact | exact "
                    "| 1.0000 | - | - |")
    return "\n".join(rows)


def plot(results: dict, path: str) -> None:
    """The rate-distortion figure (PSNR and SSIM against bytes/image, log axis), drawn from
    the results dict alone. Classical codecs dashed; lossless ones as vertical lines. Each
    line joins its family's efficient frontier; settings beaten by a cheaper one are hollow
    markers."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(17, 5.5))
    families: dict[str, list[dict]] = {}
    for p in results["points"]:
        families.setdefault(p["family"], []).append(p)
    # 20 distinct colours, the dark ones first (the default cycle repeats after 10)
    tab20 = matplotlib.colormaps["tab20"].colors
    colors = list(tab20[0::2]) + list(tab20[1::2])
    for i, (family, pts) in enumerate(families.items()):
        color = colors[i % len(colors)]
        pts = sorted(pts, key=lambda p: p["bytes_per_image"])
        classical = pts[0]["classical"]
        style = dict(color=color, linestyle="--" if classical else "-",
                     marker="o" if classical else "s", linewidth=1.2 if classical else 2.2,
                     markersize=4 if classical else 5)
        lossy = frontier(pts)
        if lossy:
            x = [p["bytes_per_image"] for p in lossy]
            axes[0].plot(x, [p["psnr_db"] for p in lossy], label=family, **style)
            axes[1].plot(x, [p["ssim"] for p in lossy], label=family, **style)
            # settings that cost more than a better one (older quality levels): hollow
            beaten = [p for p in pts if p["psnr_db"] is not None and p not in lossy]
            for ax, key in zip(axes, ("psnr_db", "ssim")):
                ax.plot([p["bytes_per_image"] for p in beaten], [p[key] for p in beaten],
                        linestyle="none", marker=style["marker"], markersize=5,
                        markerfacecolor="none", markeredgecolor=color)
        else:
            for ax in axes:
                ax.axvline(pts[0]["bytes_per_image"], color=color, linestyle=":",
                           label=f"{family} (lossless, {pts[0]['bytes_per_image']:.0f} B)")
    earlier = results.get("earlier_levels")
    if earlier:  # the levels' curve before the newer ones, thin, in the levels' colour
        color = colors[list(families).index(earlier["family"]) % len(colors)]
        old = frontier([p for p in families.get(earlier["family"], [])
                        if p["param"] <= earlier["up_to"]])
        for ax, key in zip(axes, ("psnr_db", "ssim")):
            ax.plot([p["bytes_per_image"] for p in old], [p[key] for p in old], color=color,
                    linestyle="-.", linewidth=1, label=earlier["label"] if key == "psnr_db"
                    else None)
    for j, ref in enumerate(results.get("published_lossless", [])):
        for ax in axes:
            ax.axvline(ref["bytes_per_image"], color="0.4", linestyle=(0, (1, 2 + j)),
                       linewidth=1, label=f"{ref['name']}: {ref['bits_per_pixel']} bpp "
                                          "(published, lossless)")
    n = results["dataset"]["count"]
    for ax, ylabel in zip(axes, ("PSNR (dB, MSE over the set)", "SSIM (11x11 Gaussian)")):
        ax.set_xscale("log")
        ax.set_xlabel("bytes per image (whole encoded output / image count)")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    # one legend beside both plots, where it hides no curve
    fig.legend(*axes[0].get_legend_handles_labels(), fontsize=7, loc="center right")
    fig.suptitle(f"Rate-distortion on {results['dataset']['source']} ({n} images)")
    fig.tight_layout(rect=(0, 0, 0.79, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def picture_rows(results: dict, kept: dict) -> list[tuple[str, np.ndarray]]:
    """vaecodec's lowest and highest quality levels; JPEG and WebP at the setting whose
    bytes/image is closest to vaecodec's highest level."""
    points = results["points"]
    vae = sorted((p for p in points if p["family"] == LEVELS_FAMILY),
                 key=lambda p: p["bytes_per_image"])
    rows, target = [], None
    if vae:
        low, high = vae[0], vae[-1]
        target = high["bytes_per_image"]
        rows += [low, high]
    for family in ("JPEG", "WebP"):
        candidates = [p for p in points if p["family"] == family]
        if candidates and target is not None:
            rows.append(min(candidates, key=lambda p: abs(p["bytes_per_image"] - target)))
    return [(f"{p['family'].replace(' levels', '')} {p['setting']}: "
             f"{p['bytes_per_image']:.1f} B, {p['psnr_db']:.1f} dB",
             kept[(p["family"], p["setting"])]) for p in rows]


def picture(images: np.ndarray, rows: list[tuple[str, np.ndarray]], path: str,
            scale: int = 3) -> None:
    """A labelled grid: the originals, then one row per (label, decoded images)."""
    from PIL import ImageDraw

    count, height, width = images.shape[:3]
    label_w, pad = 260, 2
    cell_h, cell_w = height * scale, width * scale
    all_rows = [("original (PNG: exact)", images)] + rows
    mode = "L" if images.ndim == 3 else "RGB"
    canvas = Image.new(mode, (label_w + count * (cell_w + pad), len(all_rows) * (cell_h + pad)),
                       255 if mode == "L" else (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, (label, pixels) in enumerate(all_rows):
        y = r * (cell_h + pad)
        draw.text((4, y + cell_h // 2 - 6), label, fill="black")
        for c in range(count):
            tile = Image.fromarray(pixels[c]).convert(mode).resize(
                (cell_w, cell_h), Image.Resampling.NEAREST)
            canvas.paste(tile, (label_w + c * (cell_w + pad), y))
    canvas.save(path)
