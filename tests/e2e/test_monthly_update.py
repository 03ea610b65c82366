"""The seed procedure end to end against the demo fleet: the real runbook, the real
`runbook run` process, and assertions on the fleet's real state afterwards (VERSION
files, health endpoints, schema version, rows), not only on the exit code."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "demo" / "fleet.py"
RUNBOOK = ROOT / "runbooks" / "monthly-update.yaml"
RUNBOOK_CLI = Path(sys.executable).parent / "runbook"


def fleet(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(FLEET), *args, "--root", str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def state(root: Path) -> dict:
    return json.loads(fleet(root, "state", "--json"))


def run_update(root: Path, version: str, inventory: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(RUNBOOK_CLI), "run", str(RUNBOOK), "--yes",
            "--vars-file", str(root / "vars.yaml"),
            "--var", f"version={version}",
            "--var", "monitor_for=2s",
            "--var", "monitor_every=1s",
            "--inventory", str(inventory or root / "inventory" / "hosts"),
            "--runs-dir", str(root / "runs"),
            "--report-dir", str(root / "report"),
        ],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "fleet"
    fleet(root, "init")
    yield root
    fleet(root, "stop")


def app_hosts(snapshot: dict) -> dict:
    return {name: host for name, host in snapshot["hosts"].items() if host["group"] == "app_tier"}


def applied_ids(snapshot: dict) -> list[str]:
    return [m["id"] for m in snapshot["database"]["migrations"]]


def report_markdown(root: Path) -> str:
    reports = sorted((root / "report").glob("*.md"))
    assert reports, "the run wrote no report"
    return reports[-1].read_text(encoding="utf-8")


def test_update_to_v240_succeeds_and_every_host_serves_it(demo: Path) -> None:
    done = run_update(demo, "v2.4.0")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    after = state(demo)
    for name, host in app_hosts(after).items():
        assert host["version"] == "v2.4.0", name
        assert host["running"], name
        assert host["health"]["status"] == 200 and host["health"]["json"]["version"] == "v2.4.0", name
        changelog = Path(host["root"]) / "opt" / "app" / "CHANGELOG.md"
        assert "v2.4.0 - " in changelog.read_text(encoding="utf-8")
    assert applied_ids(after) == ["20251101", "20251201", "20251215"]
    assert "event_metadata" in after["database"]["tables"]
    assert after["database"]["events"] >= 3  # one smoke-test ingest per host reached the database
    report = report_markdown(demo)
    assert "**succeeded**" in report
    assert "Downtime" in report


def test_broken_release_is_rolled_back_everywhere(demo: Path) -> None:
    done = run_update(demo, "v2.4.1-broken")
    assert done.returncode == 3, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Smoke test fails" in done.stdout + done.stderr
    assert "Reason: decision: Smoke test fails" in done.stdout  # the escalation says why
    after = state(demo)
    for name, host in app_hosts(after).items():
        assert host["version"] == "v2.3.0", name
        assert host["running"], name
        assert host["health"]["json"]["version"] == "v2.3.0", name
    assert applied_ids(after) == ["20251101"]
    assert "event_metadata" not in after["database"]["tables"]
    report = report_markdown(demo)
    assert "rolled_back" in report
    assert "Smoke test fails" in report


def test_single_host_deploy_failure_rolls_back_all_hosts(demo: Path) -> None:
    fleet(demo, "break-deploy", "--host", "app-02")
    done = run_update(demo, "v2.4.0")
    assert done.returncode == 3, done.stdout[-4000:] + done.stderr[-2000:]
    assert "Single host deployment failed" in done.stdout + done.stderr
    after = state(demo)
    versions = {name: host["version"] for name, host in app_hosts(after).items()}
    assert set(versions.values()) == {"v2.3.0"}, versions  # never mixed versions
    assert all(host["running"] for host in app_hosts(after).values())
    assert applied_ids(after) == ["20251101"]
