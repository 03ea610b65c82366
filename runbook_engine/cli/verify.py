"""``runbook verify RUN``: check a journal's hash chain; exit 0 intact, 1 tampered."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.cli.runs import runs_dir_option


@click.command()
@click.argument("run")
@runs_dir_option
def verify(run: str, runs_dir: Path) -> None:
    """Check that RUN's journal is exactly what the runner wrote.

    RUN is a run id, a unique prefix of one, or `last`: the hash chain is checked,
    and the journal's end against the head the run index recorded. RUN may also be
    the path of a run directory or journal file: then only the chain is checked.
    """
    from runbook_engine.journal import Journal, has_torn_tail, verify_journal, verify_run

    candidate = Path(run)
    if candidate.is_dir() and (candidate / "journal.jsonl").is_file():
        candidate = candidate / "journal.jsonl"
    if candidate.is_file():
        path = candidate
        problems = verify_journal(path)
    else:
        journal = Journal.open(runs_dir, run)
        path = journal.path
        problems = verify_run(journal)
    if problems:
        click.echo(f"TAMPERED or damaged: {problems[0]}", err=True)
        for problem in problems[1:]:
            click.echo(f"  also: {problem}", err=True)
        sys.exit(1)
    lines = path.read_bytes().count(b"\n")
    if has_torn_tail(path):
        click.echo(
            f"warning: {path}: torn last line (the runner stopped mid-write); resume discards it",
            err=True,
        )
    click.echo(f"intact: {path} ({lines} line(s), hash chain verified)")
