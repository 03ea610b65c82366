"""``runbook resume RUN``: continue a paused or interrupted run from its journal."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runbook_engine.cli.observe import observe_options, observed_progress
from runbook_engine.cli.options import load_checked
from runbook_engine.cli.run import run_options, shared_run_options
from runbook_engine.errors import RunError
from runbook_engine.variables import parse_assignments


@click.command()
@click.argument("run_ref", metavar="RUN")
@click.option(
    "--confirm",
    "confirm",
    multiple=True,
    metavar="STEP",
    help="Confirm or approve STEP, which the run waits for.",
)
@click.option(
    "--reject",
    "reject",
    multiple=True,
    metavar="STEP",
    help="Reject STEP: the gate ends with its on_reject.",
)
@click.option(
    "--sign-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sign the vote with this SSH key (ssh-keygen -Y sign); a .pub uses ssh-agent.",
)
@click.option(
    "--input",
    "inputs",
    multiple=True,
    metavar="[STEP.]NAME=VALUE",
    help="A typed input of a confirmed gate (STEP. may be left out when one gate is confirmed).",
)
@click.option(
    "--rerun", multiple=True, metavar="STEP", help="Run an interrupted non-idempotent STEP again."
)
@click.option(
    "--skip", multiple=True, metavar="STEP", help="Record an interrupted STEP as skipped and go on."
)
@click.option(
    "--allow-changed",
    is_flag=True,
    help="Continue although the runbook or vars changed (recorded).",
)
@click.option(
    "--var",
    "var_items",
    multiple=True,
    metavar="NAME=VALUE",
    help="Give a secret var again (not journaled).",
)
@click.option("--inventory", "-i", metavar="PATH", help="Inventory, when the run recorded none.")
@click.option(
    "--from", "from_step", metavar="STEP", help="Run STEP and every step after it again (failed, cancelled or interrupted run)."
)
@click.option(
    "--retry-failed-hosts", metavar="STEP", help="Run fan-out STEP again on its failed hosts only; the others keep their results."
)
@click.option("--dry-run", is_flag=True, help="With --from/--retry-failed-hosts: show what would run again; run nothing.")
@click.option(
    "--outside-window",
    is_flag=True,
    help="Resume although the change window is closed (recorded).",
)
@shared_run_options
@observe_options
def resume(
    run_ref: str,
    confirm: tuple[str, ...],
    reject: tuple[str, ...],
    sign_key: Path | None,
    inputs: tuple[str, ...],
    rerun: tuple[str, ...],
    skip: tuple[str, ...],
    allow_changed: bool,
    var_items: tuple[str, ...],
    inventory: str | None,
    from_step: str | None,
    retry_failed_hosts: str | None,
    dry_run: bool,
    outside_window: bool,
    runs_dir: Path,
    yes: bool,
    acting_as: str | None,
    log_format: str,
    report_dir: Path | None,
    concurrency: int,
) -> None:
    """Continue RUN (a run id, a unique prefix, or `last`). The run's lock is taken
    before anything else is read; every operator action is checked before any is
    recorded."""
    from runbook_engine.engine import ResumeOptions, resume_run
    from runbook_engine.journal import Journal

    journal = Journal.open(runs_dir, run_ref)
    options = run_options(
        runs_dir, acting_as, yes, log_format, inventory, report_dir, concurrency,
        outside_window=outside_window,
    )  # fmt: skip
    request = ResumeOptions(
        confirm=confirm,
        reject=reject,
        sign_key=sign_key,
        inputs=parse_assignments(inputs, "--input"),
        rerun=rerun,
        skip=skip,
        allow_changed=allow_changed,
        cli_vars=parse_assignments(var_items),
        from_step=from_step,
        retry_failed_hosts=retry_failed_hosts,
        approve=_approval(yes, options.interactive),
    )
    if dry_run:
        from runbook_engine.engine.session import preview_resume

        if not (from_step or retry_failed_hosts):
            raise RunError("--dry-run previews --from STEP or --retry-failed-hosts STEP")
        runbook = load_checked(str(journal.meta["runbook_path"]))
        click.echo("\n".join(preview_resume(journal, runbook, request).preview()))
        return
    summary = resume_run(
        journal,
        lambda: load_checked(str(journal.meta["runbook_path"])),
        options,
        request,
        observed_progress(log_format, str(journal.meta.get("runbook") or "unknown")),
    )
    click.echo(
        f"run {summary.run_id}: {summary.status} — journal and report in {summary.dir}", err=True
    )
    sys.exit(summary.exit_code)


def _approval(yes: bool, interactive: bool) -> Callable[[Any], bool]:
    """Show the plan of a surgical resume; go on with --yes or the operator's answer."""

    def approve(plan: Any) -> bool:
        click.echo("\n".join(plan.preview()), err=True)
        if yes:
            return True
        if not interactive:
            raise RunError(
                "a resume from a step needs a confirmation",
                hint="check the plan above, then pass --yes (or preview it with --dry-run)",
            )
        return click.confirm("Run these steps again?", default=False, err=True)

    return approve
