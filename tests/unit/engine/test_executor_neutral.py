"""The engine talks to executors only through the seam (executors/base.py, the registry
and the shared process supervisor): no engine module imports a specific executor or
compares a step's executor key against a built-in one. A plugin executor must be able
to do anything a built-in one does, so the engine may only ask the executor class."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import runbook_engine

PACKAGE = Path(runbook_engine.__file__).parent
ENGINE = PACKAGE / "engine"
#: Shared executor-side modules any executor may use and the engine may import.
SHARED = {"base", "registry", "process"}


def _builtin_keys() -> set[str]:
    pyproject = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    return set(pyproject["project"]["entry-points"]["runbook_engine.executors"])


def _builtin_modules() -> set[str]:
    modules = {p.stem for p in (PACKAGE / "executors").glob("*.py")}
    modules |= {p.name for p in (PACKAGE / "executors").iterdir() if p.is_dir()}
    return modules - SHARED - {"__init__", "__pycache__"}


def _imported_executor_modules(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
            if node.module == "runbook_engine.executors":
                names += [f"runbook_engine.executors.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            specific = len(parts) > 2 and parts[2] not in SHARED
            if parts[:2] == ["runbook_engine", "executors"] and specific:
                found.append((node.lineno, name))
    return found


def _strings(node: ast.AST) -> list[str]:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        return [s for element in node.elts for s in _strings(element)]
    if isinstance(node, ast.Call) and getattr(node.func, "id", "") in ("frozenset", "set", "tuple"):
        return [s for arg in node.args for s in _strings(arg)]
    return []


def _key_comparisons(tree: ast.AST, keys: set[str]) -> list[tuple[int, str]]:
    """Built-in keys in comparisons (``== "manual"``, ``in ("wait", ...)``) and in set
    literals (the usual way to write "these executors are special")."""
    found = []
    for node in ast.walk(tree):
        operands: list[ast.AST] = []
        if isinstance(node, ast.Compare):
            operands = [node.left, *node.comparators]
        elif isinstance(node, ast.Set):
            operands = [node]
        for operand in operands:
            found += [(node.lineno, s) for s in _strings(operand) if s in keys]
    return found


def _problems() -> list[str]:
    keys, modules = _builtin_keys(), _builtin_modules()
    problems = []
    for path in sorted(ENGINE.glob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for line, name in _imported_executor_modules(tree):
            assert name.split(".")[2] in modules, name
            problems.append(f"{path.name}:{line}: imports {name}")
        for line, key in _key_comparisons(tree, keys):
            problems.append(f"{path.name}:{line}: compares against the executor key {key!r}")
    return problems


def test_no_engine_module_names_a_specific_executor() -> None:
    assert _problems() == []


def test_the_check_sees_what_it_forbids() -> None:
    tree = ast.parse(
        "from runbook_engine.executors.manual import parse_gate\n"
        "from runbook_engine.executors import ssh\n"
        "import runbook_engine.executors.shell\n"
        "from runbook_engine.executors.base import Result\n"
        "if step.executor == 'manual': pass\n"
        "SLOW = frozenset({'wait', 'monitor'})\n"
        "ok = kind in ('step_started', 'shell')\n"
    )
    assert [n for _, n in _imported_executor_modules(tree)] == [
        "runbook_engine.executors.manual",
        "runbook_engine.executors.ssh",
        "runbook_engine.executors.shell",
    ]
    assert sorted(k for _, k in _key_comparisons(tree, _builtin_keys())) == [
        "manual", "monitor", "shell", "wait"
    ]  # fmt: skip
