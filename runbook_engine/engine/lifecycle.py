"""One step from pending to its final status: ``when``, attempts with ``retries``,
``delay`` and ``backoff``, ``until`` polling, ``expect``, captures — each attempt
journaled before it starts (durably) and after it ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

from runbook_engine.engine.context import RunContext
from runbook_engine.engine.dispatch import Dispatch
from runbook_engine.engine.outcome import (
    CANCELLED,
    FAILED,
    SKIPPED,
    SUCCEEDED,
    StepOutcome,
    result_to_journal,
)
from runbook_engine.errors import RunbookError
from runbook_engine.executors.base import Result, StepServices
from runbook_engine.model import Step
from runbook_engine.redaction import MASK


class StepRunner:
    """Runs steps for one run. ``services_for`` is how the scheduler hands executors
    their typed services (the operator, the monitor hooks, …)."""

    def __init__(
        self,
        ctx: RunContext,
        dispatch: Dispatch,
        services_for: Callable[[Step], StepServices],
    ) -> None:
        self.ctx = ctx
        self.dispatch = dispatch
        self.services_for = services_for

    def should_run(self, step: Step) -> tuple[bool, str | None]:
        """Whether ``when`` holds now; (False, reason) when it does not or cannot be
        evaluated (an unevaluable ``when`` is an error, not a silent skip)."""
        if not step.when:
            return True, None
        try:
            return self.ctx.evaluator.holds(step.when, self.ctx.view.context()), None
        except RunbookError as exc:
            return False, f"when: {exc}"

    async def run(self, step: Step, first_attempt: int = 1) -> StepOutcome:
        ctx = self.ctx
        runs, why = self.should_run(step)
        if not runs:
            status = FAILED if why else SKIPPED
            outcome = StepOutcome(status=status, error=why)
            self.finish(step, outcome, attempt=0, duration=0.0)
            return outcome
        retry = ctx.retry_hosts.get(step.id)
        try:
            hosts = ctx.hosts_for(step)
            if retry is not None:  # resume --retry-failed-hosts: the failed hosts only
                hosts = tuple(h for h in hosts if h.name in retry.hosts)
        except RunbookError as exc:
            outcome = StepOutcome(status=FAILED, error=str(exc))
            self.finish(step, outcome, attempt=0, duration=0.0)
            return outcome
        attempts = max(1, step.retries + 1)
        attempt = first_attempt
        result: Result | None = None
        error: str | None = None
        started = time.monotonic()
        while True:
            started_data: dict[str, Any] = {"retry_hosts": sorted(retry.hosts)} if retry else {}
            ctx.emit(
                "step_started",
                step=step.id,
                phase=step.phase,
                attempt=attempt,
                title=step.label,
                executor=step.executor,
                **started_data,
            )  # fmt: skip
            call = self.dispatch.call(step, hosts, self.services_for(step))
            try:
                result = await self.dispatch.execute(step, call, start_durable=True)
                if retry is not None:
                    result = retry.merged(result)
            except asyncio.CancelledError:
                outcome = StepOutcome(
                    status=CANCELLED, attempts=attempt, error="cancelled by the operator"
                )
                self.finish(step, outcome, attempt=attempt, duration=time.monotonic() - started)
                raise
            if result.state == "awaiting_operator":
                return StepOutcome(
                    status="paused",
                    result=result,
                    attempts=attempt,
                    paused=True,
                    error=result.error,
                )
            ok, error = self.judge(step, result)
            done = ok if not step.until else self._until(step, result)
            if done or attempt >= attempts:  # the budget counts attempts across resumes
                break
            ctx.show(
                "message",
                text=f"{step.id}: attempt {attempt} {'not yet' if step.until else 'failed'}; retrying",
            )
            await ctx.sleep(step.delay * (step.backoff ** (attempt - first_attempt)))
            attempt += 1
        if step.until and not done:
            ok, error = False, f"until {step.until!r} did not hold after {attempt} attempts"
        outcome = self._outcome(step, result, ok, error, attempt)
        self.finish(step, outcome, attempt=attempt, duration=time.monotonic() - started)
        return outcome

    def judge(self, step: Step, result: Result) -> tuple[bool, str | None]:
        """The step's verdict: its ``expect`` if it has one, else the executor's."""
        if result.state == "timed_out":
            return False, result.error or "timed out"
        if not step.expect:
            return result.ok, result.error
        try:
            holds = self.ctx.evaluator.holds(step.expect, self.ctx.view.context(result))
        except RunbookError as exc:
            return False, f"expect: {exc}"
        return holds, None if holds else f"expected {step.expect!r}" + (
            f" ({result.error})" if result.error else ""
        )

    def _until(self, step: Step, result: Result) -> bool:
        try:
            return self.ctx.evaluator.holds(step.until or "", self.ctx.view.context(result))
        except RunbookError:
            return False

    def _outcome(
        self, step: Step, result: Result | None, ok: bool, error: str | None, attempt: int
    ) -> StepOutcome:
        if result is None:
            return StepOutcome(status=FAILED, attempts=attempt, error=error)
        captures: dict[str, Any] = {}
        host_captures: dict[str, dict[str, Any]] = {}
        if ok and step.capture:
            try:
                captures, host_captures = self._captures(step, result)
            except RunbookError as exc:
                ok, error = False, f"capture: {exc}"
        if ok and step.secret_output:
            values = [v for v in captures.values() if isinstance(v, str)]
            values += [
                v for by in host_captures.values() for v in by.values() if isinstance(v, str)
            ]
            self.ctx.add_secrets(values)
        return StepOutcome(
            status=SUCCEEDED if ok else FAILED,
            result=result,
            captures=captures,
            host_captures=host_captures,
            attempts=attempt,
            error=None if ok else error,
        )

    def _captures(
        self, step: Step, result: Result
    ) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
        """Per host and aggregated. The aggregate of a value every host agrees on is
        that value (``previous_version: v2.3.0``); otherwise it is evaluated on the
        step's top-level fields."""
        evaluator, view = self.ctx.evaluator, self.ctx.view
        host_captures: dict[str, dict[str, Any]] = {}
        for host, fields in result.hosts.items():
            one = Result(ok=result.ok, fields=fields)
            host_captures[host] = {
                name: evaluator.value(expr, view.context(one))
                for name, expr in step.capture.items()
            }
        captures: dict[str, Any] = {}
        for name, expr in step.capture.items():
            values = [by_host[name] for by_host in host_captures.values()]
            if values and all(v == values[0] for v in values):
                captures[name] = values[0]
            else:
                captures[name] = evaluator.value(expr, view.context(result))
        return captures, host_captures

    def finish(self, step: Step, outcome: StepOutcome, *, attempt: int, duration: float) -> None:
        """Record the outcome: in the run's view (templates, predicates) and journal."""
        ctx = self.ctx
        ctx.view.record(step.id, outcome)
        if outcome.host_captures:
            ctx.host_captures[step.id] = dict(outcome.host_captures)
        result = result_to_journal(outcome.result)
        captures: Any = dict(outcome.captures)
        if step.secret_output:
            ctx.keep_secret_captures(step.id, captures, outcome.host_captures)
            result = _masked(result)
            captures = _masked(captures)
        if result is not None:
            result["captures_by_host"] = (
                _masked(outcome.host_captures) if step.secret_output else outcome.host_captures
            )
        ctx.emit(
            "step_finished",
            step=step.id,
            phase=step.phase,
            status=outcome.status,
            result=result,
            attempt=attempt,
            captures=captures,
            error=outcome.error,
            duration=duration,
        )


def _masked(value: Any) -> Any:
    """Every string inside a ``secret_output`` step's result becomes ``***``."""
    if isinstance(value, str):
        return MASK
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value
