"""`runbook test --from-run`: a real run (real shell commands) becomes a case that
passes against the same runbook, and fails once the runbook's behaviour changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.cli.main import main

BOOK = """\
runbook: 1
name: incident
vars:
  version: {type: string, required: true}
phases:
  - id: deploy
    steps:
      - id: record
        shell: echo v2.3.0
        capture: {previous: stdout}
      - id: flaky
        shell: "test -f {{ version }}.second || { touch {{ version }}.second; exit 1; }"
        retries: 2
        delay: 0.1s
      - id: scan-logs
        shell: echo "1 error found"
        expect: stdout contains "No errors"
        on_failure: continue
      - id: smoke
        shell: echo status degraded
        expect: stdout contains "healthy"
rollback:
  steps:
    - id: restore
      shell: echo restoring {{ steps.record.previous }}
decisions:
  - condition: Minor errors in logs
    when: failed(deploy.scan-logs)
    severity: medium
    action: investigate
  - condition: Smoke test fails
    when: failed(deploy.smoke)
    severity: critical
    action: rollback
"""


def cli(*args: str) -> int:
    try:
        main(list(args))
    except SystemExit as exited:
        return exited.code if isinstance(exited.code, int) else 0
    return 0


def test_a_real_run_becomes_a_passing_case(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    book = tmp_path / "incident.yaml"
    book.write_text(BOOK)
    runs = str(tmp_path / "runs")
    assert cli("run", str(book), "--var", "version=v2.4.0", "--runs-dir", runs) == 3
    case = tmp_path / "incident.tests" / "from-run.yaml"
    case.parent.mkdir()
    main_args = ("test", "--from-run", "last", "--runs-dir", runs, "-o", str(case))
    assert cli(*main_args) == 0
    text = case.read_text()
    assert text.startswith("# yaml-language-server: $schema=")
    for expected in ("status: rolled_back", "exit_code: 3", "- 'flaky: succeeded'", "- 'smoke: failed'",
                     "- 'restore: succeeded'", "condition: Minor errors in logs", "condition: Smoke test fails"):
        assert expected in text, expected
    capsys.readouterr()
    assert cli("test", str(book), "-v") == 0  # found beside the runbook
    out = capsys.readouterr().out
    assert "PASS" in out and "1 passed, 0 failed" in out

    # the runbook changes: the log scan now aborts instead of continuing → the case catches it
    book.write_text(BOOK.replace("on_failure: continue", "on_failure: abort"))
    assert cli("test", str(book)) == 1
    out = capsys.readouterr().out
    assert "run ended failed, expected rolled_back" in out
    assert "path differs: 3 step(s) finished, the case expects 5" in out


def test_from_run_of_an_unknown_run_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("test", "--from-run", "nope", "--runs-dir", str(tmp_path)) == 2
    assert "no run 'nope'" in capsys.readouterr().err
