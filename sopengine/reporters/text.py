"""Text for people: lint findings by file, scenario results, and the audit report."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Mapping

from .. import textsafe
from ..findings import AuditResult, NextAction, Violation
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from ..timeutil import format_due, format_time

_SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass
class TextReporter:
    per_rule: int = 10  # examples shown per rule; JSON has them all
    descriptions: Mapping[str, str] | None = None
    coverage: bool = False  # test: show the per-rule coverage table
    quiet: bool = False  # only findings and errors: no passed scenarios, suppressed findings, summaries, provenance

    def lint(self, report: LintReport) -> str:
        lines: list[str] = []
        current = None
        for d in report.diagnostics:
            if self.quiet and d.suppressed is not None:
                continue
            if d.location.file != current:
                current = d.location.file
                if lines:
                    lines.append("")
                lines.append(current)
            where = f"{d.location.line}:{d.location.column}" if d.location.line else "-"
            suffix = f"  (suppressed: {d.suppressed})" if d.suppressed is not None else ""
            lines.append(f"  {where:<8} {d.severity.value:<8} {d.code.value:<24} {d.message}{suffix}")
        if self.quiet:
            return textsafe.lines(lines)
        c = report.counts()
        if lines:
            lines.append("")
        lines.append(f"{len(report.files)} file(s) checked: {c['error']} error(s), {c['warning']} warning(s), "
                     f"{c['info']} note(s), {c['suppressed']} suppressed")
        return textsafe.lines(lines)

    def test(self, report: TestReport) -> str:
        lines: list[str] = []
        for o in report.outcomes:
            if self.quiet and o.passed:
                continue
            mark = "PASS" if o.passed else "FAIL"
            lines.append(f"{mark}  {o.location}  {o.name}")
            for problem in o.problems:
                lines.append(f"        {problem}")
        if self.coverage:
            lines.append("")
            lines.append(f"{'rule':<55} {'fired':>6} {'silent':>6}")
            for c in report.coverage:
                flag = "" if c.covered else "  <- not covered"
                lines.append(f"{c.rule:<55} {c.fired:>6} {c.silent:>6}{flag}")
            covered = sum(c.covered for c in report.coverage)
            lines.append(f"coverage: {covered}/{len(report.coverage)} rules shown firing and silent "
                         f"({report.percent:.1f}%)")
        if self.quiet:
            return _quiet_lines(lines)
        failed = len(report.failed)
        lines.append(f"{len(report.outcomes)} scenario(s): {len(report.outcomes) - failed} passed, {failed} failed")
        return textsafe.lines(lines)

    def audit(self, result: AuditResult, pack: Pack | None = None) -> str:
        lines: list[str] = []
        s = result.summary()
        if result.input_problem:
            lines.append(f"INPUT NOT READ: {result.input_problem}")
        if not self.quiet:
            lines.append(f"sopengine audit as of {format_time(result.as_of) or '(no events)'}")
            skipped = "".join(f", {n} skipped ({reason})" for reason, n in result.skipped.items())
            lines.append(f"  {s['read']} records read: {s['events']} evaluated, {s['rejected']} rejected{skipped}; "
                         f"{s['cases']} cases" + (f"; {s['warnings']} warning(s) about the input" if s['warnings']
                                                  else ""))
            risky = f" ({s['at_risk']} at risk)" if s["at_risk"] else ""
            lines.append(f"  {s['violations']} violations, {s['next_actions']} next actions{risky}, "
                         f"{s['undecided']} checks undecided")
        lines.extend(self._violations(result.violations))
        lines.extend(self._actions(result.next_actions, result.as_of, {(a.rule, a.case, a.due) for a in result.at_risk}))
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
            lines.append(f"Rejected lines ({result.rejected_count})")
            for r in result.rejected[: self.per_rule * 5]:
                lines.append(f"  {r.file}:{r.line}: {r.error}")
            more = len(result.rejected) - self.per_rule * 5
            if more > 0:
                lines.append(f"  ... and {more} more (--format json lists them)")
            for kind, n in result.rejected_more.items():
                lines.append(f"  ... and {n} more, not listed (limit rejected-kept): {kind}")
        if result.warnings:
            lines.append("")
            lines.append(f"Warnings about the input ({len(result.warnings)}): findings may be wrong where they apply")
            for w in result.warnings[: self.per_rule * 5]:
                lines.append(f"  {w.where}: {w.message}")
            more = len(result.warnings) - self.per_rule * 5
            if more > 0:
                lines.append(f"  ... and {more} more (--format json lists them all)")
        if self.quiet:
            return _quiet_lines(lines)
        if not result.violations and not result.next_actions and not result.input_problem:
            lines.append("")
            lines.append("No violations and nothing pending.")
        if result.provenance:
            lines += ["", "Provenance"]
            lines += [f"  {name}: {value}" for name, value in result.provenance.items(defaults=False)]
        return textsafe.lines(lines)

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
                out.append(f"      evidence: {', '.join(v.events)}"
                           + (f"; accountable: {v.accountable}" if v.accountable else ""))
            if len(items) > self.per_rule:
                out.append(f"    ... and {len(items) - self.per_rule} more")
        return out

    def _actions(self, actions: list[NextAction], as_of: float | None,
                 risky: set[tuple[str, str, float | None]]) -> list[str]:
        if not actions:
            return []
        out = ["", f"Next actions ({len(actions)}), soonest due first"]
        for a in actions[: self.per_rule * 5]:
            due = f"due {format_due(a.due, a.zone)}" if a.due is not None else "no deadline"
            flag = "AT RISK  " if (a.rule, a.case, a.due) in risky else ""
            out.append(f"  {flag}{a.case}  {due}  {a.rule}")
            out.append(f"      {a.action}")
        if len(actions) > self.per_rule * 5:
            out.append(f"  ... and {len(actions) - self.per_rule * 5} more (--format json lists them all)")
        return out


def _quiet_lines(lines: list[str]) -> str:
    """The lines of a --quiet report: without the blank line that separated them from a summary left out."""
    return textsafe.lines(lines[1:] if lines[:1] == [""] else lines)


def _cases(cases: list[str]) -> str:
    unique = sorted(set(cases))
    head = ", ".join(unique[:5])
    return f"{len(unique)} case(s): {head}" + (", ..." if len(unique) > 5 else "")
