"""The JSON Schema of the format: the base schema composed with every executor's
fragment, so lint (and an editor, through the modeline) validates plugin steps too."""

from __future__ import annotations

import copy
import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any

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
    if notify is not None and getattr(notify, "channel_schema", None):
        defs["channel"] = copy.deepcopy(dict(notify.channel_schema))
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


def validate(doc: Document) -> list[ValidationError]:
    """Schema findings for a loaded document, each positioned at the offending node."""
    findings = [_finding(doc, error) for error in _validator().iter_errors(doc.data)]
    findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    return findings


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
