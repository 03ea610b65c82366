"""``runbook schema``: the composed JSON Schema (base + every installed executor)."""

from __future__ import annotations

import json

import click

from runbook_engine.schema import composed_schema


@click.command()
def schema() -> None:
    """Print the JSON Schema editors and lint use."""
    click.echo(json.dumps(composed_schema(), indent=2, ensure_ascii=False))
