"""``runbook test RUNBOOK [CASES…]``: run a runbook's test cases with stubbed executor
results (exit 0 all passed, 1 a case failed, 2 unusable cases); ``--from-run RUN``
writes a case from a real run's journal instead."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.cli.options import load_checked
from runbook_engine.cli.runs import runs_dir_option
from runbook_engine.errors import RunError


@click.command()
@click.argument("runbook_path", metavar="RUNBOOK", required=False, type=click.Path(exists=True, dir_okay=False))
@click.argument("case_paths", metavar="[CASES.yaml]...", nargs=-1, type=click.Path(exists=True, dir_okay=False))
@click.option("--format", "fmt", type=click.Choice(["text", "junit"]), default="text", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="Write the report (or the --from-run case) here.")
@click.option("-k", "--name", "name_filter", metavar="TEXT", help="Only cases whose name contains TEXT.")
@click.option("-v", "--verbose", is_flag=True, help="Show the path of passing cases too.")
@click.option("--from-run", "from_run", metavar="RUN", help="Write a case that replays RUN (id, prefix or `last`).")
@click.option("--keep", type=click.Path(file_okay=False, path_type=Path), help="Keep each case's journal under this folder.")
@runs_dir_option
def test(
    runbook_path: str | None,
    case_paths: tuple[str, ...],
    fmt: str,
    output: Path | None,
    name_filter: str | None,
    verbose: bool,
    from_run: str | None,
    keep: Path | None,
    runs_dir: Path,
) -> None:
    """Run the test cases of RUNBOOK (default: RUNBOOK.tests.yaml or RUNBOOK.tests/)."""
    if from_run is not None:
        _write_from_run(from_run, runs_dir, runbook_path, output)
        return
    if runbook_path is None:
        raise RunError("give the RUNBOOK to test (or --from-run RUN)")
    from runbook_engine.casetest.reporters import render_junit, render_text
    from runbook_engine.casetest.suite import collect, run_cases
    from runbook_engine.cli.main import describe_error

    runbook = load_checked(runbook_path)
    cases, findings = collect(runbook, case_paths)
    if findings:
        for finding in findings:
            click.echo(describe_error(finding), err=True)
        click.echo(f"{len(findings)} problem(s) in the test cases; nothing was run", err=True)
        sys.exit(2)
    if name_filter:
        cases = [c for c in cases if name_filter in c.name]
    outcomes = run_cases(runbook, cases, keep)
    text = render_junit(runbook_path, outcomes) if fmt == "junit" else render_text(runbook_path, outcomes, verbose=verbose)
    if output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        if fmt == "junit":
            click.echo(render_text(runbook_path, outcomes, verbose=verbose))
    else:
        click.echo(text)
    sys.exit(0 if all(o.passed for o in outcomes) else 1)


def _write_from_run(ref: str, runs_dir: Path, runbook_path: str | None, output: Path | None) -> None:
    from runbook_engine.casetest.from_run import case_from_run
    from runbook_engine.journal import Journal

    journal = Journal.open(runs_dir, ref)
    runbook = load_checked(runbook_path or str(journal.meta["runbook_path"]))
    target_dir = output.parent if output is not None else Path.cwd()
    text = case_from_run(
        journal.events(),
        runbook,
        name=journal.run_id,
        inventory=journal.meta.get("inventory"),
        cases_dir=target_dir,
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}: run `runbook test {runbook.path} {output}`", err=True)
