"""The ``shell`` executor: a local command with ``/bin/sh -c``, once, or once per
local-connection host under the step's rollout keys.

Starting, guarding (the tree dies with the runner, even a SIGKILLed one), bounding the
output and stopping the command are the process supervisor's (`executors.process`),
shared with every executor that starts a process. See docs/executors/shell.md.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, ClassVar

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.base import ExecutorBase, Host, NamedCheck, Result, StepCall
from runbook_engine.executors.fanout import ROLLOUT_KEYS, Rollout, fan_out
from runbook_engine.executors.process import (
    DEFAULT_KILL_GRACE,
    DEFAULT_MAX_OUTPUT,
    MAX_LOGGED_LINES,
    Command,
    LineLog,
    ProcessSupervisor,
)
from runbook_engine.executors.wait import DURATION_SCHEMA, to_seconds
from runbook_engine.shell_values import ShellCommand
from runbook_engine.vocabulary import host_failed

__all__ = ["DEFAULT_KILL_GRACE", "DEFAULT_MAX_OUTPUT", "MAX_LOGGED_LINES", "ShellExecutor", "ShellSpec"]

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
        kill_grace=to_seconds(raw.get("kill_grace", DEFAULT_KILL_GRACE), "shell kill_grace"),
    )


class ShellExecutor(ExecutorBase):
    """Runs a command with ``/bin/sh -c`` on the runner's machine (or once per
    local-connection host of ``hosts:``)."""

    key: ClassVar[str] = "shell"
    rollout_keys: ClassVar[frozenset[str]] = ROLLOUT_KEYS
    #: The process supervisor awaits ``before_start`` just before the command's go.
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
                    "kill_grace": {**DURATION_SCHEMA, "description": "SIGTERM → SIGKILL delay (default 5s)."},
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
        "stopped": "str",
    }
    host_fields: ClassVar[Mapping[str, str]] = {
        **{k: v for k, v in fields.items() if k != "stopped"},
        "unreachable": "bool",
        "skipped": "bool",
    }
    checks: ClassVar[Mapping[str, NamedCheck]] = {
        "checksum matches": NamedCheck(
            phrase="checksum matches",
            words="the checksum verification reports OK for every file",
            test=_checksum_matches,
        )
    }

    def __init__(self) -> None:
        self._processes = ProcessSupervisor()

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
            return _verdict(fields, {}, None)
        rollout = Rollout.from_options(call.options)
        outcome = await fan_out(
            hosts, rollout, lambda host: self._run_one(call, self._spec_for(call, host), host), _not_run
        )
        results = outcome.hosts
        ran = [f for f in results.values() if not f["skipped"]]
        worst = max(ran, key=lambda f: (host_failed(f), abs(f["rc"] or 0)))
        fields = {
            "rc": worst["rc"],
            "exit_code": worst["rc"],
            "stdout": "\n".join(results[h.name]["stdout"] for h in hosts if not results[h.name]["skipped"]),
            "stderr": "\n".join(results[h.name]["stderr"] for h in hosts if not results[h.name]["skipped"]),
            "duration": max(f["duration"] for f in ran),
            "pid": worst["pid"],
            "timed_out": any(f["timed_out"] for f in ran),
            "stopped": outcome.stopped,
        }
        return _verdict(fields, results, outcome.stopped)

    async def _run_one(self, call: StepCall, spec: ShellSpec, host: Host | None) -> dict[str, Any]:
        finished = await self._processes.run(
            Command(
                argv=("/bin/sh", "-c", spec.command),
                cwd=spec.cwd or str(call.workdir),
                env=dict(spec.env or {}),
                stdin=None if spec.stdin is None else spec.stdin.encode(),
                timeout=call.timeout,
                max_output=spec.max_output,
                kill_grace=spec.kill_grace,
            ),
            on_pid=call.services.on_pid,
            before_start=call.services.before_start,
            on_line=LineLog(call.log, host.name if host is not None else None),
        )
        rc = 127 if finished.start_error else finished.rc
        return {
            "rc": -1 if rc is None and not finished.timed_out else rc,
            "exit_code": -1 if rc is None and not finished.timed_out else rc,
            "stdout": finished.stdout,
            "stderr": call.redact(finished.stderr),
            "duration": finished.duration,
            "pid": finished.pid,
            "timed_out": finished.timed_out,
            "unreachable": False,
            "skipped": False,
        }

    async def close(self) -> None:
        self._processes.close()


def _not_run(host: Host, why: str) -> dict[str, Any]:
    return {
        "rc": None,
        "exit_code": None,
        "stdout": "",
        "stderr": f"not run: {why}",
        "duration": 0.0,
        "pid": 0,
        "timed_out": False,
        "unreachable": False,
        "skipped": True,
    }


def _verdict(
    fields: dict[str, Any], hosts: Mapping[str, Mapping[str, Any]], stopped: str | None
) -> Result:
    failed = [name for name, f in hosts.items() if host_failed(f)]
    ok = fields["rc"] == 0 and not fields["timed_out"] and not failed and stopped is None
    error = None
    if fields["timed_out"]:
        error = "timed out"
    elif not ok:
        error = f"exit code {fields['rc']}"
        if failed:
            error += f" on {', '.join(failed)}"
        if stopped:
            error += f"; rollout stopped: {stopped}"
    return Result(
        ok=ok,
        fields=fields,
        hosts=hosts,
        error=error,
        duration=fields["duration"],
        state="timed_out" if fields["timed_out"] else "done",
    )
