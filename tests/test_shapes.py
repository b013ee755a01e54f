"""A model of another image size works through the whole codec: the size belongs to the
model (its metadata), and nothing else assumes 28x28."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

import vaecodec
from vaecodec import files
from vaecodec.zoo import ModelInfo, Zoo

SHAPE = (24, 40)  # height, width: neither 28x28 nor square


def random_vae(shape=SHAPE, latent=8, hidden=64, seed=0) -> ModelInfo:
    """An untrained MLP VAE for ``shape`` images, held in memory (numpy only)."""
    rng = np.random.default_rng(seed)
    pixels = int(np.prod(shape))  # values per image, every channel counted

    def layer(n_in, n_out):
        return (rng.normal(0, 1 / np.sqrt(n_in), (n_out, n_in)).astype(np.float32),
                rng.normal(0, 0.1, n_out).astype(np.float32))

    tensors = {}
    for name, (n_in, n_out) in {"encoder.0": (pixels, hidden), "mu": (hidden, latent),
                                "logvar": (hidden, latent), "decoder.0": (latent, hidden),
                                "decoder.1": (hidden, pixels)}.items():
        tensors[f"{name}.weight"], tensors[f"{name}.bias"] = layer(n_in, n_out)
    metadata = {"architecture": {"type": "mlp-vae", "latent_size": latent, "hidden": [hidden],
                                 "image_shape": list(shape)}}
    return ModelInfo.in_memory(f"vae-{shape[1]}x{shape[0]}", tensors, metadata)


@pytest.fixture(scope="module")
def model() -> ModelInfo:
    return random_vae()


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return np.random.default_rng(1).integers(0, 256, (30, *SHAPE), dtype=np.uint8)


def test_lossy_round_trip_in_the_models_shape(model, images):
    zoo = Zoo([model])
    # (noise has no polarity: about half of these images have a light border)
    data = vaecodec.encode(images, quant_step=0.1, model=model.name, zoo=zoo, polarity="as-is")
    header = vaecodec.read_info(data, zoo=zoo)
    assert header.version == 2 and header.image_shape == SHAPE and header.latent_size == 8
    decoded = vaecodec.decode(data, zoo=zoo)
    assert decoded.shape == (30, *SHAPE) and decoded.dtype == np.uint8
    # the same as the model's own decoder at that step
    net = zoo.vae(model)
    latents = np.rint(net.encode_mean(images.reshape(30, -1) / np.float32(255)) / 0.1) * 0.1
    expected = net.decode_pixels(latents.astype(np.float32)).reshape(decoded.shape)
    assert np.abs(decoded.astype(int) - expected).max() <= 1
    with pytest.raises(vaecodec.InvalidArrayError, match=r"\(N, 24, 40\)"):
        vaecodec.encode(np.zeros((2, 28, 28), np.uint8), quant_step=0.1, model=model.name,
                        zoo=zoo)


def test_files_are_read_at_the_models_size(model, images, tmp_path):
    zoo = Zoo([model])
    src = tmp_path / "src"
    src.mkdir()
    for i, image in enumerate(images[:5]):
        Image.fromarray(image).save(src / f"{i}.png")
    out = tmp_path / "out.vaez"
    result = files.compress([src], out, quant_step=0.2, model=model.name, zoo=zoo)
    assert result.count == 5
    restored = files.decompress(out, tmp_path / "restored", zoo=zoo)
    assert [np.asarray(Image.open(p)).shape for p in restored.paths] == [SHAPE] * 5
    Image.new("L", (28, 28)).save(src / "digit.png")
    with pytest.raises(vaecodec.ImageSizeError, match="digit.png is 28x28; the model needs 40x24"):
        files.compress([src], tmp_path / "o.vaez", quant_step=0.2, model=model.name, zoo=zoo)
    files.compress([src], tmp_path / "o.vaez", quant_step=0.2, model=model.name, zoo=zoo,
                   resize=True)


def test_levels_and_the_residual_layer_in_another_shape(model, images):
    """A level fitted for the model (numpy) and a pixel model trained on its images
    (torch): lossless and max-error files of 24x40 images, handed over in a zoo."""
    pytest.importorskip("torch")
    from vaecodec.train import levels as fitting
    from vaecodec.train import pixel as pixel_training

    zoo = Zoo([model])
    train = np.random.default_rng(2).integers(0, 256, (120, *SHAPE), dtype=np.uint8)
    (level,) = fitting.fit_levels([(model.name, 0.5)], train, images, zoo, first=1)
    zoo = zoo.with_levels(level)
    tensors, metadata = pixel_training.train_pixel_model(
        train, zoo=zoo, base_level=1, hidden=16, epochs=1, batch_size=1024, log=lambda s: None)
    assert metadata["architecture"]["image_shape"] == list(SHAPE)
    pixel = ModelInfo.in_memory(vaecodec.zoo.DEFAULT_PIXEL_MODEL, tensors, metadata)
    zoo = zoo.with_models(pixel)
    lossless = vaecodec.encode(images, lossless=True, zoo=zoo)
    assert np.array_equal(vaecodec.decode(lossless, zoo=zoo), images)
    bounded = vaecodec.decode(vaecodec.encode(images, max_error=6, zoo=zoo), zoo=zoo)
    assert np.abs(bounded.astype(int) - images).max() <= 6


def test_a_v1_header_whose_shape_is_not_its_models_is_refused():
    import struct
    import zlib

    import msgpack
    import zstandard

    count, latent = 2, 20
    payload = zstandard.ZstdCompressor().compress(bytes(count * latent))
    header = msgpack.packb({
        "version": 1, "model": Zoo.installed().find().model_id, "latent_size": latent,
        "image_shape": [32, 32], "quant_step": 0.2, "symbol_dtype": "int8", "count": count,
        "payload_size": len(payload), "names": None}, use_bin_type=True)
    body = struct.pack("<4sBI", b"VAEZ", 1, len(header)) + header + payload
    with pytest.raises(vaecodec.CorruptHeaderError, match=r"\(32, 32\).*\(28, 28\)"):
        vaecodec.decode(body + struct.pack("<I", zlib.crc32(body)))
