"""The run engine end to end on real shell commands: lifecycle, policies, rollback,
decisions, approvals and pauses, resume refusals, locks, secrets."""

from __future__ import annotations

import io
import json
import textwrap
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, ResumeOptions, RunOptions, resume_run, start_run
from runbook_engine.errors import RunError
from runbook_engine.journal import Journal, RunLock
from runbook_engine.variables import resolve_vars


class Runner:
    """Writes a runbook into a temp dir, runs it in-process, reads its journal."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.runs = root / "runs"
        self.output = io.StringIO()
        self.path = root / "runbook.yaml"

    def write(self, text: str) -> Path:
        self.path.write_text(textwrap.dedent(text).lstrip())
        return self.path

    def options(self, **overrides: Any) -> RunOptions:
        base: dict[str, Any] = {"runs_dir": self.runs, "initiator": "alice", "workdir": self.root}
        base.update(overrides)
        return RunOptions(**base)

    def run(
        self, text: str | None = None, cli_vars: dict[str, str] | None = None, **overrides: Any
    ):
        if text is not None:
            self.write(text)
        runbook = load_checked(str(self.path))
        resolved = resolve_vars(runbook, cli_vars or {}, (), {})
        return start_run(runbook, resolved, self.options(**overrides), PlainProgress(self.output))

    def resume(self, run_id: str, **request: Any):
        overrides = request.pop("options", {})
        journal = Journal.open(self.runs, run_id)
        return resume_run(
            journal,
            lambda: load_checked(str(self.path)),
            self.options(**overrides),
            ResumeOptions(**request),
            PlainProgress(self.output),
        )

    def events(self, run_id: str) -> list[dict[str, Any]]:
        return Journal.open(self.runs, run_id).events()

    def finished(self, run_id: str) -> dict[str, str]:
        return {
            e["step"]: e["status"] for e in self.events(run_id) if e["event"] == "step_finished"
        }

    def lines(self, name: str = "log.txt") -> list[str]:
        path = self.root / name
        return path.read_text().split() if path.exists() else []


@pytest.fixture
def runner(tmp_path: Path) -> Runner:
    return Runner(tmp_path)


def test_steps_run_in_order_and_captures_feed_later_steps(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: captures
        vars:
          version: {type: string, default: v2.4.0}
        phases:
          - id: prepare
            steps:
              - id: record
                shell: echo v2.3.0
                capture: {previous: stdout}
              - id: use
                shell: echo "from {{ steps.record.previous }} to {{ version }}" >> log.txt
                expect: rc == 0 and exit_code == 0
        """
    )
    assert (summary.status, summary.exit_code) == ("succeeded", 0)
    assert (runner.root / "log.txt").read_text() == "from v2.3.0 to v2.4.0\n"
    finished = [e for e in runner.events(summary.run_id) if e["event"] == "step_finished"]
    assert [(e["step"], e["status"]) for e in finished] == [
        ("record", "succeeded"),
        ("use", "succeeded"),
    ]
    assert finished[0]["captures"] == {"previous": "v2.3.0"}
    assert (summary.dir / "report.md").exists() and (summary.dir / "report.json").exists()


def test_when_skips_and_retries_with_until(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: retries
        phases:
          - id: p
            steps:
              - id: poll
                shell: echo x >> log.txt; wc -l < log.txt
                until: stdout == "3"
                retries: 5
                delay: 0.01
                backoff: 2
              - id: never
                shell: echo never >> log.txt
                when: steps.poll.attempts > 3
        """
    )
    assert summary.status == "succeeded"
    assert runner.lines() == ["x", "x", "x"]
    assert runner.finished(summary.run_id) == {"poll": "succeeded", "never": "skipped"}
    started = [e["attempt"] for e in runner.events(summary.run_id) if e["event"] == "step_started"]
    assert started == [1, 2, 3]


def test_retries_exhausted_fail_the_run(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: exhausted
        phases:
          - id: p
            steps:
              - id: flaky
                shell: echo try >> log.txt; exit 1
                retries: 2
              - id: after
                shell: echo after >> log.txt
        """
    )
    assert (summary.status, summary.exit_code) == ("failed", 1)
    assert runner.lines() == ["try", "try", "try"]


def test_timeout_fails_the_step(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: slow
        phases:
          - id: p
            steps:
              - id: slow
                shell: {command: "sleep 30", kill_grace: 0.2}
                timeout: 0.3s
        """
    )
    assert summary.status == "failed"
    finished = [e for e in runner.events(summary.run_id) if e["event"] == "step_finished"]
    assert finished[0]["result"]["fields"]["timed_out"] is True


def test_on_failure_continue_and_goto(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: policies
        phases:
          - id: p
            steps:
              - id: soft
                shell: "exit 2"
                on_failure: continue
              - id: jump
                shell: "exit 1"
                on_failure: {goto: landing}
              - id: jumped-over
                shell: echo jumped-over >> log.txt
              - id: landing
                shell: echo landing >> log.txt
        """
    )
    assert summary.status == "succeeded"
    assert runner.lines() == ["landing"]
    assert runner.finished(summary.run_id) == {
        "soft": "failed",
        "jump": "failed",
        "jumped-over": "skipped",
        "landing": "succeeded",
    }


ROLLBACK_BOOK = """
runbook: 1
name: rollback
phases:
  - id: deploy
    steps:
      - id: backup
        shell: echo backup >> log.txt
        undo: {shell: echo undo-backup >> log.txt}
      - id: run-migrations
        shell: echo migrate >> log.txt
        undo: {shell: echo undo-migrate >> log.txt}
      - id: start
        shell: echo start >> log.txt; exit {{ rc }}
        critical: true
vars:
  rc: {type: int, default: 1}
rollback:
  steps:
    - id: revert-schema
      shell: echo revert-schema >> log.txt
      when: steps.run-migrations.succeeded
    - id: not-needed
      shell: echo not-needed >> log.txt
      when: steps.start.succeeded
"""


def test_critical_failure_rolls_back_undo_in_reverse_then_section(runner: Runner) -> None:
    summary = runner.run(ROLLBACK_BOOK)
    assert (summary.status, summary.exit_code) == ("rolled_back", 3)
    assert runner.lines() == [
        "backup",
        "migrate",
        "start",
        "undo-migrate",
        "undo-backup",
        "revert-schema",
    ]
    finished = runner.finished(summary.run_id)
    assert finished["backup"] == finished["run-migrations"] == "rolled_back"
    assert finished["not-needed"] == "skipped"
    kinds = [e["event"] for e in runner.events(summary.run_id)]
    assert (
        kinds.index("rollback_started")
        < kinds.index("rollback_finished")
        < kinds.index("run_finished")
    )


def test_failed_rollback_step_means_rollback_failed(runner: Runner) -> None:
    text = ROLLBACK_BOOK.replace(
        "echo revert-schema >> log.txt", "echo revert-schema >> log.txt; exit 9"
    )
    summary = runner.run(text)
    assert (summary.status, summary.exit_code) == ("rollback_failed", 4)
    assert runner.lines()[-1] == "revert-schema"


def decision_book(action: str, extra: str = "") -> str:
    return f"""
    runbook: 1
    name: decide-{action}
    phases:
      - id: verify
        steps:
          - id: smoke-api
            shell: echo smoke >> log.txt; exit 1
            on_failure: continue
          - id: later
            shell: echo later >> log.txt
    rollback:
      steps:
        - id: restore
          shell: echo restore >> log.txt
    decisions:
      - condition: Smoke test fails
        when: failed(verify.smoke-*)
        severity: critical
        action: {action}
        {extra}
    """


@pytest.mark.parametrize(
    ("action", "status", "lines"),
    [
        ("rollback", "rolled_back", ["smoke", "restore"]),
        ("abort", "failed", ["smoke"]),
        ("warn", "succeeded", ["smoke", "later"]),
        ("investigate", "succeeded", ["smoke", "later"]),
    ],
)
def test_decision_actions(runner: Runner, action: str, status: str, lines: list[str]) -> None:
    summary = runner.run(decision_book(action))
    assert summary.status == status
    assert runner.lines() == lines
    decisions = [e for e in runner.events(summary.run_id) if e["event"] == "decision"]
    assert len(decisions) == 1
    assert decisions[0]["action"] == action and decisions[0]["step"] == "smoke-api"
    assert (
        decisions[0]["evidence"]["status"] == "failed"
        and decisions[0]["evidence"]["fields"]["rc"] == 1
    )
    assert f"decision [critical] Smoke test fails → {action}" in runner.output.getvalue()


MONITOR_BOOK = """
runbook: 1
name: monitor
phases:
  - id: verify
    steps:
      - id: watch
        monitor:
          for: 1.5s
          every: 0.1s
          baseline: {{latency: 10}}
          probe:
            shell: "echo x >> samples.txt; test $(wc -l < samples.txt) -ge {start} && echo 50 || echo 10"
            capture: {{}}
        {expect}
rollback:
  steps:
    - id: restore
      shell: echo restore >> log.txt
decisions:
  - condition: Performance > 2x slower
    when: probe.stdout > "2"
    severity: high
    action: rollback
    after: {after}
"""


def monitor_book(start: int, after: str) -> str:
    # The probe's stdout is text; compare numerically through a capture-free shell
    # that prints the latency, and let the decision read it as a number.
    return MONITOR_BOOK.format(start=start, after=after, expect="").replace(
        'when: probe.stdout > "2"', "when: number(probe.stdout) > 2 * baseline.latency"
    )


def test_monitor_rollback_after_a_window_that_keeps_holding(runner: Runner) -> None:
    summary = runner.run(monitor_book(start=3, after="0.4s"))
    assert summary.status == "rolled_back"
    assert runner.lines() == ["restore"]
    decision = next(e for e in runner.events(summary.run_id) if e["event"] == "decision")
    assert decision["evidence"]["held_for"] >= 0.4 and decision["evidence"]["window"] == 0.4
    assert decision["evidence"]["probe"]["stdout"] == "50"
    samples = len((runner.root / "samples.txt").read_text().split())
    assert samples < 15  # stopped early: the monitor did not sample its whole window


def test_monitor_window_not_held_long_enough_does_not_roll_back(runner: Runner) -> None:
    summary = runner.run(monitor_book(start=12, after="10s"))
    assert summary.status == "succeeded"
    assert runner.lines() == []
    watch = next(e for e in runner.events(summary.run_id) if e["event"] == "step_finished")
    fields = watch["result"]["fields"]
    assert fields["sample_count"] == len(fields["samples"]) >= 10
    assert fields["first"]["stdout"] == "10" and fields["last"]["stdout"] == "50"


def test_secrets_never_reach_journal_output_or_report(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: secrets
        vars:
          token: {type: string, secret: true, required: true}
        phases:
          - id: p
            steps:
              - id: use
                shell: echo "token={{ token }}"
              - id: mint
                shell: echo minted-credential-42
                secret_output: true
                capture: {credential: stdout}
              - id: reuse
                shell: echo "again {{ steps.mint.credential }}"
        """,
        cli_vars={"token": "hunter2-very-secret"},
    )
    assert summary.status == "succeeded"
    texts = [
        runner.output.getvalue(),
        (summary.dir / "journal.jsonl").read_text(),
        (summary.dir / "report.md").read_text(),
    ]
    for text in texts:
        assert "hunter2-very-secret" not in text
        assert "minted-credential-42" not in text
    assert "token=***" in runner.output.getvalue() and "again ***" in runner.output.getvalue()


GATE_BOOK = """
runbook: 1
name: gates
prerequisites:
  - Release notes reviewed and approved
phases:
  - id: p
    steps:
      - id: before
        shell: echo before >> log.txt
      - id: db-team
        manual:
          prompt: Database team confirms the backup
          distinct_from_initiator: true
          inputs:
            ticket: {type: string, pattern: 'CHG-[0-9]+'}
      - id: after
        shell: echo "after" >> log.txt
"""


def gate_book() -> str:
    return GATE_BOOK


def test_yes_confirms_checklist_items_but_never_an_approval(runner: Runner) -> None:
    summary = runner.run(gate_book(), yes=True)
    assert (summary.status, summary.exit_code) == ("paused", 5)
    assert runner.lines() == ["before"]
    events = runner.events(summary.run_id)
    assert any(
        e["event"] == "operator" and e["step"] == "prerequisite-1" and e["auto"] for e in events
    )
    paused = [e for e in events if e["event"] == "paused"]
    assert [p["step"] for p in paused] == ["db-team"]


def test_pause_then_resume_with_approval_by_someone_else(runner: Runner) -> None:
    first = runner.run(gate_book(), yes=True)
    assert first.status == "paused"
    with pytest.raises(RunError, match="must not be the initiator"):
        runner.resume(first.run_id, confirm=["db-team"], inputs={"ticket": "CHG-1"})
    with pytest.raises(RunError, match="does not match"):
        runner.resume(
            first.run_id,
            confirm=["db-team"],
            inputs={"ticket": "nope"},
            options={"initiator": "bob"},
        )
    second = runner.resume(
        first.run_id, confirm=["db-team"], inputs={"ticket": "CHG-7"}, options={"initiator": "bob"}
    )
    assert (second.status, second.exit_code) == ("succeeded", 0)
    assert runner.lines() == ["before", "after"]
    events = runner.events(first.run_id)
    [approval] = [e for e in events if e["event"] == "operator_actions"]
    assert approval["by"] == "bob" and approval["source"] == "resume"
    assert approval["actions"] == [
        {"action": "approve", "step": "db-team", "inputs": {"ticket": "CHG-7"}}
    ]
    gate = [e for e in events if e["event"] == "step_finished" and e["step"] == "db-team"][-1]
    assert gate["result"]["fields"]["confirmed_by"] == "bob"
    assert gate["result"]["fields"]["inputs"] == {"ticket": "CHG-7"}
    assert runner.finished(first.run_id)["before"] == "succeeded"
    assert [e["step"] for e in events if e["event"] == "step_started"].count("before") == 1
    with pytest.raises(RunError, match="already finished"):
        runner.resume(first.run_id)


def test_paused_gate_past_its_timeout_takes_on_timeout(runner: Runner) -> None:
    summary = runner.run(
        """
        runbook: 1
        name: timeout-gate
        phases:
          - id: p
            steps:
              - id: deploy
                shell: echo deploy >> log.txt
                undo: {shell: echo undo-deploy >> log.txt}
              - id: sign-off
                manual: {prompt: Product owner signs off, approval: true, on_timeout: rollback}
                timeout: 0.01s
        """
    )
    assert summary.status == "paused"
    resumed = runner.resume(summary.run_id)
    assert resumed.status == "rolled_back"
    assert runner.lines() == ["deploy", "undo-deploy"]


def test_confirm_of_a_step_that_does_not_wait_is_refused(runner: Runner) -> None:
    summary = runner.run(gate_book(), yes=True)
    with pytest.raises(RunError, match="not waiting"):
        runner.resume(summary.run_id, confirm=["before"], options={"initiator": "bob"})


def test_changed_runbook_is_refused_unless_allowed(runner: Runner) -> None:
    summary = runner.run(gate_book(), yes=True)
    runner.path.write_text(runner.path.read_text().replace('echo "after"', 'echo "after-changed"'))
    with pytest.raises(RunError, match="runbook changed") as caught:
        runner.resume(
            summary.run_id,
            confirm=["db-team"],
            inputs={"ticket": "CHG-1"},
            options={"initiator": "bob"},
        )
    assert '+        shell: echo "after-changed" >> log.txt' in str(caught.value)
    done = runner.resume(
        summary.run_id,
        confirm=["db-team"],
        inputs={"ticket": "CHG-1"},
        allow_changed=True,
        options={"initiator": "bob"},
    )
    assert done.status == "succeeded" and runner.lines()[-1] == "after-changed"


def test_a_second_run_of_the_same_runbook_is_refused_while_locked(runner: Runner) -> None:
    runner.write(gate_book())
    runbook = load_checked(str(runner.path))
    from runbook_engine.engine.session import lock_key

    with (
        RunLock(runner.options().state_dir, lock_key(runbook.path, None)),
        pytest.raises(RunError, match="another run holds the lock"),
    ):
        runner.run()


def test_change_window_guard(runner: Runner) -> None:
    text = """
    runbook: 1
    name: windowed
    window: {not_before: "02:00", not_after: "04:00", timezone: America/Los_Angeles}
    phases:
      - id: p
        steps:
          - id: one
            shell: echo one >> log.txt
    """
    runner.write(text)
    runbook = load_checked(str(runner.path))
    resolved = resolve_vars(runbook, {}, (), {})
    noon = datetime(2026, 11, 1, 20, 0, tzinfo=UTC)  # 12:00 in Los Angeles
    with pytest.raises(RunError, match="outside the change window"):
        start_run(runbook, resolved, runner.options(), PlainProgress(runner.output), now=noon)
    summary = start_run(
        runbook,
        resolved,
        runner.options(outside_window=True),
        PlainProgress(runner.output),
        now=noon,
    )
    assert summary.status == "succeeded"
    started = next(e for e in runner.events(summary.run_id) if e["event"] == "run_started")
    assert "the change window is 02:00–04:00" in started["outside_window"]
    night = datetime(2026, 11, 1, 11, 0, tzinfo=UTC)  # 03:00 in Los Angeles
    assert (
        start_run(
            runbook, resolved, runner.options(), PlainProgress(runner.output), now=night
        ).status
        == "succeeded"
    )


def test_json_log_format_is_one_object_per_line(runner: Runner) -> None:
    from runbook_engine.engine import JsonProgress

    runner.write(
        """
        runbook: 1
        name: json-log
        phases:
          - id: p
            steps:
              - id: one
                shell: echo hello
        """
    )
    runbook = load_checked(str(runner.path))
    out = io.StringIO()
    start_run(runbook, resolve_vars(runbook, {}, (), {}), runner.options(), JsonProgress(out))
    records = [json.loads(line) for line in out.getvalue().splitlines()]
    kinds = [r["kind"] for r in records]
    assert kinds[0] == "run_started" and kinds[-1] == "run_finished"
    assert {"kind": "step_output", "line": "hello"}.items() <= next(
        r for r in records if r["kind"] == "step_output"
    ).items()


def test_per_host_runs_captures_and_rendering(runner: Runner) -> None:
    for name, version in (("app-01", "v2.3.0"), ("app-02", "v2.3.0")):
        (runner.root / name).mkdir()
        (runner.root / name / "VERSION").write_text(version + "\n")
    inventory = runner.root / "hosts.ini"
    inventory.write_text(
        "[app]\n"
        + "".join(
            f"{n} ansible_connection=local app_dir={runner.root / n}\n"
            for n in ("app-01", "app-02")
        )
    )
    summary = runner.run(
        """
        runbook: 1
        name: per-host
        phases:
          - id: p
            steps:
              - id: record-versions
                shell: cat {{ host.vars.app_dir }}/VERSION
                hosts: app
                expect: all rc == 0
                capture: {previous_version: stdout}
              - id: deploy
                shell: echo v2.4.0 > {{ host.vars.app_dir }}/VERSION
                hosts: app
              - id: restore
                shell: echo {{ steps['record-versions'].previous_version }} > {{ host.vars.app_dir }}/VERSION
                hosts: app
              - id: verify
                shell: cat {{ host.vars.app_dir }}/VERSION
                hosts: app
                expect: all stdout == steps.record-versions.previous_version
        """,
        inventory=str(inventory),
    )
    assert summary.status == "succeeded"
    finished = {
        e["step"]: e for e in runner.events(summary.run_id) if e["event"] == "step_finished"
    }
    assert finished["record-versions"]["captures"] == {"previous_version": "v2.3.0"}
    assert set(finished["verify"]["result"]["hosts"]) == {"app-01", "app-02"}
    assert (runner.root / "app-02" / "VERSION").read_text() == "v2.3.0\n"
