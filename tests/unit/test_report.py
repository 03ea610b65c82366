from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from click.testing import CliRunner
from journal.run_events import (
    SECRET,
    numbered,
    rolled_back_update,
    step,
    successful_update,
    ts,
    typed,
)

from runbook_engine.cli.main import cli
from runbook_engine.journal import Journal
from runbook_engine.redaction import Redactor
from runbook_engine.report import FORMATS, build_report, render_report
from runbook_engine.report.targets import check_target


def test_downtime_is_measured_between_the_markers() -> None:
    report = build_report(successful_update())
    assert report.downtime.began_at == ts(10) and report.downtime.ended_at == ts(42)
    assert report.downtime.seconds == 32 * 60 and report.downtime.closed
    assert report.total_duration == 50 * 60


def test_success_metrics_pass_for_a_good_run() -> None:
    report = build_report(successful_update())
    assert {v.metric: v.outcome for v in report.verdicts} == {
        "total_duration": "pass",
        "downtime": "pass",
        "smoke_pass_rate": "pass",
        "rollback": "pass",
    }
    assert report.metrics["smoke_pass_rate"] == 100.0


def test_success_metrics_fail_for_a_rolled_back_run() -> None:
    targets = {
        "total_duration": "< 60m",
        "downtime": "< 45m",
        "smoke_pass_rate": ">= 100%",
        "rollback": "== false",
    }
    report = build_report(rolled_back_update(), success=targets)
    verdicts = {v.metric: v for v in report.verdicts}
    assert (
        verdicts["total_duration"].outcome == "fail" and verdicts["total_duration"].value == 75 * 60
    )
    # the rollback stopped the services again at 22 and had them back at 75
    assert verdicts["downtime"].outcome == "fail" and verdicts["downtime"].value == 75 * 60
    assert (
        verdicts["smoke_pass_rate"].outcome == "fail" and verdicts["smoke_pass_rate"].value == 50.0
    )
    assert verdicts["rollback"].outcome == "fail" and verdicts["rollback"].value is True


def test_targets_given_explicitly_override_those_recorded() -> None:
    report = build_report(successful_update(), success={"total_duration": "< 45m"})
    assert [(v.metric, v.outcome) for v in report.verdicts] == [("total_duration", "fail")]


@pytest.mark.parametrize(
    ("target", "value", "outcome"),
    [
        ("< 60m", 3599.0, "pass"),
        ("< 60m", 3600.0, "fail"),
        ("<= 1h", 3600.0, "pass"),
        (">= 95%", 95.0, "pass"),
        ("== 100", 100.0, "pass"),
        ("> 99.5", 99.0, "fail"),
        ("== false", False, "pass"),
        ("== no", True, "fail"),
        ("!= 0", 0.0, "fail"),
        ("under an hour", 10.0, "unknown"),
        ("< soon", 10.0, "unknown"),
        ("< 60m", None, "unknown"),
        ("== 5m", True, "unknown"),
        ("< true", 3.0, "unknown"),
    ],
)
def test_target_comparisons(target: str, value: float | bool | None, outcome: str) -> None:
    assert check_target("m", target, value).outcome == outcome


def test_timeline_budgets_retries_and_deviations() -> None:
    report = build_report(successful_update())
    assert [p.id for p in report.phases] == ["prepare", "shutdown", "deploy", "start", "verify"]
    deploy = report.phases[2]
    assert deploy.duration == 18 * 60 and deploy.budget == 600 and deploy.overrun == 8 * 60
    assert [s.id for s in deploy.steps] == ["extract", "run-migrations"]
    assert [(s.id, s.attempts) for s in report.retries] == [("extract", 2)]
    assert [(d.kind, d.text) for d in report.deviations] == [
        ("overrun", "phase deploy over its budget by 480s")
    ]
    hosts = {(h.step, h.host): h for h in report.hosts}
    assert (
        hosts[("record-versions", "web1")].ok is True and hosts[("record-versions", "web1")].rc == 0
    )
    assert hosts[("stop-services", "web2")].detail == "changed=1 failed=0"


def test_deviations_of_a_troubled_run() -> None:
    events = rolled_back_update()
    report = build_report(events, budgets={"verify": "1m", "run": "1h", "smoke-ingest": 30})
    kinds = [(d.kind, d.text) for d in report.deviations]
    assert ("outside-window", "run started outside its change window") in kinds
    assert ("operator", "carol: confirm step confirm-rollback") in kinds
    assert ("overrun", "phase verify over its budget by 60s") in kinds
    assert ("overrun", "step smoke-ingest over its budget by 30s") in kinds
    assert ("overrun", "run over its maximum duration by 900s") in kinds
    assert report.rollback == {
        "reason": "Smoke test fails",
        "status": "succeeded",
        "started_at": ts(22),
        "finished_at": ts(75),
    }


def test_downtime_after_a_rollback_lasts_until_the_rollback_finished() -> None:
    """Regression: the outage was reported as ending when the new version started,
    although the rollback then stopped the services again."""
    report = build_report(rolled_back_update())
    assert report.downtime.began_at == ts(0) and report.downtime.ended_at == ts(75)
    assert report.downtime.closed


def test_rollback_smoke_check_does_not_count_in_the_smoke_pass_rate() -> None:
    """Regression: the rollback's own health check was counted as a smoke test."""
    events = [
        e
        for e in rolled_back_update()
        if e.get("step") != "smoke-health"  # leave one failed smoke test
    ]
    events += step("rollback-smoke", "rollback", 76, 77)
    report = build_report(numbered(events))
    assert report.metrics["smoke_pass_rate"] == 0.0


def test_downtime_left_open_is_measured_to_the_end_of_the_run() -> None:
    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "r"},
            {"event": "phase_started", "ts": ts(5), "phase": "shutdown", "downtime": "begins"},
            *step("stop", "shutdown", 5, 6),
            {"event": "phase_finished", "ts": ts(6), "phase": "shutdown"},
            {"event": "phase_started", "ts": ts(6), "phase": "start", "downtime": "ends"},
            *step("start", "start", 6, 9, status="failed", error="rc 1"),
            {"event": "run_finished", "ts": ts(10), "status": "failed", "exit_code": 1},
        ]
    )
    report = build_report(events, success={"downtime": "< 1m"})
    assert report.downtime.seconds == 5 * 60 and not report.downtime.closed
    assert report.verdicts[0].outcome == "fail"
    assert any(d.kind == "downtime-open" for d in report.deviations)


def test_markdown_report_reads_like_a_change_ticket() -> None:
    text = render_report(successful_update(), "markdown")
    assert text.startswith("# Run report: monthly-update\n")
    assert "| Run | 20261206T020000Z-monthly-update-abcd |" in text
    assert (
        "| Downtime | 32m (2026-12-06 02:10:00.000Z → 2026-12-06 02:42:00.000Z), budget 45m |"
        in text
    )
    assert "| total_duration | < 60m | 50m | ✅ pass |" in text
    assert "| smoke_pass_rate | >= 100% | 100% | ✅ pass |" in text
    assert "### shutdown — downtime begins" in text
    assert "18m, budget 10m (**over by 8m**)" in text
    assert "| extract | succeeded | 2 | 2026-12-06 02:12:00.000Z | 4m | — |" in text
    assert "| record-versions | web1 | ok | 0 | 400ms |  |" in text
    assert (
        "| 2026-12-06 02:44:00.000Z | Error rate elevated | medium | warn | smoke-ingest | probe.error_rate 2% |"
        in text
    )
    assert "- extract: retried once (2 attempts), final status succeeded" in text


def test_json_report_round_trips() -> None:
    data = json.loads(render_report(rolled_back_update(), "json", run_id="R1"))
    assert data["run_id"] == "R1" and data["status"] == "rolled_back" and data["exit_code"] == 3
    assert data["downtime"]["seconds"] == 4500.0  # until the rollback restored service
    assert data["metrics"]["rollback"] is True
    assert data["decisions"][0]["condition"] == "Smoke test fails"


def test_junit_parses_with_failures_where_steps_and_targets_failed() -> None:
    targets = {"total_duration": "< 60m", "downtime": "< 45m", "error_rate": "< 1%"}
    root = ET.fromstring(render_report(rolled_back_update(), "junit", success=targets))
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "monthly-update.shutdown",
        "monthly-update.start",
        "monthly-update.verify",
        "monthly-update.rollback",
        "monthly-update.success",
    }
    verify = suites["monthly-update.verify"]
    assert (verify.get("tests"), verify.get("failures")) == ("2", "1")
    failed = [c.get("name") for c in verify.iter("testcase") if c.find("failure") is not None]
    assert failed == ["smoke-ingest"]
    success = suites["monthly-update.success"]
    outcomes = {
        c.get("name"): (
            "failure"
            if c.find("failure") is not None
            else "skipped"
            if c.find("skipped") is not None
            else "ok"
        )
        for c in success.iter("testcase")
    }
    assert outcomes == {"total_duration": "failure", "downtime": "failure", "error_rate": "skipped"}


def test_html_report_is_escaped() -> None:
    events = successful_update()
    events[-2] = {
        **events[-2],
        "event": "decision",
        "condition": "<script>alert(1)</script>",
        "action": "warn",
    }
    html = render_report(events, "html")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert "<script>" not in html and "&lt;script&gt;" in html


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_secret_in_any_format(fmt: str) -> None:
    events = rolled_back_update()
    assert SECRET in json.dumps(events)
    text = render_report(events, fmt, redactor=Redactor([SECRET]))
    assert SECRET not in text
    assert "token=***" in text


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown report format"):
        render_report([], "pdf")


def test_empty_run_still_renders() -> None:
    for fmt in FORMATS:
        assert render_report([], fmt)


def test_report_command_writes_a_file(tmp_path: Path) -> None:
    journal = Journal.create(
        tmp_path / "runs",
        runbook_name="monthly-update",
        runbook_path="rb.yaml",
        runbook_sha256="r",
        vars_sha256="v",
        inventory=None,
        initiator="alice",
    )
    for event in successful_update():
        journal.append(typed(event))
    journal.close("succeeded", 0)
    out = tmp_path / "report.xml"
    result = CliRunner().invoke(
        cli,
        [
            "report",
            journal.run_id[:20],
            "--runs-dir",
            str(tmp_path / "runs"),
            "--format",
            "junit",
            "-o",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    assert ET.parse(out).getroot().tag == "testsuites"
    shown = CliRunner().invoke(cli, ["report", "last", "--runs-dir", str(tmp_path / "runs")])
    assert shown.exit_code == 0 and "# Run report: monthly-update" in shown.output


def test_phase_budget_recorded_by_the_engine_and_total_duration_alias() -> None:
    events = successful_update()
    events[0] = {k: v for k, v in events[0].items() if k not in ("budgets", "success")}
    events[1] = {**events[1], "budget": 300.0}
    report = build_report(events, budgets={"total_duration": 40 * 60})
    assert report.phases[0].budget == 300 and report.phases[0].overrun == 300
    texts = [d.text for d in report.deviations]
    assert "phase prepare over its budget by 300s" in texts
    assert "run over its maximum duration by 600s" in texts


RUNBOOK = """\
runbook: 1
name: monthly-update
window: {max_duration: 40m, downtime_budget: 30m}
phases:
  - id: prepare
    budget: 5m
    steps:
      - id: verify-package
        shell: "true"
success:
  total_duration: "< 45m"
  downtime: "< 30m"
"""


def test_report_command_takes_targets_and_budgets_from_the_runbook_copy(tmp_path: Path) -> None:
    from runbook_engine.loader import load_text

    runs = tmp_path / "runs"
    journal = Journal.create(
        runs,
        runbook_name="monthly-update",
        runbook_path="rb.yaml",
        runbook_sha256=load_text(RUNBOOK).sha256,
        vars_sha256="v",
        inventory=None,
        initiator="alice",
    )
    (journal.dir / "runbook.yaml").write_text(RUNBOOK)
    events = successful_update()
    events[0] = {k: v for k, v in events[0].items() if k not in ("budgets", "success")}
    for event in events:
        journal.append(typed(event))
    journal.close("succeeded", 0)
    result = CliRunner().invoke(
        cli, ["report", "last", "--runs-dir", str(runs), "--format", "json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)  # stderr says the missing reports were rebuilt
    assert {v["metric"]: v["target"] for v in data["verdicts"]} == {
        "total_duration": "< 45m",
        "downtime": "< 30m",
    }
    assert data["phases"][0]["budget"] == 300.0
    assert data["downtime"]["budget"] == 1800.0


def test_runbook_copy_that_changed_is_not_trusted(tmp_path: Path) -> None:
    from runbook_engine.report import inputs_from_run_dir

    (tmp_path / "runbook.yaml").write_text(RUNBOOK)
    assert inputs_from_run_dir(tmp_path, "0" * 64) is None
    inputs = inputs_from_run_dir(tmp_path, None)
    assert inputs is not None and inputs.budgets == {
        "prepare": 300.0,
        "run": 2400.0,
        "downtime": 1800.0,
    }
    (tmp_path / "runbook.yaml").write_text("phases: [")
    assert inputs_from_run_dir(tmp_path, None) is None
    assert inputs_from_run_dir(tmp_path / "missing", None) is None


def test_auto_confirmations_are_one_deviation() -> None:
    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "r"},
            *(
                {
                    "event": "operator",
                    "ts": ts(0),
                    "action": "confirm",
                    "step": f"prerequisite-{n}",
                    "by": "ci",
                    "auto": True,
                }
                for n in (1, 2, 3)
            ),
            {
                "event": "operator",
                "ts": ts(1),
                "action": "approve",
                "step": "go",
                "by": "erin",
                "auto": False,
            },
        ]
    )
    kinds = [(d.kind, d.text) for d in build_report(events).deviations]
    assert kinds == [
        (
            "auto-confirmed",
            "3 manual item(s) confirmed automatically (--yes) as ci: prerequisite-1, prerequisite-2, prerequisite-3",
        ),
        ("operator", "erin: approve step go"),
    ]
