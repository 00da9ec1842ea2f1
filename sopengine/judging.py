"""Judging: what was open at the end of each case, as of a time; cross-case answers; the result in its one order.

Cross-case rules are answered at the end, by joining each rule's probes with
the intervals during which other cases were members of the index it searches.
Every way of auditing (one process, worker processes, Spark, the native core)
ends here, so the findings come out the same.
"""

from __future__ import annotations

import heapq
from collections import defaultdict
from typing import Any, Iterable, Mapping, Sequence

from .evaluator import Interval, Plan, Position, Probe, Runtime, position
from .events import InputWarning, Rejected, Rejections
from .findings import (MISSED, OPEN, Attainment, AuditResult, NextAction, Pending, Undecided, Violation, Warn,
                       WorkItem, at_risk, attainment_order, tally)
from .kinds.cross_case import CrossCaseRule, answer


def cross_case(plan: Plan, runtime: Runtime, probes: list[Probe], intervals: Iterable[Interval]
               ) -> tuple[list[Violation], list[Undecided], dict[str, int]]:
    """Answer cross-case probes against index intervals (all of one key, or of many)."""
    by_key: dict[tuple[str, Any], list[Interval]] = defaultdict(list)
    for iv in intervals:
        by_key[(iv.index, iv.key)].append(iv)
    return _join(plan, runtime, probes, by_key)


def _join(plan: Plan, runtime: Runtime, probes: list[Probe], intervals: Mapping[tuple[str, Any], list[Interval]]
          ) -> tuple[list[Violation], list[Undecided], dict[str, int]]:
    """Answer cross-case probes: a sweep over each key's intervals in time order.

    For one (index, key), probes and interval starts are walked together in
    position order; the intervals open at a probe's position are the members
    just before its event. Cost: sorting plus the members open at each probe.
    """
    out: list[Violation] = []
    undecided: list[Undecided] = []
    passed: dict[str, int] = defaultdict(int)
    by_key: dict[tuple[str, Any], list[Probe]] = defaultdict(list)
    for probe in probes:
        by_key[(probe.index, probe.key)].append(probe)
    for group_key, group in by_key.items():
        members = sorted(intervals.get(group_key, ()), key=lambda i: i.start)
        group.sort(key=lambda p: position(p.event))
        active: dict[int, Interval] = {}  # in start order
        ends: list[tuple[Position, int]] = []
        nxt = 0
        for probe in group:
            e = probe.event
            pos = position(e)
            while nxt < len(members) and members[nxt].start < pos:
                iv = members[nxt]
                active[nxt] = iv
                if iv.end is not None:
                    heapq.heappush(ends, (iv.end, nxt))
                nxt += 1
            while ends and ends[0][0] <= pos:
                active.pop(heapq.heappop(ends)[1], None)
            rule = plan.rules[probe.rule]
            assert isinstance(rule, CrossCaseRule)
            hit = answer(rule, probe, active.values(), runtime, undecided)
            if hit is None:
                passed[rule.id] += 1
            else:
                message = rule.message.render(e, probe.state, None, hit.attrs, runtime)
                out.append(Violation(rule.id, e.case, e.time, rule.severity, message, (e.id, hit.event),
                                     accountable=probe.accountable))
    return out, undecided, passed



def judge(pending: Iterable[Pending], as_of: float | None, attainment: Attainment | None = None,
          complete: bool = False) -> tuple[list[Violation], list[NextAction], list[WorkItem]]:
    """Open obligations as of ``as_of``: the late ones become violations, the others next actions;
    every one open at as-of (late or not) is a worklist item. ``attainment``: where to count the outcomes
    of obligations with a deadline (each missed deadline; one still open, by its next deadline).

    ``complete``: every case has ended at its last event (a finished log, Declare's reading): deadlines
    count up to the case's end, and an obligation (or broken invariant) still open there is a violation at
    it, not a next action. A pack's ``complete`` ends some cases so (:meth:`Pending.has_ended`)."""
    violations: list[Violation] = []
    actions: list[NextAction] = []
    work: list[WorkItem] = []
    limit = as_of if as_of is not None else float("inf")
    for p in pending:
        if p.has_ended(complete, limit):
            late, _ = p.judge(min(p.last, limit))
            ended_open = p.every is None and not late
            if attainment is not None and p.attained:
                for when in [v.time for v in late] + ([p.due] if ended_open and p.due is not None else []):
                    tally(attainment, p.rule, when, p.accountable, MISSED)
            violations.extend([p.at_end()] if ended_open else late)
            continue
        late, action = p.judge(limit)
        violations.extend(late)
        if attainment is not None and p.attained:
            for v in late:
                tally(attainment, p.rule, v.time, p.accountable, MISSED)
            # not yet shown (p.start), or paused: by the deadline as it stood
            due = action.due if action is not None and not p.paused else p.due if not late else None
            if due is not None:
                tally(attainment, p.rule, due, p.accountable, OPEN)
        if action is not None:
            actions.append(action)
        if as_of is None or p.start <= as_of:
            due = None if p.paused else p.due
            work.append(WorkItem(p.rule, p.case, p.action, due, p.since,
                                 due is not None and as_of is not None and due < as_of, p.columns, p.events,
                                 p.more_events, zone=p.zone))
    return violations, actions, work


def assemble(as_of: float | None, events: int, cases: int, violations: list[Violation], actions: list[NextAction],
             undecided: list[Undecided], rejected: Rejections | list[Rejected], passed: Mapping[str, int],
             skipped: Mapping[str, int], work: list[WorkItem],
             warnings: Sequence[InputWarning] = (), attainment: Attainment | None = None,
             warns: Mapping[str, Warn] | None = None, held: Sequence[tuple[str, str, int]] = ()) -> AuditResult:
    """The result in its one order, whichever way (one process, workers, Spark) the findings were made;
    ``warns``: the rules' warning points, which make next actions at risk at as-of (the native core orders its
    findings so itself: ``native/py/src/found.rs``)."""
    violations = sorted(violations, key=lambda v: (v.case, v.time, v.rule, v.events, v.message, v.more_events,
                                                   v.accountable or ""))
    actions = sorted(actions, key=lambda a: (a.due is None, a.due or 0.0, a.case, a.rule, a.events))
    undecided = sorted(undecided, key=lambda u: (u.rule, u.case, u.reason, u.event or ""))
    risky, work = at_risk(actions, work, warns or {}, as_of)
    work = sorted(work, key=lambda w: (not w.overdue, w.due is None, w.due or 0.0, w.case, w.rule))
    return counted(AuditResult(as_of, events, cases, violations, actions, undecided, work=work, at_risk=risky),
                   rejected, passed, skipped, warnings, attainment, held)


def counted(result: AuditResult, rejected: Rejections | list[Rejected], passed: Mapping[str, int],
            skipped: Mapping[str, int], warnings: Sequence[InputWarning] = (), attainment: Attainment | None = None,
            held: Sequence[tuple[str, str, int]] = ()) -> AuditResult:
    """``result`` (its findings in their order) with the rest of what an audit reports, in its one order."""
    if not isinstance(rejected, Rejections):
        bounded = Rejections(max(len(rejected), 1))
        for r in rejected:
            bounded.add(r)
        rejected = bounded
    result.rejected = rejected.kept()
    result.rejected_more = rejected.counts()
    result.passed = dict(sorted(passed.items()))
    result.skipped = dict(sorted(skipped.items()))
    result.warnings = sorted(warnings, key=lambda w: (w.file, w.line, w.message))
    result.attainment = dict(sorted((attainment or {}).items(), key=lambda kv: attainment_order(kv[0])))
    result.held = sorted(held)
    return result
