"""Values stay data in shell commands, whatever quotes the author wrote around them.

Quoting a value and pasting it into the command text is only safe where the author
did not write quotes of their own: ``echo "{{ msg }}"`` with ``msg='$(reboot)'`` would
run ``reboot``. So a rendered command never contains a value at all. Each
interpolated value becomes an environment variable ``RB_V1``, ``RB_V2``, … and the
command holds a reference to it, written for the quoting context the value stands
in (found by scanning the command as the shell would):

=====================  ======================  ==========================
context                reference               why
=====================  ======================  ==========================
bare word              ``"${RB_V1}"``          one word, no globbing
inside ``"…"``         ``${RB_V1}``            expansion is not re-parsed
inside ``'…'``         ``'"${RB_V1}"'``        close, reference, reopen
unquoted here-doc      ``${RB_V1}``            like double quotes
=====================  ======================  ==========================

The shell substitutes a variable's value after parsing, so no value can become
syntax. A value inside a quoted here-document or ``$(( … ))`` cannot be a reference,
and is refused (RB205). Values never reach a command line, so ``ps`` shows none of
them; for a remote shell they travel over the SSH channel's stdin (``remote_script``).
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from runbook_engine.errors import TemplateError

#: Marks where the renderer put value number N: ``\ue000N\ue001`` (private-use
#: characters, refused in a command's own text).
OPEN, CLOSE = "\ue000", "\ue001"
_SLOT = re.compile(f"{OPEN}(\\d+){CLOSE}")
PREFIX = "RB_V"
_HEREDOC = re.compile(r"<<(-?)[ \t]*([^\s;&|<>()]+)")


@dataclass(frozen=True, slots=True)
class ShellCommand:
    """A rendered shell command: the ``script`` the shell runs (values only as
    references), the ``values`` it refers to, and ``shown``, the equivalent command
    with each value quoted in place, for ``plan`` and logs (redact it before showing)."""

    script: str
    values: tuple[str, ...] = ()
    shown: str = ""
    #: The rendered text with value slots, for languages other than sh that refer to
    #: the values their own way (``refer``).
    slotted: str = ""

    @property
    def env(self) -> dict[str, str]:
        """The environment variables the script refers to."""
        return {f"{PREFIX}{i}": value for i, value in enumerate(self.values, 1)}

    @classmethod
    def plain(cls, text: str) -> ShellCommand:
        """A command without interpolated values."""
        return cls(script=text, shown=text, slotted=text)

    def refer(self, reference: Callable[[int, str, str], str]) -> str:
        """The text with value number N (0-based), standing in quoting context C
        after the text T, replaced by ``reference(N, C, T)``."""
        text = self.slotted or self.script
        out: list[str] = []
        pos = 0
        for start, end, index, context in slots(text):
            out.append(text[pos:start])
            out.append(reference(index, context, text[:start]))
            pos = end
        out.append(text[pos:])
        return "".join(out)


def slot(index: int) -> str:
    return f"{OPEN}{index}{CLOSE}"


def build(text: str, values: list[str]) -> ShellCommand:
    """Turn rendered ``text`` with value slots into a ``ShellCommand``."""
    script: list[str] = []
    shown: list[str] = []
    pos = 0
    for start, end, index, context in slots(text):
        script.append(text[pos:start])
        shown.append(text[pos:start])
        script.append(_reference(index + 1, context))
        if context == "bare" and not values[index] and _in_word(text, start, end):
            shown.append("")  # ``''/opt/app`` reads worse than ``/opt/app``, same word
        else:
            shown.append(_quoted(values[index], context))
        pos = end
    script.append(text[pos:])
    shown.append(text[pos:])
    return ShellCommand(
        script="".join(script), values=tuple(values), shown="".join(shown), slotted=text
    )


def _in_word(text: str, start: int, end: int) -> bool:
    """Whether the slot at ``start:end`` touches other characters of its word."""
    separators = " \t\n;&|()<>"
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before not in separators or after not in separators


def _reference(number: int, context: str) -> str:
    name = f"${{{PREFIX}{number}}}"
    if context == "bare":
        return f'"{name}"'
    if context == "single":
        return f"'\"{name}\"'"
    return name  # double quotes, unquoted here-doc, comment


def _quoted(value: str, context: str) -> str:
    if context == "bare":
        return shlex.quote(value)
    if context == "single":
        return f"'{shlex.quote(value)}'"
    if context in ("double", "heredoc"):
        return re.sub(r'([\\$`"])' if context == "double" else r"([\\$`])", r"\\\1", value)
    return value


def slots(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, value index, quoting context) of every value slot in ``text``."""
    found: list[tuple[int, int, int, str]] = []
    for start, context in _Scanner(text).contexts():
        match = _SLOT.match(text, start)
        assert match is not None
        found.append((start, match.end(), int(match.group(1)), context))
    return found


class _Scanner:
    """A POSIX sh quoting scanner: enough of the grammar to know, at every value slot,
    whether it stands bare, in single or double quotes, in a here-document, inside
    ``$(( ))`` or in a comment. Command substitution ``$( )`` and backquotes open a new
    bare context."""

    def __init__(self, text: str) -> None:
        self.text = text

    def contexts(self) -> list[tuple[int, str]]:
        text = self.text
        out: list[tuple[int, str]] = []
        # stack of contexts: "bare", "double", "cmdsub" (bare inside $( )), "backquote", "arith"
        stack: list[str] = ["bare"]
        heredocs: list[tuple[str, bool, bool]] = []  # (word, quoted, strip tabs)
        word_start = True
        i, n = 0, len(text)
        while i < n:
            ch = text[i]
            top = stack[-1]
            if ch == OPEN:
                context = {"cmdsub": "bare", "backquote": "bare"}.get(top, top)
                if context == "arith":
                    raise _refused("inside $(( )) arithmetic", "compute the number in the template instead")
                out.append((i, context))
                i = text.index(CLOSE, i) + 1
                word_start = False
                continue
            if top == "double":
                if ch == "\\":
                    i += 2
                    continue
                if ch == '"':
                    stack.pop()
                elif ch == "`":
                    stack.append("backquote")
                elif text.startswith("$((", i):
                    stack.append("arith")
                    i += 3
                    continue
                elif text.startswith("$(", i):
                    stack.append("cmdsub")
                    i += 2
                    continue
                i += 1
                continue
            if top == "arith":
                if text.startswith("))", i):
                    stack.pop()
                    i += 2
                    continue
                i += 1
                continue
            # bare-like: "bare", "cmdsub", "backquote"
            if ch == "\\":
                i += 2
                word_start = False
                continue
            if ch == "'":
                end = text.find("'", i + 1)
                end = n if end < 0 else end
                out.extend((j, "single") for j in _slot_starts(text, i + 1, end))
                i = end + 1
                word_start = False
                continue
            if ch == '"':
                stack.append("double")
                i += 1
                word_start = False
                continue
            if ch == "#" and word_start:
                end = text.find("\n", i)
                end = n if end < 0 else end
                out.extend((j, "comment") for j in _slot_starts(text, i, end))
                i = end
                continue
            if text.startswith("$((", i):
                stack.append("arith")
                i += 3
                continue
            if text.startswith("$(", i):
                stack.append("cmdsub")
                i += 2
                word_start = True
                continue
            if ch == ")" and top == "cmdsub":
                stack.pop()
                i += 1
                word_start = False
                continue
            if ch == "`":
                if top == "backquote":
                    stack.pop()
                else:
                    stack.append("backquote")
                i += 1
                word_start = top != "backquote"
                continue
            if text.startswith("<<", i) and not text.startswith("<<<", i):
                match = _HEREDOC.match(text, i)
                if match:
                    token = match.group(2)
                    quoted = any(q in token for q in "'\"\\")
                    word = re.sub(r"['\"\\]", "", token)
                    heredocs.append((word, quoted, bool(match.group(1))))
                    i = match.end()
                    continue
            if ch == "\n" and heredocs:
                i = self._heredoc_bodies(i + 1, heredocs, out)
                heredocs = []
                word_start = True
                continue
            word_start = ch in " \t\n;&|()<>"
            i += 1
        return out

    def _heredoc_bodies(self, i: int, heredocs: list[tuple[str, bool, bool]], out: list[tuple[int, str]]) -> int:
        text = self.text
        for word, quoted, strip in heredocs:
            while i < len(text):
                end = text.find("\n", i)
                end = len(text) if end < 0 else end
                line = text[i:end]
                if (line.lstrip("\t") if strip else line) == word:
                    i = end + 1
                    break
                for j in _slot_starts(text, i, end):
                    if quoted:
                        raise _refused(
                            "inside a quoted here-document (<<'EOF'), where the shell expands nothing",
                            "write the delimiter unquoted (<<EOF) so the value's reference is expanded",
                        )
                    out.append((j, "heredoc"))
                i = end + 1
        return i


def _slot_starts(text: str, start: int, end: int) -> list[int]:
    return [m.start() for m in _SLOT.finditer(text, start, end)]


def _refused(where: str, hint: str) -> TemplateError:
    return TemplateError(f"a template value cannot stand {where}", hint=hint, rule="RB205")


#: The fixed first part of a command run by a remote (or sudo) shell: it reads the
#: values from stdin, one count line then each value as a line count and its lines,
#: exports them as RB_V1…, and forgets its own variables. Nothing secret is on the
#: command line; the script that follows it refers to the variables.
_REMOTE_PRELUDE = (
    "IFS= read -r __rb_n || exit 125; __rb_k=0; "
    'while [ "$__rb_k" -lt "$__rb_n" ]; do '
    "__rb_k=$((__rb_k+1)); IFS= read -r __rb_c; __rb_v=; __rb_i=0; "
    'while [ "$__rb_i" -lt "$__rb_c" ]; do IFS= read -r __rb_l; '
    '[ "$__rb_i" -gt 0 ] && __rb_v="$__rb_v\n"; __rb_v="$__rb_v$__rb_l"; __rb_i=$((__rb_i+1)); done; '
    'export "' + PREFIX + '$__rb_k=$__rb_v"; done; '
    "unset __rb_n __rb_k __rb_c __rb_v __rb_i __rb_l\n"
)


def remote_script(command: ShellCommand) -> tuple[str, str]:
    """(command line, stdin text) for a shell that does not inherit our environment
    (over SSH, or through sudo): the line is the prelude and the script, the values
    travel on stdin."""
    if not command.values:
        return command.script, ""
    lines = [str(len(command.values))]
    for value in command.values:
        parts = value.split("\n")
        lines.append(str(len(parts)))
        lines.extend(parts)
    return _REMOTE_PRELUDE + command.script, "\n".join(lines) + "\n"
