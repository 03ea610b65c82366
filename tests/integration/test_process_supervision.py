"""Every executor that starts a process keeps the same promises (issue 10): the tree
dies with a SIGKILLed runner and on timeout, its pid is journaled, its output is
bounded, and the step ends when the command exits."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.executors.shell import ShellExecutor
from runbook_engine.executors.ssh import SshExecutor
from runbook_engine.testing import SshFleet, local_hosts, make_call

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")


def journal(runs: Path) -> list[dict[str, Any]]:
    events = []
    for path in runs.glob("*/journal.jsonl"):
        for line in path.read_text().splitlines():
            try:
                events.append(json.loads(line))
            except ValueError:
                break
    return events


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(path: Path, text: str, runner: subprocess.Popen[bytes], limit: float = 60) -> None:
    deadline = time.monotonic() + limit
    while not (path.exists() and text in path.read_text()):
        assert runner.poll() is None, "the run ended before the kill point"
        assert time.monotonic() < deadline, f"{text!r} never appeared in {path}"
        time.sleep(0.01)


LOCAL_INVENTORY = "[local]\nweb-01 ansible_connection=local ansible_python_interpreter={python}\n"


def _runbook(step: str) -> str:
    return (
        "runbook: 1\nname: orphans\ninventory: hosts.ini\nphases:\n  - id: one\n    steps:\n"
        f"      - id: work\n        hosts: all\n{step}"
    )


STEPS = {
    "ssh-local": "        ssh: 'echo $$ > pid.txt; echo begin >> marks.txt; sleep 3; echo end >> marks.txt'\n",
    "ansible": (
        "        ansible:\n          module: shell\n"
        "          args: 'echo $$ > pid.txt; echo begin >> marks.txt; sleep 3; echo end >> marks.txt'\n"
    ),
}


@pytest.mark.parametrize("kind", sorted(STEPS))
def test_sigkilled_runner_takes_the_step_process_with_it(tmp_path: Path, kind: str) -> None:
    """Regression: ssh on local hosts and ansible left their command running after a
    SIGKILL of the runner, without a step_pid in the journal."""
    if kind == "ansible":
        pytest.importorskip("ansible")
    (tmp_path / "hosts.ini").write_text(LOCAL_INVENTORY.format(python=sys.executable))
    (tmp_path / "rb.yaml").write_text(_runbook(STEPS[kind]))
    runs = tmp_path / "runs"
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "rb.yaml", "--runs-dir", str(runs), "--yes"],
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for(tmp_path / "marks.txt", "begin", runner)
    pid = int((tmp_path / "pid.txt").read_text())
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 2
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not alive(pid), "the step's command outlived its SIGKILLed runner"
    assert any(e["event"] == "step_pid" and e["step"] == "work" for e in journal(runs))
    time.sleep(3.2)
    assert "end" not in (tmp_path / "marks.txt").read_text()


def run(executor: Any, spec: Any, hosts: tuple[Any, ...] = (), **kwargs: Any) -> Any:
    async def go() -> Any:
        try:
            return await executor.run(make_call(spec, hosts, **kwargs))
        finally:
            await executor.close()

    return asyncio.run(go())


def test_ssh_local_line_longer_than_64k_does_not_crash(tmp_path: Path) -> None:
    """Regression: a line over 64 KiB from a local-connection host raised ValueError."""
    result = run(SshExecutor(), "head -c 200000 /dev/zero | tr '\\0' x; echo", local_hosts(tmp_path, ["h"]))
    assert result.ok, result.error
    assert result.hosts["h"]["stdout"].startswith("x" * 1000)


def test_ssh_local_output_is_bounded_like_the_shell_executor(tmp_path: Path) -> None:
    """Regression: every output line was journaled and the whole output kept."""
    lines: list[str] = []
    result = run(
        SshExecutor(),
        "seq 1 200000",
        local_hosts(tmp_path, ["h"]),
        log=lambda line, host=None: lines.append(line),
    )
    assert result.ok
    assert len(lines) <= 10_001
    stdout = result.hosts["h"]["stdout"]
    assert len(stdout) < (1 << 20) + 200
    assert "[… output truncated:" in stdout


@pytest.mark.parametrize("executor", ["shell", "ssh-local"])
def test_a_background_child_holding_stdout_does_not_hold_the_step(
    tmp_path: Path, executor: str
) -> None:
    """Regression: `sleep 20 &` keeping stdout open made the step last 20 s."""
    command = "sleep 20 & echo started"
    started = time.monotonic()
    if executor == "shell":
        result = run(ShellExecutor(), command)
        out = result.fields["stdout"]
    else:
        result = run(SshExecutor(), command, local_hosts(tmp_path, ["h"]))
        out = result.hosts["h"]["stdout"]
    assert time.monotonic() - started < 3
    assert result.ok and out.startswith("started")


def _tarpit() -> tuple[socket.socket, int]:
    """A TCP server that accepts and never says a word (no SSH banner)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(server.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return server, server.getsockname()[1]


@pytest.mark.service("asyncssh")
def test_step_timeout_bounds_connecting(tmp_path: Path) -> None:
    """Regression: a tarpit host took 10.4 s on `timeout: 2s`."""
    pytest.importorskip("asyncssh")
    from runbook_engine.executors.base import Host

    server, port = _tarpit()
    try:
        host = Host(name="tarpit", address="127.0.0.1", port=port, user="nobody")
        started = time.monotonic()
        result = run(SshExecutor(), {"command": "true", "known_hosts": "ignore"}, (host,), timeout=2)
        took = time.monotonic() - started
    finally:
        server.close()
    assert result.hosts["tarpit"]["unreachable"] is True
    assert took < 3.5, f"connecting took {took:.1f}s on a 2s step timeout"


def _pids_of(pattern: str) -> list[int]:
    found = subprocess.run(["pgrep", "-f", pattern], capture_output=True, text=True)
    return [int(p) for p in found.stdout.split()]


@pytest.mark.service("sshd")
def test_remote_command_dies_on_step_timeout(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    """Regression: the remote command survived the step timeout."""
    marker = tmp_path / "remote-end"
    command = f"sleep 2.5; echo end > {marker}"
    result = run(
        SshExecutor(),
        {"command": command, **sshd_fleet.ssh_options()},
        (sshd_fleet.host("app-01"),),
        timeout=0.5,
    )
    assert result.hosts["app-01"]["timed_out"] is True
    time.sleep(3)
    assert not marker.exists(), "the remote command outlived the step timeout"


REMOTE_RUNNER = """
import asyncio, sys
from runbook_engine.executors.ssh import SshExecutor
from runbook_engine.executors.base import Host
from runbook_engine.testing import make_call
host = Host(name="app-01", address="127.0.0.1", port=int(sys.argv[1]), user="root")
spec = {"command": sys.argv[2], "key_file": sys.argv[3], "known_hosts": sys.argv[4]}
asyncio.run(SshExecutor().run(make_call(spec, (host,))))
"""


@pytest.mark.service("sshd")
def test_remote_command_dies_with_a_sigkilled_runner(sshd_fleet: SshFleet, tmp_path: Path) -> None:
    """Regression: a runner SIGKILL left the remote command running (resume --rerun then
    ran `begin begin end end`)."""
    marks = tmp_path / "marks"
    tag = f"remote-orphan-{os.getpid()}"
    command = f"echo begin >> {marks}; sleep 3 # {tag}\necho end >> {marks}"
    member = sshd_fleet.member("app-01")
    runner = subprocess.Popen(
        [sys.executable, "-c", REMOTE_RUNNER, str(member.port), command,
         str(sshd_fleet.client_key), str(sshd_fleet.known_hosts)],
        stdin=subprocess.DEVNULL,
    )
    wait_for(marks, "begin", runner)
    os.kill(runner.pid, signal.SIGKILL)
    runner.wait()
    deadline = time.monotonic() + 2
    while _pids_of(tag) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not _pids_of(tag), "the remote command outlived the runner"
    time.sleep(1.5)
    assert "end" not in marks.read_text()


@pytest.mark.service("sshd")
def test_remote_output_is_bounded_like_the_shell_executor(sshd_fleet: SshFleet) -> None:
    """Regression: every remote output line was journaled and the whole output kept
    (600k lines: 1.0 GB RSS, a 157 MB journal)."""
    lines: list[str] = []
    command = "seq 1 300000; head -c 200000 /dev/zero | tr '\\0' x; echo"
    result = run(
        SshExecutor(),
        {"command": command, **sshd_fleet.ssh_options()},
        (sshd_fleet.host("app-01"),),
        log=lambda line, host=None: lines.append(line),
    )
    assert result.ok, result.error
    assert len(lines) <= 10_001
    assert max(len(line) for line in lines) <= 64 * 1024 + 20
    stdout = result.hosts["app-01"]["stdout"]
    assert len(stdout) < (1 << 20) + 200 and "[… output truncated:" in stdout
