"""Operator actions are transactions: a resume's confirmations, inputs, reruns and
skips hold together or nothing is written; gates keep their deadlines; the change
window holds on resume; --yes never fails a gate; attempts and cancelled steps
survive a resume."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
from test_run_engine import Runner

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, ResumeOptions, resume_run, start_run
from runbook_engine.errors import RunError
from runbook_engine.journal import Journal
from runbook_engine.variables import resolve_vars

TWO_GATES = """
runbook: 1
name: two-gates
phases:
  - id: p
    steps:
      - id: gate-a
        manual:
          prompt: Backup verified?
          inputs: {ticket: {pattern: "CHG-[0-9]+"}}
      - id: gate-b
        manual: Traffic drained?
      - id: work
        shell: echo work >> log.txt
"""


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def operator_events(runner: Runner, run_id: str) -> list[dict]:
    return [e for e in runner.events(run_id) if e["event"] in ("operator", "operator_actions")]


def test_a_refused_resume_writes_nothing(runner: Runner) -> None:
    paused = runner.run(TWO_GATES)
    assert paused.status == "paused"
    before = len(runner.events(paused.run_id))
    with pytest.raises(RunError, match="work: that step is not waiting"):
        runner.resume(
            paused.run_id, confirm=["gate-a", "work"], inputs={"gate-a.ticket": "CHG-1"}
        )
    assert len(runner.events(paused.run_id)) == before
    done = runner.resume(paused.run_id, confirm=["gate-a"], inputs={"ticket": "CHG-1"})
    assert done.status == "paused"  # now at gate-b


def test_every_problem_is_named_and_none_is_recorded(runner: Runner) -> None:
    paused = runner.run(TWO_GATES)
    with pytest.raises(RunError) as caught:
        runner.resume(
            paused.run_id,
            confirm=["gate-a", "nope"],
            inputs={"gate-a.ticket": "bad"},
            rerun=["work"],
        )
    text = str(caught.value)
    assert "3 problems, nothing recorded" in text
    assert "nope: no such step" in text and "does not match" in text and "--rerun work" in text
    assert operator_events(runner, paused.run_id) == []


def test_one_resume_answers_several_gates_in_one_event(runner: Runner) -> None:
    paused = runner.run(TWO_GATES)
    done = runner.resume(
        paused.run_id, confirm=["gate-a", "gate-b"], inputs={"gate-a.ticket": "CHG-2"}
    )
    assert done.status == "succeeded"
    assert runner.lines() == ["work"]
    [event] = operator_events(runner, paused.run_id)
    assert event["event"] == "operator_actions"
    assert [a["step"] for a in event["actions"]] == ["gate-a", "gate-b"]
    assert event["actions"][0]["inputs"] == {"ticket": "CHG-2"}


def test_run_input_answers_gates_up_front_and_yes_pauses_listing_missing_inputs(
    runner: Runner,
) -> None:
    # --yes without the required input: the run pauses (never fails) and says which --input
    paused = runner.run(TWO_GATES, yes=True)
    assert (paused.status, paused.exit_code) == ("paused", 5)
    assert "--confirm gate-a --input gate-a.ticket=VALUE" in runner.output.getvalue()
    assert runner.resume(paused.run_id, confirm=["gate-a"], inputs={"ticket": "CHG-3"}, options={"yes": True}).status == "succeeded"
    # given up front, --yes answers both gates in one go
    up_front = runner.run(TWO_GATES, yes=True, inputs={"gate-a.ticket": "CHG-4"})
    assert up_front.status == "succeeded"
    with pytest.raises(RunError, match="does not match"):
        runner.run(TWO_GATES, yes=True, inputs={"gate-a.ticket": "nope"})
    with pytest.raises(RunError, match="no such input"):
        runner.run(TWO_GATES, yes=True, inputs={"gate-a.tikcet": "CHG-5"})


DEADLINE = """
runbook: 1
name: deadline
phases:
  - id: p
    steps:
      - id: deploy
        shell: echo deploy >> log.txt
        undo: {shell: echo undo-deploy >> log.txt}
      - id: sign-off
        manual: {prompt: Product owner signs off, approval: true, on_timeout: rollback}
        timeout: 1s
      - id: after
        shell: echo after >> log.txt
"""


def test_an_approval_after_the_deadline_takes_on_timeout(runner: Runner) -> None:
    paused = runner.run(DEADLINE)
    assert paused.status == "paused"
    time.sleep(1.2)
    done = runner.resume(paused.run_id, confirm=["sign-off"], options={"initiator": "bob"})
    assert done.status == "rolled_back"
    assert runner.lines() == ["deploy", "undo-deploy"]
    gate = [e for e in runner.events(paused.run_id) if e["event"] == "step_finished" and e["step"] == "sign-off"][-1]
    assert gate["result"]["fields"]["timed_out"] is True
    [event] = [e for e in runner.events(paused.run_id) if e["event"] == "operator_actions"]
    assert event["actions"] == [{"action": "approve", "step": "sign-off", "late": True}]


def test_resume_outside_the_change_window_is_refused_unless_asked(runner: Runner) -> None:
    runner.write(
        """
        runbook: 1
        name: window
        window: {not_before: "02:00", not_after: "04:00", timezone: UTC}
        phases:
          - id: p
            steps:
              - id: gate
                manual: Go?
              - id: work
                shell: echo work >> log.txt
        """
    )
    runbook = load_checked(str(runner.path))
    night, noon = datetime(2026, 11, 1, 3, 0, tzinfo=UTC), datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    paused = start_run(runbook, resolve_vars(runbook, {}, (), {}), runner.options(), PlainProgress(runner.output), now=night)  # fmt: skip
    assert paused.status == "paused"

    def resume(**options: object):  # type: ignore[no-untyped-def]
        journal = Journal.open(runner.runs, paused.run_id)
        request = ResumeOptions(confirm=["gate"])
        return resume_run(journal, lambda: runbook, runner.options(**options), request, PlainProgress(runner.output), now=noon)  # fmt: skip

    with pytest.raises(RunError, match="outside the change window"):
        resume()
    assert operator_events(runner, paused.run_id) == []
    assert resume(outside_window=True).status == "succeeded"
    resumed = [e for e in runner.events(paused.run_id) if e["event"] == "resumed"]
    assert "the change window is 02:00–04:00" in resumed[-1]["outside_window"]


def test_a_cleanly_cancelled_run_can_be_resumed(runner: Runner) -> None:
    """Ctrl-C leaves a clean state: the run resumes, and the cancelled step counts as
    interrupted (a non-idempotent one is not run again without --rerun)."""
    runner.write(
        """
        runbook: 1
        name: cancel
        phases:
          - id: p
            steps:
              - id: first
                shell: echo first >> log.txt
              - id: slow
                shell: echo slow-begin >> log.txt; sleep 30; echo slow-end >> log.txt
              - id: last
                shell: echo last >> log.txt
        """
    )
    import signal
    import threading

    def interrupt_when_slow_runs() -> None:
        deadline = time.monotonic() + 30
        while "slow-begin" not in runner.lines() and time.monotonic() < deadline:
            time.sleep(0.05)
        signal.raise_signal(signal.SIGINT)

    threading.Thread(target=interrupt_when_slow_runs, daemon=True).start()
    cancelled = runner.run()
    assert cancelled.status == "cancelled"
    with pytest.raises(RunError, match="'slow' was interrupted"):
        runner.resume(cancelled.run_id)
    done = runner.resume(cancelled.run_id, skip=["slow"])
    assert done.status == "succeeded"
    assert runner.lines() == ["first", "slow-begin", "last"]
