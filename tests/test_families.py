"""Model families of one's own: training one, the .vaem file (hostile input too), the
store, and coding with a family's levels and pixel model."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import struct
import zlib

import msgpack
import numpy as np
import pytest
from click.testing import CliRunner

import vaecodec
from vaecodec.cli import main
from vaecodec.format import family as family_format
from vaecodec.zoo import Zoo, families

pytest.importorskip("torch", reason="training needs the train extra (torch)")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, sample_images):
    """A tiny family (the seed recipe, 784-400-20) trained for 200 steps on the 200 sample
    digits shifted about: 600 images of 28x28, and a short pixel network (asked for: on
    so little training the table codes fewer bytes, and "auto" would keep it; the
    numbers are not the point, the round trips are)."""
    from vaecodec.train.family import train_family

    images = np.concatenate([np.roll(sample_images, k, axis=2) for k in range(-1, 2)])
    return train_family(images, "tiny", recipe="seed", steps=200, pixel_epochs=0.5,
                        pixel_qat_epochs=0.25, pixel_model="network", log=lambda line: None)


@pytest.fixture
def store_with_tiny(trained, model_store):
    (model_store / "tiny.vaem").write_bytes(trained.data)
    return model_store


def test_a_trained_family_has_levels_a_pixel_model_and_its_measurements(trained):
    header, blobs = family_format.unpack(trained.data)
    from vaecodec.train.family import default_level

    assert header["name"] == "tiny" and header["default_level"] == default_level(trained.levels)
    assert [m["kind"] for m in header["models"]] == ["vae", "pixel-model"]
    assert [lv["level"] for lv in header["levels"]] == [1, 2, 3, 4, 5, 6]
    meta = header["metadata"]
    assert meta["data"]["train_images"] == 540 and meta["data"]["validation_images"] == 60
    assert set(meta["validation"]["levels"]) == {"1", "2", "3", "4", "5", "6"}
    assert 0 < meta["validation"]["lossless_bits_per_pixel"] < 8
    # the pixel model is fine-tuned through its integer rounding, as pixel-l1-v2/v3 were
    assert header["models"][1]["metadata"]["recipe"]["quantization_aware_epochs"] == 0.25
    # digits: a model of the values, chosen over the MED's differences by their entropies
    pixel_meta = header["models"][1]["metadata"]
    entropies = pixel_meta["predictor_entropies"]
    assert set(entropies) == {"values", "med"} and entropies["values"] < entropies["med"]
    assert pixel_meta["architecture"].get("predictor") is None
    sizes = [lv.measured["bytes_per_image"] for lv in trained.levels]
    assert sizes == sorted(sizes)  # finer steps cost more


@pytest.mark.slow
def test_training_is_reproducible(trained, sample_images):
    from vaecodec.train.family import train_family

    images = np.concatenate([np.roll(sample_images, k, axis=2) for k in range(-1, 2)])
    again = train_family(images, "tiny", recipe="seed", steps=200, pixel_epochs=0.5,
                         pixel_qat_epochs=0.25, pixel_model="network", log=lambda line: None)
    assert [m.model_id for m in again.models] == [m.model_id for m in trained.models]


def test_compress_with_a_family_lossy_and_lossless(store_with_tiny, sample_images, tmp_path):
    images = sample_images[:30]
    data = vaecodec.encode(images, model="tiny")
    header = vaecodec.read_info(data)
    assert header.level == Zoo.installed().family("tiny").default_level
    assert header.model_id == Zoo.installed().find("tiny").model_id[:4]
    assert vaecodec.decode(data).shape == (30, 28, 28)
    exact = vaecodec.encode(images, model="tiny", lossless=True)
    assert np.array_equal(vaecodec.decode(exact), images)
    bounded = vaecodec.encode(images, model="tiny", max_error=4)
    assert np.abs(vaecodec.decode(bounded).astype(int) - images).max() <= 4
    with pytest.raises(vaecodec.UnknownLevelError, match="for model tiny"):
        vaecodec.encode(images, model="tiny", quality=7)
    # the shipped family is untouched: level 4 of mnist is still vae-default's
    assert vaecodec.read_info(vaecodec.encode(images)).model_id == \
        Zoo.installed().find("vae-default").model_id[:4]


def test_a_file_of_a_missing_family_says_how_to_get_it(trained, model_store, sample_images):
    (model_store / "tiny.vaem").write_bytes(trained.data)
    data = vaecodec.encode(sample_images[:3], model="tiny")
    (model_store / "tiny.vaem").unlink()
    with pytest.raises(vaecodec.UnknownModelError, match="vaecodec models import"):
        vaecodec.decode(data)


@pytest.mark.slow
def test_cli_train_writes_a_family_into_the_store(tmp_path, sample_images, model_store):
    """The user's way: train from a .npy in under a minute, the family passing its checks
    (every level above the mean image, quality rising with bytes); a second run does not
    replace it without --force; the family is listed."""
    images = np.concatenate([np.roll(sample_images, k, axis=1) for k in range(-5, 5)])
    np.save(tmp_path / "digits.npy", images)  # 2,000 images
    runner = CliRunner()
    result = runner.invoke(main, ["train", str(tmp_path / "digits.npy"), "--name", "mine",
                                  "--steps", "1500"])
    assert result.exit_code == 0, result.output
    assert f"wrote {model_store / 'mine.vaem'}" in result.stdout
    assert "trained mine on 1800 images" in result.stdout
    assert "mean image" in result.stdout and "Warning" not in result.stderr
    meta = Zoo.installed().family("mine").metadata
    assert meta["validation"]["checks"] == {"passed": True, "problems": []}
    listing = runner.invoke(main, ["models"])
    assert listing.exit_code == 0 and "\nmine " in listing.output and "\nmnist " in listing.output


@pytest.mark.slow  # training through the command line: the long set
def test_cli_train_plans_shows_progress_and_refuses_a_family_that_fails_its_checks(
        tmp_path, sample_images, model_store):
    """Five steps leave every level at the mean image: the family is not installed, and
    one error line says what was measured and what to try. On the way, with stderr not a
    terminal: the recipe chosen, the plan of the budget, and progress lines per stage."""
    np.save(tmp_path / "digits.npy", sample_images)
    refused = CliRunner().invoke(main, ["train", str(tmp_path / "digits.npy"), "--name",
                                        "flat", "--steps", "5", "--time-budget", "20"])
    assert refused.exit_code == 1, refused.output
    lines = refused.stderr.splitlines()
    error = [line for line in lines if line.startswith("Error:")]
    assert len(error) == 1 and "failed its checks" in error[0]
    assert "quality does not rise with bytes" in error[0] and "mean image" in error[0]
    assert "more images" in error[0] and "--time-budget" in error[0] and "--force" in error[0]
    assert "Traceback" not in refused.output and not (model_store / "flat.vaem").exists()
    assert any(line.startswith("recipe auto: 180 training images of 28x28") for line in lines)
    plan = next(line for line in lines if line.startswith("plan for 20 s: "))
    for stage in ("reading", "VAE", "levels", "pixel model", "checks"):
        assert f"{stage} " in plan
        assert any(line.startswith(f"{stage}: ") for line in lines), stage
    assert any(line.startswith("VAE: 5/5 (100%)") for line in lines)
    assert " mean image " in refused.stderr  # the measured table, beside the error


@pytest.mark.slow
def test_cli_train_resize_scales_a_folder_of_mixed_sizes_and_force_installs(
        tmp_path, sample_images, model_store):
    """--resize scales the odd sizes (a warning says how many); --force installs a family
    that fails its checks, with a warning; --quiet leaves only the warnings."""
    from PIL import Image

    folder = tmp_path / "mixed"
    folder.mkdir()
    for i, image in enumerate(sample_images[:60]):
        picture = Image.fromarray(image)
        if i % 4 == 0:
            picture = picture.resize((56, 56))
        picture.save(folder / f"{i:03d}.png")
    # a VAE recipe (auto would keep the linear model, which passes its checks here)
    args = ["train", str(folder), "--name", "mixed", "--recipe", "default", "--steps", "5",
            "--time-budget", "15", "--force", "--quiet"]
    refused = CliRunner().invoke(main, args)
    assert refused.exit_code == 1 and "--resize" in refused.output
    result = CliRunner().invoke(main, args + ["--resize"])
    assert result.exit_code == 0, result.output
    assert result.stdout == ""
    warnings = result.stderr.splitlines()
    assert warnings[0] == "Warning: 15 images scaled to 28x28"
    assert warnings[1].startswith("Warning: installed although it failed its checks (--force)")
    assert len(warnings) == 2
    family = Zoo.installed().family("mixed")
    assert Zoo.installed().find(family.vae).image_shape == (28, 28)
    assert family.metadata["data"]["resized_files"] == 15
    assert family.metadata["validation"]["checks"]["passed"] is False


def test_cli_train_refuses_an_installed_name_before_training(store_with_tiny, tmp_path):
    np.save(tmp_path / "digits.npy", np.zeros((10, 28, 28), np.uint8))
    again = CliRunner().invoke(main, ["train", str(tmp_path / "digits.npy"), "--name", "tiny"])
    assert again.exit_code == 1 and "exists" in again.output and "--force" in again.output
    assert (store_with_tiny / "tiny.vaem").exists()


def test_cli_export_import_remove(tmp_path, sample_images, store_with_tiny):
    """A family's archive decodes after export, remove and import with an empty store."""
    model_store = store_with_tiny
    runner = CliRunner()
    listing = runner.invoke(main, ["models"])
    assert listing.exit_code == 0 and "\ntiny " in listing.output and "\nmnist " in listing.output
    archive = tmp_path / "d.vaez"
    from PIL import Image

    (tmp_path / "src").mkdir()
    for i in range(5):
        Image.fromarray(sample_images[i]).save(tmp_path / "src" / f"{i}.png")
    assert runner.invoke(main, ["compress", str(tmp_path / "src"), str(archive), "--model",
                                "tiny", "--lossless"]).exit_code == 0
    exported = tmp_path / "tiny.vaem"
    assert runner.invoke(main, ["models", "export", "tiny", str(exported)]).exit_code == 0
    removed = runner.invoke(main, ["models", "remove", "tiny"])
    assert removed.exit_code == 0 and not (model_store / "tiny.vaem").exists()
    missing = runner.invoke(main, ["decompress", str(archive), "-o", str(tmp_path / "out")])
    assert missing.exit_code == 1 and "vaecodec models import" in missing.output
    assert runner.invoke(main, ["models", "import", str(exported)]).exit_code == 0
    done = runner.invoke(main, ["decompress", str(archive), "-o", str(tmp_path / "out")])
    assert done.exit_code == 0, done.output
    for i in range(5):
        assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / f"{i}.png")),
                              sample_images[i])


def test_training_data_must_share_one_size(tmp_path):
    np.save(tmp_path / "a.npy", np.zeros((3, 28, 28), np.uint8))
    np.save(tmp_path / "b.npy", np.zeros((3, 32, 32), np.uint8))
    result = CliRunner().invoke(main, ["train", str(tmp_path / "a.npy"), str(tmp_path / "b.npy"),
                                       "--name", "x"])
    assert result.exit_code == 1
    assert result.output.startswith("Error: the images must all have one size")


@pytest.mark.parametrize("bad", ["", "-x", "a/b", "a" * 65, "..", "é"])
def test_family_names_are_safe_file_names(bad):
    with pytest.raises(vaecodec.CorruptModelError):
        family_format.check_name(bad)


# --- the .vaem file as hostile input -------------------------------------------------------
def rebuild(header: dict, blobs: list[bytes]) -> bytes:
    raw = msgpack.packb(header, use_bin_type=True)
    body = struct.pack("<4sBI", b"VAEM", 1, len(raw)) + raw + b"".join(blobs)
    return body + struct.pack("<I", zlib.crc32(body))


def test_every_damage_to_a_model_file_is_one_clear_error(trained):
    header, blobs = family_format.unpack(trained.data)
    data = trained.data
    cases = {
        "too short": data[:6],
        "does not start with VAEM": b"XXXX" + data[4:],
        "version 2": data[:4] + b"\x02" + data[5:],
        "checksum mismatch": data[:-5] + bytes([data[-5] ^ 1]) + data[-4:],
        "exceeds the file": data[:5] + struct.pack("<I", 2**31) + data[9:],
        "does not match its sha256": rebuild(header, [blobs[0][:-1] + b"!", blobs[1]]),
        "cut short": rebuild(header, [blobs[0], blobs[1][:-1]]),
        "follow the last model": rebuild(header, [*blobs, b"extra"]),
        "exactly the keys": rebuild({**header, "extra": 1}, blobs),
        "exactly one VAE": rebuild({**header, "models": [
            {**m, "kind": "vae"} for m in header["models"]]}, blobs),
        "the default level": rebuild({**header, "default_level": 9}, blobs),
        "defined twice": rebuild({**header, "levels": header["levels"] * 2}, blobs),
        "step must be": rebuild({**header, "levels": [
            {**lv, "quant_step": 0.0} for lv in header["levels"]]}, blobs),
        "does not parse": data[:9] + b"\xc1" + data[10:-4] + struct.pack(
            "<I", zlib.crc32(data[:9] + b"\xc1" + data[10:-4])),
    }
    for expected, bad in cases.items():
        with pytest.raises(vaecodec.CorruptModelError, match=expected):
            families.from_bytes(bad)


def test_a_damaged_prior_in_a_model_file_is_refused(trained):
    header, blobs = family_format.unpack(trained.data)
    levels = [{**lv, "prior": [{"lo": 0, "freq": [-1]}]} for lv in header["levels"]]
    with pytest.raises(vaecodec.CorruptModelError, match="quality level"):
        families.from_bytes(rebuild({**header, "levels": levels}, blobs))


def test_a_damaged_file_in_the_store_names_itself(model_store, trained):
    (model_store / "bad.vaem").write_bytes(trained.data[:-1])
    with pytest.raises(vaecodec.CorruptModelError, match="bad.vaem"):
        vaecodec.encode(np.zeros((1, 28, 28), np.uint8))


def test_the_family_file_round_trips(trained):
    family, models, levels = families.from_bytes(trained.data)
    again = families.to_bytes(family, models, levels)
    assert hashlib.sha256(again).digest() == hashlib.sha256(trained.data).digest()
    assert json.loads(json.dumps(family.metadata)) == family.metadata


# --- a model carried in the archive --------------------------------------------------------
def test_an_archive_with_its_model_decodes_with_an_empty_store(store_with_tiny, trained,
                                                               sample_images, monkeypatch,
                                                               tmp_path):
    images = sample_images[:10]
    lossy = vaecodec.encode(images, model="tiny", embed_model=True)
    exact = vaecodec.encode(images, model="tiny", lossless=True, embed_model=True)
    plain = vaecodec.encode(images, model="tiny")
    header = vaecodec.read_info(exact)
    assert header.version == 4 and header.embedded_model_size == len(trained.data)
    assert 0 < len(lossy) - len(plain) - len(trained.data) <= 8  # the model once, its size
    expected = vaecodec.decode(lossy)
    monkeypatch.setenv("VAECODEC_MODELS", str(tmp_path / "empty"))
    assert np.array_equal(vaecodec.decode(lossy), expected)
    assert np.array_equal(vaecodec.decode(exact), images)
    with pytest.raises(vaecodec.UnknownModelError):
        vaecodec.decode(plain)
    # and the model can be taken out of it
    (tmp_path / "a.vaez").write_bytes(exact)
    result = CliRunner().invoke(main, ["models", "import", str(tmp_path / "a.vaez")])
    assert result.exit_code == 0, result.output
    assert np.array_equal(vaecodec.decode(plain), expected)


def test_only_a_family_of_ones_own_is_embedded(sample_images):
    with pytest.raises(vaecodec.SettingsError, match="not a family of your own"):
        vaecodec.encode(sample_images[:2], embed_model=True)


def test_an_embedded_model_must_be_the_one_the_header_names(store_with_tiny, trained,
                                                            sample_images):
    from vaecodec.format import container

    data = vaecodec.encode(sample_images[:3], model="tiny", embed_model=True)
    archive = container.unpack(data)
    other = container.pack(
        dataclasses.replace(archive.header, model_id=b"\x00" * 32), archive.payload,
        model=archive.model)
    with pytest.raises(vaecodec.CorruptHeaderError, match="embedded model is not"):
        vaecodec.decode(other)
    damaged = bytearray(archive.model)
    damaged[-100] ^= 1
    bad = container.pack(archive.header, archive.payload, model=bytes(damaged))
    with pytest.raises(vaecodec.CorruptModelError):
        vaecodec.decode(bad)
    with pytest.raises(vaecodec.FormatError):
        vaecodec.decode(data[:-10])


@pytest.mark.slow
@pytest.mark.parametrize("side", [32, 64])
def test_families_of_other_sizes_code_lossy_and_lossless(side, sample_images):
    from PIL import Image

    from vaecodec.train.family import train_family

    images = np.stack([np.asarray(Image.fromarray(p).resize((side, side), Image.BILINEAR))
                       for p in sample_images])
    trained = train_family(images, f"s{side}", epochs=1, pixel_epochs=0.3,
                           log=lambda line: None)
    zoo = Zoo().with_family(trained.family, trained.models, trained.levels)
    data = vaecodec.encode(images[:10], model=f"s{side}", lossless=True, zoo=zoo)
    assert np.array_equal(vaecodec.decode(data, zoo=zoo), images[:10])
    assert vaecodec.decode(vaecodec.encode(images[:10], model=f"s{side}", zoo=zoo),
                           zoo=zoo).shape == (10, side, side)


def test_hostile_metadata_is_refused_or_ignored(trained, model_store):
    header, blobs = family_format.unpack(trained.data)
    bad_figure = [{**lv, "measured": {**lv["measured"], "psnr_db": "high"}}
                  for lv in header["levels"]]
    with pytest.raises(vaecodec.CorruptModelError, match="psnr_db is not a number"):
        families.from_bytes(rebuild({**header, "levels": bad_figure}, blobs))
    no_base = [{**m, "metadata": {**m["metadata"], "base_level": 99}}
               if m["kind"] == "pixel-model" else m for m in header["models"]]
    with pytest.raises(vaecodec.CorruptModelError, match="base level"):
        families.from_bytes(rebuild({**header, "models": no_base}, blobs))
    # free-form metadata of the wrong shape is only not shown
    odd = rebuild({**header, "metadata": {"validation": [1], "data": "x", "recipe": 3}}, blobs)
    (model_store / "tiny.vaem").write_bytes(odd)
    runner = CliRunner()
    for args in (["models"], ["models", "show", "tiny"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 0, result.output


def test_a_family_may_not_take_a_shipped_name(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 28, 28), np.uint8))
    for name in ("vae-default", "mnist"):
        result = CliRunner().invoke(main, ["train", str(tmp_path / "x.npy"), "--name", name])
        assert result.exit_code == 1 and "is taken" in result.output
    result = CliRunner().invoke(main, ["train", str(tmp_path / "x.npy"), "--name", "a/b"])
    assert result.exit_code == 2 and "Invalid value for '--name'" in result.output


def test_import_refuses_a_family_whose_models_repeat_installed_names(tmp_path):
    """A renamed export of an installed family: its models' names clash with the
    installed ones, so it is refused at import, not by every command afterwards."""
    import dataclasses

    from vaecodec.zoo import Zoo, families

    shipped = [f.name for f in Zoo.installed().families()]
    if not shipped:
        pytest.skip("needs a shipped family besides mnist")
    family, models, levels = families.from_bytes(Zoo.installed().family_file(shipped[0]))
    renamed = tmp_path / "renamed.vaem"
    renamed.write_bytes(families.to_bytes(dataclasses.replace(family, name="renamed"),
                                          models, levels))
    runner = CliRunner()
    result = runner.invoke(main, ["models", "import", str(renamed)])
    assert result.exit_code == 1 and "exists already" in result.output, result.output
    assert not list(families.store_dir().glob("*.vaem"))
    assert runner.invoke(main, ["models"]).exit_code == 0
    assert runner.invoke(main, ["levels"]).exit_code == 0


def test_a_changed_store_is_read_again_and_the_shipped_models_are_not(trained, model_store,
                                                                      tmp_path, monkeypatch):
    """Zoo.installed() reads the user's store again when its files change (or another
    store is named) but keeps the shipped zoo, read once per process, and its loaded
    networks: another store's zoo decodes with the very runtime the first one built."""
    from vaecodec.zoo import manage

    before = Zoo.installed()
    vae = before.vae(before.find(None))
    manage.install_family(trained.data)
    after = Zoo.installed()
    assert after is not before and "tiny" in {f.name for f in after.families()}
    assert "tiny" not in {f.name for f in before.families()}
    other = tmp_path / "other-store"
    other.mkdir()
    monkeypatch.setenv("VAECODEC_MODELS", str(other))
    elsewhere = Zoo.installed()
    assert "tiny" not in {f.name for f in elsewhere.families()}
    assert elsewhere.vae(elsewhere.find(None)) is vae is after.vae(after.find(None))


def test_the_store_s_operations_are_library_calls(trained, model_store, tmp_path):
    """A Python user installs, exports and removes a family as the CLI does."""
    from vaecodec.zoo import manage

    assert manage.family_path("tiny") == model_store / "tiny.vaem"
    target = manage.install_family(trained.data)
    assert target == model_store / "tiny.vaem" and "tiny" in {
        f.name for f in Zoo.installed().families()}
    with pytest.raises(vaecodec.OutputExistsError, match="use --force"):
        manage.install_family(trained.data)
    assert manage.install_family(trained.data, force=True) == target
    manage.export_family("tiny", tmp_path / "t.vaem")
    assert families.from_bytes((tmp_path / "t.vaem").read_bytes())[0].name == "tiny"
    with pytest.raises(vaecodec.SettingsError, match="nothing to export"):
        manage.export_family("mnist", tmp_path / "m.vaem")
    assert manage.remove_family("tiny") == target and not target.exists()
    with pytest.raises(vaecodec.UnknownModelError, match="no model family named tiny"):
        manage.remove_family("tiny")
    with pytest.raises(vaecodec.SettingsError, match="cannot be removed"):
        manage.remove_family("mnist")
    with pytest.raises(vaecodec.SettingsError, match="letters, digits"):
        manage.family_path("../x")
    with pytest.raises(vaecodec.SettingsError, match="taken by a shipped"):
        manage.check_new_family("mnist")


def test_cli_train_reading_errors_are_one_line(tmp_path, model_store):
    """Unreadable files, with --skip-invalid and --resize too, and contradictory
    schedules: one clear line each, before any training."""
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.png").write_bytes(b"not a png")
    runner = CliRunner()
    for extra, message in (([], "bad/a.png is not a readable image"),
                           (["--resize"], "bad/a.png is not a readable image"),
                           (["--skip-invalid"], "no readable image among the selected files"),
                           (["--resize", "--skip-invalid"],
                            "no readable image among the selected files")):
        result = runner.invoke(main, ["train", str(tmp_path / "bad"), "--name", "b", *extra])
        assert result.exit_code == 1 and message in result.stderr, (extra, result.output)
        assert "Traceback" not in result.output
    both = runner.invoke(main, ["train", str(tmp_path / "bad"), "--name", "b", "--epochs", "1",
                                "--steps", "2"])
    assert both.exit_code == 2 and "give --epochs or --steps, not both" in both.stderr
    assert not list(model_store.iterdir())


def test_each_max_error_goes_to_the_pixel_model_that_coded_it_in_fewer_bytes():
    from vaecodec.train.family import pixel_model_ranges

    sizes = {"network": {0: 10.0, 1: 8.0, 2: 5.0, 4: 3.0, 8: 2.0},
             "table": {0: 9.0, 1: 7.0, 2: 6.0, 4: 4.0, 8: 1.0}}
    assert pixel_model_ranges(sizes) == [[0, "table"], [2, "network"], [8, "table"]]
    assert pixel_model_ranges({"table": {0: 3.0}}) == [[0, "table"]]
    # the table (several times faster) unless the network saves 1% of its bytes
    close = {"network": {0: 99.5, 1: 98.0}, "table": {0: 100.0, 1: 100.0}}
    assert pixel_model_ranges(close) == [[0, "table"], [1, "network"]]
    # a table after the colour transform codes lossless files only: K = 0 alone
    colour = {"network": {0: 10.0, 1: 8.0, 2: 5.0}, "table": {0: 9.0, 1: 7.0, 2: 6.0},
              "table-sg": {0: 8.0}}
    assert pixel_model_ranges(colour) == [[0, "table-sg"], [1, "table"], [2, "network"]]
    # a table, either one, unless the network saves 1% of the better table's bytes
    near = {"network": {0: 99.5, 1: 98.0}, "table": {0: 101.0, 1: 100.0},
            "table-sg": {0: 100.0}}
    assert pixel_model_ranges(near) == [[0, "table-sg"], [1, "network"]]
