"""Literal values that recur in a procedure's commands → vars.

A release such as ``v2.4.0`` typed in twenty commands, or ``/opt/ansible/fluffy-potato``
in every ansible line, is an input of the runbook: it becomes a var (the literal as
its example or default) and the commands use ``{{ name }}``. Only values made of
characters the shell never interprets qualify, so the template renders to exactly
the command the procedure wrote.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_VERSION = re.compile(r"(?<![\w.])v\d+\.\d+\.\d+(?:-[a-z0-9]+)?(?![\w.]*\w)")
_PATH = re.compile(r"(?<![\w.:/~$-])/(?:[A-Za-z0-9_.@+-]+/)+[A-Za-z0-9_.@+-]*")
_SYSTEM_DIRS = frozenset({"/tmp", "/dev", "/proc", "/sys", "/etc", "/bin", "/usr", "/var/tmp", "/usr/bin", "/usr/local", "/var", "/opt", "/home", "/srv", "/var/log", "/usr/local/bin"})
_GENERIC = frozenset({"opt", "usr", "var", "srv", "home", "local", "data", "share", "lib"})


@dataclass(frozen=True)
class LiteralVar:
    name: str
    literal: str
    spec: dict[str, Any]


def find_literal_vars(texts: Iterable[str]) -> list[LiteralVar]:
    """Vars for the releases and directories that recur in ``texts``."""
    corpus = list(texts)
    found: list[LiteralVar] = []
    versions = Counter(m.group(0) for text in corpus for m in _VERSION.finditer(text))
    names = iter(["version", "previous_version"] + [f"version_{n}" for n in range(3, 100)])
    for literal, count in sorted(versions.items(), key=lambda item: (-item[1], item[0])):
        if count < 2 and found:
            continue
        name = next(names, None)
        if name is None:
            break
        found.append(
            LiteralVar(
                name,
                literal,
                {
                    "type": "string",
                    "pattern": r"^v\d+\.\d+\.\d+(-[a-z0-9]+)?$",
                    "required": True,
                    "description": f"Release{' before the update' if name == 'previous_version' else ''}, e.g. {literal}",
                },
            )
        )
    taken = {v.name for v in found}
    for directory in _recurring_dirs(corpus):
        name = _dir_name(directory, taken)
        taken.add(name)
        found.append(LiteralVar(name, directory, {"type": "path", "default": directory}))
    return found


def _recurring_dirs(corpus: list[str]) -> list[str]:
    """Directory prefixes used at least twice, the longest that keeps the count, none
    inside another chosen one; in order of first appearance."""
    counts: Counter[str] = Counter()
    first: dict[str, int] = {}
    position = 0
    for text in corpus:
        for match in _PATH.finditer(text):
            parts = match.group(0).rstrip("/").split("/")[1:]
            is_dir = match.group(0).endswith("/") or text[: match.start()].rstrip().endswith("cd")
            if not is_dir:
                parts = parts[:-1]  # a file, or a name the shell completes: not a directory
            for depth in range(2, len(parts) + 1):
                prefix = "/" + "/".join(parts[:depth])
                counts[prefix] += 1
                first.setdefault(prefix, position)
                position += 1
    chosen: list[str] = []
    for prefix, count in counts.items():
        if count < 2 or prefix in _SYSTEM_DIRS or "." in prefix.rsplit("/", 1)[-1]:
            continue
        parent = prefix.rsplit("/", 1)[0]
        if parent not in _SYSTEM_DIRS and counts.get(parent, 0) >= 2 and counts[parent] > count:
            continue  # the parent is the shared directory
        if any(counts[c] == count and c.startswith(prefix + "/") for c in counts):
            continue  # a deeper directory accounts for every use
        chosen.append(prefix)
    chosen = [p for p in chosen if not any(p != q and p.startswith(q + "/") for q in chosen)]
    return sorted(chosen, key=lambda p: first[p])


def _dir_name(directory: str, taken: set[str]) -> str:
    parts = [p for p in directory.strip("/").split("/") if p not in _GENERIC]
    words = [re.sub(r"[^a-z0-9]+", "_", p.lower()).strip("_") for p in parts] or ["base"]
    for size in range(1, len(words) + 1):
        name = "_".join(words[-size:]) + "_dir"
        name = name if re.match(r"[a-z_]", name) else "d_" + name
        if name not in taken:
            return name
    n = 2
    while f"{words[-1]}_dir_{n}" in taken:
        n += 1
    return f"{words[-1]}_dir_{n}"


def substitute(text: str, literal_vars: Iterable[LiteralVar]) -> str:
    """``text`` with each literal replaced by ``{{ name }}``; paths only where they
    start a path (``/opt/app`` in ``/opt/app/VERSION``, not in ``/opt/apps``)."""
    for var in sorted(literal_vars, key=lambda v: len(v.literal), reverse=True):
        if var.literal.startswith("/"):
            pattern = re.compile(rf"(?<![\w.-]){re.escape(var.literal)}(?=/|$|[\s\"';:,)|&>])")
        else:
            pattern = re.compile(rf"(?<![\w.]){re.escape(var.literal)}(?![\w]|\.\d)")
        text = pattern.sub("{{ " + var.name + " }}", text)
    return text
