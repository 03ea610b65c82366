"""Every line real runs journal decodes to its declared event class, and encoding the
decoded event gives back exactly the line's keys and values: the typed events change
nothing on disk (a pause and resume, a rollback with a decision, an unevaluable
decision, a surgical resume and a torn tail repaired on resume)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from test_run_engine import GATE_BOOK, Runner

from runbook_engine.journal import verify_journal
from runbook_engine.journal.events import CHAIN_KEYS, EVENTS, UnknownEvent, decode, encode

ROLLBACK_WITH_DECISIONS = """
runbook: 1
name: troubled
phases:
  - id: deploy
    downtime: begins
    budget: 10m
    steps:
      - id: backup
        shell: echo backup; echo backup >> log.txt
        undo: {shell: echo undo-backup >> log.txt}
        capture: {said: stdout}
  - id: verify
    downtime: ends
    steps:
      - id: smoke-api
        shell: echo smoke >> log.txt; exit 1
        on_failure: continue
      - id: later
        shell: echo later >> log.txt
rollback:
  steps:
    - id: restore
      shell: echo restore >> log.txt
decisions:
  - condition: A captured text compared with a number
    when: steps.backup.said > 3
    severity: low
    action: warn
  - condition: Smoke test fails
    when: failed(verify.smoke-*)
    severity: critical
    action: rollback
"""

FAILING = """
runbook: 1
name: surgical
phases:
  - id: p
    steps:
      - id: first
        shell: echo first >> log.txt
      - id: flaky
        shell: test -f fixed || exit 1
        idempotent: true
"""


def lines_round_trip(path: Path) -> set[str]:
    """Assert each line of the journal at ``path`` round-trips through its class;
    the event names seen."""
    assert verify_journal(path) == []
    seen: set[str] = set()
    for raw in path.read_text(encoding="utf-8").splitlines():
        record: dict[str, Any] = json.loads(raw)
        event = decode(record)
        assert not isinstance(event, UnknownEvent), record
        assert isinstance(event, EVENTS[record["event"]])
        data = {k: v for k, v in record.items() if k not in CHAIN_KEYS}
        assert json.loads(json.dumps(encode(event))) == data, record["event"]
        seen.add(event.name)
    return seen


def test_every_line_of_real_runs_decodes_to_its_class(tmp_path: Path) -> None:
    runner = Runner(tmp_path)
    seen: set[str] = set()

    paused = runner.run(GATE_BOOK, yes=True)
    assert paused.status == "paused"
    resumed = runner.resume(
        paused.run_id, confirm=["db-team"], inputs={"ticket": "CHG-7"}, options={"initiator": "bob"}
    )
    assert resumed.status == "succeeded"
    seen |= lines_round_trip(runner.runs / paused.run_id / "journal.jsonl")

    troubled = runner.run(ROLLBACK_WITH_DECISIONS)
    assert troubled.status == "rolled_back"
    seen |= lines_round_trip(runner.runs / troubled.run_id / "journal.jsonl")

    failed = runner.run(FAILING)
    assert failed.status == "failed"
    journal = runner.runs / failed.run_id / "journal.jsonl"
    with journal.open("ab") as fh:
        fh.write(b'{"seq":99,"ts":"2026-')  # a runner killed mid-write
    (runner.root / "fixed").write_text("")
    again = runner.resume(failed.run_id, from_step="flaky")
    assert again.status == "succeeded"
    seen |= lines_round_trip(journal)

    # every event the engine writes came up, but the Slack announcement (checked the
    # same way with the stand-in Slack in test_slack.py)
    assert seen == set(EVENTS) - {"gate_announced"}
