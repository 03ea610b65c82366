"""The executor that docs/plugins.md shows really works and really fits in 50 lines."""

from __future__ import annotations

import asyncio
import re
import types
from pathlib import Path

import pytest

from runbook_engine.executors.base import Executor, StepCall
from runbook_engine.testing import make_call

DOC = Path(__file__).parents[3] / "docs" / "plugins.md"


@pytest.fixture(scope="module")
def example() -> types.ModuleType:
    source = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)[0]
    assert len(source.splitlines()) < 50
    module = types.ModuleType("disk_free_example")
    exec(compile(source, str(DOC), "exec"), module.__dict__)
    return module


def test_documented_executor_follows_the_protocol(example: types.ModuleType) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    executor = example.DiskFreeExecutor()
    assert isinstance(executor, Executor)
    jsonschema.Draft202012Validator.check_schema(executor.schema)


def test_documented_executor_runs(example: types.ModuleType, tmp_path: Path) -> None:
    call = make_call({"path": "{{ where }}"}, values={"where": str(tmp_path)})
    result = asyncio.run(example.DiskFreeExecutor().run(call))
    assert result.ok
    assert 0 < result.fields["free_gb"] <= result.fields["total_gb"]
    missing = asyncio.run(
        example.DiskFreeExecutor().run(StepCall("s", {"path": str(tmp_path / "nope")}))
    )
    assert not missing.ok and "cannot read" in (missing.error or "")


def test_the_whole_contract_is_documented() -> None:
    """Every field of StepCall, StepServices and Result and every optional class
    attribute is named in docs/plugins.md."""
    import dataclasses

    from runbook_engine.executors.base import ExecutorBase, Result, StepServices

    text = DOC.read_text(encoding="utf-8")
    names = [f.name for cls in (StepCall, StepServices, Result) for f in dataclasses.fields(cls)]
    names += [n for n, v in vars(ExecutorBase).items() if not n.startswith("_") and not callable(v)]
    missing = [n for n in names if f"`{n}" not in text]
    assert not missing, f"docs/plugins.md does not document {missing}"
