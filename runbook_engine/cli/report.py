"""``runbook report RUN``: render the change-ticket report of a run from its journal."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_engine.cli.runs import runs_dir_option

_FORMATS = ("markdown", "json", "junit", "html")


@click.command()
@click.argument("run")
@runs_dir_option
@click.option("--format", "fmt", type=click.Choice(_FORMATS), default="markdown", show_default=True)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write to FILE instead of stdout.",
)
def report(run: str, runs_dir: Path, fmt: str, output: Path | None) -> None:
    """Render the report of RUN (a run id, a unique prefix of one, or `last`)."""
    from runbook_engine.journal import Journal
    from runbook_engine.report import inputs_from_run_dir, render_report

    journal = Journal.open(runs_dir, run)
    events = journal.events()
    if journal.torn_tail:
        click.echo(
            f"warning: {journal.path}: torn last line ignored (the runner stopped mid-write)",
            err=True,
        )
    started = next((e for e in events if e.get("event") == "run_started"), {})
    inputs = None
    if "success" not in started or "budgets" not in started:
        inputs = inputs_from_run_dir(journal.dir, journal.meta.get("runbook_sha256"))
    text = render_report(
        events,
        fmt,
        success=started.get("success", inputs.success if inputs else None),
        budgets=started.get("budgets", inputs.budgets if inputs else None),
        run_id=journal.run_id,
    )
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"report written to {output}", err=True)
