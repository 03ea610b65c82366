"""Resolves the values of a runbook's declared vars before anything runs.

Order of precedence: ``--var`` over ``--vars-file`` (later files win) over the var's
``env`` over its ``default``. Every value is converted to its declared type and checked
against ``pattern`` and ``choices``; a failure is a ``VariableError`` naming the var and
where it was declared, so nothing runs with a bad input.
"""

from __future__ import annotations

import difflib
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runbook_engine.durations import parse_duration
from runbook_engine.errors import VariableError
from runbook_engine.model import Runbook, VarSpec
from runbook_engine.regex import HINT, RegexError, compile_pattern


@dataclass(frozen=True)
class ResolvedVars:
    """The vars of one run: values, which of them are secret, and their hash."""

    values: dict[str, Any]
    secrets: frozenset[str]
    sha256: str


def parse_assignments(items: Sequence[str], flag: str = "--var") -> dict[str, str]:
    """``["k=v", …]`` from the command line (``flag``) into a mapping."""
    result: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise VariableError(f"{flag} {item!r} is not NAME=VALUE")
        result[name.strip()] = value
    return result


#: Top-level key of a vars file shared by several runbooks: keys the runbook does
#: not declare are then ignored instead of refused (docs/cli.md, "Vars files").
SHARED_KEY = "x-shared"


def read_vars_file(path: Path, runbook: Runbook) -> dict[str, Any]:
    """A vars file's values, checked like ``--var``: a key the runbook does not
    declare is an error (a typo would otherwise deploy the default), unless the
    file says ``x-shared: true``."""
    from runbook_engine.loader import load_file

    document = load_file(path)
    if not isinstance(document.data, Mapping):
        raise VariableError(f"vars file {path} is not a mapping of var names to values", span=document.span(""))
    values = {str(k): v for k, v in document.data.items()}
    shared = values.pop(SHARED_KEY, False) is True
    if not shared:
        for name in values:
            if name not in runbook.vars:
                raise VariableError(
                    f"unknown var {name!r} in vars file {path}",
                    span=document.key_span(f"/{name}"),
                    hint=_unknown_hint(name, runbook) + f"; a vars file shared by several runbooks says {SHARED_KEY}: true",
                )
    return {k: v for k, v in values.items() if k in runbook.vars}


def _unknown_hint(name: str, runbook: Runbook) -> str:
    close = difflib.get_close_matches(name, list(runbook.vars), n=1)
    known = f"declared vars: {', '.join(sorted(runbook.vars)) or 'none'}"
    return f"did you mean {close[0]!r}? {known}" if close else known


def convert(spec: VarSpec, value: Any, origin: str) -> Any:
    """``value`` as the declared type, checked against pattern and choices."""

    def fail(reason: str) -> VariableError:
        where = f" (declared at {spec.span})" if spec.span else ""
        return VariableError(f"var {spec.name!r} from {origin}: {reason}{where}", span=None, rule="RB110")

    kind = spec.type
    try:
        if kind in ("string", "path"):
            if isinstance(value, dict | list):
                raise fail(f"expected a {kind}, got {type(value).__name__}")
            converted: Any = value if isinstance(value, str) else str(value)
        elif kind == "int":
            if isinstance(value, bool):
                raise fail("expected an int, got a boolean")
            converted = int(value)
        elif kind == "float":
            converted = float(value)
        elif kind == "bool":
            if isinstance(value, bool):
                converted = value
            elif str(value).lower() in ("true", "yes", "1", "on"):
                converted = True
            elif str(value).lower() in ("false", "no", "0", "off"):
                converted = False
            else:
                raise fail(f"expected true or false, got {value!r}")
        elif kind == "duration":
            converted = parse_duration(value)
        elif kind == "list":
            converted = value if isinstance(value, list) else [v.strip() for v in str(value).split(",") if v.strip()]
        elif kind == "map":
            if isinstance(value, dict):
                converted = value
            else:
                converted = json.loads(str(value))
                if not isinstance(converted, dict):
                    raise fail("expected a mapping (JSON object)")
        else:
            raise fail(f"unknown type {kind!r}")
    except (ValueError, TypeError) as exc:
        raise fail(f"expected {kind}: {exc}") from None
    if spec.pattern and isinstance(converted, str) and not _full_match(spec.pattern, converted):
        shown = "***" if spec.secret else repr(converted)
        raise fail(f"{shown} does not match pattern {spec.pattern!r}")
    if spec.choices is not None and converted not in spec.choices:
        raise fail(f"{converted!r} is not one of {', '.join(map(str, spec.choices))}")
    return converted


def resolve_vars(
    runbook: Runbook,
    cli_vars: Mapping[str, str] | None = None,
    vars_files: Sequence[Path] = (),
    environ: Mapping[str, str] | None = None,
    *,
    require: bool = True,
) -> ResolvedVars:
    """Values for every declared var. With ``require=False`` (explain, plan preview)
    a missing required var is left out instead of being an error."""
    cli_vars = dict(cli_vars or {})
    environ = environ or {}
    from_files: dict[str, Any] = {}
    for path in vars_files:
        from_files.update(read_vars_file(path, runbook))
    unknown = sorted(set(cli_vars) - set(runbook.vars))
    if unknown:
        raise VariableError(f"unknown var {unknown[0]!r} given with --var", hint=_unknown_hint(unknown[0], runbook))
    values: dict[str, Any] = {}
    secrets: set[str] = set()
    for name, spec in runbook.vars.items():
        if name in cli_vars:
            value, origin = cli_vars[name], "--var"
        elif name in from_files:
            value, origin = from_files[name], "--vars-file"
        elif spec.env and spec.env in environ:
            value, origin = environ[spec.env], f"${spec.env}"
        elif spec.default is not None:
            value, origin = spec.default, "its default"
        elif spec.required and require:
            how = f"--var {name}=…" + (f" or ${spec.env}" if spec.env else "")
            raise VariableError(f"required var {name!r} has no value", hint=f"give it with {how}", rule="RB110")
        else:
            continue
        values[name] = convert(spec, value, origin)
        if spec.secret and values[name] not in (None, ""):
            secrets.add(str(values[name]))
    return ResolvedVars(values=values, secrets=frozenset(secrets), sha256=_digest(values, runbook))


def _digest(values: Mapping[str, Any], runbook: Runbook) -> str:
    """Hash of the values, for resume to notice changed inputs. A secret counts only as
    given or not: any hash of it, salted or not, in a world-readable meta.json would let
    anyone test guesses of a weak secret offline."""
    safe = {
        name: (value not in (None, "")) if runbook.vars[name].secret else value
        for name, value in sorted(values.items())
    }
    return hashlib.sha256(json.dumps(safe, sort_keys=True, default=str).encode()).hexdigest()


def _full_match(pattern: str, text: str) -> bool:
    """``text`` matches the whole of ``pattern`` (RE2: linear time, never hangs)."""
    try:
        return compile_pattern(pattern).fullmatch(text)
    except RegexError as exc:
        raise VariableError(f"invalid pattern {pattern!r}: {exc.msg}", hint=HINT) from None
