"""The command line through click's CliRunner: exit codes, exact messages, files on disk."""

from __future__ import annotations

import json
import os
import shutil

import click
import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image

import vaecodec
from vaecodec.cli import main
from vaecodec.format import container, wire


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def digits(tmp_path, sample_dir):
    target = tmp_path / "digits"
    shutil.copytree(sample_dir / "3", target / "3")
    shutil.copytree(sample_dir / "7", target / "7")
    return target


def run(runner, *args):
    return runner.invoke(main, [str(a) for a in args])


def test_compress_info_decompress(runner, tmp_path, digits):
    out = tmp_path / "out.vaez"
    result = run(runner, "compress", digits, out)
    assert result.exit_code == 0, result.output
    count = len(list(digits.rglob("*.png")))
    assert f"compressed {count} images into {out}" in result.output

    result = run(runner, "info", out)
    assert result.exit_code == 0 and f"{count} (28x28)" in result.output
    assert "vae-default" in result.output
    info = json.loads(run(runner, "info", out, "--json").output)
    assert info["count"] == count and info["format_version"] == 5  # compress: chunked
    assert info["quality_level"] == 4 and info["coder"] == "range"
    assert sorted(info["names"]) == sorted(p.relative_to(digits).as_posix()
                                           for p in digits.rglob("*.png"))

    result = run(runner, "decompress", out)
    assert result.exit_code == 0, result.output
    restored = tmp_path / "out"
    for original in digits.rglob("*.png"):
        twin = restored / original.relative_to(digits)
        assert twin.is_file()
        assert np.asarray(Image.open(twin)).shape == (28, 28)
    assert not list(restored.rglob(".*"))  # no temporary files left


def test_decompress_to_folder_and_force(runner, tmp_path, digits):
    out = tmp_path / "out.vaez"
    run(runner, "compress", digits, out)
    dest = tmp_path / "restored"
    assert run(runner, "decompress", out, "-o", dest).exit_code == 0
    result = run(runner, "decompress", out, "-o", dest)
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "already exist" in result.output
    assert "--force" in result.output
    assert run(runner, "decompress", out, "-o", dest, "--force").exit_code == 0


def test_existing_output_needs_force(runner, tmp_path, digits):
    out = tmp_path / "out.vaez"
    out.write_bytes(b"precious")
    result = run(runner, "compress", digits, out)
    assert result.exit_code == 1
    assert result.output == f"Error: {out} already exists (use --force to overwrite)\n"
    assert out.read_bytes() == b"precious"
    assert run(runner, "compress", digits, out, "--force").exit_code == 0
    assert out.read_bytes()[:4] == b"VAEZ"


def test_quality_option(runner, tmp_path, digits):
    run(runner, "compress", digits, tmp_path / "a.vaez", "-q", "1")
    run(runner, "compress", digits, tmp_path / "b.vaez", "--quality", "5")
    run(runner, "compress", digits, tmp_path / "c.vaez", "--quality", "5", "--coder", "zstd")
    assert (tmp_path / "a.vaez").stat().st_size < (tmp_path / "b.vaez").stat().st_size
    assert vaecodec.read_info(tmp_path / "b.vaez").level == 5
    assert vaecodec.read_info(tmp_path / "c.vaez").coder == "zstd"
    result = run(runner, "info", tmp_path / "b.vaez")
    assert "quality level 5 (step 0.3)" in result.output and "range coder" in result.output
    for args, message in ((["-q", "99"], "quality level 99 is not defined"),
                          (["-q", "2", "--step", "0.3"], "not both"),
                          (["--step", "0.3", "--coder", "range"], "needs a quality level")):
        result = run(runner, "compress", digits, tmp_path / "d.vaez", *args)
        assert result.exit_code == 1 and message in result.output
        assert not (tmp_path / "d.vaez").exists()


def test_levels_command(runner):
    result = run(runner, "levels")
    assert result.exit_code == 0 and "(default)" in result.output
    rows = json.loads(run(runner, "levels", "--json").output)
    assert [r["level"] for r in rows] == list(range(1, len(rows) + 1)) and len(rows) >= 5
    assert all(r["bytes_per_image"] > 0 and r["psnr_db"] > 15 for r in rows)


def test_step_option_changes_the_file(runner, tmp_path, digits):
    run(runner, "compress", digits, tmp_path / "a.vaez", "--step", "0.05")
    run(runner, "compress", digits, tmp_path / "b.vaez", "--step", "1")
    assert (tmp_path / "a.vaez").stat().st_size > (tmp_path / "b.vaez").stat().st_size
    assert vaecodec.read_info(tmp_path / "a.vaez").quant_step == 0.05
    result = run(runner, "compress", digits, tmp_path / "c.vaez", "--step", "0")
    assert result.exit_code == 1 and "quantization step" in result.output
    assert not (tmp_path / "c.vaez").exists()


def errors_leave_nothing(tmp_path, before):
    after = set(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    assert after == before, after - before


def test_bad_image_is_an_error_naming_it_and_nothing_is_written(runner, tmp_path, digits):
    (digits / "3" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nbroken")
    before = set(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run(runner, "compress", digits, tmp_path / "out.vaez")
    assert result.exit_code == 1
    assert result.output.startswith("Error: ") and "broken.png" in result.output
    assert result.output.count("\n") == 1 and "Traceback" not in result.output
    errors_leave_nothing(tmp_path, before)

    result = run(runner, "compress", digits, tmp_path / "out.vaez", "--skip-invalid")
    assert result.exit_code == 0
    assert "Warning: skipped 1 unreadable file:" in result.output and "broken.png" in result.output


def test_wrong_size_needs_resize(runner, tmp_path, digits):
    Image.new("L", (56, 56), 255).save(digits / "big.png")
    result = run(runner, "compress", digits, tmp_path / "out.vaez")
    assert result.exit_code == 1 and "big.png is 56x56" in result.output
    assert run(runner, "compress", digits, tmp_path / "out.vaez", "--resize").exit_code == 0


@pytest.mark.parametrize("args, message", [
    (["compress", "{tmp}/nothing", "{tmp}/o.vaez"], "does not exist"),
    (["compress", "{tmp}/empty", "{tmp}/o.vaez"], "no image files found"),
    (["compress", "{digits}", "{tmp}/missing/o.vaez"], "does not exist"),
    (["compress", "{digits}", "{tmp}/empty"], "is a folder"),
    (["info", "{tmp}/nothing.vaez"], "No such file"),
    (["decompress", "{tmp}/junk.vaez"], "not a .vaez file"),
    (["info", "{tmp}/junk.vaez"], "not a .vaez file"),
    (["compress", "{digits}", "{tmp}/o.vaez", "--lossless", "--step", "0.2"],
     "not a quantization step"),
    (["compress", "{digits}", "{tmp}/o.vaez", "--lossless", "--max-error", "3"],
     "lossless means max_error 0"),
    (["compress", "{digits}", "{tmp}/o.vaez", "--max-error", "2", "-q", "5"],
     "use quality level 10"),
])
def test_user_errors_are_one_line(runner, tmp_path, digits, args, message):
    (tmp_path / "empty").mkdir()
    (tmp_path / "junk.vaez").write_bytes(b"hello world, not vaez")
    before = set(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    result = run(runner, *[a.format(tmp=tmp_path, digits=digits) for a in args])
    assert result.exit_code == 1, result.output
    assert result.output.startswith("Error: ") and message in result.output
    assert result.output.count("\n") == 1
    errors_leave_nothing(tmp_path, before)


@pytest.mark.parametrize("option", [["--lossless"], ["--max-error", "0"], ["--max-error", "6"]])
def test_lossless_and_max_error_round_trip_through_files(runner, tmp_path, digits, option):
    out = tmp_path / "out.vaez"
    result = run(runner, "compress", digits, out, *option)
    assert result.exit_code == 0, result.output
    bound = 0 if option == ["--lossless"] else int(option[1])
    info = run(runner, "info", out)
    assert "format version: 5" in info.output
    assert ("lossless" if bound == 0 else f"max error {bound}") in info.output
    assert json.loads(run(runner, "info", out, "--json").output)["residual"]["max_error"] == bound
    assert run(runner, "decompress", out).exit_code == 0
    for original in digits.rglob("*.png"):
        twin = tmp_path / "out" / original.relative_to(digits)
        error = np.abs(np.asarray(Image.open(twin), dtype=int) - np.asarray(Image.open(original)))
        assert error.max() <= bound


def test_max_error_range_is_a_usage_error(runner, tmp_path, digits):
    result = run(runner, "compress", digits, tmp_path / "o.vaez", "--max-error", "33")
    assert result.exit_code == 2 and "33 is not in the range 0<=x<=32" in result.output
    assert not (tmp_path / "o.vaez").exists()


def hostile_archive(names):
    """A valid file whose names field is replaced, bypassing the writer's checks."""
    import struct
    import zlib

    import msgpack

    good = vaecodec.encode(np.zeros((len(names), 28, 28), np.uint8))
    archive = container.unpack(good)
    h = archive.header
    fields = [h.model_id, h.latent_size, h.level, 0, h.count, h.payload_size,
              [0, "\x00".join(names).encode()]]
    header = msgpack.packb(fields, use_bin_type=True)
    body = b"VAEZ\x02" + wire.leb128(len(header)) + header + archive.payload
    return body + struct.pack("<I", zlib.crc32(body))


@pytest.mark.parametrize("bad", ["../escape.png", "/tmp/abs.png", "a\\b.png", "C:x.png"])
def test_unsafe_names_refused_before_writing(runner, tmp_path, bad):
    archive = tmp_path / "evil.vaez"
    archive.write_bytes(hostile_archive(["fine.png", bad]))
    result = run(runner, "decompress", archive, "-o", tmp_path / "dest")
    assert result.exit_code == 1 and "Error: " in result.output
    assert not (tmp_path / "dest").exists()
    assert not (tmp_path / "escape.png").exists()


def test_symlinked_folder_in_output_is_refused(runner, tmp_path, digits):
    out = tmp_path / "out.vaez"
    run(runner, "compress", digits, out)
    dest = tmp_path / "dest"
    dest.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    os.symlink(outside, dest / "3")
    result = run(runner, "decompress", out, "-o", dest)
    assert result.exit_code == 1 and "dest/3 is a symbolic link; refusing" in result.output
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in dest.iterdir()) == ["3"]  # what was written is removed


def _commands(group, path=()):
    """(the words that name it, the click command) of every command, nested ones too."""
    for name, command in sorted(group.commands.items()):
        yield (*path, name), command
        if hasattr(command, "commands"):
            yield from _commands(command, (*path, name))


def test_every_command_s_help_shows_its_usage_summary_and_options(runner):
    commands = list(_commands(main))
    assert {words[0] for words, _ in commands} >= {"compress", "decompress", "info", "ls", "test",
                                                "levels", "train", "models", "sample"}
    for words, command in [((), main), *commands]:
        result = runner.invoke(main, [*words, "--help"])
        assert result.exit_code == 0, words
        assert f"Usage: main {' '.join(words)}".rstrip() in result.output, words
        summary = (command.help or "").split("\n")[0].strip()
        assert summary and summary.split()[0] in result.output, words
        for param in command.params:
            for opt in param.opts if isinstance(param, click.Option) else []:
                assert opt in result.output, (words, opt)


def test_version(runner):
    result = runner.invoke(main, ["--version"])
    assert result.output.strip() == f"vaecodec, version {vaecodec.__version__}"


def test_usage_error_exit_code(runner):
    result = runner.invoke(main, ["compress"])
    assert result.exit_code == 2 and "Missing argument" in result.output


def test_a_bug_is_not_disguised_as_a_user_error(runner, tmp_path, digits, monkeypatch):
    """Only the library's own errors (and OS errors) become one line; anything else is a
    bug and must keep its traceback."""
    from vaecodec import files

    def broken(*args, **kwargs):
        raise ValueError("an internal mistake")

    monkeypatch.setattr(files, "compress", broken)
    result = run(runner, "compress", digits, tmp_path / "o.vaez")
    assert isinstance(result.exception, ValueError)
    assert "Error: an internal mistake" not in result.output


def test_python_dash_m_runs_the_cli():
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "vaecodec", "--version"],
                          capture_output=True, text=True)
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"vaecodec, version {vaecodec.__version__}"


def test_info_on_a_file_whose_model_is_not_installed(runner, tmp_path):
    """Versions 2 and 3 do not store the image size: it is the model's, so without the
    model info says so instead of guessing 28x28."""
    import struct
    import zlib

    import msgpack

    good = container.unpack(vaecodec.encode(np.zeros((2, 28, 28), np.uint8), quant_step=0.5))
    h = good.header
    fields = [b"\x00\x01\x02\x03", h.latent_size, 0.5, 1, h.count, h.payload_size, None]
    header = msgpack.packb(fields, use_bin_type=True)
    body = b"VAEZ\x02" + wire.leb128(len(header)) + header + good.payload
    path = tmp_path / "other.vaez"
    path.write_bytes(body + struct.pack("<I", zlib.crc32(body)))
    result = run(runner, "info", path)
    assert result.exit_code == 0, result.output
    assert "2 (size unknown)" in result.output and "unknown to this vaecodec" in result.output
    assert json.loads(run(runner, "info", path, "--json").output)["image_shape"] is None
    result = run(runner, "decompress", path)
    assert result.exit_code == 1 and "unknown model id 00010203" in result.output


def test_an_output_that_looks_like_an_image_or_is_forgotten(runner, tmp_path, digits):
    one = digits / "3" / sorted(os.listdir(digits / "3"))[0]
    other = tmp_path / "other.png"
    shutil.copy(one, other)
    result = run(runner, "compress", one, other)
    assert result.exit_code == 1
    assert result.output == (f"Error: {other} has an image's extension: give the .vaez file to "
                             "write as the last argument\n")
    assert other.read_bytes() == one.read_bytes()
    result = run(runner, "compress", digits)
    assert result.exit_code == 2
    assert "Missing argument 'OUTPUT'" in result.output and "OUT.vaez" in result.output


def test_quiet_json_and_counts_in_words(runner, tmp_path, digits):
    one = digits / "3" / sorted(os.listdir(digits / "3"))[0]
    result = run(runner, "compress", one, tmp_path / "one.vaez")
    assert result.output.startswith(f"compressed 1 image into {tmp_path / 'one.vaez'} (")
    result = run(runner, "decompress", tmp_path / "one.vaez")
    assert result.output == f"decompressed 1 image into {tmp_path / 'one'}\n"
    result = run(runner, "compress", digits, tmp_path / "a.vaez", "--quiet")
    assert result.exit_code == 0 and result.output == ""
    result = run(runner, "decompress", tmp_path / "a.vaez", "--quiet")
    assert result.exit_code == 0 and result.output == ""
    summary = json.loads(run(runner, "compress", digits, tmp_path / "b.vaez", "--json").output)
    quality = summary.pop("quality")
    assert summary == {"output": str(tmp_path / "b.vaez"), "images": 40,
                       "bytes": (tmp_path / "b.vaez").stat().st_size, "skipped": []}
    assert quality["images"] == 40 and quality["level"] == 4 and quality["poor"] is False
    summary = json.loads(run(runner, "decompress", tmp_path / "b.vaez", "--json").output)
    assert summary["images"] == 40 and len(summary["files"]) == 40
    assert all(os.path.isfile(f) for f in summary["files"])


def test_levels_table_lines_up(runner):
    lines = run(runner, "levels").output.splitlines()
    header, rows = lines[0], lines[1:]
    for column in ("step", "bytes/image", "PSNR (dB)", "SSIM"):
        end = header.index(column) + len(column)
        # every row's value of that column ends where its heading ends
        assert all(row[end - 1] != " " and (len(row) == end or row[end] == " ")
                   for row in rows), column


def test_standard_input_and_output(tmp_path, digits):
    """compress DIR - | decompress - -o OUT, and info -: the pipe of a Unix compressor."""
    runner = CliRunner()
    result = runner.invoke(main, ["compress", str(digits), "-"])
    assert result.exit_code == 0, result.stderr
    data = result.stdout_bytes
    assert data[:4] == b"VAEZ" and "compressed 40 images into standard output" in result.stderr
    assert not (tmp_path / "-").exists()
    info = runner.invoke(main, ["info", "-", "--json"], input=data)
    assert json.loads(info.stdout)["count"] == 40
    assert json.loads(info.stdout)["file_size"] == len(data)
    result = runner.invoke(main, ["decompress", "-", "-o", str(tmp_path / "out")], input=data)
    assert result.exit_code == 0, result.output
    restored = sorted(p.relative_to(tmp_path / "out") for p in (tmp_path / "out").rglob("*.png"))
    assert restored == sorted(p.relative_to(digits) for p in digits.rglob("*.png"))
    result = runner.invoke(main, ["decompress", "-"], input=data)
    assert result.exit_code == 1 and "needs an output folder (-o)" in result.output


def test_threads_option(runner, tmp_path, digits):
    out = tmp_path / "o.vaez"
    assert run(runner, "compress", digits, out, "--lossless", "--threads", "1").exit_code == 0
    result = run(runner, "decompress", out, "--threads", "1")
    assert result.exit_code == 0 and "decompressed 40 images" in result.output
    result = run(runner, "decompress", out, "--threads", "0")
    assert result.exit_code == 2 and "0 is not in the range x>=1" in result.output


def test_dash_reads_standard_input_and_is_no_output_folder(tmp_path, sample_dir,
                                                           monkeypatch):
    """ls - and test - read the archive from standard input as decompress - does; -o -
    is refused (it made a folder named '-'), ./- is a folder named '-'."""

    runner = CliRunner()
    out = tmp_path / "a.vaez"
    assert runner.invoke(main, ["compress", str(sample_dir), str(out)]).exit_code == 0
    data = out.read_bytes()
    listed = runner.invoke(main, ["ls", "-"], input=data)
    assert listed.exit_code == 0 and len(listed.output.splitlines()) == 200
    tested = runner.invoke(main, ["test", "-"], input=data)
    assert tested.exit_code == 0 and "OK (200 images" in tested.output
    damaged = runner.invoke(main, ["test", "-"], input=data[:-40])
    assert damaged.exit_code == 1
    monkeypatch.chdir(tmp_path)
    for args in (["decompress", str(out), "-o", "-"], ["sample", "-o", "-", "-n", "2"]):
        refused = runner.invoke(main, args)
        assert refused.exit_code == 2 and "give a folder name" in refused.output
        assert not (tmp_path / "-").exists()
    dashed = runner.invoke(main, ["decompress", str(out), "-o", "./-"])
    assert dashed.exit_code == 0 and len(list((tmp_path / "-").rglob("*.png"))) == 200
