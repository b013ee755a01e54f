"""The table pixel model (``core/tablemodel.py``): exact round trips, a code length that
follows the tables, and what it refuses."""

from __future__ import annotations

import numpy as np
import pytest

from vaecodec.core import tablemodel
from vaecodec.core.tablemodel import TableModel

pytest.importorskip("constriction")


def icons(count: int, seed: int) -> np.ndarray:
    """Flat three-colour pictures (a background, a box, a bar) with a little noise in
    some: what the "match" prediction is for, and values of every kind."""
    rng = np.random.default_rng(seed)
    out = np.empty((count, 12, 10, 3), dtype=np.uint8)
    for image in out:
        colours = rng.integers(0, 256, (3, 3), dtype=np.uint8)
        image[:] = colours[0]
        top, left = rng.integers(0, 6, 2)
        image[top : top + 5, left : left + 4] = colours[1]
        image[rng.integers(0, 12)] = colours[2]
        if rng.random() < 0.3:
            image[:] = np.clip(image + rng.integers(-3, 4, image.shape), 0, 255)
    return out


def test_values_come_back_exactly_at_the_tables_code_length():
    """Every value of images the tables were not counted on comes back; the bytes are
    within the coder's overhead of the tables' own code length, and below the bits of
    the plane's distribution alone (the contexts pay)."""
    model = TableModel.fit(icons(300, 1), min_count=4)
    test = icons(40, 2)
    data = model.encode(test)
    assert np.array_equal(model.decode(data, len(test)), test)
    ids, symbols = TableModel._ids_and_symbols(test)
    rows = model.rows[ids]
    hi, lo = model.hi[rows], model.lo[rows, symbols >> 4]
    p_hi = hi[np.arange(len(rows)), symbols >> 4] / hi.sum(1)
    p_lo = lo[np.arange(len(rows)), symbols & 15] / lo.sum(1)
    ideal = -np.log2(p_hi).sum() - np.log2(p_lo).sum()
    assert ideal <= len(data) * 8 <= ideal * 1.01 + 64
    assert model.code_bits(test) == pytest.approx(ideal, rel=1e-9)
    plane_rows = model.rows[ids] * 0 + ids // (tablemodel.context_count(3) // 3)
    p_plane = (model.hi[plane_rows, symbols >> 4] / model.hi[plane_rows].sum(1)
               * model.lo[plane_rows, symbols >> 4, symbols & 15]
               / model.lo[plane_rows, symbols >> 4].sum(1))
    assert len(data) * 8 < 0.9 * -np.log2(p_plane).sum()


def test_the_match_predicts_a_flat_colour_from_the_first_plane():
    """A pixel whose first plane equals its left neighbour's takes the left neighbour's
    other planes as their prediction: a copy of a colour costs almost nothing."""
    canvas = np.zeros((3, 3, 4, 2), dtype=np.int64)
    canvas[:, 1, 1] = [[10, 20], [30, 40], [50, 60]]  # the left neighbour, two images
    canvas[0, 1, 2] = [10, 99]  # this pixel's first plane: equal in image 0 only
    pred, ids = tablemodel._context(canvas, 1, 1, 2, np.zeros(2, dtype=np.int64))
    assert pred[0] == 30 and ids[0] % 5 == 1  # matched the left neighbour
    assert ids[1] % 5 == 0  # no match: the MED (of zeros and 40)


def test_random_values_round_trip_and_every_shape_is_checked():
    rng = np.random.default_rng(3)
    noise = rng.integers(0, 256, (20, 5, 7, 3), dtype=np.uint8)
    model = TableModel.fit(noise)
    assert np.array_equal(model.decode(model.encode(noise[:6]), 6), noise[:6])
    assert (model.hi >= 1).all() and (model.lo >= 1).all()
    with pytest.raises(ValueError, match="not"):
        model.encode(noise[:, :4])
    with pytest.raises(ValueError, match="uint8"):
        model.encode(noise.astype(np.int16))
    with pytest.raises(ValueError, match="32-bit words"):
        model.decode(b"abc", 1)


@pytest.mark.parametrize("max_error", [1, 4])
def test_max_error_bounds_every_value_and_costs_less(max_error):
    """With --max-error K the decoded values are the residual layer's levels (every value
    within K, black and white exact), the same on decoding as the encoder formed its
    contexts from, in fewer bytes than exact values."""
    from vaecodec.core.residual import quantization_levels

    model = TableModel.fit(icons(300, 1), min_count=4)
    test = icons(30, 4)
    data = model.encode(test, max_error=max_error)
    back = model.decode(data, len(test), max_error=max_error)
    levels, nearest = quantization_levels(max_error)
    assert np.array_equal(back, levels[nearest[test]])
    assert np.abs(back.astype(int) - test).max() <= max_error
    assert len(data) < len(model.encode(test))


def test_the_model_files_tensors_round_trip_and_hostile_ones_are_refused():
    """``to_tensors`` / ``from_tensors`` give the same integer tables (derived from the
    stored counts in integer arithmetic); tensors of the wrong type, size or order, and
    counts whose frame does not hold exactly the rows declared, are a ValueError, before
    the counts are decompressed."""
    import zstandard

    model = TableModel.fit(icons(200, 1), min_count=4)
    tensors = model.to_tensors()
    back = TableModel.from_tensors(tensors, (12, 10, 3))
    assert np.array_equal(back.hi, model.hi) and np.array_equal(back.lo, model.lo)
    assert np.array_equal(back.rows, model.rows)
    test = icons(10, 9)
    assert back.encode(test) == model.encode(test)
    contexts = tensors["table.contexts"]
    counts = np.frombuffer(zstandard.ZstdDecompressor().decompress(
        tensors["table.counts"].tobytes()), dtype="<u2")

    def frame(values: np.ndarray) -> np.ndarray:
        data = zstandard.ZstdCompressor().compress(values.astype("<u2").tobytes())
        return np.frombuffer(data, dtype=np.uint8)

    bad = [
        ({**tensors, "extra": contexts}, "exactly the tensors"),
        ({k: v for k, v in tensors.items() if k != "table.weight"}, "exactly the tensors"),
        ({**tensors, "table.contexts": contexts.astype(np.int64)}, "types or sizes"),
        ({**tensors, "table.weight": np.array([0])}, "types or sizes"),
        ({**tensors, "table.weight": np.array([2**16 + 1])}, "types or sizes"),
        ({**tensors, "table.contexts": contexts[::-1].copy()}, "increasing"),
        ({**tensors, "table.contexts": np.append(contexts, contexts[-1:])}, "increasing"),
        ({**tensors, "table.contexts": np.append(contexts, np.int32(10**7))}, "increasing"),
        ({**tensors, "table.contexts": np.append(np.int32(-1), contexts[1:])}, "increasing"),
        ({**tensors, "table.contexts": np.zeros(tablemodel.MAX_ROWS + 1, np.int32)},
         "types or sizes"),
        ({**tensors, "table.counts": frame(counts[:-1])}, "counts"),
        ({**tensors, "table.counts": frame(np.append(counts, 1))}, "counts"),
        ({**tensors, "table.counts": tensors["table.counts"][:-3]}, "counts"),
        ({**tensors, "table.counts": np.zeros(9, np.uint8)}, "counts"),
    ]
    for damaged, message in bad:
        with pytest.raises(ValueError, match=message):
            TableModel.from_tensors(damaged, (12, 10, 3))
    with pytest.raises(ValueError, match="counts"):  # another shape: another row count
        TableModel.from_tensors(tensors, (12, 10, 4))
    # any uint16 counts of the right size make a valid model: no probability is 0
    rng = np.random.default_rng(0)
    for values in (np.zeros_like(counts), np.full_like(counts, 65535),
                   rng.integers(0, 65536, counts.shape).astype(np.uint16)):
        odd = TableModel.from_tensors({**tensors, "table.counts": frame(values)}, (12, 10, 3))
        assert odd.hi.min() >= 1 and odd.lo.min() >= 1
        assert np.array_equal(odd.decode(odd.encode(test), len(test)), test)


def test_counts_past_16_bits_are_scaled_and_seen_values_stay_seen():
    counts = np.array([[0, 1, 70000, 200000] + [0] * 252, [0, 5, 65535, 3] + [0] * 252])
    stored = tablemodel.stored_counts(counts)
    assert stored.dtype == np.uint16
    assert stored[0, :4].tolist() == [0, 1, 22938, 65535]  # 70000 x 65535 / 200000, rounded up
    assert stored[1, :4].tolist() == [0, 5, 65535, 3]


@pytest.mark.parametrize("max_error", [0, 2])
def test_the_encoders_blocks_do_not_change_the_bytes(monkeypatch, max_error):
    """The encoder forms the contexts of a block of rows at once (and the level
    probabilities a slice at a time): blocks of one row, slices of 7 values, give the
    same bytes as whole planes, and they decode with the decoder's one-by-one contexts."""
    model = TableModel.fit(icons(100, 1), min_count=4)
    test = icons(9, 5)
    whole = model.encode(test, max_error)
    monkeypatch.setattr(tablemodel, "BLOCK_VALUES", 1)
    monkeypatch.setattr(tablemodel, "LEVEL_VALUES", 7)
    assert model.encode(test, max_error) == whole
    back = model.decode(whole, len(test), max_error)
    assert np.abs(back.astype(int) - test).max() <= max_error


def photographs(count: int, seed: int) -> np.ndarray:
    """Textured pictures whose three channels follow one another (as a photograph's
    do): one texture in every channel, a tint, and a little noise of each channel's own."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:12, 0:10]
    out = np.empty((count, 12, 10, 3), dtype=np.uint8)
    for image in out:
        a, b, c = rng.uniform(-8, 8, 3)
        light = 128 + a * np.sin(x / 3 + b) * 4 + c * y
        tint = rng.uniform(-30, 30, 3)
        texture = rng.normal(0, 8, (12, 10, 1))
        image[:] = np.clip(light[..., None] + tint + texture + rng.normal(0, 1, (12, 10, 3)),
                           0, 255)
    return out


def test_the_subtract_green_table_codes_correlated_channels_in_fewer_bytes():
    """The transform is reversible, a table after it codes photograph-like colour in
    fewer bytes than one without it, and the weight chosen on validation images is the
    one that codes them in the fewest bits."""
    images = photographs(5, 3)
    planes = tablemodel.transformed(images, "subtract-green")
    assert np.array_equal(tablemodel.untransformed(planes, "subtract-green"), images)
    assert np.array_equal(planes[..., 0], images[..., 1])
    train, valid, test = photographs(300, 4), photographs(60, 5), photographs(60, 6)
    sizes = {}
    for transform in tablemodel.TRANSFORMS:
        def to(x):
            return tablemodel.transformed(x, transform)
        model = TableModel.fit_choosing(to(train), to(valid), min_count=4)
        others = [TableModel.fit(to(train), 4, w).code_bits(to(valid))
                  for w in tablemodel.WEIGHTS]
        assert model.code_bits(to(valid)) == pytest.approx(min(others))
        data = model.encode(to(test))
        assert np.array_equal(tablemodel.untransformed(model.decode(data, len(test)),
                                                       transform), test)
        sizes[transform] = len(data)
    assert sizes["subtract-green"] < 0.95 * sizes["none"], sizes


def test_a_transformed_table_codes_lossless_files_only(tmp_path):
    """As a family's pixel model: lossless files restore every value; the family sends
    --max-error files to another pixel model, a family file that names the transformed
    table for them (or names it alone) is refused, so is a file header that does, and
    so is a transform this vaecodec does not know."""
    import dataclasses

    from test_shapes import random_vae

    import vaecodec
    from vaecodec.core.entropy import fit_prior
    from vaecodec.core.quantize import quantize
    from vaecodec.pipeline.settings import pixel_model_for, settings_for
    from vaecodec.zoo import Level, ModelInfo, Zoo, families
    from vaecodec.zoo.families import Family

    shape = (12, 10, 3)
    vae = random_vae(shape, latent=6, hidden=32)
    train = photographs(80, 7)
    means = Zoo([vae]).vae(vae).encode_mean(train.reshape(len(train), -1) / 255.0)
    level = Level(1, vae.name, vae.model_id, 0.2, fit_prior(quantize(means, 0.2)),
                  measured={"bytes_per_image": 10.0, "psnr_db": 10.0, "ssim": 0.1})
    tables = {what: ModelInfo.in_memory(f"p.{what}", *tablemodel.fit_pixel_model(
        train, 1, vae.model_id.hex(), min_count=4, transform=transform))
        for what, transform in (("table", "none"), ("table-sg", "subtract-green"))}
    assert tables["table-sg"].metadata["architecture"]["transform"] == "subtract-green"
    assert "transform" not in tables["table"].metadata["architecture"]
    models = [vae, tables["table-sg"], tables["table"]]
    ranges = [[0, "p.table-sg"], [1, "p.table"]]
    family = Family("p", vae.name, "p.table-sg", 1, {"pixel_models": ranges})
    zoo = Zoo().with_family(family, models, [level])
    test = photographs(6, 8)
    exact = vaecodec.encode(test, lossless=True, model="p", zoo=zoo)
    assert np.array_equal(vaecodec.decode(exact, zoo=zoo), test)
    bounded = vaecodec.encode(test, max_error=2, model="p", zoo=zoo)
    assert np.abs(vaecodec.decode(bounded, zoo=zoo).astype(int) - test).max() <= 2
    header = vaecodec.read_info(bounded, zoo=zoo)
    assert header.residual.model_id == tables["table"].model_id[:4]
    # a header naming the transformed table for a max-error file
    hostile = dataclasses.replace(header, residual=dataclasses.replace(
        header.residual, model_id=tables["table-sg"].model_id[:4]))
    with pytest.raises(vaecodec.CorruptHeaderError, match="codes lossless files only"):
        pixel_model_for(settings_for(hostile, zoo), 1)
    with pytest.raises(ValueError, match="lossless files only"):
        zoo.pixel_model(tables["table-sg"]).encode(test.reshape(6, -1), 2)
    # family files
    assert families.from_bytes(families.to_bytes(family, models, [level]))[0].metadata[
        "pixel_models"] == ranges
    for bad in ([[0, "p.table"], [1, "p.table-sg"]], [[0, "p.table-sg"]],
                [[0, "p.table-sg"], [2, "p.table"]], None):
        wrong = dataclasses.replace(family, metadata={} if bad is None else
                                    {"pixel_models": bad})
        with pytest.raises(vaecodec.CorruptModelError, match="lossless files only"):
            families.from_bytes(families.to_bytes(wrong, models, [level]))
    unknown = dataclasses.replace(tables["table-sg"], metadata={
        **tables["table-sg"].metadata, "architecture": {
            **tables["table-sg"].metadata["architecture"], "transform": "ycocg"}})
    with pytest.raises(vaecodec.CorruptModelError, match="'ycocg'.*upgrade vaecodec"):
        Zoo().with_family(family, [vae, unknown, tables["table"]], [level]).pixel_model(
            unknown)
