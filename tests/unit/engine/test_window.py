"""Change-window guard in the runbook's time zone."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from runbook_engine.engine.window import outside_window
from runbook_engine.errors import RunError
from runbook_engine.model import Window


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 3, 1, hour, minute, tzinfo=UTC)


def test_no_window_means_always_inside() -> None:
    assert outside_window(Window(), at(12)) is None


def test_daily_window_in_its_time_zone() -> None:
    window = Window(not_before="02:00", not_after="04:00", timezone="America/Los_Angeles")
    assert outside_window(window, at(11)) is None  # 03:00 PST
    reason = outside_window(window, at(20))
    assert reason is not None and "12:00 America/Los_Angeles" in reason


def test_window_across_midnight() -> None:
    window = Window(not_before="22:00", not_after="02:00")
    assert outside_window(window, at(23)) is None
    assert outside_window(window, at(1, 30)) is None
    assert outside_window(window, at(12)) is not None


def test_absolute_window() -> None:
    window = Window(not_before="2026-03-01T10:00:00+00:00", not_after="2026-03-01T12:00:00Z")
    assert outside_window(window, at(11)) is None
    assert "opens" in (outside_window(window, at(9)) or "")
    assert "closed" in (outside_window(window, at(13)) or "")


def test_bad_window_values_are_clear_errors() -> None:
    with pytest.raises(RunError, match="time zone"):
        outside_window(Window(not_before="02:00", timezone="Mars/Olympus"), at(1))
    with pytest.raises(RunError, match="neither HH:MM"):
        outside_window(Window(not_before="tomorrow"), at(1))
