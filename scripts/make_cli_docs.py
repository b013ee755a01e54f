"""Regenerate docs/cli.md from the commands' --help, so the reference cannot drift.

    python scripts/make_cli_docs.py
"""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from vaecodec.cli import main

COMMANDS = [[], ["compress"], ["decompress"], ["info"], ["levels"]]


def render() -> str:
    runner = CliRunner()
    parts = ["# Command-line reference\n",
             "Generated from `--help` by `python scripts/make_cli_docs.py`; "
             "`tests/test_docs.py` fails when it is stale.\n"]
    for command in COMMANDS:
        text = runner.invoke(main, [*command, "--help"], prog_name="vaecodec",
                             terminal_width=88).output
        parts.append(f"## `{' '.join(['vaecodec', *command])}`\n")
        parts.append("```\n" + text.strip() + "\n```\n")
    return "\n".join(parts)


if __name__ == "__main__":
    path = Path(__file__).resolve().parent.parent / "docs" / "cli.md"
    path.write_text(render())
    print(f"wrote {path}")
