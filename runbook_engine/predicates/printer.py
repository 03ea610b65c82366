"""Canonical source text for an AST: what ``str(expr)`` returns.

Parentheses appear only where precedence needs them, operators are spaced, ``=`` is
printed as ``==``, literals in their canonical unit. Parsing the output gives back an
equal AST (checked by the property tests).
"""

from __future__ import annotations

import re

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
from runbook_engine.predicates.units import format_duration, format_size

OR, AND, NOT, SUFFIX, COMPARE, SUM, PRODUCT, UNARY, PRIMARY = range(1, 10)

_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_GLOB = re.compile(r"[A-Za-z0-9_.*?!\[\]-]+")
_SUFFIX_WORDS = {"all": "on all hosts", "any": "on any host", "none": "on no host"}


def precedence(node: Node) -> int:
    if isinstance(node, Or):
        return OR
    if isinstance(node, And):
        return AND
    if isinstance(node, Not):
        return NOT
    if isinstance(node, Quantifier):
        return SUFFIX if node.suffix else NOT
    if isinstance(node, Compare):
        return COMPARE
    if isinstance(node, Arith):
        return SUM if node.op in "+-" else PRODUCT
    if isinstance(node, Neg):
        return UNARY
    return PRIMARY


def to_source(node: Node) -> str:
    if isinstance(node, Path):
        segments = node.segments
        if node.root == "hosts" and segments and isinstance(segments[0], str):
            return f"hosts[{quote(segments[0])}]" + "".join(_segment(seg) for seg in segments[1:])
        return node.root + "".join(_segment(seg) for seg in segments)
    if isinstance(node, Compare):
        return f"{_wrap(node.left, SUM)} {node.op} {_wrap(node.right, SUM)}"
    if isinstance(node, Number):
        return repr(node.value) if isinstance(node.value, float) else str(node.value)
    if isinstance(node, String):
        return quote(node.value)
    if isinstance(node, And):
        return " and ".join(_wrap(op, NOT) for op in node.operands)
    if isinstance(node, Or):
        return " or ".join(_wrap(op, AND) for op in node.operands)
    if isinstance(node, Not):
        return "not " + _wrap(node.operand, NOT)
    if isinstance(node, Quantifier):
        if node.suffix:
            return f"{_wrap(node.body, COMPARE)} {_SUFFIX_WORDS[node.kind]}"
        return f"{node.kind} {_wrap(node.body, NOT)}"
    if isinstance(node, Arith):
        own = precedence(node)
        return f"{_wrap(node.left, own)} {node.op} {_wrap(node.right, own + 1)}"
    if isinstance(node, Neg):
        operand = node.operand
        if isinstance(operand, Number | Duration | Size):
            return f"-({to_source(operand)})"
        return "-" + _wrap(operand, UNARY)
    if isinstance(node, Bool):
        return "true" if node.value else "false"
    if isinstance(node, Null):
        return "null"
    if isinstance(node, Duration):
        return format_duration(node.seconds)
    if isinstance(node, Size):
        return format_size(node.bytes)
    if isinstance(node, Regex):
        return f"/{_escape_slashes(node.pattern)}/{node.flags}"
    if isinstance(node, ListExpr):
        return "[" + ", ".join(to_source(item) for item in node.items) + "]"
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(to_source(arg) for arg in node.args) + ")"
    if isinstance(node, StepQuery):
        glob = node.glob if _GLOB.fullmatch(node.glob) else quote(node.glob)
        return f"{node.function}({glob})"
    if isinstance(node, CountHosts):
        if node.where is None:
            return "count(hosts)"
        return f"count(hosts where {to_source(node.where)})"
    if isinstance(node, Check):
        return node.phrase
    raise TypeError(f"not a predicate node: {node!r}")


def _wrap(node: Node, minimum: int) -> str:
    text = to_source(node)
    return f"({text})" if precedence(node) < minimum else text


def _segment(segment: str | int) -> str:
    if isinstance(segment, int):
        return f"[{segment}]"
    if _SEGMENT.fullmatch(segment):
        return "." + segment
    return f"[{quote(segment)}]"


def quote(text: str) -> str:
    """A double-quoted string literal the lexer reads back as ``text``."""
    out = ['"']
    for char in text:
        if char == "\\":
            out.append("\\\\")
        elif char == '"':
            out.append('\\"')
        elif char == "\n":
            out.append("\\n")
        elif char == "\t":
            out.append("\\t")
        elif char == "\r":
            out.append("\\r")
        elif ord(char) < 0x20 or ord(char) == 0x7F:
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _escape_slashes(pattern: str) -> str:
    out = []
    index = 0
    while index < len(pattern):
        char = pattern[index]
        if char == "\\" and index + 1 < len(pattern):
            out.append(pattern[index : index + 2])
            index += 2
            continue
        out.append("\\/" if char == "/" else char)
        index += 1
    return "".join(out)
