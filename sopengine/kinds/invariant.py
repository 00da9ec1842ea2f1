"""invariant: a condition on a case's state must hold (after a grace period) whenever it applies.

It is checked after every event that changed state it reads, and after the
event types it names. A broken invariant within its grace is pending; one
still broken past its grace is a violation.

With a grace, a breach is an obligation to restore the condition, and ends in one of
:data:`~sopengine.findings.OUTCOMES`: restored in its grace (accountable as the case
then stands), restored after it, missed (still broken at as-of past its grace, or no
longer applicable once past it: accountable at the deadline), or open.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from ..calendars import CalendarRef
from ..expr import Expr, Template, state_refs
from ..findings import LATE, MISSED, ON_TIME, Attainment, Pending, cite, tally
from ..rulebase import Rule
from ._base import YAML_KEY, Condition, Demand, Path, RuleKind
from ._common import (REQUIRE, calendar_key, compile_text, compile_when, counted, duration_key, event_types_key,
                      expression_key, gate, on_types, optional_template, text_key, when_condition)

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class InvariantRule(Rule):
    # event types after which the condition may need checking: those named, and those that change what it reads
    on: frozenset[str] = field(default=frozenset(), metadata={YAML_KEY: None})
    explicit_on: frozenset[str] = field(default=frozenset(), metadata={YAML_KEY: "on"})  # checked after always
    when: Expr | None = None
    require: Expr | None = None
    grace: float = 0.0
    action: Template | None = None
    calendar: CalendarRef | None = None  # the grace counts its working time; None: every hour


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> InvariantRule:
    explicit = work.event_types(raw["on"], doc.loc(p + ("on",))) if "on" in raw else frozenset()
    scope = work.scope(event=explicit)
    common["message"] = compile_text(work, doc, p, raw, "message", scope)
    action = compile_text(work, doc, p, raw, "action", scope)
    when = compile_when(work, doc, p, raw, scope)
    require = work.expr(raw["require"], scope, doc.loc(p + ("require",)))
    refs: set[str] = set()
    for e in (when, require, common["applies"]):
        if e is not None:
            refs |= e.state_refs
    # Checked after every event type that can change the state it reads.
    on = set(explicit)
    for var in work.state:
        if var.name in refs:
            for up in var.updates:
                on |= up.on
    grace = work.duration(raw["grace"], doc.loc(p + ("grace",))) or 0.0
    calendar = work.calendar(raw.get("calendar"), scope, doc.loc(p + ("calendar",)))
    return InvariantRule(**common, on=frozenset(on), explicit_on=explicit, when=when, require=require, grace=grace,
                         action=action, calendar=calendar)


# -- evaluate ---------------------------------------------------------------------
class Breach:
    """An invariant found broken in one case, from the event that broke it."""

    __slots__ = ("rule", "since", "due", "events", "more", "reported", "event", "who", "zone")

    def __init__(self, rule: InvariantRule, event: Event, evidence: Iterable[str], due: float,
                 zone: str | None = None):
        self.rule = rule
        self.event = event
        self.since = event.time
        self.due = due
        self.events, self.more = cite(evidence)
        self.reported = False
        self.who: str | None = None  # accountable at the end of the grace, once reported
        self.zone = zone  # of the calendar its grace counted in (None: every hour)


def _reads(rule: InvariantRule) -> frozenset[str]:
    return state_refs((rule.when, rule.require, rule.applies))


def settle(ev: Evaluator, run: CaseRun, rule: InvariantRule, e: Event, changed: frozenset[str] | set[str]) -> None:
    """Check the invariant with the state after ``e``, if ``e`` changed what it reads or is a type it names."""
    if changed.isdisjoint(ev.plan.invariant_refs[rule.id]) and ev.plan.matched(e.type) not in rule.explicit_on:
        return
    if not gate(ev, run, rule, e, rule.when):
        # not applicable (any more): nothing is broken; past its grace, it was missed
        ended = run.breaches.pop(rule.id, None)
        if ended is not None and rule.grace > 0 and ended.reported:
            tally(run.outcomes, rule.id, ended.due, ended.who, MISSED)
        return
    holds = ev.test(run, rule, rule.require, e)
    if holds is False:
        if rule.id not in run.breaches:
            found = counted(ev, run, rule, rule.calendar, e, e.time, (rule.grace,))
            if found is None:
                return  # undecided: no calendar to count the grace in
            (due,), calendar = found
            breach = Breach(rule, e, (e.id, *ev.evidence(run, rule.require)), due, calendar and calendar.zone)  # type: ignore[arg-type]
            run.breaches[rule.id] = breach
            if rule.grace == 0:  # no grace: broken at once
                breach.reported = True
                ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime),
                           breach.events, breach.more)
    elif holds is True:
        ended = run.breaches.pop(rule.id, None)
        if ended is not None and rule.grace > 0:  # restored: in its grace, as the case now stands
            if ended.reported:
                tally(run.outcomes, rule.id, ended.due, ended.who, LATE)
            else:
                tally(run.outcomes, rule.id, ended.due, ev.accountable(run, rule), ON_TIME)
        ev.held(run, rule)


def expire(ev: Evaluator, run: CaseRun, t: float) -> None:
    """Breaches whose grace ended before ``t`` become violations."""
    for breach in run.breaches.values():
        if not breach.reported and breach.due < t:
            breach.reported = True
            ev.violate(run, breach.rule, breach.due,
                       breach.rule.message.render(breach.event, run.state, None, None, ev.runtime), breach.events,
                       breach.more)
            breach.who = run.violations[-1].accountable


def pending(ev: Evaluator, run: CaseRun, breach: Breach, columns: tuple[tuple[str, Any], ...]) -> Pending:
    inv = breach.rule
    return Pending(
        inv.id, run.case, inv.severity,
        inv.action.render(breach.event, run.state, None, None, ev.runtime) if inv.action else "",
        inv.message.render(breach.event, run.state, None, None, ev.runtime),
        breach.since, breach.since, breach.due, None, breach.events, columns, more_events=breach.more,
        accountable=ev.accountable(run, inv), attained=inv.grace > 0, last=run.last[0], zone=breach.zone)


def settled(run: CaseRun, out: Attainment) -> None:
    """Count into ``out`` each breach with a grace that is still broken past it: missed."""
    for breach in run.breaches.values():
        if breach.reported and breach.rule.grace > 0:
            tally(out, breach.rule.id, breach.due, breach.who, MISSED)


def prepare(plan: Plan, rule: InvariantRule) -> None:
    for t in rule.on:
        plan.types[t].invariants.append((settle, rule))
    plan.invariant_refs[rule.id] = _reads(rule)


# -- native plan and lint -----------------------------------------------------------
def emit(em: _Emitter, rule: InvariantRule) -> dict[str, Any]:
    return dict(on=em.on(rule.on), explicit_on=em.on(rule.explicit_on), when=em.expr(rule.when),
                require=em.expr(rule.require), grace=rule.grace, action=em.template(rule.action),
                reads=sorted(em.state[n] for n in _reads(rule)), calendar=em.calendar(rule.calendar))


def conditions(rule: InvariantRule) -> Iterator[Condition]:
    yield from when_condition(rule.when, rule.on)
    if rule.require is not None:
        yield "require", rule.require, rule.on


def templates(rule: InvariantRule) -> Iterator[Template]:
    return optional_template(rule.action)



def demand(rule: InvariantRule) -> Demand:
    return frozenset(["(state)"]), (rule.when,), rule.require


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["require", "grace", "action"],
    "properties": {
        "on": event_types_key("Event types after which the condition is checked always (it is also checked after "
                              "every event that changes the state it reads)."),
        "when": expression_key("Precondition on the case's state: the condition applies only while it holds."),
        "require": REQUIRE,
        "grace": duration_key("How long the condition may stay false before it is a violation."),
        "calendar": calendar_key("The business calendar the grace counts in: a declared calendar's name, 24x7 "
                                 "(every hour, the default), params.NAME, or {expr: ...} naming one when the "
                                 "condition breaks."),
        "action": text_key("The next action shown while the condition is false: text with {expression} "
                           "placeholders."),
    },
}

KIND = RuleKind("invariant", InvariantRule, SCHEMA, compile_rule, prepare, emit, conditions, on_types,
                templates=templates, demand=demand)
