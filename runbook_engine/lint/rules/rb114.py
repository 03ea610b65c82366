"""RB114: rollout key that has no effect. See docs/lint-rules.md#rb114."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB114",
    name="rollout key that has no effect",
    summary="Rollout key that has no effect.",
    description=(
        "`forks`, `serial`, `max_fail_percentage`, `max_concurrency` and `max_errors` act "
        "only on a step with `hosts:` whose executor fans out and honours that key; "
        "anywhere else the key would be silently ignored, so lint rejects it."
    ),
    configurable=True,
)
