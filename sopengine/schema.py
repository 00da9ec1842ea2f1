"""Check stage: JSON Schema validation of loaded documents, with source positions."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError

from ._resources import schema_dir
from ._yaml import YamlDocument
from .errors import Code, Diagnostic, did_you_mean

SOP_FILE = "sop-file.schema.json"
SCENARIO_FILE = "scenario-file.schema.json"
EVENT = "event.schema.json"
AUDIT_OUTPUT = "audit-output.schema.json"


@lru_cache(maxsize=None)
def load_schema(name: str) -> dict[str, Any]:
    """A schema of ``schemas/`` by file name (read once per process; schemas are immutable)."""
    with open(schema_dir() / name, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


@lru_cache(maxsize=None)
def validator(name: str) -> Draft202012Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For if/then and oneOf, report the specific inner errors rather than the wrapper."""
    if error.context:
        leaves: list[ValidationError] = []
        for sub in error.context:
            leaves.extend(_leaf_errors(sub))
        return leaves
    return [error]


def _message(error: ValidationError) -> tuple[str, tuple[str | int, ...], bool]:
    """A readable message for one schema error, the document path it is about, and whether it is about a key."""
    path = tuple(error.absolute_path)
    schema: Any = error.schema
    instance: Any = error.instance
    expected: Any = error.validator_value
    if error.validator == "additionalProperties" and isinstance(instance, dict) and isinstance(schema, dict):
        allowed = list((schema.get("properties") or {}).keys())
        extra = [k for k in instance if k not in allowed]
        if extra:
            key = extra[0]
            return f"unknown key '{key}'{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}", path + (key,), \
                True
    if error.validator == "enum":
        choices = [str(v) for v in expected]
        schema_path = list(error.relative_schema_path)
        if len(schema_path) >= 2 and schema_path[-2] == "propertyNames":
            return (f"key '{instance}' is not allowed here{did_you_mean(str(instance), choices)}; "
                    f"allowed: {', '.join(choices)}", path + (str(instance),), True)
        return f"{instance!r} is not one of {', '.join(choices)}{did_you_mean(str(instance), choices)}", path, False
    if error.validator == "required":
        return error.message.replace("is a required property", "is required here"), path, False
    if error.validator == "pattern" and isinstance(schema, dict) and schema.get("description"):
        return f"{error.message}: {schema['description']}", path, False
    return error.message, path, False


def check(doc: YamlDocument, schema_name: str = SOP_FILE) -> list[Diagnostic]:
    """Every schema violation in ``doc``, each located at the offending line."""
    out: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for error in validator(schema_name).iter_errors(doc.data):
        for leaf in _leaf_errors(error):
            message, path, about_key = _message(leaf)
            ident = (path, message)
            if ident in seen:
                continue
            seen.add(ident)
            code = Code.SCHEMA
            if leaf.validator == "required" and "'source'" in leaf.message and "rules" in path:
                code = Code.MISSING_SOURCE
                message = "the rule has no source: cite the seed document and step it encodes " \
                          "(source: {document: ..., step: ...})"
            out.append(Diagnostic(code, message, doc.key_loc(path) if about_key else doc.loc(path)))
    out.sort(key=lambda d: (d.location.line, d.location.column))
    return out
