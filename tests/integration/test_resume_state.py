"""What a resume carries over from before: secret captures and secret vars (never
journaled, never the mask), and the attempts a step already used."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_run_engine import Runner

from runbook_engine.errors import RunbookError, RunError

SECRET_CAPTURE = """
runbook: 1
name: secret-capture
vars:
  token: {type: string, secret: true, required: true}
phases:
  - id: p
    steps:
      - id: mint
        shell: echo minted-credential-42
        secret_output: true
        capture: {credential: stdout}
      - id: gate
        manual: Go on?
      - id: use
        shell: echo "{{ steps.mint.credential }} {{ token }}" > used.txt
"""


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def test_secret_capture_survives_a_resume_and_is_never_journaled(runner: Runner) -> None:
    paused = runner.run(SECRET_CAPTURE, cli_vars={"token": "hunter2-very-secret"})
    assert paused.status == "paused"
    # the secret var is not journaled: resume asks for it again
    with pytest.raises(RunbookError, match="token"):
        runner.resume(paused.run_id, confirm=["gate"])
    done = runner.resume(
        paused.run_id, confirm=["gate"], cli_vars={"token": "hunter2-very-secret"}
    )
    assert done.status == "succeeded"
    assert (runner.root / "used.txt").read_text() == "minted-credential-42 hunter2-very-secret\n"
    for path in sorted(done.dir.iterdir()):
        if path.is_file() and path.name != "runbook.yaml":  # the copy holds the source text
            text = path.read_bytes()
            assert b"minted-credential-42" not in text, path
            assert b"hunter2-very-secret" not in text, path
    assert "minted-credential-42" not in runner.output.getvalue()


def test_secret_capture_that_cannot_be_restored_refuses_the_resume(runner: Runner) -> None:
    paused = runner.run(SECRET_CAPTURE, cli_vars={"token": "tok-x1y2z3"})
    for sealed in paused.dir.glob("secrets*"):
        sealed.unlink()
    with pytest.raises(RunError, match="secret captures of step 'mint'"):
        runner.resume(paused.run_id, confirm=["gate"], cli_vars={"token": "tok-x1y2z3"})
    assert not (runner.root / "used.txt").exists()


RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

RETRYING = """
runbook: 1
name: retries
phases:
  - id: p
    steps:
      - id: flaky
        shell: echo try >> log.txt; sleep 1; exit 1
        retries: 2
        idempotent: true
"""


def test_retry_budget_counts_attempts_across_a_resume(tmp_path: Path) -> None:
    """``retries: 2`` allows 3 attempts in all: a runner killed during attempt 2 and
    resumed makes attempt 2 again, then 3 — not 3 more."""
    (tmp_path / "book.yaml").write_text(textwrap.dedent(RETRYING))
    runs = str(tmp_path / "runs")
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", runs], cwd=tmp_path,
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    log = tmp_path / "log.txt"
    deadline = time.monotonic() + 60
    while (not log.exists() or log.read_text().count("try") < 2) and time.monotonic() < deadline:
        time.sleep(0.02)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait(timeout=30)
    resumed = subprocess.run(
        [RUNBOOK_BIN, "resume", "last", "--runs-dir", runs], cwd=tmp_path,
        capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert resumed.returncode == 1, resumed.stderr
    from runbook_engine.journal import Journal

    events = Journal.open(Path(runs), "last").events()
    started = [e["attempt"] for e in events if e["event"] == "step_started"]
    assert started == [1, 2, 2, 3]
    assert [e["attempt"] for e in events if e["event"] == "step_finished"] == [3]
