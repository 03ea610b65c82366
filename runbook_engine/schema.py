"""The JSON Schema of the format: the base schema composed with every executor's
fragment, so lint (and an editor, through the modeline) validates plugin steps too."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import os
import sys
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from runbook_engine import __version__
from runbook_engine.errors import PluginError, ValidationError
from runbook_engine.executors.registry import distribution_of, executor_classes
from runbook_engine.loader import Document, escape

#: The distribution whose executors are checked by this project's own tests.
BUILTIN_PACKAGE = "runbook-engine"


def base_schema() -> dict[str, Any]:
    text = resources.files("runbook_engine.schemas").joinpath("base.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


@lru_cache(maxsize=1)
def composed_schema() -> dict[str, Any]:
    """Base schema with ``$defs/step`` (and ``undo``/``check``) built from the
    common step keys plus one property per installed executor."""
    schema = base_schema()
    defs = schema["$defs"]
    common = defs.pop("common")
    executors = {key: copy.deepcopy(dict(cls.schema)) for key, cls in sorted(executor_classes().items())}
    for key, fragment in executors.items():
        fragment.setdefault("description", f"Run this step with the {key} executor.")
    properties = {**common, **executors}
    defs["step"] = {
        "type": "object",
        "description": "One step: the common keys plus exactly one executor key.",
        "required": ["id"],
        "additionalProperties": False,
        "properties": properties,
    }
    defs["undo"] = {
        "type": "object",
        "description": "How to reverse a completed step during rollback.",
        "additionalProperties": False,
        "properties": properties,
    }
    properties_with_undo = dict(properties)
    properties_with_undo["undo"] = {"$ref": "#/$defs/undo"}
    defs["step"]["properties"] = properties_with_undo
    notify = executor_classes().get("notify")
    channel_schema = getattr(notify, "channel_schema", None) if notify is not None else None
    if channel_schema:
        defs["channel"] = copy.deepcopy(dict(channel_schema))
    defs["check"] = {
        "type": "object",
        "description": "A prerequisite that is checked by running a step.",
        "required": ["check"],
        "additionalProperties": False,
        "properties": {"check": {"type": "string"}, **properties},
    }
    return schema


@lru_cache(maxsize=1)
def _validator() -> Any:
    from jsonschema import Draft202012Validator
    from jsonschema.exceptions import SchemaError

    # Checking the whole composed schema against the meta-schema costs ~0.4 s on every
    # lint; the built-in fragments are checked by the test suite, so only a third-party
    # plugin's fragment is checked here, where a broken one is the plugin's fault.
    for key, cls in sorted(executor_classes().items()):
        package, _ = distribution_of(key)
        if package == BUILTIN_PACKAGE:
            continue
        try:
            Draft202012Validator.check_schema(dict(cls.schema))
        except SchemaError as exc:
            raise PluginError(
                f"executor plugin {key!r} from package {package!r} has an invalid schema: {exc.message}",
                hint=f"fix or remove {package}",
            ) from None
    return Draft202012Validator(composed_schema())


def validate(doc: Document, *, remember_clean: bool = False) -> list[ValidationError]:
    """Schema findings for a loaded document, each positioned at the offending node.

    With ``remember_clean`` (``run``/``plan``/..., never ``lint``), a clean verdict is
    recorded on disk and trusted next time for exactly the same data, composed schema,
    executor packages and validator versions: importing jsonschema and building the
    validator is most of the start-up cost of ``runbook run``."""
    marker = _clean_marker(doc) if remember_clean else None
    if marker is not None and marker.is_file():
        return []
    findings = [_finding(doc, error) for error in _validator().iter_errors(doc.data)]
    findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    if marker is not None and not findings:
        try:
            marker.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            marker.touch()
        except OSError:
            pass  # an unwritable cache only costs the next run the full check
    return findings


def validate_against(doc: Document, schema: dict[str, Any]) -> list[ValidationError]:
    """Findings for a document against another schema (test cases), positioned and
    worded like the runbook's own."""
    from jsonschema import Draft202012Validator

    findings = [_finding(doc, error) for error in Draft202012Validator(schema).iter_errors(doc.data)]
    findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    return findings


#: Distributions whose code decides a schema verdict besides this package's own.
VALIDATOR_PACKAGES = ("jsonschema", "jsonschema-specifications", "referencing", "rpds-py", "attrs")


def cache_dir() -> Path | None:
    """``$XDG_CACHE_HOME/runbook-engine`` (default ``~/.cache/runbook-engine``)."""
    base = os.environ.get("XDG_CACHE_HOME")
    if not base:
        try:
            base = str(Path.home() / ".cache")
        except RuntimeError:
            return None
    return Path(base) / "runbook-engine"


def _clean_marker(doc: Document) -> Path | None:
    """The file whose existence says "this exact input was schema-clean"; its name is
    a hash of everything the verdict depends on."""
    from importlib.metadata import PackageNotFoundError, version

    root = cache_dir()
    if root is None:
        return None
    digest = hashlib.sha256()
    parts: list[str] = ["schema-clean/1", __version__, sys.version, Path(__file__).read_text(encoding="utf-8")]
    for name in VALIDATOR_PACKAGES:
        try:
            parts.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name} absent")
    for key in sorted(executor_classes()):
        parts.append("executor {}={}=={}".format(key, *distribution_of(key)))
    parts.append(_canonical(composed_schema()))
    parts.append(_canonical(doc.data))
    for part in parts:
        encoded = part.encode("utf-8", errors="surrogatepass")
        digest.update(len(encoded).to_bytes(8, "big") + encoded)
    return root / "schema-clean" / digest.hexdigest()


def _canonical(value: Any) -> str:
    """Text that differs whenever ``value`` differs in type or content (``1``, ``1.0``,
    ``True`` and ``"1"`` all differ), including YAML's dates and non-string keys."""
    if isinstance(value, dict):
        return "{" + ",".join(f"{_canonical(k)}:{_canonical(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return type(value).__name__ + "[" + ",".join(_canonical(item) for item in value) + "]"
    return f"{type(value).__module__}.{type(value).__qualname__}:{value!r}"


def _pointer(path: Any) -> str:
    return "".join("/" + escape(str(part)) for part in path)


def _required_alternatives(error: Any) -> list[str]:
    """For a oneOf/anyOf whose branches each only require keys (``webhook`` or ``smtp``
    + ``from`` + ``to`` or ``log``) and all failed that way: the key sets, in words."""
    branches = error.schema.get(error.validator, []) if isinstance(error.schema, dict) else []
    if not branches or any(set(branch) != {"required"} for branch in branches):
        return []
    if any(e.validator != "required" for e in error.context):
        return []
    return [" + ".join(repr(key) for key in branch["required"]) for branch in branches]


def _finding(doc: Document, error: Any) -> ValidationError:
    from jsonschema.exceptions import best_match

    if error.validator == "oneOf" and not error.context and isinstance(error.instance, dict):
        branches = error.schema.get("oneOf", [])
        if branches and all(set(branch) == {"required"} for branch in branches):
            given = [b["required"] for b in branches if set(b["required"]) <= set(error.instance)]
            return ValidationError(
                f"give only one of {' or '.join(' + '.join(repr(k) for k in keys) for keys in given)}",
                span=doc.span(_pointer(error.absolute_path)),
                hint=error.schema.get("description"),
                rule="RB101",
            )
    if error.context and error.validator in ("anyOf", "oneOf"):
        alternatives = _required_alternatives(error)
        if alternatives:
            return ValidationError(
                f"needs {' or '.join(alternatives)}",
                span=doc.span(_pointer(error.absolute_path)),
                hint=error.schema.get("description"),
                rule="RB101",
            )
        # A branch whose type does not even match says nothing; among the others, an
        # unknown or missing key (or a deeper problem) is what the author needs to see.
        relevant = [e for e in error.context if e.validator != "type"]
        deepest = best_match(relevant) if relevant else None
        if deepest is not None and (
            len(deepest.absolute_path) > len(error.absolute_path)
            or deepest.validator in ("additionalProperties", "required")
        ):
            error = deepest
    ptr = _pointer(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = set(error.schema.get("properties", {}))
        extra = sorted(set(error.instance) - allowed)
        if extra:
            key = extra[0]
            close = difflib.get_close_matches(key, sorted(allowed), n=1)
            hint = f"did you mean {close[0]!r}?" if close else f"allowed: {', '.join(sorted(allowed))}"
            return ValidationError(f"unknown key {key!r}", span=doc.key_span(f"{ptr}/{escape(key)}"), hint=hint, rule="RB102")
    if error.validator == "required":
        return ValidationError(f"missing required key: {error.message.split(' ')[0]}", span=doc.span(ptr), rule="RB101")
    where = _pointer(error.absolute_path) or "/"
    message = error.message if len(error.message) < 200 else error.message[:200] + "…"
    described = error.schema.get("description") if isinstance(error.schema, dict) else None
    return ValidationError(f"{message} (at {where})", span=doc.span(ptr), hint=described, rule="RB101")
