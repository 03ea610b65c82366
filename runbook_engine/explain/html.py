"""The checklist as a standalone HTML page, for reviewers who read it in a browser or
attach it to a change ticket. Markdown → HTML is markdown-it-py's job (it comes with
rich); raw HTML in the runbook's text is escaped, never passed through."""

from __future__ import annotations

import html
import re

_STYLE = """
body { font: 15px/1.5 system-ui, sans-serif; max-width: 960px; margin: 2em auto; padding: 0 1em; }
table { border-collapse: collapse; } th, td { border: 1px solid #ccc; padding: .3em .6em; }
pre { background: #f5f5f5; padding: .6em; overflow-x: auto; } code { font-size: 90%; }
li.task { list-style: none; margin-left: -1.3em; } blockquote { border-left: 4px solid #9bb; margin-left: 0; padding-left: 1em; }
"""


def markdown_to_html(markdown: str, title: str) -> str:
    from markdown_it import MarkdownIt

    body = _checkboxes(MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown))
    return (
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>\n"
        f"<body>\n{body}</body></html>\n"
    )


_TASK = re.compile(r"<li>(<p>)?\[( |x)\] ")


def _checkboxes(body: str) -> str:
    """``- [ ] item`` as a real checkbox the reviewer can tick (``[x]`` ticked)."""
    return _TASK.sub(
        lambda m: f"<li class=\"task\">{m.group(1) or ''}<input type=\"checkbox\""
        + (" checked" if m.group(2) == "x" else "")
        + "> ",
        body,
    )
