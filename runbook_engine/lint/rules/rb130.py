"""RB130: manual gate is inconsistent. See docs/lint-rules.md#rb130."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB130",
    name="manual gate is inconsistent",
    summary="Manual gate is inconsistent.",
    description=(
        "The gate must be one the engine can answer: a quorum (`approvals.required`) no "
        "larger than the approvers it lists, approvers given once (`approvers` or "
        "`approvals.from`), and `on_timeout`/`on_reject` among `abort`, `rollback`, "
        "`continue`. See [approvals.md](approvals.md)."
    ),
    configurable=True,
)
