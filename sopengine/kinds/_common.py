"""Pieces several rule kinds share: the event types and precondition of a rule checked at an event."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Protocol

from ..calendars import AROUND_THE_CLOCK, Calendar, CalendarRef
from ..expr import Expr, MissingFact, Scope, Template
from ..rulebase import Rule
from ._base import Check, Condition, Path

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event



# -- compile ----------------------------------------------------------------------
def compile_on(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any]) -> frozenset[str]:
    return work.event_types(raw["on"], doc.loc(p + ("on",)))


def compile_when(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any], scope: Scope) -> Expr | None:
    return work.expr(raw["when"], scope, doc.loc(p + ("when",))) if "when" in raw else None


def compile_text(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any], name: str,
                 scope: Scope) -> Template:
    return work.template(raw[name], scope, doc.loc(p + (name,)))


def compile_event_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any], common: dict[str, Any],
                       message_extra: tuple[str, ...] = ()) -> tuple[frozenset[str], Scope, Expr | None]:
    """The parts of a rule checked at events of its ``on`` types: (types, their scope, ``when``); sets the message."""
    on = compile_on(work, doc, p, raw)
    scope = work.scope(event=on)
    message_scope = work.scope(event=on, extra=message_extra) if message_extra else scope
    common["message"] = compile_text(work, doc, p, raw, "message", message_scope)
    return on, scope, compile_when(work, doc, p, raw, scope)


# -- evaluate ---------------------------------------------------------------------
def add_checks(plan: Plan, types: Iterable[str], check: Check, rule: Rule) -> None:
    for t in types:
        plan.types[t].checks.append((check, rule))


def gate(ev: Evaluator, run: CaseRun, rule: Rule, e: Event, when: Expr | None) -> bool:
    """The rule's SOP applies at ``e`` and ``when`` holds (undecided counts as not holding)."""
    return (not rule.gated or ev.applies(run, rule, e)) and (when is None or bool(ev.test(run, rule, when, e)))


Counted = tuple[tuple[float | None, ...], Calendar | None]  # the times, and the calendar that counted them


def counted(ev: Evaluator, run: CaseRun, rule: Rule, ref: CalendarRef | None, e: Event, since: float,
            spans: tuple[float | None, ...]) -> Counted | None:
    """``since`` plus each span (None: no such time) counted in the rule's calendar (``ref``; None: every
    hour), with that calendar (None: every hour counted). None when it cannot be: no calendar could be
    chosen, or a time falls outside the calendar's years; the check is then undecided (recorded at ``e``).
    The calendar is chosen only when some span needs it."""
    if ref is None or not any(spans):
        return tuple(None if s is None else since + s for s in spans), None
    chosen, calendar = _choose(ev, run, rule, ref, e)
    if not chosen:
        return None
    if calendar is None:
        return tuple(None if s is None else since + s for s in spans), None
    out = tuple(None if s is None else calendar.add(since, s) for s in spans)
    if any(t is None and s is not None for t, s in zip(out, spans)):
        ev.undecided(run, rule, e, calendar.outside(since))
        return None
    return out, calendar


def _choose(ev: Evaluator, run: CaseRun, rule: Rule, ref: CalendarRef, e: Event) -> tuple[bool, Calendar | None]:
    """(True, the calendar ``ref`` names at ``e``; None: every hour), or (False, None) with the reason recorded
    as undecided."""
    calendars = ev.plan.pack.calendars
    if ref.expr is None:
        return True, calendars[ref.name]  # type: ignore[index]  # checked by the compiler
    try:
        value = ref.expr.fn(e, run.state, None, None, ev.runtime)
    except MissingFact as exc:
        ev.undecided(run, rule, e, exc.reason)
        return False, None
    except Exception as exc:  # noqa: BLE001 - data of an unexpected shape must not stop an audit
        ev.undecided(run, rule, e, f"calendar {ref.expr.text!r} could not be evaluated: {type(exc).__name__}: "
                                   f"{exc}")
        return False, None
    if value == AROUND_THE_CLOCK and isinstance(value, str):
        return True, None
    found = calendars.get(value) if isinstance(value, str) else None
    if found is None:
        ev.undecided(run, rule, e, unknown_calendar(ref.expr.text, value, calendars))
        return False, None
    return True, found


def unknown_calendar(text: str, value: Any, calendars: Iterable[str]) -> str:
    """Why a calendar an expression gave is none (the core words it alike)."""
    if isinstance(value, str):
        return f"calendar '{value}' is not declared (calendars: {', '.join([*calendars, AROUND_THE_CLOCK])})"
    return f"calendar {text!r} gave {type(value).__name__}, not the name of a calendar"


# -- lint -------------------------------------------------------------------------
def when_condition(when: Expr | None, on: frozenset[str]) -> Iterator[Condition]:
    if when is not None:
        yield "when", when, on


def optional_template(template: Template | None) -> Iterator[Template]:
    if template is not None:
        yield template


class _OnTypes(Protocol):
    @property
    def on(self) -> frozenset[str]: ...


def on_types(rule: _OnTypes) -> frozenset[str]:
    """The event types of a rule that names no others than its ``on``."""
    return rule.on


# -- schema -----------------------------------------------------------------------
# Keys several kinds take, as their branches of schemas/sop-file.schema.json ($defs.rule.allOf) list them.
def event_types_key(description: str) -> dict[str, Any]:
    return {"description": description, "$ref": "#/$defs/eventTypes"}


def expression_key(description: str) -> dict[str, Any]:
    return {"description": description, "$ref": "#/$defs/expression"}


def duration_key(description: str) -> dict[str, Any]:
    return {"description": description, "$ref": "#/$defs/duration"}


def text_key(description: str) -> dict[str, Any]:
    return {"description": description, "type": "string", "minLength": 1}


def calendar_key(description: str) -> dict[str, Any]:
    return {"description": description, "$ref": "#/$defs/calendarChoice"}


def match_key(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "required": ["on"],
        "properties": {
            "on": {"$ref": "#/$defs/eventTypes"},
            "when": expression_key("Condition the event must meet (sees event, data, state before the event, "
                                   "trigger where an obligation is open, params)."),
        },
    }


ON = event_types_key("The event type(s) at which the rule is checked.")
WHEN = expression_key("Precondition: the rule applies only to events that meet it.")
REQUIRE = expression_key("Condition that must hold; a violation when it does not.")
