"""Sandboxed Jinja2 for runbook strings.

Two environments share one sandbox: plain rendering for data (URLs, messages, SQL
parameters) and command rendering, where every interpolated value becomes an
environment variable the command refers to (shell_values.py), unless the author pipes
it through ``| raw``. ``StrictUndefined`` makes a missing variable an error instead of
an empty string in a production command. Arithmetic is bounded, so a template cannot
exhaust the runner's memory or CPU (``'a' * 10**9``, ``10 ** 5000``).
"""

from __future__ import annotations

import difflib
import re
import shlex
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment

from runbook_engine import shell_values
from runbook_engine.errors import TemplateError
from runbook_engine.shell_values import ShellCommand

#: Largest string or list a template operator may build, and the largest integer (in
#: bits) it may compute: far above any real command, far below memory trouble.
MAX_SEQUENCE = 1_000_000
MAX_INT_BITS = 4096

#: Names every template may use besides the declared vars: exactly those the engine
#: puts in the context (engine/context.py), so lint accepts nothing a run would refuse.
BUILTIN_NAMES = frozenset({"vars", "steps", "host", "run"})


class Raw(str):
    """A value the author asked to interpolate into a command without quoting."""


#: The values of the command being rendered, collected by ``_as_slot``.
_SLOTS: ContextVar[list[str]] = ContextVar("command_values")


@pass_context
def _as_slot(context: Context, value: Any) -> Any:
    """Command finalize: park the value and leave a slot for its reference. (Passing
    the context keeps Jinja from folding constants through it at compile time.)"""
    if isinstance(value, Raw):
        return value
    values = _SLOTS.get()
    values.append("" if value is None else _text(value))
    return shell_values.slot(len(values) - 1)


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _BoundedSandbox(SandboxedEnvironment):
    """The sandbox with arithmetic that refuses results too large to be meant."""

    intercepted_binops = frozenset({"*", "**", "+", "//", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        _check_size(operator, left, right)
        return super().call_binop(context, operator, left, right)


def _bits(value: Any) -> int:
    return abs(value).bit_length() if isinstance(value, int) else 0


def _check_size(operator: str, left: Any, right: Any) -> None:
    too_big = False
    if operator == "**" and isinstance(left, int) and isinstance(right, int):
        too_big = right > 0 and max(_bits(left), 1) * right > MAX_INT_BITS and abs(left) > 1
    elif operator == "*":
        for seq, count in ((left, right), (right, left)):
            if isinstance(seq, str | list | tuple) and isinstance(count, int):
                too_big = too_big or len(seq) * count > MAX_SEQUENCE
        too_big = too_big or _bits(left) + _bits(right) > MAX_INT_BITS
    elif operator == "+" and isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple):
        too_big = len(left) + len(right) > MAX_SEQUENCE
    elif operator == "%" and isinstance(left, str):
        too_big = any(
            int(m.group(1) or m.group(2)) > MAX_SEQUENCE for m in _FORMAT_WIDTHS.finditer(left)
        )
    if too_big:
        raise TemplateError(
            f"template arithmetic result too large ({operator})",
            hint=f"results are limited to {MAX_SEQUENCE:,} items and {MAX_INT_BITS} bits",
            rule="RB208",
        )


#: Widths and precisions in a printf-style format (``%0999999999d``).
_FORMAT_WIDTHS = re.compile(r"%[-#0 +]*(\d+)|\.(?=\d)(\d+)")


def _bounded_width(name: str, render: Any) -> Any:
    """A padding filter (``center``, ``indent``) refusing a width that would build a
    string too large to be meant."""

    def bounded(value: Any, width: Any = 80, *args: Any, **kwargs: Any) -> Any:
        if isinstance(width, int) and width > MAX_SEQUENCE:
            _check_size("*", " ", width)
        return render(value, width, *args, **kwargs)

    bounded.__name__ = name
    return bounded


def _make_env(command: bool) -> SandboxedEnvironment:
    env = _BoundedSandbox(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_as_slot if command else None,
    )
    for name in ("center", "indent"):
        env.filters[name] = _bounded_width(name, env.filters[name])
    env.filters["raw"] = lambda value: Raw(_text(value))
    # In a command every value is already data; elsewhere ``quote`` shell-quotes.
    env.filters["quote"] = (lambda value: value) if command else (lambda value: Raw(shlex.quote(_text(value))))
    return env


_DATA_ENV = _make_env(command=False)
_COMMAND_ENV = _make_env(command=True)


@lru_cache(maxsize=4096)
def _compile(text: str, command: bool) -> Any:
    env = _COMMAND_ENV if command else _DATA_ENV
    return env.from_string(text)


def has_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def _render_text(text: str, context: Mapping[str, Any], command: bool) -> str:
    if not has_template(text):
        return text
    try:
        return str(_compile(text, command).render(context))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", rule="RB201") from None
    except UndefinedError as exc:
        raise TemplateError(
            f"undefined template variable: {_plain(exc.message or '')}", rule="RB202"
        ) from None
    except SecurityError as exc:
        raise TemplateError(f"template refused by the sandbox: {exc}", rule="RB203") from None
    except TemplateError:
        raise
    except Exception as exc:  # a template's own runtime error (e.g. 1/0) is the author's
        if "Undefined" in str(exc):  # an undefined value reached a filter (tojson, …)
            raise TemplateError(
                "undefined template variable: a value the template uses is not defined",
                rule="RB202",
            ) from None
        raise TemplateError(f"template failed: {type(exc).__name__}: {exc}", rule="RB204") from None


def _plain(message: str) -> str:
    """Jinja's words for what is missing, in the author's: ``'dict object' has no
    attribute 'port'`` → ``no key 'port'``; ``'None' has …`` → ``no value (None) has …``."""
    return message.replace("'dict object' has no attribute", "no key").replace(
        "'None' has no attribute", "nothing (no value, e.g. no host) has attribute"
    )


class Renderer:
    """Renders templates against the run's values (vars, step results, host, run)."""

    def __init__(self, values: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> None:
        self.base: dict[str, Any] = {**values, "vars": dict(values)}
        if context:
            self.base.update(context)

    def context(self, extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return {**self.base, **extra} if extra else self.base

    def render(self, value: Any, extra: Mapping[str, Any] | None = None) -> Any:
        """Render every string inside ``value`` (recursively) as plain text."""
        context = self.context(extra)
        return _walk(value, lambda text: _render_text(text, context, command=False))

    def render_command(self, text: str, extra: Mapping[str, Any] | None = None) -> ShellCommand:
        """Render a shell command; every interpolated value becomes an environment
        variable the command refers to (see shell_values)."""
        return render_shell(text, self.context(extra))


def render_shell(text: str, context: Mapping[str, Any]) -> ShellCommand:
    """A shell command template rendered with its values kept out of the text."""
    if shell_values.OPEN in text or shell_values.CLOSE in text:
        raise TemplateError("a command may not contain the characters U+E000 or U+E001", rule="RB205")
    if not has_template(text):
        return ShellCommand.plain(text)
    values: list[str] = []
    token = _SLOTS.set(values)
    try:
        rendered = _render_text(text, context, command=True)
    finally:
        _SLOTS.reset(token)
    return shell_values.build(rendered, values)


def _walk(value: Any, render: Any) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, list):
        return [_walk(item, render) for item in value]
    if isinstance(value, dict):
        return {key: _walk(item, render) for key, item in value.items()}
    return value


@lru_cache(maxsize=4096)
def _parsed(text: str) -> nodes.Template:
    """The syntax tree of ``text``, parsed once per process: lint reads each template
    for several rules (names, filters, ``| raw``). Callers only read the tree."""
    return _DATA_ENV.parse(text)


def check_template(text: str) -> tuple[set[str], list[tuple[str, ...]]]:
    """Parse ``text`` and return (undeclared top-level names, attribute chains rooted at
    ``steps``) for lint. Raises ``TemplateError`` on a syntax error, with ``lineno``
    relative to the template in the hint."""
    names, chains = _template_facts(text)
    return set(names), list(chains)


@lru_cache(maxsize=4096)
def _template_facts(text: str) -> tuple[frozenset[str], tuple[tuple[str, ...], ...]]:
    """`check_template`'s answer, worked out once per text and process: a runbook
    repeats the same templates (``{{ vars.app }}`` …) and finding the undeclared names
    runs Jinja2's code generator. An error is raised again each time (not cached)."""
    try:
        ast = _parsed(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", hint=f"template line {exc.lineno}", rule="RB201") from None
    except ValueError as exc:  # an integer literal over Python's 4300-digit limit
        raise TemplateError(f"template number too large: {exc}", rule="RB208") from None
    _check_filters_and_tests(ast)
    for expr in ast.find_all(nodes.BinExpr):
        _constant(expr)
    names = _undeclared(ast)
    chains: list[tuple[str, ...]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _steps_chain(node)
        if chain:
            chains.append(chain)
    return names, tuple(_outermost(chains))


def _undeclared(ast: nodes.Template) -> frozenset[str]:
    """The names a tree from ``_parsed`` looks up in its context. For the plain
    templates runbooks are made of (``{{ vars.app }}``, ``{{ x | default('y') }}``) these
    are its names less the globals and ``self`` (which Jinja2 declares), found without
    Jinja2's code generator, most of lint's template time; anything else is left to
    ``meta.find_undeclared_variables``, whose optimizer also folds constants into the
    (shared) tree, so the plain templates are only those it would leave as they are."""
    for output in ast.body:
        if not isinstance(output, nodes.Output) or not all(
            isinstance(child, nodes.TemplateData) or _argument(child) for child in output.nodes
        ):
            return frozenset(meta.find_undeclared_variables(ast))
    loaded = {node.name for node in ast.find_all(nodes.Name)}
    return frozenset(loaded - {"self"} - set(_DATA_ENV.globals))


def _argument(node: nodes.Node) -> bool:
    return isinstance(node, nodes.Const) or _unfoldable(node)


def _unfoldable(node: nodes.Node) -> bool:
    """A name, or an attribute, item or filter of one with constant or such arguments:
    never a constant, so the optimizer has nothing to fold."""
    if isinstance(node, nodes.Name):
        return node.ctx == "load"
    if isinstance(node, nodes.Getattr):
        return node.ctx == "load" and _unfoldable(node.node)
    if isinstance(node, nodes.Getitem):
        return node.ctx == "load" and _unfoldable(node.node) and _argument(node.arg)
    if isinstance(node, nodes.Filter):
        return (
            node.node is not None
            and _unfoldable(node.node)
            and all(_argument(arg) for arg in node.args)
            and all(_argument(keyword.value) for keyword in node.kwargs)
            and node.dyn_args is None
            and node.dyn_kwargs is None
        )
    return False


def _check_filters_and_tests(ast: nodes.Template) -> None:
    """Every filter and test must exist in the sandbox (the one the engine renders with)."""
    for kind, node_type, known in (
        ("filter", nodes.Filter, _COMMAND_ENV.filters),
        ("test", nodes.Test, _COMMAND_ENV.tests),
    ):
        for node in ast.find_all(node_type):
            if node.name not in known:
                close = difflib.get_close_matches(node.name, sorted(known), n=1)
                raise TemplateError(
                    f"unknown template {kind} {node.name!r}",
                    hint=f"did you mean {close[0]!r}?" if close else f"see the Jinja2 {kind}s",
                    rule="RB207",
                )


_OPERATORS: dict[type[nodes.Node], str] = {
    nodes.Add: "+", nodes.Sub: "-", nodes.Mul: "*", nodes.Pow: "**", nodes.FloorDiv: "//", nodes.Mod: "%"
}


def _constant(node: nodes.Node) -> Any:
    """The value of a constant expression, computed with the run's bounds (raises
    RB208 as rendering would); None when it depends on a name."""
    if isinstance(node, nodes.Const):
        return node.value
    operator = _OPERATORS.get(type(node))
    if operator is None or not isinstance(node, nodes.BinExpr):
        return None
    left, right = _constant(node.left), _constant(node.right)
    if left is None or right is None:
        return None
    _check_size(operator, left, right)
    try:
        return _COMMAND_ENV.binop_table[operator](left, right)
    except Exception:  # 1 // 0, 'a' - 1: the run reports it (RB204)
        return None


def raw_uses(text: str) -> int:
    """How many times ``text`` pipes a value through ``| raw`` (lint warns, RB206)."""
    try:
        ast = _parsed(text)
    except (TemplateSyntaxError, ValueError):
        return 0
    return sum(1 for node in ast.find_all(nodes.Filter) if node.name == "raw")


def _steps_chain(node: nodes.Node) -> tuple[str, ...] | None:
    """``steps.a.b`` / ``steps['a-b'].c`` as ``("a-b", "c")``; None for anything else."""
    chain: list[str] = []
    while isinstance(node, nodes.Getattr | nodes.Getitem):
        if isinstance(node, nodes.Getattr):
            chain.append(node.attr)
        elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
            chain.append(node.arg.value)
        else:
            return None
        node = node.node
    if isinstance(node, nodes.Name) and node.name == "steps":
        return tuple(reversed(chain))
    return None


def _outermost(chains: Iterable[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Keep the longest chain of each nested Getattr group (``steps.a.b`` not ``steps.a``)."""
    ordered = sorted(set(chains), key=len, reverse=True)
    kept: list[tuple[str, ...]] = []
    for chain in ordered:
        if not any(other[: len(chain)] == chain for other in kept):
            kept.append(chain)
    return kept


def strings_in(value: Any, ptr: str = "") -> Iterable[tuple[str, str]]:
    """(pointer, text) for every string inside a value, for lint."""
    if isinstance(value, str):
        yield ptr, value
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings_in(item, f"{ptr}/{i}")
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{ptr}/{str(key).replace('~', '~0').replace('/', '~1')}")
