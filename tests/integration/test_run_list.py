"""`runbook runs` and the last line of a resumed run, as an operator reads them after
a real `runbook run` paused at a gate, was killed, or lost its report."""

from __future__ import annotations

import getpass
import json
import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

GATE = """
runbook: 1
name: gate
phases:
  - id: one
    steps:
      - id: first
        shell: echo hello
      - id: approve
        timeout: 1h
        manual:
          prompt: Approve the shutdown
          approvers: [APPROVER]
          on_timeout: abort
          inputs:
            ticket: {pattern: "CHG-[0-9]+"}
      - id: after
        shell: echo after
"""

SLOW = """
runbook: 1
name: slow
phases:
  - id: one
    steps:
      - id: wait
        shell: echo started > started.txt; sleep 30
"""


#: The approver is the OS user running the tests: `resume` verifies who approves.
GATE = GATE.replace("APPROVER", getpass.getuser())


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "200"},
    )


def test_a_paused_run_says_what_it_waits_for_and_has_not_finished(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(textwrap.dedent(GATE))
    paused = cli(tmp_path, "run", "gate.yaml", "--runs-dir", "runs")
    assert paused.returncode == 5, paused.stderr
    listed = cli(tmp_path, "runs", "--runs-dir", "runs")
    assert listed.returncode == 0, listed.stderr
    assert re.search(
        rf"waits at approve \(Approve the shutdown\); approvers {getpass.getuser()}; inputs ticket \(CHG-\[0-9\]\+\);"
        r" deadline \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, then abort",
        listed.stdout,
    ), listed.stdout
    assert "--confirm approve --input ticket=…" in listed.stdout
    [row] = json.loads(cli(tmp_path, "runs", "--runs-dir", "runs", "--format", "json").stdout)
    assert row["status"] == "paused" and row["finished"] is None
    assert row["waiting"]["step"] == "approve" and row["waiting"]["approvers"] == [getpass.getuser()]
    assert row["waiting"]["inputs"] == ["ticket (CHG-[0-9]+)"]
    time.sleep(1.2)
    done = cli(
        tmp_path, "resume", "last", "--runs-dir", "runs", "--confirm", "approve",
        "--input", "ticket=CHG-1",
    )
    assert done.returncode == 0, done.stderr
    # the whole run's duration (more than the pause), not the last session's milliseconds
    last = done.stdout.strip().splitlines()[-1]
    match = re.search(r"run succeeded \(exit 0\) in (\d+(?:\.\d+)?)(ms|s)$", last)
    assert match and match.group(2) == "s" and float(match.group(1)) >= 1.2, last
    [row] = json.loads(cli(tmp_path, "runs", "--runs-dir", "runs", "--format", "json").stdout)
    assert row["finished"] is not None and row["waiting"] is None


def test_interrupted_runs_and_missing_reports_are_shown(tmp_path: Path) -> None:
    (tmp_path / "gate.yaml").write_text(textwrap.dedent(GATE))
    (tmp_path / "slow.yaml").write_text(textwrap.dedent(SLOW))
    cli(tmp_path, "run", "gate.yaml", "--runs-dir", "runs")
    cli(tmp_path, "resume", "last", "--runs-dir", "runs", "--confirm", "approve",
        "--input", "ticket=CHG-2")
    [finished] = json.loads(cli(tmp_path, "runs", "--runs-dir", "runs", "--format", "json").stdout)
    (tmp_path / "runs" / finished["run_id"] / "report.md").unlink()
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "slow.yaml", "--runs-dir", "runs"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "started.txt").exists():
            assert time.monotonic() < deadline, "the slow step never started"
            time.sleep(0.05)
    finally:
        os.killpg(runner.pid, signal.SIGKILL)
        runner.wait()
    listed = cli(tmp_path, "runs", "--runs-dir", "runs")
    rows = {r["runbook"]: r for r in json.loads(
        cli(tmp_path, "runs", "--runs-dir", "runs", "--format", "json").stdout
    )}
    assert rows["slow"]["status"] == "interrupted" and rows["slow"]["finished"] is None
    assert f"{rows['slow']['run_id']} was interrupted" in listed.stdout
    assert rows["gate"]["report"] is None
    assert f"{rows['gate']['run_id']}: report missing" in listed.stdout
