"""`runbook schema`: the composed JSON Schema, the committed copy editors use, and that
both accept the real runbook and refuse a broken one."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from runbook_engine.cli.main import main
from runbook_engine.executors.registry import executor_classes
from runbook_engine.loader import load_file

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "schemas" / "runbook.schema.json"
MONTHLY = ROOT / "runbooks" / "monthly-update.yaml"


@pytest.fixture
def printed(capsys: pytest.CaptureFixture[str]) -> str:
    main(["schema"])
    return capsys.readouterr().out


def test_printed_schema_is_valid_draft_2020_12(printed: str) -> None:
    schema: dict[str, Any] = json.loads(printed)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    Draft202012Validator.check_schema(schema)


def test_printed_schema_has_every_installed_executor(printed: str) -> None:
    step = json.loads(printed)["$defs"]["step"]["properties"]
    assert set(executor_classes()) <= set(step)
    assert {"id", "expect", "needs", "capture", "on_failure", "undo"} <= set(step)


def test_printed_schema_validates_the_monthly_runbook(printed: str) -> None:
    validator = Draft202012Validator(json.loads(printed))
    errors = [e.message for e in validator.iter_errors(load_file(MONTHLY).data)]
    assert errors == []


def test_printed_schema_refuses_a_broken_runbook(printed: str) -> None:
    data = load_file(MONTHLY).data
    data["phases"][0]["steps"][0]["retries"] = "three"
    data["phases"][0]["steps"][1]["expects"] = "rc == 0"
    validator = Draft202012Validator(json.loads(printed))
    assert len(list(validator.iter_errors(data))) == 2


def test_committed_schema_is_up_to_date(printed: str) -> None:
    assert COMMITTED.read_text(encoding="utf-8") == printed, (
        "schemas/runbook.schema.json is stale: run `runbook schema > schemas/runbook.schema.json`"
    )


def test_runbooks_carry_the_editor_modeline() -> None:
    for path in sorted((ROOT / "runbooks").glob("*.yaml")):
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first == "# yaml-language-server: $schema=../schemas/runbook.schema.json", path.name
