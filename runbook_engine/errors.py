"""The exception tree. Errors a user can cause carry a span and a hint; the CLI prints
them as one finding and exits non-zero. Anything else is a bug and may show a traceback.

    RunbookError                 user-caused, printed as `file:line:col: message`
    ├── LoadError                unreadable file, bad YAML, duplicate keys, size limits
    ├── ValidationError          schema or semantic problems found before anything runs
    │   └── VariableError        a --var/--vars-file value that fails its declaration
    ├── TemplateError            Jinja2 syntax or undefined variable
    ├── PredicateError           predicate syntax, unknown field, type mismatch
    ├── InventoryError           unreadable inventory or bad host pattern
    ├── PluginError              an executor plugin that is missing or broken
    ├── ExecutorError            an executor could not even start (missing extra, bad spec)
    └── RunError                 refused or impossible run: locked, changed runbook, bad resume
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """A region of a source file; lines and columns are 1-based, `end_*` exclusive."""

    path: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def __str__(self) -> str:
        return f"{self.path}:{self.line}:{self.col}"

    def shifted(self, offset: int, length: int = 1) -> Span:
        """A span `offset` characters into this one on the same line (used for
        positions inside a single-line scalar, such as a predicate)."""
        col = self.col + offset
        return Span(self.path, self.line, col, self.line, col + max(length, 1))


class RunbookError(Exception):
    """Base of every error a user can cause."""

    rule: str = "RB000"
    #: "error" stops lint and run; "warning" is reported and lets both go on.
    severity: str = "error"

    def __init__(
        self,
        message: str,
        span: Span | None = None,
        hint: str | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.span = span
        self.hint = hint
        if rule is not None:
            self.rule = rule

    def __str__(self) -> str:
        where = f"{self.span}: " if self.span else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}{self.message}{hint}"


class LintWarning(RunbookError):
    """A finding worth a look that does not make the runbook wrong (``| raw``)."""

    severity = "warning"


class LoadError(RunbookError):
    rule = "RB001"


class ValidationError(RunbookError):
    rule = "RB100"


class VariableError(ValidationError):
    rule = "RB110"


class TemplateError(RunbookError):
    rule = "RB200"


class PredicateError(RunbookError):
    """A predicate that does not parse or type-check. `offset`/`length` locate the
    problem inside the predicate text; `span` is filled in once the text's own
    position in a file is known."""

    rule = "RB300"

    def __init__(
        self,
        message: str,
        offset: int = 0,
        length: int = 1,
        source: str = "",
        hint: str | None = None,
        span: Span | None = None,
        rule: str | None = None,
    ) -> None:
        super().__init__(message, span=span, hint=hint, rule=rule)
        self.offset = offset
        self.length = length
        self.source = source

    def caret(self) -> str:
        """The predicate text with a caret line under the offending part."""
        return f"{self.source}\n{' ' * self.offset}{'^' * max(self.length, 1)}"


class InventoryError(RunbookError):
    rule = "RB400"


class PluginError(RunbookError):
    rule = "RB500"


class ExecutorError(RunbookError):
    rule = "RB510"


class RunError(RunbookError):
    rule = "RB600"
