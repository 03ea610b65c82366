"""``runbook test --from-run RUN``: a real run's journal as a test case — every
executor result becomes a stub, the path the run took becomes the assertions — so an
incident becomes a regression test in one command."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from runbook_engine.casetest.cases import stubbable_steps
from runbook_engine.casetest.runner import observe
from runbook_engine.journal.events import RunStarted, StepFinished, decode_all
from runbook_engine.model import Runbook
from runbook_engine.redaction import MASK

#: Executors whose steps need no stub in a case (see casetest.stubs).
_NO_STUB = frozenset({"manual", "notify", "wait"})


def case_from_run(
    events: Sequence[Mapping[str, Any]],
    runbook: Runbook,
    *,
    name: str,
    inventory: str | None,
    cases_dir: Path,
) -> str:
    """The YAML text of a cases file with one case that replays ``events``."""
    steps = stubbable_steps(runbook)
    seen = observe(events)
    stubs: dict[str, Any] = {}
    for line in decode_all(events, StepFinished):
        finished = line.event
        if not isinstance(finished, StepFinished) or finished.status == "rolled_back":
            continue
        step = steps.get(finished.step)
        result = finished.result
        if step is None or step.executor in _NO_STUB or not isinstance(result, Mapping):
            continue
        stub = _stub(step.executor, result)
        attempt = finished.attempt or 1
        if attempt > 1:
            # only the last attempt's result is journaled: earlier ones failed
            earlier = {"ok": False, "error": "earlier attempt (its result is not in the journal)"}
            stubs[step.id] = {"attempts": [earlier] * (attempt - 1) + [stub]}
        else:
            stubs[step.id] = stub
    vars_: dict[str, Any] = {}
    for line in decode_all(events, RunStarted):
        if isinstance(line.event, RunStarted):
            vars_ = {
                k: v for k, v in (line.event.vars or {}).items()
                if v != MASK and k in runbook.vars and v != runbook.vars[k].default
            }  # fmt: skip
    expect: dict[str, Any] = {"status": seen.status}
    if seen.exit_code is not None:
        expect["exit_code"] = seen.exit_code
    expect["path"] = seen.path()
    expect["decisions"] = [
        {"condition": d.condition, **({"step": d.step} if d.step else {})} for d in seen.decisions
    ]
    case: dict[str, Any] = {"name": name}
    if vars_:
        case["vars"] = vars_
    if inventory:
        case["inventory"] = os.path.relpath(Path(inventory).resolve(), cases_dir.resolve())
    case["stubs"] = stubs
    case["expect"] = expect
    document = {
        "runbook-test": 1,
        "runbook": os.path.relpath(Path(runbook.path).resolve(), cases_dir.resolve()),
        "cases": [case],
    }
    schema = os.path.relpath(_schema_path(), cases_dir.resolve())
    header = (
        f"# yaml-language-server: $schema={schema}\n"
        f"# Made by `runbook test --from-run` from run {name}: each step's journaled result is\n"
        "# its stub, the path the run took is what the case expects. Secret vars were not\n"
        "# journaled: give them under env: or vars: if the runbook needs them.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _stub(executor: str, result: Mapping[str, Any]) -> dict[str, Any]:
    fields = dict(result.get("fields") or {})
    stub: dict[str, Any] = {"ok": bool(result.get("ok"))}
    if executor == "monitor":
        samples = [
            {k: v for k, v in sample.items() if k != "at"}
            for sample in fields.get("samples") or []
            if isinstance(sample, Mapping)
        ]
        stub["samples"] = samples or [{}]
        return stub
    if fields:
        stub["fields"] = fields
    hosts = result.get("hosts") or {}
    if hosts:
        stub["hosts"] = {str(h): dict(f) for h, f in hosts.items()}
    if result.get("error"):
        stub["error"] = result["error"]
    return stub


def _schema_path() -> Path:
    """The committed schema of the case format (schemas/ at the project root when
    running from a checkout, else the packaged copy)."""
    package = Path(__file__).resolve().parents[1]
    checkout = package.parent / "schemas" / "runbook-test.schema.json"
    return checkout if checkout.is_file() else package / "schemas" / "runbook-test.schema.json"
