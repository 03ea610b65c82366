"""The tamper suite: whoever can write the run directory cannot make `verify` pass
or `resume` act on a journal the runner did not write — edited, cut short, extended
with a re-chained forgery, emptied — and a damaged or deleted run index is one clear
line, never a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from runbook_engine.journal.chain import GENESIS, line_of, record_hash

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """
runbook: 1
name: tamper
phases:
  - id: p
    steps:
      - id: before
        shell: echo before >> log.txt
      - id: approval
        manual: {prompt: Change manager approves, approval: true, distinct_from_initiator: true}
      - id: after
        shell: echo after >> log.txt
"""


def cli(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [RUNBOOK_BIN, *args, "--runs-dir", str(root / "runs")],
        cwd=root, capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL,
        env={**os.environ, "USER": "alice"},
    )  # fmt: skip


def paused(root: Path) -> tuple[str, Path]:
    (root / "book.yaml").write_text(textwrap.dedent(BOOK))
    result = cli(root, "run", "book.yaml", "--as", "alice")
    assert result.returncode == 5, result.stderr
    journal = next((root / "runs").glob("*/journal.jsonl"))
    return journal.parent.name, journal


def records(journal: Path) -> list[dict]:
    return [json.loads(line) for line in journal.read_text().splitlines()]


def rechain(items: list[dict]) -> bytes:
    """What a forger without the key can do: recompute every hash (MACs kept or copied)."""
    prev = GENESIS
    out = []
    for seq, record in enumerate(items, start=1):
        record = {**record, "seq": seq, "prev": prev}
        record["hash"] = prev = record_hash(prev, record)
        out.append(line_of(record))
    return b"".join(out)


def edit(journal: Path) -> None:
    journal.write_text(journal.read_text().replace('"before"', '"BEFORE"', 1))


def edit_rechained(journal: Path) -> None:
    items = records(journal)
    items[0]["runbook"] = "something-else"
    journal.write_bytes(rechain(items))


def cut(journal: Path) -> None:
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:-2]))


def forged_approval(journal: Path) -> None:
    items = records(journal)
    forged = {
        "event": "operator_actions", "ts": items[-1]["ts"], "by": "mallory", "source": "resume",
        "actions": [{"action": "approve", "step": "approval"}], "mac": items[-1]["mac"],
    }  # fmt: skip
    journal.write_bytes(rechain([*items, forged]))


def emptied(journal: Path) -> None:
    journal.write_bytes(b"")


def index_corrupt(journal: Path) -> None:
    (journal.parent.parent / "index.sqlite").write_bytes(b"this is not a database" * 100)


def index_deleted(journal: Path) -> None:
    (journal.parent.parent / "index.sqlite").unlink()


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "edit": edit,
    "edit-rechained": edit_rechained,
    "cut": cut,
    "append-rechained": forged_approval,
    "empty": emptied,
    "index-corrupt": index_corrupt,
    "index-deleted": index_deleted,
}


@pytest.mark.parametrize("how", list(TAMPERINGS))
def test_tampered_journal_fails_verify_and_resume_refuses(tmp_path: Path, how: str) -> None:
    run_id, journal = paused(tmp_path)
    assert cli(tmp_path, "verify", run_id).returncode == 0
    TAMPERINGS[how](journal)
    verify = cli(tmp_path, "verify", run_id)
    assert verify.returncode == 1, verify.stdout + verify.stderr
    assert "Traceback" not in verify.stderr
    assert verify.stderr.count("\n") <= 3, verify.stderr
    resume = cli(tmp_path, "resume", run_id, "--as", "bob", "--confirm", "approval", "--yes")
    assert resume.returncode == 2, resume.stdout + resume.stderr
    assert "does not verify" in resume.stderr and "Traceback" not in resume.stderr
    assert (tmp_path / "log.txt").read_text().split() == ["before"]  # nothing ran again
    if how.startswith("index"):
        listed = cli(tmp_path, "runs")
        assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
        assert run_id in listed.stdout
        again = cli(tmp_path, "run", "book.yaml", "--as", "alice")
        assert again.returncode == 5 and "Traceback" not in again.stderr, again.stderr


def test_cut_tail_of_a_finished_run_does_not_make_it_resumable(tmp_path: Path) -> None:
    (tmp_path / "book.yaml").write_text(
        "runbook: 1\nname: done\nphases:\n  - id: p\n    steps:\n"
        "      - id: a\n        shell: echo a >> log.txt\n"
        "      - id: b\n        shell: echo b >> log.txt\n"
    )
    assert cli(tmp_path, "run", "book.yaml").returncode == 0
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    lines = journal.read_bytes().splitlines(keepends=True)
    journal.write_bytes(b"".join(lines[:3]))  # up to b's start: looks interrupted
    assert cli(tmp_path, "verify", journal.parent.name).returncode == 1
    resume = cli(tmp_path, "resume", journal.parent.name, "--rerun", "b")
    assert resume.returncode == 2 and "does not verify" in resume.stderr
    assert (tmp_path / "log.txt").read_text().split() == ["a", "b"]
