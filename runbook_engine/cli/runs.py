"""``runbook runs``: list runs from the run index, newest first."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import click

#: Where runs live unless ``--runs-dir`` or ``RUNBOOK_RUNS_DIR`` says otherwise: the
#: per-user state dir, the same from any working directory (see journal/state.py).
DEFAULT_RUNS_DIR = "$XDG_STATE_HOME/runbook-engine/runs"

_STATUS_STYLE = {
    "succeeded": "green",
    "failed": "red",
    "rollback_failed": "bold red",
    "rolled_back": "yellow",
    "paused": "cyan",
    "running": "blue",
    "interrupted": "magenta",
    "cancelled": "dim",
}


def runs_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    """``--runs-dir``, shared by every command that reads or writes runs."""
    return click.option(
        "--runs-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=_default_runs_dir,
        envvar="RUNBOOK_RUNS_DIR",
        show_default=DEFAULT_RUNS_DIR,
        help="Directory holding run journals and the run index.",
    )(command)


def _default_runs_dir() -> Path:
    from runbook_engine.journal.state import default_runs_dir

    return default_runs_dir()


@click.command()
@runs_dir_option
@click.option(
    "--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True
)
def runs(runs_dir: Path, fmt: str) -> None:
    """List runs: id, runbook, status, start, duration, initiator."""
    from runbook_engine.journal import list_runs

    rows = list_runs(runs_dir)
    if fmt == "json":
        click.echo(json.dumps([asdict(r) for r in rows], indent=2))
        return
    if not rows:
        from runbook_engine.journal.journal import RUNS_DIR_HINT

        click.echo(f"no runs in {runs_dir} ({RUNS_DIR_HINT})", err=True)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"Runs in {runs_dir}")
    for column in (
        "run",
        "runbook",
        "status",
        "exit",
        "started",
        "duration",
        "initiator",
        "inventory",
    ):
        table.add_column(column, no_wrap=column in ("run", "started"))
    for row in rows:
        style = _STATUS_STYLE.get(row.status, "")
        table.add_row(
            row.run_id,
            row.runbook,
            f"[{style}]{row.status}[/]" if style else row.status,
            "" if row.exit_code is None else str(row.exit_code),
            row.started.replace("T", " "),
            _duration(row.started, row.finished),
            row.initiator,
            row.inventory or "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
    for row in rows:
        if _reports_missing(runs_dir, row):
            click.echo(
                f"{row.run_id}: report missing (the runner stopped before writing it);"
                f" `runbook report {row.run_id}` rebuilds it from the journal"
            )


def _reports_missing(runs_dir: Path, row: Any) -> bool:
    from runbook_engine.engine.run_reports import missing_reports
    from runbook_engine.journal.replay import FINAL_STATUSES

    return row.status in FINAL_STATUSES and bool(missing_reports(Path(runs_dir) / row.run_id))


def _duration(started: str, finished: str | None) -> str:
    from datetime import datetime

    from runbook_engine.durations import format_duration

    if not finished:
        return ""
    try:
        seconds = (
            datetime.fromisoformat(finished) - datetime.fromisoformat(started)
        ).total_seconds()
    except ValueError:
        return ""
    return format_duration(max(seconds, 0.0))
