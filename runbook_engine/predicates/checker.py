"""Static checks for lint: every name is a declared field or a known root, and no
comparison mixes kinds that can never compare (``"abc" > 3``).

Kinds come from the executor's declared field types (``base.FIELD_TYPES``); ``json``
and ``any`` fields, roots (``vars``, ``steps``, …) and anything below a path segment
are unknown until run time, and the evaluator checks those.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from runbook_engine.errors import PredicateError
from runbook_engine.predicates.functions import AGGREGATES, FUNCTIONS
from runbook_engine.predicates.hints import per_host_hint, snippet, unknown_field
from runbook_engine.predicates.nodes import (
    And,
    Arith,
    Bool,
    Call,
    Check,
    Compare,
    CountHosts,
    Duration,
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
)

_KINDS = {
    "int": "number",
    "float": "number",
    "number": "number",
    "duration": "number",
    "str": "str",
    "bool": "bool",
    "list": "list",
    "map": "map",
}
_NUMERIC = frozenset({"number", "bool"})
_TRUTHY = frozenset({"bool", "number", "null", "any"})
_SAYS = {
    "number": "a number",
    "str": "text",
    "bool": "true/false",
    "list": "a list",
    "map": "a map",
    "regex": "a regular expression",
    "null": "null",
}


def check_names(
    expr: Node,
    fields: Mapping[str, str],
    host_fields: Mapping[str, str],
    roots: Iterable[str],
    *,
    expect_bool: bool = True,
) -> list[PredicateError]:
    """Problems lint can find without running the step, in source order. With
    ``expect_bool`` (the default, for expect/when/until/decisions) a predicate whose
    kind is known and is not true/false is reported too; captures pass False."""
    checker = _Checker(expr, fields, host_fields, frozenset(roots))
    kind = checker.infer(expr, host=False)
    if expect_bool and kind not in ("bool", "any"):
        checker.add(
            expr,
            f"the predicate gives {_SAYS.get(kind, kind)}, not true or false",
            f'compare it, e.g. "{snippet(expr)} > 0"' if kind == "number" else None,
        )
    return sorted(checker.errors, key=lambda error: error.offset)


class _Checker:
    def __init__(
        self,
        root: Node,
        fields: Mapping[str, str],
        host_fields: Mapping[str, str],
        roots: frozenset[str],
    ) -> None:
        self.root = root
        self.fields = fields
        self.host_fields = host_fields
        self.roots = roots
        self.errors: list[PredicateError] = []

    def add(self, node: Node, message: str, hint: str | None = None) -> None:
        self.errors.append(
            PredicateError(
                message, offset=node.offset, length=node.length, source=node.source, hint=hint
            )
        )

    def infer(self, node: Node, host: bool) -> str:
        if isinstance(node, Number | Duration | Size):
            return "number"
        if isinstance(node, String):
            return "str"
        if isinstance(node, Bool | Check | StepQuery):
            return "bool"
        if isinstance(node, Null):
            return "null"
        if isinstance(node, Regex):
            return "regex"
        if isinstance(node, ListExpr):
            for item in node.items:
                self.infer(item, host)
            return "list"
        if isinstance(node, Path):
            return self.path(node, host)
        if isinstance(node, Neg):
            kind = self.infer(node.operand, host)
            if kind not in _NUMERIC | {"any"}:
                self.add(node, f"cannot negate {_SAYS[kind]}")
            return "number"
        if isinstance(node, Not):
            self.truthy(node.operand, host)
            return "bool"
        if isinstance(node, And | Or):
            for operand in node.operands:
                self.truthy(operand, host)
            return "bool"
        if isinstance(node, Quantifier):
            self.truthy(node.body, True)
            return "bool"
        if isinstance(node, CountHosts):
            if node.where is not None:
                self.truthy(node.where, True)
            return "number"
        if isinstance(node, Arith):
            return self.arith(node, host)
        if isinstance(node, Compare):
            self.compare(node, host)
            return "bool"
        if isinstance(node, Call):
            return self.call(node, host)
        raise TypeError(f"not a predicate node: {node!r}")

    def truthy(self, node: Node, host: bool) -> None:
        kind = self.infer(node, host)
        if kind not in _TRUTHY:
            text = snippet(node)
            self.add(
                node,
                f"{text} is {_SAYS[kind]}, not true or false",
                f'compare it, e.g. {text} != ""',
            )

    def path(self, node: Path, host: bool) -> str:
        name = node.root
        if name == "hosts":
            kind = "map"
        elif host and name in self.host_fields:
            kind = _KINDS.get(self.host_fields[name], "any")
        elif name in self.fields:
            kind = _KINDS.get(self.fields[name], "any")
        elif name in self.roots:
            kind = "any"
        elif name == "now":
            kind = "number"
        elif not host and name in self.host_fields:
            self.add(
                node,
                f'"{name}" is reported per host, not for the step as a whole',
                per_host_hint(self.root, node),
            )
            return "any"
        else:
            listed = [*self.host_fields, *self.fields] if host else list(self.fields)
            message, hint = unknown_field(name, listed, [*listed, *self.host_fields, *self.roots])
            self.add(node, message, hint)
            return "any"
        if not node.segments:
            return kind
        if kind in ("number", "str", "bool"):
            first = node.segments[0]
            key = f"[{first}]" if isinstance(first, int) else f'"{first}"'
            self.add(node, f"{name} is {_SAYS[kind]}; it has no {key}")
        return "any"

    def arith(self, node: Arith, host: bool) -> str:
        left = self.infer(node.left, host)
        right = self.infer(node.right, host)
        if left in _NUMERIC and right in _NUMERIC:
            return "number"
        if node.op == "+" and left == "str" and right == "str":
            return "str"
        if "any" in (left, right):
            other = right if left == "any" else left
            if other in _NUMERIC | {"any"} or (node.op == "+" and other == "str"):
                return "number" if other in _NUMERIC else "any"
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[node.op]
        self.add(
            node,
            f"cannot {verb} {_SAYS.get(left, left)} and {_SAYS.get(right, right)}: {snippet(node)}",
        )
        return "any"

    def compare(self, node: Compare, host: bool) -> None:
        left = self.infer(node.left, host)
        right = self.infer(node.right, host)
        op = node.op.removeprefix("not ")
        known = "any" not in (left, right)
        mismatch = False
        if op in ("==", "!="):
            mismatch = known and "null" not in (left, right) and not _mix(left, right)
        elif op in ("<", "<=", ">", ">="):
            mismatch = (
                "null" in (left, right)
                or (known and not _mix(left, right))
                or "regex" in (left, right)
            )
            mismatch = mismatch or left in ("list", "map") or right in ("list", "map")
        elif op in ("contains", "in"):
            container, item = (left, right) if op == "contains" else (right, left)
            mismatch = container not in ("str", "list", "map", "any") or (
                container == "str" and item not in ("str", "any")
            )
        elif op == "matches":
            mismatch = left not in ("str", "any") or right not in ("regex", "str", "any")
        else:
            mismatch = left not in ("str", "any") or right not in ("str", "any")
        if not mismatch:
            return
        hint = None
        if left == "str" and right == "number" and isinstance(node.left, Path):
            hint = f"to read a number from text, write number({snippet(node.left)})"
        elif "regex" in (left, right) and op != "matches":
            hint = 'to test text against a regular expression use "matches"'
        elif left == "str" and right == "number" or left == "number" and right == "str":
            hint = "compare like with like: numbers with numbers, text with text"
        self.add(
            node,
            f"cannot compare {_SAYS.get(left, left)} with {_SAYS.get(right, right)}: {snippet(node)}",
            hint,
        )

    def call(self, node: Call, host: bool) -> str:
        function = FUNCTIONS[node.name]
        for arg in node.args:
            if (
                node.name in AGGREGATES
                and len(node.args) == 1
                and isinstance(arg, Path)
                and not arg.segments
                and self.is_sample_field(arg.root, host)
            ):
                continue
            kind = self.infer(arg, host)
            if kind not in function.arg_kinds and not (
                kind == "bool" and "number" in function.arg_kinds
            ):
                self.add(
                    arg,
                    f"{node.name}() cannot take {_SAYS.get(kind, kind)}",
                    f"for example: {function.example}",
                )
        return function.result

    def is_sample_field(self, name: str, host: bool) -> bool:
        """A bare name in ``avg(latency_p95)`` that no field answers to names a field of
        each monitor sample; lint cannot see samples, so it accepts it when samples exist."""
        declared = name in self.fields or name in self.roots or (host and name in self.host_fields)
        return not declared and ("samples" in self.fields or "samples" in self.roots)


def _mix(left: str, right: str) -> bool:
    return left == right or (left in _NUMERIC and right in _NUMERIC)
