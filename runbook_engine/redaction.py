"""Removal of secret values from anything the engine shows or stores.

A secret leaks in more shapes than its plain text: inside a URL it is percent-encoded,
inside an ``Authorization: Basic`` header it is base64 at any byte alignment, in a
command it is shell-quoted, in JSON and in error messages it is escaped (``repr``),
and a multi-line secret is printed one line at a time. The ``Redactor`` matches every
one of those shapes, for the whole value and for each of its lines, and replaces it by
``***``. Text is masked before it is cut (``clip``), so truncation never leaves a
readable piece of a secret.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"

#: Shortest base64 fragment worth matching: shorter fragments of an embedded secret
#: would mask unrelated text while adding no protection.
_MIN_B64_FRAGMENT = 4
#: Shortest line of a multi-line secret masked on its own (a line such as ``}`` would
#: otherwise mask every brace of every output).
MIN_LINE = 4


class Redactor:
    """Replaces every secret value, and its encoded forms, by ``***``."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = frozenset(s for s in secrets if isinstance(s, str) and s)
        forms: set[str] = set()
        for secret in self.secrets:
            forms.update(_forms(secret))
            for line in secret.splitlines():
                if len(line) >= MIN_LINE and line != secret:
                    forms.update(_forms(line))
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._pattern = re.compile("|".join(re.escape(f) for f in ordered)) if ordered else None

    def __bool__(self) -> bool:
        return self._pattern is not None

    def __call__(self, text: str) -> str:
        if self._pattern is None or not text:
            return text
        return self._pattern.sub(MASK, text)

    def clip(self, text: str, limit: int, marker: str = "…") -> str:
        """``text`` masked, then cut to ``limit`` characters (never the other way round,
        which would leave the first characters of a secret readable)."""
        masked = self(text)
        return masked if len(masked) <= limit else masked[:limit] + marker

    def redact_obj(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value (mapping keys too)."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self(value)
        if isinstance(value, Mapping):
            return {
                (self(k) if isinstance(k, str) else k): self.redact_obj(v) for k, v in value.items()
            }
        if isinstance(value, list):
            return [self.redact_obj(v) for v in value]
        if isinstance(value, tuple):
            return tuple(self.redact_obj(v) for v in value)
        if isinstance(value, (set, frozenset)):
            return [self.redact_obj(v) for v in value]
        return value


def _repr_forms(secret: str) -> set[str]:
    """The secret as it stands inside ``repr()`` of a longer text, whichever quote
    Python picks for that text (it escapes ``'`` only when it must)."""
    both = repr(secret + "'\"")[1:-4]  # both quotes in the text: ' delimits, \' escaped
    single = repr(secret + "'")[1:-1]
    single = single[:-2] if single.endswith("\\'") else single[:-1]
    return {both, single, repr(secret)[1:-1], repr(secret.encode("utf-8"))[2:-1]}


def _forms(secret: str) -> set[str]:
    """The plain, quoted, escaped, percent-encoded and base64 shapes a secret can take."""
    forms = {secret, shlex.quote(secret), re.sub(r'([\\$`"])', r"\\\1", secret)}
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms.add(re.sub(r"([\\$`])", r"\\\1", secret))  # in an unquoted here-document
    forms.update(_repr_forms(secret))
    for encoded in (quote(secret, safe=""), quote(secret), quote_plus(secret)):
        forms.add(encoded)
        forms.add(re.sub(r"%[0-9A-F]{2}", lambda m: m.group(0).lower(), encoded))
    raw = secret.encode("utf-8")
    for offset in range(3):
        encoded_b64 = base64.b64encode(b"\0" * offset + raw).decode("ascii").rstrip("=")
        # Characters wholly determined by the secret's bits, whatever precedes it.
        start = -(-8 * offset // 6)
        end = (8 * (offset + len(raw))) // 6
        fragment = encoded_b64[start:end]
        if len(fragment) >= _MIN_B64_FRAGMENT:
            forms.add(fragment)
            forms.add(fragment.replace("+", "-").replace("/", "_"))
    whole = base64.b64encode(raw).decode("ascii")
    forms.add(whole)
    forms.add(base64.urlsafe_b64encode(raw).decode("ascii"))
    return {f for f in forms if f}
