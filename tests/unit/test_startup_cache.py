"""The remembered schema-clean verdict that spares ``runbook run`` importing jsonschema:
trusted only for the identical input, never by ``lint``, never recorded for findings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from runbook_engine import schema
from runbook_engine.lint import analyze
from runbook_engine.loader import load_text

CLEAN = """\
runbook: 1
name: one
phases:
  - id: only
    steps:
      - id: hello
        shell: echo hi
        timeout: 5m
"""


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    return tmp_path / "xdg" / "runbook-engine" / "schema-clean"


def markers(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.is_dir() else []


def forbid_validation(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []

    def counting() -> Any:
        calls.append(1)
        return real()

    real = schema._validator
    monkeypatch.setattr(schema, "_validator", counting)
    return calls


def test_a_clean_verdict_is_recorded_and_then_trusted(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.validate(load_text(CLEAN), remember_clean=True) == []
    assert len(markers(cache)) == 1
    calls = forbid_validation(monkeypatch)
    assert schema.validate(load_text(CLEAN, "elsewhere.yaml"), remember_clean=True) == []
    assert calls == []


def test_findings_are_never_recorded(cache: Path) -> None:
    broken = CLEAN.replace("shell: echo hi", "shell: echo hi\n        shel: typo")
    for _ in range(2):
        assert schema.validate(load_text(broken), remember_clean=True) != []
    assert markers(cache) == []


def test_any_change_of_value_or_type_is_validated_afresh(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.validate(load_text(CLEAN), remember_clean=True) == []
    calls = forbid_validation(monkeypatch)
    # Another duration, then a list where the duration was: the second is a finding.
    assert schema.validate(load_text(CLEAN.replace("5m", "6m")), remember_clean=True) == []
    assert schema.validate(load_text(CLEAN.replace("5m", "[5m]")), remember_clean=True) != []
    assert len(calls) == 2


def test_another_executor_package_version_is_validated_afresh(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert schema.validate(load_text(CLEAN), remember_clean=True) == []
    real = schema.distribution_of
    monkeypatch.setattr(schema, "distribution_of", lambda key: (real(key)[0], "999"))
    calls = forbid_validation(monkeypatch)
    assert schema.validate(load_text(CLEAN), remember_clean=True) == []
    assert calls == [1]
    assert len(markers(cache)) == 2


def test_lint_never_trusts_the_record(
    tmp_path: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(CLEAN)
    assert analyze(str(path), remember_clean=True).findings == []
    calls = forbid_validation(monkeypatch)
    assert analyze(str(path)).findings == []
    assert calls == [1]


def test_an_unwritable_cache_only_costs_the_full_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    assert schema.validate(load_text(CLEAN), remember_clean=True) == []


@pytest.mark.parametrize(
    "a, b",
    [
        (1, 1.0),
        (1, True),
        (1, "1"),
        ({"a": [1]}, {"a": (1,)}),
        ({1: "x"}, {"1": "x"}),
        ("a,b", ["a", "b"]),
    ],
)
def test_canonical_text_tells_types_apart(a: Any, b: Any) -> None:
    assert schema._canonical(a) != schema._canonical(b)


def test_a_repeated_run_check_does_not_import_jsonschema(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text(CLEAN)
    script = (
        "import sys\n"
        "from runbook_engine.cli.options import load_checked\n"
        f"load_checked({str(path)!r})\n"
        "print('jsonschema' in sys.modules)\n"
    )
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "xdg")}
    runs = [
        subprocess.run(
            [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
        )
        for _ in range(2)
    ]
    assert [r.stdout.strip() for r in runs] == ["True", "False"]
