"""Probe pixel-model designs for the residual layer: float networks only (model selection aid).

    python research/pixel_probe.py --data ../shared/data --out probe.jsonl [--device cuda] \
        '{"name": "c17-96", "context": "c17", "hidden": [96, 96], "epochs": 6}' ...

Each design is trained as ``vaecodec.train.pixel.train_pixel_model`` trains the shipped
one (non-trivial training pixels, hi/lo heads, Adam, one-cycle, batch 4,096) and scored
by its float network's ideal code length of the lossless residual on the MNIST test
split, trivial pixels included (their fixed table fitted on the training split). The
integer conversion the codec needs is *not* applied, so compare designs with each other
(and with the shipped design's row), not with ``train_pixel_model.py``'s figures.

Design fields: ``context`` (the causal neighbours: "c17" as shipped, two rows above
+-3 and three to the left; "c24" three rows above; "c31" three rows above +-4 and four
to the left), ``window`` (side of the base-image window, 5 as shipped), ``extra`` (any
of "position": the pixel's row and column; "latent": the base level's 20 symbols),
``hidden``, ``epochs``, ``base_level``, ``seed``.
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np

from vaecodec.core import residual
from vaecodec.data import mnist
from vaecodec.train import import_torch, pixel
from vaecodec.zoo import Zoo

CONTEXTS = {
    "c17": residual.CAUSAL,
    "c24": tuple((dy, dx) for dy in (-3, -2, -1) for dx in range(-3, 4))
    + ((0, -3), (0, -2), (0, -1)),
    "c31": tuple((dy, dx) for dy in (-3, -2, -1) for dx in range(-4, 5))
    + ((0, -4), (0, -3), (0, -2), (0, -1)),
}
TRIVIAL_THRESHOLD = 8


def design_features(images, base, symbols, design) -> tuple[np.ndarray, np.ndarray]:
    """(features (N * P, F) uint8, trivial mask (N * P,)) of a design."""
    n, h, w = images.shape
    causal = CONTEXTS[design.get("context", "c17")]
    top, side = max(-dy for dy, _ in causal), max(abs(dx) for _, dx in causal)
    canvas = np.zeros((n, h + top, w + 2 * side), dtype=np.uint8)
    canvas[:, top:, side : side + w] = images
    r = design.get("window", 5) // 2
    window = np.pad(base.reshape(n, h, w), ((0, 0), (r, r), (r, r)))
    cols = [canvas[:, top + dy : top + dy + h, side + dx : side + dx + w] for dy, dx in causal]
    wins = [window[:, r + dy : r + dy + h, r + dx : r + dx + w]
            for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    c = np.stack(cols, -1).reshape(n * h * w, -1)
    b = np.stack(wins, -1).reshape(n * h * w, -1)
    trivial = (c.max(1) == 0) & (b.max(1) <= TRIVIAL_THRESHOLD)
    parts = [c, b]
    extra = design.get("extra", [])
    if "position" in extra:  # as the codec's pixel models take them
        pos = residual.position_inputs(residual.geometry(h, w))
        parts.append(np.broadcast_to(pos, (n, h * w, 2)).reshape(n * h * w, 2))
    if "latent" in extra:
        parts.append(np.repeat(residual.latent_inputs(symbols), h * w, axis=0))
    return np.concatenate(parts, 1), trivial


def probe(design: dict, data: dict, device: str, log=print) -> dict:
    torch = import_torch()
    seed = design.get("seed", 0)
    torch.manual_seed(seed)
    started = time.time()
    x_tr, trivial_tr = design_features(data["train"], data["train_base"], data["train_sym"],
                                       design)
    y_tr = data["train"].reshape(-1)
    x_te, trivial_te = design_features(data["test"], data["test_base"], data["test_sym"],
                                       design)
    y_te = data["test"].reshape(-1)
    # trivial pixels: one fixed table of the 256 values (as the codec's hi/lo tables)
    t_hi, t_lo = pixel._trivial_tables(y_tr[trivial_tr].astype(np.int64))
    trivial_bits = pixel.table_bits(t_hi, t_lo, y_te[trivial_te])
    x = torch.from_numpy(x_tr[~trivial_tr]).to(device)
    y = torch.from_numpy(y_tr[~trivial_tr].astype(np.int64)).to(device)
    sizes = [x.shape[1], *design.get("hidden", [96, 96])]
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
    net = torch.nn.Sequential(*layers, torch.nn.Linear(sizes[-1], 16 + 256)).to(device)
    batch = 4096
    steps = max(1, int(design.get("epochs", 6) * len(x) / batch))
    lr = design.get("learning_rate", 3e-3)
    optimizer = torch.optim.Adam(net.parameters(), lr)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, lr, total_steps=steps)
    generator = torch.Generator(device=device).manual_seed(seed)
    for step in range(steps):
        rows = torch.randint(0, len(x), (batch,), generator=generator, device=device)
        loss = pixel._factorized_nll(torch, net(x[rows].float() / 255), y[rows]) / batch
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
        if step % max(1, steps // 5) == 0:
            log(f"{design['name']}: step {step + 1}/{steps} {loss.item() / math.log(2):.3f} "
                f"bits/pixel, {time.time() - started:.0f} s")
    xt = torch.from_numpy(x_te[~trivial_te]).to(device)
    yt = torch.from_numpy(y_te[~trivial_te].astype(np.int64)).to(device)
    nats = 0.0
    with torch.no_grad():
        for i in range(0, len(xt), 1 << 18):
            nats += float(pixel._factorized_nll(torch, net(xt[i : i + (1 << 18)].float() / 255),
                                                yt[i : i + (1 << 18)]))
    n_test = len(data["test"])
    bits = (trivial_bits + nats / math.log(2)) / n_test
    macs = sum(a * b for a, b in zip(sizes[:-1], sizes[1:])) + sizes[-1] * 32
    return {"design": design, "residual_bits_per_image": round(bits, 2),
            "residual_bits_per_pixel": round(bits / data["test"][0].size, 4),
            "non_trivial_share": round(float((~trivial_te).mean()), 4),
            "macs_per_busy_pixel": macs, "seconds": round(time.time() - started, 1),
            "device": device}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", required=True)
    parser.add_argument("--train-images", type=int)
    parser.add_argument("designs", nargs="+", help="JSON objects (fields: see above)")
    args = parser.parse_args()
    designs = [json.loads(d) for d in args.designs]
    zoo = Zoo.installed()
    data = {"train": mnist.mnist_images(args.data, "train")[: args.train_images],
            "test": mnist.mnist_images(args.data, "test")}
    for base_level in sorted({d.get("base_level", 1) for d in designs}):
        level = zoo.level(base_level)
        sym = {s: pixel.base_symbols(level, data[s], zoo) for s in ("train", "test")}
        net, thresholds = pixel.integer_base_decoder(level, sym["train"][:5000], zoo)
        split = {s: data[s] for s in ("train", "test")}
        for s in ("train", "test"):
            split[f"{s}_sym"] = sym[s]
            split[f"{s}_base"] = residual.base_pixels(net, thresholds, sym[s])
        for design in designs:
            if design.get("base_level", 1) != base_level:
                continue
            row = probe(design, split, args.device)
            print(json.dumps(row), flush=True)
            with open(args.out, "a") as f:
                f.write(json.dumps(row) + "\n")


if __name__ == "__main__":
    main()
