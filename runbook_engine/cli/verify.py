"""``runbook verify RUN``: check a journal's hash chain; exit 0 intact, 1 tampered."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from runbook_engine.cli.runs import runs_dir_option


@click.command()
@click.argument("run")
@click.option(
    "--allowed-signers",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Check SSH-signed approvals against this file instead of the one each names.",
)
@runs_dir_option
def verify(run: str, allowed_signers: Path | None, runs_dir: Path) -> None:
    """Check that RUN's journal is exactly what the runner wrote.

    RUN is a run id, a unique prefix of one, or `last`: the hash chain is checked,
    and the journal's end against the head the run index recorded. RUN may also be
    the path of a run directory or journal file: then only the chain is checked.
    Every SSH-signed approval is verified again with ssh-keygen.
    """
    from runbook_engine.engine.approvals import signature_problems
    from runbook_engine.journal import Journal, has_torn_tail, verify_journal, verify_run

    candidate = Path(run)
    if candidate.is_dir() and (candidate / "journal.jsonl").is_file():
        candidate = candidate / "journal.jsonl"
    if candidate.is_file():
        path = candidate
        problems = verify_journal(path)
        run_id = path.parent.name
    else:
        journal = Journal.open(runs_dir, run)
        path = journal.path
        problems = verify_run(journal)
        run_id = journal.run_id
    events = [] if problems else Journal(path.parent.parent, run_id, {}).events()
    problems += signature_problems(events, run_id, allowed_signers)
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
    signed = sum(
        1 for e in events if (e.get("identity") or {}).get("method") == "ssh-signature"
    )
    also = f", {signed} SSH-signed approval(s) verified" if signed else ""
    click.echo(f"intact: {path} ({lines} line(s), hash chain verified{also})")
