"""The README's commands are the ones CI runs; docs name only real options."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from vaecodec.cli import main

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_install_and_test_commands():
    readme = (REPO / "README.md").read_text()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    for command in ('pip install -e ".[dev]"', "ruff check .", "mypy", "python -m pytest",
                    'python -m pytest -m "slow or fuzz" --hypothesis-profile=long'):
        assert command in readme
        assert command in ci_lines


def test_cli_reference_matches_help():
    reference = (REPO / "docs" / "cli.md").read_text()
    runner = CliRunner()
    for args in (["--help"], ["compress", "--help"], ["decompress", "--help"], ["info", "--help"],
                 ["levels", "--help"]):
        text = runner.invoke(main, args, prog_name="vaecodec", terminal_width=88).output
        assert text.strip() in reference, \
            f"docs/cli.md is stale for {args}: run scripts/make_cli_docs.py"
