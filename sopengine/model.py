"""Compiled pack: typed, frozen objects produced by the compiler and read by the evaluator.

Nothing here knows a domain; names of events, fields and state come from YAML.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .errors import Location
from .expr import Expr, Template


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str = "any"
    description: str = ""
    enum: tuple[Any, ...] | None = None


@dataclass(frozen=True)
class EventType:
    name: str
    description: str
    fields: Mapping[str, FieldSpec]
    location: Location


@dataclass(frozen=True)
class Param:
    name: str
    type: str
    default: Any
    description: str
    location: Location


@dataclass(frozen=True)
class FactCollection:
    name: str
    description: str
    fields: Mapping[str, FieldSpec]
    location: Location


@dataclass(frozen=True)
class StateUpdate:
    on: frozenset[str]
    op: str  # set | add | remove | clear
    value: Expr | None
    when: Expr | None


@dataclass(frozen=True)
class StateVar:
    name: str
    kind: str  # value | set | counter
    initial: Any
    description: str
    updates: tuple[StateUpdate, ...]
    location: Location

    def fresh(self) -> Any:
        """The variable's value before any event (a new object for sets)."""
        if self.kind == "set":
            return set(self.initial or ())
        if self.kind == "counter":
            return self.initial or 0
        return self.initial


@dataclass(frozen=True)
class Index:
    name: str
    description: str
    member: Expr
    key: Expr
    attributes: tuple[tuple[str, Expr], ...]
    location: Location


@dataclass(frozen=True)
class Match:
    """Events of some types, narrowed by an optional condition."""

    on: frozenset[str]
    when: Expr | None = None


@dataclass(frozen=True)
class Source:
    document: str
    step: str
    quote: str = ""


@dataclass(frozen=True)
class Rule:
    """Fields every rule kind shares."""

    id: str  # '<sop>/<rule>'
    sop: str
    kind: str
    severity: str
    description: str
    source: Source
    message: Template
    location: Location
    applies: Expr | None  # the SOP's applies_when
    disabled: str | None = None  # the reason, when the rule is turned off in the YAML


@dataclass(frozen=True)
class GuardRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    require: Expr | None = None


@dataclass(frozen=True)
class ForbidRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None


@dataclass(frozen=True)
class RequireFieldsRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    fields: tuple[tuple[str, Expr], ...] = ()  # (label, value expression)


@dataclass(frozen=True)
class PrecedenceRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    after: Match = field(default_factory=lambda: Match(frozenset()))
    within: float | None = None


@dataclass(frozen=True)
class AtMostRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    max: int = 0


@dataclass(frozen=True)
class ResponseRule(Rule):
    after: Match = field(default_factory=lambda: Match(frozenset()))
    expect: Match = field(default_factory=lambda: Match(frozenset()))
    within: float | None = None
    start: float = 0.0
    every: float | None = None
    key: Expr | None = None
    cancel: tuple[Match, ...] = ()
    fail_on: tuple[Match, ...] = ()
    action: Template | None = None


@dataclass(frozen=True)
class InvariantRule(Rule):
    on: frozenset[str] = frozenset()  # event types after which the condition may need checking
    explicit_on: frozenset[str] = frozenset()  # types named in the rule: checked after them always
    when: Expr | None = None
    require: Expr | None = None
    grace: float = 0.0
    action: Template | None = None


@dataclass(frozen=True)
class CrossCaseRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    index: str = ""
    key: Expr | None = None
    match: Expr | None = None


@dataclass(frozen=True)
class Sop:
    id: str
    title: str
    description: str
    document: str
    location: Location


@dataclass(frozen=True)
class Conflict:
    """A declared disagreement between SOPs and its resolution."""

    id: str
    description: str
    rules: tuple[str, ...]
    param: str | None
    choice: Any
    reason: str
    location: Location

    def resolved_by(self, params: Mapping[str, Any]) -> str:
        """How the conflict is settled, with the value in force: "parameter X = 'v'" or "the pack"."""
        return f"parameter {self.param} = {params.get(self.param)!r}" if self.param else "the pack"


@dataclass(frozen=True)
class Suppression:
    """A lint finding suppressed on purpose in the YAML; ``target`` None means any subject in scope."""

    code: str
    target: str | None
    reason: str
    location: Location


@dataclass(frozen=True)
class Pack:
    """A compiled, immutable pack. Compile once (:func:`sopengine.load_pack`), audit many times."""

    name: str
    events: Mapping[str, EventType]
    params: Mapping[str, Any]  # resolved values (defaults overridden by --set)
    param_specs: Mapping[str, Param]
    facts: Mapping[str, FactCollection]
    state: tuple[StateVar, ...]
    indexes: Mapping[str, Index]
    sops: Mapping[str, Sop]
    rules: tuple[Rule, ...]
    files: tuple[str, ...]
    conflicts: tuple[Conflict, ...] = ()
    disabled: tuple[Rule, ...] = ()  # compiled (so checked) but not evaluated
    suppressions: tuple[Suppression, ...] = ()
    duration_params: frozenset[str] = frozenset()  # parameters used as durations (within: params.X)
    report: Mapping[str, Any] = field(default_factory=dict)  # how reports group findings (pack.report)
    columns: Mapping[str, Expr] = field(default_factory=dict)  # worklist columns over a case's state

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)
