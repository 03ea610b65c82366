"""The ``shell`` executor: a local command in its own process group.

A step's command must never outlive the runner that started it, even a runner killed
with SIGKILL, because resume would otherwise start a retry beside an orphan. On Linux
a small guardian process, started once per run, holds the read end of a pipe from the
runner; when the runner dies the pipe closes and the guardian kills every process
group still registered, grandchildren included. A command does not start its work
before the guardian knows its group (it waits for a go line on stdin), so nothing runs
unguarded. Only when the guardian cannot be started does the shell get
``PR_SET_PDEATHSIG`` instead (``setpriv``, or a ``prctl`` preexec), which costs an
extra exec or a fork per command. See docs/executors/shell.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, NamedCheck, Result, StepCall
from runbook_engine.shell_values import ShellCommand

#: Bytes of stdout and of stderr kept per command; the rest is counted and marked.
DEFAULT_MAX_OUTPUT = 1 << 20
#: Seconds between SIGTERM and SIGKILL when a command is stopped.
DEFAULT_KILL_GRACE = 5.0
#: Lines streamed to the log per stream before the stream is only counted.
MAX_LOGGED_LINES = 10_000

_PR_SET_PDEATHSIG = 1

_GUARDIAN = r"""
import os, signal, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)
groups = set()
for line in sys.stdin:
    line = line.strip()
    if line.startswith("-"):
        groups.discard(int(line[1:]))
    elif line:
        groups.add(int(line))
for pgid in groups:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass
"""


def _checksum_matches(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
    """`sha256sum -c` style output: rc 0 and every non-empty line ends with ': OK'."""

    def one(result: Mapping[str, Any]) -> bool:
        lines = [line for line in str(result.get("stdout", "")).splitlines() if line.strip()]
        return (
            result.get("rc") == 0 and bool(lines) and all(line.endswith(": OK") for line in lines)
        )

    if hosts:
        return all(one(result) for result in hosts.values())
    return one(fields)


@dataclass(frozen=True, slots=True)
class ShellSpec:
    """The value under ``shell:`` after rendering."""

    command: str
    #: The command as ``plan`` shows it (values quoted in place), when rendered.
    shown: str = ""
    cwd: str | None = None
    env: Mapping[str, str] | None = None
    stdin: str | None = None
    max_output: int = DEFAULT_MAX_OUTPUT
    kill_grace: float = DEFAULT_KILL_GRACE


class _Capture:
    """Keeps the first ``limit`` bytes of a stream and counts the rest."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.chunks: list[bytes] = []
        self.kept = 0
        self.dropped = 0

    def add(self, data: bytes) -> None:
        room = self.limit - self.kept
        if room > 0:
            self.chunks.append(data[:room])
            self.kept += min(room, len(data))
        self.dropped += max(0, len(data) - max(room, 0))

    def text(self) -> str:
        text = b"".join(self.chunks).decode("utf-8", errors="replace")
        if self.dropped:
            text += f"\n[… output truncated: {self.dropped} more bytes]"
        return text


class _Guardian:
    """One helper process per executor that kills registered process groups when the
    runner disappears (its stdin pipe closes)."""

    def __init__(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None

    def start(self) -> bool:
        """Start the guardian if it is not running; whether one is running."""
        if self._proc is not None and self._proc.poll() is not None:
            self._proc = None  # it died: start another for the commands to come
        if self._proc is None and sys.platform.startswith("linux"):
            try:
                self._proc = subprocess.Popen(
                    [sys.executable, "-S", "-c", _GUARDIAN],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                    start_new_session=True,
                    close_fds=True,
                    bufsize=0,
                )
            except OSError:
                return False
        return self._proc is not None and self._proc.poll() is None

    def _send(self, text: str) -> None:
        proc = self._proc
        if proc is not None and proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, OSError):
                proc.stdin.write(text.encode())

    def watch(self, pgid: int) -> None:
        self._send(f"{pgid}\n")

    def release(self, pgid: int) -> None:
        self._send(f"-{pgid}\n")

    def close(self) -> None:
        if self._proc is not None:
            with contextlib.suppress(OSError):
                if self._proc.stdin is not None:
                    self._proc.stdin.close()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=5)
            self._proc = None


@dataclass(frozen=True, slots=True)
class _DeathSignal:
    """How a command is kept from outliving the runner.

    ``guarded`` commands start with a line that waits for the runner's go (a first
    line on stdin, sent once the guardian knows the process group) and checks that
    the parent is still the runner: nothing of the command runs unguarded. With a
    guardian that is all (no extra cost but the go line). Without one, the shell asks
    Linux for SIGKILL when the runner dies: exec through ``setpriv --pdeathsig KILL``
    (keeps the fast vfork path, ~1 ms more per command) or, without setpriv, a ctypes
    ``prctl`` preexec (forces fork, ~2 ms more per command)."""

    prefix: tuple[str, ...] = ()
    preexec: Callable[[], None] | None = None
    guarded: bool = False

    def command(self, text: str) -> str:
        if not self.guarded:
            return text
        return f'[ "$PPID" = {os.getpid()} ] && read -r _ || exit 137\n{text}'


def _death_signal(guardian: bool) -> _DeathSignal:
    if not sys.platform.startswith("linux"):
        return _DeathSignal()
    if guardian:
        return _DeathSignal(guarded=True)
    setpriv = shutil.which("setpriv")
    if setpriv is not None:
        return _DeathSignal(prefix=(setpriv, "--pdeathsig", "KILL"), guarded=True)
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return _DeathSignal()
    parent = os.getpid()

    def preexec() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        if os.getppid() != parent:  # the runner died between fork and prctl
            os._exit(137)

    return _DeathSignal(preexec=preexec, guarded=True)


def _with_command(spec: ShellSpec, command: ShellCommand) -> ShellSpec:
    """The spec running ``command``: its values join the environment, never the text."""
    env = {**(spec.env or {}), **command.env} if command.values else spec.env
    return replace(spec, command=command.script, shown=command.shown, env=env)


def _parse_spec(raw: Any) -> ShellSpec:
    if isinstance(raw, str):
        return ShellSpec(command=raw)
    if not isinstance(raw, Mapping) or "command" not in raw:
        raise ExecutorError(
            "shell: expects a command string or a mapping with 'command'",
            hint="shell: {command: 'systemctl status app', cwd: /opt/app}",
        )
    env = raw.get("env")
    if env is not None and not isinstance(env, Mapping):
        raise ExecutorError("shell: 'env' must be a mapping of names to values")
    return ShellSpec(
        command=str(raw["command"]),
        cwd=None if raw.get("cwd") is None else str(raw["cwd"]),
        env=None if env is None else {str(k): str(v) for k, v in env.items()},
        stdin=None if raw.get("stdin") is None else str(raw["stdin"]),
        max_output=int(raw.get("max_output", DEFAULT_MAX_OUTPUT)),
        kill_grace=float(raw.get("kill_grace", DEFAULT_KILL_GRACE)),
    )


class ShellExecutor(ExecutorBase):
    """Runs a command with ``/bin/sh -c`` on the runner's machine (or once per
    local-connection host of ``hosts:``)."""

    key: ClassVar[str] = "shell"
    #: It awaits the ``before_start`` option itself, just before the command's go.
    awaits_before_start: ClassVar[bool] = True
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "A shell command run locally with /bin/sh -c.",
        "oneOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "cwd": {"type": "string"},
                    "env": {
                        "type": "object",
                        "additionalProperties": {"type": ["string", "number", "boolean"]},
                    },
                    "stdin": {"type": "string"},
                    "max_output": {"type": "integer", "minimum": 1},
                    "kill_grace": {"type": "number", "minimum": 0},
                },
            },
        ],
    }
    fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        "exit_code": "int",
        "stdout": "str",
        "stderr": "str",
        "duration": "duration",
        "pid": "int",
        "timed_out": "bool",
    }
    host_fields: ClassVar[Mapping[str, str]] = {**fields, "unreachable": "bool"}
    checks: ClassVar[Mapping[str, NamedCheck]] = {
        "checksum matches": NamedCheck(
            phrase="checksum matches",
            words="the checksum verification reports OK for every file",
            test=_checksum_matches,
        )
    }

    def __init__(self) -> None:
        self._guardian = _Guardian()
        self._deaths: dict[bool, _DeathSignal] = {}

    def _death(self) -> _DeathSignal:
        """The guard for the next command: the guardian when it runs, else a
        parent-death signal."""
        guardian = self._guardian.start()
        death = self._deaths.get(guardian)
        if death is None:
            death = self._deaths[guardian] = _death_signal(guardian)
        return death

    def _spec_for(self, call: StepCall, host: Host | None) -> ShellSpec:
        raw = call.spec
        if isinstance(raw, str):
            return _with_command(ShellSpec(command=raw), call.render_command(raw, host))
        spec = _parse_spec(raw)
        rest = {k: v for k, v in raw.items() if k != "command"}
        rendered = call.render(rest, host) if rest else {}
        merged = _parse_spec({"command": spec.command, **rendered})
        return _with_command(merged, call.render_command(spec.command, host))

    def _local_hosts(self, call: StepCall) -> tuple[Host, ...]:
        remote = [h.name for h in call.hosts if h.connection != "local"]
        if remote:
            raise ExecutorError(
                f"step {call.step_id!r}: shell runs on the runner's machine, but hosts "
                f"{', '.join(remote[:5])} are remote",
                hint="use the ssh executor for remote hosts, or ansible_connection=local",
            )
        return call.hosts

    def describe(self, call: StepCall) -> list[str]:
        hosts: tuple[Host | None, ...] = self._local_hosts(call) or (None,)
        lines = []
        for host in hosts:
            spec = self._spec_for(call, host)
            where = f"[{host.name}] " if host is not None else ""
            cwd = f"cd {shlex.quote(str(spec.cwd))} && " if spec.cwd else ""
            lines.append(call.redact(f"{where}{cwd}{spec.shown}"))
        return lines

    async def run(self, call: StepCall) -> Result:
        hosts = self._local_hosts(call)
        if not hosts:
            fields = await self._run_one(call, self._spec_for(call, None), None)
            return _verdict(fields, {})
        forks = int(call.options.get("forks") or call.options.get("max_concurrency") or 10)
        gate = asyncio.Semaphore(max(1, forks))

        async def per_host(host: Host) -> tuple[str, dict[str, Any]]:
            async with gate:
                return host.name, await self._run_one(call, self._spec_for(call, host), host)

        results = dict(await asyncio.gather(*(per_host(h) for h in hosts)))
        worst = max(results.values(), key=lambda f: (f["rc"] != 0, abs(f["rc"])))
        fields = {
            "rc": worst["rc"],
            "exit_code": worst["rc"],
            "stdout": "\n".join(results[h.name]["stdout"] for h in hosts),
            "stderr": "\n".join(results[h.name]["stderr"] for h in hosts),
            "duration": max(f["duration"] for f in results.values()),
            "pid": worst["pid"],
            "timed_out": any(f["timed_out"] for f in results.values()),
        }
        return _verdict(fields, results)

    async def _run_one(self, call: StepCall, spec: ShellSpec, host: Host | None) -> dict[str, Any]:
        env = None
        if spec.env:
            env = {**os.environ, **spec.env}
        cwd = spec.cwd or str(call.workdir)
        host_name = host.name if host is not None else None
        started = time.monotonic()
        death = self._death()
        before_start = _before_start(call)
        if not death.guarded:  # no go line to hold the command back: wait now
            await before_start()
        try:
            proc = await asyncio.create_subprocess_exec(
                *death.prefix,
                "/bin/sh",
                "-c",
                death.command(spec.command),
                stdin=subprocess.PIPE
                if spec.stdin is not None or death.guarded
                else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=env,
                start_new_session=True,
                preexec_fn=death.preexec,
            )
        except OSError as exc:
            return {
                "rc": 127,
                "exit_code": 127,
                "stdout": "",
                "stderr": call.redact(f"could not start: {exc}"),
                "duration": time.monotonic() - started,
                "pid": 0,
                "timed_out": False,
                "unreachable": False,
            }
        self._guardian.watch(proc.pid)
        announce = call.options.get("on_pid")
        if callable(announce):
            announce(proc.pid)
        out, err = _Capture(spec.max_output), _Capture(spec.max_output)
        readers = [
            asyncio.ensure_future(_pump(proc.stdout, out, call.log, host_name, "")),
            asyncio.ensure_future(_pump(proc.stderr, err, call.log, host_name, "stderr: ")),
        ]
        timed_out = False
        try:
            feed: asyncio.Future[None] | None = None
            if proc.stdin is not None:
                go = b"\n" if death.guarded else b""
                feed = asyncio.ensure_future(
                    _feed(
                        proc.stdin,
                        go + (spec.stdin or "").encode(),
                        before_start if death.guarded else None,
                    )
                )
                readers.append(feed)
            try:
                await asyncio.wait_for(asyncio.shield(proc.wait()), call.timeout)
            except TimeoutError:
                timed_out = True
                await _stop_group(proc, spec.kill_grace)
            _, still_open = await asyncio.wait(readers, timeout=max(spec.kill_grace, 1.0))
            for reader in still_open:  # a background child kept the pipe: stop reading
                reader.cancel()
            if still_open:
                err.add(b"\n[stopped reading: a background process kept the output open]")
            failure = (
                feed.exception()
                if feed is not None and feed.done() and not feed.cancelled()
                else None
            )
            if failure is not None:
                raise failure  # the go was never sent: the command did not run
        except asyncio.CancelledError:
            await asyncio.shield(_stop_group(proc, spec.kill_grace))
            for reader in readers:
                reader.cancel()
            raise
        finally:
            self._guardian.release(proc.pid)
        rc = proc.returncode if proc.returncode is not None else -1
        stderr = err.text()
        if timed_out:
            stderr += f"\n[timed out after {call.timeout:g}s; process group killed]"
        return {
            "rc": rc,
            "exit_code": rc,
            "stdout": out.text().rstrip("\n"),
            "stderr": stderr.rstrip("\n"),
            "duration": time.monotonic() - started,
            "pid": proc.pid,
            "timed_out": timed_out,
            "unreachable": False,
        }

    async def close(self) -> None:
        self._guardian.close()


def _verdict(fields: dict[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> Result:
    failed = [name for name, f in hosts.items() if f["rc"] != 0]
    ok = fields["rc"] == 0 and not fields["timed_out"]
    error = None
    if fields["timed_out"]:
        error = "timed out"
    elif not ok:
        error = f"exit code {fields['rc']}"
        if failed:
            error += f" on {', '.join(failed)}"
    return Result(ok=ok, fields=fields, hosts=hosts, error=error, duration=fields["duration"])


async def _pump(
    stream: asyncio.StreamReader | None,
    capture: _Capture,
    log: Callable[[str, str | None], None],
    host: str | None,
    prefix: str,
) -> None:
    """Reads a stream to its end: keeps a bounded copy, logs each complete line."""
    if stream is None:
        return
    pending = b""
    logged = 0
    while True:
        chunk = await stream.read(65536)
        if not chunk:
            break
        capture.add(chunk)
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            logged += 1
            if logged <= MAX_LOGGED_LINES:
                log(prefix + line.decode("utf-8", errors="replace"), host)
            elif logged == MAX_LOGGED_LINES + 1:
                log(prefix + "[… further lines are kept in the result only]", host)
        if len(pending) > capture.limit:
            pending = pending[-capture.limit :]
    if pending and logged < MAX_LOGGED_LINES:
        log(prefix + pending.decode("utf-8", errors="replace"), host)


async def _feed(
    stdin: asyncio.StreamWriter,
    data: bytes,
    before_go: Callable[[], Awaitable[None]] | None,
) -> None:
    """Waits for ``before_go`` (the step's start made durable), writes the go line and
    the step's stdin, then closes it (EOF for the command). If ``before_go`` fails,
    stdin is closed without a go and the guarded command exits 137 untouched."""
    try:
        if before_go is not None:
            await before_go()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            stdin.write(data)
            await stdin.drain()
    finally:
        stdin.close()


async def _nothing() -> None:
    return None


def _before_start(call: StepCall) -> Callable[[], Awaitable[None]]:
    """What the engine wants awaited before the command may act (its ``step_started``
    made durable); nothing when called without an engine."""
    wait = call.options.get("before_start")
    return wait if callable(wait) else _nothing


async def _stop_group(proc: asyncio.subprocess.Process, grace: float) -> None:
    """SIGTERM the command's whole process group, then SIGKILL after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(
                asyncio.shield(proc.wait()), grace if sig == signal.SIGTERM else None
            )
            if sig == signal.SIGTERM:
                # the leader is gone; make sure nothing it left in the group lingers
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(proc.pid, signal.SIGKILL)
            return
        except TimeoutError:
            continue
