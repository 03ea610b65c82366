"""Kills at the two moments the SIGKILL matrix of test_crash_resume does not reach:
at the "Roll back what ran?" prompt after a cancel, and between ``run_finished``
and the reports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_run_tty import read_until

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

CANCELLABLE = """
runbook: 1
name: cancel-prompt
phases:
  - id: p
    steps:
      - id: first
        shell: echo first >> counts.txt
        undo: {shell: echo undo-first >> counts.txt}
      - id: slow
        shell: echo slow-begin >> marks.txt; sleep 30; echo slow >> counts.txt
      - id: last
        shell: echo last >> counts.txt
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, "--runs-dir", str(root / "runs")],
        cwd=root, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def lines(path: Path) -> list[str]:
    return path.read_text().split() if path.exists() else []


@pytest.mark.parametrize("kill", [signal.SIGKILL, signal.SIGHUP], ids=["SIGKILL", "SIGHUP"])
def test_kill_at_the_rollback_prompt_leaves_the_cancelled_step_interrupted(
    tmp_path: Path, kill: signal.Signals
) -> None:
    (tmp_path / "book.yaml").write_text(textwrap.dedent(CANCELLABLE))
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", "runs"], cwd=tmp_path,
        stdin=slave, stdout=slave, stderr=slave,
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1"}, start_new_session=True,
    )  # fmt: skip
    os.close(slave)
    seen = bytearray()
    try:
        deadline = time.monotonic() + 60
        while "slow-begin" not in lines(tmp_path / "marks.txt"):
            assert time.monotonic() < deadline and proc.poll() is None, seen.decode(errors="replace")
            time.sleep(0.02)
        proc.send_signal(signal.SIGTERM)
        read_until(master, "Roll back what ran? [y/N]", seen)
        proc.send_signal(kill)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    run_id = next((tmp_path / "runs").glob("*/journal.jsonl")).parent.name
    refused = cli(tmp_path, "resume", run_id)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "'slow' was interrupted" in refused.stderr
    assert lines(tmp_path / "marks.txt") == ["slow-begin"]  # never silently run again
    done = cli(tmp_path, "resume", run_id, "--skip", "slow")
    assert done.returncode == 0, done.stderr
    assert lines(tmp_path / "counts.txt") == ["first", "last"]
    assert lines(tmp_path / "marks.txt") == ["slow-begin"]


FINISHING = """
runbook: 1
name: reports
phases:
  - id: p
    steps:
      - id: only
        shell: sleep 0.3; echo only >> counts.txt
"""


def journal_events(runs: Path) -> list[dict]:
    out = []
    for journal in runs.glob("*/journal.jsonl"):
        for line in journal.read_text().splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:
                break
    return out


@pytest.mark.parametrize("attempt", range(3))
def test_kill_between_run_finished_and_the_reports(tmp_path: Path, attempt: int) -> None:
    """Killed as soon as ``run_finished`` is on disk: whatever the kill caught, the
    reports are never half-written, `runs` says when they are missing, and
    `runbook report RUN` rebuilds them from the journal."""
    (tmp_path / "book.yaml").write_text(textwrap.dedent(FINISHING))
    runs = tmp_path / "runs"
    proc = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", str(runs)], cwd=tmp_path,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not any(e["event"] == "run_finished" for e in journal_events(runs)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.001)
    proc.kill()
    proc.wait(timeout=30)
    run_dir = next(runs.glob("*/journal.jsonl")).parent
    for name in ("report.md", "report.json"):
        if (run_dir / name).exists() and name.endswith(".json"):
            json.loads((run_dir / name).read_text())  # complete, or not there at all
    if attempt == 0:  # make sure the missing-reports path runs at least once
        for name in ("report.md", "report.json"):
            (run_dir / name).unlink(missing_ok=True)
    missing = not (run_dir / "report.md").exists() or not (run_dir / "report.json").exists()
    listed = cli(tmp_path, "runs")
    assert listed.returncode == 0, listed.stderr
    assert ("report missing" in listed.stdout + listed.stderr) == missing
    rebuilt = cli(tmp_path, "report", run_dir.name)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "# " in rebuilt.stdout
    report = json.loads((run_dir / "report.json").read_text())
    assert report["status"] == "succeeded"
    assert "only" in (run_dir / "report.md").read_text()
    assert "report missing" not in cli(tmp_path, "runs").stdout
