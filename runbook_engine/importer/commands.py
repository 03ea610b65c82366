"""Command recognizers: one shell command → one runbook step, when it is known.

Recognizers are plugins, found through the entry-point group
``runbook_engine.importers`` exactly as executors are found through
``runbook_engine.executors``; the built-in ones (ansible, ssh, curl, psql, scp/rsync,
sleep) are registered there too, in pyproject.toml. A recognizer that does not know
a command returns None and the next one is asked; a command nobody knows stays a
``shell`` step.
"""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Protocol

from runbook_engine.entrypoints import EntryPoint, entry_points
from runbook_engine.errors import PluginError
from runbook_engine.importer.script import Command

GROUP = "runbook_engine.importers"


@dataclass(frozen=True)
class CommandContext:
    """Where a command runs, as far as the procedure said so: the directory of the
    last ``cd``, the host of an interactive ``ssh HOST``, which executors exist."""

    cwd: str | None = None
    remote_host: str | None = None
    executors: frozenset[str] = frozenset()

    def resolve(self, path: str) -> str:
        """``path`` made absolute against ``cwd`` (unchanged without one)."""
        if not path or path.startswith(("/", "~", "$", "{")) or self.cwd is None or "://" in path:
            return path
        joined = posixpath.normpath(posixpath.join(self.cwd, path))
        return joined + "/" if path.endswith("/") and not joined.endswith("/") else joined


@dataclass(frozen=True)
class Translation:
    """A recognised command: the executor key and its spec, the step's host pattern,
    and what a reviewer must look at (``todos``) or should know (``notes``)."""

    executor: str
    spec: Any
    hosts: str | None = None
    todos: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    #: Options that belong to the step, not the executor (e.g. ``limit`` of a playbook).
    options: Mapping[str, Any] = field(default_factory=dict)


class CommandRecognizer(Protocol):
    """What a recognizer plugin provides: a ``name``, a ``priority`` (lower is asked
    first) and ``recognize``."""

    name: str
    priority: int

    def recognize(self, command: Command, context: CommandContext) -> Translation | None: ...


@lru_cache(maxsize=1)
def recognizers() -> tuple[CommandRecognizer, ...]:
    """Every installed recognizer, in the order they are asked."""
    found: list[CommandRecognizer] = []
    for ep in entry_points(GROUP):
        found.append(_load(ep))
    return tuple(sorted(found, key=lambda r: (r.priority, r.name)))


def _load(ep: EntryPoint) -> CommandRecognizer:
    try:
        target = ep.load()
        recognizer = target() if isinstance(target, type) else target
    except Exception as exc:  # a broken plugin must not take the importer down with a traceback
        raise PluginError(f"importer plugin {ep.name!r} failed to load: {exc}", hint="reinstall or remove it") from exc
    for attr in ("name", "priority", "recognize"):
        if not hasattr(recognizer, attr):
            raise PluginError(f"importer plugin {ep.name!r} has no {attr!r}", hint="see docs/import.md")
    return recognizer  # type: ignore[no-any-return]


def recognize(command: Command, context: CommandContext) -> Translation | None:
    """The first recognizer's translation of ``command``, or None."""
    for recognizer in recognizers():
        translation = recognizer.recognize(command, context)
        if translation is not None:
            return translation
    return None


def installed_executors() -> frozenset[str]:
    """Step keys of the installed executors: a translation may only use those."""
    from runbook_engine.executors.registry import executor_classes

    return frozenset(executor_classes())
