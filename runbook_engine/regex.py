"""The one regular-expression engine for patterns authors write: predicate
``matches`` and var ``pattern:``.

Python's ``re`` backtracks: ``(a+)+$`` against a long ``aaaa…!`` froze the runner for
minutes, beyond the step timeout and SIGTERM. RE2 (google-re2) matches in time linear
in the text, whatever the pattern, by refusing the constructs that need backtracking:
backreferences, lookahead and lookbehind, atomic groups, possessive quantifiers. Lint
reports those with their position (``RegexError.pos``).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

#: Flags a predicate regex may carry after its closing slash.
FLAGS = {"i": "i", "m": "m", "s": "s"}
#: Why RE2 refuses a construct, by how it starts, for the hint.
_UNSUPPORTED = (
    ("(?=", "lookahead"),
    ("(?!", "negative lookahead"),
    ("(?<=", "lookbehind"),
    ("(?<!", "negative lookbehind"),
    ("(?>", "atomic groups"),
    ("(?P=", "backreferences"),
    ("\\Z", "\\Z (write \\z)"),
)
HINT = "patterns use RE2 syntax (linear time): no backreferences, lookaround, atomic groups or possessive quantifiers"


class RegexError(ValueError):
    """A pattern RE2 cannot compile; ``pos`` is its offset in the pattern, if known."""

    def __init__(self, message: str, pos: int | None) -> None:
        super().__init__(message)
        self.msg = message
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Pattern:
    """A compiled pattern; ``search`` and ``fullmatch`` as with ``re``."""

    source: str
    flags: str
    compiled: Any

    def search(self, text: str) -> bool:
        """A match anywhere; ``$`` also matches before a final newline, as in Python
        (so ``stdout matches /OK$/`` holds for ``"…: OK\\n"``)."""
        if self.compiled.search(text) is not None:
            return True
        return text.endswith("\n") and self.compiled.search(text[:-1]) is not None

    def fullmatch(self, text: str) -> bool:
        return self.compiled.fullmatch(text) is not None


@lru_cache(maxsize=512)
def compile_pattern(source: str, flags: str = "") -> Pattern:
    """``source`` compiled by RE2 with ``flags`` (any of ``i``, ``m``, ``s``)."""
    import re2

    options = re2.Options()
    options.log_errors = False
    prefix = f"(?{''.join(sorted(set(flags)))})" if flags else ""
    try:
        compiled = re2.compile(prefix + source, options)
    except re2.error as exc:
        raise _explain(source, exc) from None
    return Pattern(source, flags, compiled)


def _explain(source: str, exc: Exception) -> RegexError:
    raw = exc.args[0] if exc.args else str(exc)
    message = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    for start, name in _UNSUPPORTED:
        pos = source.find(start)
        if pos >= 0:
            return RegexError(f"RE2 does not support {name}", pos)
    backreference = next((i for i in range(len(source) - 1) if source[i] == "\\" and source[i + 1] in "123456789"), None)
    if backreference is not None:
        return RegexError("RE2 does not support backreferences", backreference)
    if message.startswith("missing )"):
        return RegexError("missing ) for this (", _unclosed(source))
    fragment = message.rpartition(": ")[2]
    pos = source.find(fragment) if fragment else -1
    return RegexError(message, pos if pos >= 0 else None)


def _unclosed(source: str) -> int | None:
    """Offset of the first ``(`` that is never closed."""
    opened: list[int] = []
    escaped = in_class = False
    for i, char in enumerate(source):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            opened.append(i)
        elif char == ")" and opened:
            opened.pop()
    return opened[0] if opened else None
