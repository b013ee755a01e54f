"""Train several recipes and print their test metrics as JSON lines (model selection aid).

    python scripts/sweep.py --data ../shared/data --out sweep.jsonl \
        '{"name": "a", "hidden": [512, 256], "beta": 0.5, "epochs": 40, "lr_schedule": "cosine"}'
    python scripts/sweep.py --summarize sweep.jsonl      # a markdown table of the results
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
import zstandard

from vaecodec import metrics, quantize, training


def summarize(path: str) -> None:
    rows = [json.loads(line) for line in open(path)]
    rows.sort(key=lambda r: r["test_loss_nats"])
    print("| recipe | hidden | beta | epochs | test loss (nats) | PSNR unquantized | "
          "step 0.1 | step 0.2 | step 0.3 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        rec = r["recipe"]
        cells = [f"{r[f'step{s}']['bytes']:.1f} B, {r[f'step{s}']['psnr']:.2f} dB, "
                 f"SSIM {r[f'step{s}']['ssim']:.3f}" for s in (0.1, 0.2, 0.3)]
        print(f"| {rec['name']} | {'-'.join(map(str, rec['hidden']))} | {rec['beta']} | "
              f"{rec['epochs']} {rec['lr_schedule']} | {r['test_loss_nats']:.1f} | "
              f"{r['psnr_unquantized']:.2f} | " + " | ".join(cells) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out")
    parser.add_argument("--summarize", metavar="FILE", help="print a table of a results file")
    parser.add_argument("recipes", nargs="*", help="JSON objects with Recipe fields")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if not args.out or not args.recipes:
        parser.error("--out and at least one recipe are needed to train")
    train_images = training.load_mnist(args.data, train=True)
    test_images = training.load_mnist(args.data, train=False)
    for spec in args.recipes:
        fields = json.loads(spec)
        fields["hidden"] = tuple(fields.get("hidden", (400,)))
        recipe = training.Recipe(**fields)
        model = training.train(recipe, train_images, device=args.device, log=lambda s: None)
        row = {"recipe": recipe.to_dict(), **training.test_loss(model, test_images)}
        with torch.no_grad():
            mu, _ = model.encode(torch.from_numpy(test_images).float() / 255)
            mu = mu.numpy()
            def recon(z):
                p = model.decode(torch.from_numpy(z)).numpy().reshape(-1, 28, 28)
                return np.rint(p * 255).astype(np.uint8)
            row["psnr_unquantized"] = metrics.psnr(test_images, recon(mu))
            for step in (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5):
                sym = quantize.quantize(mu, step)
                nbytes = len(zstandard.ZstdCompressor(level=19).compress(sym.T.tobytes()))
                rec = recon(quantize.dequantize(sym, step))
                row[f"step{step}"] = {
                    "bytes": nbytes / len(mu),
                    "psnr": round(metrics.psnr(test_images, rec), 3),
                    "ssim": round(metrics.ssim(test_images, rec), 4),
                }
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
