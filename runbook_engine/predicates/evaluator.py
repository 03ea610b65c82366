"""Evaluates a predicate AST against a step's result.

The evaluator reads only the mappings in ``EvalContext``: no attribute access, no
``eval``. Type mistakes raise ``PredicateError`` instead of quietly giving False, since
a wrong "false" at 02:00 triggers a rollback nobody asked for. Semantics are in
docs/predicates.md.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from fnmatch import fnmatchcase
from functools import lru_cache
from typing import Any

from runbook_engine.errors import PredicateError
from runbook_engine.executors.base import NamedCheck
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
    mentions_unreachable,
)
from runbook_engine.predicates.parser import parse
from runbook_engine.regex import HINT, Pattern, RegexError, compile_pattern


def _step_matches(step: str, glob: str) -> bool:
    """A step glob matches the qualified id (``phase.step``) or the bare step id."""
    return fnmatchcase(step, glob) or fnmatchcase(step.partition(".")[2], glob)


class StepIndex:
    """Statuses of the steps each glob matches, kept up to date as steps change, so
    ``failed(glob)`` / ``succeeded(glob)`` cost no walk over every step: decisions
    are evaluated after every step, and a walk each time makes a large run quadratic.

    Whoever owns the ``step_status`` mapping reports every change through `changed`
    (the engine's run view does); an `EvalContext` without an index walks the mapping.
    """

    def __init__(self, step_status: Mapping[str, str]) -> None:
        self._status = step_status
        self._counts: dict[str, dict[str, int]] = {}  # glob → status → matching steps

    def counts(self, glob: str) -> Mapping[str, int]:
        counts = self._counts.get(glob)
        if counts is None:
            counts = {}
            for step, status in self._status.items():
                if _step_matches(step, glob):
                    counts[status] = counts.get(status, 0) + 1
            self._counts[glob] = counts
        return counts

    def changed(self, step: str, old: str | None, new: str) -> None:
        """Step ``step`` went from ``old`` (None: it is new) to ``new``."""
        for glob, counts in self._counts.items():
            if _step_matches(step, glob):
                if old is not None:
                    counts[old] -= 1
                counts[new] = counts.get(new, 0) + 1


@dataclass(frozen=True)
class EvalContext:
    """What a predicate can see. Names resolve in ``fields``, then ``roots``;
    ``hosts`` always means the per-host results, which quantifiers iterate (or the
    single top-level result when there are none)."""

    fields: Mapping[str, Any] = field(default_factory=dict)
    hosts: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    roots: Mapping[str, Any] = field(default_factory=dict)
    step_status: Mapping[str, str] = field(default_factory=dict)
    host_failures: Mapping[str, frozenset[str]] = field(default_factory=dict)
    checks: Mapping[str, NamedCheck] = field(default_factory=dict)
    now: float = field(default_factory=time.time)
    step_index: StepIndex | None = None  # kept in step with ``step_status`` by its owner


class _MissingOnHost(Exception):
    """The current host lacks a field other hosts reported: the host cannot vouch."""


class _PerHostField(PredicateError):
    """A per-host field used outside a quantifier; the hint needs the whole predicate."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message, offset=path.offset, length=path.length, source=path.source)
        self.path = path


def evaluate(expr: Node, ctx: EvalContext) -> Any:
    """The value of ``expr``; raises PredicateError for type and name mistakes."""
    return _run(expr, ctx, None)


def holds(expr: Node, ctx: EvalContext) -> bool:
    """Whether the predicate is true; a result that is not true/false is an error."""
    value = evaluate(expr, ctx)
    if isinstance(value, bool):
        return value
    text = snippet(expr)
    if _is_number(value):
        hint = f'compare it, e.g. "{text} > 0"'
    elif isinstance(value, str):
        hint = f'compare it, e.g. "{text} contains \\"…\\""'
    else:
        hint = f'compare it, e.g. "len({text}) > 0"'
    raise _error(
        expr, f"the predicate gives {_kind(value)} {_show(value)}, not true or false", hint
    )


def evaluate_value(text_or_expr: str | Node, ctx: EvalContext, *, host: str | None = None) -> Any:
    """The value of a capture expression such as ``stdout`` or ``json.version``.
    With ``host``, names resolve in that host's fields first (per-host captures)."""
    expr = _parse_cached(text_or_expr) if isinstance(text_or_expr, str) else text_or_expr
    scope = None
    if host is not None:
        if host not in ctx.hosts:
            raise PredicateError(
                f'no host "{host}" in this result',
                source=snippet(expr),
                length=len(snippet(expr)),
                hint="hosts: " + ", ".join(ctx.hosts) if ctx.hosts else "this result has no hosts",
            )
        scope = ctx.hosts[host]
    return _run(expr, ctx, scope)


@lru_cache(maxsize=512)
def _parse_cached(text: str) -> Node:
    return parse(text)


def _run(expr: Node, ctx: EvalContext, scope: Mapping[str, Any] | None) -> Any:
    evaluator = _Evaluator(ctx, scope)
    try:
        return evaluator.eval(expr)
    except _PerHostField as exc:
        raise PredicateError(
            exc.message,
            offset=exc.offset,
            length=exc.length,
            source=exc.source,
            hint=per_host_hint(expr, exc.path),
        ) from None
    except _MissingOnHost:  # pragma: no cover - always caught by the quantifier that set the scope
        raise PredicateError("field missing on a host", source=snippet(expr)) from None


# -- value helpers ---------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    """int, float and bool: true/false count as 1/0 so ``unreachable > 0`` works for an
    executor that reports a flag as well as for one that reports a count."""
    return isinstance(value, int | float)


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, Mapping):
        return "a map"
    if isinstance(value, Pattern):
        return "a regular expression"
    return type(value).__name__


def _show(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "…"
        return f'"{shown}"'
    if isinstance(value, Pattern):
        return f"/{value.source}/"
    if value is None:
        return ""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


def _text(value: str) -> str:
    """Text as compared by ==, <, startswith…: trailing line breaks do not count, as
    in shell command substitution (``cat VERSION`` prints ``v2.4.0\\n``)."""
    return value.rstrip("\r\n")


def _error(node: Node, message: str, hint: str | None = None) -> PredicateError:
    return PredicateError(
        message, offset=node.offset, length=node.length, source=node.source, hint=hint
    )


def _unreachable(host_fields: Mapping[str, Any]) -> bool:
    flag = host_fields.get("unreachable")
    return isinstance(flag, int | float) and bool(flag)


def _equal_kinds(a: Any, b: Any) -> bool | None:
    """True/False for values of comparable kinds, None when the kinds do not mix."""
    if a is None or b is None:
        return a is b
    if _is_number(a) and _is_number(b):
        return bool(a == b)
    if isinstance(a, str) and isinstance(b, str):
        return _text(a) == _text(b)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_equal_kinds(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, Mapping) and isinstance(b, Mapping):
        return a.keys() == b.keys() and all(_equal_kinds(a[k], b[k]) for k in a)
    return None


# -- the evaluator ---------------------------------------------------------------------


class _Evaluator:
    __slots__ = ("ctx", "scope", "on_host")

    def __init__(self, ctx: EvalContext, scope: Mapping[str, Any] | None) -> None:
        self.ctx = ctx
        self.scope = scope
        self.on_host = scope is not None

    def eval(self, node: Node) -> Any:
        try:
            method = _DISPATCH[type(node)]
        except KeyError:
            raise TypeError(f"not a predicate node: {node!r}") from None
        return method(self, node)

    def truth(self, value: Any, node: Node) -> bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            return value != 0
        if value is None:
            return False
        text = snippet(node)
        raise _error(
            node,
            f"{text} is {_kind(value)}, not true or false",
            hint=f'compare it, e.g. {text} != "" or len({text}) > 0',
        )

    # literals

    def literal(self, node: Any) -> Any:
        return node.value

    def null(self, node: Null) -> None:
        return None

    def duration(self, node: Duration) -> float:
        return node.seconds

    def size(self, node: Size) -> int:
        return node.bytes

    def regex(self, node: Regex) -> Pattern:
        try:
            return compile_pattern(node.pattern, node.flags)
        except RegexError as exc:
            raise _error(node, f"invalid regular expression: {exc.msg}", hint=HINT) from None

    def list_expr(self, node: ListExpr) -> list[Any]:
        return [self.eval(item) for item in node.items]

    # names

    def lookup(self, node: Path) -> Any:
        name = node.root
        ctx = self.ctx
        if name == "hosts":
            return ctx.hosts
        scope = self.scope
        if scope is not None and name in scope:
            return scope[name]
        if name in ctx.fields:
            return ctx.fields[name]
        if name in ctx.roots:
            return ctx.roots[name]
        if name == "now":
            return ctx.now
        reported = any(name in host for host in ctx.hosts.values())
        if self.on_host and ctx.hosts:
            if reported:
                raise _MissingOnHost(name)
            host_names = {key: None for host in ctx.hosts.values() for key in host}
            _, hint = unknown_field(name, host_names, [*host_names, *ctx.fields, *ctx.roots])
            shown = ", ".join(list(host_names)[:8]) + ("…" if len(host_names) > 8 else "")
            raise _error(node, f'no host reported field "{name}" — hosts report: {shown}', hint)
        if reported:
            raise _PerHostField(f'"{name}" is reported per host, not for the step as a whole', node)
        listed = list(scope or ()) + list(ctx.fields)
        message, hint = unknown_field(name, listed, [*listed, *ctx.roots])
        raise _error(node, message, hint)

    def path(self, node: Path) -> Any:
        value = self.lookup(node)
        if not node.segments:
            return value
        for index, segment in enumerate(node.segments):
            if value is None:
                return None
            if isinstance(value, Mapping):
                if index == 0 and node.root == "hosts" and segment not in value:
                    raise _error(
                        node,
                        f'no host "{segment}" in this result',
                        "hosts: " + ", ".join(map(str, value))
                        if value
                        else "this result has no hosts",
                    )
                value = value.get(segment)
            elif isinstance(value, list | tuple) and isinstance(segment, int):
                value = value[segment] if -len(value) <= segment < len(value) else None
            else:
                where = node.root + "".join(
                    f"[{s}]" if isinstance(s, int) else f".{s}" for s in node.segments[:index]
                )
                key = f"[{segment}]" if isinstance(segment, int) else f'"{segment}"'
                raise _error(node, f"{where} is {_kind(value)}; it has no {key}")
        return value

    # operators

    def neg(self, node: Neg) -> Any:
        value = self.eval(node.operand)
        if not _is_number(value):
            raise _error(node, f"cannot negate {_kind(value)}")
        return -value

    def not_(self, node: Not) -> bool:
        return not self.truth(self.eval(node.operand), node.operand)

    def and_(self, node: And) -> bool:
        return all(self.truth(self.eval(operand), operand) for operand in node.operands)

    def or_(self, node: Or) -> bool:
        return any(self.truth(self.eval(operand), operand) for operand in node.operands)

    def arith(self, node: Arith) -> Any:
        left = self.eval(node.left)
        right = self.eval(node.right)
        op = node.op
        if _is_number(left) and _is_number(right):
            try:
                if op == "+":
                    return left + right
                if op == "-":
                    return left - right
                if op == "*":
                    return left * right
                if right == 0:
                    raise _error(node, f"division by zero in {snippet(node)}")
                return left / right
            except OverflowError:
                raise _error(node, f"number too large in {snippet(node)}") from None
        if op == "+" and isinstance(left, str) and isinstance(right, str):
            return left + right
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[op]
        raise _error(
            node,
            f"cannot {verb} {_kind(left)} and {_kind(right)}: {snippet(node)}",
            hint=_number_hint(node.left, left) or _number_hint(node.right, right),
        )

    def compare(self, node: Compare) -> bool:
        left = self.eval(node.left)
        right = self.eval(node.right)
        op = node.op
        if op == "==" or op == "!=":
            same = _equal_kinds(left, right)
            if same is None:
                raise _error(
                    node,
                    f"cannot compare {_kind(left)} {_show(left)} with {_kind(right)} {_show(right)}: {snippet(node)}",
                    hint=_regex_hint(left, right)
                    or _number_hint(node.left, left)
                    or _number_hint(node.right, right),
                )
            return same if op == "==" else not same
        if op in _ORDER:
            return _ORDER[op](self._ordered(node, left, right))
        negate = op.startswith("not ")
        word = op[4:] if negate else op
        result = _WORD_TESTS[word](node, left, right)
        return not result if negate else result

    def _ordered(self, node: Compare, left: Any, right: Any) -> int:
        if _is_number(left) and _is_number(right):
            return int(left > right) - int(left < right)
        if isinstance(left, str) and isinstance(right, str):
            a, b = _text(left), _text(right)
            return (a > b) - (a < b)
        missing = next((s for s, v in ((node.left, left), (node.right, right)) if v is None), None)
        if missing is not None:
            raise _error(
                node, f"{snippet(missing)} is null (missing), so {snippet(node)} cannot be decided"
            )
        raise _error(
            node,
            f"cannot compare {_kind(left)} {_show(left)} with {_kind(right)} {_show(right)}: {snippet(node)}",
            hint=_number_hint(node.left, left) or _number_hint(node.right, right),
        )

    # quantifiers and functions

    def outcomes(self, body: Node, watches_unreachable: bool) -> Iterator[bool | None]:
        """Per host: True, False, or None when the host cannot vouch (unreachable, or
        missing a field that other hosts reported)."""
        ctx = self.ctx
        saved = self.scope, self.on_host
        if not ctx.hosts:
            self.scope, self.on_host = ctx.fields, False
            try:
                value = self.eval(body)
            finally:
                self.scope, self.on_host = saved
            yield self.truth(value, body)
            return
        for host_fields in ctx.hosts.values():
            if not watches_unreachable and _unreachable(host_fields):
                yield None
                continue
            self.scope, self.on_host = host_fields, True
            try:
                value = self.eval(body)
            except _MissingOnHost:
                yield None
                continue
            finally:
                self.scope, self.on_host = saved
            yield self.truth(value, body)

    def quantifier(self, node: Quantifier) -> bool:
        outcomes = self.outcomes(node.body, node.watches_unreachable)
        if node.kind == "all":
            return all(outcome is True for outcome in outcomes)
        if node.kind == "any":
            return any(outcome is True for outcome in outcomes)
        return all(outcome is False for outcome in outcomes)

    def count_hosts(self, node: CountHosts) -> int:
        if node.where is None:
            return len(self.ctx.hosts) or 1
        outcomes = self.outcomes(node.where, mentions_unreachable(node.where))
        return sum(1 for outcome in outcomes if outcome is True)

    def check(self, node: Check) -> bool:
        named = self.ctx.checks.get(node.phrase)
        if named is None:
            known = ", ".join(sorted(self.ctx.checks)) or "none"
            raise _error(
                node, f'unknown named check "{node.phrase}"', f"named checks here: {known}"
            )
        try:
            return bool(named.test(self.ctx.fields, self.ctx.hosts))
        except PredicateError:
            raise
        except Exception as exc:  # a plugin's check must not crash the run with a traceback
            raise _error(
                node, f'named check "{node.phrase}" could not be evaluated: {exc}'
            ) from None

    def step_query(self, node: StepQuery) -> bool:
        glob = node.glob
        if node.function == "any_host_failed":
            return any(
                bool(failed)
                for phase, failed in self.ctx.host_failures.items()
                if fnmatchcase(phase, glob)
            )
        index = self.ctx.step_index
        counts = (
            index.counts(glob)
            if index is not None
            else StepIndex(self.ctx.step_status).counts(glob)
        )
        matched = sum(counts.values())
        if not matched:
            known = ", ".join(sorted(self.ctx.step_status)[:8]) or "none"
            raise _error(node, f'no step matches "{glob}"', f"steps: {known}")
        if node.function == "failed":
            return counts.get("failed", 0) > 0
        return counts.get(node.function, 0) == matched

    def call(self, node: Call) -> Any:
        try:
            return _FUNCTIONS[node.name](self, node)
        except OverflowError:
            raise _error(node, f"number too large in {snippet(node)}") from None

    def series(self, node: Call) -> list[Any]:
        """The numbers an aggregate works on: a list argument, several arguments, or a
        bare name read from each of the monitor's samples."""
        args = node.args
        if (
            len(args) == 1
            and isinstance(args[0], Path)
            and not args[0].segments
            and not self.resolvable(args[0].root)
        ):
            name = args[0].root
            samples = self.ctx.fields.get("samples", self.ctx.roots.get("samples"))
            if isinstance(samples, list | tuple):
                values = [
                    s.get(name)
                    for s in samples
                    if isinstance(s, Mapping) and s.get(name) is not None
                ]
                if not values and samples:
                    raise _error(args[0], f'no sample reported "{name}"')
            else:
                self.lookup(args[0])  # raises the unknown-field error
                values = []
        elif len(args) == 1:
            value = self.eval(args[0])
            values = list(value) if isinstance(value, list | tuple) else [value]
        else:
            values = [self.eval(arg) for arg in args]
        for value in values:
            if not _is_number(value):
                raise _error(
                    node, f"{node.name}() needs numbers, got {_kind(value)} {_show(value)}"
                )
        return values

    def resolvable(self, name: str) -> bool:
        scope = self.scope
        return (
            name == "hosts"
            or (scope is not None and name in scope)
            or name in self.ctx.fields
            or name in self.ctx.roots
            or any(name in host for host in self.ctx.hosts.values())
        )


_ORDER: dict[str, Callable[[int], bool]] = {
    "<": lambda c: c < 0,
    "<=": lambda c: c <= 0,
    ">": lambda c: c > 0,
    ">=": lambda c: c >= 0,
}


def _number_hint(node: Node, value: Any) -> str | None:
    if isinstance(value, str) and isinstance(node, Path):
        return f"to read a number from text, write number({snippet(node)})"
    return None


def _regex_hint(left: Any, right: Any) -> str | None:
    if isinstance(right, Pattern) or isinstance(left, Pattern):
        return 'to test text against a regular expression use "matches"'
    return None


def _contains(node: Compare, container: Any, item: Any) -> bool:
    if isinstance(container, list | tuple):
        return any(_equal_kinds(member, item) for member in container)
    if isinstance(container, str) and isinstance(item, str):
        return item in container
    if isinstance(container, Mapping) and (
        isinstance(item, str | int | float | bool) or item is None
    ):
        return item in container
    what = "in" if node.op.endswith("in") else "contains"
    raise _error(
        node,
        f'"{what}" cannot look for {_kind(item)} in {_kind(container)}: {snippet(node)}',
        hint="text contains text; a list contains any value; a map contains a key",
    )


def _matches(node: Compare, text: Any, pattern: Any) -> bool:
    if isinstance(pattern, str):
        try:
            pattern = compile_pattern(pattern)
        except RegexError as exc:
            raise _error(node.right, f"invalid regular expression: {exc.msg}", hint=HINT) from None
    if not isinstance(pattern, Pattern):
        raise _error(
            node,
            f'"matches" needs a regular expression, got {_kind(pattern)}',
            hint="write /v\\d+/",
        )
    if not isinstance(text, str):
        raise _error(
            node, f"{snippet(node.left)} is {_kind(text)}, and only text can match a pattern"
        )
    return pattern.search(text)


def _affix(word: str) -> Callable[[Compare, Any, Any], bool]:
    def test(node: Compare, text: Any, affix: Any) -> bool:
        if isinstance(text, str) and isinstance(affix, str):
            return bool(getattr(_text(text), word)(affix))
        raise _error(
            node, f'"{word}" needs text on both sides, got {_kind(text)} and {_kind(affix)}'
        )

    return test


_WORD_TESTS: dict[str, Callable[[Compare, Any, Any], bool]] = {
    "contains": _contains,
    "in": lambda node, left, right: _contains(node, right, left),
    "matches": _matches,
    "startswith": _affix("startswith"),
    "endswith": _affix("endswith"),
}


def _len(ev: _Evaluator, node: Call) -> int:
    value = ev.eval(node.args[0])
    if isinstance(value, str | list | tuple | Mapping):
        return len(value)
    raise _error(node, f"len() needs text, a list or a map, got {_kind(value)}")


def _age(ev: _Evaluator, node: Call) -> float:
    value = ev.eval(node.args[0])
    if _is_number(value) and not isinstance(value, bool):
        return float(ev.ctx.now - value)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise _error(
                node,
                f"age() cannot read a time from {_show(value)}",
                hint="use ISO 8601, e.g. 2025-12-01T09:30:00Z",
            ) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        return ev.ctx.now - moment.timestamp()
    raise _error(node, f"age() needs a time (epoch seconds or ISO 8601 text), got {_kind(value)}")


def _number(ev: _Evaluator, node: Call) -> int | float:
    value = ev.eval(node.args[0])
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if math.isfinite(number):
            return number
        raise _error(node, f"no number in {_show(value)}")
    raise _error(node, f"number() needs text or a number, got {_kind(value)}")


def _trend(ev: _Evaluator, node: Call) -> float:
    values = ev.series(node)
    if not values:
        raise _error(node, "trend() of no samples")
    count = len(values)
    if count == 1:
        return 0.0
    mean_x = (count - 1) / 2
    mean_y = sum(values) / count
    spread = sum((x - mean_x) ** 2 for x in range(count))
    return float(
        sum((x - mean_x) * (y - mean_y) for x, y in zip(range(count), values, strict=True)) / spread
    )


def _aggregate(name: str, reduce: Callable[[list[Any]], Any]) -> Callable[[_Evaluator, Call], Any]:
    def run(ev: _Evaluator, node: Call) -> Any:
        values = ev.series(node)
        if not values and name != "sum":
            raise _error(node, f"{name}() of no values")
        return reduce(values)

    return run


_FUNCTIONS: dict[str, Callable[[_Evaluator, Call], Any]] = {
    "len": _len,
    "age": _age,
    "number": _number,
    "trend": _trend,
    "min": _aggregate("min", min),
    "max": _aggregate("max", max),
    "avg": _aggregate("avg", lambda values: sum(values) / len(values)),
    "sum": _aggregate("sum", sum),
}

_DISPATCH: dict[type, Callable[[_Evaluator, Any], Any]] = {
    Number: _Evaluator.literal,
    String: _Evaluator.literal,
    Bool: _Evaluator.literal,
    Null: _Evaluator.null,
    Duration: _Evaluator.duration,
    Size: _Evaluator.size,
    Regex: _Evaluator.regex,
    ListExpr: _Evaluator.list_expr,
    Path: _Evaluator.path,
    Neg: _Evaluator.neg,
    Not: _Evaluator.not_,
    And: _Evaluator.and_,
    Or: _Evaluator.or_,
    Arith: _Evaluator.arith,
    Compare: _Evaluator.compare,
    Quantifier: _Evaluator.quantifier,
    CountHosts: _Evaluator.count_hosts,
    Check: _Evaluator.check,
    StepQuery: _Evaluator.step_query,
    Call: _Evaluator.call,
}
