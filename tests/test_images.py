"""Input policy: which files are taken, how any pixel mode becomes 8-bit grayscale."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaecodec import images
from vaecodec.errors import (
    DuplicateNameError,
    EmptySelectionError,
    ImageSizeError,
    InputError,
    InvalidImageError,
)

GRAY = np.tile(np.arange(0, 252, 9, dtype=np.uint8), (28, 1))  # 0..243 across each row
SHAPE = (28, 28)


def save(path, image: Image.Image, **kw):
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, **kw)
    return path


@pytest.mark.parametrize("ext", [".png", ".bmp", ".tif", ".pgm", ".webp", ".gif"])
def test_lossless_formats_read_exactly(tmp_path, ext):
    kw = {"lossless": True} if ext == ".webp" else {}
    path = save(tmp_path / f"a{ext}", Image.fromarray(GRAY), **kw)
    assert np.array_equal(images.read_image(path, SHAPE), GRAY)


def test_jpeg_reads_close(tmp_path):
    path = save(tmp_path / "a.jpg", Image.fromarray(GRAY), quality=95)
    assert np.abs(images.read_image(path, SHAPE).astype(int) - GRAY).max() <= 8


def test_rgb_uses_luma(tmp_path):
    rgb = np.zeros((28, 28, 3), np.uint8)
    rgb[..., 0] = 200
    rgb[..., 1] = 100
    out = images.read_image(save(tmp_path / "a.png", Image.fromarray(rgb)), SHAPE)
    assert np.all(np.abs(out.astype(int) - round(200 * 0.299 + 100 * 0.587)) <= 1)


def test_gray_rgb_and_palette_equal_gray(tmp_path):
    rgb = Image.fromarray(GRAY).convert("RGB")
    assert np.array_equal(images.read_image(save(tmp_path / "rgb.png", rgb)), GRAY)
    pal = Image.fromarray(GRAY).convert("P")
    assert np.array_equal(images.read_image(save(tmp_path / "p.png", pal)), GRAY)


def test_alpha_composited_on_black(tmp_path):
    rgba = np.zeros((28, 28, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[..., 3] = 128
    out = images.read_image(save(tmp_path / "a.png", Image.fromarray(rgba, "RGBA")), SHAPE)
    assert np.all(out == 128)
    la = Image.fromarray(GRAY).convert("LA")
    assert np.array_equal(images.read_image(save(tmp_path / "la.png", la)), GRAY)


def test_16_bit_is_scaled_not_clipped(tmp_path):
    deep = (GRAY.astype(np.uint16) * 257)
    path = save(tmp_path / "a.png", Image.fromarray(deep))
    assert np.array_equal(images.read_image(path, SHAPE), GRAY)
    path = save(tmp_path / "b.tif", Image.fromarray(deep))
    assert np.array_equal(images.read_image(path, SHAPE), GRAY)


def test_bilevel(tmp_path):
    bw = Image.fromarray(GRAY > 100)
    out = images.read_image(save(tmp_path / "a.png", bw))
    assert set(np.unique(out)) == {0, 255}


def test_wrong_size_names_the_file_unless_resize(tmp_path):
    path = save(tmp_path / "big.png", Image.new("L", (32, 30), 255))
    with pytest.raises(ImageSizeError, match=r"big\.png is 32x30.*--resize"):
        images.read_image(path, SHAPE)
    out = images.read_image(path, SHAPE, resize=True)
    assert out.shape == (28, 28) and np.all(out == 255)
    assert images.read_image(path, (30, 32)).shape == (30, 32)  # another model's size
    assert images.read_image(path, (16, 16), resize=True).shape == (16, 16)


@pytest.mark.parametrize("content", [b"", b"\x89PNG\r\n\x1a\n", b"not an image"])
def test_undecodable_file_names_it(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(InvalidImageError, match=r"bad\.png"):
        images.read_image(path, SHAPE)


def test_truncated_png_names_it(tmp_path):
    noise = np.random.default_rng(0).integers(0, 255, (28, 28), dtype=np.uint8)
    path = save(tmp_path / "t.png", Image.fromarray(noise))
    path.write_bytes(path.read_bytes()[:60])
    with pytest.raises(InvalidImageError, match=r"t\.png"):
        images.read_image(path, SHAPE)


def test_collect_recurses_skips_hidden_and_other_extensions(tmp_path):
    for rel in ["a.png", "sub/b.PNG", "sub/deeper/c.jpeg", ".hidden.png", ".git/x.png"]:
        save(tmp_path / rel, Image.fromarray(GRAY), format="PNG")
    for rel in ["notes.txt", "sub/d.svg"]:
        (tmp_path / rel).write_text("not an image")
    names = [name for _, name in images.collect([tmp_path])]
    assert names == ["a.png", "sub/b.PNG", "sub/deeper/c.jpeg"]


def test_collect_files_and_errors(tmp_path):
    a = save(tmp_path / "x" / "a.png", Image.fromarray(GRAY))
    b = save(tmp_path / "y" / "a.png", Image.fromarray(GRAY))
    assert [n for _, n in images.collect([a])] == ["a.png"]
    with pytest.raises(DuplicateNameError):
        images.collect([a, b])
    (tmp_path / "empty").mkdir()
    with pytest.raises(EmptySelectionError):
        images.collect([tmp_path / "empty"])
    with pytest.raises(InputError, match="does not exist"):
        images.collect([tmp_path / "missing"])
    (tmp_path / "n.txt").write_text("x")
    with pytest.raises(InputError, match="not an image file"):
        images.collect([tmp_path / "n.txt"])


def test_read_images_skip_invalid(tmp_path):
    save(tmp_path / "a.png", Image.fromarray(GRAY))
    (tmp_path / "b.png").write_bytes(b"junk")
    files = images.collect([tmp_path])
    with pytest.raises(InvalidImageError):
        images.read_images(files, SHAPE)
    pixels, names, skipped = images.read_images(files, SHAPE, skip_invalid=True)
    assert names == ["a.png"] and len(skipped) == 1 and "b.png" in skipped[0]


def test_output_names():
    assert images.output_names(["a/1.png", "2.JPG", "3.PNG"]) == ["a/1.png", "2.png", "3.PNG"]
    assert images.output_names(["7.jpg", "7.png"]) == ["7.jpg.png", "7.png"]


def test_an_unrecognised_file_is_named_by_its_path_not_a_file_object(tmp_path):
    import vaecodec.images as image_files
    from vaecodec.errors import InvalidImageError

    bad = tmp_path / "bad.tif"
    bad.write_bytes(b"II*\x00" + bytes(40))
    with pytest.raises(InvalidImageError) as caught:
        image_files.read_image(bad)
    assert str(bad) in str(caught.value) and "BufferedReader" not in str(caught.value)


def _lzw_tiff(tmp_path, name, edit) -> str:
    import io as _io
    import struct as _struct

    pixels = np.random.default_rng(0).integers(0, 256, (28, 28)).astype(np.uint8)
    buffer = _io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="TIFF", compression="tiff_lzw")
    data = bytearray(buffer.getvalue())
    edit(data, _struct)
    path = tmp_path / name
    path.write_bytes(bytes(data))
    return str(path)


def _compress_in_a_process(path, tmp_path):
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "vaecodec", "compress", "--resize", path,
                           str(tmp_path / "out.vaez")], capture_output=True, text=True,
                          timeout=120)


def test_libtiff_s_complaint_is_part_of_the_one_error_line(tmp_path):
    """A damaged LZW strip: libtiff's own line ("Using code not yet in table") used to be
    printed on stderr beside vaecodec's Error line; now it is inside it."""
    def damage(data, _):
        for i in range(308, 316):
            data[i] ^= 0xFF

    result = _compress_in_a_process(_lzw_tiff(tmp_path, "strip.tif", damage), tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1, \
        result.stderr
    assert "libtiff:" in result.stderr and "strip.tif" in result.stderr


def test_a_tiff_whose_tag_points_past_its_end_is_refused_not_read_in_part(tmp_path):
    """Pillow skips a tag whose data lies past the file's end (with a warning on stderr)
    and returned pixels read without it: the file is damaged, and said so in one line."""
    def damage(data, struct):
        ifd = struct.unpack_from("<I", data, 4)[0]
        for k in range(struct.unpack_from("<H", data, ifd)[0]):
            entry = ifd + 2 + 12 * k
            if struct.unpack_from("<H", data, entry)[0] == 262:  # PhotometricInterpretation
                struct.pack_into("<I", data, entry + 4, 0x7FFF)

    result = _compress_in_a_process(_lzw_tiff(tmp_path, "tag.tif", damage), tmp_path)
    assert result.returncode == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert "tag.tif is damaged (Pillow: Tag data larger than file" in result.stderr
