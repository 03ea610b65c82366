"""Sections of a procedure → phases and steps.

A step section ("#### 1.1 Verify Deployment Package") gives one step per command
group of its fences (a comment line starts a group), plus what the paragraphs
around them say: expectations, "❌ … rollback", cautions and tips. Sections without
commands become manual steps, so nothing the procedure asks a person to do is lost.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from runbook_engine.importer import expectations
from runbook_engine.importer.commands import CommandContext, Translation, recognize
from runbook_engine.importer.draft import DraftStep
from runbook_engine.importer.markdown import (
    Block,
    Fence,
    Inline,
    ListBlock,
    ListItem,
    Paragraph,
    Table,
    blocks_markdown,
)
from runbook_engine.importer.script import Command, Comment, split_script

SHELL_LANGS = frozenset({"bash", "sh", "shell", "console", "zsh", "ksh", "shell-session", "shellsession", "terminal", "bash-session"})
_NOT_SHELL = frozenset({"powershell", "ps1", "pwsh", "cmd", "bat", "batch", "dos"})
_TEXT_LANGS = frozenset({"text", "txt", "plain", "plaintext", "output", "log", "json", "yaml", "yml", "ini", "toml", "xml", "html", "diff", "python", "py", "javascript", "js", "go", "ruby", "sql", "hcl", "terraform", "dockerfile"})
_SLACK = re.compile(r"\b(slack|post|announce|notify|notification|message)\b|#[a-z0-9][a-z0-9_-]*", re.I)
_CHANNEL = re.compile(r"#([a-z0-9][a-z0-9_-]*)", re.I)
_CONDITIONAL = re.compile(r"^\s*(only\s+)?if\b|\((if [^)]*|optional|when [^)]*)\)", re.I)
_HANDOFF = re.compile(r"\b(hand\s*-?\s*(off|over)|handoff|wait(ing)?\s+(for|until)\s+(the\s+)?[\w\s-]*(team|confirm\w*|approv\w*|sign-?off|ack\w*)|(confirm|approv|sign)\w*\s+(from|by)\s+(the\s+)?[\w\s-]*team)\b", re.I)
_WAIT = re.compile(r"\bwait\s+(?:for\s+)?(?:about\s+|approximately\s+|~)?(\d+)(?:\s*-\s*(\d+))?\s*(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h)\b", re.I)
_PROGRAM = re.compile(r"^(sudo\s+)?[A-Za-z0-9_./~-]+(\s|$)")
_KNOWN_PROGRAMS = frozenset(
    ["ansible", "ansible-playbook", "ssh", "scp", "rsync", "curl", "wget", "psql", "mysql", "systemctl", "service", "docker", "kubectl", "helm", "cd", "ls", "cat", "tail", "head", "grep", "echo", "tar", "sha256sum", "md5sum", "sleep", "mkdir", "rm", "cp", "mv", "chmod", "chown", "find", "df", "du", "ps", "kill", "pkill", "top", "free", "uptime", "git", "make", "python", "python3", "pip", "journalctl", "sed", "awk", "test", "export", "source", "./", "sh", "bash", "terraform", "aws", "gcloud", "az", "nginx", "apachectl", "redis-cli", "mongo", "mongosh", "pg_dump", "pg_restore", "mysqldump", "openssl", "ping", "nc", "dig", "nslookup", "ip", "ifconfig", "netstat", "ss", "lsof", "touch", "date", "crontab", "su", "sudo"]
)


def unit_fits(text: str) -> bool:
    """Whether a code block without a language reads as shell commands."""
    for line in text.split("\n"):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        stripped = re.sub(r"^\$\s+", "", stripped)
        word = stripped.split()[0] if stripped.split() else ""
        word = word.split("/")[-1] if word.startswith(("./", "/")) else word
        scripted = word.endswith((".sh", ".py", ".rb", ".pl", ".ps1")) and len(stripped.split()) > 1
        return bool(_PROGRAM.match(stripped)) and (word in _KNOWN_PROGRAMS or scripted or stripped.startswith(("./", "/", "sudo ")))
    return False


@dataclass
class StepSource:
    """What the builder knows while it reads one step section: the steps so far,
    the steps of the last fence (expectations attach to them), the running
    ``cd``/``ssh`` context, and prose waiting for a step."""

    title: str
    line: int
    executors: frozenset[str]
    steps: list[DraftStep] = field(default_factory=list)
    last_fence: list[DraftStep] = field(default_factory=list)
    prose: list[str] = field(default_factory=list)
    todos: list[str] = field(default_factory=list)
    context: CommandContext = field(default_factory=CommandContext)
    remote_cwd: str | None = None
    next_fence: str | None = None  # "sample" or "example", from an "Expected Output:" lead-in
    #: A "Step N: …" paragraph waiting for its commands: (title, text).
    heading: tuple[str, str] | None = None
    section: str = ""
    literals: dict[str, str] = field(default_factory=dict)
    channels: dict[str, str] = field(default_factory=dict)


@dataclass
class Terminal:
    """The operator's shell across the whole procedure: a ``cd`` in step 1.2 still
    holds in step 2.1, as it would in the terminal the procedure was written for."""

    cwd: str | None = None


def steps_of(
    title: str,
    line: int,
    blocks: Sequence[Block],
    executors: frozenset[str],
    literals: dict[str, str],
    channels: dict[str, str],
    terminal: Terminal | None = None,
) -> list[DraftStep]:
    """The steps of one step section (its title without the number)."""
    terminal = terminal if terminal is not None else Terminal()
    source = StepSource(title, line, executors, literals=literals, channels=channels, section=title)
    source.context = CommandContext(cwd=terminal.cwd, executors=executors)
    if _CONDITIONAL.search(title):
        source.todos.append(f"the procedure does this only in some cases ({title}): add a `when:` or drop the step")
    for block in blocks:
        _block(source, block)
    _flush_heading(source)
    terminal.cwd = source.context.cwd
    return _finish(source)


def _flush_heading(source: StepSource) -> None:
    """A "Step N:" paragraph no command followed: a manual step of its own."""
    if source.heading is not None:
        title, text = source.heading
        source.heading = None
        step = _manual(source, title, text, source.line)
        step.id_hint = title
        _add(source, step)
    source.title = source.section


def _add(source: StepSource, step: DraftStep) -> None:
    """Append ``step``; prose and conditions written before it introduce it."""
    source.heading = None
    if source.title != source.section and not step.id_hint:
        if any(s.title == step.title for s in source.steps):
            step.title = f"{step.title} — {_gist(step)}"
        step.id_hint = step.title  # titled by its own "Step N:" line
    step.description[:0] = [p for p in source.prose if p.strip()]
    source.prose = []
    for todo in source.todos:
        step.add_todo(todo)
    source.todos = []
    source.steps.append(step)


def _block(source: StepSource, block: Block) -> None:
    if isinstance(block, Paragraph):
        _paragraph(source, block.inline)
    elif isinstance(block, Fence):
        _fence(source, block)
    elif isinstance(block, ListBlock):
        _list(source, block)
    elif isinstance(block, Table) and not _command_table(source, block):
        source.prose.append(blocks_markdown([block]))


_COMMAND_COLUMN = re.compile(r"^(command|commands|cmd|run|shell|how)$", re.I)
_EXPECT_COLUMN = re.compile(r"^(expected|expect|expected (output|result)|result|output|success)$", re.I)


def _command_table(source: StepSource, table: Table) -> bool:
    """A table with a Command column: one step per row, titled by its first other
    column, its Expected column read as the expectation."""
    header = [h.strip(" *_") for h in table.header]
    command_col = next((i for i, h in enumerate(header) if _COMMAND_COLUMN.match(h)), None)
    if command_col is None:
        return False
    expect_col = next((i for i, h in enumerate(header) if _EXPECT_COLUMN.match(h)), None)
    title_col = next((i for i in range(len(header)) if i not in (command_col, expect_col)), None)
    parent = source.title
    for row in table.rows:
        cells = list(row) + [""] * (len(header) - len(row))
        command = cells[command_col].strip()
        if not command:
            continue
        source.title = cells[title_col].strip() if title_col is not None and cells[title_col].strip() else parent
        made = _commands(source, Fence("bash", command, table.line))
        for step in made:
            step.id_hint = step.id_hint or step.title
        source.last_fence = made
        if expect_col is not None and cells[expect_col].strip() and made:
            expected = cells[expect_col].strip()
            text = expected if expectations.kind_of(expected) == "expected" else f"Expected: {expected}"
            _apply(made[-1:], expectations.phrase(text, (), source.literals, _fanout(made[-1])), text)
    source.title = parent
    return True


_MARKER_LINE = re.compile(r"^\s*(✅|✔|☑|❌|✖|⛔|⚠|❗|🛑|💡|ℹ)")


def _paragraph(source: StepSource, inline: Inline) -> None:
    """A paragraph, or each of its lines that starts with its own ✅/❌/⚠️ marker."""
    lines = inline.text.strip().split("\n")
    if len(lines) > 1 and sum(1 for line in lines if _MARKER_LINE.match(line)) > 1:
        groups: list[list[str]] = []
        for line in lines:
            if _MARKER_LINE.match(line) or not groups:
                groups.append([line])
            else:
                groups[-1].append(line)
        for group in groups:
            text = "\n".join(group)
            codes = tuple(code for code in inline.codes if code in text)
            _one_paragraph(source, Inline(text, text, codes, ()))
        return
    _one_paragraph(source, inline)


_STEP_PARAGRAPH = re.compile(r"^\s*step\s+\d+[a-z]?\s*[:.)\-–—]\s*", re.I)


_ADMONITION = re.compile(r"^\[!(note|tip|important|warning|caution)\]\s*", re.I)
_ADMONITION_MARK = {"note": "ℹ️ Note: ", "tip": "💡 Tip: ", "important": "⚠️ Important: ", "warning": "⚠️ Warning: ", "caution": "⚠️ Caution: "}


def _one_paragraph(source: StepSource, inline: Inline) -> None:
    text = inline.text.strip()
    admonition = _ADMONITION.match(text)
    if admonition:
        text = _ADMONITION_MARK[admonition.group(1).lower()] + text[admonition.end():].replace("\n", " ")
        inline = Inline(text, text, inline.codes, inline.links)
    if not text:
        return
    step_label = _STEP_PARAGRAPH.match(text)
    if step_label:
        _flush_heading(source)
        rest = text[step_label.end():]
        item = ListItem(Inline(rest, rest, inline.codes, inline.links), None, (), 0)
        if any(unit_fits(c) or _LOOSE_COMMAND.match(c) for c in inline.codes):
            _ordered_item(source, item, None, lenient=True)
        else:
            label = _short(rest.rstrip(":")) or source.section
            source.heading = (label, rest)  # "Step 2: Reload nginx:" names the commands that follow
            source.title = label
        return
    kind = expectations.kind_of(text)
    if kind == "expected" and text.endswith(":") and not re.search(r":\s*\S", text[:-1]):
        kind = "prose"  # "Verify that the site answers:" introduces the next block
    if kind in ("sample", "example"):
        source.next_fence = kind
        return
    source.next_fence = None
    targets = source.last_fence or source.steps[-1:]
    if kind == "expected" and targets:
        generic = expectations.phrase(text, inline.codes, source.literals, True)
        host_wide = bool(generic.candidates) and not re.search(r"stdout|json|status ==|checksum", " ".join(generic.candidates[0]))
        applies = targets if host_wide and re.search(r"\ball\s+hosts\b", text, re.I) else targets[-1:]
        for step in applies:
            _apply([step], expectations.phrase(text, inline.codes, source.literals, _fanout(step)), text)
        return
    if kind == "failure" and targets:
        step = targets[-1]
        step.comments.append(f"on failure, the procedure says: {text}")
        if expectations.wants_rollback(text):
            step.on_failure = "rollback"
        return
    if kind in ("caution", "tip") and targets:
        targets[-1].description.append(text)
        if re.search(r"\bverify\b", text, re.I):
            targets[-1].add_todo(f"the procedure asks to check this by hand: {text}")
        return
    if _CONDITIONAL.match(text):
        source.todos.append(f"the procedure does this only in some cases ({text.rstrip(':')}): add a `when:` or drop the step")
    source.prose.append(text)


def _apply(steps: Sequence[DraftStep], phrase: expectations.Expectation, text: str) -> None:
    """Attach the first candidate that fits each step; a TODO where none does."""
    for step in steps:
        if not phrase.candidates:
            if step.expect:
                step.comments.append(f"also expected: {text}")
            else:
                step.add_todo(f"expected: {text}")
            continue
        chosen = next((c for c in phrase.candidates if all(fits(p, step) for p in c)), None)
        if chosen is None:
            step.add_todo(f"expected: {text} (no predicate of this step's executor says it)")
            continue
        for predicate in chosen:
            if predicate not in step.expect:
                step.expect.append(predicate)
        step.expect_sources.append(text)
        if phrase.partial:
            step.add_todo(f"the expectation says more than the predicate checks: {text}")


def _fanout(step: DraftStep) -> bool:
    return step.hosts is not None or step.executor == "ansible"


#: The only root the importer's predicates read (``vars.version``); lint accepts more.
_ROOTS = frozenset({"vars"})


def fits(predicate: str, step: DraftStep) -> bool:
    """Whether ``predicate`` lints clean on ``step``: it parses with the executor's
    named checks and names only fields the executor reports (lint's own check)."""
    from runbook_engine.errors import PredicateError
    from runbook_engine.executors.registry import executor_classes
    from runbook_engine.predicates import check_names, parse

    cls = executor_classes().get(step.executor)
    if cls is None:
        return False
    if step.executor == "ansible" and isinstance(step.spec, dict) and "playbook" in step.spec and "stdout" in predicate:
        return False  # a playbook reports recap counts per host, not output
    if not step.hosts and step.executor != "ansible" and re.search(r"\b(all|any|none)\b|on all hosts", predicate):
        return False  # no fan-out: quantifiers would read as the step as a whole
    try:
        expr = parse(predicate, checks=dict(getattr(cls, "checks", {}) or {}))
    except PredicateError:
        return False
    fields = dict(getattr(cls, "fields", {}) or {})
    host_fields = dict(getattr(cls, "host_fields", {}) or {})
    return not check_names(expr, fields, host_fields, _ROOTS)


def _fence(source: StepSource, fence: Fence) -> None:
    lead, source.next_fence = source.next_fence, None
    if lead is not None:
        targets = source.last_fence[-1:] or source.steps[-1:]
        if lead == "sample" and targets:
            sample = expectations.output(fence.code, source.literals, _fanout(targets[-1]))
            _apply(targets, sample, "output like:\n" + fence.code.rstrip())
        elif targets:
            targets[-1].description.append("Example output:\n" + fence.code.rstrip())
        else:
            source.prose.append("Example output:\n" + fence.code.rstrip())
        return
    lang = fence.lang
    if lang in _NOT_SHELL:
        step = _manual(source, f"{source.title}: run these {lang} commands", fence.code.rstrip(), fence.line)
        step.add_todo(f"{lang} commands: no executor runs them here; run them by hand or through ssh/shell")
        _add(source, step)
        source.last_fence = [step]
        return
    if lang in SHELL_LANGS or (lang == "" and unit_fits(fence.code)):
        source.last_fence = _commands(source, fence)
        return
    if lang == "" and _quoted_message(fence.code) is not None:
        message = _quoted_message(fence.code)
        assert message is not None
        step = _notify(source, message, source.title, fence.line)
        _add(source, step)
        source.last_fence = [step]
        return
    source.prose.append(f"```{lang}\n{fence.code.rstrip()}\n```")


def _quoted_message(code: str) -> str | None:
    """The message of a block that is one quoted string (a chat message to post)."""
    lines = [line for line in code.strip().split("\n") if not line.strip().startswith("#")]
    text = "\n".join(lines).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'" and text.count(text[0]) == 2:
        return "\n".join(line.rstrip() for line in text[1:-1].split("\n")).strip("\n")
    return None


def _commands(source: StepSource, fence: Fence) -> list[DraftStep]:
    """Steps of a shell fence: one per comment-led group; consecutive plain commands
    of a group share one shell step."""
    made: list[DraftStep] = []
    heading: str | None = None
    pending_comments: list[str] = []
    items = split_script(fence.code, fence.line + 1)
    for position, item in enumerate(items):
        if isinstance(item, Comment):
            following = items[position + 1] if position + 1 < len(items) else None
            if isinstance(following, Command) and _is_message(following):
                pending_comments.append(item.text)
                continue
            if isinstance(following, Command) or following is None and not made:
                heading = item.text or heading
            elif made:
                made[-1].description.append(item.text)
            else:
                pending_comments.append(item.text)
            continue
        step = _command_step(source, item, heading, pending_comments, made)
        if step is not None:
            made.append(step)
            _add(source, step)
        pending_comments = []
    if not made and pending_comments:
        source.prose.extend(pending_comments)
    source.context = replace(source.context, remote_host=None)  # an ssh session ends with its block
    source.remote_cwd = None
    for step in made:
        step.mergeable = False
    return made


def _is_message(command: Command) -> bool:
    return _quoted_message(command.text) is not None


def _command_step(
    source: StepSource, command: Command, heading: str | None, comments: list[str], made: list[DraftStep]
) -> DraftStep | None:
    argv = command.argv or ()
    title = heading or source.title
    if _is_message(command):
        message = _quoted_message(command.text)
        assert message is not None
        hint = " ".join([*comments, heading or "", source.title])
        return _notify(source, message, title if heading and not _CHANNEL.search(heading) else source.title, command.line, hint)
    if argv and argv[0] == "cd" and len(argv) <= 2 and not command.compound:
        target = argv[1] if len(argv) == 2 else "~"
        if source.context.remote_host:
            source.remote_cwd = target if target.startswith("/") else f"{source.remote_cwd or '~'}/{target}"
        else:
            source.context = replace(source.context, cwd=source.context.resolve(target))
        return None
    if argv and argv[0] == "ssh" and not command.compound:
        translation = recognize(command, source.context)
        if translation is None:
            host = _interactive_host(argv)
            if host:
                source.context = replace(source.context, remote_host=host)
                source.remote_cwd = None
                return None
    elif argv and argv[0] in ("exit", "logout") and source.context.remote_host:
        source.context = replace(source.context, remote_host=None)
        return None
    else:
        translation = recognize(command, source.context)
    if translation is not None and translation.executor not in source.executors:
        translation = None
    if translation is None:
        return _plain(source, command, title, made)
    return _translated(source, translation, title, command)


def _interactive_host(argv: Sequence[str]) -> str | None:
    rest = [a for a in argv[1:]]
    while rest and rest[0].startswith("-"):
        flag = rest.pop(0)
        if flag in ("-i", "-p", "-l", "-o", "-F", "-J") and rest:
            rest.pop(0)
    if len(rest) == 1:
        return rest[0].rpartition("@")[2]
    return None


def _plain(source: StepSource, command: Command, title: str, made: list[DraftStep]) -> DraftStep | None:
    """A command no recognizer knows: a shell step, or an ssh step inside an
    interactive ``ssh HOST`` session; merged into the previous one of its group."""
    text = command.text
    remote = source.context.remote_host
    previous = made[-1] if made else None
    if remote:
        full = f"cd {source.remote_cwd} && {text}" if source.remote_cwd else text
        if previous is not None and previous.mergeable and previous.executor == "ssh" and previous.hosts == remote and previous.title == title:
            previous.spec = f"{previous.spec} && {text}"
            return None
        step = DraftStep(title, "ssh", full, command.line, hosts=remote, mergeable=True)
        step.comments.append(f"the procedure runs this in an interactive `ssh {remote}` session")
        return step
    cwd = source.context.cwd
    if previous is not None and previous.mergeable and previous.executor == "shell" and previous.title == title and _cwd(previous) == cwd:
        if isinstance(previous.spec, dict):
            previous.spec["command"] = f"{previous.spec['command']} && {text}"
        else:
            previous.spec = f"{previous.spec} && {text}"
        note = "separate lines of the procedure, joined with && so a failure stops the step"
        if note not in previous.comments:
            previous.comments.append(note)
        return None
    spec: Any = {"command": text, "cwd": cwd} if cwd else text
    return DraftStep(title, "shell", spec, command.line, mergeable=True)


def _cwd(step: DraftStep) -> str | None:
    return step.spec.get("cwd") if isinstance(step.spec, dict) else None


def _translated(source: StepSource, translation: Translation, title: str, command: Command) -> DraftStep:
    step = DraftStep(title, translation.executor, translation.spec, command.line, hosts=translation.hosts)
    for todo in translation.todos:
        step.add_todo(todo)
    step.comments.extend(translation.notes)
    if translation.executor == "shell" and source.context.cwd:
        step.spec = {"command": translation.spec, "cwd": source.context.cwd}
    return step


def _notify(source: StepSource, message: str, title: str, line: int, hint: str = "") -> DraftStep:
    channel_match = _CHANNEL.search(hint)
    channel = "log"
    step = DraftStep(title, "notify", {}, line)
    if channel_match and re.search(r"\bslack\b|#", hint, re.I):
        name = channel_match.group(1).lower()
        source.channels.setdefault(name, f"#{channel_match.group(1)}")
        channel = name
    else:
        step.add_todo("the procedure does not say where this message goes: declare a channel under notify:")
    placeholders = re.findall(r"\[[^\]\n]{1,40}\]", message)
    if placeholders:
        step.add_todo(f"fill in the placeholders of the message: {', '.join(dict.fromkeys(placeholders))}")
    step.spec = {"channel": channel, "message": message}
    return step


def _list(source: StepSource, block: ListBlock) -> None:
    checklist = [item for item in block.items if item.checked is not None]
    if checklist:
        prompt = f"{source.title}: confirm each item\n" + "\n".join(f"- [ ] {_item_text(i)}" for i in checklist)
        _add(source, _manual(source, source.title, prompt, block.line))
        source.last_fence = source.steps[-1:]
        return
    runnable = [item for item in block.items if _item_commands(item)]
    if block.ordered and runnable:
        for number, item in enumerate(block.items, 1):
            _ordered_item(source, item, number)
        return
    if any(isinstance(b, Fence) for item in block.items for b in item.blocks):
        for item in block.items:
            _ordered_item(source, item, None)
        return
    source.prose.append(blocks_markdown([block]))


def _item_text(item: ListItem) -> str:
    return " ".join(item.inline.text.split())


_RUN_VERB = re.compile(r"^\s*(run|execute|exec|type|enter|invoke|issue|call)\b", re.I)
_LOOSE_COMMAND = re.compile(r"^[a-z][a-z0-9_.-]*(\s+\S+)+$")


def _without_codes(item: ListItem, lenient: bool = False) -> str:
    """The instruction without its command spans: "Compress them: `gzip …`" → "Compress them"."""
    text = item.inline.text
    for code in item.inline.codes:
        if unit_fits(code) or lenient and _LOOSE_COMMAND.match(code):
            text = text.replace(code, "")
    text = re.sub(r"\s+(with|using|via|by running|by|run|:)\s*$", "", " ".join(text.split()).strip(" :-–—"), flags=re.I)
    return text.strip(" :-–—")


_ANNOUNCE = re.compile(r"^(announce|post|notify|send|tell)\b.*?#([a-z0-9][a-z0-9_-]*)\b.*?[\"“](.+)[\"”]\s*$", re.I)


def _item_step(source: StepSource, title: str, text: str, line: int) -> DraftStep:
    """A numbered instruction without a command: a message to post, or a manual step."""
    match = _ANNOUNCE.match(text)
    wait = _WAIT.search(text)
    if match:
        step = _notify(source, match.group(3), title.split(":")[0].strip() or title, line, f"slack #{match.group(2)}")
    elif wait and not _HANDOFF.search(text) and not re.search(r"\b(until|while)\b", text, re.I):
        step = DraftStep(title, "wait", _wait_value(wait), line, description=[text])
    else:
        step = _manual(source, title, text, line)
    step.id_hint = step.title
    return step


def _item_commands(item: ListItem) -> list[str]:
    """Inline code of a list item that reads as a command ("Run `systemctl stop app`")."""
    found = [code for code in item.inline.codes if unit_fits(code)]
    for block in item.blocks:
        if isinstance(block, Fence) and (block.lang in SHELL_LANGS or block.lang == "" and unit_fits(block.code)):
            found.append(block.code)
        elif isinstance(block, ListBlock):
            for sub in block.items:
                found.extend(_item_commands(sub))
    return found


def _ordered_item(source: StepSource, item: ListItem, number: int | None, lenient: bool = False) -> None:
    """One numbered instruction: its inline commands and fences become steps titled
    by the instruction; nested lists are read the same way. ``lenient`` (a "Step N:"
    paragraph) also takes ``certbot renew …`` for a command: any code span of two
    words or more that starts with a program-like word."""
    text = _item_text(item).rstrip(":")
    lenient = lenient or bool(_RUN_VERB.match(text))
    parent_title = source.title
    label = _short(_without_codes(item, lenient))
    if not label or _RUN_VERB.fullmatch(label):
        label = parent_title  # "Run `…`": the section says what it is for
    source.title = label
    fence_steps: list[DraftStep] = []
    for code in item.inline.codes:
        if unit_fits(code) or lenient and _LOOSE_COMMAND.match(code):
            fence_steps.extend(_commands(source, Fence("bash", code, item.line)))
    if not fence_steps and not any(isinstance(b, Fence | ListBlock) for b in item.blocks) and text:
        _add(source, _item_step(source, label, text, item.line))
        source.last_fence = source.steps[-1:]
    else:
        source.last_fence = fence_steps
        if fence_steps and text:
            fence_steps[0].description.append(text)
    first = len(source.steps)
    for block in item.blocks:
        if isinstance(block, ListBlock) and block.ordered:
            for sub_number, sub in enumerate(block.items, 1):
                _ordered_item(source, sub, sub_number)
            source.title = label
        else:
            _block(source, block)
    for step in source.steps[first:]:
        if step.title == label and not step.id_hint:
            step.id_hint = label  # titled by its own instruction, not by the section
    for step in fence_steps:
        step.id_hint = step.id_hint or step.title
    source.title = parent_title


def _short(text: str) -> str:
    """A title from an instruction: its first sentence, at most 80 characters."""
    first = re.split(r"(?<=[.!?])\s|\n", text.strip(), maxsplit=1)[0]
    first = re.sub(r"`", "", first)
    return first if len(first) <= 80 else first[:77].rsplit(" ", 1)[0] + "…"


def _manual(source: StepSource, title: str, prompt: str, line: int) -> DraftStep:
    return DraftStep(title, "manual", {"prompt": prompt.strip() or title}, line)


def _titles(section_title: str, steps: list[DraftStep]) -> None:
    """The section's title names its steps: alone, a step takes it (its comment
    becomes the description); several keep their comments after it."""
    if len(steps) == 1:
        step = steps[0]
        if step.title != section_title:
            step.description.insert(0, step.title)
            step.title = section_title
        return
    short = " ".join(re.sub(r"\([^)]*\)", "", section_title).split()[:3])
    alike = sum(1 for s in steps if s.title == section_title)
    for step in steps:
        if step.id_hint:
            continue
        if step.title != section_title and not step.title.startswith(section_title):
            step.id_hint = f"{short} {step.title}"
            step.title = f"{section_title} — {step.title}"
        elif step.title == section_title and alike > 1:
            what = _gist(step)
            step.id_hint = f"{short} {what}"
            step.title = f"{section_title} — {what}"


def _gist(step: DraftStep) -> str:
    """A few words that tell a step from its siblings: the program and its target."""
    spec = step.spec
    if step.executor == "wait":
        return f"wait {spec}"
    if step.executor == "ansible" and isinstance(spec, dict):
        if "playbook" in spec:
            extra = " ".join(f"{k}={v}" for k, v in list(dict(spec.get("extra_vars") or {}).items())[:1])
            return f"{spec['playbook'].rsplit('/', 1)[-1]} {extra}".strip()
        return f"ansible {spec.get('module', '')}"
    if step.executor == "http" and isinstance(spec, dict):
        return f"{spec.get('method', 'GET')} {spec.get('url', '')}"[:60]
    if step.executor == "copy" and isinstance(spec, dict):
        return f"copy {str(spec.get('src', '')).rstrip('/').rsplit('/', 1)[-1]}"
    if step.executor in ("shell", "ssh"):
        command = spec.get("command", "") if isinstance(spec, dict) else str(spec)
        return " ".join(command.replace('"', " ").replace("'", " ").split()[:2])[:40]
    return step.executor


def _wait_value(match: re.Match[str]) -> str:
    """The duration of "wait 3-4 hours" (the longer bound) as a wait value."""
    return f"{int(match.group(2) or match.group(1))}{match.group(3)[0].lower()}"


def _finish(source: StepSource) -> list[DraftStep]:
    """Prose attached to the first step; a manual step when there was nothing to run."""
    prose = [p for p in source.prose if p.strip()]
    steps = source.steps
    if not steps:
        text = "\n\n".join(prose)
        wait = _WAIT.search(text) or _WAIT.search(source.title)
        if _HANDOFF.search(text) or _HANDOFF.search(source.title):
            step = _manual(source, source.title, f"{source.title}\n\n{text}".strip(), source.line)
            step.comments.append("a hand-off: the run pauses durably until someone confirms (`runbook resume --confirm`)")
        elif wait and not re.search(r"\b(until|while)\b", text, re.I):
            step = DraftStep(source.section, "wait", _wait_value(wait), source.line)
            if text:
                step.description.append(text)
        else:
            step = _manual(source, source.title, f"{source.title}\n\n{text}".strip(), source.line)
        steps = [step]
        prose = []
    if prose:
        steps[-1].description.extend(prose)
    _titles(source.section, steps)
    for todo in source.todos:
        steps[-1].add_todo(todo)
    return steps
