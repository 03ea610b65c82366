"""Table-driven: predicates an operator would write, valid and invalid, each evaluated
against a realistic result (SPEC §4 examples first)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from runbook_engine.predicates import PredicateError, evaluate, parse

from .realistic import PHRASES, ctx


@dataclass(frozen=True)
class Err:
    """An expected PredicateError: message fragment, where, and a hint fragment."""

    message: str
    offset: int | None = None
    length: int | None = None
    hint: str | None = None


# (predicate, scenario, expected value or Err)
SPEC_EXAMPLES = [
    ("checksum matches", "shell", True),
    ("exit_code == 0", "shell", True),
    ("all failed=0", "ansible", True),
    ("all failed=0", "ansible-bad", False),
    ("all rc == 0 and all stdout == vars.version", "ssh-versions", False),
    ("any rc == 0 and any stdout == vars.version", "ssh-versions", True),
    ("any unreachable > 0", "ansible-bad", True),
    ("any unreachable > 0", "ansible", False),
    ('status == 200 and json.status == "accepted"', "http", True),
    ("json.version == vars.version", "http", True),
    ('stdout contains "Configuration valid" on all hosts', "ssh", True),
    ("stdout matches /v\\d+\\.\\d+\\.\\d+/", "shell", True),
    ("rows[0].count > 0", "sql", True),
    ('not (stderr contains "error" or stderr contains "exception")', "shell", True),
    ("duration < 45m", "shell", True),
    ("probe.latency_p95 > 2 * baseline.latency_p95", "decisions", True),
    ("failed(verify.smoke-*)", "decisions", True),
    ("count(hosts where failed > 0) == 0", "ansible", True),
    ("count(hosts where failed > 0) == 0", "ansible-bad", False),
]

MORE_VALID = [
    # literals and arithmetic
    ("1h30m == 5400", "shell", True),
    ("500ms == 0.5", "shell", True),
    ("5GB == 5000000000", "shell", True),
    ("512MiB == 512 * 1024 * 1024", "shell", True),
    ("2h > 45m", "shell", True),
    ("duration <= 1.5s", "shell", True),
    ("-5 < 0 and 10 / 4 == 2.5", "shell", True),
    ("(1 + 2) * 3 == 9", "shell", True),
    ('"v2." + "4.0" == vars.version', "shell", True),
    ("null == null", "shell", True),
    ("true != false", "shell", True),
    # comparison spellings
    ("rc = 0", "shell", True),
    ("rc != 1", "shell", True),
    ('stdout startswith "app-v2.4.0"', "shell", True),
    ('stdout endswith ": OK"', "shell", True),
    ('stdout not contains "FAILED"', "shell", True),
    ("stdout matches /ok$/i", "shell", True),
    ("stdout not matches /FAILED/", "shell", True),
    ('stdout matches "tar\\\\.gz"', "shell", True),
    ("status in [200, 201, 204]", "http", True),
    ("status not in [500, 502, 503]", "http", True),
    ('json.items contains {"id": 1}', "http", Err("unexpected character '{'", 20)),
    ('headers contains "content-type"', "http", True),
    ('"accepted" in json.status', "http", True),
    # paths
    ("json.items[0].id == 1", "http", True),
    ("json.items[-1].id == 2", "http", True),
    ("json.items[5] == null", "http", True),
    ('json["status"] == "accepted"', "http", True),
    ("json.missing == null", "http", True),
    ("steps.record-versions.previous_version", "decisions", "v2.3.0"),
    ("steps.run-migrations.succeeded", "decisions", True),
    ('hosts["app-02"].failed', "ansible-bad", 1),
    ("hosts.app-01.failed == 0", "ansible-bad", True),
    ("vars.deploy_dir", "shell", "/opt/deployments"),
    # quantifiers
    ("all failed == 0", "ansible-bad", False),
    ("any failed > 0", "ansible-bad", True),
    ("none failed > 0", "ansible", True),
    ("none failed > 0", "ansible-bad", False),
    ("any unreachable", "ssh-versions", True),
    ("none unreachable", "ssh", True),
    ("all not unreachable", "ssh-versions", False),
    ("all rc == 0", "ssh-versions", False),
    ("all rc == 0", "shell", True),
    ("rc == 0 on any host", "ssh-versions", True),
    ('stderr contains "refused" on no host', "ssh-versions", False),
    ("all (rc == 0 and duration < 1s)", "ssh", True),
    ("all stdout == vars.version", "ssh-versions", False),
    ("count(hosts) == 3", "ansible", True),
    ("count(hosts where unreachable > 0)", "ansible-bad", 1),
    ("count(hosts where ok >= 10) >= 2", "ansible-bad", False),
    # step queries
    ("succeeded(deploy.*)", "decisions", True),
    ("succeeded(verify.*)", "decisions", False),
    ("failed(prepare.*)", "decisions", False),
    ("skipped(check-logs)", "decisions", True),
    ('failed("verify.smoke-ingest")', "decisions", True),
    ("any_host_failed(deploy)", "decisions", True),
    ("any_host_failed(prepare)", "decisions", False),
    ("any_host_failed(start)", "decisions", False),
    # functions
    ("len(rows) == 1", "sql", True),
    ("len(json.items) > 1", "http", True),
    ("age(json.updated_at) < 2m", "http", True),
    ('number("1532") == rows[0].count', "sql", True),
    ("max(latency_p95) < 500ms", "monitor", True),
    ("avg(latency_p95) > 0.2", "monitor", True),
    ("trend(latency_p95) > 0", "monitor", True),
    ("sum(errors) == 0", "monitor", True),
    ("min(1, 2, 3) == 1", "shell", True),
    ("max([3, 1]) == 3", "shell", True),
    # named checks
    ("checksum matches and rc == 0", "shell", True),
    ("not checksum matches", "shell", False),
    ("service running", "ssh", False),
    # decisions
    ("probe.error_rate > baseline.error_rate * 1.5", "decisions", True),
    ("failed(verify.smoke-*) or any_host_failed(deploy)", "decisions", True),
]

INVALID = [
    ("", "shell", Err("empty predicate", 0)),
    ("   ", "shell", Err("empty predicate")),
    ("rc === 0", "shell", Err('unknown operator "==="', 3, 3, 'did you mean "=="?')),
    ("rc => 0", "shell", Err('unknown operator "=>"', 3, 2, 'did you mean ">="?')),
    ("rc =< 0", "shell", Err('unknown operator "=<"', hint='did you mean "<="?')),
    ("rc <> 0", "shell", Err('unknown operator "<>"', hint='did you mean "!="?')),
    ("rc == 0 && rc < 1", "shell", Err('unknown operator "&&"', 8, 2, 'did you mean "and"?')),
    ("rc == 0 || rc < 1", "shell", Err('unknown operator "||"', hint='did you mean "or"?')),
    ("!rc", "shell", Err('unknown operator "!"', 0)),
    ("rc == 0 AND rc < 1", "shell", Err('unexpected "AND"', 8, 3, 'did you mean "and"?')),
    ("rc == 0 rc", "shell", Err('unexpected "rc"', 8, 2, '"and" or "or"')),
    ("rc ==", "shell", Err('expected a value after "=="', 5)),
    ("(rc == 0", "shell", Err('expected ")"', 8)),
    ("rc == 0)", "shell", Err('unbalanced ")"', 7)),
    ("1 < rc < 3", "shell", Err("comparisons cannot be chained", 7)),
    ('"abc', "shell", Err("unterminated string", 0, 4)),
    ("stdout matches /abc", "shell", Err("unterminated regular expression", 15)),
    ("stdout matches /a(b/", "shell", Err("invalid regular expression")),
    ("stdout matches /ab/q", "shell", Err("unknown regular-expression flag", 19)),
    ("duration < 45x", "shell", Err('unknown unit "x"', 13, 1)),
    ("duration < 1h30", "shell", Err("needs a unit", 13)),
    ("all", "ansible", Err('expected a condition after "all"', 3)),
    ("all and rc", "ansible", Err('expected a condition after "all"')),
    ("rc == all", "shell", Err("expected a value", 6, 3, "quantifier")),
    ("stdout contains x on some hosts", "ssh", Err('expected "all hosts"', 21, 4)),
    ("rc == 0 on all", "ssh", Err('expected "hosts"')),
    ("frobnicate(rc)", "shell", Err('unknown function "frobnicate"', 0, 10)),
    ("lenn(rows)", "sql", Err('unknown function "lenn"', hint='did you mean "len"?')),
    ("len(rows, 2)", "sql", Err("len() takes 1 argument, got 2")),
    ("count(rows)", "sql", Err("count() counts hosts", 6, 4, "len(rows)")),
    ("failed()", "decisions", Err("expected a step id or glob")),
    ("rows[1.5]", "sql", Err("whole number or a quoted key", 5)),
    ("json.", "http", Err('expected a field name after "."', 5)),
    ("{{ version }} == 1", "shell", Err("unexpected character", 0, hint="not Jinja")),
    ("checksum matches", None, Err('expected a value after "matches"', hint="named check")),
    ("rc == 0 on all hosts on any host", "ssh", Err('unexpected "on"')),
    # type errors found at run time
    ('"abc" > 3', "shell", Err("cannot compare text", 0, 9)),
    ("stdout > 3", "shell", Err("cannot compare text", hint="number(stdout)")),
    ('duration < "45m"', "shell", Err("cannot compare a number")),
    ('status == "200"', "http", Err("cannot compare a number 200 with text")),
    ("stdout == /ok/", "shell", Err("cannot compare", hint="matches")),
    ("rc matches /0/", "shell", Err("only text can match")),
    ("rc + stdout", "shell", Err("cannot add a number and text")),
    ("1 / 0 == 1", "shell", Err("division by zero", 0, 5)),
    ("stdout and rc == 0", "shell", Err("stdout is text, not true or false", 0, 6)),
    (
        "stdot == 0",
        "shell",
        Err(
            'unknown field "stdot" — fields: rc, exit_code, stdout', 0, 5, 'did you mean "stdout"?'
        ),
    ),
    ("failed == 0", "ansible-bad", None),  # aggregated top-level field: allowed
    ("ok == 16", "ansible-bad", True),
    (
        "skipped == 0",
        "ansible",
        Err('"skipped" is reported per host', 0, 7, 'did you mean "all skipped == 0"?'),
    ),
    ("all nosuch == 1", "ansible", Err('no host reported field "nosuch"', 4, 6)),
    ('hosts["app-09"].rc == 0', "ssh", Err('no host "app-09"', hint="app-01")),
    ("rows[0].count.x", "sql", Err("rows[0].count is a number")),
    ("failed(nosuch-*)", "decisions", Err('no step matches "nosuch-*"')),
    ("rows[0].nothing > 0", "sql", Err("is null (missing)")),
    ("stopped", None, Err('unknown field "stopped"', 0, 7)),
]

CASES = SPEC_EXAMPLES + MORE_VALID + INVALID


def _id(case: tuple[str, str | None, object]) -> str:
    return f"{case[0]!r}@{case[1]}"


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_predicate(case: tuple[str, str | None, object]) -> None:
    text, scenario, expected = case
    checks = () if scenario is None else PHRASES
    if isinstance(expected, Err):
        with pytest.raises(PredicateError) as caught:
            evaluate(parse(text, checks), ctx(scenario or "shell"))
        error = caught.value
        assert expected.message in error.message
        assert error.source == text
        if expected.offset is not None:
            assert error.offset == expected.offset
        if expected.length is not None:
            assert error.length == expected.length
        if expected.hint is not None:
            assert error.hint is not None and expected.hint in error.hint
        assert 0 <= error.offset <= len(text)
        return
    value = evaluate(parse(text, checks), ctx(scenario or "shell"))
    if expected is not None:
        assert value == expected
        assert type(value) is type(expected)


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 60
    assert sum(isinstance(c[2], Err) for c in CASES) >= 20


def test_every_spec_example_is_in_the_table() -> None:
    spec = [
        "checksum matches",
        "exit_code == 0",
        "all failed=0",
        "all rc == 0 and all stdout == vars.version",
        "any unreachable > 0",
        'status == 200 and json.status == "accepted"',
        "json.version == vars.version",
        'stdout contains "Configuration valid" on all hosts',
        "stdout matches /v\\d+\\.\\d+\\.\\d+/",
        "rows[0].count > 0",
        'not (stderr contains "error" or stderr contains "exception")',
        "duration < 45m",
        "probe.latency_p95 > 2 * baseline.latency_p95",
        "failed(verify.smoke-*)",
        "count(hosts where failed > 0) == 0",
    ]
    assert set(spec) <= {text for text, _, _ in SPEC_EXAMPLES}


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_canonical_text_round_trips(case: tuple[str, str | None, object]) -> None:
    text, scenario, _ = case
    checks = () if scenario is None else PHRASES
    try:
        expr = parse(text, checks)
    except PredicateError:
        return
    assert parse(str(expr), checks) == expr
    assert str(parse(str(expr), checks)) == str(expr)
