"""What a change ticket needs from the report of a troubled run (issue 15): vars with
secrets masked, operator inputs and approvals, crashes and resumes, steps failed but
continued, prerequisites by their text, Ansible and HTTP host fields, readable decision
evidence, real retries only, JUnit times and never-ran steps, and an HTML page that
needs neither emoji fonts nor external assets. Golden files pin the whole rendering
(regenerate with UPDATE_GOLDEN=1); the assertions state what a reader relies on."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import pytest
from journal.run_events import weekly_shutdown

from runbook_engine.report import build_report, render_report
from runbook_engine.report.summary import PlannedStep

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"

PLANNED = (
    PlannedStep("prerequisite-1", "prerequisites", "Backups verified by the DBA"),
    PlannedStep("approve-shutdown", "drain", "Approve the shutdown"),
    PlannedStep("stop-web", "drain", "Stop the web tier"),
    PlannedStep("purge-cache", "drain", "Purge the CDN cache"),
    PlannedStep("flush-queue", "drain", "Flush the queue"),
    PlannedStep("probe-down", "verify", "The site answers 503"),
    PlannedStep("announce", "verify", "Tell the team"),
    PlannedStep("restart-web", "restart", "Start the web tier again"),
)


def _render(fmt: str) -> str:
    return render_report(weekly_shutdown(), fmt, planned=PLANNED)


@pytest.mark.parametrize(("fmt", "name"), [("markdown", "md"), ("html", "html"), ("junit", "xml")])
def test_golden_change_ticket(fmt: str, name: str) -> None:
    golden = GOLDEN / f"report-weekly-shutdown.{name}"
    text = _render(fmt)
    if os.environ.get("UPDATE_GOLDEN") == "1":
        golden.write_text(text, encoding="utf-8")
    assert text == golden.read_text(encoding="utf-8"), (
        f"{fmt} report changed; review it and run with UPDATE_GOLDEN=1"
    )


def test_report_says_what_the_run_did_to_production() -> None:
    text = _render("markdown")
    assert "| api_token | *** |" in text and "| site | ams1 |" in text
    assert "| bob | approve | approve-shutdown | ticket=CHG-4711, backup_id=bk-2026-12-06 |" in text
    assert "runner stopped without finishing (crash or kill); cut short: flush-queue" in text
    assert "resumed: run resumed by carol" in text
    assert (
        "failed-continued: step purge-cache failed (exit status 7); the run continued past it"
        in text
    )


@pytest.mark.parametrize("fmt", ["markdown", "html", "json", "junit"])
def test_report_names_the_inventory_the_run_used(fmt: str) -> None:
    """Which fleet a run changed is a fact of the change ticket (regression: no format
    said which inventory the run had been given)."""
    assert "/etc/ansible/weekly/hosts" in _render(fmt)


def test_prerequisites_are_listed_by_their_text() -> None:
    text = _render("markdown")
    actions = text.split("## Operator actions")[1].split("## Timeline")[0]
    assert "| alice | confirm | Backups verified by the DBA |" in actions  # not prerequisite-1
    assert "| Backups verified by the DBA | succeeded |" in text
    assert "| prerequisite-1 |" not in text.split("## Timeline")[1].split("## Not run")[0]


def test_ansible_and_http_rows_carry_their_fields() -> None:
    hosts = {(h.step, h.host): h for h in build_report(weekly_shutdown()).hosts}
    assert hosts[("stop-web", "web1")].ok is True
    assert hosts[("stop-web", "web1")].detail == "ok=3 changed=1 failed=0 skipped=1"
    # a 503 was what the step expected; the unreachable host failed
    assert hosts[("probe-down", "web1")].ok is True
    assert hosts[("probe-down", "web1")].detail == "HTTP 503, latency 12ms"
    assert hosts[("probe-down", "web2")].ok is False


def test_decision_evidence_is_formatted_not_a_repr() -> None:
    text = _render("markdown")
    assert "probe.latency 12ms, probe.error_rate 3.12%, held_for 1m 1s; when probe.latency > 0.01" in text
    assert "0.0123456789" not in text and "{'" not in text


def test_retries_list_real_retries_not_a_gate_that_paused() -> None:
    report = build_report(weekly_shutdown())
    assert [(s.id, s.retries) for s in report.retries] == [("flush-queue", 1)]
    # the gate started twice (before and after its pause), the flush after the crash: no retries
    steps = {s.id: s for p in report.phases for s in p.steps}
    assert steps["approve-shutdown"].attempts == 2 and steps["approve-shutdown"].retries == 0


def test_junit_has_real_times_and_never_ran_steps_are_skipped() -> None:
    root = ET.fromstring(_render("junit"))
    assert float(root.get("time") or 0) == 24 * 60
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    drain = suites["weekly-shutdown.drain"]
    assert float(drain.get("time") or 0) == 21 * 60
    cases = {c.get("name"): c for c in drain.iter("testcase")}
    assert float(cases["stop-web"].get("time") or 0) == 120.0
    verify = {c.get("name"): c for c in suites["weekly-shutdown.verify"].iter("testcase")}
    assert verify["announce"].find("skipped") is not None
    assert verify["announce"].find("skipped").get("message") == "never ran"  # type: ignore[union-attr]
    restart = suites["weekly-shutdown.restart"]
    assert restart.get("tests") == "1" and restart.get("skipped") == "1"


class _Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.tags: list[str] = []
        self._text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for _, value in attrs:
            assert not (value or "").startswith(("http://", "https://")), "external asset"
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._text = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._text is not None:
            self.rows[-1].append("".join(self._text).strip())
            self._text = None

    def handle_data(self, data: str) -> None:
        if self._text is not None:
            self._text.append(data)


def test_html_has_no_empty_header_row_no_emoji_marks_and_a_timeline() -> None:
    html = _render("html")
    cells = _Cells()
    cells.feed(html)
    assert all(any(c for c in row) for row in cells.rows), "a table row with only empty cells"
    assert not any(ch in html for ch in "✅❌❔✓✗"), "emoji as a mark"
    assert any(row[:2] == ["stop-web", "SUCCEEDED"] for row in cells.rows)
    assert any(row[:2] == ["total_duration", "< 2h"] and row[-1] == "PASS" for row in cells.rows)
    assert "script" not in cells.tags and "link" not in cells.tags and "img" not in cells.tags
    assert html.count("<svg") == 1 and "<rect" in html
    svg = html[html.index("<svg") : html.index("</svg>")]
    for name in ("drain", "stop-web", "purge-cache", "probe-down"):
        assert f">{name}<" in svg


def test_a_failed_step_run_again_after_a_resume_is_a_retry() -> None:
    """`resume --from` / `--retry-failed-hosts` re-run a step that failed: a retry,
    unlike a gate that paused or a step a crash cut short."""
    from journal.run_events import numbered, step, ts

    events = numbered(
        [
            {"event": "run_started", "ts": ts(0), "runbook": "r"},
            *step("push", "one", 0, 1, status="failed", error="rc 1"),
            {"event": "run_finished", "ts": ts(1), "status": "failed", "exit_code": 1},
            {"event": "resumed", "ts": ts(5), "by": "bob"},
            *step("push", "one", 5, 6, attempt=2),
            {"event": "run_finished", "ts": ts(6), "status": "succeeded", "exit_code": 0},
        ]
    )
    report = build_report(events)
    assert [(s.id, s.retries, s.attempts) for s in report.retries] == [("push", 1, 2)]
    from runbook_engine.metrics import build_registry

    registry = build_registry(events)
    assert registry.get_sample_value(
        "runbook_step_retries_total", {"runbook": "r", "phase": "one", "step": "push"}
    ) == 1


def test_duration_vars_read_as_durations() -> None:
    """A duration var is shown as the runbook writes durations, not as float seconds
    (regression: the demo's report said `monitor_for | 20.0`)."""
    events = weekly_shutdown()
    events[0] = {**events[0], "vars": {**events[0]["vars"], "drain_for": 900.0, "site": "ams1"}}
    text = render_report(events, "markdown", planned=PLANNED, durations=frozenset({"drain_for"}))
    assert "| drain_for | 15m |" in text and "| site | ams1 |" in text
    assert '"drain_for": 900.0' in render_report(events, "json", durations=frozenset({"drain_for"}))


def test_the_report_of_a_real_run_formats_its_duration_vars(tmp_path: Path) -> None:
    import subprocess
    import sys

    (tmp_path / "book.yaml").write_text(
        "runbook: 1\nname: d\nvars:\n  soak: {type: duration, default: 90s}\n"
        "phases:\n  - id: p\n    steps:\n      - {id: s, shell: 'true'}\n"
    )
    runbook = str(Path(sys.executable).parent / "runbook")
    done = subprocess.run([runbook, "run", "book.yaml", "--runs-dir", "runs", "--yes"], cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    (report,) = (tmp_path / "runs").glob("*/report.md")
    assert "| soak | 1m 30s |" in report.read_text()
    again = subprocess.run([runbook, "report", "last", "--runs-dir", "runs"], cwd=tmp_path, capture_output=True, text=True, timeout=60)  # fmt: skip
    assert "| soak | 1m 30s |" in again.stdout, again.stderr


def test_json_lists_the_duration_vars() -> None:
    import json

    data = json.loads(render_report(weekly_shutdown(), "json", durations=frozenset({"b", "a"})))
    assert data["durations"] == ["a", "b"] and data["inventory"] == "/etc/ansible/weekly/hosts"
