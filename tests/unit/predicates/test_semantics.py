"""The documented semantics (docs/predicates.md): quantifiers and unreachable or
silent hosts, truthiness, per-host fields, captures, static checks and plain words."""

from __future__ import annotations

import pytest

from runbook_engine.executors.base import NamedCheck
from runbook_engine.predicates import (
    EvalContext,
    PredicateError,
    check_names,
    evaluate,
    evaluate_value,
    holds,
    parse,
    to_words,
)

from .realistic import CHECKS, ctx


def _holds(text: str, context: EvalContext) -> bool:
    return holds(parse(text, tuple(context.checks)), context)


def _hosts(**hosts: dict[str, object]) -> EvalContext:
    return EvalContext(hosts=hosts, roots={"vars": {"version": "v2.4.0"}})


# -- quantifiers ------------------------------------------------------------------------


def test_unreachable_host_fails_all_even_when_its_numbers_look_green() -> None:
    # Ansible reports failed=0 for a host it never reached.
    green = {"ok": 10, "failed": 0, "unreachable": 0}
    context = _hosts(**{"app-01": green, "app-03": {"ok": 0, "failed": 0, "unreachable": 1}})
    assert not _holds("all failed == 0", context)
    assert not _holds("failed == 0 on all hosts", context)
    assert _holds("any failed == 0", context)
    assert not _holds("none failed > 0", context)  # the unreachable host cannot vouch
    assert _holds("count(hosts where failed == 0) == 1", context)


def test_condition_about_unreachable_judges_unreachable_hosts_itself() -> None:
    context = ctx("ssh-versions")
    assert _holds("any unreachable", context)
    assert _holds("any unreachable > 0", context)  # a flag counts as 1
    assert not _holds("none unreachable", context)
    assert _holds("count(hosts where unreachable) == 1", context)
    assert _holds("count(hosts where rc == 0) == 2", context)


def test_field_missing_on_some_hosts_makes_those_hosts_fail() -> None:
    context = _hosts(a={"rc": 0, "version": "v2.4.0"}, b={"rc": 0})
    assert not _holds("all version == vars.version", context)
    assert _holds("any version == vars.version", context)
    assert not _holds('none version == "v9"', context)
    assert _holds("all rc == 0", context)


def test_field_missing_on_every_host_is_an_error() -> None:
    context = _hosts(a={"rc": 0}, b={"rc": 1})
    with pytest.raises(PredicateError) as caught:
        _holds("all versoin == 1", context)
    assert caught.value.message.startswith('no host reported field "versoin" — hosts report: rc')


def test_quantifier_over_a_step_without_hosts_uses_the_single_result() -> None:
    context = ctx("shell")
    assert _holds("all rc == 0", context)
    assert _holds('any stdout contains "OK"', context)
    assert not _holds("none rc == 0", context)
    assert _holds("count(hosts) == 1", context)


def test_per_host_field_without_quantifier_is_an_error_with_a_suggestion() -> None:
    context = _hosts(a={"rc": 0}, b={"rc": 0})
    with pytest.raises(PredicateError) as caught:
        _holds("rc == 0 and 1 == 1", context)
    assert caught.value.hint == 'did you mean "all rc == 0"?'
    assert (caught.value.offset, caught.value.length) == (0, 2)


def test_host_scope_falls_back_to_top_level_fields_and_roots() -> None:
    context = EvalContext(
        fields={"expected": 3}, hosts={"a": {"n": 3}, "b": {"n": 3}}, roots={"vars": {"n": 3}}
    )
    assert _holds("all n == expected and all n == vars.n", context)


def test_suffix_and_prefix_forms_mean_the_same() -> None:
    context = ctx("ssh")
    for kind, word in (("all", "all hosts"), ("any", "any host"), ("none", "no host")):
        prefix = parse(f'{kind} stdout contains "valid"')
        suffix = parse(f'stdout contains "valid" on {word}')
        assert holds(prefix, context) == holds(suffix, context)
        assert prefix.kind == suffix.kind and prefix.body == suffix.body


# -- truthiness and types ---------------------------------------------------------------


def test_holds_refuses_a_value_that_is_not_true_or_false() -> None:
    with pytest.raises(PredicateError) as caught:
        holds(parse("rc"), ctx("shell"))
    assert "gives a number 0, not true or false" in caught.value.message
    assert caught.value.hint == 'compare it, e.g. "rc > 0"'


def test_numbers_and_null_have_truth_but_text_does_not() -> None:
    context = EvalContext(fields={"n": 2, "z": 0, "nothing": None, "text": "yes"})
    assert _holds("n and not z and not nothing", context)
    with pytest.raises(PredicateError, match="text is text, not true or false"):
        _holds("not text", context)


def test_text_comparisons_ignore_trailing_line_breaks() -> None:
    context = EvalContext(fields={"stdout": "v2.4.0\r\n"}, roots={"vars": {"version": "v2.4.0"}})
    assert _holds("stdout == vars.version", context)
    assert _holds('stdout endswith ".0"', context)
    assert _holds('stdout contains "\\n"', context)


def test_and_or_short_circuit_past_fields_that_would_fail() -> None:
    context = EvalContext(fields={"status": 500, "json": None})
    assert not _holds("status == 200 and json.version > 3", context)
    with pytest.raises(PredicateError, match="json.version is null"):
        _holds("status == 500 and json.version > 3", context)


def test_durations_and_sizes_compare_with_plain_numbers() -> None:
    context = EvalContext(fields={"duration": 125.0, "bytes": 6 * 10**9})
    assert _holds("duration > 2m and duration < 2m10s", context)
    assert _holds("bytes > 5GB and bytes < 6GiB", context)


# -- functions, steps, checks -----------------------------------------------------------


def test_step_globs_match_qualified_and_bare_ids() -> None:
    context = ctx("decisions")
    assert _holds("failed(verify.smoke-*) and failed(smoke-*)", context)
    assert _holds("succeeded(prepare.*) and not succeeded(*)", context)


def test_named_check_receives_fields_and_hosts_and_plugin_errors_become_predicate_errors() -> None:
    seen = []

    def test(fields: object, hosts: object) -> bool:
        seen.append((fields, hosts))
        raise KeyError("sha")

    context = EvalContext(
        fields={"rc": 0}, checks={"checksum matches": NamedCheck("checksum matches", "", test)}
    )
    with pytest.raises(
        PredicateError, match='named check "checksum matches" could not be evaluated'
    ):
        _holds("checksum matches", context)
    assert seen == [({"rc": 0}, {})]
    with pytest.raises(PredicateError, match='unknown named check "service running"'):
        holds(parse("service running", ["service running"]), context)


def test_named_check_phrases_tolerate_extra_spaces_and_win_over_fields() -> None:
    expr = parse("not  checksum   matches", ["checksum matches"])
    assert str(expr) == "not checksum matches"
    assert not holds(expr, ctx("shell"))


def test_age_reads_epoch_seconds_and_iso_times() -> None:
    context = EvalContext(
        fields={"at": "2025-11-24T15:59:00Z", "epoch": 1_763_999_000.0}, now=1_764_000_000.0
    )
    assert evaluate(parse("age(at)"), context) == 60.0
    assert evaluate(parse("age(epoch)"), context) == 1000.0
    with pytest.raises(PredicateError, match="cannot read a time"):
        evaluate(parse('age("yesterday")'), context)


def test_aggregates_read_sample_fields_by_bare_name() -> None:
    context = ctx("monitor")
    assert evaluate(parse("max(latency_p95)"), context) == 0.31
    assert evaluate(parse("trend(latency_p95)"), context) == pytest.approx(0.036)
    with pytest.raises(PredicateError, match='no sample reported "nope"'):
        evaluate(parse("avg(nope)"), context)


def test_number_reads_numbers_from_text() -> None:
    context = EvalContext(fields={"stdout": " 1532\n", "bad": "n/a"})
    assert _holds("number(stdout) > 1000", context)
    with pytest.raises(PredicateError, match='no number in "n/a"'):
        _holds("number(bad) > 1", context)


# -- captures ---------------------------------------------------------------------------


def test_capture_values_per_host_and_aggregated() -> None:
    context = ctx("ssh-versions")
    assert evaluate_value("stdout", context, host="app-01") == "v2.4.0\n"
    assert evaluate_value("rc", context) == 255
    assert evaluate_value(parse("json.version"), ctx("http")) == "v2.4.0"
    with pytest.raises(PredicateError, match='no host "app-09"'):
        evaluate_value("stdout", context, host="app-09")


# -- static checks ----------------------------------------------------------------------

SSH_FIELDS = {"rc": "int", "duration": "duration"}
SSH_HOST_FIELDS = {
    "rc": "int",
    "stdout": "str",
    "stderr": "str",
    "duration": "duration",
    "unreachable": "bool",
}
ROOTS = ["vars", "steps", "probe", "baseline"]


def _static(text: str) -> list[tuple[str, int, int, str | None]]:
    errors = check_names(parse(text), SSH_FIELDS, SSH_HOST_FIELDS, ROOTS)
    return [(e.message, e.offset, e.length, e.hint) for e in errors]


def test_static_check_accepts_the_spec_examples_for_ssh() -> None:
    assert _static("all rc == 0 and all stdout == vars.version") == []
    assert _static('stdout contains "Configuration valid" on all hosts') == []
    assert _static("count(hosts where rc > 0) == 0 and duration < 45m") == []


def test_static_check_reports_unknown_fields_with_suggestions() -> None:
    [(message, offset, length, hint)] = _static("all stdot == 1")
    assert message == 'unknown field "stdot" — fields: rc, stdout, stderr, duration, unreachable'
    assert (offset, length, hint) == (4, 5, 'did you mean "stdout"?')


def test_static_check_reports_per_host_fields_outside_quantifiers() -> None:
    [(message, _, _, hint)] = _static("stdout == vars.version")
    assert message == '"stdout" is reported per host, not for the step as a whole'
    assert hint == 'did you mean "all stdout == vars.version"?'


def test_static_check_reports_kind_mismatches() -> None:
    assert _static('"abc" > 3')[0][0] == 'cannot compare text with a number: "abc" > 3'
    assert (
        _static('duration < "45m"')[0][0] == 'cannot compare a number with text: duration < "45m"'
    )
    assert _static("all stdout > 3")[0][3] == "to read a number from text, write number(stdout)"
    assert _static("all stdout.x == 1")[0][0] == 'stdout is text; it has no "x"'
    assert _static("rc + 1")[0][0] == "the predicate gives a number, not true or false"
    assert check_names(parse("rc + 1"), SSH_FIELDS, SSH_HOST_FIELDS, ROOTS, expect_bool=False) == []
    assert _static("not 'x'")[0][0] == "'x' is text, not true or false"


def test_static_check_lists_every_problem_in_source_order() -> None:
    messages = [m for m, *_ in _static('stdot == 1 or rcc == 2 or "a" < 1')]
    assert [m.split(" —")[0] for m in messages] == [
        'unknown field "stdot"',
        'unknown field "rcc"',
        'cannot compare text with a number: "a" < 1',
    ]


# -- plain words ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("all failed=0", "every host reports failed = 0"),
        ("exit_code == 0", "the exit code is 0"),
        ("checksum matches", "the SHA-256 checksum matches"),
        ("any unreachable > 0", "at least one host reports unreachable > 0"),
        ("duration < 1h30m", "the duration is less than 1 hour 30 minutes"),
        (
            'not (stderr contains "error" or stderr contains "exception")',
            'neither the error output contains "error" nor the error output contains "exception"',
        ),
        ("failed(verify.smoke-*)", "a step matching verify.smoke-* failed"),
        ("any_host_failed(deploy)", "a host failed in phase deploy"),
        ("steps.run-migrations.succeeded", "step run-migrations succeeded"),
        ("count(hosts where failed > 0) == 0", "the number of hosts where failed > 0 is 0"),
        ("not rc == 0", "the exit code is not 0"),
        ("a and b and c", "a, b and c"),
    ],
)
def test_words(text: str, words: str) -> None:
    assert to_words(parse(text, CHECKS), CHECKS) == words


# -- hostile input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("(" * 1000 + "rc" + ")" * 1000, "nests too deeply"),
        ("not " * 500 + "rc", "nests too deeply"),
        ("-" * 500 + "rc", "nests too deeply"),
        ("all " * 100 + "rc", "nests too deeply"),
        ("1" + " + 1" * 400 + " > 0", "too complex"),
        ("rc == 0 or " * 2000 + "rc == 1", "too long"),
    ],
)
def test_deep_or_huge_input_is_refused_with_a_predicate_error(text: str, message: str) -> None:
    with pytest.raises(PredicateError, match=message):
        parse(text)


def test_long_flat_conditions_stay_accepted() -> None:
    text = " or ".join(f"rc == {n}" for n in range(200))
    assert holds(parse(text), EvalContext(fields={"rc": 199}))
