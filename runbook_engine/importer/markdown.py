"""Markdown → a tree of sections and blocks, from markdown-it-py's token stream.

The importer never matches regular expressions over raw lines to find structure: a
fence inside a list item, a heading inside a code block or a table cell with a pipe
are the parser's business. What comes out is the small vocabulary the importer
reasons about: sections (headings with their content), paragraphs, fences, lists
(with `- [ ]` items recognised) and tables.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from markdown_it import MarkdownIt

#: Characters YAML (and the runbook loader) cannot carry raw, even quoted, and that a
#: procedure never means: C0/C1 controls except tab and newline, line separators.
_UNPRINTABLE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff\ud800-\udfff]")
_CHECKBOX = re.compile(r"^\[( |x|X)\]\s*")


@dataclass(frozen=True)
class Inline:
    """One run of inline Markdown: `text` without markup (code spans kept as their
    content), `source` as written, the code spans and link targets it holds."""

    text: str
    source: str
    codes: tuple[str, ...] = ()
    links: tuple[str, ...] = ()


@dataclass(frozen=True)
class Paragraph:
    inline: Inline
    line: int


@dataclass(frozen=True)
class Fence:
    """A fenced or indented code block; `lang` is the first word of the info string."""

    lang: str
    code: str
    line: int


@dataclass(frozen=True)
class ListItem:
    inline: Inline
    checked: bool | None  # None: not a checklist item
    blocks: tuple[Block, ...]
    line: int


@dataclass(frozen=True)
class ListBlock:
    ordered: bool
    items: tuple[ListItem, ...]
    line: int


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    line: int


Block = Paragraph | Fence | ListBlock | Table


@dataclass
class Section:
    """A heading and everything up to the next heading of the same or a higher level.
    Mutable only while the tree is being built."""

    level: int
    title: Inline
    line: int
    blocks: list[Block] = field(default_factory=list)
    children: list[Section] = field(default_factory=list)

    def walk(self) -> list[Section]:
        """This section and every section below it, in document order."""
        found = [self]
        for child in self.children:
            found.extend(child.walk())
        return found


def clean_text(text: str) -> str:
    """Line endings normalised, mojibake repaired, unprintable characters dropped,
    NFC: what any later stage (and the YAML it writes) can carry."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n").replace("\x85", "\n")
    text = _MOJIBAKE.sub(_repair, text)
    return unicodedata.normalize("NFC", _UNPRINTABLE.sub("", text))


#: Runs of the characters UTF-8 bytes turn into when read as Windows-1252
#: ("â€™" for "’", "ðŸš€" for "🚀"): a lead byte Â-ô followed by continuation bytes.
_CP1252_CONTINUATION = "\x80-\xbf\u0152\u0153\u0160\u0161\u0178\u017d\u017e\u0192\u02c6\u02dc\u2013\u2014\u2018-\u201e\u2020-\u2022\u2026\u2030\u2039\u203a\u20ac\u2122"
_MOJIBAKE = re.compile(f"[\u00c2-\u00f4][{_CP1252_CONTINUATION}]+")


def _repair(match: re.Match[str]) -> str:
    """The text a mojibake run stood for, or the run unchanged when it is not one."""
    run = match.group(0)
    try:
        return run.encode("cp1252").decode("utf-8")
    except UnicodeError:
        return run


_PARSER = MarkdownIt("commonmark").enable("table")
_FRONT_MATTER = re.compile(r"\A---[ \t]*\n(.*?\n)(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)


def front_matter(text: str) -> tuple[dict[str, str], str]:
    """YAML front matter (``---`` … ``---`` at the top) as text fields, and the rest.
    Anything that is not a plain mapping of scalars stays part of the document."""
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    import yaml

    try:
        data = yaml.safe_load(match.group(1))
    except yaml.YAMLError:
        return {}, text
    if not isinstance(data, dict):
        return {}, text
    fields = {str(k).lower(): " ".join(str(v).split()) for k, v in data.items() if isinstance(v, str | int | float) and not isinstance(v, bool)}
    return fields, text[match.end():]


def parse_markdown(text: str) -> Section:
    """The document as a root section (level 0, empty title) holding the tree."""
    tokens = _PARSER.parse(clean_text(text))
    root = Section(level=0, title=Inline("", ""), line=1)
    stack = [root]
    position = 0
    while position < len(tokens):
        token = tokens[position]
        if token.type == "heading_open":
            level = int(token.tag[1:])
            title = _inline(tokens[position + 1])
            section = Section(level=level, title=title, line=_line(token))
            while stack[-1].level >= level:
                stack.pop()
            stack[-1].children.append(section)
            stack.append(section)
            position += 3
            continue
        block, position = _block(tokens, position)
        if block is not None:
            stack[-1].blocks.append(block)
    return root


def _line(token: Any) -> int:
    return int(token.map[0]) + 1 if token.map else 0


def _block(tokens: list[Any], position: int) -> tuple[Block | None, int]:
    """The block starting at ``position`` and the position after it."""
    token = tokens[position]
    kind = token.type
    if kind == "paragraph_open":
        return Paragraph(_inline(tokens[position + 1]), _line(token)), _skip(tokens, position)
    if kind in ("fence", "code_block"):
        lang = (token.info or "").strip().split(" ")[0].lower() if kind == "fence" else ""
        return Fence(lang, token.content, _line(token)), position + 1
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _list(tokens, position)
    if kind == "table_open":
        return _table(tokens, position)
    if kind == "html_block":
        text = token.content.strip()
        return (Paragraph(Inline(text, text), _line(token)) if text else None), position + 1
    if kind.endswith("_open"):  # blockquote and the like: their content counts, not the frame
        return None, position + 1
    return None, position + 1


def _skip(tokens: list[Any], position: int) -> int:
    """Position after the token that closes the one at ``position``."""
    depth = 0
    while position < len(tokens):
        depth += tokens[position].nesting
        position += 1
        if depth <= 0:
            return position
    return position


def _list(tokens: list[Any], position: int) -> tuple[ListBlock, int]:
    opening = tokens[position]
    end = _skip(tokens, position)
    items: list[ListItem] = []
    cursor = position + 1
    while cursor < end - 1:
        if tokens[cursor].type != "list_item_open":
            cursor += 1
            continue
        item_end = _skip(tokens, cursor)
        items.append(_item(tokens, cursor, item_end))
        cursor = item_end
    return ListBlock(opening.type == "ordered_list_open", tuple(items), _line(opening)), end


def _item(tokens: list[Any], start: int, end: int) -> ListItem:
    blocks: list[Block] = []
    cursor = start + 1
    while cursor < end - 1:
        block, cursor = _block(tokens, cursor)
        if block is not None:
            blocks.append(block)
    inline = Inline("", "")
    if blocks and isinstance(blocks[0], Paragraph):
        inline = blocks.pop(0).inline  # type: ignore[union-attr]
    checked: bool | None = None
    match = _CHECKBOX.match(inline.source)
    if match:
        checked = match.group(1) != " "
        inline = Inline(
            _CHECKBOX.sub("", inline.text, count=1), inline.source[match.end():], inline.codes, inline.links
        )
    return ListItem(inline, checked, tuple(blocks), _line(tokens[start]))


def _table(tokens: list[Any], position: int) -> tuple[Table, int]:
    end = _skip(tokens, position)
    header: list[str] = []
    rows: list[list[str]] = []
    in_head = False
    for token in tokens[position:end]:
        if token.type in ("thead_open", "thead_close"):
            in_head = token.type == "thead_open"
        elif token.type == "tr_open" and not in_head:
            rows.append([])
        elif token.type == "inline":
            cell = _inline(token).text.strip()
            if in_head:
                header.append(cell)
            elif rows:
                rows[-1].append(cell)
    return Table(tuple(header), tuple(tuple(r) for r in rows), _line(tokens[position])), end


def _inline(token: Any) -> Inline:
    parts: list[str] = []
    codes: list[str] = []
    links: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "html_inline"):
            parts.append(child.content)
        elif child.type == "code_inline":
            parts.append(child.content)
            codes.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            parts.append("\n")
        elif child.type == "link_open":
            href = child.attrs.get("href")
            if isinstance(href, str):
                links.append(href)
        elif child.type == "image":
            parts.append(child.content)
    return Inline("".join(parts), token.content, tuple(codes), tuple(links))


def blocks_markdown(blocks: list[Block] | tuple[Block, ...], depth: int = 0) -> str:
    """Blocks written back as Markdown (for notes and descriptions)."""
    out: list[str] = []
    pad = "  " * depth
    for block in blocks:
        if isinstance(block, Paragraph):
            out.append("\n".join(pad + line for line in block.inline.source.split("\n")))
        elif isinstance(block, Fence):
            out.append(f"{pad}```{block.lang}\n" + "".join(pad + line + "\n" for line in block.code.rstrip("\n").split("\n")) + f"{pad}```")
        elif isinstance(block, ListBlock):
            lines = []
            for number, item in enumerate(block.items, 1):
                mark = f"{number}." if block.ordered else "-"
                box = "" if item.checked is None else ("[x] " if item.checked else "[ ] ")
                lines.append(f"{pad}{mark} {box}{item.inline.source}".rstrip())
                if item.blocks:
                    lines.append(blocks_markdown(item.blocks, depth + 1))
            out.append("\n".join(lines))
        elif isinstance(block, Table):
            rows = ["| " + " | ".join(block.header) + " |", "|" + "---|" * len(block.header)]
            rows.extend("| " + " | ".join(row) + " |" for row in block.rows)
            out.append("\n".join(pad + row for row in rows))
    return "\n\n".join(part for part in out if part.strip())


def section_markdown(section: Section, depth: int = 0) -> str:
    """A section and its subsections as Markdown, headings one level per depth."""
    parts = [blocks_markdown(section.blocks)]
    for child in section.children:
        parts.append("#" * min(6, depth + 3) + " " + child.title.source + "\n\n" + section_markdown(child, depth + 1))
    return "\n\n".join(part for part in parts if part.strip())
