"""Which migrations a rollback undoes, and how a migrations folder is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from runbook_engine.errors import ExecutorError
from runbook_engine.executors.migrations import Applied, read_folder, to_revert


def applied(*pairs: tuple[str, str]) -> list[Applied]:
    return [Applied(ident, f"m{ident}", release, "x") for ident, release in pairs]


HISTORY = applied(
    ("001", "v2.2.0"), ("002", "v2.3.0"), ("003", "v2.3.0"), ("004", "v2.4.0"), ("005", "v2.4.0")
)


def ids(entries: list[Applied]) -> list[str]:
    return [e.id for e in entries]


def test_rollback_to_a_recorded_release_undoes_what_came_after_it() -> None:
    assert ids(to_revert(HISTORY, "v2.3.0")) == ["005", "004"]


def test_rollback_to_a_migration_id_undoes_what_came_after_it() -> None:
    assert ids(to_revert(HISTORY, "002")) == ["005", "004", "003"]


def test_rollback_to_the_current_release_undoes_nothing() -> None:
    assert to_revert(HISTORY, "v2.4.0") == []


def test_unrecorded_release_undoes_only_later_releases() -> None:
    # v2.3.5 shipped no migration: undo v2.4.0's, keep v2.3.0's and v2.2.0's
    assert ids(to_revert(HISTORY, "v2.3.5")) == ["005", "004"]
    # versions compare as numbers, not text: v2.10.0 is after v2.9.0
    history = applied(("1", "v2.9.0"), ("2", "v2.10.0"))
    assert ids(to_revert(history, "v2.9.5")) == ["2"]


def test_folder_pairs_up_and_down_files_in_id_order(tmp_path: Path) -> None:
    for name in ("20251201_b.up.sql", "20251101_a.up.sql", "20251101_a.down.sql", "README.md"):
        (tmp_path / name).write_text("SELECT 1;")
    found = read_folder(tmp_path)
    assert [(m.label, m.down is not None) for m in found] == [
        ("20251101_a", True),
        ("20251201_b", False),
    ]


@pytest.mark.parametrize(
    ("names", "message"),
    [
        (["20251201.up.sql"], "not named"),
        (["20251201_a.down.sql"], "without an up file"),
        (["20251201_a.up.sql", "20251201_b.up.sql"], "share the id 20251201"),
    ],
)
def test_folder_mistakes_are_reported(tmp_path: Path, names: list[str], message: str) -> None:
    for name in names:
        (tmp_path / name).write_text("SELECT 1;")
    with pytest.raises(ExecutorError, match=message):
        read_folder(tmp_path)
