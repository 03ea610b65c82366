"""Success targets such as ``total_duration: "< 60m"`` checked against measured values.

Rates are percentages: ``smoke_pass_rate: "== 100"`` and ``"== 100%"`` mean the same.

A tiny comparison language of its own (operator, then a duration, number, percentage
or boolean), because a target compares one known metric with one literal and the
report must still render when a target is written badly: that is ``unknown``, with
the reason, never an exception.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from dataclasses import dataclass

from runbook_engine.durations import parse_duration

_OPERATORS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    ">": operator.gt,
}
_COMPARISON = re.compile(r"\s*(<=|>=|==|!=|<|>)\s*(\S.*?)\s*")


@dataclass(frozen=True, slots=True)
class Verdict:
    """``outcome`` is ``pass``, ``fail`` or ``unknown`` (with ``reason``)."""

    metric: str
    target: str
    value: float | bool | None
    outcome: str
    reason: str = ""


def check_target(metric: str, target: str, value: float | bool | None) -> Verdict:
    """Compare a measured metric value with its target text."""
    match = _COMPARISON.fullmatch(str(target))
    if match is None:
        return Verdict(
            metric, target, value, "unknown", "target is not `<op> <value>` (e.g. `< 60m`)"
        )
    op, literal = match.groups()
    if value is None:
        return Verdict(metric, target, value, "unknown", "not measured in this run")
    try:
        expected = _literal(literal, boolean=isinstance(value, bool))
    except ValueError as exc:
        return Verdict(metric, target, value, "unknown", str(exc))
    if isinstance(expected, bool) != isinstance(value, bool):
        return Verdict(
            metric, target, value, "unknown", f"cannot compare {value!r} with {literal!r}"
        )
    holds = _OPERATORS[op](float(value), float(expected))
    return Verdict(metric, target, value, "pass" if holds else "fail")


def _literal(text: str, *, boolean: bool) -> float | bool:
    lowered = text.lower()
    if lowered in ("true", "yes", "false", "no"):
        return lowered in ("true", "yes")
    if boolean:
        raise ValueError(f"{text!r} is not true or false")
    if lowered.endswith("%"):
        return float(lowered[:-1])
    return parse_duration(lowered)
