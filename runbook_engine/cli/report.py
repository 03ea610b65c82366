"""``runbook report RUN``: render the change-ticket report of a run from its journal."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

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
@click.option(
    "--metrics-textfile",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the run's Prometheus metrics for node_exporter's textfile collector.",
)
@click.option("--pushgateway", metavar="URL", help="Also push the run's Prometheus metrics to URL.")
def report(
    run: str,
    runs_dir: Path,
    fmt: str,
    output: Path | None,
    metrics_textfile: Path | None,
    pushgateway: str | None,
) -> None:
    """Render the report of RUN (a run id, a unique prefix of one, or `last`)."""
    from runbook_engine.journal import Journal
    from runbook_engine.journal.events import RunFinished, decode_all
    from runbook_engine.report import inputs_from_run_dir, render_report, targets_of

    journal = Journal.open(runs_dir, run)
    events = journal.events()
    if journal.torn_tail:
        click.echo(
            f"warning: {journal.path}: torn last line ignored (the runner stopped mid-write)",
            err=True,
        )
    inputs = inputs_from_run_dir(journal.dir, journal.meta.get("runbook_sha256"))
    success, budgets = targets_of(events, inputs)
    planned = inputs.steps if inputs else ()
    durations = inputs.durations if inputs else frozenset()
    if decode_all(events, RunFinished):
        from runbook_engine.engine.run_reports import write_run_reports

        # a runner killed between run_finished and its reports left them out
        write_run_reports(
            journal.dir,
            journal.run_id,
            events,
            success=success,
            budgets=budgets,
            only_missing=True,
            planned=planned,
            durations=durations,
        )
    text = render_report(
        events,
        fmt,
        success=success,
        budgets=budgets,
        run_id=journal.run_id,
        planned=planned,
        durations=durations,
    )
    if metrics_textfile is not None or pushgateway:
        _export_metrics(events, success, metrics_textfile, pushgateway)
    if output is None:
        click.echo(text, nl=False)
        return
    output.write_text(text, encoding="utf-8")
    click.echo(f"report written to {output}", err=True)


def _export_metrics(
    events: list[dict[str, Any]],
    success: Mapping[str, str] | None,
    textfile: Path | None,
    gateway: str | None,
) -> None:
    from runbook_engine.metrics import push, write_textfile

    if textfile is not None:
        write_textfile(events, textfile, success=success)
        click.echo(f"metrics written to {textfile}", err=True)
    if gateway:
        try:
            push(events, gateway, success=success)
        except OSError as exc:
            raise click.ClickException(f"cannot push metrics to {gateway}: {exc}") from exc
        click.echo(f"metrics pushed to {gateway}", err=True)
