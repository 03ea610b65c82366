"""Properties of the journal under arbitrary content, arbitrary edits, and a runner
killed at many points."""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from run_events import event

from runbook_engine.errors import RunError
from runbook_engine.journal import Journal, replay, verify_journal, verify_run

#: Events with a free-form field, and that field: any JSON content goes there.
FREE_FIELD = {"step_finished": "captures", "decision": "evidence", "operator": "inputs"}
EVENT_NAMES = st.sampled_from(sorted(FREE_FIELD))
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=False)
    | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
EVENT_DATA = st.dictionaries(
    st.text(min_size=1, max_size=10).filter(
        lambda k: k not in ("seq", "ts", "event", "prev", "hash")
    ),
    JSON_VALUES,
    max_size=5,
)


def fresh(runs_dir: Path) -> Journal:
    return Journal.create(
        runs_dir,
        runbook_name="prop",
        runbook_path="p.yaml",
        runbook_sha256="r",
        vars_sha256="v",
        inventory=None,
        initiator="hypothesis",
    )


@settings(max_examples=40, deadline=None)
@given(events=st.lists(st.tuples(EVENT_NAMES, EVENT_DATA), min_size=1, max_size=8))
def test_any_content_round_trips_and_verifies(events: list[tuple[str, dict[str, Any]]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = fresh(Path(tmp))
        written = [journal.append(event(name, **{FREE_FIELD[name]: data})) for name, data in events]
        assert journal.events() == written
        assert verify_journal(journal.path) == []


@settings(max_examples=60, deadline=None)
@given(
    events=st.lists(st.tuples(EVENT_NAMES, EVENT_DATA), min_size=2, max_size=6),
    where=st.floats(min_value=0, max_value=1, exclude_max=True),
    byte=st.integers(min_value=0, max_value=255),
)
def test_any_single_byte_change_is_detected(
    events: list[tuple[str, dict[str, Any]]], where: float, byte: int
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        journal = fresh(Path(tmp))
        for name, data in events:
            journal.append(event(name, **{FREE_FIELD[name]: data}))
        original = journal.path.read_bytes()
        # Every byte but the final newline: changing that one looks like a crash mid-write.
        index = int(where * (len(original) - 1))
        if original[index] == byte:
            return
        journal.path.write_bytes(original[:index] + bytes([byte]) + original[index + 1 :])
        problems = verify_run(journal)  # the chain, then each line's MAC
        try:
            journal.events()
        except RunError:
            problems = problems or ["unreadable"]
        assert problems


def test_escape_spelling_change_is_detected(tmp_path: Path) -> None:
    journal = fresh(tmp_path)
    journal.append(event("step_output", step="s", host="h", line="café"))
    journal.append(event("step_output", step="s", host="h", line="done"))
    text = journal.path.read_text()
    assert "\\u00e9" in text
    journal.path.write_text(text.replace("\\u00e9", "\\u00E9"))
    assert verify_journal(journal.path)[0].endswith(
        ":1: record edited: not byte for byte what the runner wrote"
    )


RUNNER = """
import os, signal, sys
from pathlib import Path
from runbook_engine.journal import Journal
from runbook_engine.journal.events import decode
runs, stop_after, torn = Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
j = Journal.create(runs, runbook_name="crash", runbook_path="c.yaml", runbook_sha256="r",
                   vars_sha256="v", inventory=None, initiator="alice")
events = [("run_started", {"runbook": "crash"})]
for n in range(1, 5):
    events += [("step_started", {"step": f"s{n}", "phase": "p", "attempt": 1}),
               ("step_pid", {"step": f"s{n}", "pid": 1000 + n}),
               ("step_output", {"step": f"s{n}", "host": None, "line": "x" * 40}),
               ("step_finished", {"step": f"s{n}", "phase": "p", "status": "succeeded", "attempt": 1,
                                  "captures": {}, "result": {"ok": True}})]
for name, data in events[:stop_after]:
    j.append(decode({"event": name, **data}), sync=name.endswith(("started", "finished")))
if torn:
    os.write(j._fd, b'{"seq":99,"event":"step_finished","step":"s9"'[:torn])
os.kill(os.getpid(), signal.SIGKILL)
"""


@pytest.mark.parametrize("stop_after", [1, 2, 3, 5, 6, 8, 13, 17])
@pytest.mark.parametrize("torn", [0, 1, 25])
def test_runner_killed_at_each_boundary_resumes_cleanly(
    tmp_path: Path, stop_after: int, torn: int
) -> None:
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, str(tmp_path), str(stop_after), str(torn)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr
    journal = Journal.open(tmp_path, "last")
    events = journal.events()
    assert len(events) == stop_after and journal.torn_tail is bool(torn)
    state = replay(events)
    finished = sum(1 for s in state.steps.values() if s.status == "succeeded")
    started = len(state.steps)
    assert finished == (stop_after - 1) // 4
    assert state.interrupted == ([f"s{started}"] if started > finished else [])
    journal.append(event("resumed", by="alice"), sync=True)
    assert verify_journal(journal.path) == [] and verify_run(journal) == []
    assert [e["seq"] for e in journal.events()] == list(range(1, len(journal.events()) + 1))
