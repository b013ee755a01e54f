"""Train several recipes and print their test metrics as JSON lines (model selection aid).

    python research/sweep.py --data ../shared/data --out sweep.jsonl \
        '{"name": "a", "hidden": [512, 256], "beta": 0.5, "epochs": 40, "lr_schedule": "cosine"}'
    python research/sweep.py --summarize sweep.jsonl      # a markdown table of the results

Each recipe's model is measured through the codec itself (``vaecodec.eval.evaluate``:
whole zstd files at each step, no names) without being installed.
"""

from __future__ import annotations

import argparse
import json
import time

from vaecodec.data import mnist
from vaecodec.eval.evaluate import evaluate_model, measure_level
from vaecodec.train import export, family, loop
from vaecodec.train.recipes import Recipe
from vaecodec.zoo import ModelInfo, Zoo
from vaecodec.zoo.families import Family

STEPS = (0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 1.5)


def measure_as_levels(info: ModelInfo, train_images, test_images, steps) -> list[dict]:
    """The model at each of ``steps`` as a quality level of a family of its own: its prior
    fitted on the training latents, measured on the test images (range coder)."""
    levels = family.fit_priors(info, steps, train_images)
    zoo = Zoo().with_family(Family("probe", info.name, None, 1), [info], levels)
    return [measure_level(level, test_images, zoo, single_images=10, family="probe")
            for level in levels]


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
    parser.add_argument("--dataset", choices=["MNIST", "FashionMNIST"], default="MNIST",
                        help="train on this data set's training split, measure on its test split")
    parser.add_argument("--out")
    parser.add_argument("--summarize", metavar="FILE", help="print a table of a results file")
    parser.add_argument("--level-steps", type=float, nargs="*", default=[],
                        help="also measure each model as quality levels at these steps: a "
                             "prior fitted on the training latents, range-coded files (as "
                             "the shipped levels are)")
    parser.add_argument("--steps", type=float, nargs="*", default=list(STEPS),
                        help="explicit steps to measure (zstd files; default: %(default)s)")
    parser.add_argument("recipes", nargs="*", help="JSON objects with Recipe fields")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    if not args.out or not args.recipes:
        parser.error("--out and at least one recipe are needed to train")
    recipes = [Recipe.from_dict(json.loads(spec)) for spec in args.recipes]
    if any(r.architecture != "mlp" for r in recipes):
        parser.error("the codec runs MLP models only, so only they can be measured through it "
                     "(the convolutional probe in docs/notes/training.md was measured by "
                     "vaecodec 1.3.0's "
                     "sweep, which decoded with torch)")
    train_images = mnist.mnist_images(args.data, "train", args.dataset)
    test_images = mnist.mnist_images(args.data, "test", args.dataset)
    for recipe in recipes:
        started = time.perf_counter()
        model = loop.train(recipe, train_images, device=args.device, log=lambda s: None)
        row = {"recipe": recipe.to_dict(), **loop.test_loss(model, test_images),
               "train_seconds": round(time.perf_counter() - started, 1), "device": args.device,
               "dataset": args.dataset}
        arch = {"image_shape": list(model.image_shape), "latent_size": recipe.latent_size,
                "hidden": list(recipe.hidden)}
        info = ModelInfo.in_memory(f"vae-{recipe.name}", export.export_weights(model),
                                   {"architecture": arch})
        for step in args.steps:
            measured = evaluate_model(info, test_images, step)
            row["psnr_unquantized"] = measured["psnr_db_unquantized"]
            row[f"step{step}"] = {"bytes": measured["bytes_per_image"],
                                  "psnr": round(measured["psnr_db"], 3),
                                  "ssim": round(measured["ssim"], 4)}
        levels = measure_as_levels(info, train_images, test_images, args.level_steps)
        for step, measured in zip(args.level_steps, levels):
            row[f"level_step{step}"] = {"bytes": round(measured["bytes_per_image"], 3),
                                        "psnr": round(measured["psnr_db"], 3),
                                        "ssim": round(measured["ssim"], 4)}
        print(json.dumps(row), flush=True)
        with open(args.out, "a") as f:
            f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
