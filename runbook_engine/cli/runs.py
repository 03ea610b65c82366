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
    """List runs: id, runbook, status, start, duration, initiator; for a paused run,
    the step it waits at, its approvers, inputs and deadline."""
    from runbook_engine.journal import list_runs

    rows = [_unfinished_has_no_end(r) for r in list_runs(runs_dir)]
    extra = {r.run_id: _extra(runs_dir, r) for r in rows}
    if fmt == "json":
        click.echo(json.dumps([{**asdict(r), **extra[r.run_id]} for r in rows], indent=2))
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
            _duration(row.started, row.finished) or ("so far " + _duration(row.started, _now()) if row.status in ("paused", "running") else ""),
            row.initiator,
            row.inventory or "",
        )
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)
    console.print(table)
    for row in rows:
        info = extra[row.run_id]
        if info["waiting"]:
            console.print(f"{row.run_id} {info['waiting_text']}", highlight=False, soft_wrap=True)
            inputs = "".join(
                f" --input {text.split(' ')[0]}=…" for text in info["waiting"]["inputs"]
            )
            console.print(
                f"  continue with: runbook resume {row.run_id} --confirm {info['waiting']['step']}{inputs}",
                highlight=False,
                soft_wrap=True,
            )
        if row.status == "interrupted":
            console.print(
                f"{row.run_id} was interrupted (its runner is gone): runbook resume {row.run_id}",
                highlight=False,
                soft_wrap=True,
            )
        if _reports_missing(runs_dir, row):
            click.echo(
                f"{row.run_id}: report missing (the runner stopped before writing it);"
                f" `runbook report {row.run_id}` rebuilds it from the journal"
            )


#: Statuses of runs that have come to an end (a paused run has not).
_ENDED = frozenset({"succeeded", "failed", "rolled_back", "rollback_failed", "cancelled"})


def _unfinished_has_no_end(row: Any) -> Any:
    """A paused, running or interrupted run has not finished, whatever the index kept."""
    from dataclasses import replace

    return row if row.status in _ENDED else replace(row, finished=None)


def _extra(runs_dir: Path, row: Any) -> dict[str, Any]:
    """What the index does not hold: the gate a paused run waits at, and the report."""
    run_dir = Path(runs_dir) / row.run_id
    report = run_dir / "report.md"
    info: dict[str, Any] = {
        "waiting": None,
        "waiting_text": None,
        "report": str(report) if report.is_file() else None,
    }
    if row.status == "paused":
        from runbook_engine.errors import RunError
        from runbook_engine.journal import Journal
        from runbook_engine.journal.waiting import waiting_of

        try:
            waiting = waiting_of(run_dir, Journal.open(runs_dir, row.run_id).events())
        except (RunError, OSError, ValueError):  # unreadable: shown as the index has it
            waiting = None
        if waiting is not None:
            info["waiting"] = asdict(waiting)
            info["waiting_text"] = waiting.line()
    return info


def _now() -> str:
    from datetime import UTC, datetime

    return datetime.now(UTC).isoformat()


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
