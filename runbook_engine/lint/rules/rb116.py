"""RB116: value beyond its bound. See docs/lint-rules.md#rb116."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB116",
    name="value beyond its bound",
    summary="Value beyond its bound.",
    description=(
        "`retries` at most 100, `backoff` at most 10, and `timeout`, `delay`, window "
        "durations and decision `after` at most 30 days: larger values never end a run."
    ),
)
