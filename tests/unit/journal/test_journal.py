from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest
from run_events import event

from runbook_engine.errors import RunError
from runbook_engine.journal import Journal, RunIndex, replay, verify_journal
from runbook_engine.journal.chain import GENESIS, record_hash
from runbook_engine.journal.events import Event


def new_journal(runs_dir: Path, name: str = "monthly-update", initiator: str = "alice") -> Journal:
    return Journal.create(
        runs_dir,
        runbook_name=name,
        runbook_path=f"runbooks/{name}.yaml",
        runbook_sha256="r" * 64,
        vars_sha256="v" * 64,
        inventory="inventory/hosts",
        initiator=initiator,
    )


def lines(journal: Journal) -> list[str]:
    return journal.path.read_text(encoding="utf-8").splitlines()


def test_create_makes_sortable_run_dir_meta_and_index_row(tmp_path: Path) -> None:
    journal = new_journal(tmp_path, name="Monthly Update!")
    assert re.fullmatch(r"\d{8}T\d{6}Z-monthly-update-[0-9a-f]{4}", journal.run_id)
    assert journal.dir == tmp_path / journal.run_id
    assert journal.path == journal.dir / "journal.jsonl"
    assert journal.path.exists() and journal.path.read_bytes() == b""
    meta = json.loads((journal.dir / "meta.json").read_text())
    assert meta == journal.meta
    assert meta["runbook_sha256"] == "r" * 64 and meta["vars_sha256"] == "v" * 64
    row = RunIndex(tmp_path).get(journal.run_id)
    assert row is not None
    assert (row.runbook, row.path, row.status, row.initiator, row.inventory) == (
        "Monthly Update!",
        "runbooks/Monthly Update!.yaml",
        "running",
        "alice",
        "inventory/hosts",
    )
    assert row.pid == os.getpid() and row.finished is None and row.exit_code is None


def test_append_writes_hash_chained_lines_and_events_reads_them_back(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    first = journal.append(
        event("run_started", runbook="monthly-update", vars={"version": "v2.4.0"})
    )
    second = journal.append(
        event("step_started", step="verify-package", phase="prepare", attempt=1)
    )
    assert first["seq"] == 1 and second["seq"] == 2
    assert first["prev"] == GENESIS and second["prev"] == first["hash"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first["ts"])
    assert first["hash"] == record_hash(GENESIS, first)
    events = journal.events()
    assert events == [first, second]
    assert journal.torn_tail is False
    assert len(lines(journal)) == 2
    assert verify_journal(journal.path) == []


def test_an_event_may_not_declare_a_chain_key() -> None:
    with pytest.raises(TypeError, match="seq"):

        @dataclass(frozen=True, kw_only=True)
        class Clashing(Event):
            name: ClassVar[str] = "clashing"
            seq: int = 7


def test_values_json_cannot_hold_are_written_as_text_and_still_verify(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(
        event(
            "step_finished",
            step="s",
            captures={"where": tmp_path, "line": "caf\u00e9 \udcff bytes"},
        )
    )
    (record,) = journal.events()
    assert record["captures"]["where"] == str(tmp_path)
    assert record["captures"]["line"] == "caf\u00e9 \udcff bytes"
    assert verify_journal(journal.path) == []


def test_sync_append_fsyncs_the_journal_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = new_journal(tmp_path)
    synced: list[int] = []
    real_fsync = os.fsync

    def spy(fd: int) -> None:
        synced.append(os.fstat(fd).st_ino)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", spy)
    journal.append(event("step_output", step="s", host="local", line="x"))
    assert synced == []
    journal.append(event("step_finished", step="s", status="succeeded"), sync=True)
    assert synced == [journal.path.stat().st_ino]


def test_reopened_journal_continues_the_chain(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(event("run_started", runbook="monthly-update"))
    journal.append(event("paused", step="confirm-backup", reason="manual"))
    journal.close("paused", 4)
    again = Journal.open(tmp_path, journal.run_id)
    assert again.meta == journal.meta
    resumed = again.append(event("resumed", by="bob"))
    assert resumed["seq"] == 3
    assert verify_journal(again.path) == []
    assert [e["event"] for e in again.events()] == ["run_started", "paused", "resumed"]


def test_torn_last_line_is_ignored_then_discarded_on_the_next_append(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(event("run_started", runbook="monthly-update"))
    journal.append(event("step_started", step="extract", phase="deploy", attempt=1))
    full = json.dumps({"seq": 3, "ts": "2026-01-01T00:00:00.000Z", "event": "step_finished"})
    with journal.path.open("ab") as fh:
        fh.write(full[: len(full) // 2].encode())
    reader = Journal.open(tmp_path, journal.run_id)
    events = reader.events()
    assert [e["seq"] for e in events] == [1, 2]
    assert reader.torn_tail is True
    assert verify_journal(reader.path) == []

    repaired = reader.append(event("resumed", by="alice"))
    assert repaired["seq"] == 4
    events = reader.events()
    assert reader.torn_tail is False
    assert [e["event"] for e in events] == [
        "run_started",
        "step_started",
        "journal_repaired",
        "resumed",
    ]
    assert events[2]["discarded_bytes"] == len(full) // 2
    assert verify_journal(reader.path) == []


def test_complete_last_record_without_newline_is_kept(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(event("run_started", runbook="monthly-update"))
    journal.append(event("step_started", step="a", phase="p", attempt=1))
    journal.close("running", 0)
    journal.path.write_bytes(journal.path.read_bytes().rstrip(b"\n"))
    reader = Journal.open(tmp_path, journal.run_id)
    assert len(reader.events()) == 2 and reader.torn_tail is False
    reader.append(event("resumed", by="alice"))
    assert [e["seq"] for e in reader.events()] == [1, 2, 3]
    assert verify_journal(reader.path) == []


def test_unreadable_line_in_the_middle_is_an_error_naming_it(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    for n in range(3):
        journal.append(event("step_output", step="s", host="h", line=str(n)))
    text = lines(journal)
    text[1] = text[1][:20]
    journal.path.write_text("\n".join(text) + "\n")
    with pytest.raises(RunError, match=r"journal.jsonl:2: unreadable"):
        journal.events()


def test_close_records_outcome_in_the_index(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(event("run_started", runbook="monthly-update"))
    journal.close("rolled_back", 3)
    row = RunIndex(tmp_path).get(journal.run_id)
    assert row is not None
    assert (row.status, row.exit_code) == ("rolled_back", 3)
    assert row.finished is not None and row.finished >= row.started


def test_run_finished_and_pause_events_keep_the_index_current(tmp_path: Path) -> None:
    journal = new_journal(tmp_path)
    journal.append(event("paused", step="approve", reason="approval"))
    row = RunIndex(tmp_path).get(journal.run_id)
    assert row is not None and row.status == "paused"
    journal.append(event("resumed", by="bob"))
    journal.append(event("run_finished", status="failed", exit_code=1))
    row = RunIndex(tmp_path).get(journal.run_id)
    assert row is not None and (row.status, row.exit_code) == ("failed", 1)


def test_open_by_exact_id_prefix_and_last(tmp_path: Path) -> None:
    older = new_journal(tmp_path, name="weekly-backup")
    newer = new_journal(tmp_path, name="monthly-update")
    assert Journal.open(tmp_path, older.run_id).run_id == older.run_id
    assert Journal.open(tmp_path, "last").run_id == newer.run_id
    unique = newer.run_id[: newer.run_id.index("-") + 2]
    assert Journal.open(tmp_path, unique).run_id == newer.run_id
    with pytest.raises(RunError, match="ambiguous"):
        Journal.open(tmp_path, older.run_id[:8])
    with pytest.raises(RunError, match="no run 'nope'"):
        Journal.open(tmp_path, "nope")
    with pytest.raises(RunError, match="no runs"):
        Journal.open(tmp_path / "empty", "last")


def test_runner_killed_mid_write_leaves_a_resumable_journal(tmp_path: Path) -> None:
    """A real runner process writes events, starts a step, and is SIGKILLed while
    writing the next line; the journal replays with the step interrupted."""
    script = f"""
import os, signal
from pathlib import Path
from runbook_engine.journal import Journal
from runbook_engine.journal.events import RunStarted, StepFinished, StepPid, StepStarted
j = Journal.create(Path({str(tmp_path)!r}), runbook_name="monthly-update", runbook_path="rb.yaml",
                   runbook_sha256="r", vars_sha256="v", inventory=None, initiator="alice")
j.append(RunStarted(runbook="monthly-update", vars={{}}, inventory=None, initiator="alice",
                    run_id=j.run_id, title=None, path=None, outside_window=None))
def started(step, phase):
    return StepStarted(step=step, phase=phase, attempt=1, title=None, executor="shell")
j.append(started("verify-package", "prepare"))
j.append(StepFinished(step="verify-package", phase="prepare", status="succeeded",
         result={{"ok": True}}, attempt=1, captures={{}}, error=None, duration=0.1), sync=True)
j.append(started("run-migrations", "deploy"))
j.append(StepPid(step="run-migrations", pid=4242, proc_start=None), sync=True)
os.write(j._fd, b'{{"seq":6,"ts":"2026-')
os.kill(os.getpid(), signal.SIGKILL)
"""
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr
    journal = Journal.open(tmp_path, "last")
    state = replay(journal.events())
    assert journal.torn_tail
    assert state.steps["verify-package"].status == "succeeded"
    assert state.interrupted == ["run-migrations"]
    assert state.steps["run-migrations"].pids == (4242,)
    assert verify_journal(journal.path) == []
