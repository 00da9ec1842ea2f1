"""Compiled pack: typed, frozen objects produced by the compiler and read by the evaluator.

Nothing here knows a domain; names of events, fields and state come from YAML.
The rule classes live with their kinds (:mod:`sopengine.kinds`) and are re-exported here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Mapping
from urllib.parse import quote

from .calendars import Calendar
from .errors import Location
from .expr import Expr
from .kinds.at_most import AtMostRule as AtMostRule
from .kinds.cross_case import CrossCaseRule as CrossCaseRule
from .kinds.declare import DeclareRule as DeclareRule
from .kinds.forbid import ForbidRule as ForbidRule
from .kinds.guard import GuardRule as GuardRule
from .kinds.invariant import InvariantRule as InvariantRule
from .kinds.precedence import PrecedenceRule as PrecedenceRule
from .kinds.require_fields import RequireFieldsRule as RequireFieldsRule
from .kinds.response import ResponseRule as ResponseRule
from .rulebase import Effective as Effective
from .rulebase import Completion as Completion
from .rulebase import Match as Match
from .rulebase import Rule as Rule
from .rulebase import Source as Source


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
    enum: tuple[Any, ...] | None = None  # the values it may take


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
class Sop:
    id: str
    title: str
    description: str
    document: str
    location: Location
    versions: tuple[Effective, ...] = ()  # its versions, by the time they come into force (none: unversioned)


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
class Reconcile:
    """pack.reconcile: the event type carrying the system of record's SLA verdicts, and the rule encoding each
    of its SLAs by name (sopengine.reconcile)."""

    event: str
    rules: Mapping[str, str]


@dataclass(frozen=True)
class CaseLink:
    """Where a case id links to in reports: ``url`` with ``{case}``, for ids in which ``match`` finds a match."""

    url: str
    match: re.Pattern[str] | None = None

    def for_case(self, case_id: str) -> str | None:
        """The URL of ``case_id``, or None when ``match`` finds nothing in it."""
        if self.match is not None and not self.match.search(case_id):
            return None
        return self.url.replace("{case}", quote(case_id, safe=""))


class OpenVocabulary(dict[str, EventType]):
    """The declared event types of a pack whose vocabulary is open: a reader accepts every type name (``in``
    holds for any text), while ``get`` and iteration give the declarations, for the types that have one."""

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str)


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
    duration_params: frozenset[str] = frozenset()  # parameters a rule key names (within: params.X, calendar: ...)
    report: Mapping[str, Any] = field(default_factory=dict)  # how reports group findings (pack.report)
    columns: Mapping[str, Expr] = field(default_factory=dict)  # worklist columns over a case's state
    links: tuple[CaseLink, ...] = ()  # links of case ids (pack.report.links)
    accountable: Expr | None = None  # who answers for a finding, over the case's state (pack.report.accountable)
    complete_when: Expr | None = None  # a case whose state after its last event holds it has ended (pack.complete)
    complete_idle: float | None = None  # a case with no event for this long has ended (pack.complete.idle)
    open_vocabulary: bool = False  # pack.vocabulary: open: events of undeclared types are read and evaluated
    version: str | None = None  # pack.version, as the pack declares it
    reconcile: Reconcile | None = None  # pack.reconcile: SLA verdicts of the system of record
    calendars: Mapping[str, Calendar] = field(default_factory=dict)  # declared business calendars, expanded

    @property
    def versioned(self) -> bool:
        """Whether some SOP of the pack comes in versions (findings then name the version)."""
        return any(sop.versions for sop in self.sops.values())

    @cached_property
    def known_types(self) -> Mapping[str, EventType]:
        """The event types a reader accepts (``in``), with their declarations (``get``, iteration): the declared
        ones, or with an open vocabulary every name (:class:`OpenVocabulary`)."""
        return OpenVocabulary(self.events) if self.open_vocabulary else self.events

    def case_url(self, case_id: str) -> str | None:
        """The link of a case id: the first of :attr:`links` that takes it, else None."""
        return next((url for link in self.links if (url := link.for_case(case_id)) is not None), None)

    def completion_for(self, rule: Rule) -> Completion:
        """When a case has ended for ``rule``: the rule's own ``complete``, else the pack's."""
        if rule.complete is not None:
            return rule.complete
        return Completion(self.complete_when, self.complete_idle)

    def accountable_for(self, rule: Rule) -> Expr | None:
        """The expression naming who answers for ``rule``'s findings: the rule's own, else the pack's."""
        return rule.accountable if rule.accountable is not None else self.accountable

    def rule(self, rule_id: str) -> Rule:
        for r in self.rules:
            if r.id == rule_id:
                return r
        raise KeyError(rule_id)
