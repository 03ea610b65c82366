"""``runbook plan`` (= ``runbook run --dry-run``): every rendered command in order,
every branch a ``when:`` could take, what each step does to the world; nothing is
executed, except the steps that only read with ``--probe``."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_engine.cli.options import load_checked, resolve, var_options
from runbook_engine.model import Runbook
from runbook_engine.variables import ResolvedVars


def print_plan(
    runbook: Runbook,
    resolved: ResolvedVars,
    inventory: str | None,
    stubs: tuple[str, ...],
    outside_window: bool,
    probe: bool = False,
) -> None:
    from runbook_engine.engine.plan import build_plan, load_stub
    from runbook_engine.engine.session import inventory_path, load_hosts

    hosts = load_hosts(runbook, inventory_path(runbook, inventory))
    lines = build_plan(
        runbook, resolved, inventory=hosts, stubs=dict(load_stub(s) for s in stubs), probe=probe
    )
    if outside_window:
        lines.insert(
            1, "(--outside-window given: a run would be allowed outside the change window)"
        )
    click.echo("\n".join(lines))


@click.command()
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@var_options
@click.option(
    "--inventory", "-i", metavar="PATH", help="Inventory (overrides the runbook's inventory:)."
)
@click.option(
    "--stub",
    "stubs",
    multiple=True,
    metavar="STEP=RESULT.json",
    help="A recorded result for STEP (repeatable).",
)
@click.option(
    "--outside-window", is_flag=True, help="Note that the run would be allowed outside its window."
)
@click.option(
    "--probe", is_flag=True, help="Run the steps that only read (http GET, sql SELECT, checks, changes: false) for real."
)
def plan(
    path: str,
    var_items: tuple[str, ...],
    vars_files: tuple[Path, ...],
    inventory: str | None,
    stubs: tuple[str, ...],
    outside_window: bool,
    probe: bool,
) -> None:
    """Show what running the runbook at PATH would do; run nothing (with --probe:
    only the steps that read). Probing needs every required var, like a run."""
    runbook = load_checked(path)
    resolved = resolve(runbook, var_items, vars_files, require=probe)
    print_plan(runbook, resolved, inventory, stubs, outside_window, probe)
