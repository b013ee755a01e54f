from __future__ import annotations

import numpy as np
import pytest

import vaecodec
from vaecodec.eval import benchmark, metrics


def test_round_trip_shape_and_determinism(sample_images):
    data = vaecodec.encode(sample_images)
    assert isinstance(data, bytes) and data[:4] == b"VAEZ"
    out = vaecodec.decode(data)
    assert out.shape == sample_images.shape and out.dtype == np.uint8
    assert vaecodec.encode(sample_images) == data  # same input, same bytes
    assert np.array_equal(vaecodec.decode(data), out)


def test_quality_on_shipped_sample(sample_images):
    data = vaecodec.encode(sample_images)
    out = vaecodec.decode(data)
    assert metrics.psnr(sample_images, out) >= 20.0
    assert metrics.ssim(sample_images, out) >= 0.85
    assert len(data) / len(sample_images) <= 16


def test_single_image_float_and_tensor_inputs(sample_images):
    one = sample_images[3]
    out = vaecodec.decode(vaecodec.encode(one))
    assert out.shape == (1, 28, 28)
    as_float = sample_images[:5].astype(np.float32) / 255
    assert vaecodec.encode(as_float) == vaecodec.encode(sample_images[:5])
    torch = pytest.importorskip("torch")
    tensor = torch.from_numpy(sample_images[:5])
    assert vaecodec.encode(tensor) == vaecodec.encode(sample_images[:5])


def test_smaller_step_costs_bytes_and_gains_quality(sample_images):
    fine = vaecodec.encode(sample_images, quant_step=0.05)
    coarse = vaecodec.encode(sample_images, quant_step=1.0)
    assert len(fine) > len(coarse)
    assert metrics.psnr(sample_images, vaecodec.decode(fine)) > metrics.psnr(
        sample_images, vaecodec.decode(coarse)
    )
    assert vaecodec.read_info(fine).quant_step == 0.05


def test_default_level_and_step(sample_images):
    # the documented defaults: level 4, which is vae-default at step 0.2
    assert vaecodec.DEFAULT_LEVEL == 4 and vaecodec.DEFAULT_QUANT_STEP == 0.2
    default = [lv for lv in vaecodec.list_levels() if lv.level == vaecodec.DEFAULT_LEVEL][0]
    assert default.quant_step == 0.2 and default.model == "vae-default"
    header = vaecodec.read_info(vaecodec.encode(sample_images[:3]))
    assert header.level == 4 and header.coder == "range"


def test_quality_levels_rise_in_quality_and_in_rate_per_model(sample_images):
    # Released levels never change, so levels added later come after the old ones: each
    # series added together (1-9, the rate-distortion levels 10-13, 14) is numbered in
    # order of quality. Within one model and series a higher level spends more bytes; a
    # level of a newer model may cost less than an older model's level below it (level 7
    # against 5 and 6; levels 10-13 against most of 1-9).
    sizes, psnrs, models = [], [], []
    for level in vaecodec.list_levels():
        models.append(level.model)
        data = vaecodec.encode(sample_images, quality=level.level)
        header = vaecodec.read_info(data)
        assert header.level == level.level and header.coder == "range"
        sizes.append(len(data))
        psnrs.append(metrics.psnr(sample_images, vaecodec.decode(data)))
        zstd = vaecodec.encode(sample_images, quality=level.level, coder="zstd")
        assert np.array_equal(vaecodec.decode(zstd), vaecodec.decode(data))
    assert len(psnrs) == 14
    series_of = [benchmark.level_series(lv.level) for lv in vaecodec.list_levels()]
    assert series_of == [0] * 9 + [1] * 4 + [2]
    for series in set(series_of):
        own = [psnr for psnr, s in zip(psnrs, series_of) if s == series]
        assert own == sorted(own)
    for model, series in set(zip(models, series_of)):
        own = [size for size, m, s in zip(sizes, models, series_of) if (m, s) == (model, series)]
        assert own == sorted(own)


def test_single_image_file_is_small(sample_images):
    for image in sample_images[:50]:
        assert len(vaecodec.encode(image)) <= 40


@pytest.mark.parametrize("kwargs, error, message", [
    ({"quality": 0}, vaecodec.UnknownLevelError, "not defined"),
    ({"quality": "high"}, vaecodec.UnknownLevelError, "not defined"),
    ({"quality": 2, "quant_step": 0.2}, vaecodec.SettingsError, "not both"),
    ({"quant_step": 0.2, "coder": "range"}, vaecodec.SettingsError, "needs a quality level"),
    ({"coder": "lzma"}, vaecodec.SettingsError, "coder must be 'range' or 'zstd'"),
    ({"model": "vae-seed"}, vaecodec.SettingsError, "uses model vae-default"),
    ({"quant_step": 0.2, "model": "nope"}, vaecodec.UnknownModelError, "no model named 'nope'"),
])
def test_bad_settings(sample_images, kwargs, error, message):
    with pytest.raises(error, match=message) as caught:
        vaecodec.encode(sample_images[:2], **kwargs)
    assert isinstance(caught.value, vaecodec.VaezError)
    if error is not vaecodec.UnknownModelError:
        assert isinstance(caught.value, ValueError)


@pytest.mark.parametrize(
    "bad, error",
    [
        ([[0] * 28] * 28, TypeError),
        ("digits", TypeError),
        (np.zeros((2, 28, 28), dtype=np.int64), TypeError),
        (np.zeros((2, 28, 28), dtype=bool), TypeError),
        (np.zeros((2, 32, 32), dtype=np.uint8), ValueError),
        (np.zeros((0, 28, 28), dtype=np.uint8), ValueError),
        (np.full((1, 28, 28), 1.5, dtype=np.float32), ValueError),
        (np.full((1, 28, 28), np.nan, dtype=np.float32), ValueError),
    ],
)
def test_encode_rejects_bad_input(bad, error):
    with pytest.raises(error) as caught:
        vaecodec.encode(bad)
    assert isinstance(caught.value, vaecodec.VaezError)  # the CLI reports it, a caller can too
    if error is ValueError:
        assert isinstance(caught.value, vaecodec.InvalidArrayError)


@pytest.mark.parametrize("step", [0, -1, float("nan"), float("inf"), 1e6, "big", "0.2", True])
def test_encode_rejects_bad_step(sample_images, step):
    with pytest.raises(vaecodec.SettingsError, match="quantization step"):
        vaecodec.encode(sample_images[:2], quant_step=step)


def test_decode_rejects_non_bytes():
    with pytest.raises(vaecodec.ArgumentTypeError):
        vaecodec.decode("VAEZ")
    with pytest.raises(TypeError):
        vaecodec.decode(None)


def test_names_round_trip_through_header(sample_images):
    data = vaecodec.encode(sample_images[:2], names=["a/1.png", "b.jpg"])
    assert vaecodec.read_info(data).names == ("a/1.png", "b.jpg")
    with pytest.raises(vaecodec.UnsafeNameError):
        vaecodec.encode(sample_images[:1], names=["../x.png"])


@pytest.mark.parametrize("names, error, message", [
    (["a.png"], vaecodec.InvalidArrayError, "1 names for 2 images"),
    (["a.png", "b.png", "c.png"], vaecodec.InvalidArrayError, "3 names for 2 images"),
    ("ab", vaecodec.ArgumentTypeError, "not one string"),
])
def test_names_must_match_the_images(sample_images, names, error, message):
    with pytest.raises(error, match=message):
        vaecodec.encode(sample_images[:2], names=names)


def test_every_error_class_is_exported_and_derives_from_vaez_error():
    from vaecodec import errors

    classes = {name: obj for name, obj in vars(errors).items()
               if isinstance(obj, type) and issubclass(obj, Exception)}
    assert len(classes) > 20
    for name, cls in classes.items():  # warnings derive from VaezWarning instead
        base = vaecodec.VaezWarning if issubclass(cls, Warning) else vaecodec.VaezError
        assert issubclass(cls, base), name
        assert name in vaecodec.__all__ and getattr(vaecodec, name) is cls, name
    assert issubclass(vaecodec.QualityWarning, UserWarning)
    assert issubclass(vaecodec.TruncatedError, vaecodec.FormatError)
    assert issubclass(vaecodec.SettingsError, ValueError)
    assert issubclass(vaecodec.ArgumentTypeError, TypeError)


def test_public_names_resolve():
    for name in vaecodec.__all__:
        getattr(vaecodec, name)  # raises AttributeError for a listed name that is missing
    assert callable(vaecodec.encode) and callable(vaecodec.read_info)
    assert isinstance(vaecodec.__version__, str)


@pytest.mark.parametrize("name, home", [("resolve", "pipeline.settings"),
                                        ("Settings", "pipeline.settings"),
                                        ("StreamEncoder", "stream.encoder"),
                                        ("ArchiveDecoder", "stream.decoder"),
                                        ("QualityReport", "pipeline.guard"),
                                        ("is_chunked", "format.sniff"),
                                        ("sample", "sampling")])
def test_names_that_left_codec_still_resolve_there_for_a_release(name, home):
    import importlib

    from vaecodec import codec

    with pytest.warns(DeprecationWarning, match=f"vaecodec.{home}.{name}"):
        old = getattr(codec, name)
    assert old is getattr(importlib.import_module(f"vaecodec.{home}"), name)
    with pytest.raises(AttributeError):
        codec.no_such_name


def test_one_options_object_codes_the_same_bytes_everywhere(sample_images, tmp_path):
    """EncodeOptions is taken by encode, open, compress (and dask.compress); the keywords
    are a thin layer over it and override its fields."""
    import dataclasses

    from vaecodec import EncodeOptions

    options = EncodeOptions(quality=13, polarity="as-is")
    data = vaecodec.encode(sample_images[:20], options)
    assert data == vaecodec.encode(sample_images[:20], quality=13, polarity="as-is")
    assert vaecodec.encode(sample_images[:20], options, quality=4) == vaecodec.encode(
        sample_images[:20], quality=4, polarity="as-is")
    with vaecodec.open(tmp_path / "a.vaez", "w", options) as out:
        out.write(sample_images[:20])
    with vaecodec.open(tmp_path / "a.vaez") as archive:
        assert archive.info.level == 13 and np.array_equal(archive[:], vaecodec.decode(data))
    folder = tmp_path / "src"
    folder.mkdir()
    from PIL import Image

    for i in range(3):
        Image.fromarray(sample_images[i]).save(folder / f"{i}.png")
    result = vaecodec.compress([folder], tmp_path / "b.vaez", options)
    assert vaecodec.read_info(result.output).level == 13
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.quality = 4
    assert options.replace(quality=4) == EncodeOptions(quality=4, polarity="as-is")


def test_options_that_are_not_options_are_refused(sample_images, tmp_path):
    from vaecodec import EncodeOptions

    with pytest.raises(TypeError, match="encode\\(\\) got an unexpected keyword argument 'qualty'"):
        vaecodec.encode(sample_images[:2], qualty=4)
    with pytest.raises(vaecodec.ArgumentTypeError, match="must be a vaecodec.EncodeOptions"):
        vaecodec.encode(sample_images[:2], {"quality": 4})
    with pytest.raises(TypeError, match="compress\\(\\) got an unexpected keyword"):
        vaecodec.compress([tmp_path], tmp_path / "x.vaez", level=4)
    with pytest.raises(TypeError, match="replace\\(\\) got an unexpected keyword"):
        EncodeOptions().replace(step=0.2)
    with pytest.raises(TypeError, match="for reading takes no encoding options"):
        vaecodec.open(tmp_path / "x.vaez", quality=4)
    with vaecodec.open(tmp_path / "c.vaez", "w") as out:
        out.write(sample_images[:3])
    with pytest.raises(vaecodec.SettingsError, match="leave out quality, lossless"):
        vaecodec.open(tmp_path / "c.vaez", "a", EncodeOptions(quality=4, lossless=True))


PUBLIC_MODULES = ["vaecodec.codec", "vaecodec.archive", "vaecodec.files", "vaecodec.options",
                  "vaecodec.sampling", "vaecodec.zoo.manage", "vaecodec.dask", "vaecodec.torch",
                  "vaecodec.convert"]


def test_every_public_name_is_documented():
    """Every name vaecodec exports, every public function and class of the modules a user
    imports, and every public method and property of those classes has a docstring."""
    import importlib
    import inspect

    def undocumented(owner: str, obj) -> list[str]:
        if not (inspect.isclass(obj) or inspect.isfunction(obj)):
            return []
        found = [] if inspect.getdoc(obj) else [owner]
        if inspect.isclass(obj):
            for name, member in vars(obj).items():
                target = member.fget if isinstance(member, property) else member
                if not name.startswith("_") and inspect.isfunction(target) \
                        and not inspect.getdoc(target):
                    found.append(f"{owner}.{name}")
        return found

    missing = [m for name in vaecodec.__all__
               for m in undocumented(f"vaecodec.{name}", getattr(vaecodec, name))]
    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # an extra that is not installed (dask, torch)
            continue
        names = getattr(module, "__all__", None) or [n for n in vars(module)
                                                     if not n.startswith("_")]
        for name in names:
            obj = getattr(module, name)
            if getattr(obj, "__module__", "").startswith(module_name):
                missing += undocumented(f"{module_name}.{name}", obj)
    assert not missing, missing
