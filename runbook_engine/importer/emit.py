"""The draft as YAML text, with the importer's comments where a reviewer needs them.

PyYAML cannot write comments, so the layout is written here and PyYAML only
renders scalars (quoting whatever YAML would misread). Block scalars carry an
explicit indentation indicator, so a command starting with spaces survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import yaml

from runbook_engine.importer.draft import Draft, DraftDecision, DraftPhase, DraftStep


@dataclass(frozen=True)
class Commented:
    """A value with comment lines written before its key or list item."""

    value: Any
    comments: tuple[str, ...] = ()


def comment_lines(text: str, prefix: str = "") -> list[str]:
    """``text`` as comment lines (one per line of text, never empty)."""
    lines = [line.rstrip() for line in text.split("\n")]
    lines = [line for line in lines if line.strip()] or [""]
    return [f"{prefix}{lines[0]}"] + [f"  {line}" for line in lines[1:]]


def todo(text: str) -> list[str]:
    return comment_lines(text, "TODO: ")


#: Strings YAML reads back as the same string when written bare.
_PLAIN = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*( [A-Za-z0-9_./()-]+)*")
_RESERVED = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null", "nan", "inf"})


def scalar(value: Any) -> str:
    """One-line YAML for a scalar."""
    if value is None:
        return "null"
    if isinstance(value, str) and _PLAIN.fullmatch(value) and value.lower() not in _RESERVED:
        return value
    return _dumped(value)


@lru_cache(maxsize=4096)
def _dumped(value: Any) -> str:
    text: str = yaml.safe_dump(value, allow_unicode=True, width=10**9, default_flow_style=True)
    text = text.rstrip("\n")
    if text.endswith("\n..."):
        text = text[: -len("\n...")]
    return text.replace("\n", " ") if not isinstance(value, str) else text


def _block(value: str, indent: int) -> list[str] | None:
    """``value`` as a literal block scalar (header + lines), or None when YAML
    needs the quoted form (tabs at a line start, a lone trailing space line)."""
    if "\n" not in value.rstrip("\n") or any(line.lstrip(" ").startswith("\t") for line in value.split("\n")):
        return None
    if value.endswith("\n\n") or value.startswith("\n"):
        return None
    chomp = "" if value.endswith("\n") else "-"
    body = value[:-1] if value.endswith("\n") else value
    pad = " " * indent
    lines = [(pad + line) if line else "" for line in body.split("\n")]
    if any(line.endswith(" ") for line in lines):
        return None
    indicator = "2" if body.startswith(" ") else ""
    return [f"|{indicator}{chomp}", *lines]


def render(value: Any, indent: int = 0) -> list[str]:
    """Lines of a mapping or list (values may be ``Commented``)."""
    pad = " " * indent
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            comments: tuple[str, ...] = ()
            if isinstance(item, Commented):
                comments, item = item.comments, item.value
            lines.extend(f"{pad}# {c}".rstrip() for c in comments)
            lines.extend(_entry(f"{pad}{scalar(str(key))}:", item, indent))
        return lines
    for item in value:
        comments = ()
        if isinstance(item, Commented):
            comments, item = item.comments, item.value
        lines.extend(f"{pad}# {c}".rstrip() for c in comments)
        if isinstance(item, dict) and item:
            first_comments = _first_comments(item)
            lines.extend(f"{pad}# {c}".rstrip() for c in first_comments)
            inner = render(_strip_first_comments(item), indent + 2)
            lines.append(f"{pad}- {inner[0][indent + 2:]}")
            lines.extend(inner[1:])
        elif isinstance(item, list) and item:
            inner = render(item, indent + 2)
            lines.append(f"{pad}- {inner[0][indent + 2:]}")
            lines.extend(inner[1:])
        else:
            lines.extend(_entry(f"{pad}-", item, indent))
    return lines


def _first_comments(item: dict[str, Any]) -> tuple[str, ...]:
    first = next(iter(item.values()))
    return first.comments if isinstance(first, Commented) else ()


def _strip_first_comments(item: dict[str, Any]) -> dict[str, Any]:
    key = next(iter(item))
    first = item[key]
    if isinstance(first, Commented):
        return {key: first.value, **{k: v for k, v in item.items() if k != key}}
    return item


def _entry(head: str, item: Any, indent: int) -> list[str]:
    if isinstance(item, dict):
        return [f"{head} {{}}"] if not item else [head, *render(item, indent + 2)]
    if isinstance(item, list):
        return [f"{head} []"] if not item else [head, *render(item, indent + 2)]
    if isinstance(item, str):
        block = _block(item, indent + 2)
        if block is not None:
            return [f"{head} {block[0]}", *block[1:]]
    return [f"{head} {scalar(item)}"]


def draft_data(draft: Draft) -> dict[str, Any]:
    """The draft as YAML-ready data with ``Commented`` values."""
    data: dict[str, Any] = {"runbook": 1, "name": draft.name, "title": draft.title}
    top_todos = [*draft.todos, *([] if draft.success else draft.success_todos)]
    if top_todos:
        data["runbook"] = Commented(1, tuple(line for t in top_todos for line in todo(t)))
    if draft.description:
        data["description"] = draft.description
    if draft.owners:
        data["owners"] = draft.owners
    if draft.frequency:
        data["frequency"] = draft.frequency
    if draft.window:
        data["window"] = dict(draft.window)
    if draft.vars:
        data["vars"] = dict(draft.vars)
    if draft.inventory:
        data["inventory"] = draft.inventory
    if draft.prerequisites:
        data["prerequisites"] = list(draft.prerequisites)
    data["phases"] = [_phase(phase) for phase in draft.phases]
    if draft.rollback is not None and draft.rollback.steps:
        rollback: dict[str, Any] = {"title": draft.rollback.title}
        if draft.rollback.description:
            rollback["description"] = "\n".join(draft.rollback.description)
        rollback["steps"] = [_step(step) for step in draft.rollback.steps]
        data["rollback"] = rollback
    if draft.decisions:
        data["decisions"] = [_decision(d) for d in draft.decisions]
    if draft.notify:
        data["notify"] = dict(draft.notify)
    if draft.success:
        data["success"] = Commented(dict(draft.success), tuple(line for t in draft.success_todos for line in todo(t)))
    if draft.notes:
        data["notes"] = dict(draft.notes)
    return data


def _phase(phase: DraftPhase) -> Commented | dict[str, Any]:
    out: dict[str, Any] = {"id": phase.id, "title": phase.title}
    if phase.description:
        out["description"] = "\n".join(phase.description)
    if phase.budget:
        out["budget"] = phase.budget
    if phase.downtime:
        out["downtime"] = phase.downtime
    out["steps"] = [_step(step) for step in phase.steps]
    if phase.todos:
        return Commented(out, tuple(line for t in phase.todos for line in todo(t)))
    return out


def _step(step: DraftStep) -> Commented:
    out: dict[str, Any] = {"id": step.id, "title": step.title}
    if step.description:
        out["description"] = "\n".join(step.description)
    out[step.executor] = step.spec
    if step.hosts:
        out["hosts"] = step.hosts
    if step.expect:
        text = " and ".join(step.expect)
        sources = tuple(line for s in step.expect_sources for line in comment_lines(s, "from: "))
        out["expect"] = Commented(text, sources)
    if step.on_failure:
        out["on_failure"] = step.on_failure
    return Commented(out, _review(step.comments, step.todos))


def _review(comments: list[str], todos: list[str]) -> tuple[str, ...]:
    """Comment lines for a reviewer: notes first, then the TODOs."""
    return (*(line for c in comments for line in comment_lines(c)), *(line for t in todos for line in todo(t)))


def _decision(decision: DraftDecision) -> Commented:
    out: dict[str, Any] = {"condition": decision.condition, "when": decision.when}
    if decision.severity:
        out["severity"] = decision.severity
    out["action"] = decision.action
    if decision.after:
        out["after"] = decision.after
    if decision.description:
        out["description"] = decision.description
    return Commented(out, _review(decision.comments, decision.todos))


def emit(draft: Draft) -> str:
    header = [
        f"# Draft imported by `runbook import` from {draft.source}." if draft.source else "# Draft imported by `runbook import`.",
        "# Review every TODO; `runbook lint` and `runbook explain` work on it as it is.",
    ]
    return "\n".join([*header, *render(draft_data(draft))]) + "\n"
