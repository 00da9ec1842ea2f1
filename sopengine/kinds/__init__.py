"""The rule kinds: a closed registry, one module per kind.

Each kind module holds everything about its kind: the compiled rule
(a frozen dataclass), its compile function, what lint reads of it, the plan
it emits for the native core, its reference-evaluator steps and its part of
the JSON Schema. The compiler, evaluator, lint and native emitter look a
rule's kind up in :data:`KINDS` by name; none of them branches on rule
classes. Adding a kind is one module here, one in ``native/core/src/kinds/``
and its branch in ``schemas/sop-file.schema.json``.
"""

from __future__ import annotations

from typing import Any, Mapping

from ..rulebase import Rule
from . import at_most, cross_case, declare, forbid, guard, invariant, precedence, require_fields, response
from ._base import Check as Check
from ._base import RuleKind as RuleKind


KINDS: Mapping[str, RuleKind[Any]] = {k.name: k for k in (
    guard.KIND, forbid.KIND, require_fields.KIND, precedence.KIND, at_most.KIND, response.KIND, invariant.KIND,
    cross_case.KIND, declare.KIND,
)}


def kind_of(rule: Rule) -> RuleKind[Any]:
    """The registry entry of a compiled rule."""
    return KINDS[rule.kind]
