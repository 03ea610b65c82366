"""RB205: a value cannot stay data here. See docs/lint-rules.md#rb205."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB205",
    name="a value cannot stay data here",
    summary="A value cannot stay data here.",
    description=(
        "Every value in a command reaches the shell as an environment variable "
        "([format.md](format.md#values-are-data)). A quoted here-document expands nothing "
        "and `$(( ))` arithmetic re-reads its text as an expression, so a template there "
        "is refused; so is a template in the SQL text (bind it in `params`) and one "
        "inside quotes in the args of Ansible's `shell`/`command`/`raw` modules."
    ),
)
