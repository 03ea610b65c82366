"""The seed procedure (monthly application update) imported: every phase and numbered
step, the expectations, the decision matrix, and an `explain` that reads like it."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from import_helpers import ROOT, SEED, imported, steps

from runbook_engine.executors.registry import executor_classes
from runbook_engine.explain import render_checklist
from runbook_engine.loader import load_text
from runbook_engine.model import build_runbook

TEXT = SEED.read_text(encoding="utf-8")
NUMBERED = re.findall(r"^#### (\d+)\.(\d+) (.+)$", TEXT, re.M)
PHASES = re.findall(r"^### Phase (\d+): (.+?)(?: \((.*)\))?$", TEXT, re.M)


@pytest.fixture(scope="module")
def seed() -> tuple[Any, dict[str, Any]]:
    return imported(TEXT, "monthly-application-update.md")


def test_the_fixture_is_the_shared_seed() -> None:
    shared = ROOT.parent / "shared" / "seeds" / "monthly-application-update.md"
    if shared.exists():
        assert shared.read_text(encoding="utf-8") == TEXT


def test_metadata_and_window(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    assert data["title"] == "Monthly Application Update Procedure"
    assert data["name"] == "monthly-application-update"
    assert data["description"].startswith("Deploy application updates")
    assert data["owners"] == ["release-engineer", "on-call-ops"]
    assert data["frequency"] == "Monthly (first Sunday of each month)"
    assert data["window"]["max_duration"] == "2h"
    assert data["window"]["downtime_budget"] == "45m"
    assert "02:00 PST" in data["window"]["schedule"] and "04:00 PST" in data["window"]["schedule"]
    assert data["window"]["timezone"] == "America/Los_Angeles"
    assert data["prerequisites"][:7] == [
        "Release notes reviewed and approved",
        "Deployment package tested in staging",
        "Rollback plan documented",
        "Database migrations reviewed (if applicable)",
        "Change management ticket approved",
        "On-call ops and release engineer available",
        "Platform team on standby",
    ]


def test_every_phase_with_its_budget(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    titles = [p["title"] for p in data["phases"]]
    expected = [(title, paren) for number, title, paren in PHASES if "Rollback" not in title]
    assert titles == [title for title, _ in expected]
    budgets = {p["title"]: p.get("budget") for p in data["phases"]}
    assert budgets == {
        "Pre-Update Preparation": "15m",
        "Application Shutdown": "15m",
        "Deploy Application Update": "30m",
        "Application Startup": "15m",
        "Post-Deployment Verification": "20m",
        "Completion": "5m",
    }
    downtime = {p["title"]: p.get("downtime") for p in data["phases"] if p.get("downtime")}
    assert downtime == {"Application Shutdown": "begins", "Application Startup": "ends"}
    assert data["rollback"]["title"] == "Rollback"


def test_every_numbered_step_is_there_in_order(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    titles = [s["title"] for phase in data["phases"] for s in phase["steps"]]
    rollback_titles = [s["title"] for s in data["rollback"]["steps"]]
    position = 0
    for phase, _, title in NUMBERED:
        if phase == "6":
            assert any(t == title or t.startswith(title + " — ") for t in rollback_titles), title
            continue
        matches = [i for i, t in enumerate(titles) if t == title or t.startswith(title + " — ")]
        assert matches, f"step {title!r} is missing"
        assert matches[0] >= position, f"step {title!r} is out of order"
        position = matches[0]
    rollback = [s["title"] for s in data["rollback"]["steps"]]
    assert rollback[0] == "Immediate Stop" and rollback[-1] == "Escalate and Document"


def test_at_least_twelve_expect_predicates(seed: tuple[Any, dict[str, Any]]) -> None:
    result, data = seed
    expects = {s["id"]: s["expect"] for s in steps(data) if "expect" in s}
    assert len(expects) >= 12 and result.predicates == len(expects)
    values = set(expects.values())
    assert "checksum matches" in values
    assert "all failed == 0" in values
    assert "status == 200 and json.status == \"accepted\"" in values
    assert "status == 200 and json.status == \"healthy\" and json.version == vars.version" in values
    assert "all rc == 0 and all stdout == vars.version" in values
    assert "all stdout == vars.previous_version" in values
    assert "rows[0].count > 0" in values
    assert 'stdout contains "Configuration valid" on all hosts' in values


def test_commands_are_executor_steps(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    by_id = {s["id"]: s for s in steps(data)}
    stop = by_id["stop-application-services"]
    assert stop["ansible"] == {"playbook": "{{ fluffy_potato_dir }}/orchestrate.yml", "extra_vars": {"service_action": "stop"}}
    assert data["inventory"] == "/opt/ansible/fluffy-potato/inventory/hosts"
    verify = by_id["verify-deployment"]
    assert verify["ansible"] == {"module": "shell", "args": "cat {{ app_dir }}/VERSION"} and verify["hosts"] == "all"
    ingest = by_id["smoke-tests-test-ingestion-endpoint"]["http"]
    assert ingest["method"] == "POST" and ingest["url"] == "http://app-01.dc1.example.com:8080/v1/ingest"
    assert ingest["json"] == {"test": "data"}  # the shell-computed timestamp is a TODO, not a literal "$(date …)"
    sql = by_id["smoke-tests-verify-data-reaching-database"]["sql"]
    assert sql["query"] == "SELECT COUNT(*) FROM events WHERE created_at > NOW() - INTERVAL '5 minutes'"
    assert data["vars"]["db_dsn"]["default"] == "postgresql://appuser@db-coord-01/analytics"
    assert data["vars"]["db_dsn"]["secret"] is True
    migrate = by_id["run-database-migrations-execute-migrations"]
    assert migrate["ssh"] == "cd {{ app_dir }}/migrations && ./run-migrations.sh {{ version }}"
    assert migrate["hosts"] == "db-coord-01.dc1.example.com"
    start = by_id["post-update-start-notification"]["notify"]
    assert start["channel"] == "ops-maintenance" and "{{ previous_version }} → {{ version }}" in start["message"]
    assert data["notify"]["ops-maintenance"]["fallback"] == "log"
    checks = by_id["monitoring-dashboard-checks"]["manual"]["prompt"]
    assert "- [ ] All service health checks: GREEN" in checks


def test_copies_use_the_copy_step_when_it_is_installed(seed: tuple[Any, dict[str, Any]]) -> None:
    result, data = seed
    deploy = next(s for s in steps(data) if s["id"] == "deploy-application-code-deploy-to-all-app")
    if "copy" in executor_classes():
        assert deploy["copy"] == {"src": "{{ deployments_dir }}/app-{{ version }}.tar.gz", "dest": "/tmp/"}
    else:
        assert deploy["ansible"]["module"] == "copy"
        assert "becomes a native `copy` step" in result.yaml


def test_recurring_literals_become_vars(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    assert data["vars"]["version"]["required"] is True
    assert "v2.4.0" in data["vars"]["version"]["description"]
    assert data["vars"]["fluffy_potato_dir"]["default"] == "/opt/ansible/fluffy-potato"
    assert data["vars"]["app_dir"]["default"] == "/opt/app"
    commands = [str(s.get("shell", s.get("ssh", s.get("ansible", "")))) for s in steps(data)]
    assert not any("v2.4.0" in c for c in commands)


def test_the_decision_matrix(seed: tuple[Any, dict[str, Any]]) -> None:
    _, data = seed
    matrix = [(d["condition"], d.get("severity"), d["action"], d.get("after")) for d in data["decisions"][:7]]
    assert matrix == [
        ("Smoke test fails", "critical", "rollback", None),
        ("Database migration fails", "critical", "rollback", None),
        ("Service won't start", "critical", "rollback", None),
        ("Performance > 2x slower", "high", "rollback", "10m"),
        ("Minor errors in logs", "medium", "investigate", None),
        ("Queue backlog growing", "medium", "rollback", "20m"),
        ("Single host deployment failed", "high", "rollback", None),
    ]
    when = {d["condition"]: d["when"] for d in data["decisions"]}
    assert when["Smoke test fails"] == "failed(post-deployment-verification.smoke-tests-*)"
    assert when["Database migration fails"] == "failed(deploy-application-update.run-database-migrations-*)"
    assert when["Single host deployment failed"] == "any_host_failed(deploy-application-update)"
    assert when["Performance > 2x slower"] == "false"  # no step measures it: a TODO says so


def test_summary_and_todos(seed: tuple[Any, dict[str, Any]]) -> None:
    result, _ = seed
    assert result.decisions == 7 and result.decisions_translated == 5
    assert result.todos == result.yaml.count("# TODO:") > 0
    assert re.fullmatch(r"\d+ steps, \d+ expect predicates, 5 of 7 decisions translated, \d+ TODOs remaining", result.summary)


def test_explain_reads_like_the_procedure(seed: tuple[Any, dict[str, Any]], tmp_path: Path) -> None:
    result, _ = seed
    runbook = build_runbook(load_text(result.yaml, str(tmp_path / "draft.yaml")))
    text = render_checklist(runbook, {})
    for _, title, _ in PHASES:
        if "Rollback" not in title:
            assert re.search(rf"^### Phase \d+: {re.escape(title)}", text, re.M), title
    for _, _, title in NUMBERED:
        assert re.search(rf"^#### \d+\.\d+ {re.escape(title)}", text, re.M), title
    for command in ("ansible-playbook", "orchestrate.yml", "sha256sum -c app-{{ version }}.tar.gz.sha256", "./run-migrations.sh"):
        assert command in text, command
    assert "✅ **Expected**" in text
    for condition in ("Smoke test fails", "Database migration fails", "Single host deployment failed", "Queue backlog growing"):
        assert condition in text
    assert "- [ ] Release notes reviewed and approved" in text
