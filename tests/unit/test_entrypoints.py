"""`runbook_engine.entrypoints` reads the plugin groups' entry points itself (importing
importlib.metadata costs every lint ~13 ms): it must find exactly what
importlib.metadata finds, in the same order, and hand over to it wherever it would
look further (zips, eggs, other distribution finders)."""

from __future__ import annotations

import sys
from importlib.metadata import entry_points
from pathlib import Path

import pytest

from runbook_engine import entrypoints
from runbook_engine.executors import registry


def pairs(eps: object) -> list[tuple[str, str]]:
    return [(ep.name, ep.value) for ep in eps]  # type: ignore[attr-defined]


def expected() -> list[tuple[str, str]]:
    return pairs(entry_points(group=registry.GROUP))


def dist(folder: Path, name: str, text: str | None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    meta = folder / name
    meta.mkdir()
    (meta / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name.split('-')[0]}\nVersion: 1\n")
    if text is not None:
        (meta / "entry_points.txt").write_text(text)


def test_the_installed_entry_points_are_the_ones_importlib_metadata_finds() -> None:
    found = entrypoints.declared(registry.GROUP)
    assert found is not None
    assert pairs(found) == expected()
    assert {"shell", "ssh", "prometheus"} <= {name for name, _ in pairs(found)}


@pytest.mark.parametrize("group", [registry.GROUP, "runbook_engine.importers"])
def test_every_plugin_group_finds_what_importlib_metadata_finds(group: str) -> None:
    assert [(ep.name, ep.value) for ep in entrypoints.entry_points(group)] == sorted(
        (ep.name, ep.value) for ep in entry_points(group=group)
    )


def test_a_line_that_is_not_name_equals_value_is_passed_over(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dist(tmp_path, "odd-1.0.dist-info", f"[{registry.GROUP}]\nnot an entry point\nok = m:C\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert pairs(entrypoints.declared(registry.GROUP) or []) == [("ok", "m:C")]


def test_same_entry_points_for_awkward_folders(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    group = f"[{registry.GROUP}]\n"
    first, second = tmp_path / "first", tmp_path / "second"
    dist(first, "Plugin_One-1.0.dist-info", f"# comment\n\n{group}one = plug_one:Executor\n  two=plug_one.sub:Cls.inner  \n[other]\nx = y:z\n")
    dist(first, "plugin.two-2.0.dist-info", f"[console_scripts]\nt = a:b\n{group}shell = plug_two:Shell [extra]\n")
    dist(first, "legacy-0.1.egg-info", f"{group}legacy = legacy_mod\n")
    dist(first, "no_entry_points-1.0.dist-info", None)
    dist(second, "plugin_one-9.0.dist-info", f"{group}shadowed = never:Seen\n")  # a later copy
    dist(second, "PLUGIN-THREE-3.0.DIST-INFO", f"{group}three = three:T\n")
    (first / "not-metadata.txt").write_text("x")
    monkeypatch.setattr(sys, "path", [str(first), str(tmp_path / "missing"), str(second)])
    found = entrypoints.declared(registry.GROUP)
    assert found is not None
    assert sorted(pairs(found)) == sorted(expected())
    assert pairs(found) == expected()
    assert ("shadowed", "never:Seen") not in pairs(found)
    assert len(pairs(found)) == 5, pairs(found)


def test_a_zip_or_an_egg_on_the_path_is_left_to_importlib_metadata(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = tmp_path / "bundle.zip"
    archive.write_bytes(b"PK\x05\x06" + b"\0" * 18)  # an empty zip
    monkeypatch.setattr(sys, "path", [str(archive)])
    assert entrypoints.declared(registry.GROUP) is None
    egg = tmp_path / "thing-1.0.egg"
    egg.mkdir()
    monkeypatch.setattr(sys, "path", [str(egg)])
    assert entrypoints.declared(registry.GROUP) is None


def test_another_distribution_finder_is_left_to_importlib_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    class Finder:
        @staticmethod
        def find_distributions(context: object = None) -> list[object]:
            return []

    monkeypatch.setattr(sys, "meta_path", [*sys.meta_path, Finder])
    assert entrypoints.declared(registry.GROUP) is None


def test_an_entry_point_loads_like_importlib_metadata_loads_it() -> None:
    ep = entrypoints.DeclaredEntryPoint("shell", "runbook_engine.executors.shell:ShellExecutor", "x")
    from runbook_engine.executors.shell import ShellExecutor

    assert ep.load() is ShellExecutor
    assert entrypoints.DeclaredEntryPoint("m", "runbook_engine.executors.shell", "x").load() is sys.modules[
        "runbook_engine.executors.shell"
    ]


def test_package_and_version_come_from_the_distribution_metadata() -> None:
    assert registry.distribution_of("shell")[0] == "runbook-engine"
    assert registry.distribution_of("prometheus")[0] == "runbook-plugin-prometheus"
