"""The predicate language of SPEC §4: ``expect``, ``when``, ``until`` and decisions.

    expr = parse("all failed == 0", checks=executor.checks)
    holds(expr, EvalContext(fields=result.fields, hosts=result.hosts))

Grammar, semantics and error examples: docs/predicates.md.
"""

from __future__ import annotations

from runbook_engine.errors import PredicateError
from runbook_engine.predicates.checker import check_names
from runbook_engine.predicates.evaluator import EvalContext, evaluate, evaluate_value, holds
from runbook_engine.predicates.nodes import (
    And,
    Arith,
    Bool,
    Call,
    Check,
    Compare,
    CountHosts,
    Duration,
    Expr,
    ListExpr,
    Neg,
    Node,
    Not,
    Null,
    Number,
    Or,
    Path,
    Quantifier,
    Regex,
    Size,
    StepQuery,
    String,
    walk,
)
from runbook_engine.predicates.parser import parse
from runbook_engine.predicates.words import to_words

__all__ = [
    "And",
    "Arith",
    "Bool",
    "Call",
    "Check",
    "Compare",
    "CountHosts",
    "Duration",
    "EvalContext",
    "Expr",
    "ListExpr",
    "Neg",
    "Node",
    "Not",
    "Null",
    "Number",
    "Or",
    "Path",
    "PredicateError",
    "Quantifier",
    "Regex",
    "Size",
    "StepQuery",
    "String",
    "check_names",
    "evaluate",
    "evaluate_value",
    "holds",
    "parse",
    "to_words",
    "walk",
]
