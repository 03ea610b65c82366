"""Sandboxed Jinja2 for runbook strings.

Two environments share one sandbox: plain rendering for data (URLs, messages, SQL
parameters) and command rendering, where every interpolated value is shell-quoted
unless the author pipes it through ``| raw``. ``StrictUndefined`` makes a missing
variable an error instead of an empty string in a production command.
"""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateSyntaxError, UndefinedError, meta, nodes
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from runbook_engine.errors import TemplateError

#: Names every template may use besides the declared vars: exactly those the engine
#: puts in the context (engine/context.py), so lint accepts nothing a run would refuse.
BUILTIN_NAMES = frozenset({"vars", "steps", "host", "run"})


class Raw(str):
    """A value the author asked to interpolate into a command without quoting."""


def _quote(value: Any) -> Any:
    if isinstance(value, Raw):
        return value
    if value is None:
        return "''"
    return shlex.quote(value if isinstance(value, str) else _text(value))


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _make_env(quote: bool) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=_quote if quote else None,
    )
    env.filters["raw"] = lambda value: Raw(_text(value))
    env.filters["quote"] = lambda value: Raw(shlex.quote(_text(value)))
    return env


_DATA_ENV = _make_env(quote=False)
_COMMAND_ENV = _make_env(quote=True)


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

    def render_command(self, text: str, extra: Mapping[str, Any] | None = None) -> str:
        """Render a shell command; interpolated values are shell-quoted."""
        return _render_text(text, self.context(extra), command=True)


def _walk(value: Any, render: Any) -> Any:
    if isinstance(value, str):
        return render(value)
    if isinstance(value, list):
        return [_walk(item, render) for item in value]
    if isinstance(value, dict):
        return {key: _walk(item, render) for key, item in value.items()}
    return value


def check_template(text: str) -> tuple[set[str], list[tuple[str, ...]]]:
    """Parse ``text`` and return (undeclared top-level names, attribute chains rooted at
    ``steps``) for lint. Raises ``TemplateError`` on a syntax error, with ``lineno``
    relative to the template in the hint."""
    try:
        ast = _DATA_ENV.parse(text)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}", hint=f"template line {exc.lineno}", rule="RB201") from None
    names = set(meta.find_undeclared_variables(ast))
    chains: list[tuple[str, ...]] = []
    for node in ast.find_all((nodes.Getattr, nodes.Getitem)):
        chain = _steps_chain(node)
        if chain:
            chains.append(chain)
    return names, _outermost(chains)


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
