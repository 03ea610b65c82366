"""Lint rules that keep a run from starting when it could only go wrong, one function
per rule: a ``goto`` that loops (RB115), retries, timeouts and durations beyond any
sensible bound (RB116), a window time zone that is not an IANA name (RB117), and
capture expressions checked like predicates before any command runs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runbook_engine.errors import PredicateError, RunbookError, ValidationError
from runbook_engine.graph import StepGraph
from runbook_engine.loader import Document, escape
from runbook_engine.model import Runbook, Step

#: Upper bounds a value must stay under; far above real procedures, far below
#: "retries: 1000000000" (a run that never ends) or a timeout of centuries.
MAX_RETRIES = 100
MAX_BACKOFF = 10.0
MAX_SECONDS = 30 * 24 * 3600  # 30 days, for timeouts, delays and window durations


def every_step(runbook: Runbook) -> Iterable[Step]:
    """Every step a run may start: phases, rollback, prerequisite checks and undos."""
    prereq = [p.step for p in runbook.prerequisites if p.step is not None]
    for step in [*runbook.all_steps(), *prereq]:
        yield step
        if step.undo is not None:
            yield step.undo


def goto_findings(doc: Document, runbook: Runbook, graph: StepGraph) -> list[RunbookError]:
    """RB115: ``on_failure: {goto: X}`` to the step itself or to a step that runs before
    it would repeat the failure forever; goto jumps forward (or into the rollback)."""
    findings: list[RunbookError] = []
    for step in every_step(runbook):
        if step.goto is None or step.id not in graph.steps:
            continue
        ptr = f"{step.pointer}/on_failure/goto"
        if step.goto == step.id:
            why = "to itself"
        elif step.goto in graph.steps and step.goto in graph.ancestors(step.id):
            why = f"back to {step.goto!r}, which runs before it"
        else:
            continue
        findings.append(
            ValidationError(
                f"step {step.id!r} on failure goes {why}: the failure would repeat without end",
                span=doc.span(ptr),
                hint="goto a later step or a rollback step; to try again use retries:",
                rule="RB115",
            )
        )
    return findings


def bounds_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB116: retries, backoff and durations within bounds a run can honour."""
    findings: list[RunbookError] = []

    def check(ptr: str, value: float | None, limit: float, what: str, shown: str) -> None:
        if value is not None and value > limit:
            findings.append(
                ValidationError(
                    f"{what} {value if isinstance(value, int) else f'{value:.0f}'} is more than {shown}",
                    span=doc.span(ptr),
                    hint=f"{what} may be at most {shown}",
                    rule="RB116",
                )
            )

    for step in every_step(runbook):
        check(f"{step.pointer}/retries", step.retries, MAX_RETRIES, "retries", str(MAX_RETRIES))
        check(f"{step.pointer}/backoff", step.backoff, MAX_BACKOFF, "backoff", f"{MAX_BACKOFF:g}")
        for key in ("timeout", "delay"):
            check(f"{step.pointer}/{key}", getattr(step, key), MAX_SECONDS, f"{key} (seconds)", "30 days")
    window = runbook.window
    if window is not None:
        for key in ("max_duration", "downtime_budget"):
            check(f"/window/{key}", getattr(window, key), MAX_SECONDS, f"{key} (seconds)", "30 days")
    for decision in runbook.decisions:
        check(f"{decision.pointer}/after", decision.after, MAX_SECONDS, "after (seconds)", "30 days")
    return findings


def timezone_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB117: ``window.timezone`` must name an IANA zone the run can load."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    window = runbook.window
    if window is None or not window.timezone:
        return []
    try:
        ZoneInfo(window.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        return [
            ValidationError(
                f"unknown time zone {window.timezone!r}",
                span=doc.span("/window/timezone"),
                hint="an IANA name such as UTC, Europe/Berlin or America/Los_Angeles",
                rule="RB117",
            )
        ]
    return []


def capture_findings(
    doc: Document,
    runbook: Runbook,
    step_fields: Mapping[str, tuple[Mapping[str, str], Mapping[str, str]]],
    supplied: frozenset[str],
) -> list[RunbookError]:
    """Capture expressions parse and name only fields the step's executor has, like
    ``expect`` (RB300): they are evaluated after the command ran, too late to fail."""
    from runbook_engine import predicates

    findings: list[RunbookError] = []
    for step in every_step(runbook):
        fields, host_fields = step_fields.get(step.executor, ({}, {}))
        for name, text in step.capture.items():
            ptr = f"{step.pointer}/capture/{escape(name)}"
            if not isinstance(text, str):
                continue
            try:
                expr = predicates.parse(text)
            except PredicateError as exc:
                exc.span = doc.inner_span(ptr, exc.offset, exc.length)
                findings.append(exc)
                continue
            for problem in predicates.check_names(expr, fields, host_fields, supplied, expect_bool=False):
                problem.span = doc.inner_span(ptr, problem.offset, problem.length)
                findings.append(problem)
    return findings
