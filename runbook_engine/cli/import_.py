"""``runbook import PROCEDURE.md [-o out.yaml] [--strict]``: a Markdown procedure → a
runbook YAML draft, with a summary line; ``--strict`` exits 1 when TODOs remain."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.errors import LoadError
from runbook_engine.importer import import_markdown, read_procedure


@click.command(name="import")
@click.argument("procedure", type=click.Path(path_type=Path, dir_okay=False))
@click.option("-o", "--output", type=click.Path(path_type=Path, dir_okay=False), help="Write the draft to this file instead of stdout.")
@click.option("--strict", is_flag=True, help="Exit 1 when anything needed a TODO.")
def import_(procedure: Path, output: Path | None, strict: bool) -> None:
    """Turn the Markdown PROCEDURE into a runbook YAML draft that lints clean."""
    result = import_markdown(read_procedure(procedure), source=procedure.name)
    if output is not None:
        try:
            output.write_text(result.yaml, encoding="utf-8")
        except OSError as exc:
            raise LoadError(f"cannot write {output}: {exc.strerror or exc}") from None
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(result.yaml, nl=False)
    click.echo(f"{procedure}: {result.summary}", err=True)
    if strict and result.todos:
        sys.exit(1)
