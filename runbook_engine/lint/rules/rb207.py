"""RB207: unknown template filter or test. See docs/lint-rules.md#rb207."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB207",
    name="unknown template filter or test",
    summary="Unknown template filter or test.",
    description=(
        "A filter or test the sandbox does not have; rendering would fail. The hint names "
        "the closest known one."
    ),
    configurable=True,
)
