"""The full schema check (jsonschema): where and why a document is not valid, worded for people.

:mod:`sopengine.schema` asks the native module's fast check first, which answers a valid document; this
module, and jsonschema with it (~0.2 s of every start), is imported only when a document is refused (or
the native module is not built).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Iterator, Mapping, NamedTuple

from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator

from .errors import closest, did_you_mean
from .schema import load_schema


@lru_cache(maxsize=None)
def validator(name: str) -> Validator:
    schema = load_schema(name)
    Draft202012Validator.check_schema(schema)
    return _Lenient(schema)


def leaf_errors(error: ValidationError) -> list[ValidationError]:
    """For if/then and oneOf, report the specific inner errors rather than the wrapper."""
    if error.context:
        leaves: list[ValidationError] = []
        for sub in error.context:
            leaves.extend(leaf_errors(sub))
        return leaves
    return [error]


Path = tuple[str | int, ...]


class _UnknownKey(ValidationError):
    """A key of an object closed with ``unevaluatedProperties: false`` that no part of its schema describes."""

    def __init__(self, key: str, allowed: list[str]):
        super().__init__(f"key '{key}' is not allowed here{did_you_mean(key, allowed)}; allowed: {', '.join(allowed)}",
                         path=(key,))
        self.meant = closest(key, allowed)  # the allowed key it is likely a misspelling of


def _unevaluated_properties(checker: Validator, value: Any, instance: Any, schema: Mapping[str, Any]) \
        -> Iterator[ValidationError]:
    """``unevaluatedProperties: false`` read leniently: one error per key that no part of the schema describes,
    whether or not the subschemas that describe the others hold.

    The spec drops what a failing subschema evaluated, so one bad value in a rule would have every other key of
    its kind reported as unevaluated too (yaml-language-server does not do that either); the bad value has its
    own error. Other values of the keyword are checked as the spec says.
    """
    if value is not False:
        yield from _SPEC_UNEVALUATED(checker, value, instance, schema)
        return
    if not checker.is_type(instance, "object"):
        return
    allowed, anything = _described(checker, schema, instance)
    if not anything:
        yield from (_UnknownKey(key, allowed) for key in instance if key not in allowed)


def _described(checker: Validator, schema: Any, instance: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The keys ``schema`` describes for the object ``instance``, whatever their values, and whether it takes
    any key: through properties, patternProperties, additionalProperties and unevaluatedProperties, allOf,
    anyOf and oneOf (the alternatives that hold, else all), and if/then/else. A ``$ref`` beside them is not
    followed (the schemas here close no object that way)."""
    if not isinstance(schema, Mapping):
        return [], False
    keys = list(schema.get("properties") or {})
    keys += [k for pattern in schema.get("patternProperties") or {} for k in instance if re.search(pattern, k)]
    anything = any(schema.get(k, False) is not False for k in ("additionalProperties", "unevaluatedProperties"))
    subschemas: list[Any] = list(schema.get("allOf") or [])
    for keyword in ("anyOf", "oneOf"):
        alternatives = schema.get(keyword) or []
        subschemas += [s for s in alternatives if checker.evolve(schema=s).is_valid(instance)] or alternatives
    if "if" in schema:
        subschemas += [schema["if"], schema.get("then")] if checker.evolve(schema=schema["if"]).is_valid(instance) \
            else [schema.get("else")]
    for sub in subschemas:
        more, takes_any = _described(checker, sub, instance)
        keys += more
        anything = anything or takes_any
    return list(dict.fromkeys(keys)), anything


_SPEC_UNEVALUATED = Draft202012Validator.VALIDATORS["unevaluatedProperties"]
_Lenient: type[Validator] = validators.extend(  # type: ignore[no-untyped-call]  # (untyped in its stubs)
    Draft202012Validator, {"unevaluatedProperties": _unevaluated_properties})


class _Said(NamedTuple):
    message: str
    path: Path  # in the document
    about_key: bool  # located at the key rather than its value
    meant: str | None = None  # for an unknown key: the allowed key it is likely a misspelling of


def said(error: ValidationError) -> _Said:
    if isinstance(error, _UnknownKey):
        return _Said(error.message, tuple(error.absolute_path), True, error.meant)
    return _Said(*_message(error))


def missing_key(error: ValidationError) -> str | None:
    """The key a ``required`` error is about."""
    instance: Any = error.instance
    required: Any = error.validator_value
    return next((k for k in required if k not in instance and error.message.startswith(repr(k))), None)


def _message(error: ValidationError) -> tuple[str, Path, bool]:
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
        return f"{instance!r} is not one of {', '.join(choices)}{did_you_mean(str(instance), choices)}", path, False
    if error.validator == "required":
        return error.message.replace("is a required property", "is required here"), path, False
    if error.validator == "not" and isinstance(expected, dict) and expected.get("description"):
        return f"{instance!r} is not allowed here: {expected['description']}", path, False
    if error.validator == "pattern" and isinstance(schema, dict) and schema.get("description"):
        return f"{error.message}: {schema['description']}", path, False
    return error.message, path, False
