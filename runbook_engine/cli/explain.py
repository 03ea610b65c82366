"""``runbook explain FILE``: the runbook as a Markdown (or HTML) checklist; with
``--run RUN``, the checklist with that run's evidence next to each item."""

from __future__ import annotations

from pathlib import Path

import click

from runbook_engine.cli.options import load_checked, resolve, var_options
from runbook_engine.cli.runs import runs_dir_option
from runbook_engine.explain import render_checklist


@click.command()
@click.argument("path", required=False)
@var_options
@click.option("-o", "--output", type=click.Path(path_type=Path), help="Write to this file instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown", show_default=True)
@click.option(
    "--run",
    "run_ref",
    metavar="RUN",
    help="Show what run RUN (an id, a unique prefix, or `last`) did at each item.",
)
@runs_dir_option
def explain(
    path: str | None,
    var_items: tuple[str, ...],
    vars_files: tuple[Path, ...],
    output: Path | None,
    fmt: str,
    run_ref: str | None,
    runs_dir: Path,
) -> None:
    """Render PATH as the human checklist a reviewer reads. With --run and no PATH,
    the runbook is the copy the run kept (the very text it ran)."""
    events: list[dict[str, object]] | None = None
    run_id = None
    if run_ref is not None:
        from runbook_engine.journal import Journal

        journal = Journal.open(runs_dir, run_ref)
        events, run_id = journal.events(), journal.run_id
        if path is None:
            path = str(journal.dir / "runbook.yaml")
    if path is None:
        raise click.UsageError("give the runbook PATH, or --run RUN to explain a run's runbook")
    runbook = load_checked(path)
    values = dict(resolve(runbook, var_items, vars_files, require=False).values)
    evidence = None
    if events is not None:
        from runbook_engine.explain.evidence import evidence_of
        from runbook_engine.journal import replay

        values.update(replay(events).vars)  # the (redacted) values the run recorded
        evidence = evidence_of(events, success=runbook.success, run_id=run_id)
    text = render_checklist(runbook, values, evidence)
    if fmt == "html":
        from runbook_engine.explain.html import markdown_to_html

        text = markdown_to_html(text, runbook.label)
    if output:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)
