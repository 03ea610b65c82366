"""The whole document → a draft: which section is the overview, the window, the
prerequisites, the phases, the rollback, the decision matrix, troubleshooting and
success metrics; everything else is kept under ``notes``.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from runbook_engine.importer import tables
from runbook_engine.importer.draft import Draft, DraftPhase, DraftStep
from runbook_engine.importer.literals import LiteralVar, find_literal_vars, substitute
from runbook_engine.importer.markdown import (
    Block,
    Fence,
    ListBlock,
    Paragraph,
    Section,
    Table,
    blocks_markdown,
    section_markdown,
)
from runbook_engine.importer.procedure import SHELL_LANGS, Terminal, steps_of, unit_fits

_PHASE = re.compile(r"^\s*(?:phase|stage|part|step)\s+(\d+)\s*[:.)\-–—]?\s*(.*)$", re.I)
_NUMBERED = re.compile(r"^\s*(?:step\s+)?\d+(?:\.\d+)*[.):]?\s+(?=\S)", re.I)
_PAREN = re.compile(r"\s*\(([^()]*)\)\s*$")
_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(?:-|–|to)?\s*(\d+(?:\.\d+)?)?\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d)\b", re.I)
_KIND_TITLES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("matrix", re.compile(r"\b(decision|escalation)\s+(matrix|table)\b|\brollback\s+(criteria|triggers|matrix)\b", re.I)),
    ("troubleshooting", re.compile(r"\b(troubleshoot\w*|known\s+issues|common\s+(problems|issues)|faq|diagnos\w*)\b", re.I)),
    ("success", re.compile(r"\bsuccess\s+(metrics|criteria|measures)\b|\b(kpis?|slos?)\b", re.I)),
    ("window", re.compile(r"\b(maintenance\s+window|change\s+window|schedule|timing)\b", re.I)),
    ("overview", re.compile(r"^\s*(overview|summary|about|purpose|introduction|description|scope)\b", re.I)),
    ("prerequisites", re.compile(r"\b(prerequisites?|pre-?requisites|requirements|before\s+you\s+(begin|start)|pre-?checks?|preparation\s+checklist)\b", re.I)),
    ("procedure", re.compile(r"^\s*(procedure|steps|instructions|runbook|execution|process|actions|immediate\s+actions|response)\b", re.I)),
    ("rollback", re.compile(r"\b(roll\s?-?back|revert|back\s?out)\b", re.I)),
)
_SUCCESS_NAMES = (
    ("downtime", re.compile(r"\bdowntime\b", re.I)),
    ("smoke_pass_rate", re.compile(r"\bsmoke\b", re.I)),
    ("total_duration", re.compile(r"\b(total|deployment|overall|run)\b.*\b(time|duration)\b|\bduration\b", re.I)),
)
_COMPARISON = re.compile(r"(<=|>=|<|>|≤|≥|=)\s*(\d+(?:\.\d+)?)\s*(%|minutes?|mins?|m|hours?|hrs?|h|seconds?|secs?|s)?", re.I)
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*%")
#: Zone abbreviations procedures use → the IANA zone `window.timezone` takes.
_ZONES = {
    "PST": "America/Los_Angeles", "PDT": "America/Los_Angeles", "PT": "America/Los_Angeles",
    "MST": "America/Denver", "MDT": "America/Denver", "CST": "America/Chicago", "CDT": "America/Chicago",
    "EST": "America/New_York", "EDT": "America/New_York", "ET": "America/New_York",
    "UTC": "UTC", "GMT": "UTC", "BST": "Europe/London", "CET": "Europe/Paris", "CEST": "Europe/Paris",
    "JST": "Asia/Tokyo", "AEST": "Australia/Sydney",
}
_ISSUE = re.compile(r"^\s*(symptom|issue|problem)\s*[:\-–—]", re.I)
_OWNERS_SPLIT = re.compile(r"\s*(?:\+|,|/|&|\band\b)\s*", re.I)


def kind(section: Section) -> str:
    title = section.title.text
    if _PHASE.match(title) and re.match(r"\s*(phase|stage|part)\b", title, re.I):
        return "phase"
    for name, pattern in _KIND_TITLES:
        if pattern.search(title):
            return name
    return "other"


def build(root: Section, source: str, executors: frozenset[str]) -> Draft:
    top = _top(root)
    title = top.title.text.strip() if top is not root and top.title.text.strip() else _title_from(source)
    draft = Draft(title=_one_line(title), name=_name(title), source=source)
    sections = list(top.children) if top is not root else list(root.children)
    if top is not root:
        sections = [s for s in root.children if s is not top] + sections
        _overview(draft, top.blocks, keep_prose=True)
    found = find_literal_vars(_command_texts(root))
    literals = {v.literal: v.name for v in found}
    channels: dict[str, str] = {}
    context = _Context(executors, literals, channels, Terminal())
    phase_sections = [s for s in _walk(sections) if kind(s) == "phase"]
    seen_procedure = False
    troubleshooting: list[Section] = []
    guide = top is not root and kind(top) == "troubleshooting" and not phase_sections
    issues: list[Section] = []
    matrices: list[Table] = []
    leaves: list[Section] = []
    for section in sections:
        section_kind = kind(section)
        if leaves and not (not section.children and section_kind == "other" and _runnable(section)):
            _leaf_phase(draft, leaves, context)
        if guide and section_kind in ("other", "procedure", "troubleshooting") or _ISSUE.match(section.title.text):
            issues.append(section)
        elif section_kind == "overview":
            _overview(draft, section.blocks, keep_prose=True)
            _notes_from_children(draft, section)
        elif section_kind == "window":
            _window(draft, section.blocks)
        elif section_kind == "prerequisites" and not seen_procedure:
            _prerequisites(draft, section)
        elif section_kind == "matrix":
            matrices.extend(t for t in _tables(section) if tables.is_decision_table(t))
            others = [b for b in section.blocks if not (isinstance(b, Table) and tables.is_decision_table(b))]
            if others:
                draft.notes[_note_key(section.title.text, draft)] = blocks_markdown(others)
        elif section_kind == "troubleshooting":
            troubleshooting.append(section)
        elif section_kind == "success":
            _success(draft, section)
        elif section_kind == "phase" or _holds_phases(section, phase_sections):
            seen_procedure = True
            for phase_section in ([section] if section_kind == "phase" else [s for s in section.walk() if kind(s) == "phase"]):
                _phase(draft, phase_section, context)
            extra = [b for b in section.blocks] if section_kind != "phase" else []
            if extra:
                draft.notes[_note_key(section.title.text, draft)] = blocks_markdown(extra)
        elif section_kind == "rollback" and draft.rollback is None and _runnable(section):
            seen_procedure = True
            _leaf_phase(draft, leaves, context)
            _procedure_section(draft, section, context, True)
        elif not phase_sections and (section_kind in ("procedure", "rollback") or _runnable(section)):
            seen_procedure = True
            if not section.children and section_kind == "other":
                leaves.append(section)  # consecutive step-sized sections share one phase
                continue
            _leaf_phase(draft, leaves, context)
            _procedure_section(draft, section, context, section_kind == "rollback")
        elif not seen_procedure and _has_checklist(section):
            _prerequisites(draft, section)
        else:
            text = section_markdown(section)
            if text.strip():
                draft.notes[_note_key(section.title.text, draft)] = text
        for table in _tables(section) if section_kind not in ("matrix",) else ():
            if tables.is_decision_table(table) and section_kind not in ("phase",):
                matrices.append(table)
    _leaf_phase(draft, leaves, context)
    if not draft.phases and not issues:
        issues = [issue for section in troubleshooting for issue in section.children or [section]]
    if issues and not draft.phases:
        for issue in issues:
            _issue_phase(draft, issue, context)
        draft.todos.append(
            "a troubleshooting guide: each phase is one issue, and the issues are alternatives, not a sequence; "
            "split the file per issue or add `when:` conditions before running it"
        )
    _assign_ids(draft)
    for table in matrices:
        draft.decisions.extend(tables.decisions_from_table(table, draft.phases))
    for section in troubleshooting:
        _troubleshooting(draft, section)
    for section in issues:
        draft.notes[_note_key(section.title.text, draft)] = section_markdown(section)
    if not draft.phases:
        step = DraftStep(draft.title, "manual", {"prompt": f"Carry out: {draft.title}"}, 1)
        step.add_todo("the document has no commands or steps the importer could find: write the steps")
        draft.phases.append(DraftPhase("Procedure", 1, steps=[step]))
        _assign_ids(draft)
    _downtime(draft)
    _vars(draft, found, channels)
    return draft


def apply_front_matter(draft: Draft, fields: dict[str, str]) -> None:
    """Front-matter fields fill what the body did not say; the others become a note."""
    rest = dict(fields)
    title = rest.pop("title", None)
    if title and (draft.title == _title_from(draft.source) or not draft.title):
        draft.title, draft.name = _one_line(title), _name(title)
    for key in ("description", "summary", "purpose"):
        value = rest.pop(key, None)
        if value and not draft.description:
            draft.description = value
    for key in ("owner", "owners", "author", "team"):
        value = rest.pop(key, None)
        if value and not draft.owners:
            draft.owners = [o for o in (_slug_owner(p) for p in _OWNERS_SPLIT.split(value)) if o]
    if rest:
        draft.notes[_note_key("front matter", draft)] = "\n".join(f"{k}: {v}" for k, v in rest.items())


def _command_texts(root: Section) -> list[str]:
    """The code of every shell fence and command span: where recurring literals live."""
    texts: list[str] = []

    def visit(blocks: Iterable[Block]) -> None:
        for block in blocks:
            if isinstance(block, Fence) and (block.lang in SHELL_LANGS or block.lang == "" and unit_fits(block.code)):
                texts.append(block.code)
            elif isinstance(block, ListBlock):
                for item in block.items:
                    texts.extend(code for code in item.inline.codes if unit_fits(code))
                    visit(item.blocks)

    for section in root.walk():
        visit(section.blocks)
    return texts


@dataclass(frozen=True)
class _Context:
    """What every step section shares: installed executors, literal → var name, and
    the chat channels messages go to (filled in as they are found)."""

    executors: frozenset[str]
    literals: dict[str, str]
    channels: dict[str, str]
    terminal: Terminal


def _top(root: Section) -> Section:
    """The single top heading (``# Title``) whose children are the sections, or root."""
    ones = [s for s in root.children if s.level == 1]
    if len(ones) == 1:
        return ones[0]
    if root.children and not ones and len(root.children) == 1 and root.children[0].children:
        return root.children[0]
    return root


def _title_from(source: str) -> str:
    stem = re.sub(r"\.(md|markdown|txt)$", "", source.rsplit("/", 1)[-1], flags=re.I)
    return re.sub(r"[-_]+", " ", stem).strip().title() or "Imported Procedure"


def _one_line(text: str) -> str:
    return " ".join(text.split()) or "Imported Procedure"


def _name(title: str) -> str:
    words = slug(title, limit=60)
    words = re.sub(r"-(procedure|runbook|playbook|guide)$", "", words) or words
    return words


def slug(text: str, limit: int = 40) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    value = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    if len(value) > limit:
        value = value[:limit].rsplit("-", 1)[0] if "-" in value[:limit] else value[:limit]
    return value.strip("-") or "step"


def _walk(sections: Iterable[Section]) -> list[Section]:
    return [s for section in sections for s in section.walk()]


def _holds_phases(section: Section, phase_sections: list[Section]) -> bool:
    return any(p in phase_sections for p in section.walk())


def _runnable(section: Section) -> bool:
    """Whether a section holds commands (a shell fence or a numbered command list)."""
    return any(_runnable_block(block) for s in section.walk() for block in s.blocks)


def _runnable_block(block: Block) -> bool:
    if isinstance(block, Fence):
        return block.lang in SHELL_LANGS or block.lang == "" and unit_fits(block.code)
    return isinstance(block, ListBlock) and _list_has_commands(block)


def _list_has_commands(block: ListBlock) -> bool:
    for item in block.items:
        if any(unit_fits(code) for code in item.inline.codes):
            return True
        for inner in item.blocks:
            if isinstance(inner, Fence) and (inner.lang in SHELL_LANGS or unit_fits(inner.code)):
                return True
            if isinstance(inner, ListBlock) and _list_has_commands(inner):
                return True
    return False


def _has_checklist(section: Section) -> bool:
    return any(isinstance(b, ListBlock) and any(i.checked is not None for i in b.items) for s in section.walk() for b in s.blocks)


def _tables(section: Section) -> list[Table]:
    return [b for s in section.walk() for b in s.blocks if isinstance(b, Table)]


def _note_key(title: str, draft: Draft) -> str:
    key = slug(title, limit=50).replace("-", "_") or "note"
    base, n = key, 2
    while key in draft.notes:
        key, n = f"{base}_{n}", n + 1
    return key


def _notes_from_children(draft: Draft, section: Section) -> None:
    for child in section.children:
        draft.notes[_note_key(child.title.text, draft)] = section_markdown(child)


# --- overview, window, prerequisites, success ---------------------------------------


def _fields(blocks: Iterable[Block]) -> tuple[list[tuple[str, str]], list[str]]:
    """``Key: value`` pairs (from bold labels or plain ones) and the other prose."""
    pairs: list[tuple[str, str]] = []
    prose: list[str] = []
    lines: list[str] = []
    for block in blocks:
        if isinstance(block, Paragraph):
            lines.extend(block.inline.text.split("\n"))
        elif isinstance(block, ListBlock):
            lines.extend(item.inline.text for item in block.items)
    for line in lines:
        key, sep, value = line.partition(":")
        if sep and 0 < len(key.strip()) <= 40 and value.strip() and "://" not in key + ":" + value[:2]:
            pairs.append((key.strip().strip("*_ "), value.strip()))
        elif line.strip():
            prose.append(line.strip())
    return pairs, prose


def _overview(draft: Draft, blocks: Iterable[Block], keep_prose: bool) -> None:
    pairs, prose = _fields(blocks)
    extra: list[str] = []
    for key, value in pairs:
        lower = key.lower()
        if re.search(r"purpose|description|summary|goal|objective", lower) and not draft.description:
            draft.description = value
        elif re.search(r"frequency|cadence|how often|recurrence", lower):
            draft.frequency = value
        elif re.search(r"performed by|owners?|team|who|responsible|operators?|executed by", lower):
            draft.owners = [o for o in (_slug_owner(p) for p in _OWNERS_SPLIT.split(value)) if o]
        elif re.search(r"duration|time required|estimated time|length", lower):
            high = duration_upper(value)
            if high and "max_duration" not in draft.window:
                draft.window["max_duration"] = high
        else:
            extra.append(f"{key}: {value}")
    if prose and keep_prose and not draft.description:
        draft.description = " ".join(prose)
    elif prose:
        extra.extend(prose)
    if extra:
        draft.notes[_note_key("overview", draft)] = "\n".join(extra)


def _slug_owner(text: str) -> str:
    return re.sub(r"\s+", "-", text.strip().lower()).strip("-")


def duration_upper(text: str) -> str | None:
    """The upper bound of "10-15 minutes", "1-2 hours", "5 min" as a duration."""
    match = _DURATION.search(text)
    if not match:
        return None
    value = float(match.group(2) or match.group(1))
    unit = match.group(3)[0].lower()
    number = int(value) if value == int(value) else value
    if isinstance(number, float):
        return f"{int(value * 60)}m" if unit == "h" else f"{int(value * 60)}s" if unit == "m" else None
    return f"{number}{unit}" if number > 0 else None


def _window(draft: Draft, blocks: Iterable[Block]) -> None:
    pairs, prose = _fields(blocks)
    start = end = None
    for key, value in pairs:
        lower = key.lower()
        if "start" in lower:
            start = value
        elif "end" in lower or "finish" in lower:
            end = value
        elif re.search(r"max\w*\s+duration|duration|length", lower):
            high = duration_upper(value)
            if high:
                draft.window["max_duration"] = high
        elif "downtime" in lower:
            high = duration_upper(value)
            if high:
                draft.window["downtime_budget"] = high
        elif re.search(r"window|schedule|when", lower):
            draft.window["schedule"] = value
    if start or end:
        draft.window["schedule"] = " – ".join(v for v in (start, end) if v)
    zone = _ZONES.get(next(iter(re.findall(r"\b([A-Z]{3,4})\b", draft.window.get("schedule", ""))), ""))
    if zone:
        draft.window["timezone"] = zone
    if prose and "schedule" not in draft.window:
        draft.window["schedule"] = " ".join(prose)[:200]


def _prerequisites(draft: Draft, section: Section) -> None:
    """List items are prerequisites; other text of the section is kept as a note."""
    for s in section.walk():
        rest: list[Block] = []
        for block in s.blocks:
            if isinstance(block, ListBlock):
                for item in block.items:
                    text = " ".join(item.inline.text.split())
                    if text and text not in draft.prerequisites:
                        draft.prerequisites.append(text)
            else:
                rest.append(block)
        text = blocks_markdown(rest)
        if text.strip():
            draft.notes[_note_key(s.title.text, draft)] = text


def _success(draft: Draft, section: Section) -> None:
    lines: list[str] = []
    for s in section.walk():
        for block in s.blocks:
            if isinstance(block, ListBlock):
                lines.extend(" ".join(item.inline.text.split()) for item in block.items)
    other: list[str] = []
    for line in lines:
        key, _, value = line.partition(":")
        metric = next((name for name, pattern in _SUCCESS_NAMES if pattern.search(key)), None)
        target = _target(value or line, metric)
        if metric and target and metric not in draft.success:
            draft.success[metric] = target
        elif _COMPARISON.search(value or line) or _PERCENT.search(value or line):
            draft.success_todos.append(f"success metric without a measure in runbook reports: {line}")
        else:
            other.append(line)
    if other:
        draft.notes[_note_key(section.title.text, draft)] = "\n".join(f"- {o}" for o in other)


def _target(text: str, metric: str | None) -> str | None:
    if metric == "smoke_pass_rate":
        percent = _PERCENT.search(text)
        if percent:
            value = float(percent.group(1))
            return f">= {int(value) if value == int(value) else value}" if value < 100 else "== 100"
        return None
    match = _COMPARISON.search(text)
    if not match:
        return None
    op = {"≤": "<=", "≥": ">=", "=": "=="}.get(match.group(1), match.group(1))
    unit = (match.group(3) or "").lower()
    amount = match.group(2)
    if metric in ("downtime", "total_duration"):
        suffix = "h" if unit.startswith("h") else "s" if unit.startswith("s") else "m"
        return f"{op} {amount}{suffix}"
    return None


# --- phases and steps ----------------------------------------------------------------


def _phase_title(text: str) -> tuple[str, str | None, str]:
    """(title, budget, parenthesis) of "Phase 2: Application Shutdown (10-15 minutes)"."""
    match = _PHASE.match(text)
    title = match.group(2) if match and match.group(2).strip() else text
    paren = _PAREN.search(title)
    note = ""
    budget = None
    if paren:
        note = paren.group(1)
        budget = duration_upper(note) if _DURATION.search(note) else None
        title = title[: paren.start()]
    return _one_line(title) or _one_line(text), budget, note


def _step_title(text: str) -> str:
    return _one_line(_NUMBERED.sub("", text, count=1))


def _phase(draft: Draft, section: Section, context: _Context) -> None:
    title, budget, note = _phase_title(section.title.text)
    is_rollback = bool(re.search(r"\b(roll\s?-?back|revert|back\s?out)\b", title, re.I))
    phase = DraftPhase(title, section.line, budget=budget)
    if note and not budget:
        phase.description.append(note)
    if section.children:
        own = [b for b in section.blocks]
        if own:
            phase.description.append(blocks_markdown(own))
        for child in section.children:
            phase.steps.extend(_section_steps(child, context))
    else:
        phase.steps.extend(steps_of(title, section.line, section.blocks, context.executors, context.literals, context.channels, context.terminal))
    _add_phase(draft, phase, is_rollback)


def _section_steps(section: Section, context: _Context) -> list[DraftStep]:
    """Steps of a step section, its subsections read as more steps."""
    steps = steps_of(_step_title(section.title.text), section.line, section.blocks, context.executors, context.literals, context.channels, context.terminal) if section.blocks or not section.children else []
    for child in section.children:
        steps.extend(_section_steps(child, context))
    return steps


def _add_phase(draft: Draft, phase: DraftPhase, is_rollback: bool) -> None:
    if not phase.steps:
        return
    if is_rollback and draft.rollback is None:
        draft.rollback = phase
    else:
        draft.phases.append(phase)


def _procedure_section(draft: Draft, section: Section, context: _Context, is_rollback: bool) -> None:
    """A section without "Phase N" headings: its subsections that hold subsections
    are phases; leaf subsections are steps of one phase named after the section."""
    title, budget, _ = _phase_title(section.title.text)
    groups = [c for c in section.children if c.children]
    if groups and len(groups) == len(section.children):
        if section.blocks:
            draft.notes[_note_key(section.title.text, draft)] = blocks_markdown(section.blocks)
        for child in groups:
            _phase(draft, child, context)
        return
    phase = DraftPhase(title, section.line, budget=budget)
    if section.blocks:
        phase.steps.extend(steps_of(title, section.line, section.blocks, context.executors, context.literals, context.channels, context.terminal))
    for child in section.children:
        phase.steps.extend(_section_steps(child, context))
    _add_phase(draft, phase, is_rollback)


def _leaf_phase(draft: Draft, leaves: list[Section], context: _Context) -> None:
    """Sections holding one step each ("## Check expiry", "## Back up") as the steps
    of one phase; a single one stays a phase of its own."""
    if len(leaves) == 1:
        _procedure_section(draft, leaves[0], context, False)
    elif leaves:
        phase = DraftPhase("Procedure", leaves[0].line)
        for leaf in leaves:
            phase.steps.extend(_section_steps(leaf, context))
        _add_phase(draft, phase, False)
    leaves.clear()


def _issue_phase(draft: Draft, issue: Section, context: _Context) -> None:
    """A troubleshooting issue as a phase (for guides made only of issues): sections
    without commands (symptom, cause) describe it, the commands of its fix are steps."""
    title = re.sub(r"^\s*(issue|problem)\s*[:\-]\s*", "", issue.title.text, flags=re.I)
    phase = DraftPhase(_one_line(title), issue.line)
    for part in issue.walk():
        runnable = any(_runnable_block(b) for b in part.blocks)
        if not runnable:
            text = blocks_markdown(part.blocks)
            if text.strip():
                phase.description.append(text if part is issue else f"{_one_line(part.title.text)}: {text}")
            continue
        name = _step_title(part.title.text) if part is not issue else phase.title
        phase.steps.extend(steps_of(name, part.line, part.blocks, context.executors, context.literals, context.channels, context.terminal))
    if not phase.steps:
        phase.steps.append(DraftStep(phase.title, "manual", {"prompt": "\n\n".join([phase.title, *phase.description])}, issue.line))
        phase.description = []
    _add_phase(draft, phase, False)


def _assign_ids(draft: Draft) -> None:
    used_phases: set[str] = set()
    used_steps: set[str] = set()
    for phase in [*draft.phases, *([draft.rollback] if draft.rollback else [])]:
        phase.id = phase.id or _unique(slug(phase.title, 30), used_phases)
        used_phases.add(phase.id)
        for step in phase.steps:
            if not step.id:
                step.id = _unique(slug(re.sub(r"\([^)]*\)", "", step.id_hint or step.title), 48), used_steps)
            used_steps.add(step.id)


def _unique(base: str, used: set[str]) -> str:
    candidate, n = base, 2
    while candidate in used or candidate in ("rollback", "prerequisites"):
        candidate, n = f"{base}-{n}", n + 1
    return candidate


def _downtime(draft: Draft) -> None:
    """``downtime: begins`` on the shutdown phase and ``ends`` on the startup after it."""
    begins = next((p for p in draft.phases if re.search(r"\b(shut\s?down|stop\w*|outage|downtime)\b", p.title, re.I)), None)
    if begins is None:
        return
    after = draft.phases[draft.phases.index(begins) + 1 :]
    ends = next((p for p in after if re.search(r"\b(start\s?up|start\w*|restor\w*|bring\w* up)\b", p.title, re.I)), None)
    if ends is not None:
        begins.downtime, ends.downtime = "begins", "ends"


# --- troubleshooting ------------------------------------------------------------------


def _troubleshooting(draft: Draft, section: Section) -> None:
    """Each issue goes to notes; steps it is about get a pointer; decision rules
    ("Error rate increasing: Immediate rollback") become decisions where a step
    detects the condition."""
    draft.notes[_note_key(section.title.text, draft)] = section_markdown(section)
    known = {(d.when, d.action) for d in draft.decisions}
    for issue in section.children or [section]:
        title = re.sub(r"^\s*(issue|problem|symptom)\s*[:\-]\s*", "", issue.title.text, flags=re.I)
        when, _ = tables.detect(title, draft.phases)
        if when:
            for step in _steps_in(when, draft):
                pointer = f"Troubleshooting: see notes, \"{_one_line(issue.title.text)}\"."
                if pointer not in step.description:
                    step.description.append(pointer)
        for condition, action in _rules(issue):
            decision = tables.decision(condition, action, None, draft.phases)
            if decision.when != "false" and (decision.when, decision.action) not in known:
                decision.comments.append(f"from troubleshooting: {_one_line(issue.title.text)}")
                draft.decisions.append(decision)
                known.add((decision.when, decision.action))


def _rules(issue: Section) -> list[tuple[str, str]]:
    rules: list[tuple[str, str]] = []
    for block in issue.blocks:
        if isinstance(block, ListBlock):
            for item in block.items:
                condition, sep, action = item.inline.text.partition(":")
                if sep and re.search(r"roll\s?-?back|abort", action, re.I):
                    rules.append((condition.strip(), action.strip()))
    return rules


def _steps_in(when: str, draft: Draft) -> list[DraftStep]:
    ids = set(re.findall(r"failed\([a-z0-9_-]+\.([a-z0-9_-]+)\)", when))
    globs = re.findall(r"failed\([a-z0-9_-]+\.([a-z0-9_-]+)\*\)", when)
    return [s for s in draft.all_steps() if s.id in ids or any(s.id.startswith(g) for g in globs)]


# --- vars, inventory, channels, template escaping ---------------------------------------

_TEMPLATE_START = re.compile(r"\{(?=[{%#])")
_NOT_TEMPLATED = frozenset({"query", "script", "params"})


def escape_template(text: str) -> str:
    """``text`` as a Jinja template that renders to itself (``{{``, ``{%``, ``{#``)."""
    return _TEMPLATE_START.sub("{% raw %}{{% endraw %}", text)


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if key not in _NOT_TEMPLATED:
                yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def _map_strings(value: Any, change: Any, key: str | None = None) -> Any:
    if isinstance(value, str):
        return change(value, key)
    if isinstance(value, dict):
        return {k: _map_strings(v, change, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_map_strings(v, change, key) for v in value]
    return value


def _vars(draft: Draft, found: list[LiteralVar], channels: dict[str, str]) -> None:
    steps = draft.all_steps()
    inventories = Counter(
        s.spec["inventory"] for s in steps if s.executor == "ansible" and isinstance(s.spec, dict) and "inventory" in s.spec
    )
    if inventories:
        draft.inventory = inventories.most_common(1)[0][0]
        for step in steps:
            if isinstance(step.spec, dict) and step.spec.get("inventory") == draft.inventory and step.executor == "ansible":
                del step.spec["inventory"]
    used = {name for step in steps for p in step.expect for name in re.findall(r"\bvars\.([A-Za-z_]\w*)", p)}
    dsns: dict[str, str] = {}

    def change(text: str, key: str | None) -> str:
        if key in _NOT_TEMPLATED:
            return escape_template(text)
        if key == "dsn":
            return "{{ " + _dsn_var(text, dsns) + " }}"
        out = substitute(escape_template(text), found)
        used.update(v.name for v in found if "{{ " + v.name + " }}" in out)
        return out

    for step in steps:
        step.spec = _map_strings(step.spec, change)
    literal_of = {v.name: v for v in found}
    for name in [v.name for v in found if v.name in used]:
        draft.vars[name] = dict(literal_of[name].spec)
    for dsn, name in dsns.items():
        draft.vars[name] = {
            "type": "string",
            "secret": True,
            "env": name.upper(),
            "default": dsn,
            "description": "Database to query (sqlite:///…, postgresql://…, mysql://…); add the password through the env var",
        }
    if channels:
        draft.vars["slack_webhook"] = {
            "type": "string",
            "secret": True,
            "env": "SLACK_WEBHOOK_URL",
            "required": False,
            "description": "Slack-compatible incoming webhook; without it messages go to the run log",
        }
        for name in channels:
            draft.notify[name] = {"webhook": "{{ slack_webhook | default('') }}", "fallback": "log"}


def _dsn_var(dsn: str, dsns: dict[str, str]) -> str:
    if dsn not in dsns:
        dsns[dsn] = "db_dsn" if not dsns else f"db_dsn_{len(dsns) + 1}"
    return dsns[dsn]
