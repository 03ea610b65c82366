"""Any YAML document fed to the loader and then to every lint check ends in a result or
in a ``RunbookError`` with a position, never in another exception (issue 2).

Three sources of documents: arbitrary text, text assembled from YAML's own syntax
(indentation, flow brackets, anchors, tags, templates), and runbook-shaped data
(mostly plausible keys and values, with junk mixed in) dumped with PyYAML, which is
what reaches the deeper checks: schema, model, graph, vars, templates, predicates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml
from hypothesis import event, given
from hypothesis import strategies as st

from runbook_engine.errors import RunbookError
from runbook_engine.lint import Analysis, analyze_document
from runbook_engine.loader import load_text

PATH = "generated.yaml"


def check(text: str, record: bool = True) -> Analysis | None:
    """Load and lint ``text``; a user error must carry a span, a finding too."""
    try:
        doc = load_text(text, PATH)
    except RunbookError as exc:
        assert exc.span is not None, f"load error without position: {exc}"
        assert exc.span.path == PATH and exc.span.line >= 1 and exc.span.col >= 1
        if record:
            event(f"load error {exc.rule}")
        return None
    analysis = analyze_document(doc)
    if record:
        event("graph built" if analysis.graph is not None else "stopped before the model")
    for finding in analysis.findings:
        assert isinstance(finding, RunbookError)
        assert finding.span is not None, f"finding without position: {finding.rule} {finding}"
        assert finding.span.line >= 1 and finding.span.col >= 1
    return analysis


YAML_PIECES = st.sampled_from(
    [
        "1" + "0" * 5000,  # over Python's 4300-digit limit (issue 12)
        ".inf",
        ".nan",
        "\n",
        "  ",
        "    ",
        "- ",
        ": ",
        "? ",
        "{",
        "}",
        "[",
        "]",
        ", ",
        "&a ",
        "*a",
        "&b ",
        "*b",
        "!!str ",
        "!!int ",
        "!!python/name:os.system ",
        "!custom ",
        "<<: ",
        "---\n",
        "...\n",
        "#",
        "'",
        '"',
        "|\n",
        ">-\n",
        "\t",
        "runbook: 1\n",
        "name: x\n",
        "phases:\n",
        "  - id: p\n",
        "    steps:\n",
        "      - id: s\n",
        "        shell: ",
        "        needs: [s]\n",
        "        expect: ",
        "rc == 0",
        "{{ v }}",
        "{% if %}",
        "steps.s.x",
        "vars:\n",
        "  v: ",
        "{type: string, pattern: '('}",
        "\x00",
        "\ufeff",
        "é",
        "0x1F",
        "1e400",
        "~",
        "null",
        "yes",
        "2024-01-01",
        "=",
        "%YAML 1.1\n",
        "%TAG ! tag:x,2000:\n",
    ]
)


IDS = st.sampled_from(["a", "b", "c", "deploy", "verify-it"])
BAD_IDS = st.sampled_from(["A B", "", "steps", "-x"])
TEMPLATE_TEXT = st.sampled_from(
    [
        "echo hi",
        "echo {{ v }}",
        "echo {{ undefined }}",
        "{{ steps.a.out }}",
        "{{ steps['verify-it'].status }}",
        "{{ v | raw }}",
        "{{ v ",
        "{% for %}",
        "{{ host.vars.x | default(v) }}",
        "{{ ''.__class__ }}",
        "{{ 1/0 }}",
        "{{ steps[v] }}",
        "{{ steps.b.nothing }}",
        "{{ steps.zz.out }}",
    ]
)
PREDICATES = st.sampled_from(
    [
        "rc == 0",
        "all rc == 0",
        'stdout contains "ok" on all hosts',
        "failed(p.*)",
        "steps.a.succeeded",
        "steps.zz.failed",
        "rc ==",
        "(((",
        "json.x > 2 * baseline.y",
        "duration < 45m",
        "count(hosts where failed > 0) == 0",
        "checksum matches",
        '"open',
        "nope.field == 1",
        'rc > "abc"',
        "stdout matches /[/",
        "status == 200",
    ]
)
DURATIONS = st.sampled_from(["30s", "15m", "1h30m", "500ms", 90, 0.5])
BAD_DURATIONS = st.one_of(st.sampled_from(["5 minutes", "-1", "", "1h 30m"]), st.integers(-5, -1))
#: Values that once produced a traceback or a hang instead of a finding (issue 12).
HOSTILE = st.sampled_from(
    [
        float("inf"),
        float("nan"),
        "{{ x | lenght }}",
        "{{ 10 ** 5000 }}",
        "{{ 'a' * 10 ** 9 }}",
        "{{ 1" + "0" * 5000 + " }}",
        "stdout matches /(a+)+$/",
        "stdout matches /(?=x)/",
        "duration < 1e400h",
        "cat <<'EOF'\n{{ x }}\nEOF",
        "Mars/Olympus",
        1_000_000_000,
    ]
)
JUNK: st.SearchStrategy[Any] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    HOSTILE,
    st.floats(allow_nan=True),
    st.text(max_size=20),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
)

Maybe = Callable[[st.SearchStrategy[Any]], st.SearchStrategy[Any]]


def plausible(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return strategy


def sometimes_junk(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(strategy, strategy, strategy, JUNK)


def runbooks(maybe: Maybe) -> st.SearchStrategy[dict[str, Any]]:
    """Runbook-shaped data; ``maybe`` decides whether values may be junk of any type.
    Without junk most documents pass the schema, so the semantic checks run on them."""
    clean = maybe is plausible
    ids = IDS if clean else st.one_of(IDS, BAD_IDS)
    durations = DURATIONS if clean else st.one_of(DURATIONS, BAD_DURATIONS)
    executor = st.one_of(
        st.tuples(
            st.just("shell"),
            maybe(st.one_of(TEMPLATE_TEXT, st.fixed_dictionaries({"command": TEMPLATE_TEXT}))),
        ),
        st.tuples(st.just("ssh"), maybe(TEMPLATE_TEXT)),
        st.tuples(st.just("http"), maybe(st.fixed_dictionaries({"url": TEMPLATE_TEXT}))),
        st.tuples(
            st.just("notify"),
            maybe(
                st.fixed_dictionaries(
                    {"channel": st.sampled_from(["ops", "log", "x"]), "message": TEMPLATE_TEXT}
                )
            ),
        ),
        st.tuples(st.just("manual"), maybe(TEMPLATE_TEXT)),
        st.tuples(st.just("wait"), maybe(durations)),
    )
    odd_key = st.tuples(st.sampled_from(["bogus", "expects"]), JUNK)
    executors = (
        st.lists(executor, min_size=1, max_size=1)
        if clean
        else st.lists(st.one_of(executor, odd_key), max_size=2)
    )

    @st.composite
    def steps(draw: st.DrawFn) -> dict[str, Any]:
        step: dict[str, Any] = {"id": draw(maybe(ids))}
        for key, value in draw(executors):
            step[key] = value
        optional = {
            "needs": maybe(st.lists(ids, max_size=3)),
            "expect": maybe(PREDICATES),
            "when": maybe(PREDICATES),
            "until": maybe(PREDICATES),
            "capture": maybe(
                st.dictionaries(
                    st.sampled_from(["out", "x"]), st.sampled_from(["stdout", "rc"]), max_size=2
                )
            ),
            "timeout": durations,
            "retries": maybe(st.integers(0, 5)),
            "on_failure": maybe(
                st.one_of(
                    st.sampled_from(["abort", "rollback", "continue"]),
                    st.fixed_dictionaries({"goto": ids}),
                )
            ),
            "undo": maybe(st.fixed_dictionaries({"shell": TEMPLATE_TEXT})),
            "hosts": maybe(st.just("all")),
        }
        for key in draw(st.lists(st.sampled_from(sorted(optional)), unique=True, max_size=4)):
            step[key] = draw(optional[key])
        return step

    var = st.fixed_dictionaries(
        {},
        optional={
            "type": maybe(
                st.sampled_from(
                    ["string", "int", "bool", "path", "duration", "list", "map", "float"]
                )
            ),
            "pattern": maybe(st.sampled_from(["^v\\d+$", "(", "[a-", ".*"])),
            "default": st.one_of(st.none(), st.text(max_size=5), st.integers(), st.booleans()),
            "required": maybe(st.booleans()),
            "secret": maybe(st.booleans()),
            "choices": maybe(st.lists(st.integers(), max_size=2)),
        },
    )
    phase = st.fixed_dictionaries(
        {
            "id": maybe(st.sampled_from(["p", "q", "p"])),
            "steps": maybe(st.lists(steps(), min_size=1, max_size=4)),
        },
        optional={"downtime": maybe(st.sampled_from(["begins", "ends"])), "budget": durations},
    )
    decision = st.fixed_dictionaries(
        {
            "condition": st.just("c"),
            "when": maybe(PREDICATES),
            "action": maybe(st.sampled_from(["rollback", "warn"])),
        },
        optional={"after": durations},
    )
    check_item = st.fixed_dictionaries({"check": st.just("c"), "shell": TEMPLATE_TEXT})
    channel = st.fixed_dictionaries({"webhook": TEMPLATE_TEXT})
    return st.fixed_dictionaries(
        {
            "runbook": maybe(st.just(1)),
            "name": maybe(st.just("generated")),
            "phases": maybe(st.lists(phase, min_size=1, max_size=3)),
        },
        optional={
            "vars": maybe(st.dictionaries(st.sampled_from(["v", "w"]), maybe(var), max_size=3)),
            "rollback": maybe(st.fixed_dictionaries({"steps": st.lists(steps(), max_size=2)})),
            "decisions": maybe(st.lists(decision, max_size=2)),
            "notify": maybe(
                st.dictionaries(st.sampled_from(["ops", "x"]), maybe(channel), max_size=2)
            ),
            "prerequisites": maybe(
                st.lists(st.one_of(st.text(max_size=10), check_item), max_size=2)
            ),
            "window": maybe(
                st.fixed_dictionaries(
                    {}, optional={"max_duration": durations, "downtime_budget": durations}
                )
            ),
            "success": maybe(st.dictionaries(st.just("downtime"), st.just("< 45m"))),
        },
    )


@given(st.text(max_size=300))
def test_any_text(text: str) -> None:
    check(text)


@given(st.lists(YAML_PIECES, max_size=40).map("".join))
def test_yaml_shaped_text(text: str) -> None:
    check(text)


@given(runbooks(plausible), st.sampled_from(["block", "flow"]))
def test_runbook_shaped_data(data: dict[str, Any], style: str) -> None:
    check(
        yaml.safe_dump(
            data, default_flow_style=style == "flow", allow_unicode=True, sort_keys=False
        )
    )


@given(runbooks(sometimes_junk))
def test_runbook_shaped_data_with_junk_values(data: dict[str, Any]) -> None:
    check(yaml.safe_dump(data, allow_unicode=True, sort_keys=False))


def test_a_valid_generated_runbook_reaches_every_stage() -> None:
    """Guards the properties above against a checker that never gets past the schema."""
    text = yaml.safe_dump(
        {
            "runbook": 1,
            "name": "generated",
            "vars": {"v": {"type": "string", "default": "x"}},
            "phases": [
                {"id": "p", "steps": [{"id": "a", "shell": "echo {{ v }}", "expect": "rc == 0"}]}
            ],
        }
    )
    analysis = check(text, record=False)
    assert analysis is not None and analysis.ok and analysis.graph is not None
