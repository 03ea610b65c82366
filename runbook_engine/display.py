"""How structured values are written for people in `plan` and `explain`: like the
YAML they were written in (``url: http://…, hosts: app_tier``), never a Python repr
(``{'url': …}``, ``None``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


def value_text(value: Any) -> str:
    """A scalar, list or mapping in YAML flow style without the outer braces."""
    if isinstance(value, Mapping):
        return ", ".join(f"{k}: {_inner(v)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_inner(v) for v in value)
    return _scalar(value)


def _inner(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + value_text(value) + "}"
    if isinstance(value, list | tuple):
        return "[" + value_text(value) + "]"
    return _scalar(value)


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return f"{value:g}" if isinstance(value, float) else str(value)
    text = str(value)
    if text == "" or any(c in text for c in ",{}[]\n") or text.strip() != text:
        return json.dumps(text, ensure_ascii=False)
    return text
