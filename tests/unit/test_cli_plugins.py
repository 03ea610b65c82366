"""`runbook plugins`: every installed executor, built-in or third-party, with its package."""

from __future__ import annotations

import json

import pytest

from runbook_engine.cli.main import main
from runbook_engine.executors.registry import executor_classes

BUILT_IN = {"shell", "ssh", "ansible", "sql", "http", "notify", "wait", "monitor", "manual"}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    main(["plugins", *args])
    return capsys.readouterr().out


def test_json_lists_every_executor_with_its_package(capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(run(capsys, "--format", "json"))
    by_key = {row["key"]: row for row in rows}
    assert set(by_key) == set(executor_classes())
    assert set(by_key) >= BUILT_IN
    for key in BUILT_IN:
        assert by_key[key]["package"] == "runbook-engine"
    assert {"rc", "stdout", "stderr"} <= set(by_key["shell"]["fields"])
    assert "checksum matches" in by_key["shell"]["checks"]
    assert "schema" not in by_key["shell"]


def test_json_with_schema_fragments(capsys: pytest.CaptureFixture[str]) -> None:
    rows = json.loads(run(capsys, "--format", "json", "--schema"))
    assert all(isinstance(row["schema"], dict) for row in rows)


def test_table_names_every_executor(capsys: pytest.CaptureFixture[str]) -> None:
    out = run(capsys)
    for key in executor_classes():
        assert key in out
