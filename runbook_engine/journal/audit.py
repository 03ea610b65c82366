"""`runbook verify`: is a run's journal exactly what its runner wrote?

Three checks, each covering what the one before cannot: the hash chain shows any
edited, inserted, removed or reordered line; every line's MAC under the installation
key shows a line (or a whole re-chained journal) written by anyone but a runner of
this installation; and the head the run index anchored last (run start, phase ends,
rollback, pause, resume, finish) shows lines cut from the end, down to an emptied file.
"""

from __future__ import annotations

from runbook_engine.errors import RunError
from runbook_engine.journal.anchor import head_mac, installation_key, line_mac, same
from runbook_engine.journal.chain import GENESIS, verify_journal
from runbook_engine.journal.index import RunIndex
from runbook_engine.journal.journal import Journal


def verify_run(journal: Journal) -> list[str]:
    """Every problem with a run's journal, the first one first; empty if intact."""
    problems = verify_journal(journal.path)
    if problems:
        return problems
    where = f"{journal.path}"
    try:
        key = installation_key(journal.state_dir, create=False)
        events = journal.events()
    except RunError as exc:
        return [str(exc)]
    for number, record in enumerate(events, start=1):
        if not same(record.get("mac"), line_mac(key, journal.run_id, str(record.get("hash")))):
            return [
                f"{where}:{number}: not written by a runner of this installation"
                " (its MAC does not match): the line was forged or the journal re-chained"
            ]
    row = RunIndex(journal.runs_dir).get(journal.run_id)
    if row is None or row.head_seq is None or row.head_hash is None or row.head_mac is None:
        return [
            f"{where}: the run index ({journal.runs_dir / 'index.sqlite'}) holds no anchored"
            " head for this run (index lost, damaged or rebuilt): lines cut from the end"
            " could not be seen"
        ]
    if not same(row.head_mac, head_mac(key, journal.run_id, row.head_seq, row.head_hash)):
        return [f"{where}: the head the run index records for this run is not authentic"]
    if len(events) < row.head_seq:
        return [
            f"{where}: ends at line {len(events)}, but the run index recorded {row.head_seq} lines"
            " when it last anchored the head: lines were removed from the end"
        ]
    anchored = events[row.head_seq - 1].get("hash") if row.head_seq else GENESIS
    if anchored != row.head_hash:
        return [
            f"{where}:{row.head_seq}: differs from the line the run index recorded;"
            " the journal was rewritten"
        ]
    return []
