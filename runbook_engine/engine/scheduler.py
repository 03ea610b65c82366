"""The run: prerequisites, then the step graph with bounded concurrency, the decision
matrix after every step and monitor sample, the failure policies, rollback, pause
and cancellation — ending in one run status (see `outcome.EXIT_CODES`)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_engine.engine.approvals import RunOperator
from runbook_engine.engine.context import RunContext
from runbook_engine.engine.decisions import DecisionMatrix, DecisionTaken
from runbook_engine.engine.dispatch import Dispatch
from runbook_engine.engine.lifecycle import StepRunner
from runbook_engine.engine.operator_actions import resume_hint
from runbook_engine.engine.outcome import (
    CANCELLED,
    EXIT_CODES,
    FAILED,
    ROLLED_BACK,
    SKIPPED,
    SUCCEEDED,
    StepOutcome,
    result_to_journal,
)
from runbook_engine.engine.rollback import rollback_plan
from runbook_engine.errors import RunbookError
from runbook_engine.executors.base import Result, StepServices
from runbook_engine.gates import parse_gate
from runbook_engine.graph import StepGraph
from runbook_engine.journal.events import (
    Paused,
    PhaseFinished,
    PhaseStarted,
    RollbackFinished,
    RollbackStarted,
    RunFinished,
    StepFinished,
)
from runbook_engine.model import Phase, Step
from runbook_engine.redaction import Redactor
from runbook_engine.vocabulary import RunStatus

#: Which reason to stop wins when several arrive: the operator, then rollback.
_PRIORITY = {"pause": 0, "abort": 1, "rollback": 2, "cancel": 3}

#: Statuses after which dependents may start.
_RELEASES = frozenset({SUCCEEDED, SKIPPED})


@dataclass
class Stop:
    """Why the forward run stops early."""

    kind: str  # "rollback" | "abort" | "pause" | "cancel"
    reason: str
    rollback_from: str | None = None


@dataclass
class Restored:
    """What a resumed run already knows from its journal."""

    outcomes: dict[str, StepOutcome] = field(default_factory=dict)
    completion_order: list[str] = field(default_factory=list)
    rollback_reason: str | None = None
    attempts: dict[str, int] = field(default_factory=dict)


class Run:
    """Executes one runbook run (fresh or resumed) against a `RunContext`."""

    def __init__(
        self,
        ctx: RunContext,
        graph: StepGraph,
        operator: RunOperator,
        restored: Restored | None = None,
        offer_rollback: Callable[[str], bool] | None = None,
    ) -> None:
        self.ctx = ctx
        self.graph = graph
        self.operator = operator
        self.restored = restored or Restored()
        self.offer_rollback = offer_rollback or (lambda reason: False)
        self.dispatch = Dispatch(ctx)
        self.steps = StepRunner(ctx, self.dispatch, self._services_for)
        self.matrix = DecisionMatrix(ctx.runbook.decisions, ctx.evaluator, clock=ctx.clock)
        self.outcomes: dict[str, StepOutcome] = dict(self.restored.outcomes)
        self.completion_order: list[str] = list(self.restored.completion_order)
        self.stop: Stop | None = None
        self._tasks: dict[asyncio.Task[StepOutcome], Step] = {}
        self._wake = asyncio.Event()
        self._unblocked: list[str] = []
        self._phase_of: dict[str, Phase] = {s.id: p for p in ctx.runbook.phases for s in p.steps}
        self._phase_left: dict[str, int] = {p.id: len(p.steps) for p in ctx.runbook.phases}
        self._phase_started: dict[str, float] = {}
        for step_id, outcome in self.outcomes.items():
            ctx.view.record(step_id, outcome)
            if outcome.host_captures:
                ctx.host_captures[step_id] = dict(outcome.host_captures)

    # -- public -------------------------------------------------------------------

    def interrupt(self) -> None:
        """Ctrl-C / SIGTERM: cancel what runs, record it, then offer rollback."""
        if self.stop is None or self.stop.kind != "cancel":
            self.stop = Stop("cancel", "interrupted by the operator")
        for task in self._tasks:
            task.cancel()
        self._wake.set()

    async def execute(self) -> RunStatus:
        """Run to the end (or to a pause) and return the run status."""
        ctx = self.ctx
        try:
            if self.restored.rollback_reason is not None:
                status = await self._rollback(self.restored.rollback_reason)
            else:
                status = await self._forward()
        finally:
            await self.dispatch.close()
        if status != "paused":
            ctx.emit(
                RunFinished(
                    status=status,
                    exit_code=EXIT_CODES[status],
                    elapsed=time.monotonic() - ctx.started,
                )
            )
        return status

    # -- forward run --------------------------------------------------------------

    async def _forward(self) -> RunStatus:
        if await self._prerequisites():
            await self._graph()
        return await self._finish_stop() if self.stop else self._succeeded()

    async def _prerequisites(self) -> bool:
        for index, item in enumerate(self.ctx.runbook.prerequisites):
            step = item.as_step(index)
            known = self.outcomes.get(step.id)
            if known is not None and known.status in _RELEASES:
                continue
            if item.step is not None and not step.title:
                step = replace(step, title=item.text)
            outcome = await self._run_one(step)
            if outcome.paused:
                return False
            if outcome.status not in _RELEASES:
                self.stop = Stop("abort", f"prerequisite not met: {item.text}")
                return False
        return True

    async def _graph(self) -> None:
        deps = {sid: set(d) for sid, d in self.graph.deps.items()}
        children: dict[str, list[str]] = {sid: [] for sid in deps}
        for sid, needs in deps.items():
            for dep in needs:
                children[dep].append(sid)
        position = self.graph.position
        done: set[str] = set()
        for sid, outcome in self.outcomes.items():
            if sid in deps and outcome.status != CANCELLED:
                done.add(sid)
                self._phase_left[self._phase_of[sid].id] -= 1
        self._children, self._deps, self._done = children, deps, done
        for sid in sorted(done, key=position.__getitem__):
            outcome = self.outcomes[sid]
            if not self._releases(sid, outcome):
                self._on_failure(self.graph.steps[sid], outcome)  # the stop a crash cut short
                continue
            for child in children[sid]:
                deps[child].discard(sid)
        ready = [sid for sid, needs in deps.items() if sid not in done and not needs]
        concurrency = max(1, self.ctx.concurrency)
        waker: asyncio.Future[Any] | None = None
        while True:
            ready.sort(key=position.__getitem__)
            while ready and self.stop is None and len(self._tasks) < concurrency:
                sid = ready.pop(0)
                if sid in done:
                    continue
                step = self.graph.steps[sid]
                self._phase_enter(step)
                task = asyncio.ensure_future(self._run_one_task(step))
                self._tasks[task] = step
            if not self._tasks:
                left = [sid for sid in deps if sid not in done]
                if left and self.stop is None:
                    self.stop = Stop("abort", f"steps never became ready: {', '.join(left[:5])}")
                if waker is not None:
                    waker.cancel()
                break
            if waker is None or waker.done():
                self._wake.clear()
                waker = asyncio.ensure_future(self._wake.wait())
            finished, _ = await asyncio.wait(
                [*self._tasks, waker], return_when=asyncio.FIRST_COMPLETED
            )
            for done_task in finished:
                step = self._tasks.pop(done_task, None)  # type: ignore[call-overload]
                if step is None:
                    continue
                try:
                    outcome = done_task.result()
                except asyncio.CancelledError:
                    outcome = StepOutcome(status=CANCELLED, error="cancelled")
                ready.extend(self._after_step(step, outcome))

    def _releases(self, sid: str, outcome: StepOutcome) -> bool:
        if outcome.status in _RELEASES:
            return True
        step = self.graph.steps[sid]
        return (
            outcome.status == FAILED
            and step.on_failure in ("continue", "goto")
            and not step.critical
        )

    def _phase_enter(self, step: Step) -> None:
        phase = self._phase_of[step.id]
        if phase.id not in self._phase_started:
            self._phase_started[phase.id] = time.monotonic()
            self.ctx.emit(
                PhaseStarted(
                    phase=phase.id, title=phase.label, downtime=phase.downtime, budget=phase.budget
                )
            )

    def _phase_leave(self, step_id: str) -> None:
        phase = self._phase_of[step_id]
        self._phase_left[phase.id] -= 1
        if self._phase_left[phase.id] == 0:
            started = self._phase_started.get(phase.id, time.monotonic())
            self.ctx.emit(
                PhaseFinished(
                    phase=phase.id,
                    elapsed=time.monotonic() - started,
                    budget=phase.budget,
                    downtime=phase.downtime,
                )
            )

    async def _run_one_task(self, step: Step) -> StepOutcome:
        return await self._run_one(step)

    async def _run_one(self, step: Step) -> StepOutcome:
        first = self.restored.attempts.get(step.id, 0) + 1
        outcome = await self.steps.run(step, first_attempt=first)
        if outcome.paused:
            self._pause(step, outcome)
        elif outcome.status != CANCELLED:
            self.outcomes[step.id] = outcome
            self.completion_order.append(step.id)
        return outcome

    def _pause(self, step: Step, outcome: StepOutcome) -> None:
        # a gate paused again (a quorum still short) keeps its first deadline
        deadline = self.operator.deadlines.get(step.id) or (
            time.time() + step.timeout if step.timeout else None
        )
        self.ctx.emit(
            Paused(
                step=step.id, phase=step.phase, reason=outcome.error or "waiting", deadline=deadline
            )
        )
        self.ctx.show("message", text=f"paused at {step.id}: continue with `{self._resume_hint(step)}`")
        if self.stop is None:
            self.stop = Stop("pause", f"{step.id} waits for an operator")

    def _resume_hint(self, step: Step) -> str:
        try:
            gate = parse_gate(self.ctx.renderer.render(step.spec))
        except RunbookError:
            gate = None
        return resume_hint(self.ctx.run_id, step.id, gate, self.operator.preset.get(step.id, {}))

    def _after_step(self, step: Step, outcome: StepOutcome) -> list[str]:
        """Apply the step's failure policy and the decision matrix; return steps
        that became ready."""
        if outcome.paused:
            return []
        if outcome.status == CANCELLED:
            return []
        self._done.add(step.id)
        self._phase_leave(step.id)
        released = outcome.status in _RELEASES
        if outcome.status == FAILED:
            released = self._on_failure(step, outcome)
        self._decide(step, outcome.result)
        ready, self._unblocked = self._unblocked, []
        if not released:
            return ready
        for child in self._children[step.id]:
            self._deps[child].discard(step.id)
            if not self._deps[child] and child not in self._done:
                ready.append(child)
        return ready

    def _on_failure(self, step: Step, outcome: StepOutcome) -> bool:
        """Apply ``on_failure``/``critical``/``on_timeout``; True if dependents run."""
        policy = step.on_failure
        if outcome.result is not None and outcome.result.on_failure is not None:
            policy = outcome.result.on_failure  # e.g. a gate's on_timeout
        if step.critical or policy == "rollback":
            self._stop_now(Stop("rollback", f"step {step.id} failed: {outcome.error}"))
            return False
        if policy == "continue":
            self.ctx.show("warning", text=f"{step.id} failed; continuing as on_failure says")
            return True
        if policy == "goto" and step.goto:
            return self._goto(step, step.goto)
        self._stop_now(Stop("abort", f"step {step.id} failed: {outcome.error}"))
        return False

    def _goto(self, step: Step, target: str) -> bool:
        if any(s.id == target for s in self.ctx.runbook.rollback):
            self._stop_now(
                Stop("rollback", f"step {step.id} failed; goto {target}", rollback_from=target)
            )
            return False
        position = self.graph.position
        if target not in position or position[target] <= position[step.id] or target in self._done:
            self._stop_now(Stop("abort", f"step {step.id} failed and goto {target} cannot go back"))
            return False
        running = {s.id for s in self._tasks.values()}
        for sid in sorted(position, key=position.__getitem__):
            if (
                position[step.id] < position[sid] < position[target]
                and sid not in self._done
                and sid not in running
            ):
                skipped = StepOutcome(
                    status=SKIPPED, error=f"skipped: {step.id} failed, goto {target}"
                )
                self.steps.finish(self.graph.steps[sid], skipped, attempt=0, duration=0.0)
                self.outcomes[sid] = skipped
                self._done.add(sid)
                self._phase_leave(sid)
                for child in self._children[sid]:
                    self._deps[child].discard(sid)
                    if not self._deps[child] and child not in self._done:
                        self._unblocked.append(child)
        for dep in list(self._deps[target]):
            if dep in self._done:
                self._deps[target].discard(dep)
        return True

    def _stop_now(self, stop: Stop) -> None:
        """Stop starting steps; a rollback or abort also cancels running ones."""
        if self.stop is None or _PRIORITY[stop.kind] > _PRIORITY[self.stop.kind]:
            self.stop = stop
        for task in self._tasks:
            task.cancel()
        self._wake.set()

    # -- decisions ----------------------------------------------------------------

    def _decide(
        self, step: Step | None, result: Result | None, **roots: Any
    ) -> list[DecisionTaken]:
        if not self.matrix.decisions:
            return []
        ctx = self.ctx
        evidence: dict[str, Any] = {}
        if step is not None:
            outcome = self.outcomes.get(step.id)
            evidence["step"] = step.id
            if outcome is not None:
                evidence["status"] = outcome.status
        if result is not None:
            evidence["fields"] = _summary(result.fields, ctx.redactor)
            failed_hosts = [
                h
                for h, f in result.hosts.items()
                if f.get("rc") not in (0, None) or f.get("failed")
            ]
            if failed_hosts:
                evidence["failed_hosts"] = failed_hosts
        for name, value in roots.items():
            if name in ("probe", "baseline"):
                evidence[name] = _summary(value, ctx.redactor)
        taken = self.matrix.evaluate(
            ctx.view.context(result, **roots), evidence, step.id if step else None
        )
        for problem in self.matrix.drain_unevaluable():
            ctx.emit(problem.event())
        for decision in taken:
            ctx.emit(decision.event())
            if decision.action == "rollback":
                self._stop_now(Stop("rollback", f"decision: {decision.decision.condition}"))
            elif decision.action == "abort":
                self._stop_now(Stop("abort", f"decision: {decision.decision.condition}"))
        return taken

    def _services_for(self, step: Step) -> StepServices:
        return replace(
            self.dispatch.services(step),
            operator=self.operator,
            probe=lambda raw: self.dispatch.probe(raw, step),
            on_sample=lambda sample, baseline, samples: self._on_sample(
                step, sample, baseline, samples
            ),
        )

    def _on_sample(
        self, step: Step, sample: Mapping[str, Any], baseline: Mapping[str, Any], samples: list[Any]
    ) -> bool:
        """Evaluate the matrix on one monitor sample; True tells the monitor to stop."""
        self.ctx.view.extra_roots.update(probe=dict(sample), baseline=dict(baseline))
        taken = self._decide(
            step,
            Result(ok=True, fields=dict(sample)),
            probe=dict(sample),
            baseline=dict(baseline),
            samples=samples,
        )
        return any(d.action in ("rollback", "abort") for d in taken) or (
            self.stop is not None and self.stop.kind != "pause"
        )

    # -- endings ------------------------------------------------------------------

    def _succeeded(self) -> RunStatus:
        for decision, held in self.matrix.open_windows():
            self.ctx.show(
                "warning",
                text=f"decision {decision.condition!r} was holding for {held:.0f}s of its {decision.after:.0f}s window when the run ended",
            )
        return "succeeded"

    async def _finish_stop(self) -> RunStatus:
        stop = self.stop
        assert stop is not None
        if stop.kind == "pause":
            return "paused"
        if stop.kind == "rollback":
            return await self._rollback(stop.reason, stop.rollback_from)
        if stop.kind == "cancel":
            if self.offer_rollback(stop.reason):
                return await self._rollback(stop.reason)
            return "cancelled"
        return "failed"

    async def _rollback(self, reason: str, start_at: str | None = None) -> RunStatus:
        ctx = self.ctx
        already = {sid for sid, o in self.outcomes.items() if o.status != "pending"}
        plan = rollback_plan(ctx.runbook, self.outcomes, self.completion_order, start_at)
        if self.restored.rollback_reason is None:
            ctx.emit(RollbackStarted(reason=reason))
        # rollback steps may say why: {{ run.rollback_reason }} (e.g. in the escalation)
        run_info = ctx.renderer.base.get("run", {})
        ctx.renderer.base["run"] = {**run_info, "rollback_reason": self.restored.rollback_reason or reason}
        self.stop = None
        status: RunStatus = "rolled_back"
        for step, undoes in plan:
            if step.id in already and self.outcomes[step.id].status in (SUCCEEDED, SKIPPED):
                continue
            outcome = await self._run_one(step)
            if outcome.paused:
                return "paused"
            if outcome.status == FAILED and step.on_failure != "continue":
                status = "rollback_failed"
                break
            if outcome.status == CANCELLED:
                status = "rollback_failed"
                break
            if undoes is not None and outcome.status == SUCCEEDED:
                original = self.outcomes[undoes]
                rolled = replace(original, status=ROLLED_BACK)
                self.outcomes[undoes] = rolled
                ctx.view.record(undoes, rolled)
                ctx.emit(
                    StepFinished(
                        step=undoes,
                        phase=self._phase_of[undoes].id if undoes in self._phase_of else "rollback",
                        status=ROLLED_BACK,
                        result=result_to_journal(original.result)
                        if not self.graph.steps[undoes].secret_output
                        else None,
                        attempt=original.attempts,
                        captures={},
                        error=None,
                        duration=0.0,
                    )
                )
        ctx.emit(RollbackFinished(status=status))
        return status


def _summary(fields: Mapping[str, Any], redactor: Redactor) -> dict[str, Any]:
    """Scalar fields, long text masked then cut: enough evidence without whole outputs
    (cutting first would leave the start of a secret readable)."""
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, str):
            out[name] = redactor.clip(value, 200)
        elif isinstance(value, bool | int | float) or value is None:
            out[name] = value
    return out
