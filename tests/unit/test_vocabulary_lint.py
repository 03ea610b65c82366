"""Lint accepts exactly the names the engine supplies (issue 10, defect 1)."""

from __future__ import annotations

from runbook_engine.lint import Analysis, analyze_document
from runbook_engine.loader import load_text

HEAD = "runbook: 1\nname: x\nphases:\n  - id: p\n    steps:\n      - id: build\n        shell: make\n"


def lint_text(source: str) -> Analysis:
    return analyze_document(load_text(source, "rb.yaml"))


def messages(analysis: Analysis) -> list[str]:
    return [f"{f.rule}: {f.message}" for f in analysis.findings]


def test_steps_stderr_in_a_template_is_accepted() -> None:
    """Regression: RB108 rejected steps.build.stderr, which the engine provides."""
    source = HEAD + (
        "      - id: report\n        needs: [build]\n"
        "        shell: echo {{ steps.build.stderr }}\n"
    )
    assert messages(lint_text(source)) == []


def test_steps_error_in_a_template_is_rejected() -> None:
    """Regression: lint accepted steps.build.error, which fails at run time."""
    source = HEAD + (
        "      - id: report\n        needs: [build]\n"
        "        shell: echo {{ steps.build.error }}\n"
    )
    assert messages(lint_text(source)) == ["RB108: step 'build' supplies no 'error'"]


def test_steps_error_in_a_predicate_is_rejected() -> None:
    source = HEAD + "decisions:\n  - condition: x\n    when: steps.build.error != \"\"\n    action: warn\n"
    assert messages(lint_text(source)) == ["RB108: step 'build' supplies no 'error'"]


def test_a_decision_on_previous_is_rejected() -> None:
    """Regression: the documented `previous` root is never supplied."""
    source = HEAD + "decisions:\n  - condition: slower\n    when: previous.latency > 1\n    action: rollback\n"
    (finding,) = lint_text(source).findings
    assert finding.rule == "RB300"
    assert "previous" in finding.message


def test_a_decision_on_probe_without_a_monitor_step_is_rejected() -> None:
    """Regression: probe.* can never be supplied without a monitor step."""
    source = HEAD + "decisions:\n  - condition: slow\n    when: probe.latency > 1\n    action: rollback\n"
    (finding,) = lint_text(source).findings
    assert finding.rule == "RB300"
    assert "monitor" in (finding.hint or "") or "monitor" in finding.message


def test_a_decision_on_probe_with_a_monitor_step_is_accepted() -> None:
    source = HEAD + (
        "      - id: watch\n        monitor:\n          for: 1m\n          every: 10s\n"
        "          probe: {http: {url: 'http://127.0.0.1:1/'}}\n"
        "decisions:\n  - condition: slow\n    when: probe.latency > 1\n    action: rollback\n"
    )
    assert messages(lint_text(source)) == []
