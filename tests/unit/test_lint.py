"""Lint analysis as a library (`analyze`, `analyze_document`) and its reporters."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runbook_engine import schema
from runbook_engine.errors import PluginError
from runbook_engine.lint import Analysis, analyze, analyze_document
from runbook_engine.lint.reporters import REPORTERS, as_json, github, sarif, text
from runbook_engine.loader import load_text

ROOT = Path(__file__).resolve().parents[2]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"

BROKEN = """\
runbook: 1
name: broken
vars:
  version: {type: string, required: true}
phases:
  - id: one
    steps:
      - id: hello
        shell: echo {{ verison }}
        expect: rc == == 0
"""


def lint_text(source: str, path: str = "rb.yaml") -> Analysis:
    return analyze_document(load_text(source, path))


def test_monthly_runbook_is_clean() -> None:
    analysis = analyze(str(MONTHLY))
    assert analysis.findings == []
    assert analysis.ok and analysis.runbook is not None and analysis.graph is not None
    assert len(analysis.graph.order()) == sum(len(p.steps) for p in analysis.runbook.phases)


def test_all_findings_of_a_file_sorted_by_position() -> None:
    analysis = lint_text(BROKEN)
    assert [(f.rule, f.span.line, f.span.col) for f in analysis.findings if f.span] == [
        ("RB202", 9, 24),
        ("RB300", 10, 23),
    ]
    assert not analysis.unusable


def test_schema_errors_stop_before_the_model() -> None:
    analysis = lint_text("runbook: 1\nname: x\nphases: []\n")
    assert [f.rule for f in analysis.findings] == ["RB101"]
    assert analysis.runbook is None


def test_unknown_key_inside_an_executor_one_of_names_the_key() -> None:
    """Regression: a oneOf (string | object) used to say only 'not valid under any of
    the given schemas' at the step; now the unknown key and a did-you-mean."""
    analysis = lint_text(
        "runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n"
        "      - id: sign-off\n        manual: {prompt: Close it, aprovers: [lead]}\n"
    )
    (finding,) = analysis.findings
    assert (finding.rule, finding.message, finding.hint) == (
        "RB102",
        "unknown key 'aprovers'",
        "did you mean 'approvers'?",
    )
    assert (finding.span.line, finding.span.col) == (7, 36)  # type: ignore[union-attr]


def test_a_bad_duration_says_what_a_duration_looks_like() -> None:
    analysis = lint_text(
        "runbook: 1\nname: x\nphases:\n  - id: p\n    budget: 5 minutes\n    steps: [{id: a, shell: x}]\n"
    )
    (finding,) = analysis.findings
    assert finding.rule == "RB101" and "30s, 15m, 1h30m" in (finding.hint or "")


def test_var_findings_point_at_the_offending_value() -> None:
    """Regression: they used to point at the var's first key."""
    analysis = lint_text(
        "runbook: 1\nname: x\nvars:\n  v:\n    type: string\n    pattern: '[a-'\n"
        "  n:\n    type: int\n    default: many\nphases:\n  - id: p\n    steps: [{id: a, shell: x}]\n"
    )
    assert [(f.rule, f.span.line, f.span.col) for f in analysis.findings if f.span] == [
        ("RB110", 6, 15),
        ("RB110", 9, 14),
    ]


def test_graph_problems_skip_template_and_predicate_checks() -> None:
    source = BROKEN.replace("      - id: hello\n", "      - id: hello\n        needs: [hello]\n")
    assert [f.rule for f in lint_text(source).findings] == ["RB106"]


def test_rollback_and_undo_and_prerequisites_are_checked_too() -> None:
    analysis = lint_text(
        "runbook: 1\nname: x\nprerequisites:\n  - check: ok\n    shell: echo {{ a }}\n"
        "phases:\n  - id: p\n    steps:\n      - id: s\n        shell: x\n        undo: {shell: 'echo {{ b }}'}\n"
        "rollback:\n  steps:\n    - {id: r, shell: 'echo {{ c }}'}\n"
    )
    assert sorted(f.message for f in analysis.findings) == [
        "undefined template variable 'a'",
        "undefined template variable 'b'",
        "undefined template variable 'c'",
    ]


def test_rollback_steps_may_use_any_step_result() -> None:
    analysis = lint_text(
        "runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n      - {id: s, shell: x, capture: {v: stdout}}\n"
        "rollback:\n  steps:\n    - {id: r, shell: 'echo {{ steps.s.v }}', when: steps.s.succeeded}\n"
    )
    assert analysis.findings == []


def test_a_load_error_is_unusable_and_keeps_the_line_for_the_caret(tmp_path: Path) -> None:
    path = tmp_path / "tabs.yaml"
    path.write_text("runbook: 1\n\tname: x\n")
    analysis = analyze(str(path))
    assert analysis.unusable and analysis.document is None
    assert analysis.line(2) == "\tname: x"
    assert text([analysis]).splitlines()[1:3] == ["  \tname: x", "  ^"]


def test_a_third_party_plugin_with_a_broken_schema_is_a_plugin_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Built-in fragments are not meta-checked on every lint (a 0.4 s cost); a
    third-party one still is."""

    class Broken:
        key = "broken"
        schema: dict[str, Any] = {"type": "no-such-type"}
        fields: dict[str, str] = {}

    monkeypatch.setattr(schema, "executor_classes", lambda: {"broken": Broken})
    monkeypatch.setattr(schema, "distribution_of", lambda key: ("runbook-plugin-broken", "1.0"))
    schema._check_plugin_schemas.cache_clear()
    try:
        with pytest.raises(
            PluginError, match="'broken' from package 'runbook-plugin-broken' has an invalid schema"
        ):
            schema._check_plugin_schemas()
    finally:
        schema._check_plugin_schemas.cache_clear()


def test_built_in_executor_fragments_are_valid_json_schema() -> None:
    from jsonschema import Draft202012Validator

    Draft202012Validator.check_schema(schema.composed_schema())


# Reporters


@pytest.fixture
def broken() -> list[Analysis]:
    return [lint_text(BROKEN, "runbooks/broken.yaml")]


def test_text_reporter_is_actionlint_style(broken: list[Analysis]) -> None:
    lines = text(broken).splitlines()
    assert lines[:4] == [
        "runbooks/broken.yaml:9:24: undefined template variable 'verison' [RB202]",
        "          shell: echo {{ verison }}",
        "                         ^^^^^^^",
        "  hint: did you mean 'version'?",
    ]
    assert lines[4].startswith("runbooks/broken.yaml:10:23: ") and lines[4].endswith("[RB300]")


def test_json_reporter(broken: list[Analysis]) -> None:
    data = json.loads(as_json(broken))
    assert data["files"] == ["runbooks/broken.yaml"]
    first = data["findings"][0]
    assert first == {
        "rule": "RB202",
        "severity": "error",
        "message": "undefined template variable 'verison'",
        "hint": "did you mean 'version'?",
        "path": "runbooks/broken.yaml",
        "line": 9,
        "col": 24,
        "end_line": 9,
        "end_col": 31,
        "source": "        shell: echo {{ verison }}",
    }


def test_sarif_reporter(broken: list[Analysis]) -> None:
    log = json.loads(sarif(broken))
    assert log["version"] == "2.1.0"
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    result = run["results"][0]
    assert result["ruleId"] == "RB202" and result["level"] == "error"
    assert rules[result["ruleIndex"]]["helpUri"].endswith("/docs/lint-rules.md#rb202")
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"] == {"uri": "runbooks/broken.yaml"}
    assert location["region"]["startLine"] == 9 and location["region"]["startColumn"] == 24
    assert location["region"]["snippet"]["text"].strip().startswith("shell:")


def test_github_reporter_escapes_newlines(broken: list[Analysis]) -> None:
    lines = github(broken).splitlines()
    assert lines[0] == (
        "::error file=runbooks/broken.yaml,line=9,col=24,title=RB202::"
        "undefined template variable 'verison' (did you mean 'version'?)"
    )
    analysis = lint_text(BROKEN, "x.yaml")
    analysis.findings[0].hint = "two\nlines 100%"
    assert "two%0Alines 100%25" in github([analysis])


def test_clean_input_prints_nothing() -> None:
    clean = [analyze(str(MONTHLY))]
    assert text(clean) == "" and github(clean) == ""
    assert json.loads(as_json(clean))["findings"] == []
    assert set(REPORTERS) == {"text", "json", "sarif", "github"}


def test_a_channel_missing_its_keys_says_which_alternatives_exist() -> None:
    """Regression: a oneOf of required-key sets used to name only the first key."""
    base = (
        "runbook: 1\nname: x\nphases:\n  - id: p\n    steps: [{id: a, shell: x}]\nnotify:\n  ops:\n"
    )
    (finding,) = lint_text(base + "    fallback: log\n").findings
    assert finding.message == "needs 'webhook' or 'slack' or 'smtp' + 'from' + 'to' or 'log'"
    (finding,) = lint_text(base + "    webhook: https://h.example\n    log: true\n").findings
    assert finding.message == "give only one of 'webhook' or 'log'"
    assert (finding.span.line, finding.span.col) == (8, 5)  # type: ignore[union-attr]


@pytest.mark.parametrize("name", ["now", "env"])
def test_names_the_engine_does_not_provide_are_undefined(name: str) -> None:
    """Regression: lint accepted `now` and `env`, which a run then failed to render."""
    (finding,) = lint_text(
        f"runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n      - id: a\n        shell: echo {{{{ {name} }}}}\n"
    ).findings
    assert (finding.rule, finding.message) == ("RB202", f"undefined template variable {name!r}")
