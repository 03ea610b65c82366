"""RB203: template refused by the sandbox. See docs/lint-rules.md#rb203."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB203",
    name="template refused by the sandbox",
    summary="Template refused by the sandbox.",
    description=(
        "Reported when a step is rendered (plan, run): templates run in Jinja2's sandbox, "
        "so reaching into Python internals is refused."
    ),
)
