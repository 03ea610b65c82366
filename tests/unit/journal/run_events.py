"""Realistic event streams of a monthly update, shared by journal and report tests."""

from __future__ import annotations

from typing import Any

SECRET = "s3cr3t-W3bhook-T0ken"


def ts(minute: float) -> str:
    """A timestamp ``minute`` minutes after 02:00 on the first Sunday."""
    seconds = round(minute * 60, 3)
    whole = int(seconds)
    ms = round((seconds - whole) * 1000)
    return f"2026-12-06T{2 + whole // 3600:02d}:{whole % 3600 // 60:02d}:{whole % 60:02d}.{ms:03d}Z"


def numbered(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"seq": i, **e} for i, e in enumerate(events, start=1)]


def step(
    name: str,
    phase: str,
    start: float,
    end: float,
    *,
    status: str = "succeeded",
    attempt: int = 1,
    **result: Any,
) -> list[dict[str, Any]]:
    return [
        {
            "event": "step_started",
            "ts": ts(start),
            "step": name,
            "phase": phase,
            "attempt": attempt,
        },
        {
            "event": "step_finished",
            "ts": ts(end),
            "step": name,
            "phase": phase,
            "status": status,
            "attempt": attempt,
            "captures": result.pop("captures", {}),
            "result": {
                "ok": status == "succeeded",
                "fields": result.pop("fields", {}),
                "hosts": result.pop("hosts", {}),
                "error": result.pop("error", None),
                "duration": (end - start) * 60,
            },
        },
    ]


def successful_update() -> list[dict[str, Any]]:
    """Prepare 10 min, downtime from shutdown (min 10) to start (finished min 42), verify."""
    web = {
        "web1": {"rc": 0, "stdout": "v2.3.0", "duration": 0.4},
        "web2": {"rc": 0, "stdout": "v2.3.0", "duration": 0.5},
    }
    events: list[dict[str, Any]] = [
        {
            "event": "run_started",
            "ts": ts(0),
            "runbook": "monthly-update",
            "run_id": "20261206T020000Z-monthly-update-abcd",
            "vars": {"version": "v2.4.0", "webhook": "***"},
            "inventory": "inventory/hosts",
            "initiator": "alice",
            "success": {
                "total_duration": "< 60m",
                "downtime": "< 45m",
                "smoke_pass_rate": ">= 100%",
                "rollback": "== false",
            },
            "budgets": {"prepare": "15m", "deploy": 600, "run": "2h", "downtime": "45m"},
        },
        {"event": "phase_started", "ts": ts(0), "phase": "prepare", "downtime": None},
        *step("verify-package", "prepare", 0, 2),
        *step(
            "record-versions", "prepare", 2, 10, hosts=web, captures={"previous_version": "v2.3.0"}
        ),
        {"event": "phase_finished", "ts": ts(10), "phase": "prepare"},
        {"event": "phase_started", "ts": ts(10), "phase": "shutdown", "downtime": "begins"},
        *step(
            "stop-services",
            "shutdown",
            10,
            12,
            hosts={"web1": {"failed": 0, "changed": 1}, "web2": {"failed": 0, "changed": 1}},
        ),
        {"event": "phase_finished", "ts": ts(12), "phase": "shutdown"},
        {"event": "phase_started", "ts": ts(12), "phase": "deploy", "downtime": None},
        *step("extract", "deploy", 12, 14, status="failed", error="rc 1"),
        *step("extract", "deploy", 14.5, 16, attempt=2),
        *step("run-migrations", "deploy", 16, 30),
        {"event": "phase_finished", "ts": ts(30), "phase": "deploy"},
        {"event": "phase_started", "ts": ts(30), "phase": "start", "downtime": "ends"},
        *step("start-services", "start", 30, 42),
        {"event": "phase_finished", "ts": ts(42), "phase": "start"},
        {"event": "phase_started", "ts": ts(42), "phase": "verify", "downtime": None},
        *step("smoke-health", "verify", 42, 43),
        *step("smoke-ingest", "verify", 43, 44),
        {
            "event": "decision",
            "ts": ts(44),
            "condition": "Error rate elevated",
            "severity": "medium",
            "action": "warn",
            "evidence": {"probe.error_rate": 0.02},
            "step": "smoke-ingest",
        },
        {"event": "phase_finished", "ts": ts(50), "phase": "verify"},
        {"event": "run_finished", "ts": ts(50), "status": "succeeded", "exit_code": 0},
    ]
    return numbered(events)


def rolled_back_update() -> list[dict[str, Any]]:
    """Smoke test fails during verify; the decision matrix rolls back; run took 75 min."""
    events: list[dict[str, Any]] = [
        {
            "event": "run_started",
            "ts": ts(0),
            "runbook": "monthly-update",
            "vars": {"version": "v2.4.1"},
            "inventory": None,
            "initiator": "bob",
            "outside_window": True,
        },
        {"event": "phase_started", "ts": ts(0), "phase": "shutdown", "downtime": "begins"},
        *step("stop-services", "shutdown", 0, 5),
        {"event": "phase_finished", "ts": ts(5), "phase": "shutdown"},
        {"event": "phase_started", "ts": ts(5), "phase": "start", "downtime": "ends"},
        *step("start-services", "start", 5, 20),
        {"event": "phase_finished", "ts": ts(20), "phase": "start"},
        {"event": "phase_started", "ts": ts(20), "phase": "verify", "downtime": None},
        *step("smoke-health", "verify", 20, 21),
        *step(
            "smoke-ingest",
            "verify",
            21,
            22,
            status="failed",
            error=f"status 500 from https://api.example/v1/ingest?token={SECRET}",
        ),
        {
            "event": "decision",
            "ts": ts(22),
            "condition": "Smoke test fails",
            "severity": "critical",
            "action": "rollback",
            "evidence": {"failed": ["verify.smoke-ingest"]},
            "step": "smoke-ingest",
        },
        {"event": "phase_finished", "ts": ts(22), "phase": "verify"},
        {"event": "rollback_started", "ts": ts(22), "reason": "Smoke test fails"},
        {"event": "paused", "ts": ts(23), "step": "confirm-rollback", "reason": "manual step"},
        {
            "event": "operator",
            "ts": ts(60),
            "action": "confirm",
            "step": "confirm-rollback",
            "by": "carol",
        },
        {"event": "resumed", "ts": ts(60), "by": "carol"},
        *step("confirm-rollback", "rollback", 23, 60),
        *step("restore-release", "rollback", 60, 75),
        {"event": "rollback_finished", "ts": ts(75), "status": "succeeded"},
        {"event": "run_finished", "ts": ts(75), "status": "rolled_back", "exit_code": 3},
    ]
    return numbered(events)
