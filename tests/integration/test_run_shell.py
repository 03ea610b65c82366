"""The shell executor against real processes: capture, streaming, limits, timeouts and
the guarantee that no command outlives its runner."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import Host, StepCall
from runbook_engine.executors.shell import ShellExecutor
from runbook_engine.shell_values import ShellCommand


def run(call: StepCall):
    async def go():
        executor = ShellExecutor()
        try:
            return await executor.run(call)
        finally:
            await executor.close()

    return asyncio.run(go())


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead for our purpose
        return f.read().split(")")[-1].split()[0] != "Z"


def wait_dead(pids: list[int], limit: float = 15.0) -> list[int]:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline and any(alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if alive(p)]


def test_fields_and_streamed_lines(tmp_path: Path) -> None:
    lines: list[tuple[str, str | None]] = []
    result = run(
        StepCall(
            "s",
            {
                "command": 'echo "$GREETING from $(pwd)"; echo oops >&2; exit 3',
                "cwd": str(tmp_path),
                "env": {"GREETING": "hello"},
            },
            log=lambda line, host=None: lines.append((line, host)),
        )
    )
    assert not result.ok and result.error == "exit code 3"
    assert result.fields["rc"] == result.fields["exit_code"] == 3
    assert result.fields["stdout"] == f"hello from {tmp_path}"
    assert result.fields["stderr"] == "oops"
    assert result.fields["pid"] > 0 and result.fields["duration"] >= 0
    assert (f"hello from {tmp_path}", None) in lines and ("stderr: oops", None) in lines


def test_stdin_is_fed() -> None:
    result = run(StepCall("s", {"command": "tr a-z A-Z", "stdin": "quiet\n"}))
    assert result.ok and result.fields["stdout"] == "QUIET"


def test_output_is_bounded_and_truncation_marked() -> None:
    result = run(
        StepCall("s", {"command": "head -c 50000 /dev/zero | tr '\\0' x", "max_output": 1000})
    )
    assert result.ok
    assert result.fields["stdout"].startswith("x" * 1000)
    assert "truncated: 49000 more bytes" in result.fields["stdout"]


def test_timeout_kills_the_whole_process_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"
    result = run(
        StepCall(
            "s",
            {"command": f"sleep 300 & echo $! > {pidfile}; wait", "kill_grace": 0.5},
            timeout=0.5,
        )
    )
    assert not result.ok and result.fields["timed_out"] and result.error == "timed out"
    assert "timed out after 0.5s" in result.fields["stderr"]
    assert wait_dead([int(pidfile.read_text())]) == []


def test_cancellation_kills_the_group(tmp_path: Path) -> None:
    pidfile = tmp_path / "child.pid"

    async def go() -> None:
        executor = ShellExecutor()
        task = asyncio.ensure_future(
            executor.run(
                StepCall(
                    "s", {"command": f"sleep 300 & echo $! > {pidfile}; wait", "kill_grace": 0.5}
                )
            )
        )
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.02)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        await executor.close()

    asyncio.run(go())
    assert wait_dead([int(pidfile.read_text())]) == []


def test_checksum_matches_with_real_sha256sum(tmp_path: Path) -> None:
    package = tmp_path / "app-v2.4.0.tar.gz"
    package.write_bytes(b"release")
    digest = hashlib.sha256(b"release").hexdigest()
    (tmp_path / "app-v2.4.0.tar.gz.sha256").write_text(f"{digest}  app-v2.4.0.tar.gz\n")
    check = ShellExecutor.checks["checksum matches"].test
    good = run(
        StepCall("s", {"command": "sha256sum -c app-v2.4.0.tar.gz.sha256", "cwd": str(tmp_path)})
    )
    assert check(good.fields, good.hosts)
    package.write_bytes(b"tampered")
    bad = run(
        StepCall("s", {"command": "sha256sum -c app-v2.4.0.tar.gz.sha256", "cwd": str(tmp_path)})
    )
    assert not bad.ok and not check(bad.fields, bad.hosts)


def test_runs_once_per_local_host_rendered_per_host(tmp_path: Path) -> None:
    hosts = tuple(
        Host(name, connection="local", vars={"root": str(tmp_path / name)}) for name in ("a", "b")
    )
    for host in hosts:
        Path(host.vars["root"]).mkdir()
        (Path(host.vars["root"]) / "VERSION").write_text(f"v-{host.name}\n")

    def render_command(text: str, host: Host | None) -> ShellCommand:
        return ShellCommand.plain(text.replace("ROOT", host.vars["root"]) if host else text)

    result = run(StepCall("s", "cat ROOT/VERSION", hosts=hosts, render_command=render_command))
    assert result.ok
    assert {name: fields["stdout"] for name, fields in result.hosts.items()} == {
        "a": "v-a",
        "b": "v-b",
    }
    failing = run(
        StepCall(
            "s", "test ROOT = " + str(tmp_path / "a"), hosts=hosts, render_command=render_command
        )
    )
    assert not failing.ok and failing.fields["rc"] == 1 and failing.error == "exit code 1 on b"


def test_remote_hosts_are_refused() -> None:
    with pytest.raises(ExecutorError, match="use the ssh executor"):
        run(StepCall("s", "true", hosts=(Host("web-1", connection="ssh"),)))


def test_describe_shows_rendered_commands() -> None:
    call = StepCall(
        "s",
        {"command": "deploy {{v}}", "cwd": "/opt"},
        render_command=lambda t, h=None: ShellCommand(
            script=t.replace("{{v}}", '"${RB_V1}"'), values=("v2",), shown=t.replace("{{v}}", "'v2'")
        ),
    )
    # valid shell a reader can paste (regression: `(cd /opt) deploy` ran deploy outside /opt)
    assert ShellExecutor().describe(call) == ["cd /opt && deploy 'v2'"]


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="parent-death signal is Linux only"
)
def test_commands_die_with_a_sigkilled_runner(tmp_path: Path) -> None:
    pidfile = tmp_path / "pids"
    runner = textwrap.dedent(
        f"""
        import asyncio
        from runbook_engine.executors.base import StepCall
        from runbook_engine.executors.shell import ShellExecutor
        asyncio.run(ShellExecutor().run(StepCall("s", "sleep 300 & echo $$ $! > {pidfile}; wait")))
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", runner])
    deadline = time.monotonic() + 30
    while not (pidfile.exists() and len(pidfile.read_text().split()) == 2):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.02)
    pids = [int(p) for p in pidfile.read_text().split()]
    assert all(alive(p) for p in pids)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert wait_dead(pids) == []
