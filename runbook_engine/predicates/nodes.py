"""The predicate AST: frozen dataclasses, each carrying where it came from.

``offset``/``length`` locate a node in the predicate text and ``source`` is that text,
so any later error (static or at run time) can point at the exact part. None of the
three take part in equality, which is what makes ``parse(str(ast)) == ast`` hold.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Literal

CompareOp = Literal[
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "contains",
    "not contains",
    "matches",
    "not matches",
    "startswith",
    "not startswith",
    "endswith",
    "not endswith",
    "in",
    "not in",
]
ArithOp = Literal["+", "-", "*", "/"]
QuantifierKind = Literal["all", "any", "none"]
StepFunction = Literal["failed", "succeeded", "skipped", "any_host_failed"]


@dataclass(frozen=True, slots=True)
class Node:
    """Base of every node; the span fields are keyword-only and ignored by ``==``."""

    offset: int = field(default=0, compare=False, kw_only=True)
    length: int = field(default=0, compare=False, kw_only=True)
    source: str = field(default="", compare=False, kw_only=True, repr=False)

    def __str__(self) -> str:
        from runbook_engine.predicates.printer import to_source

        return to_source(self)


Expr = Node


@dataclass(frozen=True, slots=True)
class Number(Node):
    """A number literal."""

    value: int | float


@dataclass(frozen=True, slots=True)
class String(Node):
    """A string literal."""

    value: str


@dataclass(frozen=True, slots=True)
class Bool(Node):
    """``true`` or ``false``."""

    value: bool


@dataclass(frozen=True, slots=True)
class Null(Node):
    """``null``."""


@dataclass(frozen=True, slots=True)
class Duration(Node):
    """``45m``, ``1h30m``, ``500ms``: evaluates to seconds (float)."""

    seconds: float


@dataclass(frozen=True, slots=True)
class Size(Node):
    """``5GB``, ``512MiB``: evaluates to bytes (int)."""

    bytes: int


@dataclass(frozen=True, slots=True)
class Regex(Node):
    """``/v\\d+/i``: ``pattern`` is the text between the slashes; ``\\/`` is stored as
    ``/`` (the same regular expression), so one pattern has one stored form."""

    pattern: str
    flags: str = ""

    def __post_init__(self) -> None:
        if "\\/" in self.pattern:
            object.__setattr__(self, "pattern", unescape_slashes(self.pattern))


@dataclass(frozen=True, slots=True)
class ListExpr(Node):
    """``[a, b]``: a list literal."""

    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Path(Node):
    """``json.items[0].name``: a root name and the keys/indexes below it."""

    root: str
    segments: tuple[str | int, ...] = ()


@dataclass(frozen=True, slots=True)
class Call(Node):
    """A plain function such as ``len(rows)`` or ``age(json.updated_at)``."""

    name: str
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class StepQuery(Node):
    """``failed(verify.smoke-*)``: a question about steps or phases named by a glob."""

    function: StepFunction
    glob: str


@dataclass(frozen=True, slots=True)
class CountHosts(Node):
    """``count(hosts where failed > 0)``; ``where`` is None for ``count(hosts)``."""

    where: Node | None = None


@dataclass(frozen=True, slots=True)
class Check(Node):
    """A named check phrase an executor gives meaning to (``checksum matches``)."""

    phrase: str


@dataclass(frozen=True, slots=True)
class Neg(Node):
    """``-x``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Not(Node):
    """``not x``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class Arith(Node):
    """``a + b``, ``a - b``, ``a * b``, ``a / b``."""

    op: ArithOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Compare(Node):
    """``a == b``, ``a contains b``, ``a matches /re/`` and the other comparisons."""

    op: CompareOp
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class And(Node):
    """``a and b and ...``."""

    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or(Node):
    """``a or b or ...``."""

    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Quantifier(Node):
    """``all X`` / ``any X`` / ``none X``, or with ``suffix`` ``X on all hosts``.

    ``watches_unreachable`` is true when the body itself mentions ``unreachable``;
    only then may an unreachable host satisfy the body (see docs/predicates.md).
    """

    kind: QuantifierKind
    body: Node
    suffix: bool = False
    watches_unreachable: bool = field(default=False, init=False, compare=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "watches_unreachable", mentions_unreachable(self.body))


def children(node: Node) -> tuple[Node, ...]:
    """The direct sub-expressions of ``node``, left to right."""
    if isinstance(node, Arith | Compare):
        return (node.left, node.right)
    if isinstance(node, And | Or):
        return node.operands
    if isinstance(node, Not | Neg):
        return (node.operand,)
    if isinstance(node, Quantifier):
        return (node.body,)
    if isinstance(node, Call):
        return node.args
    if isinstance(node, ListExpr):
        return node.items
    if isinstance(node, CountHosts):
        return () if node.where is None else (node.where,)
    return ()


def walk(node: Node) -> Iterator[Node]:
    """Every node of the tree, parents before children (iterative: no recursion limit)."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(children(current)))


def depth(node: Node) -> int:
    """How deep the tree is, computed without recursion."""
    deepest = 0
    stack = [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in children(current))
    return deepest


def mentions_unreachable(node: Node) -> bool:
    """Whether a condition itself talks about ``unreachable`` (then unreachable hosts
    are judged by it instead of failing it automatically)."""
    return any(isinstance(n, Path) and n.root == "unreachable" for n in walk(node))


def unescape_slashes(pattern: str) -> str:
    """``a\\/b`` → ``a/b``, leaving other backslash pairs (``\\\\``, ``\\d``) alone."""
    out = []
    index = 0
    while index < len(pattern):
        pair = pattern[index : index + 2]
        if pair == "\\/":
            out.append("/")
        elif pair[:1] == "\\" and len(pair) == 2:
            out.append(pair)
        else:
            out.append(pattern[index])
            index += 1
            continue
        index += 2
    return "".join(out)
