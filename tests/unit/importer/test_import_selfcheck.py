"""The self-check: whatever a translator emits that lint refuses is demoted, so the
draft lints clean even with a broken recognizer plugin."""

from __future__ import annotations

from importlib.metadata import EntryPoint
from typing import Any

import pytest
import yaml
from import_helpers import lint_findings

from runbook_engine.importer import commands, import_markdown
from runbook_engine.importer.commands import CommandContext, Translation
from runbook_engine.importer.draft import Draft, DraftDecision, DraftPhase, DraftStep
from runbook_engine.importer.emit import emit
from runbook_engine.importer.script import Command
from runbook_engine.importer.selfcheck import checked_yaml


class _Broken:
    """A plugin whose translation the http schema refuses (a number as the URL)."""

    name = "broken"
    priority = 0

    def recognize(self, command: Command, context: CommandContext) -> Translation | None:
        return Translation("http", {"url": 5}) if command.program == "fetch" else None


@pytest.fixture
def broken_plugin(monkeypatch: pytest.MonkeyPatch) -> Any:
    def fake(group: str) -> list[EntryPoint]:
        return [EntryPoint("broken", f"{__name__}:_Broken", group)]

    monkeypatch.setattr(commands, "entry_points", fake)
    commands.recognizers.cache_clear()
    yield
    commands.recognizers.cache_clear()


def test_a_step_lint_refuses_becomes_a_manual_step(broken_plugin: Any) -> None:
    result = import_markdown("# T\n\n## Steps\n\n### 1. Get\n\n```bash\nfetch http://x\n```\n\n### 2. Ok\n\n```bash\necho ok\n```\n")
    assert not lint_findings(result.yaml)
    steps = yaml.safe_load(result.yaml)["phases"][0]["steps"]
    assert "manual" in steps[0] and "url: 5" in steps[0]["manual"]["prompt"]
    assert steps[1]["shell"] == "echo ok"  # the others are untouched
    assert "did not lint" in result.yaml


def _draft(**changes: Any) -> Draft:
    step = DraftStep("Check", "shell", "true", 1, id="check")
    draft = Draft(title="T", name="t", phases=[DraftPhase("P", 1, steps=[step], id="p")])
    for key, value in changes.items():
        setattr(draft, key, value)
    return draft


def test_a_decision_lint_refuses_keeps_its_row_with_false() -> None:
    draft = _draft(decisions=[DraftDecision("Smoke fails", "failed(nosuch.step)", "critical", "rollback")])
    assert lint_findings(emit(draft))  # the raw draft does not lint
    text = checked_yaml(draft)
    assert not lint_findings(text)
    decision = yaml.safe_load(text)["decisions"][0]
    assert decision["condition"] == "Smoke fails" and decision["when"] == "false"


def test_a_top_level_finding_leaves_a_manual_procedure() -> None:
    draft = _draft(vars={"bad-name": {"type": "int", "default": "abc"}})
    assert lint_findings(emit(draft))
    text = checked_yaml(draft)
    assert not lint_findings(text)
    data = yaml.safe_load(text)
    assert "vars" not in data and "manual" in data["phases"][0]["steps"][0]
