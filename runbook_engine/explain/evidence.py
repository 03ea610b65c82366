"""What a real run did at each item of the checklist (`runbook explain --run RUN`):
its status, attempts, timing, per-host results and an excerpt of its output, read
from the run's journal (already redacted) through the report's summary, so the
checklist and the change-ticket report never disagree."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from runbook_engine.journal.events import StepOutput, decode_all
from runbook_engine.report.summary import HostRow, RunReport, StepRow, build_report

#: Output lines shown per step: the first and the last ones, the middle elided.
EXCERPT_HEAD = 3
EXCERPT_TAIL = 3


@dataclass(frozen=True, slots=True)
class StepEvidence:
    row: StepRow
    hosts: tuple[HostRow, ...]
    output: tuple[str, ...]
    omitted: int = 0
    confirmed_by: str | None = None


@dataclass(frozen=True, slots=True)
class RunEvidence:
    report: RunReport
    steps: Mapping[str, StepEvidence] = field(default_factory=dict)


def evidence_of(
    events: Sequence[Mapping[str, Any]],
    *,
    success: Mapping[str, str] | None = None,
    run_id: str | None = None,
) -> RunEvidence:
    report = build_report(events, success=success, run_id=run_id)
    output: dict[str, list[str]] = {}
    for line in decode_all(events, StepOutput):
        if isinstance(line.event, StepOutput):
            host = f"[{line.event.host}] " if line.event.host else ""
            output.setdefault(line.event.step, []).append(f"{host}{line.event.line}")
    confirmed = {
        a.step: a.by for a in report.operator_actions if a.step and a.action in ("confirm", "approve")
    }
    steps: dict[str, StepEvidence] = {}
    for phase in report.phases:
        for row in phase.steps:
            lines = output.get(row.id, [])
            omitted = max(len(lines) - EXCERPT_HEAD - EXCERPT_TAIL, 0)
            excerpt = lines if not omitted else lines[:EXCERPT_HEAD] + lines[-EXCERPT_TAIL:]
            steps[row.id] = StepEvidence(
                row=row,
                hosts=tuple(h for h in report.hosts if h.step == row.id),
                output=tuple(excerpt),
                omitted=omitted,
                confirmed_by=confirmed.get(row.id),
            )
    return RunEvidence(report=report, steps=steps)
