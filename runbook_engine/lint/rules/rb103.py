"""RB103: a step needs exactly one executor key. See docs/lint-rules.md#rb103."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB103",
    name="a step needs exactly one executor key",
    summary="A step needs exactly one executor key.",
    description=(
        "Every step has exactly one of `shell`, `ssh`, `ansible`, `sql`, `http`, "
        "`notify`, `wait`, `monitor`, `manual` or an installed plugin's key (`runbook "
        "plugins`)."
    ),
)
