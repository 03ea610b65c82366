"""A manual gate answered at a real terminal (a pseudo-terminal), with the live view."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from pathlib import Path

from runbook_engine.identity import os_user

RUNBOOK_BIN = str(Path(sys.executable).parent / "runbook")

BOOK = """
runbook: 1
name: tty
phases:
  - id: p
    steps:
      - id: before
        shell: echo before >> log.txt
      - id: sign-off
        manual:
          prompt: Product owner signs off
          approval: true
          inputs:
            ticket: {type: string, pattern: 'CHG-[0-9]+'}
      - id: after
        shell: echo after >> log.txt
"""


def read_until(fd: int, text: str, seen: bytearray, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while text.encode() not in seen:
        assert time.monotonic() < deadline, seen.decode(errors="replace")[-2000:]
        if not select.select([fd], [], [], 0.2)[0]:
            continue
        try:
            seen.extend(os.read(fd, 4096))
        except OSError:  # the terminal closed: the program ended
            break
    assert text.encode() in seen, seen.decode(errors="replace")[-2000:]


def test_prompted_approval_at_a_terminal(tmp_path: Path) -> None:
    """The terminal approves as the OS user: it asks for no approver name, which
    anyone could type."""
    (tmp_path / "book.yaml").write_text(BOOK)
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [RUNBOOK_BIN, "run", "book.yaml", "--runs-dir", "runs"],
        cwd=tmp_path,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        env={**os.environ, "TERM": "xterm", "NO_COLOR": "1"},
        start_new_session=True,
    )
    os.close(slave)
    seen = bytearray()
    try:
        read_until(master, "ticket", seen)
        os.write(master, b"CHG-42\n")
        read_until(master, f"confirm as {os_user()}? [y/N]", seen)
        os.write(master, b"y\n")
        assert proc.wait(timeout=60) == 0, seen.decode(errors="replace")[-2000:]
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    assert (tmp_path / "log.txt").read_text().split() == ["before", "after"]
    journal = next((tmp_path / "runs").glob("*/journal.jsonl"))
    events = [json.loads(line) for line in journal.read_text().splitlines()]
    vote = next(e for e in events if e["event"] == "operator_actions")
    assert vote["source"] == "terminal"
    approval = {**vote, **vote["actions"][0]}
    assert (approval["action"], approval["step"], approval["by"], approval["inputs"]) == (
        "approve",
        "sign-off",
        os_user(),
        {"ticket": "CHG-42"},
    )
    assert approval["identity"] == {"name": os_user(), "method": "os-user"}
    assert b"approver name" not in seen
