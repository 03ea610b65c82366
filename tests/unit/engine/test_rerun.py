"""What a surgical resume runs again (engine/rerun.py), on recorded outcomes."""

from __future__ import annotations

import pytest

from runbook_engine.engine.outcome import StepOutcome
from runbook_engine.engine.rerun import check_resumable, plan_rerun
from runbook_engine.errors import RunError
from runbook_engine.executors.base import Result
from runbook_engine.graph import build_graph
from runbook_engine.loader import load_text
from runbook_engine.model import build_runbook

BOOK = """\
runbook: 1
name: rr
phases:
  - id: one
    steps:
      - {id: a, shell: "true"}
      - {id: b, shell: "true", on_failure: continue}
      - {id: c, shell: "true"}
      - {id: side, shell: "true", needs: [a]}
  - id: two
    steps:
      - {id: d, ssh: "true", hosts: all}
      - {id: e, shell: "true"}
"""
GRAPH = build_graph(build_runbook(load_text(BOOK, "rr.yaml")))
OK = StepOutcome(status="succeeded")


def hosts(**rcs: int) -> StepOutcome:
    fields = {h: {"rc": rc} for h, rc in rcs.items()}
    status = "failed" if any(rcs.values()) else "succeeded"
    return StepOutcome(status=status, result=Result(ok=status == "succeeded", hosts=fields))


def test_from_reruns_the_step_and_what_depends_on_it() -> None:
    outcomes = {"a": OK, "b": StepOutcome(status="failed"), "c": OK, "side": OK, "d": hosts(h1=0, h2=1)}
    plan = plan_rerun("r", "failed", GRAPH, outcomes, from_step="c")
    assert plan.rerun == ("c", "d")
    assert plan.first_time == ("e",)
    assert plan.keep == ("a", "b", "side")  # b failed with on_failure: continue, side is a parallel branch
    assert plan.targets == {"c", "d", "e"}


def test_from_refuses_when_a_step_before_it_did_not_release() -> None:
    outcomes = {"a": OK, "b": OK, "c": StepOutcome(status="failed"), "side": OK}
    with pytest.raises(RunError, match="step 'c', which runs before it, is failed") as refused:
        plan_rerun("r", "failed", GRAPH, outcomes, from_step="d")
    assert refused.value.hint == "resume --from c"


def test_retry_failed_hosts_keeps_the_hosts_that_succeeded() -> None:
    outcomes = {"a": OK, "b": OK, "c": OK, "side": OK, "d": hosts(h1=0, h2=1, h3=0)}
    plan = plan_rerun("r", "failed", GRAPH, outcomes, retry_hosts_of="d")
    assert plan.rerun == ("d",) and plan.first_time == ("e",)
    retry = plan.retry["d"]
    assert retry.hosts == {"h2"}
    merged = retry.merged(Result(ok=True, fields={"rc": 0}, hosts={"h2": {"rc": 0, "stdout": "again"}}))
    assert list(merged.hosts) == ["h1", "h2", "h3"]
    assert merged.hosts["h1"] == {"rc": 0} and merged.hosts["h2"]["stdout"] == "again"
    assert "d runs again on h2 only" in "\n".join(plan.preview())


@pytest.mark.parametrize(
    ("outcome", "message"),
    [
        (hosts(h1=0, h2=0), "no host of that step failed"),
        (StepOutcome(status="failed"), "has no per-host result"),
    ],
)
def test_retry_failed_hosts_needs_failed_hosts(outcome: StepOutcome, message: str) -> None:
    outcomes = {"a": OK, "b": OK, "c": OK, "side": OK, "d": outcome}
    with pytest.raises(RunError, match=message):
        plan_rerun("r", "failed", GRAPH, outcomes, retry_hosts_of="d")


@pytest.mark.parametrize("status", ["succeeded", "rolled_back", "rollback_failed"])
def test_finished_or_rolled_back_runs_are_refused(status: str) -> None:
    with pytest.raises(RunError):
        check_resumable("r", status, None)
    with pytest.raises(RunError, match="started a rollback"):
        check_resumable("r", "failed", object())
