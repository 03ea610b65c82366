"""`runbook explain --run RUN`: the checklist of a real run with its evidence next to
each item: what ran, an output excerpt, pass or fail, timing, who confirmed."""

from __future__ import annotations

import getpass
import subprocess
import sys
import textwrap
from pathlib import Path

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """
runbook: 1
name: weekly
title: Weekly shutdown
prerequisites:
  - Backups verified by the DBA
decisions:
  - condition: Cache purge failed
    when: failed(drain.purge)
    severity: medium
    action: warn
success:
  total_duration: "< 1h"
phases:
  - id: drain
    steps:
      - id: announce
        shell: for i in 1 2 3 4 5 6 7 8 9; do echo "line $i"; done
      - id: purge
        shell: echo purging; exit 7
        on_failure: continue
      - id: approve
        manual:
          prompt: Approve the shutdown
          inputs:
            ticket: {pattern: "CHG-[0-9]+"}
      - id: never
        shell: echo never
        when: steps.purge.status == "succeeded"
      - id: stop
        shell: echo stopped
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def test_explain_a_run_with_its_evidence(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(textwrap.dedent(BOOK))
    (tmp_path / "hosts").write_text("web1 ansible_connection=local\n")
    first = cli(tmp_path, "run", "book.yaml", "-i", "hosts", "--runs-dir", "runs", "--yes", "--as", "alice")
    assert first.returncode == 5, first.stdout + first.stderr  # paused at the gate with inputs
    done = cli(
        tmp_path, "resume", "last", "--runs-dir", "runs", "--confirm", "approve",
        "--input", "ticket=CHG-42", "--as", "bob",
    )
    assert done.returncode == 0, done.stdout + done.stderr
    explained = cli(tmp_path, "explain", "--run", "last", "--runs-dir", "runs")
    assert explained.returncode == 0, explained.stderr
    text = explained.stdout
    assert "> **Evidence from run `" in text and "succeeded (exit 0)" in text
    # the fleet this run was given, not only what the runbook names
    assert f"- **Inventory**: `{tmp_path / 'hosts'}` (this run's)" in text
    # who confirmed is the verified identity (the OS user here), not a claimed --as
    who = getpass.getuser()
    assert f"- [x] Backups verified by the DBA — succeeded by {who} at " in text
    announce = text.split("#### 1.1 announce", 1)[1].split("####", 1)[0]
    assert "> **In this run**: **PASS** (succeeded) at " in announce and ", took " in announce
    assert "> line 1\n> line 2\n> line 3\n> … 3 more lines …\n> line 7\n" in announce
    purge = text.split("#### 1.2 purge", 1)[1].split("####", 1)[0]
    assert "> **In this run**: **FAIL** (failed)" in purge and "> purging" in purge
    approve = text.split("#### 1.3 approve", 1)[1].split("####", 1)[0]
    assert "- [x] **Confirm**: Approve the shutdown" in approve  # ticked, as the run's evidence says
    assert "  - Input `ticket` (matching `CHG-[0-9]+`)" in approve
    assert f"confirmed by {who}" in approve
    never = text.split("#### 1.4 never", 1)[1].split("####", 1)[0]
    assert "> **In this run**: **SKIPPED** (skipped)" in never or "not run" in never
    assert "| Cache purge failed | MEDIUM | Warn | step drain.purge failed | taken at " in text
    assert "- Total duration: `< 1h` — this run: " in text and "**PASS**" in text
    page = cli(tmp_path, "explain", "--run", "last", "--runs-dir", "runs", "--format", "html")
    assert page.returncode == 0 and '<input type="checkbox" checked>' in page.stdout


def test_explain_needs_a_path_or_a_run(tmp_path: Path) -> None:
    done = cli(tmp_path, "explain")
    assert done.returncode == 2 and "give the runbook PATH, or --run RUN" in done.stderr
    assert "Traceback" not in done.stderr
