"""The run lock across real processes: contention, and takeover after SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from runbook_engine.errors import RunError
from runbook_engine.journal import RunLock

KEY = "runbooks/monthly-update.yaml|inventory/hosts"

HOLDER = """
import sys, time
from pathlib import Path
from runbook_engine.journal import RunLock
lock = RunLock(Path(sys.argv[1]), sys.argv[2]).acquire()
lock.record_run("20261206T020000Z-monthly-update-beef")
print("locked", flush=True)
sys.stdin.read()
lock.release()
"""


@pytest.fixture
def holder(tmp_path: Path) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path), KEY],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "locked"
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait(timeout=30)


def test_second_run_is_refused_naming_the_holder(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with pytest.raises(RunError) as info, RunLock(tmp_path, KEY):
        pass
    since = json.loads(next((tmp_path / "locks").glob("*.lock")).read_text())["since"]
    assert info.value.message == (
        "another run holds the lock: run 20261206T020000Z-monthly-update-beef,"
        f" pid {holder.pid} on {socket.gethostname()}, since {since}"
    )


def test_other_runbook_or_inventory_is_not_blocked(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    with RunLock(tmp_path, "runbooks/monthly-update.yaml|inventory/staging") as lock:
        assert lock.held


def test_lock_is_released_when_the_holder_exits_cleanly(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    holder.communicate("", timeout=30)
    with RunLock(tmp_path, KEY) as lock:
        assert lock.previous_holder is None


def test_stale_lock_of_a_killed_runner_is_taken_over(
    tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait(timeout=30)
    with RunLock(tmp_path, KEY, run_id="20261206T030000Z-monthly-update-cafe") as lock:
        assert lock.previous_holder is not None
        assert lock.previous_holder["pid"] == holder.pid
        content = json.loads(lock.path.read_text())
        assert content["pid"] == os.getpid()
        assert content["run_id"] == "20261206T030000Z-monthly-update-cafe"
    assert lock.path.read_text() == ""


def test_same_process_cannot_take_the_lock_twice(tmp_path: Path) -> None:
    with RunLock(tmp_path, KEY), pytest.raises(RunError, match=f"pid {os.getpid()}"):
        RunLock(tmp_path, KEY).acquire()
    with RunLock(tmp_path, KEY) as again:
        assert again.held
    assert not again.held
