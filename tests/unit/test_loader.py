"""The loader: values plus the span of every node, and hostile YAML refused with a
position (the corpus covers each refusal end to end; these pin the details)."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.errors import LoadError, Span
from runbook_engine.loader import MAX_BYTES, load_file, load_text, pointer

RUNBOOK = """\
runbook: 1
name: demo
vars:
  version: {type: string, pattern: '^v\\d+$'}
phases:
  - id: prepare
    steps:
      - id: check-package
        shell: sha256sum -c app.tar.gz.sha256
        expect: "rc == 0"
      - id: note
        shell: |
          echo one
          echo {{ version }}
"""


def load(text: str) -> object:
    return load_text(text, "rb.yaml")


def test_values_and_spans_of_every_node() -> None:
    doc = load_text(RUNBOOK, "rb.yaml")
    assert doc.data["phases"][0]["steps"][0]["id"] == "check-package"
    assert doc.span("/phases/0/steps/0/shell") == Span("rb.yaml", 9, 16, 9, 46)
    assert doc.key_span("/phases/0/steps/0/shell") == Span("rb.yaml", 9, 9, 9, 14)
    assert doc.span("/vars/version/pattern").line == 4
    assert str(doc.span("/phases/0")) == "rb.yaml:6:5"


def test_span_of_a_missing_pointer_falls_back_to_its_nearest_ancestor() -> None:
    doc = load_text(RUNBOOK, "rb.yaml")
    assert doc.span("/phases/0/steps/0/timeout") == doc.span("/phases/0/steps/0")


def test_inner_span_of_plain_quoted_and_block_scalars() -> None:
    doc = load_text(RUNBOOK, "rb.yaml")
    # plain scalar: column of the 'c' of "-c"
    assert doc.inner_span("/phases/0/steps/0/shell", 10, 2) == Span("rb.yaml", 9, 26, 9, 28)
    # double-quoted: the opening quote is skipped
    assert doc.inner_span("/phases/0/steps/0/expect", 0, 2) == Span("rb.yaml", 10, 18, 10, 20)
    # block scalar: offset 14 is on the second content line, after "echo "
    span = doc.inner_span("/phases/0/steps/1/shell", 14, 15)
    assert (span.line, span.col) == (14, 16)
    assert doc.line(14)[span.col - 1 :].startswith("{{ version }}")


def test_pointer_escapes_slash_and_tilde() -> None:
    assert pointer("notify", "a/b", "c~d", 0) == "/notify/a~1b/c~0d/0"
    doc = load_text("runbook: 1\nnotify:\n  'a/b': {fallback: log}\n", "rb.yaml")
    assert doc.value_at("/notify/a~1b") == {"fallback": "log"}
    assert doc.span("/notify/a~1b").line == 3


def test_dates_stay_as_written_and_keys_become_strings() -> None:
    doc = load_text("runbook: 1\nwhen: 2025-12-07\n1: one\ntrue: yes\nnull: x\n", "rb.yaml")
    assert doc.data == {"runbook": 1, "when": "2025-12-07", "1": "one", "true": True, "null": "x"}


def test_sha256_is_of_the_text() -> None:
    assert load_text("a: 1\n").sha256 != load_text("a: 2\n").sha256


@pytest.mark.parametrize(
    ("text", "rule", "line", "col", "words"),
    [
        ("a: 1\na: 2\n", "RB002", 2, 1, "duplicate key 'a' (first defined at line 1)"),
        ("a:\n\tb: 1\n", "RB003", 2, 1, "tab character"),
        ("a: [1, 2\n", "RB001", 1, 4, "did not find expected"),
        ("- 1\n- 2\n", "RB005", 1, 1, "top level must be a mapping"),
        ("", "RB005", 1, 1, "the file is empty"),
        ("# only a comment\n", "RB005", 1, 1, "the file is empty"),
        ("a: 1\n---\nb: 2\n", "RB005", 3, 1, "more than one YAML document"),
        ("a: !!binary aGk=\n", "RB001", 1, 4, "unsupported YAML tag"),
        ("a: !!set {x: null}\n", "RB001", 1, 4, "unsupported YAML tag"),
        ("a: !!python/tuple [1, 2]\n", "RB001", 1, 4, "unsupported YAML tag"),
        ("!!int runbook: 1\n", "RB001", 1, 1, "'runbook' is not a valid int"),
        ("a: !!bool maybe\n", "RB001", 1, 4, "'maybe' is not a valid bool"),
        ("base: &b {x: 1}\nother:\n  <<: *b\n", "RB001", 3, 3, "merge keys"),
        ("? [a]\n: 1\n", "RB001", 1, 3, "mapping key must be a plain string"),
        ("a: &x [*x]\n", "RB004", 1, 4, "an alias refers to itself"),
    ],
)
def test_hostile_or_malformed_yaml_is_a_positioned_load_error(
    text: str, rule: str, line: int, col: int, words: str
) -> None:
    with pytest.raises(LoadError) as info:
        load(text)
    error = info.value
    assert (error.rule, error.span.line, error.span.col) == (rule, line, col), error  # type: ignore[union-attr]
    assert words in error.message


def test_unclosed_flow_at_end_of_file_points_at_where_it_opened() -> None:
    """Regression: PyYAML reports the end of the file, a line that does not exist."""
    with pytest.raises(LoadError) as info:
        load("a: 1\nb: [1, 2\n")
    assert (info.value.span.line, info.value.span.col) == (2, 4)  # type: ignore[union-attr]
    assert info.value.hint == "while parsing a flow sequence that starts at line 2"


def test_billion_laughs_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    with pytest.raises(LoadError) as info:
        load("\n".join(lines) + "\n")
    assert info.value.rule == "RB004"
    assert "billion laughs" in (info.value.hint or "")


@pytest.mark.parametrize("depth", [100, 5000])
def test_deep_nesting_is_refused_not_a_recursion_error(depth: int) -> None:
    """100 levels hit our limit; 5000 hit libyaml's own, reported under the same rule."""
    with pytest.raises(LoadError) as info:
        load("a: " + "[" * depth + "]" * depth + "\n")
    assert info.value.rule == "RB004"
    assert "nesting" in info.value.message


def test_repeated_small_aliases_are_fine() -> None:
    doc = load("hosts: &h [web-1, web-2]\nagain: *h\n")
    assert doc.data["again"] == ["web-1", "web-2"]
    assert doc.span("/again").line == 1  # an alias keeps the position of its anchor


def test_load_file_refuses_non_utf8_with_the_byte_position(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(b"runbook: 1\ntitle: Caf\xe9\n")
    with pytest.raises(LoadError) as info:
        load_file(path)
    assert info.value.span == Span(str(path), 2, 11)
    assert "0xe9" in info.value.message


def test_load_file_accepts_a_utf8_bom(tmp_path: Path) -> None:
    path = tmp_path / "bom.yaml"
    path.write_bytes("\ufeffrunbook: 1\ntitle: Café\n".encode())
    assert load_file(path).data == {"runbook": 1, "title": "Café"}


def test_load_file_refuses_oversize_files(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * MAX_BYTES)
    with pytest.raises(LoadError, match="larger than 1024 KiB"):
        load_file(path)
    small = tmp_path / "small.yaml"
    small.write_text("a: 1\n")
    with pytest.raises(LoadError, match="larger than 0 KiB"):
        load_file(small, max_bytes=2)


def test_load_file_missing_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_file(tmp_path / "nope.yaml")
    with pytest.raises(LoadError, match="is a directory"):
        load_file(tmp_path)
