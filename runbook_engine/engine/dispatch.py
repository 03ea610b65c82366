"""From a `Step` to its executor: builds the `StepCall` (rendering per host, streaming
redacted output, the options executors may use) and turns anything an executor raises
into a failed `Result`, so one broken plugin cannot take the run down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from runbook_engine.engine.context import RunContext
from runbook_engine.errors import RunbookError
from runbook_engine.executors.base import Host, Result, StepCall
from runbook_engine.executors.registry import executor_class
from runbook_engine.model import COMMON_STEP_KEYS, Step
from runbook_engine.redaction import MASK
from runbook_engine.shell_values import ShellCommand
from runbook_engine.templating import has_template

#: Extra seconds the engine gives an executor past the step's timeout to stop its
#: own work (the shell executor kills its process group) before it cancels it.
TIMEOUT_GRACE = 10.0


class Dispatch:
    """One executor instance per step key for the whole run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._instances: dict[str, Any] = {}

    def executor(self, key: str) -> Any:
        if key not in self._instances:
            factory = self.ctx.executor_factory
            self._instances[key] = factory(key) if factory else executor_class(key)()
        return self._instances[key]

    async def close(self) -> None:
        for instance in self._instances.values():
            await instance.close()

    def call(
        self,
        step: Step,
        hosts: tuple[Host, ...],
        extra_options: Mapping[str, Any] | None = None,
    ) -> StepCall:
        ctx = self.ctx
        secret = step.secret_output

        def render(value: Any, host: Host | None = None) -> Any:
            if isinstance(value, str) and not has_template(value):
                return value
            return ctx.renderer.render(value, ctx.template_extra(host))

        def render_command(text: str, host: Host | None = None) -> ShellCommand:
            return ctx.renderer.render_command(text, ctx.template_extra(host))

        def log(line: str, host: str | None = None) -> None:
            ctx.emit(
                "step_output", journal=True, step=step.id, host=host, line=MASK if secret else line
            )

        options: dict[str, Any] = {
            **step.options,
            "inventory_path": ctx.inventory_path,
            "channels": ctx.channels,
            "run_id": ctx.run_id,
            "initiator": ctx.initiator,
            "workdir": str(ctx.workdir),
            "on_pid": lambda pid: ctx.emit(
                "step_pid", step=step.id, pid=pid, proc_start=_proc_start(pid)
            ),
            **(extra_options or {}),
        }
        return StepCall(
            step_id=step.id,
            spec=step.spec,
            hosts=hosts,
            timeout=step.timeout,
            workdir=ctx.workdir,
            options=options,
            render=render,
            render_command=render_command,
            log=log,
            redact=ctx.redactor,
        )

    async def execute(self, step: Step, call: StepCall, *, start_durable: bool = False) -> Result:
        """Run the step's executor; a failure to even start is a failed result.

        ``start_durable``: the step's ``step_started`` must be on disk before its work
        begins. An executor that declares ``awaits_before_start`` does that itself
        (awaiting the ``before_start`` option at the last moment, so the fsync overlaps
        its own start-up); for any other the engine waits here."""
        started = time.monotonic()
        try:
            executor = self.executor(step.executor)
        except RunbookError as exc:
            return _failed(str(exc), started)
        except Exception as exc:  # a plugin that cannot even load fails the step
            return _failed(
                f"executor {step.executor!r} crashed: {type(exc).__name__}: {exc}", started
            )
        if start_durable and not getattr(executor, "awaits_before_start", False):
            await self.ctx.durable()
        try:
            work: Awaitable[Result] = executor.run(call)
            if step.timeout is not None:
                return await asyncio.wait_for(work, step.timeout + TIMEOUT_GRACE)
            return await work
        except TimeoutError:
            return _failed(f"timed out after {step.timeout:g}s", started, timed_out=True)
        except RunbookError as exc:
            return _failed(str(exc), started)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a plugin's bug must fail the step, not the run
            return _failed(
                f"executor {step.executor!r} crashed: {type(exc).__name__}: {exc}", started
            )

    async def probe(
        self,
        raw: Mapping[str, Any],
        parent: Step,
        on_result: Callable[[Result], None] | None = None,
    ) -> Result:
        """Run a monitor's probe: a step mapping with exactly one executor key."""
        keys = [k for k in raw if k not in COMMON_STEP_KEYS]
        if len(keys) != 1:
            return _failed(
                f"probe needs exactly one executor key, got {', '.join(keys) or 'none'}",
                time.monotonic(),
            )
        key = keys[0]
        timeout = raw.get("timeout")
        from runbook_engine.durations import parse_duration

        probe_step = Step(
            id=f"{parent.id}.probe",
            phase=parent.phase,
            executor=key,
            spec=raw[key],
            timeout=parse_duration(timeout) if timeout is not None else None,
            secret_output=parent.secret_output,
        )
        hosts = self.ctx.hosts_for(
            Step(id="", phase="", executor=key, spec=None, hosts=raw.get("hosts"))
        )
        call = self.call(probe_step, hosts, {"on_pid": lambda pid: None})
        call = StepCall(**{**call.__dict__, "log": lambda line, host=None: None})
        result = await self.execute(probe_step, call)
        if on_result is not None:
            on_result(result)
        return result


def _failed(error: str, started: float, *, timed_out: bool = False) -> Result:
    duration = time.monotonic() - started
    fields: dict[str, Any] = {"duration": duration}
    if timed_out:
        fields["timed_out"] = True
    return Result(ok=False, fields=fields, error=error, duration=duration)


def _proc_start(pid: int) -> int | None:
    """The process's start time in clock ticks, so resume can tell a recorded pid from
    a new process that reused the number."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, ValueError, IndexError):
        return None
