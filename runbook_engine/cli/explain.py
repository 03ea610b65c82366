"""``runbook explain FILE``: the runbook as a Markdown checklist."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_engine.cli.options import load_checked, resolve, var_options
from runbook_engine.explain import render_checklist


@click.command()
@click.argument("path")
@var_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
def explain(path: str, var_items: tuple[str, ...], vars_files: tuple[Path, ...], output: Path | None, fmt: str) -> None:
    """Render PATH as the human checklist a reviewer reads."""
    runbook = load_checked(path)
    values = resolve(runbook, var_items, vars_files, require=False).values
    text = render_checklist(runbook, values)
    if fmt == "html":
        from runbook_engine.explain.html import markdown_to_html

        text = markdown_to_html(text, runbook.label)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
