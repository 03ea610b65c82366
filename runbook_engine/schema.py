"""The JSON Schema of the format: the base schema composed with every executor's
fragment, so lint (and an editor, through the modeline) validates plugin steps too."""

from __future__ import annotations

import copy
import difflib
import json
import re
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

from runbook_engine.errors import PluginError, ValidationError
from runbook_engine.executors.registry import distribution_of, executor_classes
from runbook_engine.loader import Document, escape


def base_schema() -> dict[str, Any]:
    # read beside this module: importlib.resources (with zipfile) would cost lint ~2 ms
    text = (Path(__file__).parent / "schemas" / "base.schema.json").read_text(encoding="utf-8")
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

    return Draft202012Validator(composed_schema())


@lru_cache(maxsize=1)
def _check_plugin_schemas() -> None:
    """A third-party plugin's fragment is checked against the meta-schema here, where a
    broken one is the plugin's fault; checking the whole composed schema costs ~0.4 s
    on every lint, and the built-in fragments are checked by the test suite."""
    for key, cls in sorted(executor_classes().items()):
        if _is_builtin(cls) or _fast_schema_check(dict(cls.schema)):
            continue
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        package, _ = distribution_of(key)
        try:
            Draft202012Validator.check_schema(dict(cls.schema))
        except SchemaError as exc:
            raise PluginError(
                f"executor plugin {key!r} from package {package!r} has an invalid schema: {exc.message}",
                hint=f"fix or remove {package}",
            ) from None


def _is_builtin(cls: type) -> bool:
    """Whether ``cls`` is one of this package's executors (whose fragments the tests
    check), known from its module without reading any distribution's metadata."""
    return cls.__module__.split(".", 1)[0] == "runbook_engine"


#: Schema keywords whose meaning jsonschema-rs shares exactly with jsonschema (given
#: plain YAML data: str-keyed dicts, lists, str, int, float, bool, None); ``pattern``
#: is handed back to Python's ``re`` below. A schema with any other keyword (``format``,
#: ``patternProperties``, a remote ``$ref`` ...) is only ever checked by jsonschema.
_VALUE_KEYWORDS = frozenset({
    "$comment", "title", "description", "default", "examples", "deprecated",
    "type", "enum", "const", "required", "minimum", "maximum", "exclusiveMinimum",
    "exclusiveMaximum", "minLength", "maxLength", "minItems", "maxItems", "minProperties",
    "maxProperties",
})
_SCHEMA_KEYWORDS = frozenset({"items", "not", "additionalProperties", "propertyNames"})
_SCHEMA_LIST_KEYWORDS = frozenset({"oneOf", "anyOf", "allOf"})
_SCHEMA_MAP_KEYWORDS = frozenset({"properties", "$defs"})
#: ``$ref`` within the document itself, spelled so that it is a valid URI reference.
_LOCAL_REF = re.compile(r"#(/[A-Za-z0-9_$.~-]+)*")
_PATTERN_FORMAT = "python-re:"


def _python_patterns(schema: Any, patterns: set[str]) -> Any:
    """``schema`` with each ``pattern`` turned into a format checked by ``re.search``
    (what jsonschema does), collecting the patterns; None if it uses a keyword outside
    the ones above. The Rust regex dialect differs from Python's (``$`` before a final
    newline, Unicode classes), so Python stays the judge of every pattern."""
    if isinstance(schema, bool):
        return schema
    if not isinstance(schema, dict):
        return None
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key in _VALUE_KEYWORDS:
            out[key] = value
        elif key == "pattern" and isinstance(value, str) and "format" not in schema:
            patterns.add(value)
            out["format"] = _PATTERN_FORMAT + value
        elif key == "$ref" and isinstance(value, str) and _LOCAL_REF.fullmatch(value):
            out[key] = value
        elif key in _SCHEMA_KEYWORDS:
            out[key] = _python_patterns(value, patterns)
            if out[key] is None:
                return None
        elif key in _SCHEMA_LIST_KEYWORDS and isinstance(value, list):
            out[key] = [_python_patterns(item, patterns) for item in value]
            if any(item is None for item in out[key]):
                return None
        elif key in _SCHEMA_MAP_KEYWORDS and isinstance(value, dict):
            out[key] = {name: _python_patterns(item, patterns) for name, item in value.items()}
            if any(item is None for item in out[key].values()):
                return None
        else:
            return None
    return out


def _searcher(pattern: str) -> Callable[[str], bool]:
    return lambda text: re.search(pattern, text) is not None


@lru_cache(maxsize=1)
def _fast_validator() -> Any:
    """The composed schema compiled by jsonschema-rs (~5 ms, against ~45 ms to import
    jsonschema and check), or None when it is not installed or not trusted with this
    schema. It only ever answers "valid"; anything else is jsonschema's to explain."""
    try:
        import jsonschema_rs
    except ImportError:
        return None
    patterns: set[str] = set()
    composed = dict(composed_schema())
    root = {key: composed.pop(key) for key in ("$schema", "$id") if key in composed}
    schema = _python_patterns(composed, patterns)
    if schema is None or root.get("$schema", DIALECT) != DIALECT:
        return None
    schema.update(root)
    try:
        return jsonschema_rs.Draft202012Validator(
            schema,
            validate_formats=True,
            ignore_unknown_formats=False,
            formats={_PATTERN_FORMAT + p: _searcher(p) for p in patterns},
        )
    except Exception:  # a schema it refuses is left to jsonschema, which says why
        return None


def _fast_schema_check(fragment: dict[str, Any]) -> bool:
    """True when jsonschema-rs finds a plugin's fragment valid against the 2020-12
    meta-schema and every ``pattern`` in it compiles as a Python regex (jsonschema's
    ``regex`` format); only fragments made of the keywords above qualify."""
    try:
        import jsonschema_rs
    except ImportError:
        return False
    patterns: set[str] = set()
    if _python_patterns(fragment, patterns) is None:
        return False
    try:
        for pattern in patterns:
            re.compile(pattern)
        return bool(jsonschema_rs.meta.is_valid(fragment))
    except Exception:
        return False


def _fast_valid(data: Any) -> bool:
    validator = _fast_validator()
    if validator is None:
        return False
    try:
        return bool(validator.is_valid(data))
    except Exception:  # a value it cannot read: jsonschema decides
        return False


DIALECT = "https://json-schema.org/draft/2020-12/schema"


def validate(doc: Document) -> list[ValidationError]:
    """Schema findings for a loaded document, each positioned at the offending node.
    A clean document is confirmed by the fast path alone; any other is explained by
    jsonschema, whose findings are the ones lint reports."""
    _check_plugin_schemas()
    if _fast_valid(doc.data):
        return []
    findings = [_finding(doc, error) for error in _validator().iter_errors(doc.data)]
    findings.sort(key=lambda f: (f.span.line, f.span.col) if f.span else (0, 0))
    return findings


def validate_against(doc: Document, schema: dict[str, Any]) -> list[ValidationError]:
    """Findings for a document against another schema (test cases), positioned and
    worded like the runbook's own."""
    from jsonschema import Draft202012Validator

    findings = [_finding(doc, error) for error in Draft202012Validator(schema).iter_errors(doc.data)]
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
