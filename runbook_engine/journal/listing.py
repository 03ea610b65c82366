"""Listing runs: the index, completed from the run directories when it misses some
(a deleted, damaged or older index), and with crashed runs told apart from running
ones by their journal, which is the truth when the two disagree."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

from runbook_engine.errors import RunError
from runbook_engine.journal.index import RunIndex, RunRow
from runbook_engine.journal.journal import META_NAME, Journal
from runbook_engine.journal.replay import FINAL_STATUSES, replay


def list_runs(runs_dir: Path) -> list[RunRow]:
    """Every run under ``runs_dir``, newest first. A run the index says is running
    but whose runner process is gone is shown as ``interrupted``."""
    runs_dir = Path(runs_dir)
    index = RunIndex(runs_dir)
    rows = {row.run_id: row for row in index.list()}
    if runs_dir.is_dir():
        for run_dir in runs_dir.iterdir():
            if run_dir.name not in rows and (run_dir / META_NAME).is_file():
                row = _row_from_files(runs_dir, run_dir.name)
                if row is not None:
                    index.add(row)
                    rows[row.run_id] = row
    return [
        _stopped(runs_dir, row) if row.status == "running" and not _alive(row.pid) else row
        for row in sorted(rows.values(), key=lambda r: r.run_id, reverse=True)
    ]


def _stopped(runs_dir: Path, row: RunRow) -> RunRow:
    """A run whose runner is gone: finished, if its journal says so (the runner died
    between ``run_finished`` and updating the index), else interrupted."""
    found = _row_from_files(runs_dir, row.run_id)
    if found is not None and found.status in FINAL_STATUSES:
        return replace(row, status=found.status, finished=found.finished, exit_code=found.exit_code)
    return replace(row, status="interrupted")


def _row_from_files(runs_dir: Path, run_id: str) -> RunRow | None:
    try:
        journal = Journal.open(runs_dir, run_id)
        state = replay(journal.events())
    except (RunError, json.JSONDecodeError):
        return None
    meta = journal.meta
    return RunRow(
        run_id=run_id,
        runbook=str(meta.get("runbook", "?")),
        path=str(meta.get("runbook_path", "?")),
        status=state.status,
        started=str(meta.get("created") or state.started_at or ""),
        finished=state.finished_at,
        initiator=str(meta.get("initiator", "?")),
        inventory=meta.get("inventory"),
        exit_code=state.exit_code,
        pid=None,
    )


def _alive(pid: int | None) -> bool:
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
