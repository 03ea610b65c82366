"""`runbook resume RUN --from STEP` and `--retry-failed-hosts STEP` as processes, on
hosts with their own folders (ssh executor, local connection): what runs again is
read from the hosts' files and the journal, not only from the exit code."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from runbook_engine.engine.session import lock_key
from runbook_engine.journal import RunLock
from runbook_engine.journal.state import state_dir

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """\
runbook: 1
name: surgical
phases:
  - id: deploy
    steps:
      - id: prep
        shell: echo prep >> prep.log
      - id: push
        ssh: "test ! -e {{ host.vars.root }}/broken && echo pushed >> {{ host.vars.root }}/deployed"
        hosts: app
        expect: all rc == 0
      - id: wait-here
        shell: "if test -e hang; then echo $$ > hang.pid; sleep 60; fi; echo waited >> wait.log"
      - id: after
        shell: echo after >> after.log
"""


@pytest.fixture
def fleet(tmp_path: Path) -> Path:
    lines = ["hosts:"]
    for name in ("h1", "h2", "h3"):
        (tmp_path / name).mkdir()
        lines.append(f"  {name}: {{connection: local, vars: {{root: {tmp_path / name}}}}}")
    lines += ["groups:", "  app: [h1, h2, h3]"]
    (tmp_path / "inv.yaml").write_text("\n".join(lines) + "\n")
    (tmp_path / "book.yaml").write_text(BOOK)
    return tmp_path


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, "--runs-dir", "runs"],
        cwd=root, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
    )  # fmt: skip


def events(root: Path) -> list[dict]:
    (journal,) = (root / "runs").glob("*/journal.jsonl")
    return [json.loads(line) for line in journal.read_text().splitlines()]


def lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def failed_push(root: Path) -> None:
    (root / "h2" / "broken").touch()
    done = cli(root, "run", "book.yaml", "-i", "inv.yaml")
    assert done.returncode == 1, done.stdout + done.stderr


def test_retry_failed_hosts_reruns_only_the_failed_host(fleet: Path) -> None:
    failed_push(fleet)
    preview = cli(fleet, "resume", "last", "--retry-failed-hosts", "push", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "push runs again on h2 only" in preview.stdout
    assert "keeps its result on h1, h3" in preview.stdout
    assert "runs for the first time (2): wait-here, after" in preview.stdout
    assert "keeps its result, not run again (1): prep" in preview.stdout
    before = len(events(fleet))
    refused = cli(fleet, "resume", "last", "--retry-failed-hosts", "push")  # no --yes, no terminal
    assert refused.returncode == 2 and "needs a confirmation" in refused.stderr
    assert len(events(fleet)) == before  # nothing was run or recorded
    (fleet / "h2" / "broken").unlink()
    done = cli(fleet, "resume", "last", "--retry-failed-hosts", "push", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert [lines(fleet / h / "deployed") for h in ("h1", "h2", "h3")] == [["pushed"], ["pushed"], ["pushed"]]
    assert lines(fleet / "prep.log") == ["prep"]
    assert lines(fleet / "after.log") == ["after"]
    journal = events(fleet)
    push = [e for e in journal if e.get("step") == "push" and e["event"] in ("step_started", "step_finished")]
    assert [(e["event"], e["attempt"], e.get("status"), e.get("retry_hosts")) for e in push] == [
        ("step_started", 1, None, None),
        ("step_finished", 1, "failed", None),  # the failed attempt stays
        ("step_started", 2, None, ["h2"]),
        ("step_finished", 2, "succeeded", None),
    ]
    assert sorted(push[-1]["result"]["hosts"]) == ["h1", "h2", "h3"]
    assert push[-1]["result"]["hosts"]["h1"] == push[1]["result"]["hosts"]["h1"]  # kept, not re-run
    (action,) = [e for e in journal if e["event"] == "operator" and e["action"] == "retry_failed_hosts"]
    assert action["hosts"] == {"push": ["h2"]}
    report = cli(fleet, "report", "last")
    assert "push: retried once (2 attempts)" in report.stdout


def test_from_reruns_the_step_and_everything_after(fleet: Path) -> None:
    failed_push(fleet)
    (fleet / "h2" / "broken").unlink()
    done = cli(fleet, "resume", "last", "--from", "push", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "runs again (1): push" in done.stderr
    assert [len(lines(fleet / h / "deployed")) for h in ("h1", "h2", "h3")] == [2, 1, 2]
    assert lines(fleet / "prep.log") == ["prep"]
    again = cli(fleet, "resume", "last", "--from", "push", "--yes")
    assert again.returncode == 2 and "succeeded: only a failed, cancelled or interrupted run" in again.stderr


def test_a_cancelled_run_resumes_from_a_step(fleet: Path) -> None:
    (fleet / "hang").touch()
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "-i", "inv.yaml", "--runs-dir", "runs"],
        cwd=fleet, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (fleet / "hang.pid").exists():
        assert runner.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    runner.send_signal(signal.SIGINT)
    out, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, out + err
    (fleet / "hang").unlink()
    done = cli(fleet, "resume", "last", "--from", "wait-here", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(fleet / "wait.log") == ["waited"]
    assert [len(lines(fleet / h / "deployed")) for h in ("h1", "h2", "h3")] == [1, 1, 1]  # push kept


def test_never_while_the_run_is_alive(fleet: Path) -> None:
    failed_push(fleet)
    meta = json.loads(next((fleet / "runs").glob("*/meta.json")).read_text())
    key = lock_key(meta["runbook_path"], str(fleet / meta["inventory"]))
    with RunLock(state_dir(), key, run_id="someone-else"):
        refused = cli(fleet, "resume", "last", "--retry-failed-hosts", "push", "--yes")
    assert refused.returncode == 2 and "another run holds the lock" in refused.stderr
    assert lines(fleet / "h1" / "deployed") == ["pushed"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--from", "nope"), "--from nope: no such step"),
        (("--from", "after"), "--from after: step 'push', which runs before it, is failed"),
        (("--retry-failed-hosts", "prep"), "--retry-failed-hosts prep: the step has no per-host result"),
        (("--from", "push", "--retry-failed-hosts", "push"), "not both"),
    ],
)
def test_refusals_are_clear_and_run_nothing(fleet: Path, args: tuple[str, ...], message: str) -> None:
    failed_push(fleet)
    before = len(events(fleet))
    done = cli(fleet, "resume", "last", *args, "--yes")
    assert done.returncode == 2 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert len(events(fleet)) == before


def test_an_interrupted_run_resumes_from_a_step(fleet: Path) -> None:
    """The runner is SIGKILLed in the middle of a step: the run never finished (the
    journal says running), and --from runs the interrupted step again without --rerun."""
    (fleet / "hang").touch()
    runner = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "-i", "inv.yaml", "--runs-dir", "runs"],
        cwd=fleet, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while not (fleet / "hang.pid").exists():
        assert runner.poll() is None and time.monotonic() < deadline
        time.sleep(0.02)
    runner.send_signal(signal.SIGKILL)
    runner.wait(timeout=30)
    assert not any(e["event"] == "run_finished" for e in events(fleet))
    (fleet / "hang").unlink()
    preview = cli(fleet, "resume", "last", "--from", "wait-here", "--dry-run")
    assert preview.returncode == 0, preview.stderr
    assert "(interrupted), resume --from wait-here" in preview.stdout
    done = cli(fleet, "resume", "last", "--from", "wait-here", "--yes")
    assert done.returncode == 0, done.stdout + done.stderr
    assert lines(fleet / "wait.log") == ["waited"]
    assert lines(fleet / "after.log") == ["after"]
    assert [len(lines(fleet / h / "deployed")) for h in ("h1", "h2", "h3")] == [1, 1, 1]
