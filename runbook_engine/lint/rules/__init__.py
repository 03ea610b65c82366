"""The lint rules as registered objects: one module per rule (``rb101.py`` …), each
defining ``RULE``, a `Rule` with its id, name, default severity, what it is about,
and, for the checks lint runs itself, a ``check`` function. A new rule is one module
here plus one section in docs/lint-rules.md (a test holds both to it).

Most rules are reported by the part of the engine that owns the concept (the loader,
the schema, the graph, the template and predicate checkers), so lint accepts exactly
what the engine evaluates; their modules carry the metadata SARIF, the docs and the
configuration need. Rules whose check is lint's own run through `checks()`.
"""

from __future__ import annotations

import pkgutil
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import import_module
from typing import Any

#: Where the rules are documented, one section per rule (anchor: the rule id in lower case).
DOCS_URL = "https://github.com/runbook-engine/runbook-engine/blob/main/docs/lint-rules.md"

SEVERITIES = ("error", "warning")

#: The check of a rule lint runs itself: (document, runbook, graph) → findings.
Check = Callable[[Any, Any, Any], Sequence[Any]]


@dataclass(frozen=True)
class Rule:
    """A lint rule: its id, documentation and default severity, and its check if it has one."""

    id: str
    name: str
    summary: str
    description: str
    severity: str = "error"
    #: False for rules the engine needs to hold to build or run the runbook at all (a
    #: YAML, schema or graph error): those cannot be disabled or turned into warnings.
    configurable: bool = False
    check: Check | None = None

    @property
    def help_uri(self) -> str:
        return f"{DOCS_URL}#{self.id.lower()}"


_MODULE = re.compile(r"rb\d{3}")


@lru_cache(maxsize=1)
def registry() -> dict[str, Rule]:
    """Every registered rule by id, from the modules of this package."""
    found: dict[str, Rule] = {}
    for info in pkgutil.iter_modules(__path__):
        if _MODULE.fullmatch(info.name):
            rule = import_module(f"{__name__}.{info.name}").RULE
            if rule.id.lower() != info.name:
                raise RuntimeError(f"lint rule module {info.name} defines {rule.id}")
            found[rule.id] = rule
    return dict(sorted(found.items()))


def rule(rule_id: str) -> Rule | None:
    return registry().get(rule_id)


def checks() -> Iterator[Rule]:
    """The rules whose check lint runs itself (after the model and graph are built)."""
    return (r for r in registry().values() if r.check is not None)
