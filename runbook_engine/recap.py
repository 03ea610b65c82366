"""Ansible's per-host recap (``ok=3 changed=1 failed=0 skipped=1``) as people read it
at the end of a playbook: the live log's one line per host and the report's host rows
say it in the same words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

#: The counters in the order ansible-playbook's recap prints them.
RECAP_ORDER = ("ok", "changed", "failed", "unreachable", "skipped", "rescued", "ignored")
#: Always shown, even at 0; the others only when they are not.
ALWAYS = ("ok", "changed", "failed")


def is_recap(fields: Mapping[str, Any]) -> bool:
    """Whether a host's fields are Ansible counters (``ok`` is a count there)."""
    failed = fields.get("failed")
    return "changed" in fields and isinstance(failed, int) and not isinstance(failed, bool)


def recap_text(fields: Mapping[str, Any]) -> str:
    return " ".join(
        f"{key}={fields[key]}"
        for key in RECAP_ORDER
        if isinstance(fields.get(key), int)
        and not isinstance(fields.get(key), bool)
        and (fields[key] or key in ALWAYS)
    )
