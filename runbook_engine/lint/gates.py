"""Lint of manual gates: the very `parse_gate` the engine runs, so lint refuses exactly
the gates the engine would refuse (a quorum larger than its approvers, the
approvers given twice) before anything runs."""

from __future__ import annotations

from runbook_engine.errors import ExecutorError, RunbookError, ValidationError
from runbook_engine.gates import parse_gate
from runbook_engine.loader import Document
from runbook_engine.model import Runbook

RULE = "RB130"


def gate_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    findings: list[RunbookError] = []
    for step in runbook.all_steps():
        if step.executor != "manual":
            continue
        try:
            parse_gate(step.spec)
        except ExecutorError as exc:
            findings.append(
                ValidationError(
                    f"step {step.id!r}: {exc.message.removeprefix('manual: ')}",
                    span=doc.span(f"{step.pointer}/manual"),
                    hint=exc.hint,
                    rule=RULE,
                )
            )
    return findings
