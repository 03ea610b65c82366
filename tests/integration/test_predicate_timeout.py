"""The step timeout covers predicate evaluation: an ``expect``/``until`` still being
evaluated when the step's ``timeout:`` runs out fails the step as timed out, naming
the predicate, and SIGTERM stops a run whose predicate is still being evaluated.

RE2 keeps every ``matches`` linear, so a predicate that takes longer than a step's
timeout needs a large input; a named check that sleeps (registered on the shell
executor the way a plugin registers one) stands in for it deterministically. The
pytest timeout only bounds a regression to a failure instead of a hung suite."""

from __future__ import annotations

import io
import os
import signal
import textwrap
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from runbook_engine.cli.options import load_checked
from runbook_engine.engine import PlainProgress, RunOptions, start_run
from runbook_engine.engine.session import RunSummary
from runbook_engine.executors.base import NamedCheck
from runbook_engine.executors.shell import ShellExecutor
from runbook_engine.journal import Journal
from runbook_engine.variables import resolve_vars

SLOW = "output is slow to verify"
ENTERED = threading.Event()  # the slow check has started evaluating


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """A named check that takes 20 s to say it holds: far past the steps' timeouts."""

    def verify(fields: Mapping[str, Any], hosts: Mapping[str, Mapping[str, Any]]) -> bool:
        ENTERED.set()
        time.sleep(20)
        return True

    check = NamedCheck(phrase=SLOW, words="a slow verification", test=verify)
    ENTERED.clear()
    monkeypatch.setattr(ShellExecutor, "checks", {**ShellExecutor.checks, SLOW: check})


def _run(tmp_path: Path, steps: str) -> tuple[RunSummary, dict[str, dict[str, Any]]]:
    path = tmp_path / "runbook.yaml"
    body = textwrap.indent(textwrap.dedent(steps).strip(), " " * 6)
    path.write_text(f"runbook: 1\nname: slow\nphases:\n  - id: p\n    steps:\n{body}\n")
    runbook = load_checked(str(path))
    options = RunOptions(runs_dir=tmp_path / "runs", initiator="t", workdir=tmp_path)
    summary = start_run(
        runbook, resolve_vars(runbook, {}, (), {}), options, PlainProgress(io.StringIO())
    )
    events = Journal.open(tmp_path / "runs", summary.run_id).events()
    finished = {e["step"]: e for e in events if e["event"] == "step_finished"}
    return summary, finished


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("slow_check")
def test_expect_still_evaluating_when_the_timeout_runs_out_times_the_step_out(
    tmp_path: Path,
) -> None:
    summary, finished = _run(
        tmp_path,
        f"""
        - id: verify
          shell: echo done
          timeout: 1s
          expect: rc == 0 and {SLOW}
        """,
    )
    assert summary.status == "failed"
    step = finished["verify"]
    assert step["status"] == "failed"
    assert step["result"]["state"] == "timed_out"
    assert step["error"] == f"timed out after 1s evaluating expect 'rc == 0 and {SLOW}'"


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("slow_check")
def test_until_still_evaluating_when_the_timeout_runs_out_times_the_step_out(
    tmp_path: Path,
) -> None:
    summary, finished = _run(
        tmp_path,
        f"""
        - id: poll
          shell: echo done
          timeout: 1s
          until: {SLOW}
          retries: 1
          delay: 0s
        """,
    )
    assert summary.status == "failed"
    step = finished["poll"]
    assert step["result"]["state"] == "timed_out"
    assert step["error"] == f"timed out after 1s evaluating until '{SLOW}'"


@pytest.mark.timeout(15)
@pytest.mark.usefixtures("slow_check")
def test_sigterm_stops_a_run_whose_predicate_is_still_evaluating(tmp_path: Path) -> None:
    """No timeout here: only SIGTERM can end the evaluation's wait."""
    sent = threading.Event()

    def terminate() -> None:  # only once the run's SIGTERM handler is surely in place
        if ENTERED.wait(10):
            sent.set()
            os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=terminate, daemon=True).start()
    summary, finished = _run(
        tmp_path,
        f"""
        - id: verify
          shell: echo done
          expect: {SLOW}
        """,
    )
    assert sent.is_set()
    assert finished["verify"]["status"] == "cancelled"
    assert summary.status != "succeeded"


@pytest.mark.timeout(30)
def test_expect_off_the_loop_still_sees_the_run_s_steps(tmp_path: Path) -> None:
    """Step globs in an ``expect`` read the statuses the run has recorded so far."""
    summary, finished = _run(
        tmp_path,
        """
        - id: first
          shell: echo one
        - id: broken
          shell: exit 3
          on_failure: continue
        - id: judged
          shell: echo two
          timeout: 30s
          expect: succeeded(p.first) and failed(p.*) and not failed(p.first)
        - id: judged-wrong
          shell: echo three
          expect: not failed(p.*)
          on_failure: continue
        """,
    )
    assert finished["broken"]["status"] == "failed"
    assert finished["judged"]["status"] == "succeeded"
    assert finished["judged-wrong"]["status"] == "failed"
    assert finished["judged-wrong"]["error"] == "expected 'not failed(p.*)'"
