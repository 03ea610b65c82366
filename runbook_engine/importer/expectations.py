"""Expected-outcome phrases → predicates.

"✅ **Expected**: Checksum matches", "✅ All `failed=0`", an "Expected Output" sample:
each gives candidate predicates, most specific first. The importer keeps the first
candidate the step's executor can evaluate (the same static check lint runs), so a
phrase never becomes a predicate that would fail lint; a phrase with no candidate
stays a TODO carrying the original words.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: What a paragraph after a command is, by its first words or marker.
_EXPECTED = re.compile(r"^\s*(✅|✔️?|☑️?|expected\b|expect\b|expected (result|outcome)|result\s*:|should\b|verify that\b)", re.I)
_FAILURE = re.compile(r"^\s*(❌|✖️?|⛔|if (it|this) fails\b|on failure\b)", re.I)
_CAUTION = re.compile(r"^\s*(⚠️?|❗|🛑|note\b|important\b|critical\b|warning\b|caution\b)", re.I)
_TIP = re.compile(r"^\s*(💡|ℹ️?|tip\b|hint\b)", re.I)
_SAMPLE = re.compile(r"^\s*(expected|sample|typical)?\s*(output|result|response)\s*:?\s*$", re.I)
_EXAMPLE = re.compile(r"^\s*example\s+(output|result|response)\s*:?\s*$", re.I)
_MARKER = re.compile(r"^[\s✅✔☑️❌✖⛔⚠❗🛑💡ℹ]*(\*\*)?\s*(expected( output| result)?|result)?\s*(\*\*)?\s*:?\s*", re.I)

_RECAP_OK = re.compile(r"\bfailed\s*=\s*0\b", re.I)
_RECAP_BAD = re.compile(r"\bfailed\s*=\s*[1-9]", re.I)
_HTTP = re.compile(r"\b(?:HTTP(?:/[\d.]+)?|status(?: code)?)\s*(?:is\s*|=+\s*|:\s*)?([1-5]\d\d)\b", re.I)
_CHECKSUM = re.compile(r"\b(checksums?|sha\w*sums?|hash(es)?)\b.*\b(match(es)?|ok|verified|pass(es|ed)?|valid)\b", re.I)
_HOSTS_SHOW = re.compile(
    r"\b(?:all|every|each)\s+(?:hosts?|servers?|nodes?|machines?)\s+(?:should\s+)?"
    r"(?:shows?|reports?|returns?|prints?|displays?|outputs?|(?:are|is)\s+(?:at|on))\s+[`'\"]?([^\s`'\",;()]+)",
    re.I,
)
_RC_ZERO = re.compile(r"\b(exit(?:s)?\s*(?:code|status)?\s*(?:is\s*|of\s*|=+\s*)?0|rc\s*=+\s*0|returns?\s+0|exits?\s+(?:with\s+)?0|succeeds?|no errors?)\b", re.I)
_ROWS = re.compile(r"\b(non-?zero\s+count|count\s*>\s*0|rows?\s+returned|at\s+least\s+one\s+row|returns?\s+rows?)\b", re.I)
_NO_OUTPUT = re.compile(r"^\W*(no|empty)\s+output\W*$|^\W*(prints|returns)\s+nothing\W*$", re.I)
_QUOTED = re.compile(r"\"([^\"\n]{1,200})\"|“([^”\n]{1,200})”")
_ADHOC_LINE = re.compile(r"^\S+\s*\|\s*(CHANGED|SUCCESS|OK)\s*\|\s*rc=0\s*>>\s*$")
_ADHOC_BAD = re.compile(r"\|\s*(FAILED|UNREACHABLE)", re.I)


@dataclass(frozen=True)
class Expectation:
    """What a phrase asks of a step: ``candidates``, each a list of predicates joined
    with ``and`` (most specific first), ``rollback`` for "❌ … initiate rollback"."""

    text: str
    candidates: tuple[tuple[str, ...], ...]
    partial: bool = False


def kind_of(text: str) -> str:
    """``expected``, ``failure``, ``caution``, ``tip``, ``sample`` (an "Expected
    Output:" lead-in whose sample follows), ``example`` or ``prose``."""
    if _EXAMPLE.match(text):
        return "example"
    if _SAMPLE.match(_strip_markup(text)):
        return "sample"
    if _FAILURE.match(text):
        return "failure"
    if _EXPECTED.match(text):
        return "expected"
    if _CAUTION.match(text):
        return "caution"
    if _TIP.match(text):
        return "tip"
    return "prose"


def _strip_markup(text: str) -> str:
    return re.sub(r"[*_✅⚠️❌💡]", "", text).strip()


def phrase(text: str, codes: Sequence[str], literals: Mapping[str, str], fanout: bool) -> Expectation:
    """Candidates for an "Expected" phrase such as ``HTTP 200, {"status": "accepted"}``."""
    body = _MARKER.sub("", text, count=1).strip()
    parts: list[str] = []
    if _RECAP_OK.search(body) or any(_RECAP_OK.search(c) for c in codes):
        parts.append("all failed == 0")
    http = _HTTP.search(body)
    if http:
        parts.append(f"{_q(fanout)}status == {int(http.group(1))}")
    for code in codes:
        parts.extend(_json_parts(code, literals, fanout))
    if _CHECKSUM.search(body):
        parts.append("checksum matches")
    show = _HOSTS_SHOW.search(body)
    host_words: list[tuple[str, ...]] = []
    if show:
        word = show.group(1).strip(".")
        if word.upper() in ("SUCCESS", "OK", "CHANGED"):
            host_words = [("all failed == 0",), ("all rc == 0",)]
        elif word in literals:
            parts.append(f"all stdout == vars.{literals[word]}")
        elif word:
            parts.append(f"stdout contains {string_expr(word, literals)} on all hosts")
    json_spans = {c for c in codes if c.strip().startswith(("{", "["))}
    quoted = [q for q in _quoted(body) if q not in json_spans and not q.strip().startswith("{")]
    if not parts and not host_words and quoted:
        joiner = " or " if re.search(r"\"\s*(,\s*)?or\s+\"", body) else " and "
        ors = [f"stdout contains {string_expr(q, literals)}" for q in quoted]
        suffix = " on all hosts" if fanout else ""
        if joiner == " or ":
            parts.append("(" + joiner.join(ors) + ")" + suffix if fanout else joiner.join(ors))
        else:
            parts.extend(f"{o}{suffix}" for o in ors)
    if not parts and not host_words and _NO_OUTPUT.search(body):
        return Expectation(text, ((f'{_q(fanout)}stdout == ""',),))
    if not parts and not host_words and _ROWS.search(body):
        return Expectation(text, (("rows[0].count > 0",), ("rows returned",)))
    if not parts and not host_words and _RC_ZERO.search(body) and not quoted:
        return Expectation(text, ((f"{_q(fanout)}rc == 0",), ("all failed == 0",)))
    candidates: list[tuple[str, ...]] = []
    if parts:
        candidates.append(tuple(parts))
    candidates.extend(host_words)
    leftover = bool(re.search(r"\b(or only|unless|except|within|recent|if possible)\b", body, re.I))
    return Expectation(text, tuple(candidates), partial=leftover)


def output(sample: str, literals: Mapping[str, str], fanout: bool) -> Expectation:
    """Candidates for an "Expected Output" sample: an Ansible recap, ad-hoc host lines,
    or else its first line."""
    lines = [line.rstrip() for line in sample.splitlines() if line.strip()]
    text = "\n".join(lines)
    if not lines or _RECAP_BAD.search(text) or _ADHOC_BAD.search(text):
        return Expectation(text, ())
    if "PLAY RECAP" in text or _RECAP_OK.search(text):
        return Expectation(text, (("all failed == 0",),))
    if any(_ADHOC_LINE.match(line) for line in lines):
        values = [line.strip() for line in lines if not _ADHOC_LINE.match(line)]
        parts = ["all rc == 0"]
        if values and len(set(values)) == 1 and values[0] in literals:
            parts.append(f"all stdout == vars.{literals[values[0]]}")
        return Expectation(text, (tuple(parts), ("all rc == 0",)))
    first = lines[0].strip()
    if len(first) > 120 or first.startswith(("...", "…")):
        return Expectation(text, ())
    prefix = "" if not fanout else ""
    suffix = " on all hosts" if fanout else ""
    return Expectation(text, ((f"{prefix}stdout contains {string_expr(first, literals)}{suffix}",),))


def _q(fanout: bool) -> str:
    return "all " if fanout else ""


def _quoted(text: str) -> list[str]:
    return [a or b for a, b in _QUOTED.findall(text)]


def _json_parts(code: str, literals: Mapping[str, str], fanout: bool) -> list[str]:
    try:
        value: Any = json.loads(code)
    except ValueError:
        return []
    if not isinstance(value, dict):
        return []
    parts = []
    for key, item in value.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key):
            continue
        if isinstance(item, str):
            right = f"vars.{literals[item]}" if item in literals else string_expr(item, literals)
        elif isinstance(item, bool):
            right = "true" if item else "false"
        elif isinstance(item, int | float) and abs(item) < 1e15:
            right = repr(item)
        else:
            continue
        parts.append(f"{_q(fanout)}json.{key} == {right}")
    return parts


def literal(text: str) -> str:
    """``text`` as a predicate string literal."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def string_expr(text: str, literals: Mapping[str, str]) -> str:
    """A string expression for ``text`` in which each var literal reads the var, so
    "Migration v2.4.0: SUCCESS" checks the release being deployed."""
    if not literals:
        return literal(text)
    pattern = re.compile("|".join(re.escape(k) for k in sorted(literals, key=len, reverse=True)))
    pieces: list[str] = []
    position = 0
    for match in pattern.finditer(text):
        if match.start() > position:
            pieces.append(literal(text[position:match.start()]))
        pieces.append(f"vars.{literals[match.group(0)]}")
        position = match.end()
    if position < len(text):
        pieces.append(literal(text[position:]))
    return " + ".join(pieces) if pieces else literal(text)


def wants_rollback(text: str) -> bool:
    """A "❌ … initiate rollback" line: the step's failure starts the rollback."""
    return bool(re.search(r"\broll\s?-?back\b", text, re.I))
