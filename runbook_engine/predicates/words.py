"""Plain English for a predicate, for ``runbook explain`` checklists.

"all failed == 0" becomes "every host reports failed = 0"; "exit_code == 0" becomes
"the exit code is 0". The words follow the tree, so they never drift from what the
engine evaluates.
"""

from __future__ import annotations

from collections.abc import Mapping

from runbook_engine.executors.base import NamedCheck
from runbook_engine.predicates.functions import FUNCTIONS
from runbook_engine.predicates.nodes import (
    And,
    Arith,
    Call,
    Check,
    Compare,
    CountHosts,
    Duration,
    Node,
    Not,
    Or,
    Path,
    Quantifier,
    StepQuery,
)
from runbook_engine.predicates.units import DURATION_UNITS

_SUBJECTS = {
    "rc": "the exit code",
    "exit_code": "the exit code",
    "stdout": "the output",
    "stderr": "the error output",
    "status": "the HTTP status",
    "duration": "the duration",
    "latency": "the latency",
    "rowcount": "the row count",
    "rows": "the rows",
    "text": "the response body",
    "json": "the JSON body",
    "delivered": "the notification was delivered",
    "confirmed_by": "the confirming person",
}
_VERBS = {
    "==": "is",
    "!=": "is not",
    "<": "is less than",
    "<=": "is at most",
    ">": "is more than",
    ">=": "is at least",
    "contains": "contains",
    "not contains": "does not contain",
    "matches": "matches",
    "not matches": "does not match",
    "startswith": "starts with",
    "not startswith": "does not start with",
    "endswith": "ends with",
    "not endswith": "does not end with",
    "in": "is one of",
    "not in": "is not one of",
}
_NEGATED = {
    "==": "!=",
    "!=": "==",
    "<": ">=",
    "<=": ">",
    ">": "<=",
    ">=": "<",
    **{op: f"not {op}" for op in ("contains", "matches", "startswith", "endswith", "in")},
    **{f"not {op}": op for op in ("contains", "matches", "startswith", "endswith", "in")},
}
_HOST_OPS = {"==": "=", "not contains": "does not contain", "not matches": "does not match"}
_QUANTIFIED = {
    "all": "every host reports",
    "any": "at least one host reports",
    "none": "no host reports",
}
_ARITH = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
_UNIT_WORDS = {
    "w": "week",
    "d": "day",
    "h": "hour",
    "m": "minute",
    "s": "second",
    "ms": "millisecond",
}


def to_words(expr: Node, checks: Mapping[str, NamedCheck] | None = None) -> str:
    """The predicate in plain words; named checks use their executor's ``words``."""
    return _Words(checks or {}).say(expr)


class _Words:
    def __init__(self, checks: Mapping[str, NamedCheck]) -> None:
        self.checks = checks

    def say(self, node: Node) -> str:
        if isinstance(node, Compare):
            return f"{self.value(node.left)} {_VERBS[node.op]} {self.value(node.right)}"
        if isinstance(node, And):
            return _join([self.part(op) for op in node.operands], "and")
        if isinstance(node, Or):
            return _join([self.part(op) for op in node.operands], "or")
        if isinstance(node, Not):
            return self.negated(node.operand)
        if isinstance(node, Quantifier):
            return f"{_QUANTIFIED[node.kind]} {self.on_host(node.body)}"
        if isinstance(node, StepQuery):
            return _step_query(node)
        if isinstance(node, Check):
            named = self.checks.get(node.phrase)
            return named.words if named is not None else node.phrase
        if isinstance(node, Path) and len(node.segments) == 2 and node.root == "steps":
            step, state = node.segments
            if state in ("succeeded", "failed", "skipped"):
                return f"step {step} {state}"
        return self.value(node)

    def part(self, node: Node) -> str:
        text = self.say(node)
        return f"({text})" if isinstance(node, And | Or) else text

    def negated(self, node: Node) -> str:
        if isinstance(node, Compare):
            return self.say(Compare(_NEGATED[node.op], node.left, node.right))  # type: ignore[arg-type]
        if isinstance(node, Or):
            parts = [self.part(op) for op in node.operands]
            if len(parts) == 2:
                return f"neither {parts[0]} nor {parts[1]}"
            return "none of: " + "; ".join(parts)
        if isinstance(node, Not):
            return self.say(node.operand)
        return f"not ({self.say(node)})"

    def on_host(self, node: Node) -> str:
        """Inside a quantifier the words stay close to the source: "failed = 0"."""
        if isinstance(node, Compare):
            op = _HOST_OPS.get(node.op, node.op)
            return f"{node.left} {op} {node.right}"
        if isinstance(node, Path):
            return str(node)
        return f"({self.say(node)})" if isinstance(node, And | Or) else self.say(node)

    def value(self, node: Node) -> str:
        if isinstance(node, Path):
            return _subject(node)
        if isinstance(node, Duration):
            return _duration_words(node)
        if isinstance(node, Arith):
            return f"{self.value(node.left)} {_ARITH[node.op]} {self.value(node.right)}"
        if isinstance(node, Call):
            args = ", ".join(self.value(arg) for arg in node.args)
            return f"{FUNCTIONS[node.name].words} {args}"
        if isinstance(node, CountHosts):
            if node.where is None:
                return "the number of hosts"
            return f"the number of hosts where {self.on_host(node.where)}"
        if isinstance(node, Compare | And | Or | Not | Quantifier | StepQuery | Check):
            return f"({self.say(node)})"
        return str(node)


def _join(parts: list[str], word: str) -> str:
    if len(parts) <= 2:
        return f" {word} ".join(parts)
    return ", ".join(parts[:-1]) + f" {word} " + parts[-1]


def _subject(path: Path) -> str:
    if not path.segments and path.root in _SUBJECTS:
        return _SUBJECTS[path.root]
    rest = str(Path("_", path.segments))[1:].lstrip(".")
    if path.root == "json" and path.segments:
        return f"JSON {rest}"
    if path.root == "vars" and len(path.segments) == 1:
        return f"variable {rest}"
    if path.root == "steps" and len(path.segments) == 2:
        return f"{path.segments[1]} of step {path.segments[0]}"
    return str(path)


def _step_query(node: StepQuery) -> str:
    single = not any(char in node.glob for char in "*?[")
    if node.function == "any_host_failed":
        return f"a host failed in phase {node.glob}"
    if node.function == "failed":
        return f"step {node.glob} failed" if single else f"a step matching {node.glob} failed"
    if single:
        return f"step {node.glob} {node.function}"
    return f"every step matching {node.glob} {node.function}"


def _duration_words(node: Duration) -> str:
    text = str(node)
    if not text[-1:].isalpha() or "e" in text.rstrip("s"):
        return text
    words = []
    number = ""
    index = 0
    while index < len(text):
        char = text[index]
        if char.isdigit() or char in ".-":
            number += char
            index += 1
            continue
        unit = "ms" if text.startswith("ms", index) else char
        index += len(unit)
        name = _UNIT_WORDS.get(unit)
        if name is None or unit not in DURATION_UNITS:
            return text
        words.append(f"{number} {name}{'' if number == '1' else 's'}")
        number = ""
    return " ".join(words)
