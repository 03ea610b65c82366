"""Monitor samples are shown in the units an operator reads, without bulky fields."""

from __future__ import annotations

from runbook_engine.executors.monitor import format_sample


def test_latency_in_milliseconds_and_text_left_out() -> None:
    sample = {
        "status": 200,
        "latency": 0.012616597000032925,
        "url": "http://127.0.0.1:1/v1/health",
        "text": "x" * 500,
        "failed": 0,
        "ok": True,
        "at": 0.013,
        "json": {"status": "healthy"},
    }
    assert format_sample(sample) == "status=200 latency=13ms failed=0 ok=True"


def test_other_floats_are_rounded() -> None:
    assert format_sample({"queue_depth": 12.345678, "duration": 2.5}) == "queue_depth=12.3 duration=2.5s"
