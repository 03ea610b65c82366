"""``runbook import``: a Markdown procedure → a runbook YAML draft that lints clean.

    markdown.py      Markdown → sections and blocks (markdown-it-py tokens)
    script.py        a shell fence → comments and logical commands (shlex)
    commands.py      the command-recognizer registry (entry points) and its protocol
    recognizers.py   built-in recognizers: ansible, ssh, curl, psql/mysql, scp/rsync, sleep
    expectations.py  "✅ Expected: …" phrases and output samples → predicates
    tables.py        the rollback decision matrix → decisions
    literals.py      recurring releases and directories → vars
    procedure.py     one step section → steps
    document.py      the whole document → a draft
    emit.py          the draft → YAML with TODO comments
    selfcheck.py     the real linter on the draft; what it refuses is demoted
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from runbook_engine.errors import LoadError, Span
from runbook_engine.importer.commands import installed_executors
from runbook_engine.importer.document import apply_front_matter, build
from runbook_engine.importer.markdown import clean_text, front_matter, parse_markdown
from runbook_engine.importer.selfcheck import checked_yaml
from runbook_engine.loader import MAX_BYTES as MAX_RUNBOOK_BYTES

__all__ = ["ImportResult", "import_markdown", "read_procedure"]

#: Larger than any procedure a team writes by hand; beyond it the input is not one.
MAX_BYTES = MAX_RUNBOOK_BYTES


@dataclass(frozen=True)
class ImportResult:
    """The YAML draft and what the summary line reports."""

    yaml: str
    steps: int
    predicates: int
    decisions: int
    decisions_translated: int
    todos: int

    @property
    def summary(self) -> str:
        return (
            f"{self.steps} steps, {self.predicates} expect predicates, "
            f"{self.decisions_translated} of {self.decisions} decisions translated, {self.todos} TODOs remaining"
        )


def import_markdown(text: str, source: str = "") -> ImportResult:
    """The draft for the Markdown ``text`` (``source`` names it in the header)."""
    fields, body = front_matter(clean_text(text))
    draft = build(parse_markdown(body), source, installed_executors())
    apply_front_matter(draft, fields)
    yaml_text = checked_yaml(draft)
    if len(yaml_text.encode("utf-8")) > MAX_RUNBOOK_BYTES:
        raise LoadError(
            f"the draft of {source or 'this procedure'} would be over the {MAX_RUNBOOK_BYTES} bytes a runbook may have",
            hint="split the procedure into several files and import each",
        )
    steps = draft.all_steps()
    return ImportResult(
        yaml=yaml_text,
        steps=len(steps),
        predicates=sum(1 for s in steps if s.expect),
        decisions=len(draft.decisions),
        decisions_translated=sum(1 for d in draft.decisions if d.when != "false"),
        todos=sum(1 for line in yaml_text.split("\n") if line.lstrip().startswith("# TODO:")),
    )


def read_procedure(path: Path) -> str:
    """The text of a Markdown file, or a ``LoadError`` saying why it is not one."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise LoadError(f"{path}: no such file", hint="give the path of a Markdown procedure") from None
    except OSError as exc:
        raise LoadError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(raw) > MAX_BYTES:
        raise LoadError(f"{path}: {len(raw)} bytes is more than the {MAX_BYTES} a procedure may have")
    if b"\x00" in raw:
        raise LoadError(f"{path}: a binary file, not Markdown", hint="give the path of a Markdown procedure")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise LoadError(
            f"not UTF-8: byte 0x{raw[exc.start]:02x} cannot be decoded",
            span=Span(str(path), line, col),
            hint="save the file as UTF-8 (e.g. iconv -f cp1252 -t utf-8)",
        ) from None
    return text
