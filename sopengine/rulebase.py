"""What every compiled rule has, whatever its kind: its source, its id and message, and the events it matches.

The rule kinds (:mod:`sopengine.kinds`) build on these; :mod:`sopengine.model` re-exports them.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import Location
from .expr import Expr, Template

# In a pack with an open vocabulary (pack.vocabulary: open), the name ``on: any`` and ``{any_except: [...]}``
# hold for the types the pack does not declare: events of those types share its plan. The schema refuses
# control characters in a type's name, so no declared type is named so.
UNDECLARED = "\x00undeclared"


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
    accountable: Expr | None = None  # who answers for its findings (over the case's state); else the pack's
    complete: Completion | None = None  # when a case has ended for this rule (its complete:); else the pack's
