"""What every compiled rule has, whatever its kind: its source, its id and message, and the events it matches.

The rule kinds (:mod:`sopengine.kinds`) build on these; :mod:`sopengine.model` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .errors import Location
from .expr import Expr, Template

# In a pack with an open vocabulary (pack.vocabulary: open), the name ``on: any`` and ``{any_except: [...]}``
# hold for the types the pack does not declare: events of those types share its plan. The schema refuses
# control characters in a type's name, so no declared type is named so.
UNDECLARED = "\x00undeclared"

VERSION_MARK = "@"  # between a rule's id and its SOP's version in the rule's key: '<sop>/<rule>@<version>'


def rule_key(rule_id: str, version: str | None) -> str:
    """The key that tells a rule apart inside the engines: its id, with its SOP's version when it has one.

    Two versions of a SOP share their rules' public ids; ``@`` never occurs in an id, so the key splits back
    (:func:`public_rule`)."""
    return rule_id if version is None else f"{rule_id}{VERSION_MARK}{version}"


def public_rule(key: str) -> tuple[str, str | None]:
    """A rule's key as reports name it: (its id '<sop>/<rule>', its SOP's version or None)."""
    rule_id, mark, version = key.partition(VERSION_MARK)
    return rule_id, version if mark else None


@dataclass(frozen=True)
class Effective:
    """When a version of a SOP is in force: from ``start`` (inclusive) until ``end`` (exclusive; None: still in
    force), as epoch seconds. A rule of the version judges a case created in it (its first event's time), or
    with ``at_event`` each event it checks dated in it."""

    version: str
    start: float
    end: float | None
    at_event: bool = False
    location: Location = field(default=Location("(unknown)"), compare=False)

    def covers(self, time: float) -> bool:
        return self.start <= time and (self.end is None or time < self.end)


@dataclass(frozen=True)
class Match:
    """Events of some types, narrowed by an optional condition."""

    on: frozenset[str]
    when: Expr | None = None


@dataclass(frozen=True)
class Completion:
    """When a case has ended (``complete``): a condition over its state after its last event, a time without
    events; either may be None."""

    when: Expr | None = None
    idle: float | None = None

    def __bool__(self) -> bool:
        return self.when is not None or self.idle is not None


@dataclass(frozen=True)
class Source:
    document: str
    step: str
    quote: str = ""


@dataclass(frozen=True)
class Rule:
    """Fields every rule kind shares."""

    id: str  # '<sop>/<rule>', or its key '<sop>/<rule>@<version>' when its SOP is versioned (rule_key)
    sop: str
    kind: str
    severity: str
    description: str
    source: Source
    message: Template
    location: Location
    applies: Expr | None  # the SOP's applies_when
    disabled: str | None = None  # the reason, when the rule is turned off in the YAML
    accountable: Expr | None = None  # who answers for its findings (over the case's state); else the pack's
    version: str | None = None  # its SOP's version, when the SOP is versioned
    effective: Effective | None = None  # when that version is in force, and at which time a case is judged
    complete: Completion | None = None  # when a case has ended for this rule (its complete:); else the pack's

    @property
    def public_id(self) -> str:
        """The id reports name it by: '<sop>/<rule>', without the version."""
        return public_rule(self.id)[0]

    @property
    def gated(self) -> bool:
        """Whether checks must ask :meth:`sopengine.evaluator.Evaluator.applies` (applies_when or a version)."""
        return self.applies is not None or self.effective is not None
