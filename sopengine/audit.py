"""The embedding API: sessions that take events and give findings.

A :class:`Session` holds one audit's state; there is no global state, so any
number can run side by side. Events of a case are evaluated as they arrive
when they arrive in time order; an event older than one already evaluated for
its case makes that case be replayed in order once, when results are asked for.
Cross-case rules are answered at the end, by joining each rule's probes with
the intervals during which other cases were members of the index it searches.
"""

from __future__ import annotations

import heapq
import os
from collections import defaultdict
from typing import Any, Iterable, Iterator, Mapping

from .errors import InputError, StrictModeError
from .evaluator import CaseRun, Evaluator, Interval, Plan, Probe, Runtime
from .events import Event, Record, Rejected, read_jsonl
from .findings import AuditResult, NextAction, Pending, Undecided, Violation
from .model import Pack


class _Case:
    __slots__ = ("case_id", "run", "events", "dirty", "closed", "pending", "violations", "undecided", "intervals",
                 "probes", "passed")

    def __init__(self, case_id: str, run: CaseRun | None):
        self.case_id = case_id
        self.run = run
        self.events: list[Event] = []
        self.dirty = False
        self.closed = False
        self.pending: list[Pending] = []
        self.violations: list[Violation] = []
        self.undecided: list[Undecided] = []
        self.intervals: list[Interval] = []
        self.probes: list[Probe] = []
        self.passed: dict[str, int] = {}


class Session:
    """One audit in progress.

    >>> session = Session(pack, facts)
    >>> for event in events: session.feed(event)
    >>> result = session.result(as_of=None)   # as-of defaults to the latest event time
    """

    def __init__(self, pack: Pack, facts: Mapping[str, Any] | None = None, *, keep_events: bool = True):
        self.pack = pack
        self._plan = Plan(pack)
        self._eval = Evaluator(self._plan, Runtime(index_facts(facts or {})))
        self._cases: dict[str, _Case] = {}
        self._seq = 0
        self._latest: float | None = None
        self._events = 0
        self._keep = keep_events
        self.rejected: list[Rejected] = []

    # -- input ---------------------------------------------------------------------
    def feed(self, event: Event) -> None:
        """Add one event. Its type must be declared by the pack.

        The session numbers events in the order they are fed (``event.seq``): events of a case
        with equal times are evaluated in that order.
        """
        if event.type not in self._plan.types:
            raise ValueError(f"unknown event type {event.type!r}")
        event.seq = self._seq  # input order: equal times keep it
        self._seq += 1
        self._events += 1
        if self._latest is None or event.time > self._latest:
            self._latest = event.time
        case = self._cases.get(event.case)
        if case is None:
            case = self._cases[event.case] = _Case(event.case, CaseRun(event.case, self._plan))
        elif case.closed:
            raise ValueError(f"case {event.case!r} was already closed; its events must come together")
        if self._keep:
            case.events.append(event)
        run = case.run
        assert run is not None
        if case.dirty:
            return
        if (event.time, event.seq) < run.last:
            if not self._keep:
                raise ValueError(f"event {event.id!r} is older than one already evaluated for case "
                                 f"{event.case!r}; keep_events=True allows replay")
            case.dirty = True
            return
        self._eval.step(run, event)

    def reject(self, rejected: Rejected) -> None:
        self.rejected.append(rejected)

    def close_case(self, case_id: str) -> None:
        """Declare that a case has no more events: its state is freed, what is open is kept to judge."""
        case = self._cases.get(case_id)
        if case is None or case.closed:
            return
        self._settle(case)
        run = case.run
        assert run is not None
        case.pending = self._eval.pending(run)
        case.violations = run.violations
        case.undecided = list(run.undecided.values())
        case.intervals = run.intervals
        case.probes = run.probes
        case.passed = run.passed
        case.run = None
        case.events = []
        case.closed = True

    def _settle(self, case: _Case) -> None:
        if case.dirty:
            run = CaseRun(case.case_id, self._plan)
            for e in sorted(case.events, key=lambda ev: (ev.time, ev.seq)):
                self._eval.step(run, e)
            case.run = run
            case.dirty = False

    # -- output ----------------------------------------------------------------------
    @property
    def latest_time(self) -> float | None:
        return self._latest

    def _views(self) -> Iterator[_Case]:
        """Every case, closed or settled now, as its findings so far."""
        for case in self._cases.values():
            if case.closed:
                yield case
                continue
            self._settle(case)
            run = case.run
            assert run is not None
            view = _Case(case.case_id, None)
            view.violations, view.pending, view.undecided = run.violations, self._eval.pending(run), \
                list(run.undecided.values())
            view.intervals, view.probes, view.passed = run.intervals, run.probes, run.passed
            yield view

    def result(self, as_of: float | None = None) -> AuditResult:
        """Findings as of ``as_of`` (default: the latest event time seen)."""
        if as_of is None:
            as_of = self._latest
        violations: list[Violation] = []
        actions: list[NextAction] = []
        undecided: list[Undecided] = []
        intervals: dict[tuple[str, Any], list[Interval]] = defaultdict(list)
        probes: list[Probe] = []
        passed: dict[str, int] = defaultdict(int)
        for view in self._views():
            violations.extend(view.violations)
            undecided.extend(view.undecided)
            for p in view.pending:
                late, action = p.judge(as_of if as_of is not None else float("inf"))
                violations.extend(late)
                if action is not None:
                    actions.append(action)
            for iv in view.intervals:
                intervals[(iv.index, iv.key)].append(iv)
            probes.extend(view.probes)
            for rule_id, n in view.passed.items():
                passed[rule_id] += n
        cross, cross_undecided, cross_passed = self._join(probes, intervals)
        violations.extend(cross)
        undecided.extend(cross_undecided)
        for rule_id, n in cross_passed.items():
            passed[rule_id] += n
        violations.sort(key=lambda v: (v.case, v.time, v.rule, v.events))
        actions.sort(key=lambda a: (a.due is None, a.due or 0.0, a.case, a.rule))
        undecided.sort(key=lambda u: (u.rule, u.case, u.reason))
        return AuditResult(as_of, self._events, len(self._cases), violations, actions, undecided,
                           list(self.rejected), passed=dict(sorted(passed.items())))

    def next_actions(self, as_of: float | None = None) -> list[NextAction]:
        """What the SOPs now require, as of ``as_of``."""
        return self.result(as_of).next_actions

    def _join(self, probes: list[Probe], intervals: Mapping[tuple[str, Any], list[Interval]]
              ) -> tuple[list[Violation], list[Undecided], dict[str, int]]:
        """Answer cross-case probes: a sweep over each key's intervals in time order.

        For one (index, key), probes and interval starts are walked together in
        position order; the intervals open at a probe's position are the members
        just before its event. Cost: sorting plus the members open at each probe.
        """
        out: list[Violation] = []
        undecided: list[Undecided] = []
        passed: dict[str, int] = defaultdict(int)
        runtime = self._eval.runtime
        by_key: dict[tuple[str, Any], list[Probe]] = defaultdict(list)
        for probe in probes:
            by_key[(probe.rule.index, probe.key)].append(probe)
        for group_key, group in by_key.items():
            members = sorted(intervals.get(group_key, ()), key=lambda i: i.start)
            group.sort(key=lambda p: (p.event.time, p.event.seq))
            active: dict[int, Interval] = {}  # in start order
            ends: list[tuple[tuple[float, int], int]] = []
            nxt = 0
            for probe in group:
                e = probe.event
                pos = (e.time, e.seq)
                while nxt < len(members) and members[nxt].start < pos:
                    iv = members[nxt]
                    active[nxt] = iv
                    if iv.end is not None:
                        heapq.heappush(ends, (iv.end, nxt))
                    nxt += 1
                while ends and ends[0][0] <= pos:
                    active.pop(heapq.heappop(ends)[1], None)
                hit = self._first_match(probe, active.values(), runtime, undecided)
                if hit is None:
                    passed[probe.rule.id] += 1
                else:
                    rule = probe.rule
                    message = rule.message.render(e, probe.state, None, hit.attrs, runtime)
                    out.append(Violation(rule.id, e.case, e.time, rule.severity, message, (e.id, hit.event)))
        return out, undecided, passed

    @staticmethod
    def _first_match(probe: Probe, candidates: Iterable[Interval], runtime: Runtime,
                     undecided: list[Undecided]) -> Interval | None:
        rule, e = probe.rule, probe.event
        for iv in candidates:
            if iv.case == e.case:
                continue
            if rule.match is None:
                return iv
            try:
                if rule.match.fn(e, probe.state, None, iv.attrs, runtime):
                    return iv
            except Exception as exc:  # noqa: BLE001 - data of an unexpected shape must not stop an audit
                undecided.append(Undecided(rule.id, e.case, e.id, f"match could not be evaluated: {exc}"))
                return None
        return None


def index_facts(facts: Mapping[str, Any]) -> dict[str, dict[str, Mapping[str, Any]]]:
    """Facts as given (collection -> list of records with ``id``, or -> mapping id -> record) -> by id."""
    out: dict[str, dict[str, Mapping[str, Any]]] = {}
    for name, records in facts.items():
        if isinstance(records, Mapping):
            out[name] = {str(k): v for k, v in records.items() if isinstance(v, Mapping)}
        else:
            out[name] = {str(r["id"]): r for r in records or [] if isinstance(r, Mapping) and "id" in r}
    return out


def read_records(pack: Pack, paths: Iterable[str | os.PathLike[str]]) -> Iterator[Record]:
    """Events and rejected lines of JSON Lines logs, in input order."""
    types = pack.events
    names = lambda: list(types)  # noqa: E731
    for path in paths:
        yield from read_jsonl(path, types, display=os.fspath(path), type_names=names)


def audit(pack: Pack, records: Iterable[Record], facts: Mapping[str, Any] | None = None,
          as_of: float | None = None, *, strict: bool = False, grouped: bool = False) -> AuditResult:
    """Audit a stream of events (and rejected lines) against a pack.

    ``grouped=True`` declares that each case's events come together: a case is
    closed, and its state freed, as soon as the next case starts, so memory
    grows with the largest case rather than with the log.
    """
    session = Session(pack, facts, keep_events=True)
    current: str | None = None
    runs = 0  # stretches of consecutive events of one case: runs == cases means the log was grouped
    for record in records:
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
            session.feed(record)
        except ValueError as exc:
            session.reject(Rejected("(input)", 0, f"event {record.id}: {exc}"))
    result = session.result(as_of)
    result.grouped_input = runs == result.cases
    return result


def load_facts(paths: Iterable[str | os.PathLike[str]]) -> dict[str, Any]:
    """Merge facts files (YAML or JSON): collection name -> list of records with ``id``."""
    from ._yaml import load_yaml_file
    from pathlib import Path

    merged: dict[str, list[Any]] = {}
    for raw in paths:
        doc, problems = load_yaml_file(Path(raw), os.fspath(raw))
        if problems or doc is None:
            raise InputError("\n".join(str(p) for p in problems) or f"{raw}: cannot read")
        data = doc.data
        if not isinstance(data, dict):
            raise InputError(f"{raw}:1: facts must be a mapping of collection name to a list of records")
        for name, records in data.items():
            if isinstance(records, dict):
                records = [dict(v, id=k) for k, v in records.items() if isinstance(v, dict)]
            if not isinstance(records, list):
                loc = doc.loc((name,))
                raise InputError(f"{loc}: facts '{name}' must be a list of records with an 'id'")
            for i, rec in enumerate(records):
                if not isinstance(rec, dict) or "id" not in rec:
                    raise InputError(f"{doc.loc((name, i))}: each record of '{name}' needs an 'id'")
            merged.setdefault(name, []).extend(records)
    return merged
