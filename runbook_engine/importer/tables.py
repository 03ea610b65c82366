"""Tables: a rollback decision matrix → decisions; any other table → notes.

A matrix is a table with a condition column and an action column (and usually a
severity). The condition in words is matched against the steps the importer made:
"Smoke test fails" → ``failed(verify.smoke-tests-…)``; a condition no step matches
keeps its words, ``when: "false"`` and a TODO, so the matrix is complete and lints.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

from runbook_engine.importer.draft import DraftDecision, DraftPhase, DraftStep
from runbook_engine.importer.markdown import Table

_CONDITION = re.compile(r"^(condition|situation|trigger|symptom|if|when|scenario|event|problem|issue)s?$", re.I)
_ACTION = re.compile(r"^(action|response|decision|what to do|then|do)s?$", re.I)
_SEVERITY = re.compile(r"^(severity|priority|level|impact|sev)$", re.I)
_SEVERITIES = {"critical": "critical", "crit": "critical", "p1": "critical", "sev1": "critical", "high": "high", "p2": "high", "sev2": "high", "major": "high", "medium": "medium", "med": "medium", "moderate": "medium", "p3": "medium", "sev3": "medium", "low": "low", "minor": "low", "p4": "low", "sev4": "low"}
_FAILS = re.compile(r"\b(fail\w*|won'?t|will not|cannot|can't|not\s+(start|running|respond\w*)|errors?|down|broken|crash\w*)\b", re.I)
_HOST = re.compile(r"\b(single|one|some|any|partial)\s+(host|server|node)s?\b", re.I)
_STOP = frozenset(["a", "an", "the", "is", "are", "was", "were", "be", "in", "on", "of", "to", "for", "if", "and", "or", "not", "no", "any", "all", "fails", "failed", "failure", "fail", "won't", "wont", "will", "error", "errors", "single", "one", "some", "host", "hosts", "server", "node", "partial", "test", "tests", "after", "before", "with", "than"])
_MINUTES = re.compile(r"\b(?:after|in|within|for)\s+(\d+)\s*(?:min(?:ute)?s?|m)\b", re.I)
_HOURS = re.compile(r"\b(?:after|in|within|for)\s+(\d+)\s*(?:h(?:ou)?rs?|h)\b", re.I)


def is_decision_table(table: Table) -> bool:
    return _column(table, _CONDITION) is not None and _column(table, _ACTION) is not None


def _column(table: Table, pattern: re.Pattern[str]) -> int | None:
    for index, name in enumerate(table.header):
        if pattern.match(name.strip(" *_")):
            return index
    return None


def decisions_from_table(table: Table, phases: Sequence[DraftPhase]) -> list[DraftDecision]:
    condition_col = _column(table, _CONDITION)
    action_col = _column(table, _ACTION)
    severity_col = _column(table, _SEVERITY)
    assert condition_col is not None and action_col is not None
    found = []
    for row in table.rows:
        cells = list(row) + [""] * (len(table.header) - len(row))
        condition = cells[condition_col].strip()
        if not condition:
            continue
        action_text = cells[action_col].strip()
        severity = _SEVERITIES.get(cells[severity_col].strip().lower()) if severity_col is not None else None
        found.append(decision(condition, action_text, severity, phases))
    return found


def decision(condition: str, action_text: str, severity: str | None, phases: Sequence[DraftPhase]) -> DraftDecision:
    """A decision for ``condition`` → ``action_text``, its ``when`` matched to steps."""
    action, after = _action(action_text)
    when, comment = detect(condition, phases)
    result = DraftDecision(
        condition=condition,
        when=when or "false",
        severity=severity,
        action=action,
        after=after,
        description=action_text or None,
    )
    if when is None:
        result.todos.append(f"no step detects {condition!r}: write the predicate (a probe or a step's result)")
    elif comment:
        result.comments.append(comment)
    return result


def _action(text: str) -> tuple[str, str | None]:
    lower = text.lower()
    first = re.split(r"[\s,;:.]+", lower.strip(), maxsplit=1)[0] if lower.strip() else ""
    after = None
    minutes = _MINUTES.search(lower)
    hours = _HOURS.search(lower)
    if minutes:
        after = f"{int(minutes.group(1))}m"
    elif hours:
        after = f"{int(hours.group(1))}h"
    if first in ("investigate", "diagnose", "check", "review"):
        return "investigate", None
    if "rollback" in lower or "roll back" in lower or "revert" in lower:
        immediate = "immediate" in lower
        return "rollback", None if immediate else after
    if first in ("abort", "stop", "halt") or "abort" in lower:
        return "abort", None
    if first in ("monitor", "watch", "warn", "alert", "notify", "escalate", "continue", "proceed"):
        return "warn", None
    return "investigate", None


def detect(condition: str, phases: Sequence[DraftPhase]) -> tuple[str | None, str | None]:
    """A predicate that says ``condition`` happened, from the steps' ids and titles,
    and a comment naming what it matched; (None, None) when nothing matches."""
    words = [w for w in re.findall(r"[a-z][a-z0-9]+", condition.lower()) if w not in _STOP]
    if not words or not _FAILS.search(condition) and not _HOST.search(condition):
        return None, None
    if _HOST.search(condition):
        for phase in phases:
            if all(_mentions(phase.title + " " + phase.id, w) for w in words) or any(_mentions(phase.title, w) for w in words):
                return f"any_host_failed({phase.id})", f"matched phase {phase.title!r}"
    haystacks = [(phase, step, _haystack(phase, step, False)) for phase in phases for step in phase.steps]
    for size in range(len(words), 0, -1):
        for subset in _subsets(words, size):
            patterns = [_stem(w) for w in subset]
            matched = [(phase, step) for phase, step, text in haystacks if all(p.search(text) for p in patterns)]
            if matched:
                return _failed(matched), "matched " + ", ".join(repr(step.title) for _, step in matched[:6])
    # "nginx -t fails": the words before the verb, as a command the steps run
    command = _FAILS.split(condition, maxsplit=1)[0].strip().lower()
    if len(command) >= 3:
        matched = [(phase, step) for phase in phases for step in phase.steps if command in _haystack(phase, step, True)]
        if 0 < len(matched) <= 3:
            return _failed(matched), "matched the commands of " + ", ".join(repr(step.title) for _, step in matched)
    return None, None


def _haystack(phase: DraftPhase, step: DraftStep, with_commands: bool) -> str:
    """The words a condition is matched against: titles and id, then also the command."""
    text = f"{phase.title} {step.title} {step.id}"
    if with_commands:
        text += " " + " ".join(_strings(step.spec))
    return text.lower()


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return []


def _subsets(words: list[str], size: int) -> list[list[str]]:
    """Word subsets of ``size``, keeping order: the whole phrase first, then with one
    word left out (adjectives such as "minor" seldom appear in step titles)."""
    if size == len(words):
        return [words]
    if size == len(words) - 1:
        return [words[:i] + words[i + 1 :] for i in range(len(words))]
    return []


def _failed(matched: list[tuple[DraftPhase, DraftStep]]) -> str:
    """``failed(phase.prefix*)`` when the matched steps of one phase share an id prefix
    no other step of it has, else the steps one by one."""
    phases = {phase.id for phase, _ in matched}
    if len(phases) == 1 and len(matched) > 1:
        phase = matched[0][0]
        ids = [step.id for _, step in matched]
        prefix = _common_prefix(ids)
        others = [s.id for s in phase.steps if s.id not in ids]
        if len(prefix) >= 3 and not any(o.startswith(prefix) for o in others):
            return f"failed({phase.id}.{prefix}*)"
    return " or ".join(f"failed({phase.id}.{step.id})" for phase, step in matched[:6])


def _common_prefix(ids: list[str]) -> str:
    prefix = ids[0]
    for other in ids[1:]:
        while not other.startswith(prefix):
            prefix = prefix[:-1]
    cut = prefix.rfind("-")
    return prefix if prefix in ids or cut < 0 else prefix[: cut + 1]


def _mentions(text: str, word: str) -> bool:
    """``word`` or a form of it in ``text``: "migration" in "Run Database Migrations"."""
    return bool(_stem(word).search(text.lower()))


@lru_cache(maxsize=1024)
def _stem(word: str) -> re.Pattern[str]:
    stem = word[:-1] if word.endswith("s") and len(word) > 4 else word
    stem = stem[:6] if len(stem) > 6 else stem
    return re.compile(rf"\b{re.escape(stem)}")
