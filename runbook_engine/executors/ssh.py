"""The ``ssh`` executor: one command on many hosts over asyncssh.

One connection per host is opened on first use and kept for every later step of the
run (closed in ``close``), so a runbook of twenty steps pays the handshake once per
host. Host keys are verified against known_hosts unless the step says otherwise, and
an opt-out is logged on every step that uses it. A host that cannot be reached is a
result (``unreachable: true``), never an exception, so decisions can act on it. Hosts
with ``ansible_connection=local`` run the command in a local ``bash -c`` instead,
which lets the same runbook drive a demo fleet on one machine. See docs/executors/ssh.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import logging
import os
import shlex
import signal
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, Result, StepCall
from runbook_engine.executors.fanout import ROLLOUT_SCHEMA, Rollout, fan_out
from runbook_engine.shell_values import remote_script

log = logging.getLogger(__name__)

#: Characters of stdout and of stderr kept per host; the rest is counted and marked.
MAX_OUTPUT = 1 << 20
DEFAULT_CONNECT_TIMEOUT = 10.0
KNOWN_HOSTS_MODES = ("verify", "accept-new", "ignore")


@dataclass(frozen=True, slots=True)
class SshSpec:
    command: str
    become: bool = False
    become_user: str = "root"
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT
    known_hosts: str = "verify"  # verify | accept-new | ignore
    known_hosts_file: str | None = None
    key_file: str | None = None


def parse_spec(raw: Any) -> tuple[SshSpec, dict[str, Any]]:
    """The spec and the rollout keys written under ``ssh:``."""
    if isinstance(raw, str):
        return SshSpec(command=raw), {}
    if not isinstance(raw, Mapping) or not isinstance(raw.get("command"), str):
        raise ExecutorError(
            "ssh: expects a command string or a mapping with 'command'",
            hint="ssh: {command: 'cat /opt/app/VERSION', become: true}",
        )
    unknown = set(raw) - set(SshExecutor.schema["oneOf"][1]["properties"])
    if unknown:
        raise ExecutorError(f"ssh: unknown key {sorted(unknown)[0]!r}")
    mode = str(raw.get("known_hosts", "verify"))
    known_file = raw.get("known_hosts_file")
    if mode not in KNOWN_HOSTS_MODES:  # a path: verify against that file
        mode, known_file = "verify", mode
    try:
        connect_timeout = float(raw.get("connect_timeout", DEFAULT_CONNECT_TIMEOUT))
    except (TypeError, ValueError) as exc:
        raise ExecutorError(
            f"ssh: connect_timeout must be seconds, not {raw.get('connect_timeout')!r}"
        ) from exc
    spec = SshSpec(
        command=raw["command"],
        become=bool(raw.get("become", False)),
        become_user=str(raw.get("become_user", "root")),
        connect_timeout=connect_timeout,
        known_hosts=mode,
        known_hosts_file=None if known_file is None else str(known_file),
        key_file=None if raw.get("key_file") is None else str(raw["key_file"]),
    )
    return spec, {k: v for k, v in raw.items() if k in ROLLOUT_SCHEMA}


class _Output:
    """Keeps the first ``MAX_OUTPUT`` characters of a stream and counts the rest."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.kept = 0
        self.dropped = 0

    def add(self, text: str) -> None:
        room = MAX_OUTPUT - self.kept
        if room > 0:
            self.parts.append(text[:room])
            self.kept += min(room, len(text))
        self.dropped += max(0, len(text) - max(room, 0))

    def text(self) -> str:
        text = "".join(self.parts).rstrip("\n")
        if self.dropped:
            text += f"\n[… output truncated: {self.dropped} more characters]"
        return text


class SshExecutor(ExecutorBase):
    """Runs a shell command on every host of the step over SSH (or locally for
    ``connection: local`` hosts), with bounded fan-out and rolling batches."""

    key: ClassVar[str] = "ssh"
    schema: ClassVar[Mapping[str, Any]] = {
        "description": "A command run on each host of the step over SSH (asyncssh).",
        "oneOf": [
            {"type": "string", "minLength": 1},
            {
                "type": "object",
                "required": ["command"],
                "additionalProperties": False,
                "properties": {
                    "command": {"type": "string", "minLength": 1},
                    "become": {"type": "boolean"},
                    "become_user": {"type": "string", "minLength": 1},
                    "connect_timeout": {"type": "number", "exclusiveMinimum": 0},
                    "known_hosts": {
                        "description": "verify (default), accept-new, ignore, or a known_hosts file to verify against",
                        "type": "string",
                        "minLength": 1,
                    },
                    "known_hosts_file": {"type": "string", "minLength": 1},
                    "key_file": {"type": "string", "minLength": 1},
                    **ROLLOUT_SCHEMA,
                },
            },
        ],
    }
    fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        "ok": "int",
        "failed": "int",
        "unreachable": "int",
        "skipped": "int",
        "stdout": "str",
        "stderr": "str",
        "duration": "duration",
        "stopped": "str",
    }
    host_fields: ClassVar[Mapping[str, str]] = {
        "rc": "int",
        "stdout": "str",
        "stderr": "str",
        "duration": "duration",
        "unreachable": "bool",
        "failed": "int",
        "skipped": "bool",
        "timed_out": "bool",
        "error": "str",
    }

    def __init__(self) -> None:
        self._connections: dict[tuple[Any, ...], Any] = {}
        self._locks: dict[tuple[Any, ...], asyncio.Lock] = {}
        self._known_hosts_lock = asyncio.Lock()

    # ------------------------------------------------------------------ protocol

    def describe(self, call: StepCall) -> list[str]:
        spec, _ = parse_spec(call.spec)
        lines = []
        for host in call.hosts:
            command = self._command(spec, call.render_command(spec.command, host).shown, host)
            if host.connection == "local":
                lines.append(f"[{host.name}] local: {command}")
            else:
                port = f":{host.port}" if host.port else ""
                user = f"{host.user}@" if host.user else ""
                lines.append(f"[{host.name}] ssh {user}{host.target}{port} -- {command}")
        return lines

    async def run(self, call: StepCall) -> Result:
        spec, spec_rollout = parse_spec(call.spec)
        if not call.hosts:
            raise ExecutorError(
                f"step {call.step_id!r}: ssh needs hosts to run on",
                hint="add hosts: all (or a group or host pattern) to the step",
            )
        rollout = Rollout.from_options(call.options, spec_rollout)
        if spec.known_hosts == "ignore":
            warning = (
                f"WARNING: step {call.step_id}: ssh host key verification is OFF "
                "(known_hosts: ignore) — a man in the middle would go unnoticed"
            )
            log.warning(warning)
            call.log(warning, None)
        started = time.monotonic()

        async def one(host: Host) -> dict[str, Any]:
            # The values travel on stdin, never on the (remote) command line.
            script, values = remote_script(call.render_command(spec.command, host))
            command = self._command(spec, script, host)
            if host.connection == "local":
                return await _run_local(call, host, command, values)
            return await self._run_remote(call, spec, host, command, values)

        outcome = await fan_out(call.hosts, rollout, one, _not_run)
        return _aggregate(call, outcome.hosts, outcome.stopped, time.monotonic() - started)

    async def close(self) -> None:
        connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()
        for conn in connections:
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    # ------------------------------------------------------------------ commands

    @staticmethod
    def _command(spec: SshSpec, command: str, host: Host) -> str:
        """Wrap in sudo when ``become`` asks for a user other than the login user."""
        if not spec.become:
            return command
        login = (
            host.user
            or (getpass.getuser() if host.connection == "local" else None)
            or getpass.getuser()
        )
        if login == spec.become_user:
            return command
        return (
            f"sudo -n -H -u {shlex.quote(spec.become_user)} -- /bin/bash -c {shlex.quote(command)}"
        )

    async def _run_remote(
        self, call: StepCall, spec: SshSpec, host: Host, command: str, values: str
    ) -> dict[str, Any]:
        import asyncssh

        started = time.monotonic()
        for attempt in (1, 2):
            try:
                conn = await self._connection(call, spec, host)
            except (TimeoutError, OSError, asyncssh.Error, ExecutorError) as exc:
                return _unreachable(host, _why(exc, spec), started)
            try:
                process = await conn.create_process(command, encoding="utf-8", errors="replace")
            except (
                asyncssh.ChannelOpenError,
                asyncssh.ConnectionLost,
                BrokenPipeError,
                ConnectionError,
            ) as exc:
                self._forget(host, spec)
                if attempt == 2:
                    return _unreachable(host, f"connection lost: {exc}", started)
                continue
            return await _finish(call, host, process, conn, started, values)
        raise AssertionError("unreachable")  # pragma: no cover - the loop always returns

    def _key(self, spec: SshSpec, host: Host) -> tuple[Any, ...]:
        return (
            host.target,
            host.port or 22,
            host.user,
            _key_file(spec, host),
            spec.known_hosts,
            _known_hosts_file(spec, host),
        )

    def _forget(self, host: Host, spec: SshSpec) -> None:
        conn = self._connections.pop(self._key(spec, host), None)
        if conn is not None:
            conn.close()

    async def _connection(self, call: StepCall, spec: SshSpec, host: Host) -> Any:
        key = self._key(spec, host)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._connections.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await self._connect(call, spec, host)
            self._connections[key] = conn
            return conn

    async def _connect(self, call: StepCall, spec: SshSpec, host: Host) -> Any:
        import asyncssh

        port = host.port or 22
        options: dict[str, Any] = {
            "port": port,
            "connect_timeout": spec.connect_timeout,
            "keepalive_interval": 30,
        }
        if host.user:
            options["username"] = host.user
        key_file = _key_file(spec, host)
        if key_file:
            options["client_keys"] = [os.path.expanduser(key_file)]
        known = Path(os.path.expanduser(_known_hosts_file(spec, host) or "~/.ssh/known_hosts"))
        if spec.known_hosts == "ignore":
            options["known_hosts"] = None
        elif spec.known_hosts == "verify":
            if not known.exists():
                raise ExecutorError(
                    f"cannot verify the host key of {host.target}: {known} does not exist",
                    hint="add the host to known_hosts (ssh-keyscan), or set known_hosts: accept-new",
                )
            options["known_hosts"] = str(known)
        else:
            return await self._connect_accept_new(call, host, known, options)
        return await asyncssh.connect(host.target, **options)

    async def _connect_accept_new(
        self, call: StepCall, host: Host, known: Path, options: dict[str, Any]
    ) -> Any:
        """OpenSSH's ``accept-new``: trust and record a host seen for the first time,
        but refuse a host whose recorded key changed."""
        import asyncssh

        port = options["port"]
        if known.exists():
            entries = asyncssh.read_known_hosts(str(known))
            trusted = entries.match(host.target, "", port)
            if trusted[0] or trusted[1]:
                return await asyncssh.connect(host.target, **{**options, "known_hosts": str(known)})
        conn = await asyncssh.connect(host.target, **{**options, "known_hosts": None})
        server_key = conn.get_server_host_key()
        if server_key is not None:
            name = host.target if port == 22 else f"[{host.target}]:{port}"
            line = f"{name} {server_key.export_public_key().decode().strip()}\n"
            async with self._known_hosts_lock:
                known.parent.mkdir(parents=True, exist_ok=True)
                with known.open("a") as handle:
                    handle.write(line)
            call.log(f"accepted new host key for {name} into {known}", host.name)
        return conn


def _key_file(spec: SshSpec, host: Host) -> str | None:
    return (
        spec.key_file
        or host.vars.get("ansible_ssh_private_key_file")
        or host.vars.get("ansible_private_key_file")
    )


def _known_hosts_file(spec: SshSpec, host: Host) -> str | None:
    """The step's known_hosts file, else the ``UserKnownHostsFile`` an Ansible inventory
    gives in ``ansible_ssh_common_args``/``ansible_ssh_extra_args`` — so an inventory
    that works for ansible-playbook verifies host keys the same way here."""
    if spec.known_hosts_file:
        return spec.known_hosts_file
    for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        raw = host.vars.get(name)
        if not isinstance(raw, str):
            continue
        try:
            words = shlex.split(raw)
        except ValueError:
            continue
        for i, word in enumerate(words):
            option = word[2:] if word.startswith("-o") and len(word) > 2 else None
            if word == "-o" and i + 1 < len(words):
                option = words[i + 1]
            if option and option.lower().startswith("userknownhostsfile="):
                return option.split("=", 1)[1].split()[0]
    return None


def _why(exc: BaseException, spec: SshSpec) -> str:
    import asyncssh

    if isinstance(exc, TimeoutError):
        return f"connect timed out after {spec.connect_timeout:g}s"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return f"host key not trusted ({exc}); check known_hosts"
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"authentication failed ({exc})"
    if isinstance(exc, ExecutorError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()


async def _finish(
    call: StepCall, host: Host, process: Any, conn: Any, started: float, values: str
) -> dict[str, Any]:
    """Stream both outputs line by line, honour the step timeout, collect the rc."""
    import asyncssh

    out, err = _Output(), _Output()

    async def pump(stream: Any, sink: _Output) -> None:
        async for line in stream:
            sink.add(line)
            call.log(line.rstrip("\n"), host.name)

    if values:
        process.stdin.write(values)
    process.stdin.write_eof()
    timed_out = False
    try:
        async with asyncio.timeout(call.timeout):
            await asyncio.gather(pump(process.stdout, out), pump(process.stderr, err))
            await process.wait_closed()
    except TimeoutError:
        timed_out = True
        with contextlib.suppress(Exception):
            process.send_signal("KILL")
        process.close()
    except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
        process.close()
        lost = _unreachable(host, f"connection lost while the command ran ({exc})", started)
        return {**lost, "stdout": out.text(), "stderr": err.text()}
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            process.send_signal("KILL")
        process.close()
        raise
    fields = {
        "rc": None,
        "stdout": out.text(),
        "stderr": err.text(),
        "duration": time.monotonic() - started,
        "unreachable": False,
        "failed": 1,
        "skipped": False,
        "timed_out": timed_out,
        "error": None,
    }
    if timed_out:
        fields["error"] = f"command timed out after {call.timeout:g}s"
        return fields
    if process.exit_status is not None and process.exit_status >= 0:
        fields["rc"] = process.exit_status
    elif process.exit_signal:
        fields["rc"] = 128 + (getattr(signal, f"SIG{process.exit_signal[0]}", 0) or 0)
        fields["error"] = f"killed by signal {process.exit_signal[0]}"
    elif conn.is_closed():
        fields.update(unreachable=True, error="connection lost while the command ran")
        return fields
    else:
        fields["error"] = "the command ended without an exit status"
    fields["failed"] = int(fields["rc"] != 0)
    return fields


async def _run_local(call: StepCall, host: Host, command: str, values: str) -> dict[str, Any]:
    """``connection: local``: the same command in ``bash -c`` on this machine, in its
    own process group so a timeout kills everything it started."""
    started = time.monotonic()
    out, err = _Output(), _Output()
    try:
        proc = await asyncio.create_subprocess_exec(
            "/bin/bash",
            "-c",
            command,
            stdin=asyncio.subprocess.PIPE if values else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=str(call.workdir),
            start_new_session=True,
        )
    except OSError as exc:
        return _unreachable(host, f"cannot start bash: {exc}", started)

    async def pump(stream: asyncio.StreamReader, sink: _Output) -> None:
        while line := await stream.readline():
            text = line.decode("utf-8", errors="replace")
            sink.add(text)
            call.log(text.rstrip("\n"), host.name)

    async def feed() -> None:
        if proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                proc.stdin.write(values.encode())
                await proc.stdin.drain()
            proc.stdin.close()

    timed_out = False
    try:
        async with asyncio.timeout(call.timeout):
            assert proc.stdout is not None and proc.stderr is not None
            await asyncio.gather(feed(), pump(proc.stdout, out), pump(proc.stderr, err))
            await proc.wait()
    except TimeoutError:
        timed_out = True
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()
    code = proc.returncode
    rc = None if timed_out or code is None else (code if code >= 0 else 128 - code)
    return {
        "rc": rc,
        "stdout": out.text(),
        "stderr": err.text(),
        "duration": time.monotonic() - started,
        "unreachable": False,
        "failed": int(rc != 0),
        "skipped": False,
        "timed_out": timed_out,
        "error": f"command timed out after {call.timeout:g}s" if timed_out else None,
    }


def _unreachable(host: Host, why: str, started: float) -> dict[str, Any]:
    return {
        "rc": None,
        "stdout": "",
        "stderr": "",
        "duration": time.monotonic() - started,
        "unreachable": True,
        "failed": 1,
        "skipped": False,
        "timed_out": False,
        "error": f"unreachable: {why}",
    }


def _not_run(host: Host, why: str) -> dict[str, Any]:
    return {
        "rc": None,
        "stdout": "",
        "stderr": "",
        "duration": 0.0,
        "unreachable": False,
        "failed": 0,
        "skipped": True,
        "timed_out": False,
        "error": f"not run: {why}",
    }


def _aggregate(
    call: StepCall, hosts: dict[str, dict[str, Any]], stopped: str | None, duration: float
) -> Result:
    ran = [f for f in hosts.values() if not f["skipped"]]
    rcs = [f["rc"] for f in ran if f["rc"] is not None]
    single = len(hosts) == 1
    fields = {
        "rc": max(rcs) if rcs else None,
        "ok": sum(1 for f in ran if f["rc"] == 0 and not f["unreachable"]),
        "failed": sum(1 for f in ran if f["failed"]),
        "unreachable": sum(1 for f in ran if f["unreachable"]),
        "skipped": len(hosts) - len(ran),
        "stdout": "\n".join(f["stdout"] for f in hosts.values() if f["stdout"])
        if not single
        else ran[0]["stdout"]
        if ran
        else "",
        "stderr": "\n".join(f["stderr"] for f in hosts.values() if f["stderr"])
        if not single
        else ran[0]["stderr"]
        if ran
        else "",
        "duration": duration,
        "stopped": stopped,
    }
    ok = fields["ok"] == len(hosts)
    error = None
    if not ok:
        bad = [
            f"{name} ({f['error'] or 'rc=' + str(f['rc'])})"
            for name, f in hosts.items()
            if f["failed"]
        ]
        parts = [
            f"{fields['failed']} of {len(hosts)} hosts failed"
            + (": " + ", ".join(bad[:5]) if bad else "")
        ]
        if stopped:
            parts.append(f"rollout stopped: {stopped}")
        error = call.redact("; ".join(parts))
    return Result(ok=ok, fields=fields, hosts=hosts, error=error, duration=duration)
