"""Reconciliation with the system of record: where the SLA verdicts an export carries (a service desk's SLA
cycles, a CRM's case milestones, as an input mapping makes them events) disagree with sopengine's, and why.

The pack names the event type that carries the system's verdicts and which rule encodes each of the system's
SLAs::

    pack:
      reconcile:
        event: sla.recorded
        rules: {Time to first response: service-desk/first-response-2h}

An input mapping turns each SLA cycle (or milestone) into one such event, with data fields ``sla`` (the
system's name for it), ``start``, ``target`` and ``stop`` (RFC 3339 text), ``breached`` (boolean), ``goal`` and
``elapsed`` (seconds, or a duration text such as ``60m``) and ``paused`` (boolean); any of them but ``sla`` may be missing. Per case and SLA the
system's verdict (breached, met, open) is set beside the rule's (violated, met, open) as the audit judges it;
where they differ the reasons are told from what the two say of the clock: when it started, the goal, a pause,
and time counted in a calendar rather than around the clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from .errors import UsageError, did_you_mean
from .events import Event
from .findings import AuditResult
from .kinds.response import ResponseRule
from .model import Pack, Rule
from .timeutil import TimeFormatError, format_duration, format_time, parse_duration, parse_time

SLACK = 60.0  # seconds two clocks may differ by and still agree (exports round to the minute)
REASONS = ("clock start", "goal", "pause", "calendar", "unexplained")


@dataclass
class _System:
    """The system's cycles of one SLA in one case."""

    events: list[str] = field(default_factory=list)
    breached: bool = False
    open: bool = False
    start: float | None = None
    target: float | None = None
    stop: float | None = None
    goal: float | None = None
    elapsed: float | None = None
    paused: bool = False


@dataclass(frozen=True)
class Row:
    """One case and SLA: the system's verdict, sopengine's, and why they differ."""

    case: str
    sla: str
    rule: str
    system: str  # breached | met | open
    sopengine: str  # violated | met | open
    reasons: tuple[tuple[str, str], ...]  # (one of REASONS, what was seen)
    system_start: float | None
    system_target: float | None
    trigger: float | None  # when sopengine's clock started (the rule's trigger)
    due: float | None  # sopengine's deadline
    events: tuple[str, ...]  # the verdict events

    @property
    def agree(self) -> bool:
        return (self.system, self.sopengine) in (("breached", "violated"), ("met", "met"), ("open", "open"))

    def to_json(self) -> dict[str, Any]:
        return {"case": self.case, "sla": self.sla, "rule": self.rule, "system": self.system,
                "sopengine": self.sopengine, "agree": self.agree,
                "reasons": [{"reason": r, "detail": d} for r, d in self.reasons],
                "system_start": format_time(self.system_start), "system_target": format_time(self.system_target),
                "sopengine_start": format_time(self.trigger), "sopengine_due": format_time(self.due),
                "events": list(self.events)}


@dataclass(frozen=True)
class Reconciliation:
    rows: tuple[Row, ...]
    unmapped: Mapping[str, int]  # the system's SLA names no rule encodes: verdict events

    def summary(self) -> dict[str, Any]:
        reasons = {r: sum(1 for row in self.rows if not row.agree and any(x == r for x, _ in row.reasons))
                   for r in REASONS}
        return {"compared": len(self.rows), "agree": sum(r.agree for r in self.rows),
                "disagree": sum(not r.agree for r in self.rows), "by_reason": {k: v for k, v in reasons.items() if v},
                "unmapped": dict(self.unmapped)}

    def to_json(self) -> dict[str, Any]:
        return {"summary": self.summary(), "cases": [r.to_json() for r in self.rows]}

    def text(self) -> str:
        s = self.summary()
        lines = [f"Reconciliation with the system of record: {s['compared']} case SLA(s) compared, {s['agree']} "
                 f"agree, {s['disagree']} disagree"]
        if s["by_reason"]:
            lines.append("  disagreements by reason: " + ", ".join(f"{k} {v}" for k, v in s["by_reason"].items()))
        for name, n in s["unmapped"].items():
            lines.append(f"  the system's SLA {name!r} is encoded by no rule (pack.reconcile.rules): {n} verdict(s)")
        for r in self.rows:
            if r.agree:
                continue
            lines += ["", f"{r.case}  {r.sla}  ({r.rule}): the system says {r.system}, sopengine says {r.sopengine}"]
            lines += [f"    {reason}: {detail}" for reason, detail in r.reasons]
        return "\n".join(lines) + "\n"


def _time(value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    try:
        return parse_time(str(value))
    except TimeFormatError:
        return None


def _seconds(value: Any) -> float | None:
    """A duration: seconds, or text such as '60m' or 'PT1H' (a CSV export's minutes, mapped as text + 'm')."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str) and value:
        try:
            return parse_duration(value)
        except ValueError:
            return None
    return None


def encoded(pack: Pack) -> dict[str, Rule]:
    """The rule that encodes each of the system's SLAs (pack.reconcile.rules); a name no rule has is a usage
    error here (the compiler lets it be: pack.yaml is also read without the SOP files that hold the rules)."""
    config = pack.reconcile
    if config is None:
        raise UsageError("the pack does not say which events carry the system's SLA verdicts: declare "
                         "pack.reconcile (event, rules); see docs/reconcile.md")
    known = {r.id: r for r in pack.rules}
    for name, rule_id in config.rules.items():
        if rule_id not in known:
            raise UsageError(f"pack.reconcile: {name!r} names no rule of the pack: '{rule_id}'"
                             f"{did_you_mean(rule_id, known)}")
    return {name: known[rule_id] for name, rule_id in config.rules.items()}


def reconcile(pack: Pack, events: Iterable[Event], result: AuditResult) -> Reconciliation:
    """Set the verdict events' SLAs beside the audit's findings of the rules that encode them."""
    rules = encoded(pack)  # a usage error when the pack has no pack.reconcile
    assert pack.reconcile is not None
    event_type = pack.reconcile.event
    systems: dict[tuple[str, str], _System] = {}
    triggers: dict[tuple[str, str], Event] = {}  # the first trigger of each rule in each case
    unmapped: dict[str, int] = {}
    for e in events:
        if e.type == event_type:
            name = str(e.data.get("sla"))
            if name not in rules:
                unmapped[name] = unmapped.get(name, 0) + 1
                continue
            _add(systems.setdefault((e.case, name), _System()), e)
        for name, rule in rules.items():
            if isinstance(rule, ResponseRule) and e.type in rule.after.on and (e.case, name) not in triggers:
                triggers[(e.case, name)] = e
    times = {(t.case, t.id): t.time for t in triggers.values()}
    wanted = {r.id for r in rules.values()}
    violations: dict[tuple[str, str], list[Any]] = {}
    for v in result.violations:
        if v.rule in wanted:
            violations.setdefault((v.case, v.rule), []).append(v)
    actions: dict[tuple[str, str], list[Any]] = {}
    for a in result.next_actions:
        if a.rule in wanted:
            actions.setdefault((a.case, a.rule), []).append(a)
    rows = []
    for (case, name), system in sorted(systems.items()):
        rule = rules[name]
        violated = violations.get((case, rule.id), [])
        open_ = actions.get((case, rule.id), [])
        first = triggers.get((case, name))
        due: float | None
        trigger: float | None
        if violated:
            ours, due = "violated", min(v.time for v in violated)
            trigger = times.get((case, violated[0].events[0]), first.time if first else None)
        elif open_:
            ours, due, trigger = "open", open_[0].due, open_[0].since
        else:
            within = getattr(rule, "within", None)
            ours, trigger = "met", first.time if first else None
            due = trigger + within if trigger is not None and isinstance(within, (int, float)) else None
        verdict = "breached" if system.breached else "open" if system.open else "met"
        row = Row(case, name, rule.id, verdict, ours, (), system.start, system.target, trigger, due,
                  tuple(system.events))
        rows.append(row if row.agree else _explained(row, system, rule))
    return Reconciliation(tuple(rows), dict(sorted(unmapped.items())))


def _add(system: _System, e: Event) -> None:
    d = e.data
    system.events.append(e.id)
    system.breached = system.breached or d.get("breached") is True
    stop = _time(d.get("stop"))
    system.open = system.open or (stop is None and d.get("breached") is not True)
    start = _time(d.get("start"))
    if start is not None and (system.start is None or start < system.start):  # the first cycle's clock
        system.start, system.target, system.stop = start, _time(d.get("target")), stop
        system.goal, system.elapsed = _seconds(d.get("goal")), _seconds(d.get("elapsed"))
    system.paused = system.paused or d.get("paused") is True


def _explained(row: Row, system: _System, rule: Any) -> Row:
    """The reasons two verdicts differ, from what each says of the clock."""
    out: list[tuple[str, str]] = []
    if row.trigger is None:
        out.append(("clock start", "the system started a clock sopengine never started: the case has no event "
                                   f"that triggers {rule.id}"))
    elif system.start is not None and abs(system.start - row.trigger) > SLACK:
        out.append(("clock start", f"the system started the clock at {format_time(system.start)}, sopengine at "
                                   f"{format_time(row.trigger)}"))
    within = getattr(rule, "within", None)
    if system.goal is not None and isinstance(within, (int, float)) and abs(system.goal - within) > SLACK:
        out.append(("goal", f"the system's goal is {format_duration(system.goal)}, the rule's is "
                            f"{format_duration(within)}"))
    # The wall-clock time from start to target beyond the goal (a calendar's closed hours), and the time the
    # clock did not count from start to stop: beyond what the calendar explains, the clock was paused.
    shift = None
    if system.target is not None and system.start is not None and system.goal is not None:
        shift = (system.target - system.start) - system.goal
    still = None
    if system.stop is not None and system.start is not None and system.elapsed is not None:
        still = (system.stop - system.start) - system.elapsed
    if system.paused or (still is not None and still > max(shift or 0.0, 0.0) + SLACK):
        seen = f"its clock stood still for {format_duration(still)}" if still is not None and still > SLACK \
            else "it reports the clock paused"
        pause = getattr(rule, "pause", None)
        ours = "does not pause" if pause is None else f"pauses only while {pause.text}"
        out.append(("pause", f"the system paused the SLA ({seen}); {rule.id} {ours}"))
    elif shift is not None and shift > SLACK:
        assert system.target is not None and system.start is not None and system.goal is not None
        out.append(("calendar", f"the system's target {format_time(system.target)} is "
                                f"{format_duration(system.target - system.start)} after its start for a "
                                f"{format_duration(system.goal)} goal: it counts working hours"
                                + ("" if row.due is None else f"; sopengine's deadline is {format_time(row.due)}")))
    if not out:
        out.append(("unexplained", f"the system's target is {format_time(system.target)}, sopengine's deadline "
                                   f"{format_time(row.due)}"))
    return Row(row.case, row.sla, row.rule, row.system, row.sopengine, tuple(out), row.system_start,
               row.system_target, row.trigger, row.due, row.events)
