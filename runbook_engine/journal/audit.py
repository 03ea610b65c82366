"""`runbook verify`: is a run's journal exactly what its runner wrote?

The hash chain shows any edited, inserted, removed or reordered line. Lines cut
from the end leave a shorter but valid chain, so the journal is also checked
against the head the run index recorded when the run last paused or finished.
"""

from __future__ import annotations

from runbook_engine.journal.chain import verify_journal
from runbook_engine.journal.index import RunIndex
from runbook_engine.journal.journal import Journal


def verify_run(journal: Journal) -> list[str]:
    """Every problem with a run's journal, the first one first; empty if intact."""
    problems = verify_journal(journal.path)
    if problems:
        return problems
    row = RunIndex(journal.runs_dir).get(journal.run_id)
    if row is None or row.head_seq is None:
        return []
    events = journal.events()
    where = f"{journal.path}"
    if len(events) < row.head_seq:
        return [
            f"{where}: ends at line {len(events)}, but the run index recorded {row.head_seq} lines"
            " when the run last paused or finished: lines were removed from the end"
        ]
    if events[row.head_seq - 1].get("hash") != row.head_hash:
        return [
            f"{where}:{row.head_seq}: differs from the line the run index recorded;"
            " the journal was rewritten"
        ]
    return []
