"""docs/cli.md documents every command of `runbook` and every option of those that are
installed (datasette style: an undocumented command or option fails the suite)."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import click
import pytest

from runbook_engine.cli.main import COMMANDS, LazyGroup, cli

ROOT = Path(__file__).resolve().parents[2]
CLI_DOC = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")


def section(name: str) -> str:
    match = re.search(rf"^## `runbook {re.escape(name)}`\n(.*?)(?=^## |\Z)", CLI_DOC, re.M | re.S)
    assert match, f"docs/cli.md has no section '## `runbook {name}`'"
    return match.group(1)


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_every_command_has_a_section(name: str) -> None:
    assert f"runbook {name}" in section(name)


def installed() -> list[str]:
    assert isinstance(cli, LazyGroup)
    return cli.list_commands(click.Context(cli))


@pytest.mark.parametrize("name", installed())
def test_every_option_of_an_installed_command_is_documented(name: str) -> None:
    module, attr = COMMANDS[name][0].split(":")
    command: click.Command = getattr(importlib.import_module(module), attr)
    text = section(name)
    for param in command.params:
        if isinstance(param, click.Option):
            names = [opt for opt in param.opts if opt.startswith("--")]
            assert any(opt in text for opt in names), f"runbook {name}: {names} not in docs/cli.md"


def test_sections_are_only_for_real_commands() -> None:
    documented = set(re.findall(r"^## `runbook (\w+)`", CLI_DOC, re.M))
    assert documented == set(COMMANDS)
