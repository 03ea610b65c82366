"""SARIF for code-scanning UIs, validated against the OASIS SARIF 2.1.0 schema
(vendored in tests/schemas/, no network at test time), and the rule registry: one
module per rule under lint/rules/, one section per rule in docs/lint-rules.md."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner

from runbook_engine.cli.main import cli
from runbook_engine.lint.rules import DOCS_URL, registry

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "tests" / "schemas" / "sarif-schema-2.1.0.json").read_text())
RULES_DOC = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")

BAD = """
runbook: 1
name: lintme
vars:
  version: {type: string, required: true, default: v1}
  opts: {type: string, default: "-v"}
phases:
  - id: one
    steps:
      - id: a
        shell: echo {{ opts | raw }}
      - id: b
        notify: {channel: opps, message: hi}
"""


@pytest.fixture
def sarif(tmp_path: Path) -> dict:
    (tmp_path / ".git").mkdir()
    (tmp_path / "book.yaml").write_text(textwrap.dedent(BAD))
    (tmp_path / "broken.yaml").write_text("runbook: 1\nname: [unclosed\n")
    result = CliRunner().invoke(
        cli, ["lint", "--format", "sarif", str(tmp_path / "book.yaml"), str(tmp_path / "broken.yaml")]
    )
    assert result.exit_code == 2, result.output  # one unusable file
    return json.loads(result.output)


def test_sarif_is_valid_against_the_2_1_0_schema(sarif: dict) -> None:
    jsonschema.Draft4Validator(SCHEMA).validate(sarif)
    results = sarif["runs"][0]["results"]
    assert sorted(r["ruleId"] for r in results) == ["RB001", "RB111", "RB113", "RB206"]
    assert {r["ruleId"]: r["level"] for r in results}["RB206"] == "warning"


def test_every_rule_has_metadata_and_an_absolute_help_uri(sarif: dict) -> None:
    driver = sarif["runs"][0]["tool"]["driver"]
    rules = driver["rules"]
    assert [r["id"] for r in rules] == list(registry())
    for rule in rules:
        assert rule["helpUri"] == f"{DOCS_URL}#{rule['id'].lower()}"
        assert rule["helpUri"].startswith("https://")
        assert re.fullmatch(r"[A-Z][A-Za-z0-9]*", rule["name"]), rule["name"]
        assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
        assert rule["defaultConfiguration"]["level"] in ("error", "warning")
    for result in sarif["runs"][0]["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
    by_id = {r["id"]: r for r in rules}
    assert by_id["RB102"]["name"] == "UnknownKey"
    assert by_id["RB206"]["defaultConfiguration"]["level"] == "warning"


def test_every_registered_rule_has_a_doc_section_and_every_section_a_rule() -> None:
    anchors = set(re.findall(r'^<a id="(rb\d{3})"></a>$', RULES_DOC, re.M))
    assert {r.lower() for r in registry()} == anchors
    for rule in registry().values():
        heading = re.search(rf"^### {rule.id} — (.+)$", RULES_DOC, re.M)
        assert heading and heading.group(1) == rule.name, rule.id


def test_each_rule_lives_in_its_own_module() -> None:
    folder = ROOT / "runbook_engine" / "lint" / "rules"
    modules = {p.stem.upper() for p in folder.glob("rb*.py")}
    assert modules == set(registry())


def test_the_example_ci_workflow_lints_with_annotations_and_sarif() -> None:
    import yaml

    workflow = yaml.safe_load((ROOT / "docs" / "ci-lint-workflow.yml").read_text())
    runs = [s.get("run", "") for s in workflow["jobs"]["lint"]["steps"]]
    assert "runbook lint --format github runbooks/" in runs
    assert any("--format sarif" in r for r in runs)
    assert any(s.get("uses", "").startswith("github/codeql-action/upload-sarif") for s in workflow["jobs"]["lint"]["steps"])
