"""RB112: downtime markers out of order. See docs/lint-rules.md#rb112."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook_engine.errors import RunbookError, ValidationError
from runbook_engine.lint.rules import Rule

if TYPE_CHECKING:
    from runbook_engine.loader import Document
    from runbook_engine.model import Runbook

def check(doc: Document, runbook: Runbook, graph: object) -> list[RunbookError]:
    marks = [(phase.downtime, phase) for phase in runbook.phases if phase.downtime]
    kinds = [kind for kind, _ in marks]
    if not marks:
        return []
    if (
        kinds.count("begins") != 1
        or kinds.count("ends") != 1
        or kinds.index("begins") > kinds.index("ends")
    ):
        return [
            ValidationError(
                "downtime markers must be one 'downtime: begins' followed by one 'downtime: ends'",
                span=marks[0][1].span,
                rule="RB112",
            )
        ]
    return []


RULE = Rule(
    id="RB112",
    name="downtime markers out of order",
    summary="Downtime markers out of order.",
    description=(
        "Downtime is measured from the phase marked `downtime: begins` to the end of the "
        "phase marked `downtime: ends`: exactly one of each, `begins` first, or no "
        "markers at all."
    ),
    configurable=True,
    check=check,
)
