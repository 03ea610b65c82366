"""The plain functions a predicate may call, with their arity and result kind.

One table serves the parser (arity), the static checker (argument and result kinds)
and the evaluator (the implementation lives in ``evaluator.py``, keyed by name).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Function:
    """A predicate function: its arity, argument kinds and result, for the checker."""

    name: str
    min_args: int
    max_args: int | None
    arg_kinds: frozenset[str]
    result: str
    example: str
    words: str


_NUMERIC = frozenset({"number", "list", "any"})

FUNCTIONS: dict[str, Function] = {
    f.name: f
    for f in (
        Function(
            "len",
            1,
            1,
            frozenset({"str", "list", "map", "any"}),
            "number",
            "len(rows) > 0",
            "the number of items in",
        ),
        Function(
            "age",
            1,
            1,
            frozenset({"number", "str", "any"}),
            "number",
            "age(json.updated_at) < 2m",
            "the age of",
        ),
        Function(
            "number",
            1,
            1,
            frozenset({"number", "str", "any"}),
            "number",
            "number(stdout) > 100",
            "the number in",
        ),
        Function("trend", 1, 1, _NUMERIC, "number", "trend(latency_p95) <= 0", "the trend of"),
        Function("min", 1, None, _NUMERIC, "number", "min(samples_ok) > 0", "the smallest of"),
        Function("max", 1, None, _NUMERIC, "number", "max(latency_p95) < 500ms", "the largest of"),
        Function("avg", 1, 1, _NUMERIC, "number", "avg(latency_p95) < 200ms", "the average of"),
        Function("sum", 1, 1, _NUMERIC, "number", "sum(errors) == 0", "the sum of"),
    )
}

AGGREGATES = frozenset({"trend", "min", "max", "avg", "sum"})
"""Functions that, given a bare name no field or root answers to, read that field
from each of the monitor's ``samples``."""
