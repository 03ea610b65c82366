"""``runbook lint PATH...``: exit 0 clean, 1 findings, 2 unusable input."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.lint import analyze
from runbook_engine.lint.reporters import REPORTERS


def _files(paths: tuple[str, ...]) -> list[str]:
    """Runbook files; in a folder, a runbook's test cases (``*.tests.yaml``,
    ``*.tests/``) are left to ``runbook test``, which lints them. The test-case module
    is imported only for a folder: linting named files need not load it."""
    files: list[str] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            from runbook_engine.casetest.cases import is_case_file

            files.extend(
                str(p)
                for p in sorted(path.rglob("*.y*ml"))
                if p.suffix in (".yaml", ".yml") and not is_case_file(p.relative_to(path))
            )
        else:
            files.append(raw)
    return files


@click.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--format", "fmt", type=click.Choice(sorted(REPORTERS)), default="text", show_default=True)
def lint(paths: tuple[str, ...], fmt: str) -> None:
    """Check runbook files (or folders of them) for schema and semantic errors."""
    files = _files(paths)
    if not files:
        click.echo(f"error: no runbook files in {' '.join(paths)}", err=True)
        sys.exit(2)
    analyses = [analyze(path) for path in files]
    output = REPORTERS[fmt](analyses)
    if output:
        click.echo(output, nl=False)
    if any(a.unusable for a in analyses):
        sys.exit(2)
    count = sum(len(a.findings) for a in analyses)
    errors = sum(len(a.errors) for a in analyses)
    if fmt == "text":
        click.echo(f"{len(files)} file(s) checked, {count} finding(s)", err=True)
    sys.exit(1 if errors else 0)
