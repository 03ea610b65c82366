from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from runbook_engine.redaction import Redactor

SECRET = "p@ss/w0rd+Ünïcode"


def test_plain_and_substring_occurrences_are_masked() -> None:
    redact = Redactor([SECRET])
    assert redact(f"password={SECRET}") == "password=***"
    assert redact(f"x{SECRET}{SECRET}y") == "x******y"
    assert redact("nothing secret here") == "nothing secret here"


def test_url_encoded_forms_are_masked() -> None:
    redact = Redactor([SECRET])
    for encoded in (
        quote(SECRET, safe=""),
        quote(SECRET),
        quote_plus(SECRET),
        quote(SECRET, safe="").lower(),
    ):
        assert SECRET not in redact(f"https://h/x?token={encoded}&a=1")
        assert redact(f"https://h/x?token={encoded}&a=1") == "https://h/x?token=***&a=1"


def test_base64_forms_are_masked_whole_and_embedded_at_every_alignment() -> None:
    redact = Redactor([SECRET])
    raw = SECRET.encode()
    assert redact(base64.b64encode(raw).decode()) == "***"
    assert redact(base64.urlsafe_b64encode(raw).decode()) == "***"
    for prefix in ("", "u", "us", "user:", "admin:"):
        header = base64.b64encode(prefix.encode() + raw + b"@tail").decode()
        out = redact(header)
        # Everything that encodes only the secret is gone; at most the two
        # characters shared with its neighbours on each side remain.
        assert out.count("***") == 1
        assert len(out) - 3 <= len(header) - (len(raw) * 8 // 6 - 4)


def test_longer_secret_wins_over_its_own_prefix() -> None:
    redact = Redactor(["abc", "abcdef-long"])
    assert redact("abcdef-long abc") == "*** ***"


def test_empty_and_non_string_secrets_are_ignored() -> None:
    redact = Redactor(["", None])  # type: ignore[list-item]
    assert not redact
    assert redact("text") == "text"
    assert redact.redact_obj({"a": ["b"]}) == {"a": ["b"]}


def test_redact_obj_walks_keys_values_lists_and_tuples() -> None:
    redact = Redactor(["hunter2"])
    value = {
        "vars": {"db_password": "hunter2", "hunter2": 1},
        "argv": ["--pass", "xhunter2x", 3, None, True],
        "pair": ("hunter2", 2.5),
    }
    assert redact.redact_obj(value) == {
        "vars": {"db_password": "***", "***": 1},
        "argv": ["--pass", "x***x", 3, None, True],
        "pair": ("***", 2.5),
    }


@given(
    secret=st.text(
        alphabet=st.characters(blacklist_characters="*", blacklist_categories=("Cs",)),
        min_size=1,
        max_size=12,
    ),
    before=st.text(max_size=20),
    after=st.text(max_size=20),
)
def test_secret_never_survives(secret: str, before: str, after: str) -> None:
    redact = Redactor([secret])
    assert secret not in redact(before + secret + after)
    assert quote(secret, safe="") not in redact(before + quote(secret, safe="") + after)


SHAPED = "ab'cd\"ef\\gh\nsecond-line\n$third`line"


def test_each_line_and_quoted_escaped_forms_are_masked() -> None:
    """Each line of a multi-line secret leaked 36 times into the journal; its
    shell-quoted form leaked in plan and its repr form in error messages."""
    import json
    import shlex

    redact = Redactor([SHAPED])
    for text in (
        SHAPED,
        "second-line",
        "$third`line",
        shlex.quote(SHAPED),
        json.dumps(SHAPED),
        json.dumps({"line": "second-line"}),
        repr(SHAPED),
        repr("prefix " + SHAPED),
        repr(["x'", SHAPED]),
        "echo \"ab'cd\\\"ef\\\\gh\"",
    ):
        out = redact(text)
        for piece in ("ab'cd", "second-line", "third", "ef\\\\gh", "cd\\\"ef"):
            assert piece not in out, (text, out)


def test_short_lines_of_a_secret_are_not_masked_everywhere() -> None:
    redact = Redactor(["}\nlong-enough-line"])
    assert redact("{ x }") == "{ x }"
    assert redact("long-enough-line") == "***"


def test_clip_masks_before_it_cuts() -> None:
    secret = "0123456789abcdefghij"
    redact = Redactor([secret])
    assert redact.clip("x" * 10 + secret, 15) == "x" * 10 + "***"
    assert redact.clip("x" * 30 + secret, 15) == "x" * 15 + "…"
