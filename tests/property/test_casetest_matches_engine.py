"""For random executor results, the path `runbook test` reports (stubs, simulated
time) is the path the real engine journals when a test-only executor plugin returns
those same results: the stub layer changes where results come from, nothing else."""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Iterator
from importlib.metadata import EntryPoint
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from runbook_engine.casetest.cases import Case, StepStub, StubResult
from runbook_engine.casetest.runner import observe, run_case
from runbook_engine.engine import NullProgress, RunOptions, start_run
from runbook_engine.errors import Span
from runbook_engine.executors import registry
from runbook_engine.journal import Journal
from runbook_engine.loader import load_file
from runbook_engine.model import build_runbook
from runbook_engine.variables import resolve_vars


@pytest.fixture(scope="module", autouse=True)
def scripted_plugin() -> Iterator[None]:
    """Install the test-only plugin through the real entry-point registry."""
    sys.path.insert(0, str(Path(__file__).parent))
    original = registry.entry_points
    plugin = EntryPoint("scripted", "scripted_executor:ScriptedExecutor", registry.GROUP)
    extended = (*original(registry.GROUP), plugin)
    registry.entry_points = lambda group: extended if group == registry.GROUP else original(group)  # type: ignore[assignment]
    registry.executor_classes.cache_clear()
    yield
    registry.entry_points = original
    registry.executor_classes.cache_clear()
    sys.path.remove(str(Path(__file__).parent))


attempt = st.fixed_dictionaries({"ok": st.booleans(), "rc": st.sampled_from([0, 1, 2])})
step_strategy = st.fixed_dictionaries(
    {
        "results": st.lists(attempt, min_size=1, max_size=3),
        "retries": st.integers(0, 2),
        "on_failure": st.sampled_from(["abort", "continue", "rollback"]),
        "critical": st.booleans(),
        "expect": st.sampled_from([None, "rc == 0", "rc < 2"]),
        "when": st.sampled_from([None, "previous-succeeded", "previous-failed"]),
    }
)
decision_strategy = st.fixed_dictionaries(
    {"target": st.integers(0, 5), "action": st.sampled_from(["rollback", "abort", "warn"])}
)


def build(steps: list[dict[str, Any]], rollback: list[list[dict[str, Any]]], decisions: list[dict[str, Any]]) -> dict[str, Any]:
    phase_steps = []
    for index, raw in enumerate(steps):
        step: dict[str, Any] = {"id": f"s{index}", "scripted": {"results": raw["results"]}}
        if raw["retries"]:
            step.update(retries=raw["retries"], delay="0s")
        if raw["on_failure"] != "abort":
            step["on_failure"] = raw["on_failure"]
        if raw["critical"]:
            step["critical"] = True
        if raw["expect"]:
            step["expect"] = raw["expect"]
        if raw["when"] and index:
            status = "succeeded" if raw["when"] == "previous-succeeded" else "failed"
            step["when"] = f"steps.s{index - 1}.{status}"
        phase_steps.append(step)
    book: dict[str, Any] = {"runbook": 1, "name": "prop", "phases": [{"id": "main", "steps": phase_steps}]}
    if rollback:
        book["rollback"] = {"steps": [{"id": f"r{i}", "scripted": {"results": results}} for i, results in enumerate(rollback)]}
    book["decisions"] = [
        {"condition": f"d{i}", "when": f"failed(main.s{d['target'] % len(steps)})", "severity": "high", "action": d["action"]}
        for i, d in enumerate(decisions)
    ]
    return book


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(step_strategy, min_size=1, max_size=5),
    rollback=st.lists(st.lists(attempt, min_size=1, max_size=2), max_size=2),
    decisions=st.lists(decision_strategy, max_size=2),
)
def test_stubbed_path_equals_the_engine_path(
    steps: list[dict[str, Any]], rollback: list[list[dict[str, Any]]], decisions: list[dict[str, Any]]
) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        path = root / "prop.yaml"
        path.write_text(yaml.safe_dump(build(steps, rollback, decisions), sort_keys=False))
        runbook = build_runbook(load_file(path))

        summary = start_run(
            runbook,
            resolve_vars(runbook, {}, (), {}),
            RunOptions(runs_dir=root / "runs", initiator="prop", workdir=root),
            NullProgress(),
        )
        real = observe(Journal.open(root / "runs", summary.run_id).events())
        errors = [r.error or "" for r in real.finished]
        assert not any("crashed" in e or "no executor" in e for e in errors), errors  # the plugin ran

        stubs = {}
        for index, raw in enumerate(steps):
            stubs[f"s{index}"] = _stub(f"s{index}", raw["results"])
        for index, results in enumerate(rollback):
            stubs[f"r{index}"] = _stub(f"r{index}", results)
        case = Case(name="prop", path=str(path), span=Span(str(path), 1, 1), stubs=stubs)
        tested = run_case(runbook, case, root / "test")

        assert tested.missing_stubs == ()
        assert tested.path() == real.path(), json.dumps(build(steps, rollback, decisions))
        assert [d.condition for d in tested.decisions] == [d.condition for d in real.decisions]
        assert (tested.status, tested.exit_code) == (real.status, real.exit_code)
        assert dict(tested.attempts) == dict(real.attempts)


def _stub(step_id: str, results: list[dict[str, Any]]) -> StepStub:
    attempts = tuple(StubResult(ok=r["ok"], fields={"rc": r["rc"]}, error=None if r["ok"] else "scripted failure") for r in results)
    return StepStub(step_id, attempts, Span("<case>", 1, 1))
