"""What a step does to the world: only reads (``read-only``), changes something
(``changes``), or cannot be told (``unknown``).

The step's own ``changes:`` key wins (``changes: false`` for a status check written as
a shell command); otherwise the executor says, from the step's spec: an http GET, a
sql SELECT, a migration status, a prerequisite ``check:`` and a wait only read; an
http POST, a migration, a copy and a notification change something; a command could
do anything. A plugin executor tells by an optional ``effect(spec) -> str`` class
method returning one of the three words. `runbook plan` shows the verdict per step and
``plan --probe`` runs the read-only steps for real; lint checks that ``changes: false``
is plausible (RB118, RB119).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from runbook_engine.model import Step

Effect = Literal["read-only", "changes", "unknown"]
READ_ONLY: Effect = "read-only"
CHANGES: Effect = "changes"
UNKNOWN: Effect = "unknown"

_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_SQL_READ = re.compile(r"^\s*(select|with|show|explain|describe|values)\b", re.I)
_SQL_WRITE = re.compile(
    r"\b(insert|update|delete|merge|create|alter|drop|truncate|grant|revoke|replace|call|copy|vacuum|attach|pragma)\b",
    re.I,
)
_SQL_COMMENT = re.compile(r"--[^\n]*|/\*.*?\*/", re.S)


@dataclass(frozen=True)
class Verdict:
    """What a step does to the system, and the reason given for saying so."""

    effect: Effect
    why: str


def classify(step: Step) -> Verdict:
    """The step's effect and why (the step's ``changes:`` key, else its executor)."""
    if step.changes is False:
        return Verdict(READ_ONLY, "changes: false")
    if step.changes is True:
        return Verdict(CHANGES, "changes: true")
    if step.phase == "prerequisites":
        return Verdict(READ_ONLY, "a prerequisite check")
    return executor_effect(step.executor, step.spec)


def executor_effect(key: str, spec: Any) -> Verdict:
    """What the executor ``key`` says a step with ``spec`` does."""
    builtin = _BUILTIN.get(key)
    if builtin is not None:
        return builtin(spec)
    from runbook_engine.errors import RunbookError
    from runbook_engine.executors.registry import executor_class

    try:
        hook = getattr(executor_class(key), "effect", None)
    except RunbookError:
        hook = None
    if callable(hook):
        said = hook(spec)
        if said in (READ_ONLY, CHANGES, UNKNOWN):
            return Verdict(said, f"the {key} executor says so")
    return Verdict(UNKNOWN, f"the {key} executor cannot tell; say changes: false if it only reads")


def _http(spec: Any) -> Verdict:
    method = str(spec.get("method", "GET")) if isinstance(spec, Mapping) else "GET"
    if "{{" in method or "{%" in method:
        return Verdict(UNKNOWN, "an http request whose method is a template")
    if method.upper() in _SAFE_METHODS:
        return Verdict(READ_ONLY, f"an http {method.upper()}")
    return Verdict(CHANGES, f"an http {method.upper()}")


def sql_reads_only(text: str) -> bool:
    """Whether a query only reads: it starts like a SELECT and names no writing
    statement anywhere (a CTE may hide a DELETE)."""
    bare = _SQL_COMMENT.sub(" ", text)
    return bool(_SQL_READ.match(bare)) and not _SQL_WRITE.search(bare)


def _sql(spec: Any) -> Verdict:
    if not isinstance(spec, Mapping):
        return Verdict(UNKNOWN, "a sql step")
    if "migration_status" in spec:
        return Verdict(READ_ONLY, "a migration status")
    if "migrate" in spec or "rollback" in spec:
        return Verdict(CHANGES, "a migration")
    if "script" in spec:
        return Verdict(CHANGES, "a sql script")
    query = spec.get("query")
    if isinstance(query, str):
        if sql_reads_only(query):
            return Verdict(READ_ONLY, "a sql SELECT")
        return Verdict(CHANGES, "a sql statement that writes")
    return Verdict(UNKNOWN, "a sql step")


def _monitor(spec: Any) -> Verdict:
    probe = spec.get("probe") if isinstance(spec, Mapping) else None
    if isinstance(probe, Mapping):
        from runbook_engine.model import COMMON_STEP_KEYS

        keys = [k for k in probe if k not in COMMON_STEP_KEYS]
        if len(keys) == 1:
            inner = executor_effect(keys[0], probe[keys[0]])
            return Verdict(inner.effect, f"a monitor whose probe is {inner.why}")
    return Verdict(UNKNOWN, "a monitor")


_BUILTIN: dict[str, Callable[[Any], Verdict]] = {
    "http": _http,
    "sql": _sql,
    "monitor": _monitor,
    "wait": lambda spec: Verdict(READ_ONLY, "a wait"),
    "notify": lambda spec: Verdict(CHANGES, "sends a notification"),
    "copy": lambda spec: Verdict(CHANGES, "copies files to hosts"),
    "manual": lambda spec: Verdict(UNKNOWN, "a person acts"),
}
