"""The .vaem model family file as hostile input, fuzzed (no torch needed): any bytes give
a family or one CorruptModelError, never another exception."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

import vaecodec
from vaecodec.format import family as family_format
from vaecodec.zoo import families

PRIOR = [{"lo": -1, "freq": [16384, 32768, 16384]}] * 2


def small_family() -> bytes:
    """A structurally valid family with stand-in model files (never loaded here)."""
    header = {
        "name": "fz",
        "models": [
            {"kind": "vae", "name": "fz", "metadata": {
                "architecture": {"image_shape": [4, 4], "latent_size": 2}}},
            {"kind": "pixel-model", "name": "fz.pixel", "metadata": {"base_level": 1}},
        ],
        "levels": [{"level": 1, "model": "fz", "quant_step": 0.5, "prior": PRIOR,
                    "measured": {"psnr_db": 20.0}},
                   {"level": 2, "model": "fz", "quant_step": 0.25, "prior": PRIOR,
                    "measured": {}}],
        "default_level": 1,
        "metadata": {"data": {"images": 3}},
    }
    return family_format.pack(header, [b"weights of the vae", b"pixel model"])


DATA = small_family()


def test_the_small_family_reads():
    family, models, levels = families.from_bytes(DATA)
    assert family.name == "fz" and [lv.level for lv in levels] == [1, 2]
    assert [m.kind for m in models] == ["vae", "pixel-model"]


@pytest.mark.fuzz
@given(st.data())
def test_mutated_family_files_are_one_clear_error(data):
    raw = bytearray(DATA)
    for _ in range(data.draw(st.integers(1, 8))):
        at = data.draw(st.integers(0, len(raw) - 1))
        raw[at] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(raw)))
    blob = bytes(raw[:cut]) if data.draw(st.booleans()) else bytes(raw)
    if data.draw(st.booleans()):  # the checksum fixed, so that mutations reach the header
        import struct
        import zlib

        blob = blob[:-4] + struct.pack("<I", zlib.crc32(blob[:-4]))
    try:
        families.from_bytes(blob)
    except vaecodec.CorruptModelError:
        pass


@pytest.mark.parametrize("default", [[], {}, [1], True, "1", 1.0])
def test_a_default_level_of_another_type_is_one_clear_error(default):
    """Found by tests/test_fuzz_structures.py: a list as the default level raised
    TypeError (unhashable) instead of CorruptModelError."""
    header, _ = family_format.unpack(DATA)
    header["default_level"] = default
    with pytest.raises(vaecodec.CorruptModelError, match="default level"):
        family_format.check_header(header)
