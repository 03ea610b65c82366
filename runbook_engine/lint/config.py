"""Which lint rules apply and how severe they are, for one runbook file: from the
nearest ``.runbook-lint.yaml`` or ``[tool.runbook.lint]`` in ``pyproject.toml``,
looked up from the runbook's folder upwards (the nearest one wins, the search stops
at a repository root), and from ``# runbook-lint: disable=RB206`` comments.

    # .runbook-lint.yaml                 # pyproject.toml
    disable: [RB111]                     [tool.runbook.lint]
    severity: {RB206: error}             disable = ["RB111"]
                                         severity = {RB206 = "error"}

Only rules that do not stop the engine from running the runbook are configurable
(`Rule.configurable`); naming another, or an unknown rule, is finding RB190. `run`,
`plan` and `explain` read the same settings, so lint accepts what they accept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from runbook_engine.errors import RunbookError, Span, ValidationError

YAML_NAME = ".runbook-lint.yaml"
PYPROJECT = "pyproject.toml"
#: A severity that switches a rule off.
OFF = "off"


@dataclass(frozen=True)
class LintConfig:
    """The rule settings that apply to one file, and where they came from."""

    disabled: frozenset[str] = frozenset()
    severity: Mapping[str, str] = field(default_factory=dict)
    source: str | None = None
    problems: tuple[RunbookError, ...] = ()


def config_for(runbook_path: str | Path) -> LintConfig:
    """The settings that apply to the runbook at ``runbook_path``."""
    folder = Path(runbook_path).resolve().parent
    for candidate in (folder, *folder.parents):
        yaml_file = candidate / YAML_NAME
        if yaml_file.is_file():
            return _from_yaml(yaml_file)
        pyproject = candidate / PYPROJECT
        if pyproject.is_file():
            found = _from_pyproject(pyproject)
            if found is not None:
                return found
        if (candidate / ".git").exists():
            break
    return LintConfig()


def _from_yaml(path: Path) -> LintConfig:
    import yaml

    text = path.read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        span = Span(str(path), mark.line + 1, mark.column + 1) if mark else Span(str(path), 1, 1)
        return LintConfig(problems=(ValidationError(f"unreadable lint settings: {exc}", span=span, rule="RB190"),))
    return _settings(data, path, text)


def _from_pyproject(path: Path) -> LintConfig | None:
    text = path.read_text(encoding="utf-8")
    if "[tool.runbook.lint]" not in text and "[tool.runbook]" not in text:
        return None
    import tomllib

    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        return LintConfig(
            problems=(ValidationError(f"unreadable {PYPROJECT}: {exc}", span=Span(str(path), 1, 1), rule="RB190"),)
        )
    section = data.get("tool", {}).get("runbook", {}).get("lint")
    if section is None:
        return None
    return _settings(section, path, text)


def _settings(data: Any, path: Path, text: str) -> LintConfig:
    from runbook_engine.lint.rules import SEVERITIES, registry

    problems: list[RunbookError] = []
    rules = registry()

    def problem(message: str, needle: str) -> None:
        problems.append(ValidationError(message, span=_find(path, text, needle), rule="RB190"))

    if not isinstance(data, Mapping):
        problem("the lint settings must be a mapping (disable, enable, severity)", "")
        return LintConfig(source=str(path), problems=tuple(problems))
    for key in data:
        if key not in ("disable", "enable", "severity"):
            problem(f"unknown lint setting {key!r} (known: disable, enable, severity)", str(key))

    def ids(key: str) -> list[str]:
        value = data.get(key) or []
        if not isinstance(value, list):
            problem(f"{key} must be a list of rule ids", key)
            return []
        good = []
        for item in value:
            why = _unchangeable(str(item), rules)
            if why:
                problem(f"{key}: {why}", str(item))
            else:
                good.append(str(item))
        return good

    disabled = set(ids("disable")) - set(ids("enable"))
    severity: dict[str, str] = {}
    raw = data.get("severity") or {}
    if not isinstance(raw, Mapping):
        problem("severity must map rule ids to error, warning or off", "severity")
        raw = {}
    for rule_id, level in raw.items():
        why = _unchangeable(str(rule_id), rules)
        if why:
            problem(f"severity: {why}", str(rule_id))
        elif level == OFF:
            disabled.add(str(rule_id))
        elif level not in SEVERITIES:
            problem(f"severity of {rule_id}: {level!r} is not error, warning or off", str(rule_id))
        else:
            severity[str(rule_id)] = str(level)
    return LintConfig(frozenset(disabled), severity, str(path), tuple(problems))


def _unchangeable(rule_id: str, rules: Mapping[str, Any]) -> str | None:
    """Why ``rule_id`` cannot be disabled or re-rated, or None when it can."""
    found = rules.get(rule_id)
    if found is None:
        return f"unknown rule {rule_id!r}"
    if not found.configurable:
        return f"{rule_id} cannot be changed: the engine cannot run a runbook that breaks it"
    return None


def _find(path: Path, text: str, needle: str) -> Span:
    """Where ``needle`` first appears in the settings file (for a file:line:col)."""
    for number, line in enumerate(text.splitlines(), 1):
        col = line.find(needle) if needle else -1
        if col >= 0:
            return Span(str(path), number, col + 1, number, col + 1 + len(needle))
    return Span(str(path), 1, 1)


# --- inline suppressions -------------------------------------------------------------

_DIRECTIVE = re.compile(r"#\s*runbook-lint:\s*disable=([A-Za-z0-9_,\s]+?)\s*(?:#.*)?$")


def suppressions(doc: Any) -> tuple[dict[int, set[str]], list[RunbookError]]:
    """Rule ids suppressed per line of ``doc``, and RB190 findings for bad directives.

    A directive at the end of a line covers that line; one alone on its line covers the
    next line. When the covered line starts a step, the directive covers the whole step."""
    from runbook_engine.lint.rules import registry

    rules = registry()
    lines = doc.text.splitlines()
    step_spans = _step_spans(doc)
    covered: dict[int, set[str]] = {}
    problems: list[RunbookError] = []
    for number, line in enumerate(lines, 1):
        match = _DIRECTIVE.search(line)
        if match is None or not _in_comment(line, match.start()):
            continue
        ids = [part.strip() for part in match.group(1).split(",") if part.strip()]
        good = []
        for rule_id in ids:
            why = _unchangeable(rule_id, rules)
            if why:
                col = line.find(rule_id, match.start()) + 1
                problems.append(
                    ValidationError(
                        f"runbook-lint: {why}",
                        span=Span(doc.path, number, col, number, col + len(rule_id)),
                        rule="RB190",
                    )
                )
            else:
                good.append(rule_id)
        target = number
        if not line[: match.start()].strip():
            target = next(
                (n for n in range(number + 1, len(lines) + 1) if lines[n - 1].strip() and not lines[n - 1].lstrip().startswith("#")),
                number,
            )
        first, last = step_spans.get(target, (target, target))
        for covered_line in range(first, last + 1):
            covered.setdefault(covered_line, set()).update(good)
    return covered, problems


def _in_comment(line: str, index: int) -> bool:
    """Whether the ``#`` at ``index`` starts a comment (not inside a quoted scalar)."""
    before = line[:index]
    return before.count('"') % 2 == 0 and before.count("'") % 2 == 0


def _step_spans(doc: Any) -> dict[int, tuple[int, int]]:
    """First line of each step (its ``- id: …`` line) → (first, last) line of the step."""
    pattern = re.compile(r"^(/phases/\d+/steps/\d+|/rollback(/steps)?/\d+|/prerequisites/\d+)$")
    return {
        span.line: (span.line, max(span.end_line or span.line, span.line))
        for ptr, span in doc.spans.items()
        if pattern.match(ptr)
    }


def apply(findings: Iterable[RunbookError], config: LintConfig, doc: Any | None) -> list[RunbookError]:
    """The findings that remain after the settings and the inline suppressions, with
    their configured severities, plus RB190 for settings that cannot apply."""
    covered, bad = suppressions(doc) if doc is not None else ({}, [])
    kept: list[RunbookError] = []
    for finding in findings:
        if finding.rule in config.disabled:
            continue
        line = finding.span.line if finding.span else None
        if line is not None and finding.rule in covered.get(line, set()):
            continue
        level = config.severity.get(finding.rule)
        if level is not None and level != finding.severity:
            finding.severity = level
        kept.append(finding)
    return [*config.problems, *bad, *kept]


__all__ = ["LintConfig", "apply", "config_for", "suppressions"]
