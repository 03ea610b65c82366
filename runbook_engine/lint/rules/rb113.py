"""RB113: unknown notify channel. See docs/lint-rules.md#rb113."""

from __future__ import annotations

from typing import TYPE_CHECKING

from runbook_engine.errors import RunbookError, ValidationError
from runbook_engine.lint.rules import Rule

if TYPE_CHECKING:
    from runbook_engine.loader import Document
    from runbook_engine.model import Runbook

def check(doc: Document, runbook: Runbook, graph: object) -> list[RunbookError]:
    findings: list[RunbookError] = []
    for step in runbook.all_steps():
        if step.executor == "notify" and isinstance(step.spec, dict):
            channel = step.spec.get("channel")
            if isinstance(channel, str) and channel not in runbook.notify and channel != "log":
                findings.append(
                    ValidationError(
                        f"notify channel {channel!r} is not declared under notify:",
                        span=doc.span(f"{step.pointer}/notify/channel"),
                        hint=f"declared: {', '.join(sorted(runbook.notify)) or 'none'} (and the built-in 'log')",
                        rule="RB113",
                    )
                )
    return findings


RULE = Rule(
    id="RB113",
    name="unknown notify channel",
    summary="Unknown notify channel.",
    description=(
        "A `notify` step's `channel` must be declared under the top-level `notify:` (or "
        "be the built-in `log`)."
    ),
    configurable=True,
    check=check,
)
