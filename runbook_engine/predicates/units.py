"""Duration and size literals: exact arithmetic so that printing and parsing agree.

Values go through ``Fraction`` so ``1h30m`` is exactly 5400 seconds and the canonical
text printed for a value always parses back to the very same float.
"""

from __future__ import annotations

from fractions import Fraction

DURATION_UNITS: dict[str, int] = {
    "w": 604_800_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1_000,
    "ms": 1,
}
"""Milliseconds per unit, largest first (the printer's order)."""

SIZE_UNITS: dict[str, int] = {
    "B": 1,
    "KB": 1000,
    "MB": 1000**2,
    "GB": 1000**3,
    "TB": 1000**4,
    "PB": 1000**5,
    "KiB": 1024,
    "MiB": 1024**2,
    "GiB": 1024**3,
    "TiB": 1024**4,
    "PiB": 1024**5,
}


def duration_seconds(parts: list[tuple[str, str]]) -> float:
    """Seconds for ``[("1", "h"), ("30", "m")]``."""
    total = sum((Fraction(number) * DURATION_UNITS[unit] for number, unit in parts), Fraction(0))
    return float(total / 1000)


def size_bytes(number: str, unit: str) -> int:
    return round(Fraction(number) * SIZE_UNITS[unit])


def format_duration(seconds: float) -> str:
    """Canonical text: ``1h30m``, ``500ms``; values that are not whole milliseconds
    fall back to a plain count of seconds such as ``1e-05s``."""
    if seconds < 0:
        return "-" + format_duration(-seconds)
    millis = round(Fraction(seconds) * 1000)
    if float(Fraction(millis, 1000)) != seconds:
        return f"{seconds!r}s"
    if millis == 0:
        return "0s"
    out = []
    for unit, size in DURATION_UNITS.items():
        count, millis = divmod(millis, size)
        if count:
            out.append(f"{count}{unit}")
    return "".join(out)


def format_size(count: int) -> str:
    """Canonical text: the unit that gives the smallest whole number (``512MiB``)."""
    if count < 0:
        return "-" + format_size(-count)
    best = f"{count}B"
    best_value = count
    for unit, size in SIZE_UNITS.items():
        if count % size == 0 and count // size < best_value:
            best, best_value = f"{count // size}{unit}", count // size
    return best
