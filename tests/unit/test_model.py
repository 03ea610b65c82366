"""The model: typed, immutable objects built from a schema-valid document."""

from __future__ import annotations

import dataclasses

import pytest

from runbook_engine.errors import ValidationError
from runbook_engine.loader import load_text
from runbook_engine.model import Runbook, build_runbook, executor_keys

TEXT = """\
runbook: 1
name: demo
title: Demo update
owners: [release-engineer]
frequency: Monthly
window: {max_duration: 2h, downtime_budget: 45m, not_before: "02:00", timezone: America/Los_Angeles}
vars:
  version: {type: string, pattern: '^v\\d+$', required: true, description: Release}
  token: {type: string, secret: true, env: TOKEN}
inventory: inventory/hosts
prerequisites:
  - Change ticket approved
  - check: Package present
    shell: test -f app.tar.gz
phases:
  - id: prepare
    title: Preparation
    budget: 15m
    steps:
      - id: record
        ssh: cat /opt/app/VERSION
        hosts: app_tier
        expect: all rc == 0
        capture: {previous: stdout}
        timeout: 1m30s
        retries: 2
        delay: 500ms
        tags: [audit]
        forks: 5
        serial: 1
  - id: shutdown
    downtime: begins
    steps:
      - id: stop
        ssh: ./service.sh stop
        needs: []
        on_failure: {goto: restart}
        critical: true
        undo: {ssh: ./service.sh start}
      - id: restart
        ssh: ./service.sh start
        on_failure: continue
rollback:
  title: Roll back
  undo: false
  steps:
    - id: restore
      shell: ./restore.sh
      when: steps.stop.succeeded
decisions:
  - condition: Smoke test fails
    when: failed(prepare.*)
    action: rollback
    severity: critical
    after: 10m
notify:
  ops: {webhook: "{{ token }}", fallback: log}
success:
  downtime: "< 45m"
"""


def line_of(text: str, prefix: bool = False) -> int:
    lines = TEXT.splitlines()
    return next(
        i for i, line in enumerate(lines, 1) if (line.startswith(text) if prefix else line == text)
    )


@pytest.fixture(scope="module")
def runbook() -> Runbook:
    return build_runbook(load_text(TEXT, "demo.yaml"))


def test_top_level(runbook: Runbook) -> None:
    assert (runbook.name, runbook.label, runbook.owners, runbook.frequency) == (
        "demo",
        "Demo update",
        ("release-engineer",),
        "Monthly",
    )
    assert runbook.window.max_duration == 7200 and runbook.window.downtime_budget == 2700
    assert runbook.window.not_before == "02:00" and runbook.window.timezone == "America/Los_Angeles"
    assert runbook.inventory == "inventory/hosts"
    assert runbook.success == {"downtime": "< 45m"}
    assert runbook.notify["ops"]["webhook"] == "{{ token }}"  # templates stay unrendered
    assert len(runbook.source_sha256) == 64


def test_vars(runbook: Runbook) -> None:
    version, token = runbook.vars["version"], runbook.vars["token"]
    assert (version.type, version.required, version.pattern, version.description) == (
        "string",
        True,
        "^v\\d+$",
        "Release",
    )
    assert (token.secret, token.env, token.has_default) == (True, "TOKEN", False)
    assert version.span is not None and version.span.line == line_of("  version: {", prefix=True)


def test_prerequisites(runbook: Runbook) -> None:
    manual, check = runbook.prerequisites
    assert manual.manual and manual.text == "Change ticket approved"
    assert not check.manual and check.text == "Package present"
    assert (
        check.step is not None
        and check.step.executor == "shell"
        and check.step.phase == "prerequisites"
    )


def test_steps(runbook: Runbook) -> None:
    record = runbook.step("record")
    assert (record.executor, record.spec, record.hosts, record.expect) == (
        "ssh",
        "cat /opt/app/VERSION",
        "app_tier",
        "all rc == 0",
    )
    assert record.capture == {"previous": "stdout"}
    assert (record.timeout, record.retries, record.delay) == (90.0, 2, 0.5)
    assert record.needs is None  # written order, not an empty needs list
    assert record.tags == ("audit",) and record.options == {"forks": 5, "serial": 1}
    assert record.qualified_id == "prepare.record" and record.label == "record"
    assert record.key_spans["expect"].line == line_of("        expect: all rc == 0")
    stop = runbook.step("stop")
    assert (
        stop.needs == () and stop.on_failure == "goto" and stop.goto == "restart" and stop.critical
    )
    assert (
        stop.undo is not None
        and stop.undo.id == "stop-undo"
        and stop.undo.spec == "./service.sh start"
    )
    assert runbook.step("restart").on_failure == "continue"


def test_phases_rollback_and_decisions(runbook: Runbook) -> None:
    prepare, shutdown = runbook.phases
    assert (prepare.label, prepare.budget, shutdown.downtime, shutdown.label) == (
        "Preparation",
        900,
        "begins",
        "shutdown",
    )
    assert [s.id for s in runbook.all_steps()] == ["record", "stop", "restart", "restore"]
    assert runbook.phase_of("stop") is shutdown and runbook.phase_of("restore") is None
    assert (
        runbook.rollback[0].phase == "rollback"
        and runbook.rollback[0].when == "steps.stop.succeeded"
    )
    assert runbook.rollback_title == "Roll back" and runbook.rollback_undo is False
    (decision,) = runbook.decisions
    assert (decision.action, decision.severity, decision.after) == ("rollback", "critical", 600)
    assert decision.key_spans["when"].line == line_of("    when: failed(prepare.*)")


def test_objects_are_immutable(runbook: Runbook) -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        runbook.name = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        runbook.phases[0].steps[0].retries = 9  # type: ignore[misc]


def test_unknown_step_id_is_a_key_error(runbook: Runbook) -> None:
    with pytest.raises(KeyError):
        runbook.step("nope")


def test_executor_keys_are_the_non_common_keys() -> None:
    assert executor_keys({"id": "a", "shell": "x", "expect": "rc == 0"}) == ["shell"]
    assert executor_keys({"id": "a", "title": "t"}) == []
    assert executor_keys({"id": "a", "shell": "x", "ssh": "y"}) == ["shell", "ssh"]


def test_model_reports_a_step_with_two_executors_when_built_directly() -> None:
    doc = load_text(
        "runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n      - {id: a, shell: x, ssh: y}\n",
        "x.yaml",
    )
    with pytest.raises(ValidationError) as info:
        build_runbook(doc)
    assert info.value.rule == "RB103" and info.value.span is not None and info.value.span.line == 6
