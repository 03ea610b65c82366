"""Messages and hints shared by the static checker and the evaluator, so a mistake
reads the same whether lint finds it or a run does."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from runbook_engine.predicates.nodes import Compare, Node, Path, children


def unknown_field(
    name: str, listed: Iterable[str], candidates: Iterable[str]
) -> tuple[str, str | None]:
    """Message and hint for a name no field or root answers to."""
    shown = list(dict.fromkeys(listed))
    if shown:
        more = "…" if len(shown) > 8 else ""
        message = f'unknown field "{name}" — fields: {", ".join(shown[:8])}{more}'
    else:
        message = f'unknown field "{name}" — this result has no fields'
    close = difflib.get_close_matches(name, list(dict.fromkeys(candidates)), n=1, cutoff=0.6)
    return message, (f'did you mean "{close[0]}"?' if close else None)


def per_host_hint(root: Node, path: Path) -> str:
    """``did you mean "all failed == 0"?`` for a per-host field used without a quantifier."""
    target = _enclosing_compare(root, path) or path
    return f'did you mean "all {target}"?'


def _enclosing_compare(root: Node, path: Path) -> Node | None:
    stack: list[tuple[Node, Node | None]] = [(root, None)]
    while stack:
        node, compare = stack.pop()
        if node is path:
            return compare
        inner = node if isinstance(node, Compare) else compare
        stack.extend((child, inner) for child in children(node))
    return None


def snippet(node: Node) -> str:
    """The node's own text from the predicate, or its canonical form."""
    if node.source and node.length:
        return node.source[node.offset : node.offset + node.length]
    return str(node)
