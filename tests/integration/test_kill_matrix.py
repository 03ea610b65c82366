"""The kill matrix (issue 10): a real `runbook run` SIGKILLed at many moments during
shell, ssh-local, ssh over a real sshd, and ansible steps — 40 kill points in all.

After every kill: within 2 s no process of the step is left (every command runs in the
run's folder, so a survivor is any process whose working directory is there), and
`runbook resume` (with `--rerun` only where the operator must say so) finishes the run
with every step completed exactly once and no non-idempotent step started twice unless
the operator asked for it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.testing import SshFleet, sshd_available, start_sshd_fleet

pytestmark = pytest.mark.slow

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")
STEPS = ("a", "b", "c")
IDEMPOTENT = {"b"}

#: (what to wait for, which one, extra delay): mid-step at the command's start and
#: later, and at step boundaries.
KILL_POINTS: list[tuple[str, str, float]] = [
    ("begin", "a", 0.0),
    ("begin", "a", 0.4),
    ("begin", "b", 0.0),
    ("begin", "b", 0.4),
    ("begin", "c", 0.0),
    ("begin", "c", 0.4),
    ("step_started", "1", 0.0),
    ("step_finished", "1", 0.0),
    ("step_finished", "2", 0.0),
    ("step_started", "3", 0.0),
]
KINDS = ("shell", "ssh-local", "ssh-sshd", "ansible")


def _command(step: str, root: Path) -> str:
    return f"cd {root} && echo begin-{step} >> marks.txt && sleep 0.8 && echo {step} >> counts.txt"


def _runbook(kind: str, root: Path) -> str:
    lines = ["runbook: 1", "name: kill-matrix", "inventory: hosts.ini", "phases:", "  - id: one", "    steps:"]
    for step in STEPS:
        lines.append(f"      - id: {step}")
        if step in IDEMPOTENT:
            lines.append("        idempotent: true")
        command = json.dumps(_command(step, root))
        if kind == "shell":
            lines.append(f"        shell: {command}")
        elif kind == "ansible":
            lines += ["        hosts: all", "        ansible:", "          module: shell", f"          args: {command}"]
        else:
            lines += ["        hosts: all", f"        ssh: {command}"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshFleet | None]:
    if sshd_available() is not None:
        yield None
        return
    started = start_sshd_fleet(tmp_path_factory.mktemp("kill-fleet"), ["app-01"])
    try:
        yield started
    finally:
        started.close()


def _inventory(kind: str, root: Path, fleet: SshFleet | None) -> None:
    path = root / "hosts.ini"
    if kind == "ssh-sshd":
        if fleet is None:
            pytest.skip(f"no sshd: {sshd_available()}")
        fleet.write_inventory(path)
        return
    path.write_text(
        f"[local]\nweb-01 ansible_connection=local ansible_python_interpreter={sys.executable}\n"
    )


def _events(runs: Path) -> list[dict[str, Any]]:
    events = []
    for journal in runs.glob("*/journal.jsonl"):
        for line in journal.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                break
    return events


def _survivors(root: Path) -> list[int]:
    """Processes working in the run's folder (every step command does)."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            cwd = os.readlink(f"/proc/{entry}/cwd")
            with open(f"/proc/{entry}/stat") as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z" and (cwd == str(root) or cwd.startswith(f"{root}/")):
            found.append(int(entry))
    return found


def _text(path: Path) -> str:
    return path.read_text() if path.exists() else ""


def _wait_for_point(root: Path, runs: Path, runner: subprocess.Popen[bytes], point: tuple[str, str, float]) -> None:
    what, which, delay = point
    deadline = time.monotonic() + 90
    while True:
        if what == "begin":
            reached = f"begin-{which}" in _text(root / "marks.txt")
        else:
            reached = sum(1 for e in _events(runs) if e["event"] == what) >= int(which)
        if reached:
            break
        assert runner.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, f"kill point {point} never came"
        time.sleep(0.005)
    time.sleep(delay)


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, "--runs-dir", str(root / "runs")],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=180,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("point", KILL_POINTS, ids=[f"{w}-{n}-{d:g}s" for w, n, d in KILL_POINTS])
@pytest.mark.parametrize("kind", KINDS)
def test_sigkill_leaves_no_step_process_and_resume_never_repeats(
    tmp_path: Path, kind: str, point: tuple[str, str, float], fleet: SshFleet | None
) -> None:
    if kind == "ansible":
        pytest.importorskip("ansible")
    root = tmp_path.resolve()
    _inventory(kind, root, fleet)
    (root / "rb.yaml").write_text(_runbook(kind, root))
    runs = root / "runs"
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "rb.yaml", "--runs-dir", str(runs), "--yes"],
        cwd=root,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_point(root, runs, runner, point)
    finally:
        os.kill(runner.pid, signal.SIGKILL)
        runner.wait()
    deadline = time.monotonic() + 2
    while _survivors(root) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not _survivors(root), f"{kind}: a step process outlived its SIGKILLed runner"

    reruns: Counter[str] = Counter()
    extra: list[str] = []
    for _ in range(len(STEPS) + 2):
        result = _cli(root, "resume", "last", "--yes", *extra)
        if result.returncode == 0:
            break
        assert result.returncode == 2, result.stdout + result.stderr
        assert "is not idempotent" in result.stderr, result.stderr
        step = result.stderr.split("step '")[1].split("'")[0]
        assert step not in IDEMPOTENT
        reruns[step] += 1
        extra = ["--rerun", step]
    else:
        pytest.fail("resume never finished")
    completed = Counter(_text(root / "counts.txt").split())
    begun = Counter(line.removeprefix("begin-") for line in _text(root / "marks.txt").split())
    assert completed == Counter(STEPS), f"{kind}: every step completes exactly once"
    for step in STEPS:
        if step not in IDEMPOTENT:
            assert begun[step] <= 1 + reruns[step], f"{kind}: {step} started twice unasked"
