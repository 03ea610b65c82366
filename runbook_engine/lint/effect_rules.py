"""Lint rules on ``changes: false`` (engine/effects.py), one function per rule: a step
its executor knows changes things cannot say it does not (RB118), and a command that
looks like it writes probably does (RB119, a warning). ``plan --probe`` runs the steps
that say ``changes: false``, so the claim must be plausible."""

from __future__ import annotations

import re
from collections.abc import Mapping

from runbook_engine.effects import CHANGES, executor_effect
from runbook_engine.errors import LintWarning, RunbookError, ValidationError
from runbook_engine.loader import Document
from runbook_engine.model import Runbook, Step

#: Commands and redirections that write; a heuristic, hence a warning.
_WRITES = re.compile(
    r"(?:^|[;&|(]\s*|\bsudo\s+)(rm|mv|cp|mkdir|rmdir|touch|ln|dd|chmod|chown|truncate|tee|kill|pkill|useradd|"
    r"tar\s+-?[a-zA-Z]*x[a-zA-Z]*|sed\s+-i|systemctl\s+(?:start|stop|restart|reload|enable|disable)|"
    r"service\s+\S+\s+(?:start|stop|restart)|apt(?:-get)?\s+install|yum\s+install|dnf\s+install|pip\s+install)\b"
    r"|(?<![0-9&>])>{1,2}\s*(?!/dev/null|&)",
)


def _command(step: Step) -> str | None:
    if isinstance(step.spec, str):
        return step.spec
    if isinstance(step.spec, Mapping) and isinstance(step.spec.get("command"), str):
        return str(step.spec["command"])
    return None


def changes_contradicted(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB118: ``changes: false`` on a step its executor says changes something."""
    findings: list[RunbookError] = []
    for step in runbook.every_step():
        if step.changes is not False:
            continue
        verdict = executor_effect(step.executor, step.spec)
        if verdict.effect == CHANGES:
            findings.append(
                ValidationError(
                    f"step {step.id!r} says changes: false, but it is {verdict.why}",
                    span=step.key_spans.get("changes", step.span),
                    hint="remove changes: false (plan --probe would run this step for real)",
                    rule="RB118",
                )
            )
    return findings


def changes_implausible(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB119 (warning): ``changes: false`` on a command that looks like it writes."""
    findings: list[RunbookError] = []
    for step in runbook.every_step():
        command = _command(step) if step.changes is False and step.executor in ("shell", "ssh") else None
        match = _WRITES.search(command) if command else None
        if match is not None:
            findings.append(
                LintWarning(
                    f"step {step.id!r} says changes: false, but its command writes ({match.group(0).strip()!r})",
                    span=step.key_spans.get("changes", step.span),
                    hint="plan --probe runs changes: false steps for real; remove it unless the command only reads",
                    rule="RB119",
                )
            )
    return findings
