"""The numpy runtime matches the torch model; training is reproducible; shipped weights check out.

Needs the ``train`` extra (torch); skipped without it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="needs torch (pip install -e '.[train]')")

import vaecodec  # noqa: E402
from vaecodec.core.runtime import NumpyVAE  # noqa: E402
from vaecodec.train import export  # noqa: E402
from vaecodec.train import loop as training  # noqa: E402
from vaecodec.train.model import VAE  # noqa: E402
from vaecodec.train.recipes import Recipe  # noqa: E402


@pytest.mark.parametrize("hidden", [(400,), (512, 256)])
def test_numpy_runtime_matches_torch(hidden, sample_images):
    torch.manual_seed(0)
    model = VAE((28, 28), 20, hidden).eval()
    net = NumpyVAE(export.export_weights(model), (28, 28))
    x = sample_images.reshape(len(sample_images), -1).astype(np.float32) / 255
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(x))
        pixels = model.decode(mu).numpy()
    np.testing.assert_allclose(net.encode_mean(x), mu.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(net.decode(mu.numpy()), pixels, rtol=1e-4, atol=1e-6)


def test_shipped_default_model_matches_its_torch_twin(sample_images):
    zoo = vaecodec.Zoo.installed()
    info = zoo.find()
    tensors = info.tensors()
    model = export.import_model(info)
    exported = export.export_weights(model)
    assert exported.keys() == tensors.keys()
    assert all(np.array_equal(exported[k], tensors[k]) for k in tensors)
    net = zoo.vae(info)
    x = sample_images.reshape(len(sample_images), -1).astype(np.float32) / 255
    with torch.no_grad():
        mu, _ = model.encode(torch.from_numpy(x))
        pixels = model.decode(mu).numpy()
    np.testing.assert_allclose(net.encode_mean(x), mu.numpy(), rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(net.decode(mu.numpy()), pixels, atol=1e-5)


def test_training_is_reproducible_and_writes_a_loadable_checkpoint(tmp_path, sample_images):
    recipe = Recipe(name="tiny", hidden=(32,), epochs=2, batch_size=50, seed=7)
    logs: list[str] = []
    first = training.train(recipe, sample_images, log=logs.append)
    second = training.train(recipe, sample_images, log=lambda s: None)
    assert len(logs) == 2 and "epoch 2 (step 8/8)" in logs[-1]
    for a, b in zip(first.state_dict().values(), second.state_dict().values()):
        assert torch.equal(a, b)
    info = export.save_checkpoint(first, recipe, tmp_path, sample_images, data_root=tmp_path,
                                  train_seconds=1.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vae-tiny.json", "vae-tiny.safetensors"]
    meta = json.loads((tmp_path / "vae-tiny.json").read_text())
    weights = (tmp_path / "vae-tiny.safetensors").read_bytes()
    assert meta["weights_sha256"] == hashlib.sha256(weights).hexdigest() == info.model_id.hex()
    assert meta["recipe"]["seed"] == 7 and meta["architecture"]["hidden"] == [32]
    for key in ("test_loss_nats", "psnr_db", "ssim", "bytes_per_image"):
        assert np.isfinite(meta["test_metrics"][key])
    # the folder is a model store the codec can use as it is
    zoo = vaecodec.Zoo.from_folders([str(tmp_path)])  # a path as text, as in the README
    data = vaecodec.encode(sample_images[:20], quant_step=0.2, model="vae-tiny", zoo=zoo)
    assert vaecodec.decode(data, zoo=zoo).shape == (20, 28, 28)
    assert len(data) / 20 < 40
    with pytest.raises(vaecodec.UnknownModelError):
        vaecodec.decode(data)  # not installed


def test_shipped_checkpoints_are_intact():
    zoo = vaecodec.Zoo.installed()
    models = {m.name: m for m in zoo.models() + zoo.models(vaecodec.zoo.PIXEL_MODEL)
              if "family" not in m.metadata}  # a family's models are checked as its file is read
    assert {"vae-default", "vae-seed", "pixel-l1"} <= set(models)
    for info in models.values():
        assert hashlib.sha256(info.weights_path.read_bytes()).digest() == info.model_id
        meta = info.metadata
        for key in ("recipe", "data", "architecture"):
            assert key in meta
        assert info.image_shape == (28, 28)
        assert meta["data"]["sha256"]["train-images-idx3-ubyte"] == (
            "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db")


def test_shipped_model_ids_are_distinct_in_their_first_four_bytes():
    # format v2 stores 4 bytes of the model id
    zoo = vaecodec.Zoo.installed()
    prefixes = [m.model_id[:4] for m in zoo.models() + zoo.models(vaecodec.zoo.PIXEL_MODEL)]
    assert len(set(prefixes)) == len(prefixes)


def test_conv_recipe_trains(sample_images):
    recipe = Recipe(name="conv-tiny", architecture="conv", hidden=(4, 8), epochs=1,
                    batch_size=50, distortion="mse", mse_sigma=0.1)
    model = training.train(recipe, sample_images[:100], log=lambda s: None)
    with torch.no_grad():
        mu, logvar = model.encode(torch.rand(3, 784))
        pixels = model.decode(mu)
    assert mu.shape == logvar.shape == (3, 20) and pixels.shape == (3, 784)
    assert float(pixels.min()) >= 0 and float(pixels.max()) <= 1


def test_random_shift_moves_each_image_by_at_most_shift_pixels_with_zero_fill():
    images = torch.rand(64, 784)
    moved = training.random_shift(images, (28, 28), 2, torch.Generator().manual_seed(3))
    a, b = images.reshape(-1, 28, 28), moved.reshape(-1, 28, 28)
    seen = set()
    for original, shifted in zip(a, b):
        padded = torch.nn.functional.pad(original, (2, 2, 2, 2))
        offsets = [(dy, dx) for dy in range(5) for dx in range(5)
                   if torch.equal(shifted, padded[dy:dy + 28, dx:dx + 28])]
        assert len(offsets) == 1  # exactly one whole-pixel move, zeros moved in
        seen.add(offsets[0])
    assert len(seen) > 5  # offsets are drawn per image, not per batch


def test_shift_recipe_is_reproducible_and_changes_training(sample_images):
    base = Recipe(name="tiny", hidden=(16,), epochs=1, batch_size=50, seed=3)
    shifted = dataclasses.replace(base, shift=1)
    runs = [training.train(r, sample_images[:100], log=lambda s: None)
            for r in (shifted, shifted, base)]
    weights = [next(iter(m.state_dict().values())) for m in runs]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_quant_noise_recipe_decodes_mu_plus_uniform_noise(sample_images, monkeypatch):
    base = Recipe(name="tiny", hidden=(16,), epochs=1, batch_size=50, seed=3)
    qat = dataclasses.replace(base, quant_noise=0.5)
    mus, zs = [], []  # what the encoder gave and what the decoder was given, per batch
    encode, decode_logits = VAE.encode, VAE.decode_logits

    def spy_encode(self, x):
        mu, logvar = encode(self, x)
        mus.append(mu.detach().clone())
        return mu, logvar

    def spy_decode(self, z):
        zs.append(z.detach().clone())
        return decode_logits(self, z)

    monkeypatch.setattr(VAE, "encode", spy_encode)
    monkeypatch.setattr(VAE, "decode_logits", spy_decode)
    runs = [training.train(qat, sample_images[:100], log=lambda s: None) for _ in range(2)]
    monkeypatch.undo()
    assert len(mus) == len(zs) == 4  # two runs of two batches
    offsets = torch.cat([z - mu for z, mu in zip(zs, mus)])
    assert offsets.abs().max() <= 0.25 and offsets.abs().max() > 0.2  # uniform, width 0.5
    assert float(offsets.std()) == pytest.approx(0.5 / 12 ** 0.5, rel=0.1)
    plain = training.train(base, sample_images[:100], log=lambda s: None)
    weights = [next(iter(m.state_dict().values())) for m in (*runs, plain)]
    assert torch.equal(weights[0], weights[1]) and not torch.equal(weights[0], weights[2])


def test_factorized_prior_gives_the_nats_of_each_rounding_interval():
    from vaecodec.train.model import FactorizedPrior

    prior = FactorizedPrior(3)
    y = torch.tensor([[0.0, 1.0, -2.0]])
    logistic = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    expected = -sum(np.log(logistic(v + 0.5) - logistic(v - 0.5)) for v in (0.0, 1.0, -2.0))
    assert float(prior.nats(y, 1.0)) == pytest.approx(expected, rel=1e-6)
    with torch.no_grad():
        prior.log_scale.fill_(np.log(0.1))  # a narrow prior: far values cost more
    assert float(prior.nats(torch.tensor([[3.0, 0.0, 0.0]]), 1.0)) > \
        float(prior.nats(torch.tensor([[0.0, 0.0, 0.0]]), 1.0)) + 10


def test_rate_distortion_recipe_trains_a_prior_and_lowers_the_rate(sample_images, monkeypatch):
    """rate="entropy": the decoder sees mu + uniform noise of the recipe's step, and the
    loss's rate is the learned prior's; a heavier rate weight gives a cheaper latent."""
    from vaecodec.train.model import FactorizedPrior

    base = Recipe(name="tiny-rd", hidden=(32,), epochs=3, batch_size=50, seed=3,
                  distortion="mse", mse_sigma=0.3, rate="entropy", rate_step=2.0)
    calls = []
    nats = FactorizedPrior.nats
    monkeypatch.setattr(FactorizedPrior, "nats",
                        lambda self, y, step: calls.append(step) or nats(self, y, step))
    light = training.train(base, sample_images[:100], log=lambda s: None)
    monkeypatch.undo()
    assert calls and set(calls) == {2.0}
    heavy = training.train(dataclasses.replace(base, beta=20.0), sample_images[:100],
                           log=lambda s: None)
    unit = torch.from_numpy(sample_images[:100].reshape(100, -1)).float() / 255
    with torch.no_grad():
        spread = [float(m.encode(unit)[0].std()) for m in (light, heavy)]
    assert spread[1] < spread[0]  # the latent shrinks where rate weighs more
    with pytest.raises(ValueError, match="rate"):
        training.train(dataclasses.replace(base, rate="bits"), sample_images[:10],
                       log=lambda s: None)


def test_a_family_defaults_to_the_cheapest_level_near_its_best():
    """The default level of a trained family: the cheapest within 0.5 dB of the best."""
    from vaecodec.core.entropy import fit_prior
    from vaecodec.train.family import default_level
    from vaecodec.zoo import Level

    prior = fit_prior(np.zeros((4, 2), dtype=np.int32))

    def levels(figures):
        return [Level(i, "m", b"", 1.0, prior, {"bytes_per_image": b, "psnr_db": p})
                for i, (b, p) in enumerate(figures, 1)]

    # the shipped fashion-mnist family's validation figures (mse-s05-z32, 60 epochs)
    fashion = [(8.61, 19.67), (10.96, 20.68), (13.69, 21.24), (17.67, 21.53), (21.67, 21.61),
               (25.67, 21.62)]
    assert default_level(levels(fashion)) == 3
    # and fashion-mnist-rd's (rd-s015-aug1, 100 epochs): level 1 is 0.61 dB below the best
    fashion_rd = [(6.52, 20.36), (7.12, 20.60), (7.85, 20.76), (8.60, 20.85), (9.30, 20.91),
                  (10.19, 20.97)]
    assert default_level(levels(fashion_rd)) == 2
    assert default_level(levels([(5, 18.0), (6, 19.0), (7, 20.0)])) == 3  # no plateau
    assert default_level(levels([(9, 21.0), (5, 20.6), (12, 21.05)])) == 2  # by bytes
    assert default_level(levels([(5, 20.0)])) == 1


def test_rate_distortion_families_take_steps_around_their_training_step():
    from vaecodec.train.family import STEPS, level_steps
    from vaecodec.train.recipes import RECIPES, TRAIN_RECIPES

    rd = RECIPES["rd-s035-aug1"]
    assert {"rd-s045-aug1", "rd-s035-aug1", "rd-s015-aug1"} <= set(TRAIN_RECIPES)
    assert rd.rate == "entropy"
    assert level_steps(rd) == (1.5, 1.25, 1.0, 0.8, 0.65, 0.5)
    assert level_steps(dataclasses.replace(rd, rate_step=0.5))[2] == 0.5
    assert level_steps(RECIPES["default"]) == STEPS
    assert Recipe.from_dict(rd.to_dict()) == rd
    assert Recipe.from_dict({"name": "old"}).rate == "kl"  # recipes saved before 'rate'


def test_random_shift_with_edge_fill_repeats_the_border_pixels():
    """A flat gray image stays flat when moved with edge fill (zero fill would bring in
    black): the augmentation for photographs and textures."""
    images = torch.full((32, 784), 0.5)
    generator = torch.Generator().manual_seed(3)
    assert torch.equal(training.random_shift(images, (28, 28), 1, generator, "edge"), images)
    zero = training.random_shift(images, (28, 28), 1, torch.Generator().manual_seed(3))
    assert float(zero.min()) == 0.0


def test_a_schedule_in_steps_takes_exactly_that_many_steps_whatever_the_image_count(
        sample_images):
    seen = []
    recipe = Recipe(name="tiny", hidden=(16,), batch_size=50, steps=7, seed=3)
    for count in (40, 200):  # 1 and 4 batches an epoch
        training.train(recipe, sample_images[:count], log=lambda s: None,
                       progress=lambda step, steps, loss: seen.append((count, step, steps)))
    assert [s for s in seen if s[0] == 40] == [(40, k, 7) for k in range(1, 8)]
    assert [s for s in seen if s[0] == 200] == [(200, 4, 7), (200, 7, 7)]


def test_a_time_budget_cuts_the_steps_planned_from_the_first_ones(sample_images):
    """Planned after PLAN_AFTER steps, or after the first epoch when it is shorter."""
    for batch, planned in ((2, training.PLAN_AFTER), (10, 20)):  # 100 or 20 steps an epoch
        recipe = Recipe(name="tiny", hidden=(16,), batch_size=batch, steps=100_000, seed=3)
        seen = []
        training.train(recipe, sample_images, log=lambda s: None, time_budget=1e-6,
                       progress=lambda step, steps, loss: seen.append((step, steps)))
        assert seen[-1] == (planned, planned)


def test_kl_warm_up_weighs_the_kl_term_from_zero(sample_images, monkeypatch):
    """With a warm-up the first step's loss is the distortion alone."""
    losses = []
    backward = torch.Tensor.backward

    def spy(self, *args, **kwargs):
        losses.append(float(self))
        return backward(self, *args, **kwargs)

    monkeypatch.setattr(torch.Tensor, "backward", spy)
    base = Recipe(name="tiny", hidden=(16,), batch_size=50, steps=1, seed=3,
                  distortion="mse", mse_sigma=0.1)
    for recipe in (base, dataclasses.replace(base, kl_warmup=0.5)):
        training.train(recipe, sample_images[:50], log=lambda s: None)
    monkeypatch.undo()
    assert losses[1] < losses[0]  # the same first batch, without its KL term


def test_the_companion_catalogue_is_up_to_date_and_names_what_is_missing(tmp_path):
    """checkpoints/companion.json lists the companion package's models as they are, and a
    zoo without them says which package holds one (by id prefix, by name, a family)."""
    import subprocess
    import sys
    from pathlib import Path

    from vaecodec.zoo import companion, models

    repo = Path(__file__).resolve().parent.parent
    check = subprocess.run([sys.executable, repo / "tools" / "make_companion.py", "--check"],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stdout
    folders = [repo / "checkpoints"]
    catalogue = companion.catalogue(folders)
    names = {entry["name"] for entry in catalogue["models"]}
    assert {"vae-mse-s05-aug1", "fashion-mnist", "pixel-l1-v3"} <= names
    held = {m.name for m in models.scan(repo / companion.REPO_FOLDER)}
    assert "vae-default" not in names and held <= names
    vae = next(e for e in catalogue["models"] if e["name"] == "vae-mse-s05-aug1")
    hint = companion.missing(folders, model_id=bytes.fromhex(vae["sha256"])[:4])
    assert "vae-mse-s05-aug1" in hint and "pip install vaecodec-models" in hint
    family = next(e for e in catalogue["models"] if e["name"] == "fashion-mnist")
    assert "family fashion-mnist" in companion.missing(
        folders, model_id=bytes.fromhex(family["contains"][0])[:4])
    assert companion.missing(folders, name="fashion-mnist-rd") is not None
    assert companion.missing(folders, model_id=b"\0\0\0\0") is None
    # a zoo of the default install's folder alone: the error names the package
    lean = vaecodec.Zoo.from_folders([repo / "checkpoints"])
    with pytest.raises(vaecodec.UnknownModelError, match="pip install vaecodec-models"):
        lean.level_model(lean.level(7))
    lean.level_model(lean.level(4))
