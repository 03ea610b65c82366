"""Discovers executors through the ``runbook_engine.executors`` entry-point group.

Built-in executors are registered there too (pyproject.toml), so a third-party
plugin is found exactly the way ``shell`` is.
"""

from __future__ import annotations

from functools import lru_cache
from typing import cast

from runbook_engine.entrypoints import EntryPoint, entry_points
from runbook_engine.errors import PluginError
from runbook_engine.executors.base import Executor

GROUP = "runbook_engine.executors"


def _package(ep: EntryPoint) -> str:
    return ep.dist.name if ep.dist is not None else ep.value.split(":")[0]


def _load(ep: EntryPoint) -> type[Executor]:
    try:
        cls = ep.load()
    except Exception as exc:  # a broken plugin must not take the CLI down with a traceback
        package = _package(ep)
        raise PluginError(
            f"executor plugin {ep.name!r} from package {package!r} failed to load: {exc}",
            hint=f"reinstall or remove {package}",
        ) from exc
    for attr in ("key", "schema", "fields", "run"):
        if not hasattr(cls, attr):
            package = _package(ep)
            raise PluginError(
                f"executor plugin {ep.name!r} from package {package!r} has no {attr!r}",
                hint="see docs/plugins.md for the executor protocol",
            )
    return cast("type[Executor]", cls)


@lru_cache(maxsize=1)
def executor_classes() -> dict[str, type[Executor]]:
    """Step key → executor class, for every installed executor."""
    return {ep.name: _load(ep) for ep in entry_points(GROUP)}


def executor_class(key: str) -> type[Executor]:
    classes = executor_classes()
    if key not in classes:
        raise PluginError(
            f"no executor is installed for step key {key!r}",
            hint=f"installed: {', '.join(sorted(classes))}",
        )
    return classes[key]


def distribution_of(key: str) -> tuple[str, str]:
    """(package name, version) that provides the executor ``key``."""
    return _providers().get(key, ("unknown", "unknown"))


@lru_cache(maxsize=1)
def _providers() -> dict[str, tuple[str, str]]:
    """Step key → (package, version), parsing each distribution's metadata once: most
    executors share one distribution and every ``.name``/``.version`` re-reads it."""
    by_dist: dict[int, tuple[str, str]] = {}
    providers: dict[str, tuple[str, str]] = {}
    for ep in entry_points(GROUP):
        if ep.dist is None or ep.name in providers:
            continue
        if id(ep.dist) not in by_dist:
            by_dist[id(ep.dist)] = (ep.dist.name, ep.dist.version)
        providers[ep.name] = by_dist[id(ep.dist)]
    return providers
