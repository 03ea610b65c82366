"""Hypothesis properties of the predicate language (SPEC §4):

* the printer's canonical text parses back to an equal AST, for generated ASTs;
* arbitrary text makes the parser (and everything after it) raise only PredicateError;
* generated well-typed predicates evaluate without raising, to true or false.
"""

from __future__ import annotations

import contextlib
import string

from hypothesis import given
from hypothesis import strategies as st

from runbook_engine.executors.base import NamedCheck
from runbook_engine.predicates import (
    And,
    Arith,
    Bool,
    Call,
    Check,
    Compare,
    CountHosts,
    Duration,
    EvalContext,
    ListExpr,
    Neg,
    Node,
    Not,
    Null,
    Number,
    Or,
    Path,
    PredicateError,
    Quantifier,
    Regex,
    Size,
    StepQuery,
    String,
    check_names,
    evaluate,
    holds,
    parse,
    to_words,
)
from runbook_engine.predicates.lexer import KEYWORDS, MAX_EXPONENT

PHRASES = ("checksum matches", "service running", "all services stopped")
_PHRASE_WORDS = {word for phrase in PHRASES for word in phrase.split()}
_COMPARE_OPS = (
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
)
_PATTERNS = ("v\\d+\\.\\d+", "a/b", "^ok$", "[a-z]+\\/x", "(?:x|y)*", "\\\\", "é.+", "")

# -- arbitrary ASTs ---------------------------------------------------------------------

identifiers = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name not in KEYWORDS and name not in _PHRASE_WORDS
)
#: numbers the language can write: it refuses magnitudes from 1e{MAX_EXPONENT} on (issue 12)
finite = st.floats(
    min_value=-(10.0**MAX_EXPONENT), max_value=10.0**MAX_EXPONENT, exclude_min=True, exclude_max=True
)
leaves: st.SearchStrategy[Node] = st.one_of(
    st.builds(Number, st.integers(min_value=-(10**30), max_value=10**30)),
    st.builds(Number, finite),
    st.builds(String, st.text(max_size=12)),
    st.builds(Bool, st.booleans()),
    st.builds(Null),
    st.builds(Duration, st.floats(min_value=-1e12, max_value=1e12, allow_nan=False)),
    st.builds(Duration, st.integers(min_value=0, max_value=10**9).map(lambda ms: ms / 1000)),
    st.builds(Size, st.integers(min_value=-(2**62), max_value=2**62)),
    st.builds(Regex, st.sampled_from(_PATTERNS), st.sampled_from(["", "i", "ms", "s"])),
    st.builds(
        Path,
        identifiers,
        st.lists(st.one_of(st.text(max_size=8), st.integers(-5, 50)), max_size=3).map(tuple),
    ),
    st.builds(Path, st.just("hosts"), st.tuples(st.text(max_size=8))),
    st.builds(Check, st.sampled_from(PHRASES)),
    st.builds(
        StepQuery,
        st.sampled_from(["failed", "succeeded", "skipped", "any_host_failed"]),
        st.text(max_size=10),
    ),
    st.builds(CountHosts, st.none()),
)


def _extend(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    many = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(Neg, children),
        st.builds(Not, children),
        st.builds(Arith, st.sampled_from(["+", "-", "*", "/"]), children, children),
        st.builds(Compare, st.sampled_from(_COMPARE_OPS), children, children),
        st.builds(And, many),
        st.builds(Or, many),
        st.builds(Quantifier, st.sampled_from(["all", "any", "none"]), children, st.booleans()),
        st.builds(ListExpr, st.lists(children, max_size=3).map(tuple)),
        st.builds(CountHosts, children),
        st.builds(
            Call,
            st.sampled_from(["len", "age", "number", "trend", "avg", "sum"]),
            st.tuples(children),
        ),
        st.builds(
            Call,
            st.sampled_from(["min", "max"]),
            st.lists(children, min_size=1, max_size=3).map(tuple),
        ),
    )


asts = st.recursive(leaves, _extend, max_leaves=16)


@given(asts)
def test_printed_ast_parses_back_to_the_same_ast(expr: Node) -> None:
    text = str(expr)
    again = parse(text, PHRASES)
    assert again == expr, text
    assert str(again) == text


# -- arbitrary text ---------------------------------------------------------------------

_VOCABULARY = [
    *sorted(KEYWORDS),
    "1e400h",
    "1" + "0" * 5000,
    "/(a+)+$/",
    "/(?<=a)b/",
    "/\\1/",
    *"()[],.+-*/<>=!&|\"'{}",
    "==",
    "!=",
    "<=",
    ">=",
    "===",
    "=>",
    "rc",
    "stdout",
    "json",
    "status",
    "hosts",
    "host",
    "failed",
    "count",
    "len",
    "age",
    "trend",
    "max",
    "vars",
    "steps",
    "record-versions",
    "app-01",
    '"app-01"',
    "0",
    "-1",
    "2.5",
    "45m",
    "1h30m",
    "500ms",
    "5GB",
    "512MiB",
    "/v\\d+/",
    "/x/i",
    '"text"',
    "verify.smoke-*",
    "checksum matches",
    "service running",
    "1e400",
    "10**400",
]
token_soup = st.lists(st.sampled_from(_VOCABULARY), max_size=14).flatmap(
    lambda words: st.sampled_from([" ", ""]).map(lambda sep: sep.join(words))
)
noise = st.text(alphabet=string.printable + "éλ\u00a0\u2028—“”", max_size=40)

_CONTEXT = EvalContext(
    fields={
        "rc": 0,
        "stdout": "v2.4.0\n",
        "status": 200,
        "json": {"status": "ok", "items": [1, 2]},
        "count": 3,
    },
    hosts={
        "app-01": {"rc": 0, "stdout": "ok", "failed": 0, "unreachable": 0},
        "app-02": {"rc": 1, "stdout": "", "failed": 1, "unreachable": 1},
    },
    roots={"vars": {"version": "v2.4.0"}, "steps": {"record-versions": {"status": "succeeded"}}},
    step_status={"verify.smoke-1": "failed", "prepare.record-versions": "succeeded"},
    host_failures={"deploy": frozenset({"app-02"})},
    checks={
        "checksum matches": NamedCheck("checksum matches", "checksum matches", lambda f, h: True),
        "service running": NamedCheck("service running", "running", lambda f, h: f["missing"]),
    },
    now=1_764_000_000.0,
)


@given(st.one_of(token_soup, noise))
def test_any_text_raises_only_predicate_error(text: str) -> None:
    try:
        expr = parse(text, PHRASES)
    except PredicateError as error:
        assert 0 <= error.offset <= len(text)
        assert error.source == text
        return
    check_names(
        expr, {"rc": "int", "stdout": "str", "json": "json"}, {"failed": "int"}, ["vars", "steps"]
    )
    to_words(expr)
    with contextlib.suppress(PredicateError):
        holds(expr, _CONTEXT)


# -- well-typed predicates --------------------------------------------------------------

_HOSTS = {
    f"app-0{i}": {
        "rc": i % 2,
        "failed": 0,
        "stdout": f"v2.{i}.0\n",
        "duration": 0.5 * i,
        "unreachable": False,
    }
    for i in (1, 2, 3)
}
_TYPED = EvalContext(
    fields={"rc": 0, "stdout": "Configuration valid\n", "duration": 1.5, "status": 200},
    hosts=_HOSTS,
    roots={"vars": {"version": "v2.4.0"}, "baseline": {"latency": 0.2}},
    step_status={
        "verify.smoke-1": "succeeded",
        "verify.smoke-2": "failed",
        "deploy.code": "succeeded",
    },
    host_failures={"deploy": frozenset()},
    checks={
        "checksum matches": NamedCheck("checksum matches", "checksum matches", lambda f, h: True)
    },
    now=1_764_000_000.0,
)


def _numbers(host: bool) -> st.SearchStrategy[Node]:
    fields = ["rc", "duration"] if host else ["rc", "duration", "status"]
    leaf = st.one_of(
        st.builds(Number, st.integers(-1000, 1000)),
        st.builds(Number, st.floats(-1e6, 1e6)),
        st.builds(Duration, st.floats(0, 1e6)),
        st.builds(Size, st.integers(0, 2**40)),
        st.builds(Path, st.sampled_from(fields)),
        st.builds(Path, st.just("baseline"), st.just(("latency",))),
        st.builds(Call, st.just("len"), st.tuples(st.builds(Path, st.just("stdout")))),
    )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(Arith, st.sampled_from(["+", "-", "*"]), inner, inner),
            st.builds(Arith, st.just("/"), inner, st.builds(Number, st.integers(1, 9))),
            st.builds(Neg, inner),
            st.builds(
                Call,
                st.sampled_from(["min", "max"]),
                st.lists(inner, min_size=1, max_size=3).map(tuple),
            ),
        ),
        max_leaves=4,
    )


def _texts() -> st.SearchStrategy[Node]:
    return st.one_of(
        st.builds(String, st.text(max_size=8)),
        st.builds(Path, st.just("stdout")),
        st.builds(Path, st.just("vars"), st.just(("version",))),
    )


def _conditions(host: bool) -> st.SearchStrategy[Node]:
    leaf = st.one_of(
        st.builds(
            Compare,
            st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
            _numbers(host),
            _numbers(host),
        ),
        st.builds(
            Compare,
            st.sampled_from(
                ["==", "!=", "<", ">=", "contains", "not contains", "startswith", "endswith"]
            ),
            _texts(),
            _texts(),
        ),
        st.builds(
            Compare,
            st.sampled_from(["matches", "not matches"]),
            _texts(),
            st.builds(Regex, st.sampled_from(_PATTERNS)),
        ),
        st.builds(
            Compare,
            st.sampled_from(["in", "not in"]),
            _numbers(host),
            st.builds(ListExpr, st.lists(_numbers(host), max_size=3).map(tuple)),
        ),
        st.builds(Bool, st.booleans()),
        st.builds(
            StepQuery,
            st.sampled_from(["failed", "succeeded", "skipped"]),
            st.sampled_from(["verify.*", "smoke-?", "deploy.code"]),
        ),
        st.builds(StepQuery, st.just("any_host_failed"), st.sampled_from(["deploy", "nowhere"])),
        st.builds(Check, st.just("checksum matches")),
    )
    if not host:
        leaf = st.one_of(
            leaf,
            st.builds(
                Quantifier,
                st.sampled_from(["all", "any", "none"]),
                _conditions(True),
                st.booleans(),
            ),
            st.builds(
                Compare,
                st.sampled_from(["==", ">", "<="]),
                st.builds(CountHosts, st.one_of(st.none(), _conditions(True))),
                _numbers(False),
            ),
        )
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(Not, inner),
            st.builds(And, st.lists(inner, min_size=2, max_size=3).map(tuple)),
            st.builds(Or, st.lists(inner, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=6,
    )


@given(st.deferred(lambda: _conditions(False)))
def test_well_typed_predicates_evaluate_without_error(expr: Node) -> None:
    assert isinstance(holds(expr, _TYPED), bool)
    reparsed = parse(str(expr), ["checksum matches"])
    assert holds(reparsed, _TYPED) == holds(expr, _TYPED)
    assert (
        check_names(
            reparsed,
            {"rc": "int", "stdout": "str", "duration": "duration", "status": "int"},
            {
                "rc": "int",
                "stdout": "str",
                "duration": "duration",
                "failed": "int",
                "unreachable": "bool",
            },
            ["vars", "baseline", "steps"],
        )
        == []
    )


@given(asts)
def test_evaluating_any_ast_raises_only_predicate_error(expr: Node) -> None:
    try:
        evaluate(expr, _CONTEXT)
    except PredicateError as error:
        assert error.message
    to_words(expr)
