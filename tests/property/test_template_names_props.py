"""Lint finds a plain template's undeclared names without Jinja2's code generator
(templating._undeclared): the answer must be exactly
``jinja2.meta.find_undeclared_variables``'s, and the syntax tree, which the other
template rules read after it, must be left exactly as that function leaves it (its
optimizer folds constants in place). Checked on generated templates and on every
template in the repository's YAML files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from jinja2 import TemplateSyntaxError, meta

from runbook_engine import templating
from runbook_engine.errors import RunbookError
from runbook_engine.loader import load_file

ROOT = Path(__file__).resolve().parents[2]

NAMES = st.sampled_from(
    ["a", "b", "steps", "vars", "host", "self", "loop", "caller", "range", "dict", "namespace", "varargs", "x"]
)
FILTERS = st.sampled_from(["default", "upper", "join", "raw", "quote", "length", "int"])


def expressions() -> st.SearchStrategy[str]:
    leaves = st.one_of(NAMES, st.sampled_from(["1", "'s'", "none", "true", "[]"]))

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        return st.one_of(
            st.builds(lambda e, n: f"{e}.{n}", inner, NAMES),
            st.builds(lambda e, i: f"{e}[{i}]", inner, inner),
            st.builds(lambda e, i, j: f"{e}[{i}:{j}]", inner, inner, inner),
            st.builds(lambda e, f: f"{e} | {f}", inner, FILTERS),
            st.builds(lambda e, f, a: f"{e} | {f}({a})", inner, FILTERS, inner),
            st.builds(lambda e: f"{e} is defined", inner),
            st.builds(lambda f, a, k: f"{f}({a}, k={k})", inner, inner, inner),
            st.builds(lambda a, b, c: f"{a} if {b} else {c}", inner, inner, inner),
            st.builds(lambda a, op, b: f"({a} {op} {b})", inner, st.sampled_from(["+", "~", "==", "and", "or", "in", "*"]), inner),
            st.builds(lambda a: f"not {a}", inner),
            st.builds(lambda a, b: f"[{a}, ({b}, {a})]", inner, inner),
            st.builds(lambda a, b: f"{{'k': {a}, {b}: 1}}", inner, inner),
        )

    return st.recursive(leaves, extend, max_leaves=6)


def plain_expressions() -> st.SearchStrategy[str]:
    """What runbook templates are made of: names, attributes, items and filters with
    constant or such arguments (the shapes lint answers for without Jinja2)."""
    constants = st.sampled_from(["1", "'s'", "none", "true", "2.5"])

    def extend(inner: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
        argument = st.one_of(constants, inner)
        return st.one_of(
            st.builds(lambda e, n: f"{e}.{n}", inner, NAMES),
            st.builds(lambda e, i: f"{e}[{i}]", inner, argument),
            st.builds(lambda e, f: f"{e} | {f}", inner, FILTERS),
            st.builds(lambda e, f, a: f"{e} | {f}({a})", inner, FILTERS, argument),
            st.builds(lambda e, a: f"{e} | default(k={a})", inner, argument),
        )

    return st.one_of(constants, st.recursive(NAMES, extend, max_leaves=5))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab {}\n", max_size=4), plain_expressions()), min_size=1, max_size=4))
def test_plain_templates_are_answered_without_jinja2_and_alike(parts: list[tuple[str, str]]) -> None:
    text = "".join(f"{data}{{{{ {expr} }}}}" for data, expr in parts)
    event("answered without Jinja2" if same_answer(text) else "left to Jinja2")


STATEMENTS = st.sampled_from(
    [
        "",
        "{% set b = 1 %}",
        "{% for a in x %}{{ loop.index }}{% endfor %}",
        "{% if a %}{{ b }}{% else %}{{ x }}{% endif %}",
        "{% with a = 2 %}{{ a }}{% endwith %}",
        "{% macro m(a) %}{{ a }}{{ caller }}{% endmacro %}",
        "{% filter upper %}{{ b }}{% endfilter %}",
    ]
)


def same_answer(text: str) -> bool:
    """Two fresh trees of ``text``: one through Jinja2, one through lint; True when
    lint answered without Jinja2."""
    try:
        by_jinja, by_lint = templating._DATA_ENV.parse(text), templating._DATA_ENV.parse(text)
        templating._check_filters_and_tests(by_jinja)
    except (TemplateSyntaxError, ValueError, RunbookError):
        return False  # lint reports these before it looks for names
    try:
        expected = meta.find_undeclared_variables(by_jinja)
    except Exception as exc:  # the code generator refuses it: lint must still ask Jinja2
        with pytest.raises(type(exc)):
            templating._undeclared(by_lint)
        return False
    asked: list[object] = []
    real = templating.meta.find_undeclared_variables
    templating.meta.find_undeclared_variables = lambda ast: asked.append(ast) or real(ast)  # type: ignore[assignment]
    try:
        assert templating._undeclared(by_lint) == expected, text
    finally:
        templating.meta.find_undeclared_variables = real  # type: ignore[assignment]
    assert repr(by_lint) == repr(by_jinja), text
    return not asked


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(st.text(alphabet="ab {}\n", max_size=4), expressions(), STATEMENTS), min_size=1, max_size=3))
def test_generated_templates_get_jinja2s_answer(parts: list[tuple[str, str, str]]) -> None:
    text = "".join(f"{data}{{{{ {expr} }}}}{statement}" for data, expr, statement in parts)
    event("answered without Jinja2" if same_answer(text) else "left to Jinja2")


def strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if templating.has_template(value) else []
    if isinstance(value, dict):
        return [s for item in value.values() for s in strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in strings(item)]
    return []


def repository_templates() -> list[str]:
    found: set[str] = set()
    for path in [*ROOT.glob("runbooks/**/*.yaml"), *ROOT.glob("examples/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")]:
        try:
            found.update(strings(load_file(path).data))
        except RunbookError:
            continue
    return sorted(found)


@pytest.mark.parametrize("text", repository_templates())
def test_repository_templates_get_jinja2s_answer(text: str) -> None:
    same_answer(text)
