"""Arbitrary Markdown never crashes `runbook import`, and its draft always lints
clean (the real linter). Documents are built from the pieces procedures are made
of — headings, phase titles, fences in any language, checklists, numbered lists,
tables, expectation lines — filled with arbitrary text, so the importer's every
path meets hostile content."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from runbook_engine.importer import import_markdown
from runbook_engine.lint import analyze_document
from runbook_engine.loader import load_text

TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40
)
WORDS = st.sampled_from(
    [
        "ansible all -i inventory/hosts -m shell -a",
        "ansible-playbook -i inv site.yml -e a=b",
        "ssh host",
        "ssh app-01 \"cat /opt/app/VERSION\"",
        "curl -X POST http://h/v1 -d '{\"a\": 1}'",
        "psql -U u -d d -c 'SELECT 1'",
        "scp a b:/c",
        "cd /opt/x",
        "sleep 5",
        "echo {{ x }} {% y %} {# z",
        "\"quoted message",
        "v2.4.0 /opt/app/VERSION",
        "$(date)",
        "EOF",
        "<<EOF",
        "'",
        "\\",
        "#ops",
        "|",
    ]
)
LINE = st.lists(st.one_of(TEXT, WORDS), min_size=1, max_size=4).map(" ".join)
LANG = st.sampled_from(["bash", "sh", "", "console", "yaml", "json", "powershell", "sql", "text", "weird lang"])
EXPECTED = st.sampled_from(
    ["✅ **Expected**: ", "✅ All `failed=0`", "**Expected Output**:", "❌ failed - rollback ", "⚠️ ", "💡 ", "Expected: HTTP 200, `{\"s\": 1}` "]
)


def heading(level: int, prefix: str) -> st.SearchStrategy[str]:
    return st.tuples(LINE, st.sampled_from(["", " (15 minutes)", " (If Required)", " (1-2 hours)"])).map(
        lambda t: "#" * level + " " + prefix + t[0].replace("\n", " ") + t[1]
    )


BLOCK = st.one_of(
    heading(1, ""),
    heading(2, ""),
    heading(3, "Phase 1: "),
    heading(4, "1.1 "),
    heading(2, "Rollback Decision Matrix "),
    heading(2, "Troubleshooting "),
    heading(2, "Success Metrics "),
    heading(2, "Prerequisites "),
    st.tuples(LANG, st.lists(LINE, max_size=5)).map(lambda t: f"```{t[0]}\n" + "\n".join(t[1]) + "\n```"),
    st.lists(LINE, min_size=1, max_size=4).map(lambda items: "\n".join(f"- [ ] {i}" for i in items)),
    st.lists(LINE, min_size=1, max_size=4).map(lambda items: "\n".join(f"{n}. `{i}`" for n, i in enumerate(items, 1))),
    st.lists(LINE, min_size=1, max_size=3).map(lambda items: "\n".join(f"1. {i}\n   1. `{i}`" for i in items)),
    st.lists(st.tuples(LINE, st.sampled_from(["CRITICAL", "HIGH", "x", ""]), LINE), max_size=3).map(
        lambda rows: "| Condition | Severity | Action |\n|---|---|---|\n"
        + "\n".join(f"| {a.replace('|', '/')} | {b} | {c.replace('|', '/')} |" for a, b, c in rows)
    ),
    st.tuples(EXPECTED, LINE).map("".join),
    st.tuples(st.sampled_from(["**Purpose**: ", "**Duration**: ", "**Performed by**: ", "- **Start Time**: "]), LINE).map("".join),
    LINE,
)
DOCUMENT = st.tuples(st.lists(BLOCK, max_size=14), st.sampled_from(["\n\n", "\r\n\r\n", "\n"])).map(lambda t: t[1].join(t[0]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENT)
def test_any_markdown_gives_a_draft_that_lints(text: str) -> None:
    result = import_markdown(text, "fuzz.md")
    analysis = analyze_document(load_text(result.yaml, "fuzz.yaml"))
    assert not analysis.findings, "\n".join(str(f) for f in analysis.findings) + "\n---\n" + text + "\n---\n" + result.yaml
    assert result.steps >= 1


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=300))
def test_any_text_gives_a_draft_that_lints(text: str) -> None:
    result = import_markdown(text)
    assert not analyze_document(load_text(result.yaml, "fuzz.yaml")).findings
