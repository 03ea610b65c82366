"""Documentation is tested: every rule id the package can report has its own section
in docs/lint-rules.md with a bad and a good example, and docs/format.md names every
key of the format."""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "runbook_engine"
RULES_DOC = (ROOT / "docs" / "lint-rules.md").read_text(encoding="utf-8")
FORMAT_DOC = (ROOT / "docs" / "format.md").read_text(encoding="utf-8")
#: Base ids that only exist as a fallback, and the ids of errors that are not lint
#: findings: documented, but without a bad/good pair of runbook snippets.
WITHOUT_SNIPPETS = {"RB000", "RB100", "RB200", "RB400", "RB500", "RB510", "RB600"}


def rule_ids_in_package() -> set[str]:
    found: set[str] = set()
    for path in PACKAGE.rglob("*.py"):
        found.update(re.findall(r"\bRB\d{3}\b", path.read_text(encoding="utf-8")))
    return found


def sections() -> dict[str, str]:
    parts = re.split(r'^<a id="(rb\d{3})"></a>\n', RULES_DOC, flags=re.M)
    return {parts[i].upper(): parts[i + 1] for i in range(1, len(parts), 2)}


def test_every_rule_id_in_the_package_is_documented() -> None:
    ids = rule_ids_in_package()
    assert len(ids) >= 25
    missing = sorted(ids - set(sections()))
    assert not missing, f"add a section to docs/lint-rules.md for {missing}"


def test_every_section_has_a_heading_and_bad_and_good_examples() -> None:
    for rule, text in sections().items():
        assert text.startswith(f"### {rule} — "), rule
        if rule not in WITHOUT_SNIPPETS:
            assert "Bad" in text and "Good" in text and "```yaml" in text, rule


def test_documented_rules_exist() -> None:
    stale = sorted(set(sections()) - rule_ids_in_package())
    assert not stale, f"docs/lint-rules.md documents rules the package never reports: {stale}"


def test_format_doc_names_every_key_of_the_base_schema() -> None:
    schema = json.loads((PACKAGE / "schemas" / "base.schema.json").read_text(encoding="utf-8"))
    defs = schema["$defs"]
    keys = set(schema["properties"]) | set(defs["common"])
    for name in ("window", "var", "phase", "rollback", "decision"):
        keys |= set(defs[name]["properties"])
    missing = sorted(key for key in keys if f"`{key}`" not in FORMAT_DOC)
    assert not missing, f"docs/format.md does not mention {missing}"


def test_format_doc_covers_templating_and_the_dag() -> None:
    for phrase in (
        "| raw",
        "Values are data",
        "steps['record-versions'].previous_version",
        "## Durations",
        "## DAG rules",
    ):
        assert phrase in FORMAT_DOC, phrase
