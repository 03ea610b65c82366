"""One step from pending to its final status: ``when``, attempts with ``retries``,
``delay`` and ``backoff``, ``until`` polling, ``expect``, captures — each attempt
journaled before it starts (durably) and after it ends."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from runbook_engine.engine.context import RunContext
from runbook_engine.engine.dispatch import Dispatch
from runbook_engine.engine.evaluation import off_loop
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
from runbook_engine.journal.events import StepFinished, StepStarted
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
            ctx.emit(
                StepStarted(
                    step=step.id,
                    phase=step.phase,
                    attempt=attempt,
                    title=step.label,
                    executor=step.executor,
                    retry_hosts=tuple(sorted(retry.hosts)) if retry else None,
                )
            )
            call = self.dispatch.call(step, hosts, self.services_for(step))
            attempt_started = time.monotonic()
            try:
                result = await self.dispatch.execute(step, call, start_durable=True)
                if retry is not None:
                    result = retry.merged(result)
                if result.state == "awaiting_operator":
                    return StepOutcome(
                        status="paused",
                        result=result,
                        attempts=attempt,
                        paused=True,
                        error=result.error,
                    )
                deadline = attempt_started + step.timeout if step.timeout is not None else None
                result, ok, error, done = await self._verdict(step, result, deadline)
            except asyncio.CancelledError:  # also while a predicate is being evaluated
                outcome = StepOutcome(
                    status=CANCELLED, attempts=attempt, error="cancelled by the operator"
                )
                self.finish(step, outcome, attempt=attempt, duration=time.monotonic() - started)
                raise
            if done or attempt >= attempts:  # the budget counts attempts across resumes
                break
            ctx.show(
                "message",
                text=f"{step.id}: attempt {attempt} {'not yet' if step.until else 'failed'}; retrying",
            )
            await ctx.sleep(step.delay * (step.backoff ** (attempt - first_attempt)))
            attempt += 1
        if step.until and not done and result.state != "timed_out":
            ok, error = False, f"until {step.until!r} did not hold after {attempt} attempts"
        outcome = self._outcome(step, result, ok, error, attempt)
        self.finish(step, outcome, attempt=attempt, duration=time.monotonic() - started)
        return outcome

    async def _verdict(
        self, step: Step, result: Result, deadline: float | None
    ) -> tuple[Result, bool, str | None, bool]:
        """(result, ok, error, done) of one attempt: its ``expect`` if it has one, else
        the executor's verdict; done when ``until`` (if any) holds.

        The predicates run off the event loop, bounded by what is left of the step's
        ``timeout:`` (``deadline``): a predicate still evaluating then makes the attempt
        time out like a command that overran (the result's state says so)."""
        try:
            ok, error = await self._judge(step, result, deadline)
            done = ok if not step.until else await self._until(step, result, deadline)
        except TimeoutError as exc:
            error = f"timed out after {step.timeout:g}s evaluating {exc.args[0]}"
            return replace(result, ok=False, state="timed_out", error=error), False, error, False
        return result, ok, error, done

    async def _holds(self, what: str, text: str, result: Result, deadline: float | None) -> bool:
        """Whether ``text`` holds on ``result``; past ``deadline``, a TimeoutError naming
        the predicate (``what`` is ``expect`` or ``until``)."""
        # without the run's StepIndex: the loop thread updates (and the index caches)
        # glob counts while this thread evaluates; a walk over the statuses reads them
        context = replace(self.ctx.view.context(result), step_index=None)
        work = off_loop(lambda: self.ctx.evaluator.holds(text, context))
        if deadline is None:
            return await work
        try:
            return await asyncio.wait_for(work, max(0.0, deadline - time.monotonic()))
        except TimeoutError:
            raise TimeoutError(f"{what} {text!r}") from None

    async def _judge(
        self, step: Step, result: Result, deadline: float | None
    ) -> tuple[bool, str | None]:
        if result.state == "timed_out":
            return False, result.error or "timed out"
        if not step.expect:
            return result.ok, result.error
        try:
            holds = await self._holds("expect", step.expect, result, deadline)
        except RunbookError as exc:
            return False, f"expect: {exc}"
        return holds, None if holds else f"expected {step.expect!r}" + (
            f" ({result.error})" if result.error else ""
        )

    async def _until(self, step: Step, result: Result, deadline: float | None) -> bool:
        try:
            return await self._holds("until", step.until or "", result, deadline)
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
            StepFinished(
                step=step.id,
                phase=step.phase,
                status=outcome.status,
                result=result,
                attempt=attempt,
                captures=captures,
                error=outcome.error,
                duration=duration,
            )
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
