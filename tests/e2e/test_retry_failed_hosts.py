"""Surgical resume on the demo fleet: a deploy that fails on one host, the fault
cleared, `resume --retry-failed-hosts deploy-code` — and the other hosts are not
touched again, read from their real files and from the journal.

The shipped runbook rolls every host back when one deploy fails ("never run mixed
versions"); an operator who prefers to fix and retry runs it without that row, which
is what this test does with a copy of the runbook."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "demo" / "fleet.py"
RUNBOOK = ROOT / "runbooks" / "monthly-update.yaml"
RUNBOOK_CLI = Path(sys.executable).parent / "runbook"
SINGLE_HOST_ROW = "Single host deployment failed"


def fleet(root: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, str(FLEET), *args, "--root", str(root)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def runbook(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(RUNBOOK_CLI), *args, "--runs-dir", str(root / "runs")],
        capture_output=True, text=True, timeout=300, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def files(app_dir: Path) -> dict[str, tuple[int, int]]:
    """Every file of a host's application folder: inode and change time."""
    return {
        str(p.relative_to(app_dir)): (p.stat().st_ino, p.stat().st_ctime_ns)
        for p in sorted(app_dir.rglob("*"))
        if p.is_file()
    }


@pytest.fixture
def demo(tmp_path: Path):  # type: ignore[no-untyped-def]
    root = tmp_path / "fleet"
    fleet(root, "init")
    yield root
    fleet(root, "stop")


def test_retry_failed_hosts_redeploys_only_the_failed_host(demo: Path, tmp_path: Path) -> None:
    data = yaml.safe_load(RUNBOOK.read_text(encoding="utf-8"))
    data["decisions"] = [d for d in data["decisions"] if d["condition"] != SINGLE_HOST_ROW]
    book = tmp_path / "monthly-update-retry.yaml"
    book.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")
    obstacle = fleet(demo, "break-deploy", "--host", "app-02").split(": ", 1)[1].split(" is in the way")[0]
    first = runbook(
        demo, "run", str(book), "--yes", "--vars-file", str(demo / "vars.yaml"),
        "--var", "version=v2.4.0", "--var", "monitor_for=2s", "--var", "monitor_every=1s",
        "--inventory", str(demo / "inventory" / "hosts"),
    )  # fmt: skip
    assert first.returncode == 1, first.stdout[-4000:] + first.stderr[-2000:]
    snapshot = json.loads(fleet(demo, "state", "--json"))
    app_dirs = {name: Path(snapshot["hosts"][name]["root"]) / "opt" / "app" for name in ("app-01", "app-02", "app-03")}
    assert (snapshot["hosts"]["app-01"]["version"], snapshot["hosts"]["app-03"]["version"]) == ("v2.4.0", "v2.4.0")
    before = {name: files(app_dirs[name]) for name in ("app-01", "app-03")}

    preview = runbook(demo, "resume", "last", "--retry-failed-hosts", "deploy-code", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "deploy-code runs again on app-02 only" in preview.stdout
    assert "keeps its result on app-01, app-03" in preview.stdout

    # break-deploy names the path as the host writes it: on the folder fleet that is
    # already a path under the host's folder, on an isolated host one inside its root
    host_root = Path(snapshot["hosts"]["app-02"]["root"])
    seen = Path(obstacle)
    blocking = seen if seen.is_relative_to(host_root) else host_root / obstacle.lstrip("/")
    assert blocking.is_dir(), blocking
    subprocess.run(["rm", "-rf", str(blocking)], check=True)  # the operator clears the fault
    secret = yaml.safe_load((demo / "vars.yaml").read_text(encoding="utf-8"))["db_dsn"]  # not journaled
    resumed = runbook(
        demo, "resume", "last", "--retry-failed-hosts", "deploy-code", "--yes", "--var", f"db_dsn={secret}"
    )
    assert resumed.returncode == 0, resumed.stdout[-4000:] + resumed.stderr[-2000:]

    after = json.loads(fleet(demo, "state", "--json"))
    for name in app_dirs:
        assert after["hosts"][name]["version"] == "v2.4.0", name
        assert after["hosts"][name]["health"]["json"]["version"] == "v2.4.0", name
    for name in ("app-01", "app-03"):  # not deployed again: every file of the release untouched
        now = files(app_dirs[name])
        changed = sorted(f for f in before[name] if now.get(f) != before[name][f])
        assert changed in ([], ["CHANGELOG.md"]), (name, changed)

    (journal,) = (demo / "runs").glob("*/journal.jsonl")
    events = [json.loads(line) for line in journal.read_text(encoding="utf-8").splitlines()]
    starts = [e for e in events if e["event"] == "step_started" and e["step"] == "deploy-code"]
    assert [(e["attempt"], e.get("retry_hosts")) for e in starts] == [(1, None), (2, ["app-02"])]
    retry_at = events.index(starts[1])
    output_hosts = {e.get("host") for e in events[retry_at:] if e["event"] == "step_output" and e["step"] == "deploy-code"}
    assert output_hosts <= {"app-02"}
    finished = [e for e in events if e["event"] == "step_finished" and e["step"] == "deploy-code"]
    assert [e["status"] for e in finished] == ["failed", "succeeded"]  # the failed attempt stays
    assert finished[0]["result"]["hosts"]["app-02"]["rc"] != 0
    for name in ("app-01", "app-03"):
        assert finished[1]["result"]["hosts"][name] == finished[0]["result"]["hosts"][name]
    assert finished[1]["result"]["hosts"]["app-02"]["rc"] == 0
