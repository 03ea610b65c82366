"""`runbook runs`: the index, completed from run dirs, with dead runners shown."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner
from run_events import successful_update, typed

from runbook_engine.cli.main import cli
from runbook_engine.journal import Journal, RunIndex, list_runs


def record(runs_dir: Path, events: list[dict], name: str = "monthly-update") -> Journal:  # type: ignore[type-arg]
    journal = Journal.create(
        runs_dir,
        runbook_name=name,
        runbook_path=f"{name}.yaml",
        runbook_sha256="r",
        vars_sha256="v",
        inventory=None,
        initiator="alice",
    )
    for event in events:
        journal.append(typed(event))
    return journal


def test_runner_that_died_shows_as_interrupted(tmp_path: Path) -> None:
    script = f"""
from pathlib import Path
from runbook_engine.journal import Journal
from runbook_engine.journal.events import decode
j = Journal.create(Path({str(tmp_path)!r}), runbook_name="weekly-backup", runbook_path="b.yaml",
                   runbook_sha256="r", vars_sha256="v", inventory=None, initiator="bob")
j.append(decode({{"event": "run_started", "runbook": "weekly-backup"}}))
print(j.run_id)
"""
    dead = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.strip()
    alive = record(tmp_path, successful_update()[:3])
    done = record(tmp_path, successful_update())
    done.close("succeeded", 0)
    statuses = {row.run_id: row.status for row in list_runs(tmp_path)}
    assert statuses == {dead: "interrupted", alive.run_id: "running", done.run_id: "succeeded"}
    assert [r.run_id for r in list_runs(tmp_path)] == sorted(statuses, reverse=True)


def test_lost_index_is_rebuilt_from_run_directories(tmp_path: Path) -> None:
    journal = record(tmp_path, successful_update())
    journal.close("succeeded", 0)
    (tmp_path / "index.sqlite").unlink()
    (row,) = list_runs(tmp_path)
    assert (row.run_id, row.status, row.exit_code, row.runbook) == (
        journal.run_id,
        "succeeded",
        0,
        "monthly-update",
    )
    assert RunIndex(tmp_path).get(journal.run_id) == row


def test_runs_command_table_and_json(tmp_path: Path) -> None:
    journal = record(tmp_path, successful_update())
    journal.close("succeeded", 0)
    runner = CliRunner()
    table = runner.invoke(cli, ["runs", "--runs-dir", str(tmp_path)])
    assert table.exit_code == 0, table.output
    assert journal.run_id in table.output and "succeeded" in table.output
    as_json = runner.invoke(cli, ["runs", "--runs-dir", str(tmp_path), "--format", "json"])
    rows = json.loads(as_json.output)
    assert [(r["run_id"], r["status"], r["exit_code"]) for r in rows] == [
        (journal.run_id, "succeeded", 0)
    ]
    empty = runner.invoke(cli, ["runs", "--runs-dir", str(tmp_path / "none"), "--format", "json"])
    assert json.loads(empty.output) == []
