"""Explain one case: its timeline with, after each event, what each rule did and why, the state and the clocks.

The case is evaluated by the reference evaluator through :class:`_Observer`, an
:class:`~sopengine.evaluator.Evaluator` that records what the rule kinds tell it
(``test``, ``applies``, ``held``, ``violate``, ``undecided``) and, around each
rule's step, what changed (an obligation opened, a breach began, a cross-case
question was asked). The recording methods and the watched rule steps are put in
place only while an explained case's event is stepped; the other cases' events,
and every audit, go through the evaluator untouched, so an audit pays nothing.

Every event of the log goes through one :class:`~sopengine.session.Session`, as
``audit --engine python`` would run it, so the as-of time, data checks, repeated
ids, events out of order and the cross-case join are the audit's own; only the
explained case is recorded. What is open after its last event is judged at the
as-of time by :func:`~sopengine.judging.judge`, as the audit judges it. The
findings the explanation lists are gathered from the trace (each event's
violations, then the judgement and the cross-case answers); the tests hold them
equal to the audit's findings for the case on both engines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from .errors import UsageError, did_you_mean
from .evaluator import CaseRun, Evaluator, Interval, Plan, _column_order
from .events import Event, Record
from .expr import Expr
from .findings import LATE, Attainment, NextAction, Pauses, Pending, Undecided, Violation
from .judging import cross_case, judge
from .kinds import kind_of
from .kinds.invariant import Breach
from .kinds.response import Obligation
from .limits import DEFAULT, Limits
from .model import Pack, Rule
from .session import Session, feed_all
from .timeutil import format_duration, format_time

if TYPE_CHECKING:
    from .kinds._base import Check

# What a rule did at an event (the ``outcome`` of an evaluation; docs/explain.md).
HELD = "held"  # a check held, an obligation was met, a broken condition was restored
VIOLATED = "violated"
TRIGGERED = "triggered"  # an obligation opened, a condition with a grace began to be broken
PENDING = "pending"  # an obligation or a broken condition stays open through this event
PAUSED = "paused"  # an obligation's clock stopped by its rule's pause
UNDECIDED = "undecided"
NOT_APPLICABLE = "not_applicable"  # the SOP does not apply, or the rule's precondition is false
CANCELLED = "cancelled"
ASKED = "asked"  # a cross-case question, answered once every case is known (then held or violated)
NOTED = "noted"  # remembered for later (the earlier event a precedence rule needs)
CHECKED = "checked"  # evaluated with no finding and nothing to say (kept so no evaluation goes unlisted)
OUTCOMES = (HELD, VIOLATED, TRIGGERED, PENDING, PAUSED, UNDECIDED, NOT_APPLICABLE, CANCELLED, ASKED, NOTED,
            CHECKED)

# Where in an event's evaluation a rule's step ran (docs/explain.md; the evaluator's order).
OBLIGATION, CHECK, RECORD, INVARIANT = "obligation", "check", "record", "invariant"
_DEADLINES = "deadlines"  # before them: deadlines that passed (listed with the step, not as evaluations)


def plain(value: Any) -> Any:
    """A state value as JSON data: a set as a list in the worklist's order, a tuple as a list."""
    if isinstance(value, (set, frozenset)):
        return [plain(v) for v in sorted(value, key=_column_order)]
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    return value


@dataclass
class Condition:
    """A condition a rule tested: which (``applies_when``, ``when``, ``require``, ``expect.when``...), its text,
    and its value (None: it could not be evaluated)."""

    what: str
    expression: str
    value: bool | None

    def to_json(self) -> dict[str, Any]:
        return {"condition": self.what, "expression": self.expression, "value": self.value}


@dataclass
class Evaluation:
    """What one rule did at one event (about one open obligation, when ``trigger`` is set)."""

    rule: str
    kind: str
    phase: str
    outcome: str = CHECKED
    why: str = ""
    conditions: list[Condition] = field(default_factory=list)
    violations: list[Violation] = field(default_factory=list)
    undecided: list[str] = field(default_factory=list)
    trigger: str | None = None  # the obligation's trigger event, for an evaluation of an open obligation
    key: Any = None
    held: bool = False
    ended: bool = False  # the open obligation (or breach) this evaluation is about ended here
    opened: "Clock | None" = None  # what it opened (obligation, breach)
    probe: int | None = None  # index of the cross-case question it asked, among the case's

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "phase": self.phase, "outcome": self.outcome,
                               "why": self.why, "conditions": [c.to_json() for c in self.conditions]}
        if self.trigger is not None:
            out["obligation"] = {"trigger": self.trigger, "key": plain(self.key)}
        if self.opened is not None:
            out["opened"] = self.opened.to_json()
        if self.violations:
            out["violations"] = [v.to_json() for v in self.violations]
        return out


@dataclass
class Clock:
    """An open obligation or a broken condition with its times: since (its trigger), shown from, due.

    ``calendar``: the business calendar its deadline counts in (None: every hour); ``paused``: whether its clock
    stands still now, for a rule with a ``pause`` (None otherwise; ``due`` is then None). Absent from the
    JSON while None."""

    rule: str
    kind: str  # "obligation" (a response) or "breach" (an invariant broken within its grace)
    trigger: str
    since: float
    shown_from: float
    due: float | None
    every: float | None = None
    key: Any = None
    overdue: bool = False  # its deadline passed (already a violation); kept to see whether it is met late
    calendar: str | None = None
    paused: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rule": self.rule, "kind": self.kind, "trigger": self.trigger,
                               "since": format_time(self.since), "shown_from": format_time(self.shown_from),
                               "due": format_time(self.due), "every": format_duration(self.every)
                               if self.every is not None else None, "key": plain(self.key), "overdue": self.overdue}
        if self.calendar is not None:
            out["calendar"] = self.calendar
        if self.paused is not None:
            out["paused"] = self.paused
        return out


@dataclass
class Step:
    """One event of the case: the deadlines that passed before it, each rule's evaluation, the state after it
    (and which variables it changed) and the clocks running after it."""

    event: Event
    deadlines: list[Violation] = field(default_factory=list)
    evaluations: list[Evaluation] = field(default_factory=list)
    state: dict[str, Any] = field(default_factory=dict)
    changed: list[str] = field(default_factory=list)
    clocks: list[Clock] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"event": self.event.to_json(), "deadlines": [v.to_json() for v in self.deadlines],
                "evaluations": [e.to_json() for e in self.evaluations], "state": self.state,
                "changed": self.changed, "clocks": [c.to_json() for c in self.clocks]}


@dataclass
class Judged:
    """What was open after the case's last event, judged at the as-of time: a next action, violations (a
    deadline passed, or the case ended), or not shown yet (its start is after as-of)."""

    clock: Clock
    outcome: str  # PENDING (a next action), VIOLATED, or TRIGGERED (opened, not shown before its start)
    why: str
    violations: list[Violation] = field(default_factory=list)
    action: NextAction | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"clock": self.clock.to_json(), "outcome": self.outcome, "why": self.why}
        if self.violations:
            out["violations"] = [v.to_json() for v in self.violations]
        if self.action is not None:
            out["next_action"] = self.action.to_json()
        return out


@dataclass
class Answer:
    """A cross-case question the case asked at an event, answered once every case was known."""

    rule: str
    event: str
    outcome: str  # HELD (no other case matches), VIOLATED or UNDECIDED
    why: str
    other_case: str | None = None
    violations: list[Violation] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rule": self.rule, "event": self.event, "outcome": self.outcome, "why": self.why,
                "other_case": self.other_case, "violations": [v.to_json() for v in self.violations]}


@dataclass
class Explanation:
    """One case explained: its timeline, what was open at as-of, and its findings (as the audit has them)."""

    case: str
    as_of: float | None
    as_of_chosen: str  # "given" or "latest event"
    cases_complete: bool
    steps: list[Step]
    judged: list[Judged]
    cross_case: list["Answer"]  # the case's cross-case questions, answered
    violations: list[Violation]
    next_actions: list[NextAction]
    undecided: list[Undecided]
    skipped: int = 0  # the case's events after the as-of time (not evaluated)

    def to_json(self) -> dict[str, Any]:
        """The JSON output (keys documented in docs/explain.md and schemas/explain-output.schema.json)."""
        return {
            "case": self.case, "as_of": format_time(self.as_of), "as_of_chosen": self.as_of_chosen,
            "cases_complete": self.cases_complete,
            "summary": {"events": len(self.steps), "skipped": self.skipped, "violations": len(self.violations),
                        "next_actions": len(self.next_actions), "undecided": len(self.undecided)},
            "timeline": [s.to_json() for s in self.steps],
            "at_as_of": [j.to_json() for j in self.judged],
            "cross_case": [e.to_json() for e in self.cross_case],
            "violations": [v.to_json() for v in self.violations],
            "next_actions": [a.to_json() for a in self.next_actions],
            "undecided": [u.to_json() for u in self.undecided],
        }


# -- recording ----------------------------------------------------------------------------------------------------
class _Trace:
    """The evaluations of one event being stepped."""

    def __init__(self, step: Step):
        self.step = step
        self.phase = OBLIGATION
        self.current: Evaluation | None = None  # the rule step running (checks, records, invariants)
        self.by_trigger: dict[tuple[str, str], Evaluation] = {}  # (rule, trigger) -> evaluation of an obligation
        self.last_of_rule: dict[str, Evaluation] = {}  # in the obligation phase: the obligation tested last
        self.turned: list[Evaluation] = []  # clocks a pause stopped or started again (concluded already)

    def evaluation(self, rule: Rule, trigger: Event | None) -> Evaluation | None:
        if self.phase == _DEADLINES:
            return None
        if self.current is not None:
            return self.current
        if trigger is None:
            return self.last_of_rule.get(rule.id)
        key = (rule.id, trigger.id)
        found = self.by_trigger.get(key)
        if found is None:
            found = self.by_trigger[key] = Evaluation(rule.id, rule.kind, OBLIGATION, trigger=trigger.id)
            self.step.evaluations.append(found)
        self.last_of_rule[rule.id] = found
        return found


class _Observer(Evaluator):
    """The reference evaluator, recording what it does for some cases (those explained)."""

    def __init__(self, plan: Plan, evaluator: Evaluator, cases: Iterable[str]):
        super().__init__(plan, evaluator.runtime)
        self.cases = frozenset(cases)
        self.runs: dict[str, CaseRun] = {}  # each case's run being recorded (a replay starts a new one)
        self.steps: dict[str, list[Step]] = {}
        self._run: CaseRun | None = None  # the run whose event is being stepped, while one of theirs is
        self._trace: _Trace | None = None
        self._names: dict[tuple[str, int], str] = {}  # (rule, id of an expression) -> which condition it is
        # The explained cases' events are stepped through a plan of their own, whose rule steps are watched;
        # the other cases' events go through the plain one, at the audit's cost.
        self._plain, self._watched = plan, Plan(plan.pack)
        self._hooks = {"_expire": self._expire_seen, "_pause": self._pause_seen, "test": self._test_seen, "applies": self._applies_seen,
                       "held": self._held_seen, "violate": self._violate_seen, "undecided": self._undecided_seen}
        for tp in self._watched.types.values():
            tp.checks[:] = [(self._watch(h, CHECK), r) for h, r in tp.checks]
            tp.recorders[:] = [(self._watch(h, RECORD), r) for h, r in tp.recorders]
            tp.invariants[:] = [(self._watch(h, INVARIANT), r) for h, r in tp.invariants]

    # -- around each step -------------------------------------------------------------------------------------
    def step(self, run: CaseRun, e: Event) -> None:
        if run.case not in self.cases:
            super().step(run, e)
            return
        if run is not self.runs.get(run.case):  # the case's first event, or a replay of it in time order
            self.runs[run.case], self.steps[run.case] = run, []
        step = Step(e)
        before = {k: _copy(v) for k, v in run.state.items()}
        open_before = list(run.obligations)
        late_before = {ob.rule.id: _late(run.outcomes, ob.rule.id) for ob in open_before if ob.overdue}
        trace = self._trace = _Trace(step)
        self._run, self.plan = run, self._watched
        hooks = vars(self)
        hooks.update(self._hooks)  # the evaluator's methods the kinds call, recording, for this step only
        try:
            super().step(run, e)
        finally:
            self._trace, self._run, self.plan = None, None, self._plain
            for name in self._hooks:
                del hooks[name]
        for ev in step.evaluations:
            if ev.phase == OBLIGATION and ev.trigger is not None:
                ev.ended = not any(o.trigger.id == ev.trigger and o.rule.id == ev.rule for o in run.obligations)
                ev.key = next((o.key for o in open_before if o.trigger.id == ev.trigger and o.rule.id == ev.rule),
                              None)
            _conclude(ev)
        step.evaluations.extend(trace.turned)
        for ob in open_before:  # an overdue obligation ends quietly: met late, or failed or cancelled after it
            if ob.overdue and not any(ob is o for o in run.obligations):
                late = _late(run.outcomes, ob.rule.id) > late_before.get(ob.rule.id, 0)
                step.evaluations.append(Evaluation(
                    ob.rule.id, ob.rule.kind, OBLIGATION, HELD if late else CANCELLED,
                    "met late, after its deadline (a violation already)" if late else
                    "ended unmet after its deadline (a violation already)", trigger=ob.trigger.id, key=ob.key,
                    ended=True))
        step.state = {k: plain(v) for k, v in run.state.items()}
        step.changed = [k for k, v in run.state.items() if v != before.get(k)]
        step.clocks = clocks(run)
        self.steps[run.case].append(step)

    def _expire_seen(self, run: CaseRun, t: float) -> None:
        trace = self._trace
        assert trace is not None
        trace.phase = _DEADLINES
        n = len(run.violations)
        Evaluator._expire(self, run, t)
        trace.step.deadlines.extend(run.violations[n:])
        trace.phase = OBLIGATION

    def _pause_seen(self, run: CaseRun, e: Event) -> None:
        """The clocks the event stopped or started again, each as an evaluation of its obligation."""
        trace = self._trace
        assert trace is not None
        was = {id(ob): ob.paused_at is not None for ob in run.obligations}
        trace.phase = _DEADLINES  # the pause conditions tested are not listed, only the clocks that turned
        try:
            Evaluator._pause(self, run, e)
        finally:
            trace.phase = OBLIGATION
        for ob in run.obligations:
            paused = ob.paused_at is not None
            if paused == was[id(ob)]:
                continue
            assert ob.rule.pause is not None
            cond = Condition("pause.when", ob.rule.pause.text, paused)
            left = format_duration(ob.left) + ("" if ob.calendar is None else f" of {ob.calendar.name} time")
            why = (f"the clock stands still ({_cond(cond)}): {left} left to the deadline" if paused
                   else f"the clock runs again ({_cond(cond)}): due {format_time(ob.due)}")
            trace.turned.append(Evaluation(ob.rule.id, ob.rule.kind, OBLIGATION, PAUSED if paused else PENDING, why,
                                           [cond], trigger=ob.trigger.id, key=ob.key))

    def _watch(self, handler: "Check", phase: str) -> "Check":
        def watched(ev: Evaluator, run: CaseRun, rule: Rule, e: Event, *rest: Any) -> None:
            trace = self._trace
            assert trace is not None and run is self._run  # the watched plan steps only the explained cases
            current = trace.current = Evaluation(rule.id, rule.kind, phase)
            obligations, probes, broken = len(run.obligations), len(run.probes), rule.id in run.breaches
            try:
                handler(ev, run, rule, e, *rest)
            finally:
                trace.current = None
            if len(run.obligations) > obligations:
                current.opened = _obligation_clock(run.obligations[-1])
            if len(run.probes) > probes:
                current.probe = len(run.probes) - 1
            breach = run.breaches.get(rule.id)
            if breach is not None and not broken:
                current.opened = _breach_clock(breach)
            elif broken and breach is None:
                current.ended = True
            if phase == INVARIANT and not current.conditions and current.opened is None and not current.ended:
                return  # not checked: nothing it reads changed
            trace.step.evaluations.append(current)
        return watched

    # -- what the rule kinds tell the evaluator (set on the instance while an explained case's event is stepped)
    def _test_seen(self, run: CaseRun, rule: Rule, expr: Expr | None, event: Event | None,
                   trigger: Event | None = None, other: Any = None) -> bool | None:
        trace = self._trace if run is self._run else None
        ev = trace.evaluation(rule, trigger) if trace is not None else None  # first: an undecided goes to it
        value = Evaluator.test(self, run, rule, expr, event, trigger, other)
        if ev is not None and expr is not None and expr is not rule.applies:
            ev.conditions.append(Condition(self._name(rule, expr), expr.text, value))
        return value

    def _applies_seen(self, run: CaseRun, rule: Rule, event: Event) -> bool:
        value = Evaluator.applies(self, run, rule, event)
        trace = self._trace if run is self._run else None
        ev = trace.evaluation(rule, None) if trace is not None else None
        if ev is not None and rule.effective is not None:
            eff = rule.effective
            at = event.time if eff.at_event else run.first
            in_force = eff.covers(at)
            ev.conditions.append(Condition(
                "effective", f"version {eff.version} in force from {format_time(eff.start)}"
                + (f" until {format_time(eff.end)}" if eff.end is not None else "")
                + f", at {'the event' if eff.at_event else 'the case creation'} {format_time(at)}", in_force))
            if not in_force:
                return value
        if ev is not None and rule.applies is not None:
            ev.conditions.append(Condition("applies_when", rule.applies.text, value))
        return value

    def _held_seen(self, run: CaseRun, rule: Rule) -> None:
        Evaluator.held(run, rule)
        trace = self._trace if run is self._run else None
        ev = trace.evaluation(rule, None) if trace is not None else None
        if ev is not None:
            ev.held = True

    def _violate_seen(self, run: CaseRun, rule: Rule, time: float, message: str, events: Iterable[str],
                      more: int = 0, pauses: Pauses = ()) -> None:
        Evaluator.violate(self, run, rule, time, message, events, more, pauses)
        trace = self._trace if run is self._run else None
        ev = trace.evaluation(rule, None) if trace is not None else None
        if ev is not None:
            ev.violations.append(run.violations[-1])

    def _undecided_seen(self, run: CaseRun, rule: Rule, event: Event | None, reason: str) -> None:
        Evaluator.undecided(self, run, rule, event, reason)
        trace = self._trace if run is self._run else None
        ev = trace.evaluation(rule, None) if trace is not None else None
        if ev is not None:
            ev.undecided.append(reason)

    def _name(self, rule: Rule, expr: Expr) -> str:
        key = (rule.id, id(expr))
        name = self._names.get(key)
        if name is None:
            for what, x, _types in kind_of(rule).conditions(rule):
                self._names.setdefault((rule.id, id(x)), what)
            name = self._names.setdefault(key, "condition")
        return name


def _late(outcomes: Attainment, rule: str) -> int:
    """How many of the case's obligations of ``rule`` were met late so far."""
    return sum(row[LATE] for (r, _week, _who), row in outcomes.items() if r == rule)


def _copy(value: Any) -> Any:
    return set(value) if isinstance(value, set) else value


def _obligation_clock(ob: Obligation) -> Clock:
    paused = ob.paused_at is not None
    return Clock(ob.rule.id, "obligation", ob.trigger.id, ob.since, ob.start, None if paused else ob.due,
                 ob.rule.every, ob.key, ob.overdue, ob.calendar.name if ob.calendar is not None else None,
                 paused if ob.rule.pause is not None else None)


def _breach_clock(breach: Breach) -> Clock:
    return Clock(breach.rule.id, "breach", breach.event.id, breach.since, breach.since, breach.due,
                 overdue=breach.reported)


def clocks(run: CaseRun) -> list[Clock]:
    """The case's open obligations and broken conditions, by due time (none last), then rule."""
    out = [_obligation_clock(ob) for ob in run.obligations] + [_breach_clock(b) for b in run.breaches.values()]
    return sorted(out, key=lambda c: (c.due is None, c.due or 0.0, c.rule, c.trigger))


def _false(ev: Evaluation) -> Condition | None:
    return next((c for c in ev.conditions if not c.value), None)


def _conclude(ev: Evaluation) -> None:
    """Name what the rule did from what it told the evaluator, and why."""
    failed = _false(ev)
    if ev.violations:
        ev.outcome, ev.why = VIOLATED, "; ".join(v.message for v in ev.violations)
    elif ev.undecided:
        ev.outcome, ev.why = UNDECIDED, "; ".join(ev.undecided)
    elif ev.opened is not None:
        c = ev.opened
        ev.outcome = TRIGGERED
        if c.kind == "breach":
            ev.why = f"the condition is broken ({_cond(failed)}): a violation unless restored by {format_time(c.due)}"
        else:
            due = f"due {format_time(c.due)}" if c.due is not None else "no deadline"
            shown = f", shown from {format_time(c.shown_from)}" if c.shown_from != c.since else ""
            ev.why = f"an obligation opened: {due}{shown}"
    elif ev.probe is not None:
        ev.outcome, ev.why = ASKED, "asks the other cases in its index; answered when every case is known"
    elif ev.phase == OBLIGATION:
        if ev.held:
            ev.outcome, ev.why = HELD, "the obligation is met" + ("" if ev.ended else "; the next period starts")
        elif ev.ended:
            ev.outcome, ev.why = CANCELLED, f"the obligation is cancelled ({_cond(_true(ev))})"
        else:
            ev.outcome, ev.why = PENDING, f"still open: {_cond(failed)}" if failed else "still open"
    elif ev.held:
        ev.outcome = HELD
        tested = "; ".join(_cond(c) for c in ev.conditions if c.what not in ("applies_when", "effective"))
        if ev.ended:
            ev.why = "the broken condition is restored"
        elif ev.kind == "forbid":
            ev.why = f"not a forbidden event ({tested})" if tested else "not a forbidden event"
        else:
            ev.why = tested or "it holds"
    elif failed is not None:
        if ev.phase == INVARIANT and failed.what == "require":
            ev.outcome, ev.why = PENDING, f"still broken ({_cond(failed)})"
        else:
            ev.outcome = NOT_APPLICABLE
            ev.why = ("the SOP does not apply to the case: " if failed.what in ("applies_when", "effective") else ""
                      ) + _cond(failed)
            if ev.ended:
                ev.why += "; the broken condition no longer applies"
    elif ev.phase == RECORD:
        ev.outcome, ev.why = NOTED, "remembered as the latest earlier event"
    elif ev.kind == "response":
        ev.outcome, ev.why = PENDING, "an obligation of this rule (and key) is already open"
    else:
        ev.outcome, ev.why = CHECKED, "no finding"


def _true(ev: Evaluation) -> Condition | None:
    return next((c for c in reversed(ev.conditions) if c.value), None)


def _cond(c: Condition | None) -> str:
    if c is None:
        return "no condition"
    value = {True: "true", False: "false", None: "could not be evaluated"}[c.value]
    return f"{c.what} is {value}: {c.expression}"


# -- running -------------------------------------------------------------------------------------------------------
class _ExplainSession(Session):
    """A Python session whose evaluator records some cases."""

    def __init__(self, pack: Pack, facts: Mapping[str, Any] | None, cases: Iterable[str], *, limits: Limits,
                 lenient_data: bool, cases_complete: bool):
        super().__init__(pack, facts, limits=limits, lenient_data=lenient_data, cases_complete=cases_complete)
        self.observer = _Observer(self._plan, self._eval, cases)
        self._eval = self.observer

    def case_ids(self) -> list[str]:
        return list(self._cases)


def explain(pack: Pack, records: Iterable[Record], case: str, facts: Mapping[str, Any] | None = None,
            as_of: float | None = None, *, limits: Limits = DEFAULT, lenient_data: bool = False,
            cases_complete: bool = False) -> Explanation:
    """Explain ``case`` of a log (``records``, as :func:`~sopengine.audit.read_records` gives them) as of
    ``as_of`` (default: the latest event time of the log, as the audit has it).

    Raises :class:`~sopengine.errors.UsageError` when the log has no event of the case up to the as-of time.
    """
    later = 0

    def counted(records: Iterable[Record]) -> Iterable[Record]:
        nonlocal later
        for r in records:
            if as_of is not None and isinstance(r, Event) and r.case == case and r.time > as_of:
                later += 1
            yield r

    session = _ExplainSession(pack, facts, [case], limits=limits, lenient_data=lenient_data,
                              cases_complete=cases_complete)
    found = _explained(session, counted(records), as_of, cases_complete)
    if case not in found:
        if later:
            raise UsageError(f"case {case!r} has no event up to the as-of time {format_time(as_of)} ({later} "
                             "after it, not evaluated)")
        ids = session.case_ids()
        hint = did_you_mean(case, ids) or (f"; its cases: {', '.join(map(repr, ids))}" if len(ids) <= 10 else "")
        raise UsageError(f"case {case!r} is not in the log ({len(ids)} case(s)){hint}")
    found[case].skipped = later
    return found[case]


def explain_cases(pack: Pack, records: Iterable[Record], cases: Iterable[str],
                  facts: Mapping[str, Any] | None = None, as_of: float | None = None, *, limits: Limits = DEFAULT,
                  lenient_data: bool = False, cases_complete: bool = False) -> dict[str, Explanation]:
    """Explain several cases of a log in one pass (:func:`explain`): those that have events up to as-of."""
    session = _ExplainSession(pack, facts, cases, limits=limits, lenient_data=lenient_data,
                              cases_complete=cases_complete)
    return _explained(session, records, as_of, cases_complete)


def _explained(session: _ExplainSession, records: Iterable[Record], as_of: float | None,
               cases_complete: bool) -> dict[str, Explanation]:
    from .audit import until

    feed_all(session, until(records, as_of))
    result = session.result(as_of)
    observer = session.observer
    intervals = session.partial().intervals if any(r.probes for r in observer.runs.values()) else []
    out = {}
    for case, run in observer.runs.items():
        steps = observer.steps[case]
        judged = [_judge(run, p, result.as_of, cases_complete) for p in observer.pending(run)]
        violations = [v for s in steps for v in s.deadlines] \
            + [v for s in steps for e in s.evaluations for v in e.violations] \
            + [v for j in judged for v in j.violations]
        answered, cross_undecided = _answer(observer, run, steps, intervals)  # after: the askers take answers
        violations += [v for a in answered for v in a.violations]
        out[case] = Explanation(
            case, result.as_of, "given" if as_of is not None else "latest event", cases_complete, steps, judged,
            answered,
            sorted(violations, key=lambda v: (v.time, v.rule, v.events, v.message, v.more_events,
                                              v.accountable or "")),
            sorted([a for j in judged if (a := j.action) is not None],
                   key=lambda a: (a.due is None, a.due or 0.0, a.rule, a.events)),
            sorted([*run.undecided.values(), *cross_undecided], key=lambda u: (u.rule, u.reason, u.event or "")))
    return out


def _judge(run: CaseRun, pending: Pending, as_of: float | None, complete: bool) -> Judged:
    """One open obligation or broken condition judged at as-of, as the audit judges it."""
    clock = next((c for c in clocks(run) if c.rule == pending.rule and pending.events[:1] == (c.trigger,)),
                 None) or Clock(pending.rule, "obligation", "", pending.since, pending.start, pending.due)
    violations, actions, _work = judge([pending], as_of, None, complete)
    action = actions[0] if actions else None
    if violations:
        ended = pending.has_ended(complete, as_of if as_of is not None else float("inf"))
        why = ("the case had ended with it still open" if ended else
               f"its deadline {format_time(pending.due)} passed before the as-of time")
        if action is not None:
            why += f"; open again, due {format_time(action.due)}"
        return Judged(clock, VIOLATED, why, violations, action)
    if action is not None:
        due = f"due {format_time(action.due)}" if action.due is not None else "no deadline"
        return Judged(clock, PENDING, f"a next action: {action.action} ({due})", [], action)
    return Judged(clock, TRIGGERED, f"open, but not shown before {format_time(pending.start)}")


def _answer(observer: _Observer, run: CaseRun, steps: list[Step], intervals: list[Interval]
            ) -> tuple[list[Answer], list[Undecided]]:
    """The case's cross-case questions answered against every case's index intervals, as the audit joins them;
    the evaluation that asked each takes its answer."""
    if not run.probes:
        return [], []
    case_of = {iv.event: iv.case for iv in intervals}
    asked = {e.probe: e for s in steps for e in s.evaluations if e.probe is not None}
    answers: list[Answer] = []
    undecided: list[Undecided] = []
    for i, probe in enumerate(run.probes):
        violations, unknown, _passed = cross_case(observer.plan, observer.runtime, [probe], intervals)
        other = case_of.get(violations[0].events[1]) if violations and len(violations[0].events) > 1 else None
        if violations:
            outcome, why = VIOLATED, f"case {other} matches: {violations[0].message}"
        elif unknown:
            outcome, why = UNDECIDED, "; ".join(u.reason for u in unknown)
        else:
            outcome, why = HELD, "no other case in the index matches"
        answers.append(Answer(probe.rule, probe.event.id, outcome, why, other, violations))
        ev = asked.get(i)
        if ev is not None:
            ev.outcome, ev.why, ev.violations = outcome, f"answered: {why}", violations
        undecided.extend(unknown)
    return answers, undecided
