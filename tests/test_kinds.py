"""Each rule kind has one home: its module in sopengine.kinds, whose schema part is the committed schema's."""

from __future__ import annotations

import json
from typing import Any

from sopengine import model
from sopengine.kinds import KINDS

from .conftest import ROOT

RULE = json.loads((ROOT / "schemas" / "sop-file.schema.json").read_text(encoding="utf-8"))["$defs"]["rule"]


def _branches() -> dict[str, dict[str, Any]]:
    return {b["if"]["properties"]["kind"]["const"]: b for b in RULE["allOf"]}


def test_the_schema_lists_the_registered_kinds_in_registry_order() -> None:
    assert RULE["properties"]["kind"]["enum"] == list(KINDS)
    assert list(_branches()) == list(KINDS)


def test_each_kind_branch_of_the_schema_is_its_module_fragment() -> None:
    for name, branch in _branches().items():
        assert branch == {"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                          "then": KINDS[name].schema["then"]}, name


def test_keys_only_one_kind_allows_are_defined_in_its_module_as_in_the_schema() -> None:
    allowed = {name: set(b["then"]["propertyNames"]["enum"]) for name, b in _branches().items()}
    for name, keys in allowed.items():
        own = {k for k in keys if sum(k in other for other in allowed.values()) == 1}
        fragment = KINDS[name].schema["properties"]
        assert set(fragment) == own, name
        for key, spec in fragment.items():
            assert RULE["properties"][key] == spec, (name, key)


def test_every_allowed_key_of_a_kind_is_a_rule_property() -> None:
    for kind in KINDS.values():
        assert set(kind.schema["then"]["propertyNames"]["enum"]) <= set(RULE["properties"]), kind.name


def test_the_model_re_exports_each_kind_class() -> None:
    for kind in KINDS.values():
        assert getattr(model, kind.model.__name__) is kind.model
