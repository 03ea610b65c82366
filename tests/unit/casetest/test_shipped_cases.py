"""The cases shipped with the project pass (`make test` runs them through the real
`runbook test` command), cover every row of the monthly update's decision matrix,
and use the committed case schema."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from runbook_engine.casetest.cases import case_schema, find_cases, load_case_file
from runbook_engine.loader import load_file
from runbook_engine.model import build_runbook

ROOT = Path(__file__).resolve().parents[3]
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"
RUNBOOK_CLI = Path(sys.executable).parent / "runbook"


def test_runbook_test_passes_on_the_shipped_cases() -> None:
    done = subprocess.run(
        [str(RUNBOOK_CLI), "test", str(MONTHLY), "--format", "junit"],
        capture_output=True, text=True, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert 'failures="0"' in done.stdout


def test_every_decision_of_the_matrix_fires_in_some_case() -> None:
    runbook = build_runbook(load_file(MONTHLY))
    fired: set[str] = set()
    statuses: set[str] = set()
    for path in find_cases(MONTHLY):
        loaded, findings = load_case_file(path)
        assert loaded is not None and not findings, findings
        for case in loaded.cases:
            statuses.add(case.expect.get("status", ""))
            for entry in case.expect.get("decisions") or ():
                fired.add(entry if isinstance(entry, str) else entry["condition"])
    assert fired == {d.condition for d in runbook.decisions}
    assert {"succeeded", "rolled_back", "rollback_failed"} <= statuses


def test_committed_case_schema_is_the_packaged_one() -> None:
    committed = json.loads((ROOT / "schemas" / "runbook-test.schema.json").read_text(encoding="utf-8"))
    assert committed == case_schema()


def test_case_files_carry_the_editor_modeline() -> None:
    for path in find_cases(MONTHLY):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schemas/runbook-test.schema.json", path
