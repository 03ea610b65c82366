"""The ``ssh`` executor: one command on many hosts over asyncssh.

One connection per host is opened on first use and kept for every later step of the
run (closed in ``close``), so a runbook of twenty steps pays the handshake once per
host. Host keys are verified against known_hosts unless the step says otherwise, and
an opt-out is logged on every step that uses it. A host that cannot be reached is a
result (``unreachable: true``), never an exception, so decisions can act on it. Hosts
with ``ansible_connection=local`` run the command in a local ``bash -c`` instead,
which lets the same runbook drive a demo fleet on one machine — started by the process
supervisor (`executors.process`) like every local command.

A remote command runs under a small POSIX-sh wrapper (`REMOTE_WRAPPER`) that puts it in
its own session and kills that process group when the channel's stdin closes: when the
step times out (the executor closes stdin), and when the runner dies or the connection
drops (sshd closes the session's pipes). The step timeout bounds connecting too. Output
is bounded exactly like a local command's. See docs/executors/ssh.md.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, Result, StepCall
from runbook_engine.executors.fanout import ROLLOUT_KEYS, ROLLOUT_SCHEMA, Rollout, fan_out
from runbook_engine.executors.process import (
    DEFAULT_MAX_OUTPUT,
    MAX_LINE,
    OUTPUT_DRAIN,
    Command,
    LineLog,
    LineSplitter,
    OutputCapture,
    ProcessSupervisor,
)
from runbook_engine.shell_values import ShellCommand, remote_script

if TYPE_CHECKING:
    import asyncio


DEFAULT_CONNECT_TIMEOUT = 10.0
KNOWN_HOSTS_MODES = ("verify", "accept-new", "ignore")
#: Seconds between SIGTERM and SIGKILL of a remote command's process group.
REMOTE_KILL_GRACE = 2

#: Runs ``$1`` with bash (else sh) in its own session on the remote host and kills that
#: process group (SIGTERM, SIGKILL after `REMOTE_KILL_GRACE`) as soon as the channel's
#: stdin reaches end-of-file: the executor closes it on timeout, sshd closes it when the
#: connection ends — a runner killed mid-command included. The watcher reads a copy of
#: stdin (fd 3); the command itself gets /dev/null.
REMOTE_WRAPPER = (
    "exec 3<&0; if [ -x /bin/bash ]; then s=/bin/bash; else s=/bin/sh; fi; "
    'if command -v setsid >/dev/null 2>&1; then setsid "$s" -c "$1" </dev/null & '
    'else "$s" -c "$1" </dev/null & fi; c=$!; '
    "{ while read -r _; do :; done; "
    'kill -s TERM -- "-$c" 2>/dev/null || kill -s TERM "$c" 2>/dev/null; '
    f'(sleep {REMOTE_KILL_GRACE}; kill -s KILL -- "-$c" 2>/dev/null) & }} <&3 >/dev/null 2>&1 & '
    'w=$!; exec 3<&-; wait "$c"; rc=$?; kill "$w" 2>/dev/null; exit "$rc"'
)


def remote_command(command: ShellCommand, sudo: str | None = None) -> tuple[str, str]:
    """(command line sent to sshd, stdin to send first): `REMOTE_WRAPPER` around the
    command's script (inside ``sudo`` when ``become`` asks for another user, so the
    wrapper may kill it). The command's values are read from stdin by the wrapper
    before it starts the command (`shell_values.remote_script`), so they are never on
    a command line; what follows on stdin only keeps the watcher waiting."""
    prelude, values = remote_script(replace(command, script=""))
    wrapper = prelude + REMOTE_WRAPPER
    wrapped = f"/bin/sh -c {shlex.quote(wrapper)} runbook-step {shlex.quote(command.script)}"
    if sudo is None:
        return wrapped, values
    return f"sudo -n -H -u {shlex.quote(sudo)} -- {wrapped}", values


@dataclass(frozen=True, slots=True)
class SshSpec:
    """An ``ssh:`` step: the command and how to reach and trust each host."""

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


class SshExecutor(ExecutorBase):
    """Runs a shell command on every host of the step over SSH (or locally for
    ``connection: local`` hosts), with bounded fan-out and rolling batches."""

    key: ClassVar[str] = "ssh"
    rollout_keys: ClassVar[frozenset[str]] = ROLLOUT_KEYS
    #: Local commands await it in the supervisor, remote ones just before they start.
    awaits_before_start: ClassVar[bool] = True
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
        import asyncio

        self._processes = ProcessSupervisor()
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
            import logging  # here, not at import: lint reads this module for its schema only

            logging.getLogger(__name__).warning(warning)
            call.log(warning, None)
        started = time.monotonic()

        async def one(host: Host) -> dict[str, Any]:
            command = call.render_command(spec.command, host)
            if host.connection == "local":
                return await self._run_local(call, spec, host, command)
            return await self._run_remote(call, spec, host, command)

        outcome = await fan_out(call.hosts, rollout, one, _not_run)
        return _aggregate(call, outcome.hosts, outcome.stopped, time.monotonic() - started)

    async def close(self) -> None:
        self._processes.close()
        connections, self._connections = list(self._connections.values()), {}
        for conn in connections:
            conn.close()
        for conn in connections:
            with contextlib.suppress(Exception):
                await conn.wait_closed()

    # ------------------------------------------------------------------ commands

    @staticmethod
    def _sudo_user(spec: SshSpec, host: Host) -> str | None:
        """The user to ``sudo`` to: ``become_user`` when ``become`` asks for a user
        other than the login user, else None."""
        if not spec.become:
            return None
        import getpass

        login = host.user or getpass.getuser()
        return None if login == spec.become_user else spec.become_user

    @classmethod
    def _command(cls, spec: SshSpec, command: str, host: Host) -> str:
        """The command as the host runs it: in sudo when ``become`` asks."""
        sudo = cls._sudo_user(spec, host)
        if sudo is None:
            return command
        return f"sudo -n -H -u {shlex.quote(sudo)} -- /bin/bash -c {shlex.quote(command)}"

    async def _run_local(
        self, call: StepCall, spec: SshSpec, host: Host, command: ShellCommand
    ) -> dict[str, Any]:
        """``connection: local``: the same command in ``bash -c`` on this machine,
        through the process supervisor (own group, guarded, bounded, pid journaled).
        Its values are in its environment, or on stdin through ``sudo``."""
        env, stdin, script = command.env, None, command.script
        if self._sudo_user(spec, host) is not None:  # sudo drops the environment
            script, values = remote_script(command)
            env, stdin = {}, values.encode() if values else None
        finished = await self._processes.run(
            Command(
                argv=("/bin/bash", "-c", self._command(spec, script, host)),
                cwd=str(call.workdir),
                env=env,
                stdin=stdin,
                timeout=call.timeout,
            ),
            on_pid=call.services.on_pid,
            before_start=call.services.before_start,
            on_line=LineLog(call.log, host.name),
        )
        if finished.start_error:
            return _unreachable(host, finished.start_error, time.monotonic() - finished.duration)
        rc = finished.rc
        return {
            "rc": rc,
            "stdout": finished.stdout,
            "stderr": finished.stderr,
            "duration": finished.duration,
            "unreachable": False,
            "failed": int(rc != 0),
            "skipped": False,
            "timed_out": finished.timed_out,
            "error": f"command timed out after {call.timeout:g}s" if finished.timed_out else None,
        }

    async def _run_remote(
        self, call: StepCall, spec: SshSpec, host: Host, command: ShellCommand
    ) -> dict[str, Any]:
        import asyncio

        import asyncssh

        started = time.monotonic()
        deadline = None if call.timeout is None else started + call.timeout
        line, values = remote_command(command, self._sudo_user(spec, host))
        for attempt in (1, 2):
            connect_timeout = spec.connect_timeout
            if deadline is not None:
                connect_timeout = max(0.001, min(connect_timeout, deadline - time.monotonic()))
            try:
                async with asyncio.timeout(connect_timeout):
                    conn = await self.connection(call, spec, host, connect_timeout)
            except (TimeoutError, OSError, asyncssh.Error, ExecutorError) as exc:
                return _unreachable(host, _why(exc, connect_timeout), started)
            await call.services.before_start()
            try:
                process = await conn.create_process(line, encoding=None)
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
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            return await _finish(call, host, process, conn, started, left, values)
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

    async def connection(
        self, call: StepCall, spec: SshSpec, host: Host, connect_timeout: float | None = None
    ) -> Any:
        """The kept connection to ``host``, opened within ``connect_timeout`` (default:
        the spec's) on first use. Public because the copy executor opens its SFTP
        sessions on the same connections (one host key check, one login per host)."""
        import asyncio
        key = self._key(spec, host)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            conn = self._connections.get(key)
            if conn is not None and not conn.is_closed():
                return conn
            conn = await self._connect(call, spec, host, connect_timeout or spec.connect_timeout)
            self._connections[key] = conn
            return conn

    async def _connect(
        self, call: StepCall, spec: SshSpec, host: Host, connect_timeout: float
    ) -> Any:
        import asyncssh

        port = host.port or 22
        options: dict[str, Any] = {
            "port": port,
            "connect_timeout": connect_timeout,
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


def _why(exc: BaseException, connect_timeout: float) -> str:
    import asyncssh

    if isinstance(exc, TimeoutError):
        return f"connect timed out after {connect_timeout:.3g}s"
    if isinstance(exc, asyncssh.HostKeyNotVerifiable):
        return f"host key not trusted ({exc}); check known_hosts"
    if isinstance(exc, asyncssh.PermissionDenied):
        return f"authentication failed ({exc})"
    if isinstance(exc, ExecutorError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}".strip()


async def _finish(
    call: StepCall,
    host: Host,
    process: Any,
    conn: Any,
    started: float,
    timeout: float | None,
    values: str,
) -> dict[str, Any]:
    """Read both outputs (bounded, line by line to the log) until the command's exit
    status arrives; honour the step timeout; collect the rc."""
    import asyncio

    import asyncssh

    out, err = OutputCapture(DEFAULT_MAX_OUTPUT), OutputCapture(DEFAULT_MAX_OUTPUT)
    log = LineLog(call.log, host.name)
    readers = [
        asyncio.ensure_future(_pump_remote(process.stdout, "stdout", out, log)),
        asyncio.ensure_future(_pump_remote(process.stderr, "stderr", err, log)),
    ]
    if values:  # the values' environment, read by the wrapper's prelude
        process.stdin.write(values.encode())
    timed_out = False
    try:
        try:
            async with asyncio.timeout(timeout):
                await _exit_status(process)
        except TimeoutError:
            timed_out = True
            _stop_remote(process)  # end-of-file on stdin: the wrapper kills the group
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(REMOTE_KILL_GRACE + 1):
                    await _exit_status(process)
        _, still_open = await asyncio.wait(readers, timeout=OUTPUT_DRAIN)
        for reader in still_open:  # a background child kept the channel open
            reader.cancel()
        if still_open:
            err.add(b"\n[stopped reading: a background process kept the output open]")
        failures = [r.exception() for r in readers if r.done() and not r.cancelled()]
        for failure in failures:
            if failure is not None:
                raise failure
    except (asyncssh.Error, OSError, asyncio.IncompleteReadError) as exc:
        _discard(readers)
        process.close()
        lost = _unreachable(host, f"connection lost while the command ran ({exc})", started)
        return {**lost, "stdout": _text(out), "stderr": _text(err)}
    except asyncio.CancelledError:
        _stop_remote(process)
        process.close()
        _discard(readers)
        raise
    process.close()
    fields = {
        "rc": None,
        "stdout": _text(out),
        "stderr": _text(err),
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


def _discard(readers: Sequence[asyncio.Future[None]]) -> None:
    """Stop the readers and consume their errors (the caller reports the loss)."""
    for reader in readers:
        if reader.done():
            if not reader.cancelled():
                reader.exception()
        else:
            reader.cancel()


def _text(capture: OutputCapture) -> str:
    return capture.text().rstrip("\n")


def _stop_remote(process: Any) -> None:
    """End-of-file on the command's stdin: the remote wrapper then kills its group."""
    with contextlib.suppress(Exception):
        process.stdin.write_eof()


async def _exit_status(process: Any) -> None:
    """Until the exit status (or signal) arrives or the channel closes — not until
    the output ends, which a background child may hold open."""
    import asyncio
    closed = asyncio.ensure_future(process.wait_closed())
    try:
        while process.exit_status is None and process.exit_signal is None and not closed.done():
            await asyncio.wait([closed], timeout=0.05)
    finally:
        closed.cancel()


async def _pump_remote(
    stream: Any, name: str, capture: OutputCapture, log: Callable[[str, str], None]
) -> None:
    """Reads one remote stream in chunks: a bounded copy, and lines to the log."""
    splitter = LineSplitter(MAX_LINE)
    while chunk := await stream.read(1 << 16):
        capture.add(chunk)
        for line in splitter.feed(chunk):
            log(name, line)
    for line in splitter.end():
        log(name, line)


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
