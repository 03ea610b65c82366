"""``runbook plan``: every rendered command in execution order, every branch a
``when:`` could take, the rollback that would run — and nothing executed.

Results of steps that did not run are unknown, so a ``when:`` that depends on them
shows both branches and a template that uses their captures shows a placeholder
such as ``<record-versions.previous_version>``. ``--stub STEP=result.json`` gives a
step a recorded result so the plan can follow what later steps do with it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from runbook_engine.effects import CHANGES, READ_ONLY, UNKNOWN, classify
from runbook_engine.engine.context import RunContext
from runbook_engine.engine.dispatch import Dispatch
from runbook_engine.engine.evaluation import Evaluator, RunView
from runbook_engine.engine.outcome import FAILED, SUCCEEDED, StepOutcome
from runbook_engine.engine.progress import NullProgress
from runbook_engine.engine.window import outside_window
from runbook_engine.errors import RunbookError, RunError
from runbook_engine.executors.base import Result
from runbook_engine.executors.registry import executor_classes
from runbook_engine.graph import build_graph
from runbook_engine.journal.events import Event
from runbook_engine.model import Runbook, Step
from runbook_engine.variables import ResolvedVars


@dataclass(frozen=True)
class _PlanJournal:
    run_id: str = "plan"
    dir: Path = Path(".")
    seq: int = 0

    def append(self, event: Event, *, sync: bool | None = None) -> dict[str, Any]:
        return {}  # a plan journals nothing

    def pending(self, seq: int | None = None) -> bool:
        return False

    def sync(self) -> None:
        return None

    def seal(self, step_id: str, value: Any) -> None:
        return None  # a plan keeps nothing for a resume


def load_stub(text: str) -> tuple[str, Result]:
    """``STEP=result.json`` → (step id, Result). The file holds either a whole result
    (``{"ok": …, "fields": {…}, "hosts": {…}}``) or just its fields."""
    step, sep, path = text.partition("=")
    if not sep or not step or not path:
        raise RunError(f"--stub {text!r} is not STEP=FILE.json")
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunError(f"--stub {step}: cannot read {path}: {exc}") from None
    if not isinstance(data, dict):
        raise RunError(f"--stub {step}: {path} must hold a JSON object")
    if "fields" in data:
        return step, Result(
            ok=bool(data.get("ok", True)),
            fields=dict(data["fields"]),
            hosts={str(k): dict(v) for k, v in (data.get("hosts") or {}).items()},
            error=data.get("error"),
        )
    return step, Result(ok=bool(data.get("ok", True)), fields=data)


def build_plan(
    runbook: Runbook,
    resolved: ResolvedVars,
    *,
    inventory: Any = None,
    inventory_path: str | None = None,
    stubs: Mapping[str, Result] | None = None,
    checks: Mapping[str, Any] | None = None,
    now: datetime | None = None,
    probe: bool = False,
) -> list[str]:
    """The plan as Markdown lines. ``probe`` runs the steps that only read
    (`effects.classify`) for real, so later templates and predicates see real values;
    everything else stays a placeholder or its stub."""
    from runbook_engine.engine.session import all_checks

    stubs = dict(stubs or {})
    known_checks = dict(checks) if checks is not None else all_checks()
    graph = build_graph(runbook)
    unknown = sorted(set(stubs) - {s.id for s in runbook.all_steps()})
    if unknown:
        raise RunError(f"--stub {unknown[0]}: no such step")
    qualified = {s.id: s.qualified_id for s in runbook.all_steps()}
    ctx = RunContext(
        runbook=runbook,
        values=resolved.values,
        secrets=resolved.secrets,
        journal=_PlanJournal(),
        progress=NullProgress(),
        evaluator=Evaluator(known_checks),
        view=RunView(resolved.values, qualified, known_checks),
        initiator="plan",
        inventory=inventory,
        inventory_path=inventory_path,
    )
    known = RunView(resolved.values, qualified, known_checks)  # only stubbed or probed outcomes
    dispatch = Dispatch(ctx)
    prober = _Prober(ctx, dispatch, known) if probe else None
    try:
        lines = _plan_lines(runbook, graph, ctx, dispatch, known, stubs, prober, now)
    finally:
        if prober is not None:
            prober.close()
    return [ctx.redactor(line) for line in lines]  # a probed secret_output step adds secrets


def _plan_lines(
    runbook: Runbook,
    graph: Any,
    ctx: RunContext,
    dispatch: Dispatch,
    known: RunView,
    stubs: Mapping[str, Result],
    prober: _Prober | None,
    now: datetime | None,
) -> list[str]:
    redact = ctx.redactor
    lines = [f"# Plan: {runbook.label}", "", _effects_summary(runbook, probing=prober is not None), ""]
    why_outside = outside_window(runbook.window, now or datetime.now(UTC))
    if why_outside:
        lines += [
            f"**Outside the change window**: {why_outside} (a run needs --outside-window)",
            "",
        ]
    if runbook.prerequisites:
        lines.append("## Prerequisites")
        for item in runbook.prerequisites:
            if item.step is None:
                lines.append(f"- [ ] {item.text} (confirmed by an operator)")
            else:
                lines.append(f"- {item.text}:")
                lines += [f"    $ {redact(c)}" for c in _describe(dispatch, ctx, item.step)]
                if prober is not None:
                    lines.append(f"    {prober.run(item.step)}")
        lines.append("")
    current_phase = None
    for number, step in enumerate(graph.order(), start=1):
        phase = runbook.phase_of(step.id)
        if phase is not None and phase.id != current_phase:
            current_phase = phase.id
            downtime = f" — downtime {phase.downtime}" if phase.downtime else ""
            lines += ["", f"## {phase.label}{downtime}"]
        lines += _step_lines(number, step, dispatch, ctx, known, stubs, prober)
    if runbook.rollback or any(s.undo for s in runbook.all_steps()):
        lines += ["", "## Rollback (runs when a decision or a critical failure calls for it)"]
        for step in runbook.all_steps():
            if step.undo is not None and step.phase != "rollback":
                lines.append(f"- undo of {step.id} (if it completed), newest first:")
                lines += [f"    $ {redact(c)}" for c in _describe(dispatch, ctx, step.undo)]
        for step in runbook.rollback:
            when = f" — when {step.when} ({_branch(ctx, known, step.when)})" if step.when else ""
            lines.append(f"- {step.id}: {step.label}{when}")
            lines += [f"    $ {redact(c)}" for c in _describe(dispatch, ctx, step)]
    if runbook.decisions:
        lines += ["", "## Decisions (evaluated after every step and monitor sample)"]
        for decision in runbook.decisions:
            window = decision.window(ctx.values)
            after = f", holding for {window:g}s" if window else ""
            lines.append(
                f"- [{decision.severity}] {decision.condition}: when {decision.when}{after} → {decision.action}"
            )
    return lines


def _step_lines(
    number: int,
    step: Step,
    dispatch: Dispatch,
    ctx: RunContext,
    known: RunView,
    stubs: Mapping[str, Result],
    prober: _Prober | None = None,
) -> list[str]:
    verdict = classify(step)
    lines = [f"{number}. **{step.qualified_id}** — {step.label} ({step.executor}; {verdict.effect}: {verdict.why})"]
    if step.when:
        lines.append(f"   - when `{step.when}`: {_branch(ctx, known, step.when)}")
    if step.hosts:
        lines.append(f"   - hosts: {step.hosts}")
    lines += [f"   $ {ctx.redactor(c)}" for c in _describe(dispatch, ctx, step)]
    details = []
    if step.expect:
        details.append(f"expect `{step.expect}`")
    if step.until:
        details.append(f"until `{step.until}`")
    if step.retries:
        details.append(f"retries {step.retries} every {step.delay:g}s ×{step.backoff:g}")
    if step.timeout:
        details.append(f"timeout {step.timeout:g}s")
    failure = "rollback" if step.critical else step.on_failure
    if step.goto:
        failure = f"goto {step.goto}"
    details.append(f"on failure: {failure}")
    lines.append("   - " + "; ".join(details))
    if step.id not in stubs and prober is not None and verdict.effect == READ_ONLY:
        lines.append(f"   - {prober.run(step, step.when)}")
        return lines
    if step.id in stubs:
        outcome = _stubbed(ctx, step, stubs[step.id])
        known.record(step.id, outcome)
        ctx.view.record(step.id, outcome)
        lines.append(
            f"   - stubbed result: {outcome.status}"
            + (f" ({outcome.error})" if outcome.error else "")
        )
    else:
        placeholder = StepOutcome(
            status="planned", captures={name: f"<{step.id}.{name}>" for name in step.capture}
        )
        ctx.view.record(step.id, placeholder)
    return lines


def _effects_summary(runbook: Runbook, *, probing: bool) -> str:
    """How many steps only read, change something, or cannot be told."""
    counts = {READ_ONLY: 0, CHANGES: 0, UNKNOWN: 0}
    for step in runbook.all_steps():
        counts[classify(step).effect] += 1
    probed = (
        "--probe runs the ones that only read for real"
        if probing
        else "`runbook plan --probe` would run the ones that only read"
    )
    return (
        f"Effects: {counts[READ_ONLY]} step(s) only read, {counts[CHANGES]} change something,"
        f" {counts[UNKNOWN]} unknown (a command: mark it `changes: false` if it only reads);"
        f" {probed}."
    )


class _Prober:
    """Runs read-only steps for real during ``plan --probe`` (one event loop, so
    executors keep their connections between steps)."""

    def __init__(self, ctx: RunContext, dispatch: Dispatch, known: RunView) -> None:
        from runbook_engine.engine.lifecycle import StepRunner

        self.ctx = ctx
        self.dispatch = dispatch
        self.known = known
        self.loop = asyncio.new_event_loop()
        self.runner = StepRunner(ctx, dispatch, dispatch.services)

    def run(self, step: Step, when: str | None = None) -> str:
        """Probe ``step`` and say how it went (or why it was not probed)."""
        if not getattr(executor_classes().get(step.executor), "probed_by_plan", True):
            return f"not probed ({step.executor} steps take time)"
        if when and _unknown_steps(self.ctx.evaluator.parse(when), self.known):
            return "not probed: its when: depends on a step whose result the plan does not know"
        outcome = self.loop.run_until_complete(self.runner.run(step))
        self.known.record(step.id, outcome)
        captured = ", ".join(f"{k} = {v!r}" for k, v in outcome.captures.items())
        error = f" ({outcome.error})" if outcome.error else ""
        return f"probed: {outcome.status}{error}" + (f"; captured {captured}" if captured else "")

    def close(self) -> None:
        self.loop.run_until_complete(self.dispatch.close())
        self.loop.close()


def _stubbed(ctx: RunContext, step: Step, result: Result) -> StepOutcome:
    ok = result.ok
    error = result.error
    if step.expect:
        try:
            ok = ctx.evaluator.holds(step.expect, ctx.view.context(result))
        except RunbookError as exc:
            ok, error = False, str(exc)
    captures = {}
    if ok:
        for name, expr in step.capture.items():
            try:
                captures[name] = ctx.evaluator.value(expr, ctx.view.context(result))
            except RunbookError as exc:
                captures[name] = f"<capture failed: {exc}>"
    return StepOutcome(
        status=SUCCEEDED if ok else FAILED,
        result=result,
        captures=captures,
        error=None if ok else error,
    )


def _branch(ctx: RunContext, known: RunView, when: str) -> str:
    both = "decided at run time — if true the step runs, if false it is skipped"
    try:
        if _unknown_steps(ctx.evaluator.parse(when), known):
            return both
        holds = ctx.evaluator.holds(when, known.context())
    except RunbookError:
        return both
    return "true → runs" if holds else "false → skipped"


def _unknown_steps(expr: Any, known: RunView) -> bool:
    """Whether the predicate asks about a step whose result the plan does not know."""
    from fnmatch import fnmatchcase

    from runbook_engine.predicates import Path as PathNode
    from runbook_engine.predicates import StepQuery, walk

    ids = set(known.outcomes)
    for node in walk(expr):
        if isinstance(node, PathNode) and node.root == "steps" and node.segments:
            if str(node.segments[0]) not in ids:
                return True
        elif isinstance(node, StepQuery):
            all_ids = known.qualified
            matched = [
                sid
                for sid, q in all_ids.items()
                if fnmatchcase(q, node.glob) or fnmatchcase(sid, node.glob)
            ]
            if not matched or any(sid not in ids for sid in matched):
                return True
    return False


def _describe(dispatch: Dispatch, ctx: RunContext, step: Step) -> list[str]:
    try:
        hosts = ctx.hosts_for(step) if ctx.inventory is not None else ()
        executor = dispatch.executor(step.executor)
        return list(executor.describe(dispatch.call(step, hosts)))
    except RunbookError as exc:
        return [f"(rendered at run time: {exc})"]
