"""Change-window guard: a run outside ``window.not_before``/``not_after`` (in the
runbook's time zone) is refused unless the operator says ``--outside-window``, which
the journal records."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from runbook_engine.errors import RunError
from runbook_engine.model import Window


def _parse(value: str, zone: ZoneInfo) -> datetime | time:
    text = value.strip()
    try:
        if len(text) <= 5 and ":" in text:
            hours, minutes = text.split(":")
            return time(int(hours), int(minutes))
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise RunError(f"window bound {value!r} is neither HH:MM nor an ISO date-time") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=zone)


def outside_window(window: Window, now: datetime) -> str | None:
    """Why ``now`` is outside the change window, or None when inside (or no window)."""
    if not window.not_before and not window.not_after:
        return None
    try:
        zone = ZoneInfo(window.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        raise RunError(
            f"window time zone {window.timezone!r} is unknown",
            hint="an IANA name such as Europe/Berlin",
        ) from None
    local = now.astimezone(zone)
    start = _parse(window.not_before, zone) if window.not_before else None
    end = _parse(window.not_after, zone) if window.not_after else None
    shown = f"{local:%Y-%m-%d %H:%M} {window.timezone}"
    if isinstance(start, time) or isinstance(end, time):
        clock = local.time().replace(second=0, microsecond=0)
        lo = start if isinstance(start, time) else time(0, 0)
        hi = end if isinstance(end, time) else time(23, 59)
        inside = lo <= clock <= hi if lo <= hi else (clock >= lo or clock <= hi)  # wraps midnight
        if not inside:
            return f"it is {shown}; the change window is {lo:%H:%M}–{hi:%H:%M}"
        return None
    if isinstance(start, datetime) and local < start:
        return f"it is {shown}; the change window opens {start.isoformat()}"
    if isinstance(end, datetime) and local > end:
        return f"it is {shown}; the change window closed {end.isoformat()}"
    return None
