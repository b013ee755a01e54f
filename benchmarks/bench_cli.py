"""End-to-end figures of the `vaecodec` command on the MNIST test split.

    python benchmarks/bench_cli.py --data ../shared/data --repeat 5

Writes the 10,000 test digits as PNG files into a temporary folder, then measures, each as
a whole process from start to exit (median of --repeat runs, all in this one run):

- `vaecodec compress DIR out.vaez` against a plain Python loop that opens the same PNGs
  with Pillow into one numpy array;
- `vaecodec decompress out.vaez` against a plain Pillow loop that writes the same images;
- the size of out.vaez, names included, and PSNR / SSIM of the decompressed PNGs;
- `vaecodec --help`, `vaecodec info`, and compressing the 200-image sample folder,
  and whether any of them imported torch or torchvision.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vaecodec import images
from vaecodec.data import mnist
from vaecodec.eval import metrics

REPO = Path(__file__).resolve().parent.parent
READ_LOOP = """
import sys, os, numpy as np
from PIL import Image
root = sys.argv[1]
paths = sorted(os.path.join(root, n) for n in os.listdir(root))
pixels = np.stack([np.asarray(Image.open(p)) for p in paths])
"""
WRITE_LOOP = """
import sys, os, numpy as np
from PIL import Image
pixels = np.load(sys.argv[1])
os.makedirs(sys.argv[2])
for i, image in enumerate(pixels):
    Image.fromarray(image).save(os.path.join(sys.argv[2], f"{i:05d}.png"))
"""
# Runs the CLI in-process and reports whether torch was imported along the way.
CLI_PROBE = """
import sys
from vaecodec.cli import main
try:
    main(sys.argv[1:])
except SystemExit as e:
    code = e.code
mods = [m for m in ("torch", "torchvision") if m in sys.modules]
print("IMPORTED:" + ",".join(mods), file=sys.stderr)
"""


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def median_time(cmd: list[str], repeat: int, before=None) -> float:
    runs = []
    for _ in range(repeat):
        if before:
            before()
        runs.append(timed(cmd))
    return statistics.median(runs)


def rm_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data", help="MNIST root (torchvision layout)")
    parser.add_argument("--limit", type=int, default=None, help="use only the first N test images")
    parser.add_argument("--repeat", type=int, default=5, help="runs per timing (median)")
    parser.add_argument("--json", dest="json_out", help="also write the figures to this file")
    args = parser.parse_args()

    python = sys.executable
    script = Path(python).parent / "vaecodec"  # the console script a user runs
    vaecodec_cmd = [str(script)] if script.exists() else [python, "-m", "vaecodec.cli"]
    originals = mnist.mnist_images(args.data, "test")[: args.limit]
    n = len(originals)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        folder = tmp / "mnist-test"
        folder.mkdir()
        for i, image in enumerate(originals):
            images.write_png(folder / f"{i:05d}.png", image)
        png_bytes = sum(p.stat().st_size for p in folder.iterdir())
        archive = tmp / "out.vaez"
        restored = tmp / "restored"
        baseline_out = tmp / "baseline"

        read_loop = median_time([python, "-c", READ_LOOP, str(folder)], args.repeat)
        compress = median_time(vaecodec_cmd + ["compress", str(folder), str(archive), "--force"],
                               args.repeat)
        size = archive.stat().st_size
        decompress = median_time(
            vaecodec_cmd + ["decompress", str(archive), "-o", str(restored)], args.repeat,
            before=lambda: rm_tree(restored),
        )
        decoded = np.stack([images.read_image(restored / f"{i:05d}.png") for i in range(n)])
        np.save(tmp / "decoded.npy", decoded)
        write_loop = median_time([python, "-c", WRITE_LOOP, str(tmp / "decoded.npy"),
                                  str(baseline_out)], args.repeat,
                                 before=lambda: rm_tree(baseline_out))

        sample_out = tmp / "sample.vaez"
        startup = {}
        for label, cli_args in [
            ("vaecodec --help", ["--help"]),
            ("vaecodec info", ["info", str(archive)]),
            ("vaecodec compress samples/digits (200 images)",
             ["compress", str(REPO / "samples" / "digits"), str(sample_out), "--force"]),
        ]:
            cmd = [python, "-c", CLI_PROBE, *cli_args]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            imported = proc.stderr.rsplit("IMPORTED:", 1)[-1].strip() or "neither"
            startup[label] = {"seconds": median_time(cmd, args.repeat),
                              "imports_torch": imported}

    figures = {
        "images": n,
        "vaez_bytes_per_image": size / n,
        "png_bytes_per_image": png_bytes / n,
        "psnr_db": metrics.psnr(originals, decoded),
        "ssim": metrics.ssim(originals, decoded),
        "compress_s": compress,
        "pillow_read_loop_s": read_loop,
        "compress_ratio_to_read_loop": compress / read_loop,
        "decompress_s": decompress,
        "pillow_write_loop_s": write_loop,
        "decompress_ratio_to_write_loop": decompress / write_loop,
        "startup": startup,
        "repeat": args.repeat,
    }
    print(f"MNIST test split, {n} images, default settings, medians of {args.repeat} runs")
    print(f"  .vaez file           {size / n:8.2f} bytes/image (names included)")
    print(f"  PNG files            {png_bytes / n:8.2f} bytes/image")
    print(f"  PSNR                 {figures['psnr_db']:8.2f} dB (MSE over the whole set)")
    print(f"  SSIM                 {figures['ssim']:8.4f}")
    print(f"  compress             {compress:8.2f} s   | Pillow read loop  {read_loop:6.2f} s"
          f"   ratio {compress / read_loop:.2f}x")
    print(f"  decompress           {decompress:8.2f} s   | Pillow write loop {write_loop:6.2f} s"
          f"   ratio {decompress / write_loop:.2f}x")
    for label, row in startup.items():
        print(f"  {label:46s} {row['seconds']:6.2f} s  (torch/torchvision imported: "
              f"{row['imports_torch']})")
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(figures, indent=2) + "\n")


if __name__ == "__main__":
    main()
