"""The audit report for people: summary, violations by rule, next actions by due time."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

from ..findings import AuditResult, NextAction, Violation
from ..timeutil import format_time

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class TextReporter:
    per_rule: int = 10  # examples shown per rule; JSON has them all
    descriptions: Mapping[str, str] | None = None

    def render(self, result: AuditResult) -> str:
        lines: list[str] = []
        s = result.summary()
        lines.append(f"sopengine audit as of {format_time(result.as_of) or '(no events)'}")
        lines.append(f"  {s['read']} events read: {s['events']} evaluated, {s['rejected']} rejected; "
                     f"{s['cases']} cases")
        lines.append(f"  {s['violations']} violations, {s['next_actions']} next actions, "
                     f"{s['undecided']} checks undecided")
        lines.extend(self._violations(result.violations))
        lines.extend(self._actions(result.next_actions, result.as_of))
        if result.undecided:
            lines.append("")
            lines.append(f"Checks that could not be decided ({len(result.undecided)})")
            grouped: dict[tuple[str, str], list[str]] = defaultdict(list)
            for u in result.undecided:
                grouped[(u.rule, u.reason)].append(u.case)
            for (rule, reason), cases in sorted(grouped.items()):
                lines.append(f"  {rule}: {reason} ({_cases(cases)})")
        if result.rejected:
            lines.append("")
            lines.append(f"Rejected lines ({len(result.rejected)})")
            for r in result.rejected[: self.per_rule * 5]:
                lines.append(f"  {r.file}:{r.line}: {r.error}")
            more = len(result.rejected) - self.per_rule * 5
            if more > 0:
                lines.append(f"  ... and {more} more (--format json lists them all)")
        if not result.violations and not result.next_actions:
            lines.append("")
            lines.append("No violations and nothing pending.")
        return "\n".join(lines) + "\n"

    def _violations(self, violations: list[Violation]) -> list[str]:
        if not violations:
            return []
        by_rule: dict[str, list[Violation]] = defaultdict(list)
        for v in violations:
            by_rule[v.rule].append(v)
        out = ["", f"Violations ({len(violations)})"]
        order = sorted(by_rule, key=lambda r: (_SEVERITY_ORDER.get(by_rule[r][0].severity, 9), r))
        for rule in order:
            items = by_rule[rule]
            cases = {v.case for v in items}
            out.append("")
            out.append(f"  {rule}  [{items[0].severity}]  {len(items)} in {len(cases)} case(s)")
            if self.descriptions and rule in self.descriptions:
                out.append(f"    {self.descriptions[rule]}")
            for v in sorted(items, key=lambda v: (v.time, v.case))[: self.per_rule]:
                out.append(f"    {v.case}  {format_time(v.time)}  {v.message}")
                out.append(f"      evidence: {', '.join(v.events)}")
            if len(items) > self.per_rule:
                out.append(f"    ... and {len(items) - self.per_rule} more")
        return out

    def _actions(self, actions: list[NextAction], as_of: float | None) -> list[str]:
        if not actions:
            return []
        out = ["", f"Next actions ({len(actions)}), soonest due first"]
        for a in actions[: self.per_rule * 5]:
            due = f"due {format_time(a.due)}" if a.due is not None else "no deadline"
            out.append(f"  {a.case}  {due}  {a.rule}")
            out.append(f"      {a.action}")
        if len(actions) > self.per_rule * 5:
            out.append(f"  ... and {len(actions) - self.per_rule * 5} more (--format json lists them all)")
        return out


def _cases(cases: list[str]) -> str:
    unique = sorted(set(cases))
    head = ", ".join(unique[:5])
    return f"{len(unique)} case(s): {head}" + (", ..." if len(unique) > 5 else "")
