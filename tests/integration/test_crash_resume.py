"""A real `runbook run` killed with SIGKILL at many points, then `runbook resume` until
the run finishes. Every step appends its id to a file, so re-runs are countable.

Invariants, whatever the kill point:
* a step the journal recorded as succeeded before the kill never runs again;
* a non-idempotent step runs again only when the operator said ``--rerun`` (resume
  without it is refused); an idempotent one may run again on its own;
* a command killed with its runner never finishes later behind resume's back.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

RUNBOOK = """
runbook: 1
name: crash
phases:
  - id: one
    steps:
      - id: a
        shell: sleep 0.05; echo a >> counts.txt
      - id: b
        shell: sleep 0.05; echo b >> counts.txt
        idempotent: true
  - id: two
    steps:
      - id: c
        shell: echo c-begin >> marks.txt; sleep 1.5; echo c >> counts.txt
      - id: d
        shell: sleep 0.05; echo d >> counts.txt
      - id: e
        shell: echo e-begin >> marks.txt; sleep 1.5; echo e >> counts.txt
        idempotent: true
      - id: f
        shell: sleep 0.05; echo f >> counts.txt
      - id: g
        shell: sleep 0.5; echo g >> counts.txt
"""

# `g` keeps the runner busy after f's boundary: without it a loaded machine let the run
# finish before the kill at step_finished-6 arrived (the kill point was missed).
STEPS = ["a", "b", "c", "d", "e", "f", "g"]
IDEMPOTENT = {"b", "e"}

#: (event to wait for, how many of them, extra condition) — step boundaries and mid-step.
KILL_POINTS = [
    ("step_started", 1, None),
    ("step_finished", 1, None),
    ("step_started", 2, None),
    ("step_finished", 2, None),
    ("phase_started", 2, None),
    ("step_pid", 3, "c-begin"),  # mid-step, non-idempotent
    ("step_finished", 3, None),
    ("step_finished", 4, None),
    ("step_pid", 5, "e-begin"),  # mid-step, idempotent
    ("step_finished", 5, None),
    ("step_finished", 6, None),
]

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")


def journal_events(runs: Path) -> list[dict]:
    journals = list(runs.glob("*/journal.jsonl"))
    if not journals:
        return []
    events = []
    for line in journals[0].read_text().splitlines():
        try:
            events.append(json.loads(line))
        except ValueError:
            break  # a torn last line while the runner writes
    return events


def counts(root: Path) -> Counter[str]:
    path = root / "counts.txt"
    return Counter(path.read_text().split()) if path.exists() else Counter()


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, "--runs-dir", str(root / "runs")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize(
    ("event", "count", "mark"), KILL_POINTS, ids=[f"{e}-{n}" for e, n, _ in KILL_POINTS]
)
def test_sigkill_then_resume_never_repeats_silently(
    tmp_path: Path, event: str, count: int, mark: str | None
) -> None:
    (tmp_path / "runbook.yaml").write_text(RUNBOOK)
    runs = tmp_path / "runs"
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "runbook.yaml", "--runs-dir", str(runs)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while True:
        seen = [e for e in journal_events(runs) if e["event"] == event]
        marks = (tmp_path / "marks.txt").read_text() if (tmp_path / "marks.txt").exists() else ""
        if len(seen) >= count and (mark is None or mark in marks):
            break
        assert runner.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()

    before = journal_events(runs)
    succeeded_before = {
        e["step"] for e in before if e["event"] == "step_finished" and e["status"] == "succeeded"
    }
    counts_before = counts(tmp_path)
    time.sleep(2.0)  # long enough for an orphaned `sleep 1.5; echo` to append, if one survived
    assert counts(tmp_path) == counts_before, "a command outlived its SIGKILLed runner"

    reruns: Counter[str] = Counter()
    extra: list[str] = []
    for _ in range(6):
        result = cli(tmp_path, "resume", "last", *extra)
        if result.returncode == 0:
            break
        assert result.returncode == 2, result.stderr
        assert "is not idempotent" in result.stderr, result.stderr
        step = result.stderr.split("step '")[1].split("'")[0]
        assert step not in IDEMPOTENT
        reruns[step] += 1
        extra = ["--rerun", step]
    else:
        pytest.fail("resume never finished")

    final = counts(tmp_path)
    started_before = {e["step"] for e in before if e["event"] == "step_started"}
    interrupted = started_before - {e["step"] for e in before if e["event"] == "step_finished"}
    for step in succeeded_before:
        assert final[step] == counts_before[step] == 1, f"succeeded step {step} ran again"
    for step in STEPS:
        assert final[step] - counts_before[step] <= 1
        if step in interrupted and step not in IDEMPOTENT:
            assert reruns[step] == 1, f"interrupted non-idempotent step {step} was not refused"
        elif step not in interrupted:
            assert reruns[step] == 0
    assert sum(final.values()) == len(STEPS) + sum(counts_before[s] for s in interrupted)
    assert set(final) == set(STEPS)
    events = journal_events(runs)
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "succeeded"
    assert any(e["event"] == "resumed" for e in events)


ROLLBACK_RUNBOOK = """
runbook: 1
name: crash-rollback
phases:
  - id: deploy
    steps:
      - id: backup
        shell: echo backup >> counts.txt
        undo: {shell: echo undo-backup >> counts.txt}
      - id: migrate
        shell: echo migrate >> counts.txt
        critical: true
        expect: rc == 1
rollback:
  steps:
    - id: revert
      shell: echo revert-begin >> marks.txt; sleep 1.5; echo revert >> counts.txt
      idempotent: true
    - id: notify-done
      shell: echo notify-done >> counts.txt
"""


def test_sigkill_during_rollback_then_resume_finishes_the_rollback(tmp_path: Path) -> None:
    (tmp_path / "runbook.yaml").write_text(ROLLBACK_RUNBOOK)
    runs = tmp_path / "runs"
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "runbook.yaml", "--runs-dir", str(runs)],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while not (
        (tmp_path / "marks.txt").exists() and "revert-begin" in (tmp_path / "marks.txt").read_text()
    ):
        assert runner.poll() is None and time.monotonic() < deadline
        time.sleep(0.005)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    assert counts(tmp_path) == Counter({"backup": 1, "migrate": 1, "undo-backup": 1})
    done = cli(tmp_path, "resume", "last")
    assert done.returncode == 3, done.stdout + done.stderr
    assert counts(tmp_path) == Counter(
        {"backup": 1, "migrate": 1, "undo-backup": 1, "revert": 1, "notify-done": 1}
    )
    events = journal_events(runs)
    assert [e["event"] for e in events].count("rollback_started") == 1
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "rolled_back"
