"""RB119: `changes: false` on a command that looks like it writes. See docs/lint-rules.md#rb119."""

from __future__ import annotations

from runbook_engine.lint.rules import Rule

RULE = Rule(
    id="RB119",
    name="`changes: false` on a command that looks like it writes",
    summary="`changes: false` on a command that looks like it writes.",
    description=(
        "A warning: the command of a `changes: false` shell or ssh step contains "
        "something that writes — `rm`, `mv`, `cp`, `mkdir`, `tar -x`, `sed -i`, "
        "`systemctl restart`, a package install, an output redirection (`>`, `>>`, other "
        "than to `/dev/null`). The check is a heuristic; the claim is what `plan --probe` "
        "trusts, so make it true."
    ),
    severity="warning",
    configurable=True,
)
