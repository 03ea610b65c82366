from __future__ import annotations

from run_events import numbered, rolled_back_update, step, successful_update, ts

from runbook_engine.journal import replay


def test_successful_update_replays_to_every_step_succeeded() -> None:
    state = replay(successful_update())
    assert state.status == "succeeded" and state.exit_code == 0
    assert state.runbook == "monthly-update" and state.initiator == "alice"
    assert state.started_at == ts(0) and state.finished_at == ts(50)
    assert {s.status for s in state.steps.values()} == {"succeeded"}
    assert list(state.steps) == [
        "verify-package",
        "record-versions",
        "stop-services",
        "extract",
        "run-migrations",
        "start-services",
        "smoke-health",
        "smoke-ingest",
    ]
    extract = state.steps["extract"]
    assert extract.attempts == 2
    assert (extract.started_at, extract.finished_at) == (ts(12), ts(16))
    assert extract.phase == "deploy"
    assert state.steps["record-versions"].captures == {"previous_version": "v2.3.0"}
    assert state.steps["record-versions"].result["hosts"]["web2"]["stdout"] == "v2.3.0"  # type: ignore[index]
    assert state.interrupted == [] and state.pending_confirmations == []
    assert state.phases["shutdown"].downtime == "begins"
    assert state.phases["start"].downtime == "ends"
    assert (state.phases["start"].started_at, state.phases["start"].finished_at) == (ts(30), ts(42))
    assert [d["condition"] for d in state.decisions] == ["Error rate elevated"]
    assert state.rollback is None
    assert state.last_seq == len(successful_update())


def test_rolled_back_run_records_decision_rollback_and_operator() -> None:
    state = replay(rolled_back_update())
    assert state.status == "rolled_back" and state.exit_code == 3
    assert state.steps["smoke-ingest"].status == "failed"
    assert state.decisions[0]["action"] == "rollback"
    assert state.decisions[0]["evidence"] == {"failed": ["verify.smoke-ingest"]}
    assert state.rollback is not None
    assert (state.rollback.reason, state.rollback.status) == ("Smoke test fails", "succeeded")
    assert [(a["action"], a["by"]) for a in state.operator_actions] == [("confirm", "carol")]
    assert "hash" not in state.operator_actions[0]
    assert state.pending_confirmations == []


def test_paused_run_waits_for_its_operator() -> None:
    events = rolled_back_update()
    cut = next(i for i, e in enumerate(events) if e["event"] == "paused")
    state = replay(events[: cut + 1])
    assert state.status == "paused"
    assert state.pending_confirmations == ["confirm-rollback"]
    assert state.steps["confirm-rollback"].status == "paused"
    assert state.interrupted == []

    confirmed = replay(events[: cut + 3])
    assert confirmed.status == "running"
    assert confirmed.pending_confirmations == []
    assert confirmed.steps["confirm-rollback"].status == "confirmed"


def test_crash_mid_step_leaves_it_interrupted_with_its_pids() -> None:
    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "monthly-update"},
            *step("stop-services", "shutdown", 0, 1),
            {
                "event": "step_started",
                "ts": ts(1),
                "step": "run-migrations",
                "phase": "deploy",
                "attempt": 1,
            },
            {"event": "step_pid", "ts": ts(1), "step": "run-migrations", "pid": 31337},
            {
                "event": "step_output",
                "ts": ts(2),
                "step": "run-migrations",
                "host": "local",
                "line": "applying",
            },
        ]
    )
    state = replay(events)
    assert state.status == "running"
    assert state.interrupted == ["run-migrations"]
    assert state.steps["run-migrations"].pids == (31337,)
    assert state.steps["stop-services"].status == "succeeded"
    assert state.finished_at is None


def test_retry_after_crash_counts_attempts_and_clears_interruption() -> None:
    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "r"},
            {
                "event": "step_started",
                "ts": ts(1),
                "step": "extract",
                "phase": "deploy",
                "attempt": 1,
            },
            {"event": "journal_repaired", "ts": ts(5), "discarded_bytes": 12},
            {"event": "operator", "ts": ts(5), "action": "rerun", "step": "extract", "by": "alice"},
            {"event": "resumed", "ts": ts(5), "by": "alice"},
            *step("extract", "deploy", 6, 7, attempt=2),
        ]
    )
    middle = replay(events[:4])
    assert middle.interrupted == [] and middle.steps["extract"].status == "pending"
    state = replay(events)
    assert state.steps["extract"].status == "succeeded"
    assert state.steps["extract"].attempts == 2
    assert state.interrupted == []


def test_operator_skip_and_unknown_events() -> None:
    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "r"},
            {"event": "paused", "ts": ts(1), "step": "approve-change", "reason": "approval"},
            {
                "event": "operator",
                "ts": ts(2),
                "action": "skip",
                "step": "approve-change",
                "by": "dave",
            },
            {"event": "from_a_newer_engine", "ts": ts(3), "step": "approve-change", "x": 1},
            {"event": "run_finished", "ts": ts(4), "status": "cancelled", "exit_code": 130},
        ]
    )
    state = replay(events)
    assert state.steps["approve-change"].status == "skipped"
    assert state.pending_confirmations == []
    assert state.status == "cancelled" and state.exit_code == 130


def test_per_host_starts_record_hosts() -> None:
    events = numbered(
        [
            {
                "event": "step_started",
                "ts": ts(0),
                "step": "deploy",
                "phase": "deploy",
                "attempt": 1,
                "host": "web1",
            },
            {
                "event": "step_started",
                "ts": ts(0),
                "step": "deploy",
                "phase": "deploy",
                "attempt": 1,
                "host": "web2",
            },
        ]
    )
    assert replay(events).steps["deploy"].hosts == ("web1", "web2")
