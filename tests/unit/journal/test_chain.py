"""Tampering with a journal is detected, at the line where it happened."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from run_events import event

from runbook_engine.cli.main import cli
from runbook_engine.journal import Journal, RunIndex, has_torn_tail, verify_journal, verify_run
from runbook_engine.journal.chain import line_of, record_hash


@pytest.fixture
def journal(tmp_path: Path) -> Journal:
    journal = Journal.create(
        tmp_path,
        runbook_name="monthly-update",
        runbook_path="rb.yaml",
        runbook_sha256="r",
        vars_sha256="v",
        inventory=None,
        initiator="alice",
    )
    journal.append(event("run_started", runbook="monthly-update", initiator="alice"))
    for n, status in enumerate(["succeeded", "failed", "succeeded", "succeeded"], start=1):
        journal.append(event("step_finished", step=f"step-{n}", status=status, attempt=1))
    journal.close("failed", 1)
    return journal


def rewrite(journal: Journal, edit) -> None:  # type: ignore[no-untyped-def]
    records = [json.loads(line) for line in journal.path.read_text().splitlines()]
    edit(records)
    journal.path.write_bytes(b"".join(line_of(r) for r in records))


def test_intact_journal_has_no_problems(journal: Journal) -> None:
    assert verify_journal(journal.path) == []


def test_edited_middle_line_is_named(journal: Journal) -> None:
    text = journal.path.read_text().splitlines()
    text[2] = text[2].replace('"failed"', '"succeeded"')
    journal.path.write_text("\n".join(text) + "\n")
    problems = verify_journal(journal.path)
    assert len(problems) == 1
    assert problems[0].endswith(
        "journal.jsonl:3: record edited: its hash does not match its content"
    )


def test_edit_with_recomputed_hash_breaks_the_next_link(journal: Journal) -> None:
    def forge(records: list[dict]) -> None:  # type: ignore[type-arg]
        records[2]["status"] = "succeeded"
        records[2]["hash"] = record_hash(records[2]["prev"], records[2])

    rewrite(journal, forge)
    problems = verify_journal(journal.path)
    assert problems and ":4: chain broken" in problems[0]


def test_removed_line_is_detected(journal: Journal) -> None:
    rewrite(journal, lambda records: records.pop(2))
    problems = verify_journal(journal.path)
    assert ":3: sequence number 4, expected 3" in problems[0]
    assert any(":3: chain broken" in p for p in problems)


def test_swapped_lines_are_detected(journal: Journal) -> None:
    def swap(records: list[dict]) -> None:  # type: ignore[type-arg]
        records[1], records[2] = records[2], records[1]

    rewrite(journal, swap)
    assert ":2: sequence number 3, expected 2" in verify_journal(journal.path)[0]


def test_garbage_line_in_the_middle_is_reported(journal: Journal) -> None:
    text = journal.path.read_text().splitlines()
    text.insert(2, "not json")
    journal.path.write_text("\n".join(text) + "\n")
    assert verify_journal(journal.path)[0].endswith(":3: not a JSON record")


def test_torn_tail_is_not_tampering(journal: Journal) -> None:
    with journal.path.open("ab") as fh:
        fh.write(b'{"seq":6,"ev')
    assert verify_journal(journal.path) == []
    assert has_torn_tail(journal.path)


def test_verify_command_exit_codes(journal: Journal, tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(cli, ["verify", "--runs-dir", str(tmp_path), journal.run_id])
    assert ok.exit_code == 0, ok.output
    assert "intact" in ok.output and "5 line(s)" in ok.output
    by_path = runner.invoke(cli, ["verify", str(journal.path)])
    assert by_path.exit_code == 0

    text = journal.path.read_text().splitlines()
    text[3] = text[3].replace("step-3", "step-9")
    journal.path.write_text("\n".join(text) + "\n")
    bad = runner.invoke(cli, ["verify", "--runs-dir", str(tmp_path), "last"])
    assert bad.exit_code == 1
    assert "journal.jsonl:4: record edited" in bad.output


def test_lines_cut_from_the_end_are_detected_against_the_index(
    journal: Journal, tmp_path: Path
) -> None:
    text = journal.path.read_text().splitlines()
    journal.path.write_text("\n".join(text[:-2]) + "\n")
    assert verify_journal(journal.path) == []  # the chain alone cannot tell
    assert "lines were removed from the end" in verify_run(journal)[0]
    result = CliRunner().invoke(cli, ["verify", "--runs-dir", str(tmp_path), journal.run_id])
    assert result.exit_code == 1 and "recorded 5 lines" in result.output


def test_rewritten_chain_is_detected_against_the_index(journal: Journal) -> None:
    def forge(records: list[dict]) -> None:  # type: ignore[type-arg]
        records[2]["status"] = "succeeded"
        prev = records[1]["hash"]
        for record in records[2:]:
            record["prev"] = prev
            record["hash"] = prev = record_hash(prev, record)

    rewrite(journal, forge)
    assert verify_journal(journal.path) == []  # the chain alone cannot tell
    assert verify_run(journal)[0].endswith(
        ":3: not written by a runner of this installation (its MAC does not match):"
        " the line was forged or the journal re-chained"
    )


def test_resumed_run_appending_past_the_recorded_head_stays_intact(journal: Journal) -> None:
    again = Journal.open(journal.runs_dir, journal.run_id)
    again.append(event("resumed", by="bob"))
    assert verify_run(again) == []


def test_index_of_an_older_release_gains_the_head_columns(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "index.sqlite") as conn:
        conn.execute(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, runbook TEXT NOT NULL, path TEXT NOT NULL,"
            " status TEXT NOT NULL, started TEXT NOT NULL, finished TEXT, initiator TEXT NOT NULL,"
            " inventory TEXT, exit_code INTEGER, pid INTEGER)"
        )
        conn.execute(
            "INSERT INTO runs VALUES ('r1', 'rb', 'rb.yaml', 'succeeded', 's', 'f', 'me', NULL, 0, NULL)"
        )
    conn.close()
    (row,) = RunIndex(tmp_path).list()
    assert (row.run_id, row.head_seq, row.head_hash) == ("r1", None, None)
