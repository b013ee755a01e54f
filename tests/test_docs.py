"""The README's commands are the ones CI runs; docs name only real options."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_ci_runs_the_readme_install_and_test_commands():
    readme = (REPO / "README.md").read_text()
    ci_lines = [line.strip() for line in (REPO / ".ci" / "run").read_text().splitlines()]
    for command in ('pip install -e ".[dev]"', "ruff check .", "mypy", "python -m pytest",
                    'python -m pytest -m "slow or fuzz" --hypothesis-profile=long'):
        assert command in readme
        assert command in ci_lines


def test_cli_reference_covers_every_command_as_its_help_says():
    """docs/cli.md is exactly what tools/make_cli_docs.py makes of every command's --help
    (a command added, or an option changed, without regenerating it fails here)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_cli_docs",
                                                  REPO / "tools" / "make_cli_docs.py")
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    listed = {" ".join(words) for words in tool.commands()}
    assert {"compress", "decompress", "ls", "test", "info", "levels", "train", "sample",
            "models", "models show", "models export", "models import",
            "models remove"} <= listed
    reference = (REPO / "docs" / "cli.md").read_text()
    assert reference == tool.render(), "docs/cli.md is stale: run tools/make_cli_docs.py"


def test_relative_links_in_the_docs_lead_somewhere():
    """Every relative link in README, CHANGELOG and docs/ (notes included) names a file
    that exists (the docs moved once: docs/notes/)."""
    import re

    pages = [*REPO.glob("*.md"), *(REPO / "docs").rglob("*.md"), *(REPO / "samples").rglob("*.md")]
    broken = []
    for page in pages:
        for match in re.finditer(r"\]\(([^)\s]+)\)", page.read_text()):
            target = match.group(1).split("#")[0]
            if target and not target.startswith(("http://", "https://", "mailto:")) \
                    and not (page.parent / target).exists():
                broken.append(f"{page.relative_to(REPO)}: {match.group(1)}")
    assert not broken, broken


def test_every_research_probe_is_named_by_the_notes_it_fed():
    """research/ holds one-off probes (not shipped): each is named in docs/notes/, beside
    the figures it printed, so that it can be found and rerun."""
    notes = "".join(p.read_text() for p in (REPO / "docs" / "notes").glob("*.md"))
    probes = sorted(p.name for p in (REPO / "research").glob("*.py"))
    assert probes and [p for p in probes if f"research/{p}" not in notes] == []
