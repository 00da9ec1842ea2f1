"""Sessions: one audit's state, fed events, giving findings; and the choice of engine that runs them.

A :class:`Session` holds one audit's state; there is no global state, so any
number can run side by side. Events of a case are evaluated as they arrive
when they arrive in time order; an event older than one already evaluated for
its case makes that case be replayed in order once, when results are asked for.
What is open at the end is judged, and cross-case rules answered, by
:mod:`sopengine.judging`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterable, Mapping, Sequence

from .datacheck import DataCheck, DataFault, DataNotes, check_event
from .errors import InputError, StrictModeError, UsageError
from .evaluator import CaseRun, Evaluator, Interval, Plan, Probe, Runtime
from .events import Event, InputWarning, Record, Rejected, Rejections, Skipped
from .findings import Attainment, AuditResult, NextAction, Pending, Undecided, Violation, add_counts
from .judging import assemble, cross_case, judge
from .kinds.response import warn_points
from .limits import DEFAULT, Limits
from .model import Pack

if TYPE_CHECKING:
    from .native import NativeSession


class _Case:
    __slots__ = ("case_id", "run", "events", "dirty", "ids")

    def __init__(self, case_id: str, run: CaseRun):
        self.case_id = case_id
        self.run = run
        self.events: list[Event] = []
        self.dirty = False
        self.ids: set[str] = set()


class DuplicateEvent(ValueError):
    """An event whose id its case already has: it is not evaluated (the first one is)."""


class CaseClosed(ValueError):
    """An event of a case that was declared complete (``close_case``): the input was not grouped."""


def duplicate_reason(event_id: str, case: str) -> str:
    return f"duplicate event id {event_id!r} in case {case!r}; the first is kept"


@dataclass
class Partial:
    """What a session found before the as-of judgement and the cross-case join.

    Picklable, so that worker processes can each audit a share of the cases and
    a parent session can combine their partials (:meth:`Session.result`).
    """

    events: int = 0
    cases: int = 0
    latest: float | None = None
    violations: list[Violation] = field(default_factory=list)
    pending: list[Pending] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)
    intervals: list[Interval] = field(default_factory=list)
    probes: list[Probe] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)
    attainment: Attainment = field(default_factory=dict)  # outcomes of obligations settled before as-of
    held: list[tuple[str, str, int]] = field(default_factory=list)  # (case, declare rule, n), when asked
    rejected: Rejections = field(default_factory=Rejections)
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> input records a mapping skipped
    kept: dict[str, list[Event]] = field(default_factory=dict)  # events of cases that may have findings (timelines)
    warnings: list[InputWarning] = field(default_factory=list)
    notes: DataNotes = field(default_factory=DataNotes)  # undeclared fields, lenient data faults

    def absorb(self, other: "Partial") -> None:
        self.events += other.events
        self.cases += other.cases
        if other.latest is not None and (self.latest is None or other.latest > self.latest):
            self.latest = other.latest
        self.violations.extend(other.violations)
        self.pending.extend(other.pending)
        self.undecided.extend(other.undecided)
        self.intervals.extend(other.intervals)
        self.probes.extend(other.probes)
        for rule, n in other.passed.items():
            self.passed[rule] = self.passed.get(rule, 0) + n
        add_counts(self.attainment, other.attainment)
        self.held.extend(other.held)
        self.rejected.absorb(other.rejected)
        for reason, n in other.skipped.items():
            self.skipped[reason] = self.skipped.get(reason, 0) + n
        self.kept.update(other.kept)
        self.warnings.extend(other.warnings)
        self.notes.absorb(other.notes)


class Session:
    """One audit in progress.

    >>> session = Session(pack, facts)
    >>> for event in events: session.feed(event)
    >>> result = session.result(as_of=None)   # as-of defaults to the latest event time
    """

    def __init__(self, pack: Pack, facts: Mapping[str, Any] | None = None, *, keep_events: bool = True,
                 limits: Limits = DEFAULT, lenient_data: bool = False, cases_complete: bool = False,
                 held_by_case: bool = False):
        self.pack = pack
        # Keep per case the times each declare rule held (AuditResult.held), for Declare's counts; else none.
        self._held_rules = frozenset(r.id for r in pack.rules if r.kind == "declare") if held_by_case else None
        self.cases_complete = cases_complete  # every case ended at its last event: open obligations are violations
        self.limits = limits  # rejected-kept bounds the rejected records kept
        self._check = DataCheck(pack.events)  # declared data: a breaking event is refused (DataFault),
        self._lenient = lenient_data  # or with lenient data kept and noted
        self.notes = DataNotes()
        self._plan = Plan(pack)
        self._eval = Evaluator(self._plan, Runtime(index_facts(facts or {})))
        self._cases: dict[str, _Case] = {}
        self._closed_ids: set[str] = set()
        self._closed = Partial()  # what closed cases left behind: findings, index intervals, probes
        self._seq = 0
        self._latest: float | None = None
        self._events = 0
        self._keep = keep_events
        self.rejected = Rejections(limits.rejected_kept)
        self.skipped: dict[str, int] = {}
        self.warnings: list[InputWarning] = []

    # -- input ---------------------------------------------------------------------
    def feed(self, event: Event, seq: int | None = None) -> None:
        """Add one event. Its type must be declared by the pack.

        Events are numbered in the order they are fed (``event.seq``), or by ``seq``
        when given (it must grow with input order): a case's events with equal times
        are evaluated in that order.
        """
        if event.type not in self.pack.known_types:
            raise ValueError(f"unknown event type {event.type!r}")
        # every refusal comes before anything is counted: a refused event is rejected, never also evaluated
        number = self._seq if seq is None else seq
        check_event(self._check, self.notes, self._lenient, event.type, event.data,
                    event.origin or ("(input)", number))
        case = self._cases.get(event.case)
        if case is None:
            if event.case in self._closed_ids:
                raise CaseClosed(f"case {event.case!r} was already closed; its events must come together")
        elif event.id in case.ids:
            raise DuplicateEvent(duplicate_reason(event.id, event.case))
        late = case is not None and not case.dirty and (event.time, number) < case.run.last
        if late and not self._keep:
            raise ValueError(f"event {event.id!r} is older than one already evaluated for case "
                             f"{event.case!r}; keep_events=True allows replay")
        event.seq = number
        self._seq = number + 1
        self._events += 1
        if self._latest is None or event.time > self._latest:
            self._latest = event.time
        if case is None:
            case = self._cases[event.case] = _Case(event.case, CaseRun(event.case, self._plan))
        case.ids.add(event.id)
        if self._keep:
            case.events.append(event)
        if case.dirty:
            return
        if late:
            case.dirty = True
            return
        self._eval.step(case.run, event)

    def reject(self, rejected: Rejected) -> None:
        self.rejected.add(rejected)

    def skip(self, skipped: Skipped) -> None:
        """Count an input record that an input mapping deliberately leaves out (by its reason)."""
        self.skipped[skipped.reason] = self.skipped.get(skipped.reason, 0) + 1

    def warn(self, warning: InputWarning) -> None:
        """Keep a warning about the input (it is no record: the accounting does not count it)."""
        self.warnings.append(warning)

    def close_case(self, case_id: str) -> None:
        """Declare that a case has no more events: its state is freed, what is open is kept to judge."""
        case = self._cases.pop(case_id, None)
        if case is None:
            return
        self._closed.absorb(self._found(case))
        self._closed.cases += 1
        self._closed_ids.add(case_id)

    def preview(self, case_id: str, events: Sequence[Event] = ()) -> tuple[list[Pending], list[Violation]]:
        """What a case has open after its last event (:meth:`Evaluator.pending`) and the violations it found so
        far, as if ``events`` (of that case, already checked) came after every event fed, in this order. The
        session is left as it was, the events too, and nothing is noted or counted: a service computes a changed
        case's timers from this before it commits the events, and feeds them once they are committed. An id the
        case (or an earlier one of ``events``) has is left out, as :meth:`feed` refuses it; a closed case has
        nothing open. The events a case is replayed from are its kept ones (``keep_events``)."""
        case = self._cases.get(case_id)
        if case is None and case_id in self._closed_ids:
            return [], []
        ids = set(case.ids) if case is not None else set()
        extra: list[Event] = []
        for n, e in enumerate(events):
            if e.id not in ids:
                ids.add(e.id)
                extra.append(Event(e.id, e.case, e.time, e.type, e.actor, e.data, self._seq + n, e.origin))
        if case is not None and not extra and not case.dirty:
            run = case.run
        else:  # the reference engine replays the case (a copy of its run would share its mutable parts)
            run = CaseRun(case_id, self._plan)
            kept = case.events if case is not None else []
            for e in sorted([*kept, *extra], key=lambda ev: (ev.time, ev.seq)):
                self._eval.step(run, e)
        return self._eval.pending(run), list(run.violations)

    def _settle(self, case: _Case) -> CaseRun:
        if case.dirty:
            run = CaseRun(case.case_id, self._plan)
            for e in sorted(case.events, key=lambda ev: (ev.time, ev.seq)):
                self._eval.step(run, e)
            case.run = run
            case.dirty = False
        return case.run

    def _found(self, case: _Case) -> Partial:
        run = self._settle(case)
        kept = self._held_rules
        held = [] if kept is None else [(run.case, rule, n) for rule, n in run.passed.items() if rule in kept]
        return Partial(violations=run.violations, pending=self._eval.pending(run),
                       undecided=list(run.undecided.values()), intervals=run.intervals, probes=run.probes,
                       passed=run.passed, attainment=self._eval.settled(run), held=held)

    # -- output ----------------------------------------------------------------------
    @property
    def latest_time(self) -> float | None:
        return self._latest

    def partial(self) -> Partial:
        """Everything found so far, before the as-of judgement and the cross-case join."""
        rejected = Rejections(self.limits.rejected_kept)
        rejected.absorb(self.rejected)
        out = Partial(events=self._events, cases=len(self._cases), latest=self._latest,
                      rejected=rejected, skipped=dict(self.skipped), warnings=list(self.warnings))
        out.notes.absorb(self.notes)
        out.absorb(self._closed)  # cases counts there; events are all counted in self._events
        for case in self._cases.values():
            out.absorb(self._found(case))
        return out

    def result(self, as_of: float | None = None, others: Iterable[Partial] = ()) -> AuditResult:
        """Findings as of ``as_of`` (default: the latest event time seen).

        ``others`` are partials of other sessions over other cases of the same log
        (worker processes); they are judged and joined together with this one.
        """
        total = self.partial()
        for other in others:
            total.absorb(other)
        if as_of is None:
            as_of = total.latest
        attainment: Attainment = {}
        add_counts(attainment, total.attainment)
        violations, actions, work = judge(total.pending, as_of, attainment, self.cases_complete)
        cross, cross_undecided, cross_passed = self.cross_case(total.probes, total.intervals)
        passed = dict(total.passed)
        for rule_id, n in cross_passed.items():
            passed[rule_id] = passed.get(rule_id, 0) + n
        return assemble(as_of, total.events, total.cases, total.violations + violations + cross, actions,
                        total.undecided + cross_undecided, total.rejected, passed, total.skipped, work,
                        total.warnings + total.notes.warnings(self._check), attainment, warn_points(self.pack),
                        total.held)

    def cross_case(self, probes: list[Probe], intervals: Iterable[Interval]
                   ) -> tuple[list[Violation], list[Undecided], dict[str, int]]:
        """Answer cross-case probes against index intervals (all of one key, or of many)."""
        return cross_case(self._plan, self._eval.runtime, probes, intervals)

    def add_timelines(self, result: AuditResult, limit: int) -> None:
        """Attach the events of up to ``limit`` cases with findings (violations first) and evidence actors."""
        attach_timelines(result, {case_id: case.events for case_id, case in self._cases.items()}, limit)

    def keep_timelines(self, partial: Partial) -> None:
        """Put into ``partial`` the events of its cases that may have findings once judged: a worker's share of
        the timelines, which the parent attaches with :func:`attach_timelines`."""
        cases = {v.case for v in partial.violations} | {p.case for p in partial.pending} \
            | {p.event.case for p in partial.probes}
        partial.kept.update((c, self._cases[c].events) for c in cases if c in self._cases)

    def next_actions(self, as_of: float | None = None) -> list[NextAction]:
        """What the SOPs now require, as of ``as_of``."""
        return self.result(as_of).next_actions


def index_facts(facts: Mapping[str, Any]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Facts as given (collection -> list of records with ``id``, or -> mapping id -> record) -> by id."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name, records in facts.items():
        if isinstance(records, Mapping):
            out[name] = {str(k): v for k, v in records.items() if isinstance(v, Mapping)}
        else:
            out[name] = {str(r["id"]): r for r in records or [] if isinstance(r, Mapping) and "id" in r}
    return out


def cases_with_findings(result: AuditResult) -> dict[str, None]:
    """The cases of the violations, then of the next actions, in that order (an ordered set)."""
    return dict.fromkeys([v.case for v in result.violations] + [a.case for a in result.next_actions])


def attach_timelines(result: AuditResult, kept: Mapping[str, list[Event]], limit: int) -> None:
    """Attach the kept events of up to ``limit`` cases with findings (violations first), in time order, and
    the actor of every event of those cases."""
    for case_id in cases_with_findings(result):
        events = kept.get(case_id)
        if events is None:
            continue
        ordered = sorted(events, key=lambda ev: (ev.time, ev.seq))
        if len(result.timelines) < limit:
            result.timelines[case_id] = ordered
        result.actors.update((e.id, e.actor) for e in ordered)


def feed_all(session: "Session | NativeSession", records: Iterable[Record], *, strict: bool = False, grouped: bool = False,
             keep_seq: bool = False) -> int:
    """Feed records to a session; returns the number of runs (stretches of one case's events).

    ``keep_seq`` keeps the readers' input numbering (workers that read a share of a log).
    """
    current: str | None = None
    runs = 0
    for record in records:
        if isinstance(record, Skipped):
            session.skip(record)
            continue
        if isinstance(record, InputWarning):
            session.warn(record)
            continue
        if isinstance(record, Rejected):
            if strict:
                raise StrictModeError(f"{record.file}:{record.line}: {record.error}")
            session.reject(record)
            continue
        if record.case != current:
            runs += 1
            if grouped and current is not None:
                session.close_case(current)
            current = record.case
        try:
            session.feed(record, record.seq if keep_seq else None)
        except CaseClosed:
            file, line = record.origin or ("(input)", record.seq)
            raise InputError(f"{file}:{line}: case {record.case!r} comes back after other cases, so the log is "
                             "not grouped by case: audit it without --grouped (findings would be wrong)") from None
        except ValueError as exc:
            file, line = record.origin or ("(input)", record.seq)
            session.reject(Rejected(file, line, str(exc) if isinstance(exc, (DuplicateEvent, DataFault))
                                    else f"event {record.id}: {exc}"))
    return runs


ENGINES = ("auto", "native", "python")


def engine_name(engine: str | None = None) -> str:
    """The evaluator an audit runs on: ``native`` (the Rust core) where it is built, else ``python``."""
    from . import native

    if engine in (None, "auto", "local"):
        return "native" if native.available() else "python"
    if engine == "native" and not native.available():
        raise UsageError("--engine native: the native core is not built here (pip install . builds it)")
    if engine not in ENGINES:
        raise UsageError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    return engine


def new_session(pack: Pack, facts: Mapping[str, Any] | None = None, engine: str | None = None,
                *, keep_events: bool = True, resident_cases: int | None = None,
                timelines: bool = True, limits: Limits = DEFAULT, lenient_data: bool = False,
                cases_complete: bool = False, held_by_case: bool = False) -> "Session | NativeSession":
    """A session on the chosen engine (see :func:`engine_name`); both give the same findings.

    ``resident_cases`` bounds the cases the native engine keeps in memory (the rest wait on disk);
    the Python reference engine keeps every case. ``timelines=False``: no report will ask for the events
    of cases (:meth:`Session.add_timelines`), so the native engine keeps no Python copy of them.
    ``limits``: rejected-kept bounds the rejected records kept whole. ``lenient_data``: an event whose data
    breaks the pack's declaration is kept (and noted), not rejected. ``cases_complete``: the log is finished,
    every case ended at its last event (see :func:`sopengine.judging.judge`). ``held_by_case``: keep per case
    how often each declare rule held (:attr:`AuditResult.held`: Declare's per-constraint counts).
    """
    if engine_name(engine) == "native":
        from .native import NativeSession

        return NativeSession(pack, facts, keep_events=keep_events, resident_cases=resident_cases,
                             timelines=timelines, limits=limits, lenient_data=lenient_data,
                             cases_complete=cases_complete, held_by_case=held_by_case)
    return Session(pack, facts, keep_events=keep_events, limits=limits, lenient_data=lenient_data,
                   cases_complete=cases_complete, held_by_case=held_by_case)
