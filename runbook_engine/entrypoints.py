"""Entry points of a group, found the way importlib.metadata finds them.

Executors (``runbook_engine.executors``) and import recognizers
(``runbook_engine.importers``) are plugins, built-in ones included. Importing
importlib.metadata costs every `runbook lint` ~13 ms (it brings email, zipfile and
csv), so the common case, ``*.dist-info``/``*.egg-info`` folders in the folders of
``sys.path``, is read here; wherever importlib.metadata would look further (a zip or
an egg on the path, another distribution finder) it is asked instead.
tests/unit/test_entrypoints.py checks both find the same entry points in the same order.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, reduce
from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from importlib.metadata import Distribution


class EntryPoint(Protocol):
    """What the registry uses of an entry point (``importlib.metadata.EntryPoint`` too)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> str: ...
    @property
    def dist(self) -> Distribution | None: ...
    def load(self) -> Any: ...


#: ``module:attr.attr [extras]``, as importlib.metadata reads an entry point's value.
_VALUE = re.compile(r"(?P<module>[\w.]+)\s*(:\s*(?P<attr>[\w.]+)\s*)?((?P<extras>\[.*\])\s*)?$")


@dataclass(frozen=True)
class DeclaredEntryPoint:
    """An entry point of ``GROUP`` as a distribution's ``entry_points.txt`` declares it,
    read without importing importlib.metadata (with email, zipfile and csv, ~13 ms of
    every lint); the distribution's own metadata is read only when asked for."""

    name: str
    value: str
    metadata_dir: str

    def load(self) -> Any:
        match = _VALUE.match(self.value)
        if match is None:
            raise ValueError(f"malformed entry point value {self.value!r}")
        attrs = filter(None, (match.group("attr") or "").split("."))
        return reduce(getattr, attrs, import_module(match.group("module")))

    @property
    def dist(self) -> Distribution:
        return _distribution(self.metadata_dir)


@cache
def _distribution(metadata_dir: str) -> Distribution:
    """One ``Distribution`` per metadata folder, so its entry points share it."""
    from importlib.metadata import PathDistribution
    from pathlib import Path

    return PathDistribution(Path(metadata_dir))


def _normalize(name: str) -> str:
    """PEP 503 normalization with dashes as underscores, as importlib.metadata keys
    distributions (the first one on ``sys.path`` of each name is the one used)."""
    return re.sub(r"[-_.]+", "-", name).lower().replace("-", "_")


def declared(group: str) -> list[DeclaredEntryPoint] | None:
    """The group's entry points from the ``*.dist-info``/``*.egg-info`` folders of the
    folders on ``sys.path``, in importlib.metadata's order; None where that is not all
    it would search (a zip or an egg on the path, another distribution finder)."""
    from importlib.machinery import PathFinder

    if any(hasattr(f, "find_distributions") and f is not PathFinder for f in sys.meta_path):
        return None
    seen: set[str] = set()
    found: list[DeclaredEntryPoint] = []
    for entry in sys.path:
        root = entry or "."
        try:
            children = os.listdir(root)
        except OSError:
            if os.path.exists(root):
                return None  # a zip file: only importlib.metadata reads those
            continue
        if os.path.basename(root).lower().endswith(".egg"):
            return None
        for child in children:
            low = child.lower()
            if not low.endswith((".dist-info", ".egg-info")):
                continue
            name = _normalize(low.rpartition(".")[0].partition("-")[0])
            if name in seen:
                continue
            seen.add(name)
            metadata_dir = os.path.join(root, child)
            try:
                with open(os.path.join(metadata_dir, "entry_points.txt"), encoding="utf-8") as handle:
                    text = handle.read()
            except (FileNotFoundError, IsADirectoryError, NotADirectoryError, PermissionError):
                continue
            found.extend(
                DeclaredEntryPoint(key, value, metadata_dir)
                for section, key, value in _sections(text)
                if section == group
            )
    return found


def _sections(text: str) -> list[tuple[str, str, str]]:
    """(section, name, value) of each ``name = value`` line, as importlib.metadata
    parses ``entry_points.txt``."""
    pairs: list[tuple[str, str, str]] = []
    section: str | None = None
    for line in map(str.strip, text.splitlines()):
        if not line or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line.strip("[]")
            continue
        if section is not None and "=" in line:
            name, value = line.split("=", 1)
            pairs.append((section, name.strip(), value.strip()))
    return pairs


@cache
def entry_points(group: str) -> tuple[EntryPoint, ...]:
    """The group's entry points, sorted by name."""
    found: Sequence[EntryPoint] | None = declared(group)
    if found is None:
        from importlib.metadata import entry_points as metadata_entry_points

        found = list(metadata_entry_points(group=group))
    return tuple(sorted(found, key=lambda ep: ep.name))
