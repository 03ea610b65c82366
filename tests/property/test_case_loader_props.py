"""Whatever a cases file holds, loading and linting it gives cases or findings with a
position — never a traceback."""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.casetest.cases import lint_case, load_case_file
from runbook_engine.errors import RunbookError
from runbook_engine.loader import load_file
from runbook_engine.model import build_runbook

BOOK = build_runbook(load_file(Path(__file__).parents[1] / "unit" / "casetest" / "book.yaml"))

KEYS = ["name", "vars", "env", "inventory", "stubs", "expect", "attempts", "all", "hosts", "fields",
        "samples", "ok", "duration", "status", "ran", "decisions", "condition", "not_before", "path",
        "push", "watch", "smoke", "get-version", "commands", "contains", "captures", "notifications"]
scalars = st.one_of(st.none(), st.booleans(), st.integers(-3, 3), st.sampled_from(["", "x", "10m", "push", "Slow", "ok"]))
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.sampled_from(KEYS), inner, max_size=4)),
    max_leaves=20,
)
cases = st.lists(st.dictionaries(st.sampled_from(KEYS), values, max_size=6), min_size=0, max_size=3)


@settings(max_examples=200, deadline=None)
@given(cases=cases, header=st.sampled_from([1, 2, None]))
def test_any_cases_file_loads_or_is_refused_with_a_position(cases: list[dict[str, object]], header: int | None) -> None:
    data: dict[str, object] = {"cases": cases}
    if header is not None:
        data["runbook-test"] = header
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "c.yaml"
        path.write_text(yaml.safe_dump(data))
        loaded, findings = load_case_file(path)
        for finding in findings:
            assert isinstance(finding, RunbookError) and finding.span is not None
        if loaded is not None:
            for case in loaded.cases:
                for finding in lint_case(case, BOOK, ["a1", "a2"]):
                    assert finding.span is not None and finding.rule.startswith("RT")
