"""From a `Step` to its executor: builds the `StepCall` (rendering per host, streaming
redacted output, the typed services executors may use) and turns anything an executor
raises into a failed `Result`, so one broken plugin cannot take the run down."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import replace
from typing import Any

from runbook_engine.engine.context import RunContext
from runbook_engine.errors import RunbookError
from runbook_engine.executors.base import (
    Executor,
    Host,
    Result,
    RunIdentity,
    StepCall,
    StepServices,
)
from runbook_engine.executors.process import proc_start_time
from runbook_engine.executors.registry import executor_class
from runbook_engine.journal.events import StepOutput, StepPid
from runbook_engine.model import COMMON_STEP_KEYS, Step
from runbook_engine.redaction import MASK
from runbook_engine.shell_values import ShellCommand
from runbook_engine.templating import Renderer, has_template

#: Extra seconds the engine gives an executor past the step's timeout to stop its
#: own work (the shell executor kills its process group) before it cancels it.
TIMEOUT_GRACE = 10.0


class Dispatch:
    """One executor instance per step key for the whole run."""

    def __init__(self, ctx: RunContext) -> None:
        self.ctx = ctx
        self._instances: dict[str, Executor] = {}

    def executor(self, key: str) -> Executor:
        if key not in self._instances:
            factory = self.ctx.executor_factory
            self._instances[key] = factory(key) if factory else executor_class(key)()
        return self._instances[key]

    async def close(self) -> None:
        for instance in self._instances.values():
            await instance.close()

    def services(self, step: Step) -> StepServices:
        """The services every step gets: run identity, inventory, channels, the pid
        hook (journals ``step_pid`` with the process start time) and ``before_start``
        (the step's start made durable)."""
        ctx = self.ctx

        def on_pid(pid: int) -> None:
            ctx.emit(StepPid(step=step.id, pid=pid, proc_start=proc_start_time(pid)))

        return StepServices(
            run=RunIdentity(run_id=ctx.run_id, initiator=ctx.initiator),
            on_pid=on_pid,
            before_start=ctx.durable,
            inventory_path=ctx.inventory_path,
            channels=ctx.channels,
        )

    def call(
        self, step: Step, hosts: tuple[Host, ...], services: StepServices | None = None
    ) -> StepCall:
        ctx = self.ctx
        secret = step.secret_output
        render, render_command = step_renderers(ctx.renderer, ctx.template_extra)

        def log(line: str, host: str | None = None) -> None:
            ctx.emit(StepOutput(step=step.id, host=host, line=MASK if secret else line))

        return StepCall(
            step_id=step.id,
            spec=step.spec,
            hosts=hosts,
            timeout=step.timeout,
            workdir=ctx.workdir,
            options=dict(step.options),
            services=services if services is not None else self.services(step),
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
            await call.services.before_start()
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
        ctx = self.ctx
        quiet = StepServices(
            run=RunIdentity(run_id=ctx.run_id, initiator=ctx.initiator),
            inventory_path=ctx.inventory_path,
            channels=ctx.channels,
        )
        call = replace(self.call(probe_step, hosts, quiet), log=_silent)
        result = await self.execute(probe_step, call)
        if on_result is not None:
            on_result(result)
        return result


def _silent(line: str, host: str | None = None) -> None:
    """A probe's output is its sample, not log lines."""


def step_renderers(
    renderer: Renderer, extra: Callable[[Host | None], Mapping[str, Any]]
) -> tuple[Callable[[Any, Host | None], Any], Callable[[str, Host | None], ShellCommand]]:
    """``StepCall.render`` and ``render_command`` over ``renderer``, with ``extra(host)``
    (steps, host) as the names beside the vars — the one rendering path, shared by the
    engine and `runbook_engine.testing.make_call`."""

    def render(value: Any, host: Host | None = None) -> Any:
        if isinstance(value, str) and not has_template(value):
            return value
        return renderer.render(value, extra(host))

    def render_command(text: str, host: Host | None = None) -> ShellCommand:
        return renderer.render_command(text, extra(host))

    return render, render_command


def _failed(error: str, started: float, *, timed_out: bool = False) -> Result:
    duration = time.monotonic() - started
    fields: dict[str, Any] = {"duration": duration}
    if timed_out:
        fields["timed_out"] = True
    return Result(
        ok=False,
        fields=fields,
        error=error,
        duration=duration,
        state="timed_out" if timed_out else "done",
    )
