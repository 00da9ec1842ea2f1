"""Text for people of ``sopengine explain``: one case's timeline, event by event (JSON: Explanation.to_json)."""

from __future__ import annotations

from typing import Any

import orjson

from .. import textsafe
from ..explain import NOT_APPLICABLE, Clock, Evaluation, Explanation
from ..findings import NextAction, Violation
from ..timeutil import format_duration, format_time

_LABEL = {NOT_APPLICABLE: "not applicable"}
_WIDTH = 15  # the outcome column


def text(x: Explanation) -> str:
    """The explanation as text: a header, each event with its evaluations, the state it changed and the clocks
    running after it, what was open at the as-of time, the cross-case answers, and the case's findings."""
    s = x.to_json()["summary"]
    skipped = f", {x.skipped} after the as-of time (not evaluated)" if x.skipped else ""
    complete = "; the log is complete (--cases-complete)" if x.cases_complete else ""
    lines = [f"Case {x.case} as of {format_time(x.as_of)} ({x.as_of_chosen}{complete}): {s['events']} event(s)"
             f"{skipped}, {s['violations']} violation(s), {s['next_actions']} next action(s), "
             f"{s['undecided']} undecided"]
    for step in x.steps:
        e = step.event
        by = f" by {e.actor}" if e.actor else ""
        lines += ["", f"{format_time(e.time)}  {e.type}  [{e.id}]{by}"]
        if e.data:
            lines.append(f"  data: {_values(e.data)}")
        for v in step.deadlines:
            lines.append(f"  {'violated':<{_WIDTH}} {v.rule}  deadline {format_time(v.time)} passed before this "
                         f"event: {v.message}")
        lines += _evaluations(step.evaluations)
        if step.changed:
            lines.append("  state: " + "; ".join(f"{k} = {_value(step.state[k])}" for k in step.changed))
        for c in step.clocks:
            lines.append(f"  clock: {_clock(c)}")
    lines += ["", f"At the as-of time {format_time(x.as_of)}:"]
    if not x.judged:
        lines.append("  nothing open")
    for j in x.judged:
        lines.append(f"  {_LABEL.get(j.outcome, j.outcome):<{_WIDTH}} {j.clock.rule}  {j.why}")
    if x.cross_case:
        lines += ["", "Cross-case questions, answered once every case was known:"]
        for a in x.cross_case:
            lines.append(f"  {a.outcome:<{_WIDTH}} {a.rule}  at [{a.event}]: {a.why}")
    lines += ["", "Findings for the case (as the audit reports them):"]
    lines += [f"  violation    {_violation(v)}" for v in x.violations]
    lines += [f"  next action  {_action(a)}" for a in x.next_actions]
    lines += [f"  undecided    {u.rule}: {u.reason}" for u in x.undecided]
    if not (x.violations or x.next_actions or x.undecided):
        lines.append("  none")
    return textsafe.lines(lines)


def _evaluations(evaluations: list[Evaluation]) -> list[str]:
    """One line per evaluation; the rules of a SOP that does not apply share one line."""
    out: list[str] = []
    not_applying: dict[str, list[Evaluation]] = {}
    for ev in evaluations:
        if ev.outcome == NOT_APPLICABLE and ev.conditions and ev.conditions[0].what == "applies_when":
            not_applying.setdefault(ev.rule.split("/")[0], []).append(ev)
            continue
        about = f" (obligation from [{ev.trigger}]{_key(ev.key)})" if ev.trigger is not None else ""
        out.append(f"  {_LABEL.get(ev.outcome, ev.outcome):<{_WIDTH}} {ev.rule}{about}  {ev.why}")
    for sop, evs in not_applying.items():
        rules = ", ".join(e.rule.split("/", 1)[1] for e in evs)
        out.append(f"  {_LABEL[NOT_APPLICABLE]:<{_WIDTH}} {sop}/ ({rules})  {evs[0].why}")
    return out


def _key(key: Any) -> str:
    return "" if key is None else f", key {_value(key)}"


def _clock(c: Clock) -> str:
    due = f"due {format_time(c.due)}" if c.due is not None else "no deadline"
    parts = [f"{c.rule} ({c.kind} from [{c.trigger}]{_key(c.key)})", f"since {format_time(c.since)}"]
    if c.shown_from != c.since:
        parts.append(f"shown from {format_time(c.shown_from)}")
    parts.append(due + (" (overdue: a violation already)" if c.overdue else ""))
    if c.every is not None:
        parts.append(f"every {format_duration(c.every)}")
    if c.calendar is not None:
        parts.append(f"calendar {c.calendar}")
    if c.paused:
        parts.append("paused")
    return ", ".join(parts)


def _violation(v: Violation) -> str:
    return f"{v.rule}  {format_time(v.time)}  {v.severity}: {v.message}  [{' '.join(v.events)}]"


def _action(a: NextAction) -> str:
    due = f"due {format_time(a.due)}" if a.due is not None else "no deadline"
    return f"{a.rule}  {due}: {a.action}"


def _values(data: dict[str, Any]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in data.items())


def _value(value: Any) -> str:
    return orjson.dumps(value, default=str).decode()
