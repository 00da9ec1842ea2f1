"""Findings: values the evaluator yields and reporters read."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field, replace
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping, Sequence

from .events import InputWarning, Rejected
from .rulebase import public_rule
from .timeutil import format_time, format_week, iso_week

if TYPE_CHECKING:
    from .provenance import Provenance

MAX_EVIDENCE = 20  # event ids a finding lists; it counts the others (more_events)

# How the obligations of rules with a deadline ended: met by it, met after it, not met (past it, or failed),
# still open at as-of and not yet due. Counted per (rule, ISO week of the deadline, accountable).
OUTCOMES = ("on_time", "late", "missed", "open")
ON_TIME, LATE, MISSED, OPEN = range(4)
Attainment = dict[tuple[str, int, "str | None"], list[int]]


def tally(counts: Attainment, rule: str, due: float, who: str | None, outcome: int, n: int = 1) -> None:
    """Count ``n`` obligations of ``rule`` due at ``due`` that ended as ``outcome`` (an index of OUTCOMES)."""
    key = (rule, iso_week(due), who)
    row = counts.get(key)
    if row is None:
        row = counts[key] = [0, 0, 0, 0]
    row[outcome] += n


def attainment_order(key: tuple[str, int, str | None]) -> tuple[str, int, bool, str]:
    """Attainment rows by rule, week, then accountable (unknown first)."""
    rule, week, who = key
    return rule, week, who is not None, who or ""


def add_counts(into: Attainment, other: Attainment) -> None:
    for key, row in other.items():
        mine = into.get(key)
        if mine is None:
            into[key] = list(row)
        else:
            for i, n in enumerate(row):
                mine[i] += n


def cite(ids: Iterable[str]) -> tuple[tuple[str, ...], int]:
    """A finding's evidence: the first MAX_EVIDENCE distinct ids (in order) and how many others there are."""
    distinct = dict.fromkeys(ids)
    if len(distinct) <= MAX_EVIDENCE:
        return tuple(distinct), 0
    return tuple(islice(distinct, MAX_EVIDENCE)), len(distinct) - MAX_EVIDENCE


@lru_cache(maxsize=4096)
def named(key: str) -> dict[str, str]:
    """A finding's rule as reports name it: ``{"rule": id}``, and ``"version"`` when its SOP is versioned (the
    key ``<sop>/<rule>@<version>`` split, :func:`sopengine.rulebase.rule_key`)."""
    rule_id, version = public_rule(key)  # (cached: a report names a few rules a million times; only read)
    return {"rule": rule_id} if version is None else {"rule": rule_id, "version": version}


def _evidence(events: tuple[str, ...], more: int) -> dict[str, Any]:
    return {"events": list(events), **({"more_events": more} if more else {})}


Pauses = tuple[tuple[float, "float | None"], ...]
"""When an obligation's clock stood still (a response rule's ``pause``): (from, until) in epoch seconds;
until None while it still stands."""


def _pauses(pauses: Pauses) -> dict[str, Any]:
    """A finding's pauses as JSON (nothing when there were none): each interval, and the seconds of the
    closed ones."""
    if not pauses:
        return {}
    return {"pauses": [{"from": format_time(a), "until": format_time(b)} for a, b in pauses],
            "paused_seconds": sum(b - a for a, b in pauses if b is not None)}


def closed(pauses: Pauses, at: float) -> Pauses:
    """``pauses`` with one still standing ended at ``at`` (when a finding arises, its clock's story ends)."""
    if pauses and pauses[-1][1] is None:
        return (*pauses[:-1], (pauses[-1][0], at))
    return pauses


@dataclass(frozen=True, slots=True)
class Violation:
    """The SOP was broken: which rule, where, when, and the events that show it (``more_events``: how many
    more there are than it lists). ``accountable``: who answers for it, by the pack's ``report.accountable``
    (or the rule's own) over the case's state when it arose; None when the pack names nobody."""

    rule: str
    case: str
    time: float
    severity: str
    message: str
    events: tuple[str, ...]
    more_events: int = 0
    accountable: str | None = None
    pauses: Pauses = ()  # when the obligation's clock stood still before it (all ended)

    def to_json(self) -> dict[str, Any]:
        return {**named(self.rule), "case": self.case, "time": format_time(self.time), "severity": self.severity,
                "message": self.message, **_evidence(self.events, self.more_events),
                **({"accountable": self.accountable} if self.accountable is not None else {}),
                **_pauses(self.pauses)}


@dataclass(frozen=True, slots=True)
class NextAction:
    """What the SOP now requires of a case, and by when (``due`` None: no deadline)."""

    rule: str
    case: str
    action: str
    due: float | None
    since: float
    events: tuple[str, ...] = ()
    more_events: int = 0
    zone: str | None = None  # of the business calendar its deadline counted in; JSON keeps times in UTC
    pauses: Pauses = ()  # when its clock stood still; a last one still standing: paused now (due None)

    def to_json(self) -> dict[str, Any]:
        return {**named(self.rule), "case": self.case, "action": self.action, "due": format_time(self.due),
                "since": format_time(self.since), **_evidence(self.events, self.more_events),
                **_pauses(self.pauses)}


@dataclass(frozen=True, slots=True)
class AtRisk:
    """A next action past its rule's warning point (``warn``): due soon, not yet late."""

    rule: str
    case: str
    action: str
    due: float
    since: float
    time: float  # when it turned at risk
    events: tuple[str, ...] = ()
    more_events: int = 0

    def to_json(self) -> dict[str, Any]:
        return {**named(self.rule), "case": self.case, "action": self.action, "due": format_time(self.due),
                "at_risk_since": format_time(self.time), "since": format_time(self.since),
                **_evidence(self.events, self.more_events)}


# A rule's warning point: (seconds before the deadline, or share of the time to it; its repeat period).
Warn = tuple[float | None, float | None, float | None]


def risk_from(warn: Warn, due: float, since: float) -> float:
    """When an obligation due at ``due`` (open since ``since``) turns at risk; a repeating one's share counts
    from the start of its period."""
    before, share, every = warn
    if before is not None:
        return due - before
    start = due - every if every is not None else since
    return start + (share or 0.0) * (due - start)


def at_risk(actions: Iterable[NextAction], work: list[WorkItem], warns: Mapping[str, Warn],
            as_of: float | None) -> tuple[list[AtRisk], list[WorkItem]]:
    """The next actions at risk at ``as_of``, and the worklist with its at-risk items marked."""
    if not warns or as_of is None:
        return [], work
    out = []
    for a in actions:
        warn = warns.get(a.rule)
        if warn is not None and a.due is not None and risk_from(warn, a.due, a.since) <= as_of:
            out.append(AtRisk(a.rule, a.case, a.action, a.due, a.since, risk_from(warn, a.due, a.since), a.events,
                              a.more_events))
    marked = [replace(w, at_risk=True) if not w.overdue and w.due is not None and w.rule in warns
              and risk_from(warns[w.rule], w.due, w.since) <= as_of else w for w in work]
    return out, marked


@dataclass(frozen=True, slots=True)
class Undecided:
    """A check that could not be decided (a missing fact, a condition that failed on the data)."""

    rule: str
    case: str
    event: str | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {**named(self.rule), "case": self.case, "event": self.event, "reason": self.reason}


@dataclass(frozen=True, slots=True)
class Pending:
    """An obligation or a broken invariant still open at the end of a case's events; judged at as-of."""

    rule: str
    case: str
    severity: str
    action: str
    message: str
    since: float
    start: float
    due: float | None
    every: float | None
    events: tuple[str, ...]
    columns: tuple[tuple[str, Any], ...] = ()  # the pack's worklist columns, from the case's last state
    more_events: int = 0
    missed: int = 0  # deadlines of a repeating obligation already reported while its case was evaluated
    accountable: str | None = None  # from the case's last state: the state at any deadline after it
    attained: bool = False  # an obligation with a deadline: its outcome counts in the attainment
    last: float = float("inf")  # the time of the case's last event: its end, when its log is complete
    ended: bool = False  # the pack's pack.complete.when held after the case's last event: the case has ended
    idle: float | None = None  # pack.complete.idle: the case has ended once this long has passed without events
    zone: str | None = None  # of the business calendar its deadline counted in (None: every hour)
    pauses: Pauses = ()  # when its clock stood still; one still standing: paused (``due`` is then its deadline
    # as it stood when the pause began, which counts in the attainment, and no deadline passes)

    @property
    def paused(self) -> bool:
        return bool(self.pauses) and self.pauses[-1][1] is None

    def has_ended(self, complete: bool, limit: float) -> bool:
        """Whether the case had ended by ``limit`` (every case of a complete log has)."""
        return complete or self.ended or (self.idle is not None and self.last + self.idle <= limit)

    def at_end(self) -> Violation:
        """The violation of an obligation still open when its case ended (a complete log, Declare's reading)."""
        return self.violation(self.last, f"{self.message} [still open when the case ended]")

    def judge(self, as_of: float) -> tuple[list[Violation], NextAction | None]:
        """Violations for deadlines before ``as_of`` and the next action still open at it (a repeating
        obligation's misses bounded, see :func:`missed_deadlines`)."""
        violations: list[Violation] = []
        due = None if self.paused else self.due
        if due is not None and due < as_of:
            if self.every is None:
                return [self.violation(due, self.message)], None
            due, _ = missed_deadlines(self.missed, due, self.every, as_of, self.message, self.violation, violations)
        if self.start > as_of:
            return violations, None
        return violations, NextAction(self.rule, self.case, self.action, due, self.since, self.events,
                                      self.more_events, self.zone, self.pauses)

    def violation(self, time: float, message: str) -> Violation:
        return Violation(self.rule, self.case, time, self.severity, message, self.events, self.more_events,
                         self.accountable, closed(self.pauses, time))


MAX_REPEATS = 1_000  # missed deadlines one repeating obligation lists; one more violation stands for the rest


def missed_deadlines(missed: int, due: float, every: float, before: float, message: str,
                     violation: Callable[[float, str], Violation], out: list[Violation]) -> tuple[float, int]:
    """The deadlines of a repeating obligation missed from ``due`` up to ``before``, as violations into ``out``
    (``missed``: how many it reported before). Past MAX_REPEATS one more violation stands for all the rest
    up to ``before``, and says so; later ones are skipped. The rest are counted, not walked: a line dated
    9999 must not make millions. Returns the next deadline and the misses reported or stood for."""
    while due < before and missed < MAX_REPEATS:
        out.append(violation(due, message))
        missed += 1
        due += every
    if due < before and not math.isinf(before):
        skipped = math.ceil((before - due) / every)
        if missed == MAX_REPEATS:
            last = due + (skipped - 1) * every
            out.append(violation(due, message if skipped == 1 else
                                 f"{message} [missed {skipped - 1} more time(s) after this, the last at "
                                 f"{format_time(last)}; an obligation lists at most {MAX_REPEATS} misses]"))
        missed += skipped
        due += skipped * every
    return due, missed


@dataclass(frozen=True, slots=True)
class WorkItem:
    """One entry of the worklist: an action still required at as-of, overdue or not."""

    rule: str
    case: str
    action: str
    due: float | None
    since: float
    overdue: bool
    columns: tuple[tuple[str, Any], ...]
    events: tuple[str, ...]
    more_events: int = 0
    at_risk: bool = False  # not overdue, but past its rule's warning point (findings.AtRisk)
    zone: str | None = None  # of the business calendar its deadline counted in; JSON and CSV keep UTC

    def to_json(self) -> dict[str, Any]:
        return {**named(self.rule), "case": self.case, "action": self.action, "due": format_time(self.due),
                "overdue": self.overdue, "at_risk": self.at_risk, "since": format_time(self.since),
                **{k: v for k, v in self.columns}, **_evidence(self.events, self.more_events)}

    @staticmethod
    def header(columns: Sequence[str], versioned: bool = False) -> list[str]:
        """The worklist's CSV header, with the pack's ``columns`` (and a last column ``version`` when some SOP of
        the pack is versioned)."""
        return ["overdue", "due", "case", "rule", "action", *columns, "since", "events", "at_risk",
                *(["version"] if versioned else [])]

    def row(self, columns: Sequence[str], versioned: bool = False) -> list[str]:
        """This item as text cells under :meth:`header` (the CSV of ``sopengine next`` and of the HTML report)."""
        values = dict(self.columns)
        rule_id, version = public_rule(self.rule)
        return [str(self.overdue).lower(), format_time(self.due) or "", self.case, rule_id, self.action,
                *[cell(values.get(c)) for c in columns], format_time(self.since) or "", " ".join(self.events),
                str(self.at_risk).lower(), *([version or ""] if versioned else [])]


def cell(value: Any) -> str:
    """A worklist column's value as text: nothing for null, a list joined with ';'."""
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return str(value)


FINDINGS = ("violations", "next_actions", "at_risk", "undecided")  # the audit JSON's lists of findings, in order


@dataclass(frozen=True)
class Rendered:
    """An audit's findings of one kind whose JSON an engine writes itself (the native core keeps its findings
    and writes them, :class:`sopengine.native.NativeResult`): ``count`` items, whose text ``batches(indent)``
    gives in pieces, each item after a comma (but the first) and, with ``indent``, a new line and four spaces:
    the bytes :mod:`sopengine.reporters.jsonfmt` writes for their ``to_json()``."""

    count: int
    batches: Callable[[bool], Iterator[str]]


@dataclass
class AuditResult:
    """Everything an audit found, plus the counts that must reconcile."""

    as_of: float | None
    events: int
    cases: int
    violations: list[Violation] = field(default_factory=list)
    next_actions: list[NextAction] = field(default_factory=list)
    undecided: list[Undecided] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)
    passed: dict[str, int] = field(default_factory=dict)  # rule id -> checks that held or obligations met
    grouped_input: bool | None = None  # whether each case's events came together in the input
    skipped: dict[str, int] = field(default_factory=dict)  # reason -> records skipped (a mapping's, after as-of)
    # For reports that show cases (HTML): events of cases with findings, and the actor of each evidence event.
    timelines: dict[str, list[Any]] = field(default_factory=dict)
    work: list[WorkItem] = field(default_factory=list)  # every open action at as-of, overdue ones included
    actors: dict[str, str | None] = field(default_factory=dict)
    input_problem: str | None = None  # why the input cannot be trusted (sopengine.verdict); the audit exits 2
    # (case, declare rule, times it held) when the session was asked (held_by_case): Declare's per-constraint
    # counts (sopengine.frames.constraint_counts); not part of any report.
    held: list[tuple[str, str, int]] = field(default_factory=list)
    warnings: list[InputWarning] = field(default_factory=list)  # what the input says may make findings wrong
    provenance: "Provenance | None" = None  # what produced it (the command line says; the API leaves it None)
    # Rejected records past the limit rejected-kept, not listed: by kind (sopengine.events.reason_kind).
    rejected_more: dict[str, int] = field(default_factory=dict)
    # Obligations of rules with a deadline by (rule, ISO week of the deadline, accountable): OUTCOMES counts.
    attainment: Attainment = field(default_factory=dict)
    at_risk: list[AtRisk] = field(default_factory=list)  # next actions past their rule's warning point

    @property
    def rejected_count(self) -> int:
        """Records rejected: those listed and those only counted."""
        return len(self.rejected) + sum(self.rejected_more.values())

    @property
    def read(self) -> int:
        """Records read (lines, rows): every one is evaluated, rejected, or skipped (by an input mapping, or
        an event after the as-of time)."""
        return self.events + self.rejected_count + sum(self.skipped.values())

    def count(self, kind: str) -> int:
        """How many findings of ``kind`` (one of :data:`FINDINGS`) there are."""
        return len(getattr(self, kind))

    def by_rule(self, kind: str) -> Mapping[str, int]:
        """Per rule key: how many findings of ``kind`` it has."""
        return Counter(f.rule for f in getattr(self, kind))

    def severity_counts(self) -> Mapping[str, int]:
        """The violations by severity."""
        return Counter(v.severity for v in self.violations)

    def summary(self) -> dict[str, Any]:
        return {"events": self.events, "cases": self.cases, "rejected": self.rejected_count,
                "violations": self.count("violations"), "next_actions": self.count("next_actions"),
                "at_risk": self.count("at_risk"), "undecided": self.count("undecided"),
                "skipped": sum(self.skipped.values()), "read": self.read, "warnings": len(self.warnings)}

    def rule_counts(self) -> dict[str, dict[str, int]]:
        """Per rule: checks that held (or obligations met), violations, next actions, undecided."""
        counts: dict[str, dict[str, int]] = {}
        per_rule = {"passed": self.passed, **{k: self.by_rule(k) for k in ("violations", "next_actions", "undecided")}}
        for key, found in per_rule.items():
            for rule, n in found.items():
                entry = counts.setdefault(rule, {"passed": 0, "violations": 0, "next_actions": 0, "undecided": 0})
                entry[key] += n
        return dict(sorted(counts.items()))

    def attainment_rows(self) -> list[dict[str, Any]]:
        """The attainment as rows, by rule, week and accountable (unknown first)."""
        rows = []
        for (rule, week, who), counts in sorted(self.attainment.items(), key=lambda kv: attainment_order(kv[0])):
            rows.append({**named(rule), "week": format_week(week), "accountable": who,
                         **dict(zip(OUTCOMES, counts))})
        return rows

    def rendered(self, kind: str) -> "Rendered | None":
        """The findings of ``kind`` as an engine renders their JSON itself, or None (see :class:`Rendered`)."""
        return None

    def to_json(self, *, lazy: bool = False) -> dict[str, Any]:
        """The JSON output as data; ``lazy``: the findings as iterators, rendered as they are read, or as a
        :class:`Rendered` where the engine writes their text itself."""
        def items(kind: str) -> Any:
            if lazy and (text := self.rendered(kind)) is not None:
                return text
            rendered = (f.to_json() for f in getattr(self, kind))
            return rendered if lazy else list(rendered)

        return {
            "summary": self.summary(),
            "as_of": format_time(self.as_of),
            **({"provenance": self.provenance.to_json()} if self.provenance else {}),
            **{kind: items(kind) for kind in FINDINGS},
            "rejected": [r.to_json() for r in self.rejected],
            **({"rejected_more": [{"reason": k, "count": v} for k, v in self.rejected_more.items()]}
               if self.rejected_more else {}),
            "skipped": [{"reason": k, "count": v} for k, v in self.skipped.items()],
            "warnings": [w.to_json() for w in self.warnings],
            "rules": self.rule_counts(),
            "attainment": self.attainment_rows(),
            **({"input_problem": self.input_problem} if self.input_problem else {}),
        }
