"""``runbook run``: execute a runbook; the exit code says how it ended
(0 succeeded, 1 failed, 2 unusable input, 3 rolled back, 4 rollback failed,
5 paused for an operator, 130 cancelled)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runbook_engine.cli.observe import observe_options, observed_progress
from runbook_engine.cli.options import load_checked, resolve, var_options
from runbook_engine.cli.runs import runs_dir_option
from runbook_engine.variables import parse_assignments


def run_options(
    runs_dir: Path,
    acting_as: str | None,
    yes: bool,
    log_format: str,
    inventory: str | None,
    report_dir: Path | None,
    concurrency: int,
    *,
    outside_window: bool = False,
    inputs: dict[str, str] | None = None,
) -> Any:
    """The ``RunOptions`` that ``run`` and ``resume`` build from the same options."""
    from runbook_engine.engine import RunOptions
    from runbook_engine.identity import os_identity

    identity = os_identity(claimed=acting_as)
    return RunOptions(
        runs_dir=runs_dir,
        initiator=identity.name,
        identity=identity,
        yes=yes,
        interactive=sys.stdin.isatty() and log_format == "text",
        inventory=inventory,
        outside_window=outside_window,
        report_dir=report_dir,
        concurrency=concurrency,
        inputs=inputs or {},
    )


def shared_run_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """Options ``run`` and ``resume`` share."""
    for option in reversed(
        [
            runs_dir_option,
            click.option(
                "--yes",
                is_flag=True,
                help="Confirm manual steps that allow it (approvals still need a person).",
            ),
            click.option(
                "--as",
                "acting_as",
                metavar="NAME",
                help="Who you say you are; counts for approvers only with --sign-key (default: the OS user).",
            ),
            click.option(
                "--log-format",
                type=click.Choice(["text", "json"]),
                default="text",
                show_default=True,
            ),
            click.option(
                "--report-dir",
                type=click.Path(file_okay=False, path_type=Path),
                help="Also write the reports here.",
            ),
            click.option(
                "--concurrency",
                type=click.IntRange(1, 256),
                default=4,
                show_default=True,
                help="Steps run at once.",
            ),
        ]
    ):
        command = option(command)
    return command


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@var_options
@click.option(
    "--inventory", "-i", metavar="PATH", help="Inventory (overrides the runbook's inventory:)."
)
@click.option(
    "--dry-run", is_flag=True, help="Show the plan; execute nothing (same as `runbook plan`)."
)
@click.option(
    "--outside-window",
    is_flag=True,
    help="Run although it is outside the change window (recorded).",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="STEP.NAME=VALUE",
    help="An input of gate STEP, given up front (used when the gate is confirmed).",
)
@click.option(
    "--stub",
    "stubs",
    multiple=True,
    metavar="STEP=RESULT.json",
    help="With --dry-run: a recorded result for STEP.",
)
@shared_run_options
@observe_options
def run(
    path: str,
    var_items: tuple[str, ...],
    vars_files: tuple[Path, ...],
    inventory: str | None,
    dry_run: bool,
    outside_window: bool,
    inputs: tuple[str, ...],
    stubs: tuple[str, ...],
    runs_dir: Path,
    yes: bool,
    acting_as: str | None,
    log_format: str,
    report_dir: Path | None,
    concurrency: int,
) -> None:
    """Execute the runbook at PATH."""
    from runbook_engine.engine import start_run

    runbook = load_checked(path)
    resolved = resolve(runbook, var_items, vars_files, require=True)
    if dry_run:
        from runbook_engine.cli.plan import print_plan

        print_plan(runbook, resolved, inventory, stubs, outside_window)
        return
    options = run_options(
        runs_dir, acting_as, yes, log_format, inventory, report_dir, concurrency,
        outside_window=outside_window, inputs=parse_assignments(inputs, "--input"),
    )  # fmt: skip
    summary = start_run(runbook, resolved, options, observed_progress(log_format, runbook.name))
    click.echo(
        f"run {summary.run_id}: {summary.status} — journal and report in {summary.dir}", err=True
    )
    sys.exit(summary.exit_code)
