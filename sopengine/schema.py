"""Check stage: JSON Schema validation of loaded documents, with source positions."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from ._resources import schema_dir
from ._yaml import YamlDocument
from .errors import Code, Diagnostic

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

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


def validator(name: str) -> "Validator":
    """The full validator of a schema (jsonschema, with this project's reading of ``unevaluatedProperties``):
    where and why a document is not valid. Imported when first needed: the fast check answers a valid one."""
    from ._schema_full import validator as full

    return full(name)


@lru_cache(maxsize=None)
def _fast(name: str) -> Any:
    """The same schema compiled by the native module's ``SchemaCheck`` (the Rust jsonschema crate): it says
    whether a document is valid some 80 times faster than the validator above, which alone says where and
    why it is not (every load and lint checks the whole pack, so its cost is paid on every command). None
    without the native module."""
    from ._core import native

    return None if native is None else native.SchemaCheck(json.dumps(load_schema(name)))


def _valid_fast(data: Any, name: str) -> bool:
    """Whether ``data`` is surely valid: the fast check accepts it. Its reading is the specification's, which
    never accepts what the lenient reading here refuses (``tests/test_schema_fast.py``); a value JSON has no
    word for (a YAML date, a key that is not text) leaves the answer to the full check."""
    checker = _fast(name)
    return checker is not None and checker.is_valid(data) is True


def check(doc: YamlDocument, schema_name: str = SOP_FILE) -> list[Diagnostic]:
    """Every schema violation in ``doc``, each located at the offending line."""
    if _valid_fast(doc.data, schema_name):
        return []
    from ._schema_full import leaf_errors, missing_key, said

    checker = validator(schema_name)
    found = [(leaf, said(leaf)) for error in checker.iter_errors(doc.data) for leaf in leaf_errors(error)]
    # A misspelled required key is one mistake: said once, as the unknown key with its did-you-mean.
    meant = {(s.path[:-1], s.meant) for _, s in found if s.meant is not None}
    out: list[Diagnostic] = []
    seen: set[tuple[Any, ...]] = set()
    for leaf, (message, path, about_key, _) in found:
        ident = (path, message)
        if ident in seen or (leaf.validator == "required" and (path, missing_key(leaf)) in meant):
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
