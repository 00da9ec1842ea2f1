"""Evaluate stage: one case's events, in time order, against a compiled pack.

The evaluator only loops. Everything it needs is prepared once per pack in a
:class:`Plan` that indexes rules, state updates and invariants by event type.
For each event of a case, in order:

1. obligations and broken invariants whose deadline passed before this event
   become violations;
2. open obligations are met, failed or cancelled by this event;
3. the rules indexed under this event type are checked against the event and
   the state *just before it* (guards, forbids, required fields, precedence,
   counts, cross-case probes, triggers of new obligations);
4. the state updates for this event type are applied;
5. invariants that read the changed state are checked, and the case's place
   in each cross-case index is brought up to date.

What remains open at the end of a case is a :class:`~sopengine.findings.Pending`,
judged against the as-of time once that is known.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Iterable, Mapping

from .events import Event
from .expr import Expr, MissingFact, state_refs
from .findings import Attainment, Pauses, Pending, Undecided, Violation, cite
from .kinds import KINDS, Check, declare, invariant, response
from .kinds.cross_case import Probe as Probe
from .model import Pack, Rule, StateUpdate, StateVar
from .rulebase import UNDECLARED
from .values import freeze


class Runtime:
    """What expressions may reach at run time besides the event and state: facts and extra variables."""

    __slots__ = ("facts", "vars")

    def __init__(self, facts: Mapping[str, Mapping[str, Mapping[str, Any]]] | None = None):
        self.facts = facts or {}
        self.vars: dict[str, Any] = {}

    def fact(self, collection: str, record_id: Any, field_name: str) -> Any:
        records = self.facts.get(collection)
        if records is None:
            raise MissingFact(f"no '{collection}' facts were given (--facts)")
        if record_id is None:
            raise MissingFact(f"no id to look up in '{collection}' facts")
        record = records.get(record_id) if isinstance(record_id, str) else None
        if record is None:
            raise MissingFact(f"'{record_id}' is not in the '{collection}' facts")
        if field_name not in record or record[field_name] is None:
            raise MissingFact(f"'{collection}' fact '{record_id}' has no '{field_name}'")
        return record[field_name]

    def known(self, collection: str, record_id: Any) -> bool:
        records = self.facts.get(collection)
        return bool(records) and isinstance(record_id, str) and record_id in records  # type: ignore[operator]


@dataclass
class _TypePlan:
    """What to do for one event type."""

    obligation_rules: set[str] = field(default_factory=set)  # response rules this type can meet/fail/cancel
    checks: list[tuple[Check, Rule]] = field(default_factory=list)  # with the state before the event
    recorders: list[tuple[Check, Rule]] = field(default_factory=list)  # after the checks (precedence 'after')
    updates: list[tuple[StateVar, StateUpdate]] = field(default_factory=list)
    invariants: list[tuple[Check, Rule]] = field(default_factory=list)  # with the state after the event


Position = tuple[float, str, int]


def position(e: Event) -> Position:
    """Where an event stands among all cases' events: by time; at one time by case, then input order.

    Ordering equal times by case (not by where each case's lines fall in the input) keeps
    cross-case answers the same however the cases' lines are interleaved.
    """
    return (e.time, e.case, e.seq)


@dataclass(slots=True)
class Interval:
    """A case's membership of a cross-case index under one key with one set of attributes."""

    index: str
    key: Any
    case: str
    start: Position
    end: Position | None
    attrs: dict[str, Any]
    event: str


_NOTHING: frozenset[str] = frozenset()
_CONTAINERS = (list, tuple, set, dict)


def _column_order(value: Any) -> tuple[Any, ...]:
    """Where an item of a set goes when a worklist column shows the set as a list: numbers first, ascending
    (bools as 0 and 1), then every other value by its text, then its type's name. Python's ``<`` is no order
    for a set holding texts and numbers both (it raises); the core sorts by this same key."""
    if isinstance(value, (int, float)) and value == value:
        return (0, value)
    return (1, str(value), type(value).__name__)


def _as_items(value: Any) -> tuple[Any, ...]:
    if value is None:
        return ()
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(v for v in value if v is not None)
    return (value,)


class CaseRun:
    """The evolving evaluation of one case."""

    __slots__ = ("case", "state", "prov", "obligations", "breaches", "memory", "violations", "undecided",
                 "intervals", "probes", "membership", "first", "last", "passed", "outcomes")

    def __init__(self, case: str, plan: "Plan"):
        self.case = case
        self.state: dict[str, Any] = dict(plan.initial_state)
        for name in plan.set_vars:
            self.state[name] = set(plan.initial_state[name])
        self.prov: dict[str, Any] = {}  # state var -> event id that set it (sets: value -> event id)
        self.obligations: list[response.Obligation] = []
        self.breaches: dict[str, invariant.Breach] = {}
        self.memory: dict[str, Any] = {}
        self.violations: list[Violation] = []
        self.undecided: dict[tuple[str, str], Undecided] = {}
        self.intervals: list[Interval] = []
        self.probes: list[Probe] = []
        self.membership: dict[str, tuple[Any, Any, Interval | None]] = {}
        self.first = float("inf")  # the time of its first event: when the case was created
        self.last: tuple[float, int] = (float("-inf"), -1)
        self.passed: dict[str, int] = {}  # rule id -> times the rule was checked and held (or was met)
        self.outcomes: Attainment = {}  # how its obligations with a deadline ended (findings.OUTCOMES)


class Plan:
    """A pack prepared for evaluation: rules, updates and invariants indexed by event type."""

    def __init__(self, pack: Pack):
        self.pack = pack
        self.types: dict[str, _TypePlan] = {t: _TypePlan() for t in pack.events}
        if pack.open_vocabulary:  # the plan of every undeclared type (rules reach it by on: any and any_except)
            self.types[UNDECLARED] = _TypePlan()
        self.rules = {r.id: r for r in pack.rules}
        # An invariant is re-checked only when an event changed state it reads (or on its explicit types).
        self.invariant_refs: dict[str, frozenset[str]] = {}
        # What a cross-case probe must keep of the state and the event: what its match and message read.
        self.probe_refs: dict[str, tuple[str, ...]] = {}
        self.probe_data: dict[str, tuple[str, ...]] = {}
        self.open_ended: list[declare.DeclareRule] = []  # rules with their own pending items at a case's end (declare)
        self.pausing = False  # a response rule's clock can pause: after each event, test its pause
        for rule in pack.rules:
            KINDS[rule.kind].prepare(self, rule)
        for var in pack.state:
            for up in var.updates:
                for t in up.on:
                    self.types[t].updates.append((var, up))
        # Who answers for each rule's findings (the rule's expression, else the pack's): read when one arises.
        self.accountable = {r.id: pack.accountable_for(r) for r in pack.rules}
        # When a case has ended for each rule's pending items (its complete:, else the pack's).
        self.completion = {r.id: pack.completion_for(r) for r in pack.rules}
        self.completes = any(self.completion.values())
        self.initial_state = {v.name: v.fresh() for v in pack.state}
        self.set_vars = tuple(v.name for v in pack.state if v.kind == "set")
        self.indexes = tuple(pack.indexes.values())
        self.index_refs = {ix.name: state_refs((ix.member, ix.key, *(a for _, a in ix.attributes)))
                           for ix in self.indexes}
        self.any_index_refs = frozenset().union(*self.index_refs.values()) if self.indexes else frozenset()
        # Updates keep their declared order across variables: sort by position in the pack.
        order = {id(up): i for i, (var, up) in enumerate((v, u) for v in pack.state for u in v.updates)}
        for tp in self.types.values():
            tp.updates.sort(key=lambda vu: order[id(vu[1])])

    def matched(self, name: str) -> str:
        """The name a rule's ``on`` holds for an event of this type: its own, or :data:`UNDECLARED` for a type
        the pack does not declare (an open vocabulary)."""
        return name if name in self.types else UNDECLARED


class Evaluator:
    """Runs cases through a :class:`Plan` with one :class:`Runtime` (facts)."""

    def __init__(self, plan: Plan, runtime: Runtime):
        self.plan = plan
        self.runtime = runtime
        self._applies: dict[int, bool] = {}

    # -- condition helpers ----------------------------------------------------
    def test(self, run: CaseRun, rule: Rule, expr: Expr | None, event: Event | None, trigger: Event | None = None,
             other: Any = None) -> bool | None:
        """True/False, or None when undecided (recorded once per rule, case and reason)."""
        if expr is None:
            return True
        try:
            return bool(expr.fn(event, run.state, trigger, other, self.runtime))
        except MissingFact as exc:
            self.undecided(run, rule, event, exc.reason)
        except Exception as exc:  # noqa: BLE001 - data of an unexpected shape must not stop an audit
            self.undecided(run, rule, event, f"condition {expr.text!r} could not be evaluated: "
                                              f"{type(exc).__name__}: {exc}")
        return None

    def undecided(self, run: CaseRun, rule: Rule, event: Event | None, reason: str) -> None:
        key = (rule.id, reason)
        if key not in run.undecided:
            run.undecided[key] = Undecided(rule.id, run.case, event.id if event else None, reason)

    def applies(self, run: CaseRun, rule: Rule, event: Event) -> bool:
        """The rule's SOP applies to this case at this event: its version is in force (at the case's creation, or
        at the event), then its applies_when holds (cached per event: rules of a SOP share it)."""
        effective = rule.effective
        if effective is not None and not effective.covers(event.time if effective.at_event else run.first):
            return False
        expr = rule.applies
        if expr is None:
            return True
        key = id(expr)
        cached = self._applies.get(key)
        if cached is None:
            cached = self._applies[key] = bool(self.test(run, rule, expr, event))
        return cached

    @staticmethod
    def held(run: CaseRun, rule: Rule) -> None:
        passed = run.passed
        passed[rule.id] = passed.get(rule.id, 0) + 1

    def violate(self, run: CaseRun, rule: Rule, time: float, message: str, events: Iterable[str],
                more: int = 0, pauses: Pauses = ()) -> None:
        """Record a violation citing ``events`` (bounded by :func:`~sopengine.findings.cite`; ``more``: ids
        already left out of them), charged to whom the case's state now names accountable."""
        ids, left_out = cite(events)
        run.violations.append(Violation(rule.id, run.case, time, rule.severity, message, ids, left_out + more,
                                        self.accountable(run, rule), pauses))

    def accountable(self, run: CaseRun, rule: Rule) -> str | None:
        """Who the case's state now names accountable for ``rule``: text, else None (nothing declared, the
        expression failed, or it gave no text).

        The state now is the state in force when a finding arises: an event's checks see it as the event is
        evaluated, and a deadline is found passed at the first event after it, before that event changes
        anything (state changes only at events).
        """
        expr = self.plan.accountable.get(rule.id)
        if expr is None:
            return None
        try:
            value = expr.fn(None, run.state, None, None, self.runtime)
        except Exception:  # noqa: BLE001 - who is accountable is informative; a failure leaves it unknown
            return None
        return value if isinstance(value, str) and value else None

    def evidence(self, run: CaseRun, expr: Expr | None) -> list[str]:
        """Ids of the events that set the state an expression read."""
        out: list[str] = []
        if expr is None:
            return out
        for name in sorted(expr.state_refs):
            p = run.prov.get(name)
            if isinstance(p, dict):
                out.extend(p.values())
            elif p is not None:
                out.append(p)
        return out

    # -- the loop -----------------------------------------------------------------
    def step(self, run: CaseRun, e: Event) -> None:
        """Evaluate one event of a case (events of a case must come in (time, seq) order)."""
        plan = self.plan
        tp = plan.types.get(e.type) or plan.types[UNDECLARED]  # an undeclared type: an open vocabulary
        t = e.time
        if t < run.first:  # its first event (events of a case come in time order)
            run.first = t
        self._applies.clear()
        if run.obligations or run.breaches:
            self._expire(run, t)
            if run.obligations and tp.obligation_rules:
                response.resolve(self, run, e, tp.obligation_rules)
        for handler, rule in tp.checks:
            handler(self, run, rule, e)
        for handler, rule in tp.recorders:
            handler(self, run, rule, e)
        changed = self._update(run, e, tp.updates) if tp.updates else _NOTHING
        if changed and plan.indexes and not changed.isdisjoint(plan.any_index_refs):
            self._index(run, e, changed)
        if plan.pausing and run.obligations:
            self._pause(run, e)
        if tp.invariants:
            self._applies.clear()  # invariants see the state after the event
            for handler, rule in tp.invariants:
                handler(self, run, rule, e, changed)
        run.last = (t, e.seq)

    def _pause(self, run: CaseRun, e: Event) -> None:
        response.pause_clocks(self, run, e)

    def _expire(self, run: CaseRun, t: float) -> None:
        run.obligations = [ob for ob in run.obligations if response.still_open(self, run, ob, t)]
        invariant.expire(self, run, t)

    def _update(self, run: CaseRun, e: Event, updates: list[tuple[StateVar, StateUpdate]]) -> set[str]:
        """Apply the event's state updates; return the names of the variables whose value changed."""
        state = run.state
        runtime = self.runtime
        changed: set[str] = set()
        prov_all = run.prov
        for var, up in updates:
            if up.when is not None:
                try:
                    if not up.when.fn(e, state, None, None, runtime):
                        continue
                except Exception:  # noqa: BLE001 - an update that cannot be computed does not happen
                    continue
            name = var.name
            if up.op == "set" and var.kind != "set":  # the common case, kept short
                try:
                    value = up.value.fn(e, state, None, None, runtime)  # type: ignore[union-attr]
                except Exception:  # noqa: BLE001
                    continue
                if type(value) in _CONTAINERS:
                    value = freeze(value)
                if state[name] != value:
                    state[name] = value
                    changed.add(name)
                prov_all[name] = e.id
                continue
            if up.op == "clear":
                fresh = var.fresh()
                if state[name] != fresh:
                    state[name] = fresh
                    changed.add(name)
                prov_all.pop(name, None)
                continue
            try:
                value = up.value.fn(e, state, None, None, runtime)  # type: ignore[union-attr]
            except Exception:  # noqa: BLE001
                continue
            if up.op == "set":  # of a set (values were handled above); items frozen, as 'add' freezes them
                new = {freeze(item) for item in _as_items(value)}
                if state[name] != new:
                    state[name] = new
                    changed.add(name)
                prov_all[name] = dict.fromkeys(new, e.id)  # a set's provenance is always per item
            elif var.kind == "set":
                bucket = state[name]
                prov = prov_all.setdefault(name, {})
                adding = up.op == "add"
                for item in _as_items(value):
                    item = freeze(item)
                    if adding:
                        if item not in bucket:
                            bucket.add(item)
                            changed.add(name)
                        prov[item] = e.id
                    elif item in bucket:
                        bucket.discard(item)
                        prov.pop(item, None)
                        changed.add(name)
            elif up.op == "add" and isinstance(value, (int, float)) and not isinstance(value, bool):
                if value:
                    state[name] = (state[name] or 0) + value
                    changed.add(name)
                prov_all[name] = e.id
        return changed

    def _index(self, run: CaseRun, e: Event, changed: set[str] | frozenset[str]) -> None:
        pos = position(e)
        refs = self.plan.index_refs
        for index in self.plan.indexes:
            if changed.isdisjoint(refs[index.name]):
                continue
            try:
                member = bool(index.member.fn(e, run.state, None, None, self.runtime))
                key = freeze(index.key.fn(e, run.state, None, None, self.runtime)) if member else None
                attrs = {n: freeze(x.fn(e, run.state, None, None, self.runtime)) for n, x in index.attributes} \
                    if member else None
            except Exception:  # noqa: BLE001 - a case whose key cannot be computed is not in the index
                member, key, attrs = False, None, None
            prev = run.membership.get(index.name)
            if prev is not None and member and prev[0] == key and prev[1] == attrs:
                continue
            if prev is not None and prev[2] is not None:
                prev[2].end = pos
            if not member:
                if prev is not None:
                    del run.membership[index.name]
                continue
            since = prev[2].attrs["since"] if prev is not None and prev[2] is not None and prev[0] == key else e.time
            full = dict(attrs or {}, case=run.case, since=since)
            interval = Interval(index.name, key, run.case, pos, None, full, e.id)
            run.intervals.append(interval)
            run.membership[index.name] = (key, attrs, interval)

    # -- end of a case --------------------------------------------------------------
    def _columns(self, run: CaseRun) -> tuple[tuple[str, Any], ...]:
        out = []
        for name, expr in self.plan.pack.columns.items():
            try:
                value = expr.fn(None, run.state, None, None, self.runtime)
            except Exception:  # noqa: BLE001 - a column is informative; a failure leaves it empty
                value = None
            out.append((name, sorted(value, key=_column_order) if isinstance(value, (set, frozenset)) else value))
        return tuple(out)

    @staticmethod
    def settled(run: CaseRun) -> Attainment:
        """How the case's obligations and breaches with a deadline ended so far (those overdue: missed)."""
        out = response.settled(run)
        invariant.settled(run, out)
        return out

    def pending(self, run: CaseRun) -> list[Pending]:
        """What is still open after the case's last event."""
        waiting = [rule for rule in self.plan.open_ended if declare.waits(run, rule)]
        columns = self._columns(run) if self.plan.pack.columns and (run.obligations or run.breaches or waiting) else ()
        out = [response.pending(self, run, ob, columns) for ob in run.obligations if not ob.overdue]
        out.extend(invariant.pending(self, run, breach, columns) for breach in run.breaches.values()
                   if not breach.reported)
        for rule in waiting:
            out.extend(declare.pending(self, run, rule, columns))
        if out and self.plan.completes:
            ends: dict[int, bool] = {}  # per condition: rules without their own share the pack's
            for i, p in enumerate(out):
                done = self.plan.completion[p.rule]
                if done:
                    key = id(done.when)
                    ended = ends[key] if key in ends else ends.setdefault(key, self._ended(run, done.when))
                    out[i] = replace(p, ended=ended, idle=done.idle)
        return out

    def _ended(self, run: CaseRun, expr: Expr | None) -> bool:
        """Whether a ``complete.when`` holds on the case's state after its last event (a failure: no)."""
        if expr is None:
            return False
        try:
            return bool(expr.fn(None, run.state, None, None, self.runtime))
        except Exception:  # noqa: BLE001 - an unknown end leaves the case open, as a case without the condition
            return False
