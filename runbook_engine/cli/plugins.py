"""``runbook plugins``: installed executors, their package, version and result fields."""

from __future__ import annotations

import json
from typing import Any

import click

from runbook_engine.executors.registry import distribution_of, executor_classes


@click.command()
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--schema", "show_schema", is_flag=True, help="Include each executor's schema fragment.")
def plugins(fmt: str, show_schema: bool) -> None:
    """List the executors this installation can run."""
    rows = []
    for key, cls in sorted(executor_classes().items()):
        package, version = distribution_of(key)
        row: dict[str, Any] = {
            "key": key,
            "package": package,
            "version": version,
            "fields": sorted(dict(cls.fields)),
            "host_fields": sorted(dict(getattr(cls, "host_fields", {}) or {})),
            "checks": sorted(dict(getattr(cls, "checks", {}) or {})),
        }
        if show_schema:
            row["schema"] = dict(cls.schema)
        rows.append(row)
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table("executor", "package", "version", "result fields", "named checks")
    for row in rows:
        table.add_row(row["key"], row["package"], row["version"], ", ".join(sorted(set(row["fields"]) | set(row["host_fields"]))), ", ".join(row["checks"]))
    Console().print(table)
    if show_schema:
        click.echo(json.dumps({r["key"]: r["schema"] for r in rows}, indent=2))
