"""`make demo-rollback` after `make demo`: a new demo fleet keeps the previous runs'
journals and reports (regression: `fleet.py init` wiped the whole root, runs included)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
