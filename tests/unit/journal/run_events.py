"""Realistic event streams of a monthly update, shared by journal and report tests."""

from __future__ import annotations

from typing import Any

from runbook_engine.journal.events import Event, decode

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


def weekly_shutdown() -> list[dict[str, Any]]:
    """A run with what a change ticket must show: a secret var, an approval with
    inputs, a gate that paused (and a resume), a crash and a second resume, a step
    that failed and was continued past, a real retry, Ansible and HTTP host results,
    a decision with float evidence, and a step that never ran."""
    events: list[dict[str, Any]] = [
        {
            "event": "run_started",
            "ts": ts(0),
            "runbook": "weekly-shutdown",
            "run_id": "20261206T020000Z-weekly-shutdown-0001",
            "vars": {"site": "ams1", "api_token": "***"},
            "initiator": "alice",
            "inventory": "/etc/ansible/weekly/hosts",
            "success": {"total_duration": "< 2h", "downtime": "< 30m"},
            "budgets": {"drain": "10m"},
        },
        {"event": "phase_started", "ts": ts(0), "phase": "prerequisites", "downtime": None},
        {
            "event": "step_started",
            "ts": ts(0),
            "step": "prerequisite-1",
            "phase": "prerequisites",
            "attempt": 1,
            "title": "Backups verified by the DBA",
            "executor": "manual",
        },
        {
            "event": "operator",
            "ts": ts(1),
            "action": "confirm",
            "step": "prerequisite-1",
            "by": "alice",
            "inputs": {},
        },
        {
            "event": "step_finished",
            "ts": ts(1),
            "step": "prerequisite-1",
            "phase": "prerequisites",
            "status": "succeeded",
            "attempt": 1,
            "result": {"ok": True, "fields": {}, "hosts": {}},
        },
        {"event": "phase_finished", "ts": ts(1), "phase": "prerequisites"},
        {"event": "phase_started", "ts": ts(1), "phase": "drain", "downtime": "begins"},
        {
            "event": "step_started",
            "ts": ts(1),
            "step": "approve-shutdown",
            "phase": "drain",
            "attempt": 1,
            "title": "Approve the shutdown",
            "executor": "manual",
        },
        {"event": "paused", "ts": ts(1), "step": "approve-shutdown", "phase": "drain"},
        {
            "event": "operator",
            "ts": ts(4),
            "action": "approve",
            "step": "approve-shutdown",
            "by": "bob",
            "source": "resume",
            "inputs": {"ticket": "CHG-4711", "backup_id": "bk-2026-12-06"},
        },
        {"event": "resumed", "ts": ts(4), "by": "bob"},
        {
            "event": "step_started",
            "ts": ts(4),
            "step": "approve-shutdown",
            "phase": "drain",
            "attempt": 2,
            "title": "Approve the shutdown",
            "executor": "manual",
        },
        {
            "event": "step_finished",
            "ts": ts(4),
            "step": "approve-shutdown",
            "phase": "drain",
            "status": "succeeded",
            "attempt": 2,
            "result": {"ok": True, "fields": {"confirmed_by": "bob"}, "hosts": {}},
        },
        {
            "event": "step_started",
            "ts": ts(4),
            "step": "stop-web",
            "phase": "drain",
            "attempt": 1,
            "title": "Stop the web tier",
            "executor": "ansible",
        },
        {
            "event": "step_finished",
            "ts": ts(6),
            "step": "stop-web",
            "phase": "drain",
            "status": "succeeded",
            "attempt": 1,
            "result": {
                "ok": True,
                "fields": {"ok": 6, "changed": 2, "failed": 0},
                "hosts": {
                    "web1": {"ok": 3, "changed": 1, "failed": 0, "skipped": 1, "rc": None},
                    "web2": {"ok": 3, "changed": 1, "failed": 0, "skipped": 1, "rc": None},
                },
            },
        },
        {
            "event": "step_started",
            "ts": ts(6),
            "step": "purge-cache",
            "phase": "drain",
            "attempt": 1,
            "title": "Purge the CDN cache",
            "executor": "shell",
        },
        {
            "event": "step_finished",
            "ts": ts(7),
            "step": "purge-cache",
            "phase": "drain",
            "status": "failed",
            "attempt": 1,
            "error": "exit status 7",
            "result": {"ok": False, "error": "exit status 7", "fields": {"rc": 7}, "hosts": {}},
        },
        {
            "event": "step_started",
            "ts": ts(7),
            "step": "flush-queue",
            "phase": "drain",
            "attempt": 1,
            "title": "Flush the queue",
            "executor": "shell",
        },
        {"event": "journal_repaired", "ts": ts(20), "discarded_bytes": 17},
        {"event": "resumed", "ts": ts(20), "by": "carol"},
        {
            "event": "step_started",
            "ts": ts(20),
            "step": "flush-queue",
            "phase": "drain",
            "attempt": 2,
            "title": "Flush the queue",
            "executor": "shell",
        },
        {
            "event": "step_started",
            "ts": ts(21),
            "step": "flush-queue",
            "phase": "drain",
            "attempt": 3,
            "title": "Flush the queue",
            "executor": "shell",
        },
        {
            "event": "step_finished",
            "ts": ts(22),
            "step": "flush-queue",
            "phase": "drain",
            "status": "succeeded",
            "attempt": 3,
            "result": {"ok": True, "fields": {"rc": 0}, "hosts": {"mq1": {"rc": 0, "duration": 1.25}}},
        },
        {"event": "phase_finished", "ts": ts(22), "phase": "drain"},
        {"event": "phase_started", "ts": ts(22), "phase": "verify", "downtime": "ends"},
        {
            "event": "step_started",
            "ts": ts(22),
            "step": "probe-down",
            "phase": "verify",
            "attempt": 1,
            "title": "The site answers 503",
            "executor": "http",
        },
        {
            "event": "step_finished",
            "ts": ts(23),
            "step": "probe-down",
            "phase": "verify",
            "status": "succeeded",
            "attempt": 1,
            "result": {
                "ok": True,
                "fields": {"status": 503, "latency": 0.0123456},
                "hosts": {
                    "web1": {"status": 503, "latency": 0.0123456, "unreachable": False},
                    "web2": {"status": None, "unreachable": True, "error": "connection refused"},
                },
            },
        },
        {
            "event": "decision",
            "ts": ts(23),
            "condition": "Latency degraded",
            "severity": "medium",
            "action": "warn",
            "step": "probe-down",
            "evidence": {
                "probe": {"latency": 0.0123456789, "error_rate": 0.0312},
                "held_for": 61.23456,
                "when": "probe.latency > 0.01",
            },
        },
        {"event": "phase_finished", "ts": ts(23), "phase": "verify"},
        {"event": "run_finished", "ts": ts(24), "status": "succeeded", "exit_code": 0},
    ]
    return numbered(events)


def typed(record: dict[str, Any]) -> Event:
    """A fixture record as the typed event a writer appends (absent keys read as the
    event class says, as they would from an older journal)."""
    event = decode(record)
    assert isinstance(event, Event), record
    return event


def event(name: str, **data: Any) -> Event:
    return typed({"event": name, **data})
