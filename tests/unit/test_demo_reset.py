"""`make demo-rollback` after `make demo`: a new demo fleet keeps the previous runs'
journals and reports (regression: `fleet.py init` wiped the whole root, runs included)."""

from __future__ import annotations

import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

from runbook_engine import hostfleet

FLEET = Path(__file__).resolve().parents[2] / "examples" / "demo" / "fleet.py"


def fleet(root: Path, command: str) -> None:
    done = subprocess.run(
        [sys.executable, str(FLEET), command, "--root", str(root)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_a_new_fleet_keeps_the_previous_runs(tmp_path: Path) -> None:
    root = tmp_path / "demo"
    fleet(root, "init")
    journal = root / "runs" / "20261201T000000Z-monthly-update-abcd" / "journal.jsonl"
    journal.parent.mkdir(parents=True)
    journal.write_text('{"event": "run_started"}\n')
    report = root / "report" / "20261201T000000Z-monthly-update-abcd.md"
    report.parent.mkdir()
    report.write_text("# Run report\n")
    (root / "hosts" / "stale-marker").write_text("from the previous fleet")
    fleet(root, "init")
    assert journal.read_text() == '{"event": "run_started"}\n'
    assert report.is_file()
    assert not (root / "hosts" / "stale-marker").exists()
    fleet(root, "stop")


def fleet_module() -> ModuleType:
    sys.path.insert(0, str(FLEET.parent))  # fleet.py imports releases.py beside it
    spec = importlib.util.spec_from_file_location("demo_fleet", FLEET)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_an_isolated_fleet_asked_for_under_tmp_lives_outside_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every isolated host replaces /tmp, so a checkout in /tmp (as CI clones it) had
    `make demo` fall back to the folder fleet: its root becomes a link to a folder under
    RUNBOOK_FLEET_DIR instead, and an earlier demo's runs there move along."""
    base = hostfleet.default_fleet_base()
    monkeypatch.setenv("RUNBOOK_FLEET_DIR", str(base))
    checkout = Path(tempfile.mkdtemp(dir="/tmp"))
    given = checkout / ".demo"
    try:
        fleet(given, "init")  # an earlier folder fleet, with a run
        journal = given / "runs" / "20261201T000000Z-monthly-update-abcd" / "journal.jsonl"
        journal.parent.mkdir(parents=True)
        journal.write_text("{}\n")
        module = fleet_module()
        target = module.isolated_root(given)
        assert given.is_symlink() and given.resolve() == target
        assert hostfleet.overlapping_path(target) is None and target.parent == base
        assert (target / "runs" / journal.parent.name / "journal.jsonl").read_text() == "{}\n"
        assert sorted(p.name for p in target.iterdir()) == ["runs"]  # the folder fleet is gone
        assert module.isolated_root(given) == target  # the next init finds the same folder
        elsewhere = base / "plain"
        assert module.isolated_root(elsewhere) == elsewhere and not elsewhere.exists()
    finally:
        if (given / "fleet.json").exists():  # a failure above may leave the fleet running
            fleet(given, "stop")
        shutil.rmtree(checkout, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)
