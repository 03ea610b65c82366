"""Monitor summaries (trend, extremes) and manual gate parsing and checking."""

from __future__ import annotations

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.monitor import summarize, trend
from runbook_engine.gates import OperatorAnswer, check_answer, parse_gate


def test_summary_of_samples() -> None:
    samples = [
        {"at": 0.0, "latency": 10, "ok": True},
        {"at": 10.0, "latency": 30, "ok": True},
        {"at": 20.0, "latency": 50, "ok": True},
    ]
    summary = summarize(samples)
    assert summary["first"]["latency"] == 10 and summary["last"]["latency"] == 50
    assert summary["max"]["latency"] == 50 and summary["min"]["latency"] == 10
    assert summary["trend"]["latency"] == pytest.approx(2.0)
    assert "ok" not in summary["max"]  # booleans are not numbers here


def test_trend_of_a_single_sample_is_flat() -> None:
    assert trend([{"at": 0.0, "latency": 10}]) == {"latency": 0.0}


def test_gate_from_text_and_mapping() -> None:
    assert parse_gate("Backup verified").allow_yes
    gate = parse_gate(
        {
            "prompt": "Approve",
            "approvers": ["dba-1"],
            "inputs": {"ticket": {"pattern": "CHG-[0-9]+"}},
        }
    )
    assert gate.approval and not gate.allow_yes
    assert check_answer(
        gate, OperatorAnswer(by="dba-1", at="", inputs={"ticket": "CHG-9"}), "alice"
    ) == ({"ticket": "CHG-9"}, None)
    assert "not an approver" in (
        check_answer(gate, OperatorAnswer(by="bob", at="", inputs={"ticket": "CHG-9"}), "alice")[1]
        or ""
    )
    assert "required" in (check_answer(gate, OperatorAnswer(by="dba-1", at=""), "alice")[1] or "")


def test_typed_inputs() -> None:
    gate = parse_gate(
        {"prompt": "Go", "inputs": {"hosts": {"type": "int"}, "ok": {"type": "bool"}}}
    )
    values, refused = check_answer(
        gate, OperatorAnswer(by="a", at="", inputs={"hosts": "3", "ok": "yes"}), "x"
    )
    assert (values, refused) == ({"hosts": 3, "ok": True}, None)
    assert "hosts" in (
        check_answer(
            gate, OperatorAnswer(by="a", at="", inputs={"hosts": "three", "ok": "no"}), "x"
        )[1]
        or ""
    )


def test_bad_gates_are_clear_errors() -> None:
    with pytest.raises(ExecutorError, match="on_timeout"):
        parse_gate({"prompt": "x", "on_timeout": "explode"})
    with pytest.raises(ExecutorError, match="prompt"):
        parse_gate({"approvers": ["x"]})
