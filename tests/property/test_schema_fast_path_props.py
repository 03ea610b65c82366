"""The schema's fast path (jsonschema-rs, schema.py) may only ever say "valid" where
jsonschema finds nothing: lint must stay exactly as strict. Real runbooks are mutated
at random places with values chosen to split the two (a trailing newline that Python's
``$`` accepts, Unicode digits and spaces, huge integers, integral floats, bools for
numbers, unknown keys) and both validators must agree on every one."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from test_loader_props import plausible, runbooks, sometimes_junk

from runbook_engine import schema
from runbook_engine.errors import RunbookError
from runbook_engine.loader import Document, load_file, load_text, pointer

ROOT = Path(__file__).resolve().parents[2]


def valid_runbooks() -> list[Path]:
    """Every schema-clean runbook in the repository (the corpus is all broken)."""
    found = []
    for path in sorted([*ROOT.glob("runbooks/**/*.yaml"), *ROOT.glob("examples/**/*.yaml"), *ROOT.glob("tests/**/*.yaml")]):
        try:
            doc = load_file(path)
        except RunbookError:
            continue
        if isinstance(doc.data, dict) and "runbook" in doc.data and schema.validate(doc) == []:
            found.append(path)
    return found


VALID = valid_runbooks()

TRICKY = st.one_of(
    st.sampled_from(
        [
            "deploy\n",
            "5m\n",
            "5m",
            "٣s",  # ARABIC-INDIC DIGIT THREE: Python's \d matches it
            "\ufeff5s",  # a BOM: whitespace to ECMA-262, not to Python
            "\u00a05s ",
            "\x1c5s",
            "{{ v }}\n",
            "{{ v }}",
            "50%",
            "50%\n",
            "",
            "Deploy",
            "a b",
            "rollback",
            "continue",
            "warn",
            1.0,
            1.5,
            0,
            -1,
            10**30,
            -(10**30),
            True,
            False,
            None,
            [],
            {},
            {"bogus": 1},
            ["a"],
        ]
    ),
    st.text(max_size=8),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
)


def nodes(value: Any, ptr: str = "") -> list[tuple[str, Any]]:
    found = [(ptr, value)]
    if isinstance(value, dict):
        for key, item in value.items():
            found += nodes(item, ptr + pointer(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += nodes(item, ptr + pointer(index))
    return found


def mutate(data: Any, ptr: str, how: str, value: Any) -> Any:
    data = copy.deepcopy(data)
    if not ptr:
        return value
    *parents, last = [part.replace("~1", "/").replace("~0", "~") for part in ptr[1:].split("/")]
    node = data
    for part in parents:
        node = node[int(part)] if isinstance(node, list) else node[part]
    key: Any = int(last) if isinstance(node, list) else last
    if how == "delete":
        del node[key]
    elif how == "add-key" and isinstance(node[key], dict):
        node[key]["extra" if not isinstance(value, str) or not value else value] = value
    else:
        node[key] = value
    return data


def agree(data: Any) -> bool:
    """The fast verdict, asserted equal to jsonschema's."""
    fast = schema._fast_valid(data)
    slow = not list(schema._validator().iter_errors(data))
    assert fast == slow, f"jsonschema-rs says valid={fast}, jsonschema says valid={slow}"
    return fast


def test_the_fast_path_is_in_use_for_the_composed_schema() -> None:
    assert schema._fast_validator() is not None
    assert VALID, "no valid runbook found to mutate"
    for path in VALID:
        assert agree(load_file(path).data), path


@pytest.mark.parametrize("path", VALID, ids=lambda p: str(p.relative_to(ROOT)))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_mutated_runbooks_get_the_same_verdict(path: Path, data: st.DataObject) -> None:
    original = load_file(path).data
    places = nodes(original)
    ptr, _ = data.draw(st.sampled_from(places))
    how = data.draw(st.sampled_from(["replace", "replace", "delete", "add-key"]))
    if how == "delete" and not ptr:
        how = "replace"
    agree(mutate(original, ptr, how, data.draw(TRICKY)))


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(runbooks(plausible), runbooks(sometimes_junk)))
def test_generated_runbooks_get_the_same_verdict(data: dict[str, Any]) -> None:
    try:
        doc: Document = load_text(yaml.safe_dump(data, sort_keys=False))
    except RunbookError:
        return
    agree(doc.data)


def test_patterns_are_judged_by_python_re() -> None:
    """Python's ``$`` matches before a final newline and its ``\\d`` takes any Unicode
    digit; jsonschema follows Python, so the fast path must too (both ways)."""
    base = load_file(ROOT / "runbooks" / "monthly-update.yaml").data
    step = base["phases"][0]["steps"][0]
    for step_id in ("deploy\n", "Deploy", "a b"):
        changed = copy.deepcopy(base)
        changed["phases"][0]["steps"][0] = {**step, "id": step_id}
        agree(changed)
