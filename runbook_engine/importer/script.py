"""A shell fence → comments and logical commands, in order.

A logical command is what the shell would read as one: lines joined by a trailing
backslash, a quoted argument spanning lines (``ansible … -a "`` … ``"``), a here
document up to its terminator. ``shlex`` decides when a command is complete, so the
importer never guesses at quoting.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

#: Shell operators that make a line more than one simple command.
_OPERATORS = frozenset({"&&", "||", "|", ";", "&", ">", ">>", "<", "<<", "|&", ";;", "<<<", ">&", "2>", "&>"})
_HEREDOC = re.compile(r"<<-?\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)['\"]?")
_PROMPT = re.compile(r"^(\$|#|>)\s+(?=\S)")


@dataclass(frozen=True)
class Comment:
    text: str
    line: int


@dataclass(frozen=True)
class Command:
    """One logical command. ``argv`` is None when it does not split (unbalanced
    quotes); ``compound`` when it holds operators such as ``&&`` or ``|`` (a
    ``$(…)`` inside an argument is the recognizer's business)."""

    text: str
    argv: tuple[str, ...] | None
    compound: bool
    line: int

    @property
    def program(self) -> str:
        return self.argv[0].rsplit("/", 1)[-1] if self.argv else ""


ScriptItem = Comment | Command


def split_script(code: str, first_line: int = 1) -> list[ScriptItem]:
    """Comments and commands of a shell fence, with their line numbers."""
    items: list[ScriptItem] = []
    pending: str | None = None
    start = first_line
    heredoc: str | None = None
    for offset, raw in enumerate(code.split("\n")):
        line = raw.rstrip()
        number = first_line + offset
        if heredoc is not None and pending is not None:
            pending += "\n" + line
            if line.strip() == heredoc:
                items.append(parse_command(pending, start))
                pending, heredoc = None, None
            continue
        if pending is None:
            stripped = line.strip()
            if not stripped:
                continue
            if stripped.startswith("#") and not stripped.startswith("#!"):
                items.append(Comment(stripped.lstrip("#").strip(), number))
                continue
            start, pending = number, _PROMPT.sub("", stripped)
        elif _balanced(pending):
            pending += " " + line.strip()  # the previous line ended with a backslash
        else:
            pending += "\n" + line  # inside a quoted argument: the line break is part of it
        if pending.endswith("\\") and not pending.endswith("\\\\"):
            pending = pending[:-1].rstrip()
            continue
        if not _balanced(pending):
            continue
        match = _HEREDOC.search(_unquoted(pending))
        if match:
            heredoc = match.group(1)
            continue
        items.append(parse_command(pending, start))
        pending = None
    if pending is not None:
        items.append(parse_command(pending, start))
    return items


_QUOTED = re.compile(r"'[^']*'|\"(?:\\.|[^\"\\])*\"|\\.", re.S)


def _balanced(text: str) -> bool:
    """Whether every quote in ``text`` is closed (what ``shlex`` would accept), in
    one regular-expression pass: a fence is re-checked at every line it grows."""
    rest = _QUOTED.sub("", text)
    return "'" not in rest and '"' not in rest


def parse_command(text: str, line: int) -> Command:
    """``text`` as one command; a ``$(…)`` counts as part of the word it is in, as the
    shell reads it (``shlex`` alone would split it at its spaces)."""
    protected, substitutions = _protect(text)
    try:
        words = shlex.split(protected, comments=True)
    except ValueError:
        return Command(text, None, True, line)
    argv = tuple(_restore(word, substitutions) for word in words)
    return Command(text, argv or None, _compound(protected), line)


def _protect(text: str) -> tuple[str, list[str]]:
    """``text`` with each ``$(…)`` outside single quotes replaced by a placeholder."""
    out: list[str] = []
    found: list[str] = []
    position, quote = 0, ""
    while position < len(text):
        char = text[position]
        if quote == "'":
            quote = "" if char == "'" else quote
        elif char == "'" and not quote:
            quote = "'"
        elif char == '"':
            quote = "" if quote == '"' else '"'
        elif char == "\\" and position + 1 < len(text):
            out.append(text[position : position + 2])
            position += 2
            continue
        elif text.startswith("$(", position):
            end = _closing(text, position + 2)
            if end is not None:
                found.append(text[position : end + 1])
                out.append(f"\x00{len(found) - 1}\x00")
                position = end + 1
                continue
        out.append(char)
        position += 1
    return "".join(out), found


def _closing(text: str, start: int) -> int | None:
    depth = 1
    for index in range(start, len(text)):
        if text[index] == "(":
            depth += 1
        elif text[index] == ")":
            depth -= 1
            if depth == 0:
                return index
    return None


def _restore(word: str, substitutions: list[str]) -> str:
    return re.sub("\x00(\\d+)\x00", lambda m: substitutions[int(m.group(1))], word) if substitutions else word


def _compound(text: str) -> bool:
    lexer = shlex.shlex(text, posix=True, punctuation_chars=True)
    lexer.commenters = "#"
    lexer.whitespace_split = True
    try:
        tokens = list(lexer)
    except ValueError:
        return True
    return any(token in _OPERATORS for token in tokens)


def _unquoted(text: str) -> str:
    """``text`` with quoted parts removed, to find command substitutions outside quotes."""
    out: list[str] = []
    quote = ""
    for char in text:
        if quote:
            if char == quote:
                quote = ""
            continue
        if char in "'\"":
            quote = char
            continue
        out.append(char)
    return "".join(out)
