"""Tokenizer for predicates.

Hand-written because three things depend on context that a generic lexer does not
know: ``/`` starts a regex only where a value is expected (elsewhere it divides);
after a ``.`` a path segment may contain ``-`` (``steps.record-versions.stdout``);
and the argument of ``failed(…)`` and its siblings is a raw glob (``verify.smoke-*``).
Named-check phrases (``checksum matches``) are recognised here too, where a value
may start, so their words never reach the parser as keywords.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from functools import lru_cache
from typing import Any, NamedTuple

from runbook_engine.errors import PredicateError
from runbook_engine.predicates.units import DURATION_UNITS, SIZE_UNITS, duration_seconds, size_bytes
from runbook_engine.regex import FLAGS as REGEX_FLAGS
from runbook_engine.regex import HINT, RegexError, compile_pattern

KEYWORDS = frozenset(
    {
        "and",
        "or",
        "not",
        "in",
        "contains",
        "matches",
        "startswith",
        "endswith",
        "true",
        "false",
        "null",
        "all",
        "any",
        "none",
        "on",
        "where",
    }
)
STEP_FUNCTIONS = frozenset({"failed", "succeeded", "skipped", "any_host_failed"})
MAX_LENGTH = 10_000

# Token kinds
NUM, DUR, SIZE, STR, REGEX, NAME, KW, OP, GLOB, CHECK, EOF = (
    "number",
    "duration",
    "size",
    "string",
    "regex",
    "name",
    "keyword",
    "operator",
    "glob",
    "check",
    "end",
)


class Token(NamedTuple):
    kind: str
    value: Any
    offset: int
    length: int


_SPACE = re.compile(r"\s*")
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_UNIT = re.compile(r"[A-Za-z]+")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SEGMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z0-9_]+)*")
_GLOB = re.compile(r"[A-Za-z0-9_.*?!\[\]-]+")
_OPERATOR = re.compile(r"===|==|!=|<=|>=|=>|=<|<>|&&|\|\||[=<>!&|+\-*/()\[\],.]")
_FLAGS = re.compile(r"[A-Za-z]*")


_MISTAKES = {
    "===": '"=="',
    "=>": '">="',
    "=<": '"<="',
    "<>": '"!="',
    "&&": '"and"',
    "&": '"and"',
    "||": '"or"',
    "|": '"or"',
    "!": '"not" or "!="',
}
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "/": "/", "0": "\0"}

# After these tokens a value is expected: `/` opens a regex, a check phrase may start.
_VALUE_FOLLOWS_KW = KEYWORDS - {"true", "false", "null"}
_VALUE_FOLLOWS_OP = frozenset(
    {"(", "[", ",", "==", "=", "!=", "<", "<=", ">", ">=", "+", "-", "*", "/"}
)


@lru_cache(maxsize=256)
def _phrase_pattern(phrases: tuple[str, ...]) -> re.Pattern[str] | None:
    words = [phrase.split() for phrase in phrases]
    words = sorted((w for w in words if w), key=lambda w: (-len(w), -len(" ".join(w))))
    if not words:
        return None
    alternatives = "|".join(r"\s+".join(re.escape(word) for word in w) for w in words)
    return re.compile(rf"(?:{alternatives})(?![A-Za-z0-9_-])")


def _error(
    source: str, message: str, offset: int, length: int = 1, hint: str | None = None
) -> PredicateError:
    return PredicateError(message, offset=offset, length=length, source=source, hint=hint)


def tokenize(source: str, checks: Iterable[str] = ()) -> list[Token]:
    """The tokens of ``source``, ending with an EOF token; raises PredicateError."""
    if len(source) > MAX_LENGTH:
        raise _error(
            source,
            f"predicate is too long ({len(source)} characters, at most {MAX_LENGTH})",
            MAX_LENGTH,
        )
    phrases = _phrase_pattern(tuple(sorted(set(checks)))) if checks else None
    tokens: list[Token] = []
    pos = 0
    end = len(source)
    while True:
        pos = _SPACE.match(source, pos).end()  # type: ignore[union-attr]
        if pos >= end:
            tokens.append(Token(EOF, None, end, 0))
            return tokens
        prev = tokens[-1] if tokens else None
        char = source[pos]
        if phrases is not None and _value_expected(prev):
            found = phrases.match(source, pos)
            if found and (pos == 0 or not (source[pos - 1].isalnum() or source[pos - 1] == "_")):
                phrase = " ".join(found.group().split())
                tokens.append(Token(CHECK, phrase, pos, found.end() - pos))
                pos = found.end()
                continue
        if prev is not None and prev.kind == OP and prev.value == ".":
            found = _SEGMENT.match(source, pos)
            if found is None:
                raise _error(
                    source,
                    'expected a field name after "."',
                    pos,
                    hint='use brackets for other keys: json["0"], rows[0]',
                )
            tokens.append(Token(NAME, found.group(), pos, found.end() - pos))
            pos = found.end()
            continue
        if _is_glob_argument(tokens):
            token, pos = _glob(source, pos)
            tokens.append(token)
            continue
        if "0" <= char <= "9":
            token, pos = _number(source, pos)
            tokens.append(token)
            continue
        found = _NAME.match(source, pos)
        if found is not None:
            word = found.group()
            kind = KW if word in KEYWORDS else NAME
            tokens.append(Token(kind, word, pos, len(word)))
            pos = found.end()
            continue
        if char in "\"'":
            token, pos = _string(source, pos)
            tokens.append(token)
            continue
        if char == "/" and _value_expected(prev):
            token, pos = _regex(source, pos)
            tokens.append(token)
            continue
        found = _OPERATOR.match(source, pos)
        if found is None:
            raise _error(source, f"unexpected character {char!r}", pos, hint=_character_hint(char))
        text = found.group()
        if text == "!" and source.startswith("!=", pos):
            text = "!="
        if text in _MISTAKES:
            raise _error(
                source,
                f'unknown operator "{text}"',
                pos,
                len(text),
                hint=f"did you mean {_MISTAKES[text]}?",
            )
        tokens.append(Token(OP, text, pos, len(text)))
        pos += len(text)


def _value_expected(prev: Token | None) -> bool:
    """Whether a value may start here (so ``/`` opens a regex, a phrase may start)."""
    return (
        prev is None
        or (prev.kind == KW and prev.value in _VALUE_FOLLOWS_KW)
        or (prev.kind == OP and prev.value in _VALUE_FOLLOWS_OP)
    )


def _character_hint(char: str) -> str | None:
    if char in "{}":
        return "predicates are not Jinja templates: write vars.version, not {{ version }}"
    if char == "`":
        return 'quote text with "double quotes"'
    if char == "%":
        return "write percentages as numbers, e.g. error_rate > 0.05"
    return None


def _is_glob_argument(tokens: list[Token]) -> bool:
    """True right after ``failed(`` (and its siblings) when they are not a path segment."""
    if len(tokens) < 2:
        return False
    paren, name = tokens[-1], tokens[-2]
    if not (paren.kind == OP and paren.value == "(" and name.kind == NAME):
        return False
    if name.value not in STEP_FUNCTIONS:
        return False
    return not (len(tokens) >= 3 and tokens[-3].kind == OP and tokens[-3].value == ".")


def _glob(source: str, pos: int) -> tuple[Token, int]:
    if source[pos] in "\"'":
        token, end = _string(source, pos)
        return Token(GLOB, token.value, token.offset, token.length), end
    found = _GLOB.match(source, pos)
    if found is None:
        raise _error(
            source,
            "expected a step id or glob such as verify.smoke-*",
            pos,
            hint='quote unusual names: failed("my step")',
        )
    return Token(GLOB, found.group(), pos, found.end() - pos), found.end()


def _number(source: str, pos: int) -> tuple[Token, int]:
    start = pos
    found = _NUMBER.match(source, pos)
    assert found is not None
    text = found.group()
    pos = found.end()
    _check_magnitude(source, text, start)
    unit_match = _UNIT.match(source, pos)
    if unit_match is None:
        if pos < len(source) and (source[pos] == "_" or "0" <= source[pos] <= "9"):
            raise _error(
                source, f'malformed number "{source[start : pos + 1]}"', start, pos + 1 - start
            )
        value: int | float = float(text) if any(c in text for c in ".eE") else int(text)
        return Token(NUM, value, start, pos - start), pos
    unit = unit_match.group()
    if unit in SIZE_UNITS:
        pos = unit_match.end()
        _no_trailing_name(source, start, pos)
        return Token(SIZE, size_bytes(text, unit), start, pos - start), pos
    parts: list[tuple[str, str]] = []
    while True:
        if unit not in DURATION_UNITS:
            raise _error(
                source,
                f'unknown unit "{unit}" in "{source[start : unit_match.end()]}"',
                unit_match.start(),
                len(unit),
                hint="durations: "
                + " ".join(reversed(DURATION_UNITS))
                + "; sizes: "
                + " ".join(SIZE_UNITS),
            )
        parts.append((text, unit))
        pos = unit_match.end()
        found = _NUMBER.match(source, pos)
        if found is None:
            break
        text = found.group()
        _check_magnitude(source, text, found.start())
        unit_match = _UNIT.match(source, found.end())
        if unit_match is None:
            raise _error(
                source,
                f'"{text}" in a duration needs a unit',
                found.start(),
                len(text),
                hint="write 1h30m, not 1h30",
            )
        unit = unit_match.group()
    _no_trailing_name(source, start, pos)
    try:
        seconds = duration_seconds(parts)
    except OverflowError:
        raise _too_large(source, source[start:pos], start) from None
    return Token(DUR, seconds, start, pos - start), pos


#: Longest number a predicate may write: an integer of 4300 digits is more than
#: Python reads, and no real comparison needs more than a few.
MAX_DIGITS = 100
#: Numbers stay below 1e{MAX_EXPONENT}: larger floats are infinite.
MAX_EXPONENT = 308


def _too_large(source: str, text: str, start: int) -> PredicateError:
    return _error(
        source,
        f'number "{text[:20]}{"…" if len(text) > 20 else ""}" is too large',
        start,
        len(text),
        hint=f"numbers have at most {MAX_DIGITS} digits and stay below 1e{MAX_EXPONENT}",
    )


def _check_magnitude(source: str, text: str, start: int) -> None:
    mantissa, _, exponent = text.lower().partition("e")
    if len(mantissa) > MAX_DIGITS or len(exponent.lstrip("+-")) > 3 or not math.isfinite(float(text)):
        raise _too_large(source, text, start)


def _no_trailing_name(source: str, start: int, pos: int) -> None:
    if pos < len(source) and (source[pos].isalnum() or source[pos] == "_"):
        raise _error(
            source, f'malformed literal "{source[start : pos + 1]}"', start, pos + 1 - start
        )


def _string(source: str, pos: int) -> tuple[Token, int]:
    quote = source[pos]
    start = pos
    pos += 1
    out: list[str] = []
    end = len(source)
    while pos < end:
        char = source[pos]
        if char == quote:
            return Token(STR, "".join(out), start, pos + 1 - start), pos + 1
        if char == "\\":
            if pos + 1 >= end:
                break
            escaped = source[pos + 1]
            if escaped in _ESCAPES:
                out.append(_ESCAPES[escaped])
                pos += 2
                continue
            if escaped == "u" and re.fullmatch(r"[0-9a-fA-F]{4}", source[pos + 2 : pos + 6]):
                out.append(chr(int(source[pos + 2 : pos + 6], 16)))
                pos += 6
                continue
            raise _error(
                source,
                f'unknown escape "\\{escaped}" in a string',
                pos,
                2,
                hint=r"escapes: \" \' \\ \n \t \r \uXXXX; for regular expressions use /…/",
            )
        out.append(char)
        pos += 1
    raise _error(source, "unterminated string", start, end - start, hint=f"add the closing {quote}")


def _regex(source: str, pos: int) -> tuple[Token, int]:
    start = pos
    pos += 1
    out: list[str] = []
    end = len(source)
    while pos < end:
        char = source[pos]
        if char == "/":
            pattern = "".join(out)
            pos += 1
            flags_match = _FLAGS.match(source, pos)
            assert flags_match is not None
            flags = flags_match.group()
            for index, flag in enumerate(flags):
                if flag not in REGEX_FLAGS or flag in flags[:index]:
                    raise _error(
                        source,
                        f'unknown regular-expression flag "{flag}"',
                        pos + index,
                        hint="flags: i (ignore case), m (multi-line), s (dot matches newline)",
                    )
            pos = flags_match.end()
            try:
                compile_pattern(pattern, flags)
            except RegexError as exc:
                at = start + 1 + (exc.pos or 0)
                raise _error(
                    source, f"invalid regular expression: {exc.msg}", min(at, pos - 1), hint=HINT
                ) from None
            except (OverflowError, RecursionError, ValueError) as exc:
                raise _error(
                    source, f"invalid regular expression: {exc}", start, pos - start
                ) from None
            return Token(REGEX, (pattern, flags), start, pos - start), pos
        if char == "\\" and pos + 1 < end:
            if source[pos + 1] == "/":
                out.append("/")
            else:
                out.append(source[pos : pos + 2])
            pos += 2
            continue
        out.append(char)
        pos += 1
    raise _error(
        source, "unterminated regular expression", start, end - start, hint="add the closing /"
    )
