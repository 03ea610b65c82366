"""`plan_actions`, the one check of an operator's request, without a run: what it
accepts, and that it names every problem at once."""

from __future__ import annotations

import pytest

from runbook_engine.engine.approvals import open_votes, tally
from runbook_engine.engine.operator_actions import (
    ActionRequest,
    RunStanding,
    plan_actions,
    resume_hint,
)
from runbook_engine.errors import RunError
from runbook_engine.gates import parse_gate
from runbook_engine.journal.events import encode
from runbook_engine.loader import load_text
from runbook_engine.model import Runbook, build_runbook

TEXT = """\
runbook: 1
name: gates
phases:
  - id: p
    steps:
      - id: backup
        manual:
          prompt: Backup done?
          inputs: {ticket: {pattern: 'CHG-[0-9]+'}, size: {type: int, required: false}}
      - id: sign-off
        manual: {prompt: Signed off?, approvers: [carol], distinct_from_initiator: true}
      - id: deploy
        shell: echo deploy
"""

RUNBOOK: Runbook = build_runbook(load_text(TEXT, "gates.yaml"))
PAUSED = RunStanding(waiting=["backup"], interrupted=["deploy"], finished=[], deadlines={"backup": 100.0})


def plan(**request: object):  # type: ignore[no-untyped-def]
    by = str(request.pop("by", "carol"))
    return plan_actions(ActionRequest(by=by, **request), RUNBOOK, PAUSED, lambda x: x, "alice", now=50.0)  # type: ignore[arg-type]


def test_several_gates_and_a_skip_make_one_transaction() -> None:
    tx = plan(confirm=["backup", "sign-off"], inputs={"backup.ticket": "CHG-1", "backup.size": "3"}, skip=["deploy"])
    assert encode(tx.event()) == {
        "by": "carol",
        "source": "resume",
        "actions": [
            {"action": "confirm", "step": "backup", "inputs": {"ticket": "CHG-1", "size": 3}},
            {"action": "approve", "step": "sign-off"},
            {"action": "skip", "step": "deploy"},
        ],
    }


def test_every_problem_is_listed() -> None:
    with pytest.raises(RunError) as caught:
        plan(by="alice", confirm=["backup", "sign-off", "deploy"], inputs={"ticket": "x"}, rerun=["backup"])
    text = caught.value.message
    assert text.startswith("5 problems, nothing recorded")
    for part in (
        "--input ticket: several gates are confirmed",
        "--confirm backup: input 'ticket' is required",
        "--confirm sign-off: alice is not an approver",
        "--confirm deploy: that step is not waiting",
        "--rerun backup: that step was not interrupted",
    ):
        assert part in text


def test_an_answer_after_the_deadline_is_late_and_counts_as_timed_out() -> None:
    tx = plan_actions(
        ActionRequest(by="bob", confirm=["backup"], inputs={"ticket": "CHG-2"}),
        RUNBOOK, PAUSED, lambda x: x, "alice", now=101.0,
    )  # fmt: skip
    assert tx.actions[0].late
    votes = open_votes([{"event": "operator_actions", "by": "bob", **encode(tx.event())}])
    assert [v.late for v in votes["backup"]] == [True]
    gate = parse_gate(RUNBOOK.phases[0].steps[0].spec)
    assert tally(gate, votes["backup"], "alice", None) is None  # a late vote never counts


def test_inputs_given_up_front_are_checked_and_kept_apart() -> None:
    tx = plan(inputs={"backup.ticket": "CHG-3"})
    assert tx.empty and tx.preset == {"backup": {"ticket": "CHG-3"}}
    with pytest.raises(RunError, match="no such input"):
        plan(inputs={"backup.tikcet": "CHG-3"})
    with pytest.raises(RunError, match="not a manual step"):
        plan(inputs={"deploy.x": "1"})


def test_the_resume_hint_names_every_missing_input() -> None:
    gate = parse_gate(RUNBOOK.phases[0].steps[0].spec)
    assert resume_hint("R", "backup", gate, {}) == "runbook resume R --confirm backup --input backup.ticket=VALUE"
    assert resume_hint("R", "backup", gate, {"ticket": "CHG-1"}) == "runbook resume R --confirm backup"
