"""The durable record of runs: append-only hash-chained journal, run index, lock,
and the replay that tells `resume` where a run stands."""

from __future__ import annotations

from runbook_engine.journal.audit import verify_run
from runbook_engine.journal.chain import has_torn_tail, verify_journal
from runbook_engine.journal.index import RunIndex, RunRow
from runbook_engine.journal.journal import Journal, resolve_run_id, utc_now
from runbook_engine.journal.listing import list_runs
from runbook_engine.journal.lock import RunLock
from runbook_engine.journal.replay import PhaseState, RollbackState, RunState, StepState, replay

__all__ = [
    "Journal",
    "PhaseState",
    "RollbackState",
    "RunIndex",
    "RunLock",
    "RunRow",
    "RunState",
    "StepState",
    "has_torn_tail",
    "list_runs",
    "replay",
    "resolve_run_id",
    "utc_now",
    "verify_journal",
    "verify_run",
]
