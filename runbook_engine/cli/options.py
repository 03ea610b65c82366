"""Options shared by every command that renders a runbook (``--var``, ``--vars-file``)
and the one way commands load a runbook: fully checked, or a clear error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from runbook_engine.model import Runbook
from runbook_engine.variables import ResolvedVars, parse_assignments, resolve_vars


def var_options(command: Callable[..., Any]) -> Callable[..., Any]:
    command = click.option("--vars-file", "vars_files", multiple=True, type=click.Path(path_type=Path), help="YAML file of var values (repeatable; later files win).")(command)
    command = click.option("--var", "var_items", multiple=True, metavar="NAME=VALUE", help="Set a var (repeatable).")(command)
    return command


def load_checked(path: str) -> Runbook:
    """The runbook at ``path`` after every lint check; the first finding is raised."""
    from runbook_engine.lint import analyze

    analysis = analyze(path)
    if analysis.errors:
        first = analysis.errors[0]
        more = len(analysis.errors) - 1
        if more:
            first.hint = (first.hint + "; " if first.hint else "") + f"{more} more finding(s): run `runbook lint {path}`"
        raise first
    assert analysis.runbook is not None
    return analysis.runbook


def resolve(runbook: Runbook, var_items: tuple[str, ...], vars_files: tuple[Path, ...], *, require: bool) -> ResolvedVars:
    return resolve_vars(runbook, parse_assignments(var_items), vars_files, os.environ, require=require)


