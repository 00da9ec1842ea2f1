"""response: after a trigger event, an expected event must follow (within a time, possibly recurring).

A trigger opens an obligation; later events of the case meet, fail or cancel
it; a deadline that passes makes it a violation. What is open at the end of a
case is pending, judged at the as-of time.

An obligation with a deadline ends in one of :data:`~sopengine.findings.OUTCOMES`,
counted per rule, ISO week of the deadline and accountable: met by its deadline
(accountable: the state when met), not met (the state at the deadline, as its
violation names), or still open at as-of (the case's last state). Past its
deadline it is kept, *overdue*, only to see whether it is met late: it makes no
finding, counts in nothing else, and its conditions are tested quietly (a failure
is no match, not an undecided check). A repeating obligation counts each period.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..calendars import Calendar, CalendarRef
from ..errors import Code, Diagnostic, Severity
from ..expr import Expr, MissingFact, Template
from ..findings import (LATE, MISSED, ON_TIME, Attainment, Pauses, Pending, Violation, Warn, cite, missed_deadlines,
                        tally)
from ..rulebase import Match, Rule
from ..timeutil import MAX_DURATION, MIN_REPEAT, format_duration
from ..values import freeze
from ._base import YAML_KEY, Condition, Path, RuleKind
from ._common import (add_checks, calendar_key, compile_text, counted, duration_key, expression_key, gate, match_key,
                      optional_template, text_key)

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..model import Pack
    from ..native import _Emitter


@dataclass(frozen=True)
class ResponseRule(Rule):
    after: Match = field(default_factory=lambda: Match(frozenset()))
    expect: Match = field(default_factory=lambda: Match(frozenset()))
    within: float | None = None
    # within: {expr: ...}: the deadline in seconds, evaluated at the trigger (then ``within`` is None)
    within_expr: Expr | None = field(default=None, metadata={YAML_KEY: None})
    start: float = 0.0
    every: float | None = field(default=None, metadata={YAML_KEY: "repeat"})  # repeat: {every: ...}
    key: Expr | None = None
    cancel: tuple[Match, ...] = ()
    fail_on: tuple[Match, ...] = ()
    action: Template | None = None
    warn_before: float | None = field(default=None, metadata={YAML_KEY: "warn"})  # warn: 30m, or warn: 75%
    warn_share: float | None = field(default=None, metadata={YAML_KEY: None})
    calendar: CalendarRef | None = None  # within and start count its working time; None: every hour
    pause: Expr | None = None  # pause: {when: ...}: while it holds, the clock stands still


DUE = "due"
"""The name a response rule's message and action read its obligation's deadline by (epoch seconds; null when
it has none): ``{iso(due)}``."""


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> ResponseRule:
    after = work.match(raw["after"], doc, p + ("after",))
    trig = after.on
    expect = work.match(raw["expect"], doc, p + ("expect",), trigger=trig)
    cancel = tuple(work.match(m, doc, p + ("cancel", i), trigger=trig) for i, m in enumerate(raw.get("cancel", [])))
    fail_on = tuple(work.match(m, doc, p + ("fail_on", i), trigger=trig)
                    for i, m in enumerate(raw.get("fail_on", [])))
    text_scope = work.scope(trigger=trig, extra=(DUE,))
    common["message"] = compile_text(work, doc, p, raw, "message", text_scope)
    action = compile_text(work, doc, p, raw, "action", text_scope)
    key = work.expr(raw["key"], work.scope(event=trig), doc.loc(p + ("key",))) if "key" in raw else None
    within_raw = raw.get("within")
    within_expr = None
    if isinstance(within_raw, Mapping):
        within_raw = None
        within_expr = work.expr(raw["within"].get("expr"), work.scope(event=trig), doc.loc(p + ("within",)))
        if "repeat" in raw:
            work.error(Code.BAD_DURATION, "a repeating obligation's deadline is a duration, not an expression",
                       doc.loc(p + ("within",)))
    within = work.duration(within_raw, doc.loc(p + ("within",)))
    start = work.duration(raw.get("start"), doc.loc(p + ("start",))) or 0.0
    every = work.duration((raw.get("repeat") or {}).get("every"), doc.loc(p + ("repeat", "every")))
    if every is not None and every < MIN_REPEAT:
        work.error(Code.BAD_DURATION, f"repeat every {format_duration(every)}: a repeating obligation's period is "
                   f"at least {format_duration(MIN_REPEAT)}", doc.loc(p + ("repeat", "every")))
        every = None
    if every is not None and within is None:
        within = every
    if within is not None and start > within:
        work.error(Code.BAD_DURATION, "start is later than the deadline (within)", doc.loc(p + ("start",)))
    calendar = work.calendar(raw.get("calendar"), work.scope(event=trig), doc.loc(p + ("calendar",)))
    if calendar is not None and "repeat" in raw:
        work.error(Code.BAD_CALENDAR, "a repeating obligation counts every hour: its periods cannot follow a "
                   "calendar (leave out calendar, or name 24x7)", doc.loc(p + ("calendar",)))
    warn_before, warn_share = _warning(work, doc, p, raw.get("warn"), within)
    pause = None
    if "pause" in raw:
        pause = work.expr(raw["pause"].get("when"), work.scope(trigger=trig), doc.loc(p + ("pause", "when")))
        if "repeat" in raw:
            work.error(Code.BAD_DURATION, "a repeating obligation's periods run every hour: its clock cannot pause "
                       "(leave out pause, or repeat)", doc.loc(p + ("pause",)))
    return ResponseRule(**common, after=after, expect=expect, within=within, start=start, every=every, key=key,
                        cancel=cancel, fail_on=fail_on, action=action, warn_before=warn_before, warn_share=warn_share,
                        calendar=calendar, within_expr=within_expr, pause=pause)


def _warning(work: _Work, doc: YamlDocument, p: Path, raw: Any, within: float | None
             ) -> tuple[float | None, float | None]:
    """``warn``: a duration before the deadline, or a share of the time to it ("75%")."""
    if raw is None:
        return None, None
    loc = doc.loc(p + ("warn",))
    if within is None:
        work.error(Code.BAD_DURATION, "warn needs a deadline (within or repeat)", loc)
        return None, None
    if isinstance(raw, str) and raw.endswith("%"):
        try:
            share = float(raw[:-1]) / 100
        except ValueError:
            share = -1.0
        if not 0 < share < 1:
            work.error(Code.BAD_DURATION, f"warn {raw}: a share of the time to the deadline is between 0% and "
                       "100%", loc)
            return None, None
        return None, share
    before = work.duration(raw, loc)
    if before is not None and not 0 < before < within:
        work.error(Code.BAD_DURATION, f"warn {format_duration(before)} before the deadline: it is at least as long "
                   f"as the time to it ({format_duration(within)})", loc)
        return None, None
    return before, None


def warn_points(pack: Pack) -> dict[str, Warn]:
    """Each response rule with a warning point: when its next actions turn at risk (findings.at_risk)."""
    return {r.id: (r.warn_before, r.warn_share, r.every) for r in pack.rules
            if isinstance(r, ResponseRule) and (r.warn_before is not None or r.warn_share is not None)}


# -- evaluate ---------------------------------------------------------------------
class Obligation:
    """An open obligation of one response rule in one case."""

    __slots__ = ("rule", "trigger", "key", "due", "start", "since", "missed", "overdue", "who", "calendar",
                 "paused_at", "left", "pauses", "pause_ids")

    def __init__(self, rule: ResponseRule, trigger: Event, key: Any, due: float | None, start: float,
                 calendar: Calendar | None = None):
        self.rule = rule
        self.trigger = trigger
        self.key = key
        self.due = due
        self.start = start
        self.since = trigger.time
        self.missed = 0  # deadlines of a repeating obligation reported missed
        self.overdue = False  # its deadline passed (reported): kept only to see whether it is met late
        self.who: str | None = None  # accountable at the deadline, once overdue
        self.calendar = calendar  # its deadline counted in (None: every hour)
        # The rule's pause: since when the clock stands still (None: it runs), the working seconds then left to
        # the deadline (``due`` keeps the deadline as it stood), the pauses that ended, the events of each turn.
        self.paused_at: float | None = None
        self.left = 0.0
        self.pauses: list[tuple[float, float]] = []
        self.pause_ids: list[str] = []

    @property
    def zone(self) -> str | None:
        return self.calendar.zone if self.calendar is not None else None

    def evidence(self, *more: str) -> tuple[str, ...]:
        """Its trigger, the events that stopped and started its clock, then ``more``."""
        return (self.trigger.id, *self.pause_ids, *more)

    def intervals(self, until: float | None) -> Pauses:
        """Its pauses, one still standing ended at ``until`` (None: left standing)."""
        if self.paused_at is None:
            return tuple(self.pauses)
        return (*self.pauses, (self.paused_at, until))


def trigger(ev: Evaluator, run: CaseRun, rule: ResponseRule, e: Event) -> None:
    if not gate(ev, run, rule, e, rule.after.when):
        return
    key = None
    if rule.key is not None:
        try:
            key = freeze(rule.key.fn(e, run.state, None, None, ev.runtime))
        except Exception:  # noqa: BLE001
            key = e.id
    for ob in run.obligations:
        if ob.rule is rule and ob.key == key and not ob.overdue:
            return  # already open: one obligation per rule, case and key
    within = rule.within
    if rule.within_expr is not None:
        within = _within(ev, run, rule, rule.within_expr, e)
        if within is None:
            return  # undecided: no deadline
    found = counted(ev, run, rule, rule.calendar, e, e.time, (within, rule.start))
    if found is None:
        return  # undecided: no calendar to count in
    (due, start), calendar = found
    run.obligations.append(Obligation(rule, e, key, due, start, calendar))  # type: ignore[arg-type]


def _within(ev: Evaluator, run: CaseRun, rule: ResponseRule, expr: Expr, e: Event) -> float | None:
    """The deadline ``within: {expr}`` gives at the trigger, in seconds; None (undecided, the reason recorded)
    when it fails or gives no duration of 0 to 1000 years. The core words the reasons alike."""
    try:
        value = expr.fn(e, run.state, None, None, ev.runtime)
    except MissingFact as exc:
        ev.undecided(run, rule, e, exc.reason)
        return None
    except Exception as exc:  # noqa: BLE001 - data of an unexpected shape must not stop an audit
        ev.undecided(run, rule, e, f"within {expr.text!r} could not be evaluated: {type(exc).__name__}: {exc}")
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= MAX_DURATION:
        ev.undecided(run, rule, e, f"within {expr.text!r} gave no duration (a {type(value).__name__}, not "
                                   "seconds from 0 to 1000 years)")
        return None
    return float(value)


def still_open(ev: Evaluator, run: CaseRun, ob: Obligation, t: float) -> bool:
    """Report the deadlines of ``ob`` that passed before ``t``; False when it is over."""
    rule = ob.rule
    if ob.due is None or ob.due >= t or ob.overdue or ob.paused_at is not None:
        return True
    ev.runtime.vars[DUE] = ob.due
    message = rule.message.render(None, run.state, ob.trigger, None, ev.runtime)
    if rule.every is None:
        ev.violate(run, rule, ob.due, message, ob.evidence(), pauses=ob.intervals(ob.due))
        ob.overdue, ob.who = True, run.violations[-1].accountable
        return True

    who = ev.accountable(run, rule)

    def missed(time: float, text: str) -> Violation:
        tally(run.outcomes, rule.id, time, who, MISSED)
        return Violation(rule.id, run.case, time, rule.severity, text, (ob.trigger.id,), accountable=who)

    # a missed period: the next one starts at the deadline
    ob.due, ob.missed = missed_deadlines(ob.missed, ob.due, rule.every, t, message, missed, run.violations)
    return True


def resolve(ev: Evaluator, run: CaseRun, e: Event, rule_ids: set[str]) -> None:
    """Meet, fail or cancel the open obligations of ``rule_ids`` with event ``e``."""
    keep = []
    for ob in run.obligations:
        rule = ob.rule
        if rule.id not in rule_ids:
            keep.append(ob)
            continue
        if ob.overdue:
            ended = _overdue_outcome(ev, run, ob, e)
            if ended is None:
                keep.append(ob)
            else:
                tally(run.outcomes, rule.id, ob.due, ob.who, ended)  # type: ignore[arg-type]
            continue
        outcome = _outcome(ev, run, ob, e)
        if outcome == "met":
            ev.held(run, rule)
            if ob.due is not None:
                tally(run.outcomes, rule.id, ob.due, ev.accountable(run, rule), ON_TIME)
            if rule.every is not None:  # recurring: the next period starts now
                ob.due = e.time + rule.every
                keep.append(ob)
        elif outcome == "failed":
            ev.runtime.vars[DUE] = ob.due
            ev.violate(run, rule, e.time, rule.message.render(e, run.state, ob.trigger, None, ev.runtime),
                       ob.evidence(e.id), pauses=ob.intervals(e.time))
            if ob.due is not None:
                tally(run.outcomes, rule.id, ob.due, run.violations[-1].accountable, MISSED)
        elif outcome == "open":
            keep.append(ob)
        # "cancelled" and "undecided" end the obligation without a finding
    run.obligations = keep


def pause_clocks(ev: Evaluator, run: CaseRun, e: Event) -> None:
    """After ``e`` changed the case's state: stop the clock of each open obligation whose rule's ``pause`` now
    holds, and start again those whose no longer does, with the working time that was left (a pause that
    cannot be decided changes nothing). The core (``response::pause_clocks``) does the same."""
    t = e.time
    for ob in run.obligations:
        rule = ob.rule
        if rule.pause is None or ob.due is None or ob.overdue:
            continue
        holds = ev.test(run, rule, rule.pause, e, ob.trigger)
        if holds is None or holds == (ob.paused_at is not None):
            continue
        calendar = ob.calendar
        # stopping: the (working) time left to the deadline; starting again: the new deadline
        counted: float | None
        if calendar is None:
            counted = ob.due - t if holds else t + ob.left
        elif holds:
            now, due = calendar.worked_at(t), calendar.worked_at(ob.due)
            counted = None if now is None or due is None else due - now
        else:
            counted = calendar.add(t, ob.left)
        if counted is None:
            ev.undecided(run, rule, e, calendar.outside(t))  # type: ignore[union-attr]
            continue
        if holds:
            ob.left, ob.paused_at = counted, t
        else:
            ob.pauses.append((ob.paused_at, t))  # type: ignore[arg-type]
            ob.paused_at, ob.due = None, counted
        ob.pause_ids.append(e.id)


def _outcome(ev: Evaluator, run: CaseRun, ob: Obligation, e: Event) -> str:
    rule, et = ob.rule, ev.plan.matched(e.type)
    if et in rule.expect.on:
        met = ev.test(run, rule, rule.expect.when, e, ob.trigger)
        if met is None:
            return "undecided"
        if met:
            return "met"
    for m in rule.fail_on:
        if et in m.on:
            failed = ev.test(run, rule, m.when, e, ob.trigger)
            if failed is None:
                return "undecided"
            if failed:
                return "failed"
    for m in rule.cancel:
        if et in m.on and ev.test(run, rule, m.when, e, ob.trigger):
            return "cancelled"
    return "open"


def _overdue_outcome(ev: Evaluator, run: CaseRun, ob: Obligation, e: Event) -> int | None:
    """LATE when ``e`` meets an overdue obligation, MISSED when it fails or cancels it, else None; tested
    quietly."""
    rule, et = ob.rule, ev.plan.matched(e.type)

    def holds(expr: Expr | None) -> bool:
        if expr is None:
            return True
        try:
            return bool(expr.fn(e, run.state, ob.trigger, None, ev.runtime))
        except Exception:  # noqa: BLE001 - past its deadline an obligation only counts; it finds nothing
            return False

    if et in rule.expect.on and holds(rule.expect.when):
        return LATE
    if any(et in m.on and holds(m.when) for m in (*rule.fail_on, *rule.cancel)):
        return MISSED
    return None


def settled(run: CaseRun) -> Attainment:
    """The case's obligation outcomes, with each overdue one still unmet counted missed."""
    out = {key: list(row) for key, row in run.outcomes.items()}
    for ob in run.obligations:
        if ob.overdue:
            tally(out, ob.rule.id, ob.due, ob.who, MISSED)  # type: ignore[arg-type]
    return out


def pending(ev: Evaluator, run: CaseRun, ob: Obligation, columns: tuple[tuple[str, Any], ...]) -> Pending:
    rule = ob.rule
    ev.runtime.vars[DUE] = ob.due
    events, more = cite(ob.evidence())
    return Pending(
        rule.id, run.case, rule.severity,
        rule.action.render(None, run.state, ob.trigger, None, ev.runtime) if rule.action else "",
        rule.message.render(None, run.state, ob.trigger, None, ev.runtime),
        ob.since, ob.start, ob.due, rule.every, events, columns, more, missed=ob.missed,
        accountable=ev.accountable(run, rule), attained=ob.due is not None, last=run.last[0], zone=ob.zone,
        pauses=ob.intervals(None))


def prepare(plan: Plan, rule: ResponseRule) -> None:
    for m in (rule.expect, *rule.cancel, *rule.fail_on):
        for t in m.on:
            plan.types[t].obligation_rules.add(rule.id)
    add_checks(plan, rule.after.on, trigger, rule)
    if rule.pause is not None:
        plan.pausing = True


# -- native plan and lint -----------------------------------------------------------
def emit(em: _Emitter, rule: ResponseRule) -> dict[str, Any]:
    return dict(after=em.match(rule.after), expect=em.match(rule.expect), cancel=[em.match(m) for m in rule.cancel],
                fail_on=[em.match(m) for m in rule.fail_on], within=rule.within, start=rule.start, every=rule.every,
                key=em.expr(rule.key), action=em.template(rule.action), within_expr=em.expr(rule.within_expr),
                calendar=em.calendar(rule.calendar), pause=em.expr(rule.pause))


def conditions(rule: ResponseRule) -> Iterator[Condition]:
    if rule.key is not None:
        yield "key", rule.key, frozenset()  # the rule has no 'on' of its own
    if rule.within_expr is not None:
        yield "within", rule.within_expr, rule.after.on
    if rule.calendar is not None and rule.calendar.expr is not None:
        yield "calendar", rule.calendar.expr, rule.after.on
    if rule.pause is not None:
        yield "pause.when", rule.pause, frozenset()
    for name, m in (("after", rule.after), ("expect", rule.expect)):
        if m.when is not None:
            yield f"{name}.when", m.when, m.on
    for name, ms in (("cancel", rule.cancel), ("fail_on", rule.fail_on)):
        for i, m in enumerate(ms):
            if m.when is not None:
                yield f"{name}[{i}].when", m.when, m.on


def templates(rule: ResponseRule) -> Iterator[Template]:
    return optional_template(rule.action)


def event_types(rule: ResponseRule) -> frozenset[str]:
    return frozenset().union(*(m.on for m in (rule.after, rule.expect, *rule.cancel, *rule.fail_on)))


def required(rule: ResponseRule) -> Iterator[tuple[str, Match]]:
    yield "expects", rule.expect


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
_EVENTS = "Events of the given type(s), optionally narrowed by a condition."
SCHEMA: dict[str, Any] = {
    "required": ["after", "expect", "action"],
    "properties": {
        "after": match_key("The trigger: events that open an obligation."),
        "expect": match_key("The events that meet the obligation."),
        "within": {"description": "Deadline, measured from the trigger: a duration, or {expr: ...} giving seconds "
                             "at the trigger (e.g. hours(1) if data.priority == 'High' else hours(4)).",
                   "$ref": "#/$defs/durationChoice"},
        "start": duration_key("The obligation shows as a next action only from this long after the trigger."),
        "repeat": {
            "description": "The obligation recurs; after each period it is due again.",
            "type": "object",
            "additionalProperties": False,
            "required": ["every"],
            "properties": {"every": duration_key("Length of one period.")},
        },
        "key": expression_key("Obligations with the same key (per case and rule) are one; default: one open "
                              "obligation per rule and case."),
        "cancel": {
            "description": "Events that end the obligation without a finding.",
            "type": "array",
            "items": match_key(_EVENTS),
        },
        "fail_on": {
            "description": "Events that, while the obligation is open, make it a violation.",
            "type": "array",
            "items": match_key(_EVENTS),
        },
        "action": text_key("The next action shown while the obligation is open: text with {expression} "
                           "placeholders ('due' is its deadline: {iso(due)})."),
        "calendar": calendar_key("The business calendar within and start count in: a declared calendar's name, "
                                 "24x7 (every hour, the default), params.NAME, or {expr: ...} naming one at the "
                                 "trigger."),
        "pause": {
            "description": "The obligation's clock stands still while a condition on the case's state holds "
                           "(e.g. state.status == 'Waiting for customer'), tested after each event, and runs "
                           "again with the time that was left; findings list the pauses (pauses, "
                           "paused_seconds). Not with repeat.",
            "type": "object",
            "additionalProperties": False,
            "required": ["when"],
            "properties": {"when": expression_key("The pause condition: sees state, trigger and params.")},
        },
        "warn": duration_key("When the open obligation turns at risk: a duration before its deadline (30m), or a "
                             "share of the time to it ('75%'); at-risk items are listed apart (at_risk)."),
    },
}


def notes(rule: ResponseRule, pack: Pack) -> Iterator[Diagnostic]:
    """An obligation with no deadline, no fail_on, in a pack that never says a case has ended, can only ever
    be a next action (Declare's liveness needs the case's end)."""
    if rule.within is None and rule.within_expr is None and not rule.fail_on and not pack.completion_for(rule):
        yield Diagnostic(Code.NEVER_LATE, f"rule {rule.id} has no deadline (within), no fail_on, and the pack does "
                         "not say when a case has ended (pack.complete): it can only ever be a next action. Fine "
                         "for a to-do; else declare pack.complete, or audit a finished log with --cases-complete",
                         rule.location, Severity.INFO, rule.id)


KIND = RuleKind("response", ResponseRule, SCHEMA, compile_rule, prepare, emit, conditions, event_types,
                templates=templates, required=required, notes=notes)
