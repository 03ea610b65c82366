"""YAML → plain Python values plus the source position of every node.

PyYAML composes a node tree that keeps marks; we construct values from it ourselves so
that every value (and every mapping key) gets a ``Span`` under its JSON pointer. That
is what lets every later error, from schema to predicate, say ``file:line:col``.
Hostile input (duplicate keys, tabs, alias bombs, non-UTF-8 bytes, huge files) is a
``LoadError`` with a position, never a traceback.
"""

from __future__ import annotations

import hashlib
import math
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from runbook_engine.errors import LoadError, Span

MAX_BYTES = 1024 * 1024
#: Longest integer literal read: Python refuses over 4300 digits, and no runbook value
#: needs more than a few dozen.
MAX_INT_DIGITS = 100
MAX_NODES = 100_000
MAX_DEPTH = 64

_Loader: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_SCALARS = yaml.constructor.SafeConstructor()

_TAG = "tag:yaml.org,2002:"
_PLAIN_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null")}


def escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def pointer(*parts: str | int) -> str:
    """JSON pointer for a path of keys and indexes."""
    return "".join("/" + escape(str(p)) for p in parts)


@dataclass
class Document:
    """A loaded YAML file: its data, its text, and where each value came from."""

    path: str
    text: str
    data: Any
    spans: dict[str, Span] = field(default_factory=dict)
    key_spans: dict[str, Span] = field(default_factory=dict)
    styles: dict[str, str | None] = field(default_factory=dict)
    sha256: str = ""

    def span(self, ptr: str) -> Span:
        """Span of the value at ``ptr``, or of its nearest ancestor that has one."""
        while ptr not in self.spans and ptr:
            ptr = ptr.rsplit("/", 1)[0]
        return self.spans.get(ptr, Span(self.path, 1, 1))

    def key_span(self, ptr: str) -> Span:
        """Span of the mapping key that introduces ``ptr`` (for unknown-key errors)."""
        return self.key_spans.get(ptr) or self.span(ptr)

    def line(self, number: int) -> str:
        lines = self.text.splitlines()
        return lines[number - 1] if 0 < number <= len(lines) else ""

    def inner_span(self, ptr: str, offset: int, length: int = 1) -> Span:
        """Span of ``offset`` characters into the string scalar at ``ptr`` — how a
        predicate error points at its own column inside the YAML file."""
        base = self.span(ptr)
        style = self.styles.get(ptr)
        if style in ("|", ">"):
            lines = self.text.splitlines()
            line = base.line + 1
            while line <= len(lines) and not lines[line - 1].strip():
                line += 1
            indent = len(lines[line - 1]) - len(lines[line - 1].lstrip()) if line <= len(lines) else 0
            value = self.value_at(ptr)
            before = value[:offset] if isinstance(value, str) else ""
            line += before.count("\n")
            col = indent + 1 + len(before.rsplit("\n", 1)[-1])
            return Span(self.path, line, col, line, col + max(length, 1))
        quote = 1 if style in ("'", '"') else 0
        return base.shifted(offset + quote, length)

    def value_at(self, ptr: str) -> Any:
        value = self.data
        for token in ptr.split("/")[1:]:
            key = token.replace("~1", "/").replace("~0", "~")
            value = value[int(key)] if isinstance(value, list) else value[key]
        return value


def _span(path: str, node: yaml.Node) -> Span:
    start, end = node.start_mark, node.end_mark
    return Span(path, start.line + 1, start.column + 1, end.line + 1, end.column + 1)


def _mark_span(path: str, mark: Any) -> Span:
    if mark is None:
        return Span(path, 1, 1)
    return Span(path, mark.line + 1, mark.column + 1)


class _Builder:
    """Constructs values from composed nodes, recording spans and refusing bombs."""

    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.count = 0

    def build(self, node: yaml.Node, ptr: str, depth: int, active: set[int]) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            raise LoadError(
                f"document expands to more than {MAX_NODES} values",
                span=_span(self.doc.path, node),
                hint="aliases that multiply (a 'billion laughs' bomb) are refused",
                rule="RB004",
            )
        if depth > MAX_DEPTH:
            raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", span=_span(self.doc.path, node), rule="RB004")
        if id(node) in active:
            raise LoadError("an alias refers to itself", span=_span(self.doc.path, node), rule="RB004")
        self.doc.spans.setdefault(ptr, _span(self.doc.path, node))
        if isinstance(node, yaml.ScalarNode):
            self.doc.styles[ptr] = node.style
            return self._scalar(node)
        if node.tag not in (_TAG + "seq", _TAG + "map"):
            raise LoadError(
                f"unsupported YAML tag {node.tag!r}",
                span=_span(self.doc.path, node),
                hint="runbooks use plain YAML: strings, numbers, booleans, lists and mappings",
                rule="RB001",
            )
        active = active | {id(node)}
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, f"{ptr}/{i}", depth + 1, active) for i, item in enumerate(node.value)]
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, ptr, depth, active)
        raise LoadError("unsupported YAML node", span=_span(self.doc.path, node))  # pragma: no cover

    def _scalar(self, node: yaml.ScalarNode) -> Any:
        if node.tag in _PLAIN_TAGS:
            if node.tag == _TAG + "int" and len(node.value) > MAX_INT_DIGITS:
                raise LoadError(
                    f"integer of {len(node.value)} characters is too long",
                    span=_span(self.doc.path, node),
                    hint=f"integers have at most {MAX_INT_DIGITS} digits",
                    rule="RB001",
                )
            try:
                value = _SCALARS.yaml_constructors[node.tag](_SCALARS, node)
            except (ValueError, KeyError, TypeError, yaml.constructor.ConstructorError):
                kind = node.tag.rsplit(":", 1)[-1]
                shown = node.value if len(node.value) <= 40 else node.value[:40] + "…"
                raise LoadError(
                    f"{shown!r} is not a valid {kind} (tagged !!{kind})",
                    span=_span(self.doc.path, node),
                    hint="drop the explicit tag or fix the value",
                    rule="RB001",
                ) from None
            if isinstance(value, float) and not math.isfinite(value):
                raise LoadError(
                    f"{node.value!r} is not a finite number",
                    span=_span(self.doc.path, node),
                    hint="runbooks use finite numbers; quote it if you mean the text",
                    rule="RB001",
                )
            return value
        if node.tag == _TAG + "timestamp":
            return node.value  # keep dates as written: the format has no date type
        raise LoadError(
            f"unsupported YAML tag {node.tag!r}",
            span=_span(self.doc.path, node),
            hint="runbooks use plain YAML: strings, numbers, booleans, lists and mappings",
            rule="RB001",
        )

    def _mapping(self, node: yaml.MappingNode, ptr: str, depth: int, active: set[int]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise LoadError(
                    "merge keys (<<) are not supported",
                    span=_span(self.doc.path, key_node),
                    hint="write the keys out, or use an alias for the whole value",
                    rule="RB001",
                )
            if not isinstance(key_node, yaml.ScalarNode):
                raise LoadError("a mapping key must be a plain string", span=_span(self.doc.path, key_node), rule="RB001")
            key = self._scalar(key_node)
            key = "null" if key is None else str(key).lower() if isinstance(key, bool) else str(key)
            child = f"{ptr}/{escape(key)}"
            if key in result:
                first = self.doc.key_spans[child]
                raise LoadError(
                    f"duplicate key {key!r} (first defined at line {first.line})",
                    span=_span(self.doc.path, key_node),
                    hint="YAML would silently keep only the last one",
                    rule="RB002",
                )
            self.doc.key_spans[child] = _span(self.doc.path, key_node)
            result[key] = self.build(value_node, child, depth + 1, active)
        return result


def _decode(path: str, raw: bytes) -> str:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        col = len(before.rsplit(b"\n", 1)[-1]) + 1
        raise LoadError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded",
            span=Span(path, line, col),
            hint="save the file as UTF-8",
            rule="RB001",
        ) from None
    return text


def _check_tabs(path: str, text: str) -> None:
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.lstrip(" ")
        if stripped.startswith("\t"):
            raise LoadError(
                "tab character in indentation",
                span=Span(path, number, len(line) - len(stripped) + 1),
                hint="YAML indents with spaces only",
                rule="RB003",
            )


def load_text(text: str, path: str = "<string>") -> Document:
    """Parse YAML text into a ``Document``; the top level must be one mapping."""
    doc = Document(path=path, text=text, data=None, sha256=hashlib.sha256(text.encode()).hexdigest())
    _check_tabs(path, text)
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        if exc.context_mark is not None and (mark is None or mark.line >= len(text.splitlines())):
            mark = exc.context_mark  # at the end of the file there is no line to show
        message = exc.problem or exc.context or "invalid YAML"
        hint = None
        if exc.context and exc.context_mark is not None and exc.problem:
            hint = f"{exc.context} that starts at line {exc.context_mark.line + 1}"
        rule = "RB004" if "nesting depth" in message else "RB001"  # libyaml's own depth limit
        raise LoadError(f"invalid YAML: {message}", span=_mark_span(path, mark), hint=hint, rule=rule) from None
    except yaml.YAMLError as exc:
        raise LoadError(f"invalid YAML: {exc}", span=Span(path, 1, 1), rule="RB001") from None
    except RecursionError:
        raise LoadError(f"nesting deeper than {MAX_DEPTH} levels", span=Span(path, 1, 1), rule="RB004") from None
    if not nodes or nodes[0] is None:
        raise LoadError("the file is empty", span=Span(path, 1, 1), hint="a runbook is one YAML mapping", rule="RB005")
    if len(nodes) > 1:
        raise LoadError(
            "more than one YAML document",
            span=_span(path, nodes[1]),
            hint="a runbook file holds exactly one document",
            rule="RB005",
        )
    root = nodes[0]
    if not isinstance(root, yaml.MappingNode):
        raise LoadError(
            "the top level must be a mapping (runbook: 1, name: …, phases: …)",
            span=_span(path, root),
            rule="RB005",
        )
    doc.data = _Builder(doc).build(root, "", 0, set())
    return doc


def load_file(path: str | Path, max_bytes: int = MAX_BYTES) -> Document:
    """Read and parse a runbook file, refusing unreadable, huge or non-UTF-8 files."""
    name = str(path)
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
        with open(descriptor, "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise LoadError(
                    f"not a regular file: {name}",
                    span=None,
                    hint="runbooks are plain files; a FIFO, socket or device is skipped",
                    rule="RB006",
                )
            raw = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise LoadError(f"no such file: {name}", span=None, rule="RB001") from None
    except IsADirectoryError:
        raise LoadError(f"is a directory: {name}", span=None, rule="RB001") from None
    except OSError as exc:
        raise LoadError(f"cannot read {name}: {exc.strerror}", span=None, rule="RB001") from None
    if len(raw) > max_bytes:
        raise LoadError(
            f"file is larger than {max_bytes // 1024} KiB",
            span=Span(name, 1, 1),
            hint="split the procedure into several runbooks",
            rule="RB001",
        )
    return load_text(_decode(name, raw), name)
