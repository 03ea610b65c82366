"""The run lock as processes see it: lock first, then read; one lock per runbook and
inventory wherever the runs are kept; the default runs dir independent of the
working directory."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import textwrap
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

#: A gate, then a non-idempotent step that takes a while; the inventory is slow to
#: load (a dynamic script), which is what once let two resumes read the same journal
#: before either took the lock.
BOOK = """
runbook: 1
name: lock-race
inventory: slow-inventory.sh
phases:
  - id: p
    steps:
      - id: gate
        manual: Go ahead?
      - id: act
        shell: echo act >> {root}/count.txt; sleep 0.5
        hosts: local
"""

SLOW_INVENTORY = """#!/bin/sh
[ -e "$(dirname "$0")/slow" ] && sleep 3
echo '{"local": {"hosts": ["h1"]}, "_meta": {"hostvars": {"h1": {"ansible_connection": "local"}}}}'
"""


def cli(cwd: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
    )


#: For the 20-run test: no inventory (ansible-inventory is costly on a shared machine),
#: the step holds the lock past the longest stagger instead.
QUICK_BOOK = """
runbook: 1
name: lock-race-quick
phases:
  - id: p
    steps:
      - id: gate
        manual: Go ahead?
      - id: act
        shell: echo act >> {root}/count.txt; sleep 3.5
"""


def paused_run(root: Path, book: str = BOOK) -> str:
    root.mkdir(parents=True, exist_ok=True)
    (root / "book.yaml").write_text(textwrap.dedent(book).format(root=root))
    script = root / "slow-inventory.sh"
    script.write_text(SLOW_INVENTORY)
    script.chmod(0o755)
    started = cli(root, "run", "book.yaml", "--runs-dir", str(root / "runs"))
    assert started.returncode == 5, started.stderr
    (root / "slow").touch()  # from now on the inventory takes 3 s to load
    return next((root / "runs").glob("*/journal.jsonl")).parent.name


def resume_pair(root: Path, run_id: str, delay: float) -> list[subprocess.CompletedProcess[str]]:
    """Two `resume --confirm gate` of one run, the second ``delay`` seconds later."""
    args = [RUNBOOK_BIN, "resume", run_id, "--confirm", "gate", "--runs-dir", str(root / "runs")]
    first = subprocess.Popen(args, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(delay)
    second = subprocess.Popen(args, cwd=root, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    done = []
    for proc in (first, second):
        out, err = proc.communicate(timeout=120)
        done.append(subprocess.CompletedProcess(args, proc.returncode, out, err))
    return done


def ran(root: Path) -> int:
    path = root / "count.txt"
    return path.read_text().split().count("act") if path.exists() else 0


def test_two_resumes_two_seconds_apart_run_the_step_once(tmp_path: Path) -> None:
    run_id = paused_run(tmp_path)
    first, second = resume_pair(tmp_path, run_id, 2.0)
    assert first.returncode == 0, first.stderr
    assert second.returncode == 2, second.stderr
    assert "another run holds the lock" in second.stderr
    assert "pid " in second.stderr and " on " in second.stderr and "since " in second.stderr
    assert ran(tmp_path) == 1
    verify = cli(tmp_path, "verify", run_id, "--runs-dir", str(tmp_path / "runs"))
    assert verify.returncode == 0, verify.stdout + verify.stderr


@pytest.mark.timeout(600)
def test_staggered_resumes_exactly_one_runs(tmp_path: Path) -> None:
    """20 runs, each resumed twice with the second resume 0 to 3 s after the first."""
    rng = random.Random(11)
    delays = [round(rng.uniform(0.0, 3.0), 2) for _ in range(20)]

    def one(index: int) -> tuple[float, int, list[int]]:
        root = tmp_path / f"run-{index:02d}"
        run_id = paused_run(root, QUICK_BOOK)
        results = resume_pair(root, run_id, delays[index])
        return delays[index], ran(root), sorted(r.returncode for r in results)

    with ThreadPoolExecutor(max_workers=5) as pool:
        outcomes = list(pool.map(one, range(20)))
    assert [(d, n) for d, n, _ in outcomes if n != 1] == []
    assert all(codes == [0, 2] for _, _, codes in outcomes), outcomes


def test_the_lock_does_not_depend_on_the_runs_dir_or_the_working_directory(
    tmp_path: Path,
) -> None:
    book = tmp_path / "book.yaml"
    book.write_text(
        textwrap.dedent(
            """
            runbook: 1
            name: two-dirs
            phases:
              - id: p
                steps:
                  - id: slow
                    shell: sleep 3
            """
        )
    )
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    holder = subprocess.Popen(
        [RUNBOOK_BIN, "run", str(book)], cwd=one, stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        time.sleep(1.5)
        second = cli(two, "run", str(book), "--runs-dir", str(two / "runs"))
    finally:
        assert holder.wait(timeout=60) == 0
    assert second.returncode == 2, second.stderr
    assert "another run holds the lock" in second.stderr
    # "hours later, from any shell": the default runs dir is the same from anywhere
    listed = cli(two, "runs", "--format", "json")
    assert "two-dirs" in listed.stdout


def test_no_runs_error_says_where_it_looked_and_how_to_look_elsewhere(tmp_path: Path) -> None:
    result = cli(tmp_path, "resume", "last", "--runs-dir", str(tmp_path / "empty"))
    assert result.returncode == 2
    assert f"no runs in {tmp_path / 'empty'}" in result.stderr
    assert "--runs-dir" in result.stderr and "RUNBOOK_RUNS_DIR" in result.stderr
