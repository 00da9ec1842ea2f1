"""The shape of a rule kind: what the compiler, evaluator, lint and native emitter need of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Generic, Iterator, Mapping, TypeVar

from ..expr import Expr, Template
from ..rulebase import Match, Rule

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..errors import Diagnostic
    from ..model import Pack
    from ..compiler import _Work
    from ..evaluator import Plan
    from ..native import _Emitter

Path = tuple[str | int, ...]
Condition = tuple[str, Expr, frozenset[str]]  # (what, expression, event types it sees)
Check = Callable[..., None]  # (evaluator, case run, rule, event[, changed]) -> None


def no_templates(rule: Rule) -> Iterator[Template]:
    return iter(())


R = TypeVar("R", bound=Rule)

YAML_KEY = "yaml_key"
"""Metadata of a model field not read from the YAML key of its name: the key it comes from, or None for one the
compiler works out."""

# What a rule demands for conflict checks: (event types, preconditions, requirement).
Demand = tuple[frozenset[str], tuple[Expr | None, ...], Expr | None]


def _no_matches(rule: Rule) -> Iterator[tuple[str, Match]]:
    return iter(())


def _no_match(rule: Rule) -> Match | None:
    return None


def _no_demand(rule: Rule) -> Demand | None:
    return None


def _no_indexes(rule: Rule) -> frozenset[str]:
    return frozenset()


def _no_notes(rule: Rule, pack: "Pack") -> Iterator["Diagnostic"]:
    return iter(())


@dataclass(frozen=True)
class RuleKind(Generic[R]):
    """One kind of rule: what the compiler, evaluator, lint and native emitter need of it.

    ``schema`` is the kind's ``then`` in ``$defs.rule.allOf`` of the SOP file schema: the keys a rule of the
    kind requires, and under ``properties`` every key it takes besides those every rule has. Those are the
    fields of ``model`` beyond :class:`~sopengine.rulebase.Rule`'s, each read from the key of its name unless
    its metadata names another (:data:`YAML_KEY`).
    """

    name: str
    model: type[R]
    schema: Mapping[str, Any]  # its branch of the SOP file schema (tests hold the two equal)
    compile: Callable[[_Work, YamlDocument, Path, Mapping[str, Any], dict[str, Any]], R | None]
    prepare: Callable[[Plan, R], None]  # files the rule's evaluator steps under the event types they run on
    emit: Callable[[_Emitter, R], dict[str, Any]]  # the kind's fields of the native plan
    conditions: Callable[[R], Iterator[Condition]]  # besides applies_when
    event_types: Callable[[R], frozenset[str]]  # every type the rule names
    templates: Callable[[R], Iterator[Template]] = no_templates  # besides the message
    required: Callable[[R], Iterator[tuple[str, Match]]] = _no_matches  # (how, events it needs)
    forbidden: Callable[[R], Match | None] = _no_match  # the events it forbids
    demand: Callable[[R], Demand | None] = _no_demand
    indexes: Callable[[R], frozenset[str]] = _no_indexes  # cross-case indexes it searches
    notes: Callable[[R, "Pack"], Iterator["Diagnostic"]] = _no_notes  # what lint says of a rule of the kind

