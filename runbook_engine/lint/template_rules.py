"""Lint rules on the templates of a runbook that the name checks do not cover, one
function per rule: a value where a shell cannot keep it data (RB205), and ``| raw``
(RB206, a warning)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from runbook_engine.errors import LintWarning, RunbookError, TemplateError
from runbook_engine.lint.step_rules import every_step
from runbook_engine.loader import Document, escape
from runbook_engine.model import Runbook
from runbook_engine.shell_values import slot, slots
from runbook_engine.templating import has_template, raw_uses, strings_in

#: Executors whose spec string (or ``command``) is a shell command.
SHELL_EXECUTORS = ("shell", "ssh")
_EXPRESSION = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.S)


def _commands(runbook: Runbook) -> Iterable[tuple[str, str]]:
    """(pointer, text) of every shell command template."""
    for step in every_step(runbook):
        if step.executor not in SHELL_EXECUTORS:
            continue
        base = f"{step.pointer}/{escape(step.executor)}"
        if isinstance(step.spec, str):
            yield base, step.spec
        elif isinstance(step.spec, Mapping) and isinstance(step.spec.get("command"), str):
            yield f"{base}/command", step.spec["command"]


def shell_context_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB205: a template in a quoted here-document or in ``$(( ))``, where no value can
    stay data. Found by scanning the command with every ``{{ }}`` as a value slot."""
    findings: list[RunbookError] = []
    for ptr, text in _commands(runbook):
        if not has_template(text):
            continue
        skeleton = _EXPRESSION.sub(lambda m: slot(0) if m.group(0).startswith("{{") and "| raw" not in m.group(0) else "", text)
        try:
            slots(skeleton)
        except TemplateError as exc:
            exc.span = doc.span(ptr)
            findings.append(exc)
    return findings


def _interpolates(text: str) -> bool:
    return any(m.group(0).startswith("{{") and "raw" not in m.group(0) for m in _EXPRESSION.finditer(text))


def sql_text_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB205: a template value in SQL text would become SQL syntax; bind it instead."""
    findings: list[RunbookError] = []
    for step in every_step(runbook):
        if step.executor != "sql" or not isinstance(step.spec, Mapping):
            continue
        for key in ("query", "script"):
            text = step.spec.get(key)
            if isinstance(text, str) and _interpolates(text):
                findings.append(
                    TemplateError(
                        f"sql {key}: a template value would become SQL syntax",
                        span=doc.span(f"{step.pointer}/sql/{key}"),
                        hint="write :name in the SQL and bind it under params: {name: '{{ value }}'}",
                        rule="RB205",
                    )
                )
    return findings


def raw_findings(doc: Document, runbook: Runbook) -> list[RunbookError]:
    """RB206 (warning): ``| raw`` lets a value become syntax; every use is shown."""
    findings: list[RunbookError] = []
    for step in every_step(runbook):
        for ptr, text in strings_in(step.spec, f"{step.pointer}/{escape(step.executor)}"):
            if has_template(text) and raw_uses(text):
                offset = max(text.find("raw"), 0)
                findings.append(
                    LintWarning(
                        "`| raw` pastes this value into the command as syntax",
                        span=doc.inner_span(ptr, offset, 3),
                        hint="only for trusted values; without it the value stays data",
                        rule="RB206",
                    )
                )
    return findings
