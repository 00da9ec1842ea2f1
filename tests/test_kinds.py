"""Each rule kind has one home: its module in sopengine.kinds, whose schema part is the committed schema's."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

from sopengine import model
from sopengine.kinds import KINDS
from sopengine.kinds._base import YAML_KEY
from sopengine.rulebase import Rule

from .conftest import ROOT

RULE = json.loads((ROOT / "schemas" / "sop-file.schema.json").read_text(encoding="utf-8"))["$defs"]["rule"]


def _branches() -> dict[str, dict[str, Any]]:
    return {b["if"]["properties"]["kind"]["const"]: b for b in RULE["allOf"]}


def _model_keys(model_class: type[Rule]) -> set[str]:
    """The YAML keys a kind's model is read from, besides those of every rule."""
    common = {f.name for f in dataclasses.fields(Rule)}
    keys = {f.metadata.get(YAML_KEY, f.name) for f in dataclasses.fields(model_class) if f.name not in common}
    return keys - {None}


def test_the_schema_lists_the_registered_kinds_in_registry_order() -> None:
    assert RULE["properties"]["kind"]["enum"] == list(KINDS)
    assert list(_branches()) == list(KINDS)


def test_each_kind_branch_of_the_schema_is_its_module_fragment() -> None:
    for name, branch in _branches().items():
        expected = {"if": {"properties": {"kind": {"const": name}}, "required": ["kind"]},
                    "then": KINDS[name].schema}
        assert branch == expected, f"{name}: its branch in $defs.rule.allOf should be\n{json.dumps(expected, indent=2)}"


def test_each_kind_branch_offers_exactly_the_keys_its_model_is_read_from() -> None:
    """Completion in an editor offers a rule the keys of its kind's branch: those and no others."""
    for name, kind in KINDS.items():
        then = _branches()[name]["then"]
        assert set(then["properties"]) == _model_keys(kind.model), name
        assert set(then["required"]) <= set(then["properties"]), name


def test_no_key_of_a_kind_is_offered_to_every_rule() -> None:
    kind_keys = set().union(*(_model_keys(kind.model) for kind in KINDS.values()))
    assert kind_keys and not kind_keys & set(RULE["properties"])


def test_a_rule_of_a_known_kind_is_closed_and_one_of_an_unknown_kind_is_not() -> None:
    """unevaluatedProperties: false closes a rule to its kind's keys; with no known kind the else branch
    takes every key, so the kind is the one error."""
    assert RULE["unevaluatedProperties"] is False
    assert RULE["if"] == {"properties": {"kind": {"$ref": "#/$defs/rule/properties/kind"}}, "required": ["kind"]}
    assert "then" not in RULE and RULE["else"]["unevaluatedProperties"] is True


def test_the_model_re_exports_each_kind_class() -> None:
    for kind in KINDS.values():
        assert getattr(model, kind.model.__name__) is kind.model
