"""`runbook run`, `plan` and `resume` as processes: exit codes, Ctrl-C, dry runs."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """
runbook: 1
name: cli
vars:
  version: {type: string, required: true}
  token: {type: string, secret: true, env: CLI_TEST_TOKEN}
phases:
  - id: prepare
    steps:
      - id: record
        shell: echo v2.3.0
        capture: {previous: stdout}
      - id: deploy
        shell: echo "deploy {{ version }} over {{ steps.record.previous }} with {{ token }}" >> log.txt
  - id: verify
    steps:
      - id: smoke
        shell: echo smoke >> log.txt
        when: steps.record.previous == "v2.3.0"
      - id: long
        shell: sleep 60 & echo $! > sleeper.pid; wait
"""


def cli(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "CLI_TEST_TOKEN": "tok-very-secret", **(env or {})},
    )


def write(root: Path) -> Path:
    path = root / "book.yaml"
    path.write_text(textwrap.dedent(BOOK))
    return path


def test_plan_renders_every_command_and_runs_nothing(tmp_path: Path) -> None:
    write(tmp_path)
    done = cli(tmp_path, "plan", "book.yaml", "--var", "version=v2.4.0")
    assert done.returncode == 0, done.stderr
    assert 'echo "deploy v2.4.0 over <record.previous> with ***"' in done.stdout
    assert "decided at run time" in done.stdout and "tok-very-secret" not in done.stdout
    assert not (tmp_path / "log.txt").exists()
    dry = cli(tmp_path, "run", "book.yaml", "--var", "version=v2.4.0", "--dry-run")
    assert dry.returncode == 0 and dry.stdout == done.stdout
    assert not (tmp_path / ".runbook").exists()


def test_plan_follows_a_stubbed_result(tmp_path: Path) -> None:
    write(tmp_path)
    (tmp_path / "record.json").write_text(json.dumps({"rc": 0, "stdout": "v2.2.0"}))
    done = cli(
        tmp_path, "plan", "book.yaml", "--var", "version=v2.4.0", "--stub", "record=record.json"
    )
    assert done.returncode == 0, done.stderr
    assert "deploy v2.4.0 over v2.2.0" in done.stdout
    assert "false → skipped" in done.stdout and "stubbed result: succeeded" in done.stdout


def test_unusable_input_exits_2(tmp_path: Path) -> None:
    write(tmp_path)
    done = cli(tmp_path, "run", "book.yaml")
    assert done.returncode == 2 and "version" in done.stderr


def test_ctrl_c_cancels_the_running_step_and_records_it(tmp_path: Path) -> None:
    write(tmp_path)
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "--var", "version=v2.4.0", "--runs-dir", "runs"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "CLI_TEST_TOKEN": "tok-very-secret"},
    )
    pidfile = tmp_path / "sleeper.pid"
    deadline = time.monotonic() + 60
    while not (pidfile.exists() and pidfile.read_text().strip()):
        assert runner.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    sleeper = int(pidfile.read_text())
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    long = [e for e in events if e["event"] == "step_finished" and e["step"] == "long"]
    assert long and long[-1]["status"] == "cancelled"
    assert events[-1]["event"] == "run_finished" and events[-1]["status"] == "cancelled"
    assert "tok-very-secret" not in journal.read_text() + out + err
    deadline = time.monotonic() + 15
    while Path(f"/proc/{sleeper}").exists() and time.monotonic() < deadline:
        state = Path(f"/proc/{sleeper}/stat").read_text().rsplit(")", 1)[1].split()[0]
        if state == "Z":
            break
        time.sleep(0.05)
    else:
        assert not Path(f"/proc/{sleeper}").exists(), "the cancelled step's child is still running"
    assert (tmp_path / "log.txt").read_text().splitlines() == [
        "deploy v2.4.0 over v2.3.0 with tok-very-secret",
        "smoke",
    ]
