"""The decision matrix: each action, windows that must keep holding, evidence."""

from __future__ import annotations

from runbook_engine.engine.decisions import DecisionMatrix
from runbook_engine.engine.evaluation import Evaluator, RunView
from runbook_engine.engine.outcome import StepOutcome
from runbook_engine.executors.base import Result
from runbook_engine.journal.events import encode
from runbook_engine.model import Decision


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def matrix(*decisions: Decision, clock: Clock | None = None) -> DecisionMatrix:
    return DecisionMatrix(decisions, Evaluator({}), clock or Clock())


def view() -> RunView:
    return RunView(
        {"version": "v2"}, {"smoke-api": "verify.smoke-api", "deploy-a": "deploy.deploy-a"}, {}
    )


def test_rollback_fires_immediately_once_with_evidence() -> None:
    decisions = matrix(Decision("Smoke fails", "failed(verify.smoke-*)", "rollback", "critical"))
    run = view()
    run.record("smoke-api", StepOutcome(status="succeeded"))
    assert decisions.evaluate(run.context(), {"step": "smoke-api"}, "smoke-api") == []
    run.record("smoke-api", StepOutcome(status="failed"))
    taken = decisions.evaluate(run.context(), {"step": "smoke-api"}, "smoke-api")
    assert [t.action for t in taken] == ["rollback"]
    assert encode(taken[0].event()) == {
        "condition": "Smoke fails",
        "severity": "critical",
        "action": "rollback",
        "evidence": {"step": "smoke-api", "when": "failed(verify.smoke-*)"},
        "step": "smoke-api",
    }
    assert decisions.evaluate(run.context(), {}, None) == []  # a decision is taken once


def test_abort_and_any_host_failed() -> None:
    decisions = matrix(Decision("Mixed versions", "any_host_failed(deploy)", "abort"))
    run = view()
    result = Result(ok=False, hosts={"app-01": {"rc": 0}, "app-02": {"rc": 1}})
    run.record("deploy-a", StepOutcome(status="failed", result=result))
    assert [t.action for t in decisions.evaluate(run.context(), {}, "deploy-a")] == ["abort"]


def test_warn_is_recorded_each_time_it_starts_holding() -> None:
    decisions = matrix(Decision("Slow", "probe.latency > 100", "warn", "low"))
    run = view()
    seen = []
    for latency in (50, 150, 160, 40, 170):
        seen.append(len(decisions.evaluate(run.context(probe={"latency": latency}), {}, None)))
    assert seen == [0, 1, 0, 0, 1]


def test_after_window_must_keep_holding() -> None:
    clock = Clock()
    decisions = matrix(
        Decision("2x slower", "probe.latency > 2 * baseline.latency", "rollback", after=600.0),
        clock=clock,
    )
    run = view()

    def sample(at: float, latency: float) -> list[str]:
        clock.now = at
        ctx = run.context(probe={"latency": latency}, baseline={"latency": 10})
        return [t.action for t in decisions.evaluate(ctx, {"probe": {"latency": latency}}, "watch")]

    assert sample(0, 25) == []  # window opens
    assert sample(300, 30) == []
    assert sample(400, 15) == []  # stopped holding: window closes
    assert decisions.open_windows() == []
    assert sample(500, 25) == []  # opens again
    assert [d.condition for d, _ in decisions.open_windows()] == ["2x slower"]
    assert sample(1000, 25) == []  # 500 s < 600 s
    clock.now = 1100
    taken = decisions.evaluate(
        run.context(probe={"latency": 40}, baseline={"latency": 10}), {"n": 3}, "watch"
    )
    assert [t.action for t in taken] == ["rollback"]
    assert taken[0].evidence["held_for"] == 600 and taken[0].evidence["first"] == {
        "probe": {"latency": 25}
    }


def test_a_predicate_naming_what_does_not_exist_yet_does_not_hold() -> None:
    decisions = matrix(Decision("Slow", "probe.latency > 100", "rollback"))
    assert decisions.evaluate(view().context(), {}, None) == []


def test_window_from_a_duration_var_is_the_run_value() -> None:
    clock = Clock()
    decisions = DecisionMatrix(
        (Decision("Backlog growing", "probe.depth > 10", "rollback", after_var="catch_up"),),
        Evaluator({}),
        clock,
    )
    run = RunView({"catch_up": 4.0}, {}, {})

    def sample(at: float, depth: int) -> list[str]:
        clock.now = at
        return [t.action for t in decisions.evaluate(run.context(probe={"depth": depth}), {}, "watch")]

    assert sample(0, 20) == []
    assert [(d.condition, d.after) for d, _ in decisions.open_windows()] == [("Backlog growing", 4.0)]
    assert sample(3, 25) == []
    assert sample(4, 30) == ["rollback"]


def test_after_names_a_declared_duration_var_or_is_refused() -> None:
    import pytest

    from runbook_engine.errors import ValidationError
    from runbook_engine.loader import load_text
    from runbook_engine.model import build_runbook

    text = """runbook: 1
name: x
vars:
  window: {type: duration, default: 20m}
  count: {type: int, default: 3}
phases:
  - id: p
    steps:
      - {id: s, shell: "true"}
decisions:
  - {condition: Slow, when: probe.latency > 1, action: rollback, after: "{{ window }}"}
"""
    decision = build_runbook(load_text(text, "x.yaml")).decisions[0]
    assert (decision.after, decision.after_var) == (None, "window")
    assert decision.window({"window": "2s"}) == 2.0
    with pytest.raises(ValidationError, match="'count' is not a declared var of type duration") as error:
        build_runbook(load_text(text.replace("{{ window }}", "{{ count }}"), "x.yaml"))
    assert error.value.span is not None and error.value.span.line == 11


def test_a_predicate_naming_what_does_not_exist_yet_is_not_unevaluable() -> None:
    decisions = matrix(Decision("Slow", "probe.latency > 100", "rollback"))
    decisions.evaluate(view().context(), {}, None)
    assert decisions.drain_unevaluable() == []


def test_a_decision_that_cannot_be_evaluated_is_reported_once_not_silently_false() -> None:
    """Regression: an unevaluable decision was silently false (issue 10)."""
    decisions = matrix(Decision("Odd", 'steps.deploy-a.stdout > 3', "rollback"))
    run = view()
    run.record("deploy-a", StepOutcome(status="succeeded", result=Result(ok=True, fields={"stdout": "x"})))
    assert decisions.evaluate(run.context(), {}, "deploy-a") == []
    (problem,) = decisions.drain_unevaluable()
    assert problem.decision.condition == "Odd" and problem.error
    assert encode(problem.event())["when"] == "steps.deploy-a.stdout > 3"
    decisions.evaluate(run.context(), {}, "deploy-a")
    assert decisions.drain_unevaluable() == []  # reported when it starts failing, not each time
