"""Markdown for GitHub step summaries ($GITHUB_STEP_SUMMARY) and pull request comments: the counts,
then tables, with a bounded number of rows (the JSON and text reports have them all)."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from ..timeutil import format_due, format_time

_SPECIAL = re.compile(r"([\\`*_{}\[\]<>|#!~])")


def cell(text: object) -> str:
    """Text of a table cell: markdown and HTML characters escaped, one line."""
    flat = " ".join(str(text).split())
    return _SPECIAL.sub(r"\\\1", flat)


def _table(head: list[str], rows: list[list[object]]) -> list[str]:
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out.extend("| " + " | ".join(cell(c) for c in row) + " |" for row in rows)
    return out


@dataclass
class MarkdownReporter:
    rows: int = 20  # table rows shown per section

    def _more(self, total: int, what: str) -> list[str]:
        return ["", f"… and {total - self.rows} more {what} (see the JSON or text report)"] if total > self.rows else []

    def audit(self, result: AuditResult, pack: Pack | None = None) -> str:
        s = result.summary()
        verdict = "❌" if result.violations or result.input_problem else "✅"
        lines = [f"## {verdict} sopengine audit as of {cell(format_time(result.as_of) or '(no events)')}", ""]
        if result.input_problem:
            lines += [f"**Input not read:** {cell(result.input_problem)}", ""]
        lines += _table(["read", "evaluated", "rejected", "skipped", "cases", "violations", "next actions",
                         "undecided"],
                        [[s["read"], s["events"], s["rejected"], s["skipped"], s["cases"], s["violations"],
                          s["next_actions"], s["undecided"]]])
        if result.violations:
            by_rule = Counter(v.rule for v in result.violations)
            severity = {v.rule: v.severity for v in result.violations}
            cases: dict[str, set[str]] = {}
            for v in result.violations:
                cases.setdefault(v.rule, set()).add(v.case)
            order = sorted(by_rule, key=lambda r: ({"error": 0, "warning": 1}.get(severity[r], 2), -by_rule[r], r))
            lines += ["", "### Violations by rule", ""]
            lines += _table(["rule", "severity", "violations", "cases"],
                            [[r, severity[r], by_rule[r], len(cases[r])] for r in order[: self.rows]])
            lines += self._more(len(order), "rules")
        if result.next_actions:
            lines += ["", "### Next actions, soonest due first", ""]
            lines += _table(["due", "case", "rule", "action"],
                            [[format_due(a.due, a.zone) or "(no deadline)", a.case, a.rule, a.action]
                             for a in result.next_actions[: self.rows]])
            lines += self._more(len(result.next_actions), "next actions")
        if result.rejected:
            lines += ["", f"### Rejected records ({result.rejected_count})", ""]
            lines += _table(["file", "line", "reason"], [[r.file, r.line, r.error] for r in result.rejected[: self.rows]])
            lines += self._more(result.rejected_count, "rejected records")
        if result.warnings:
            lines += ["", f"### Warnings about the input ({len(result.warnings)})", ""]
            lines += _table(["file", "line", "warning"],
                            [[w.file, w.line, w.message] for w in result.warnings[: self.rows]])
            lines += self._more(len(result.warnings), "warnings")
        if result.provenance:  # folded: a pull request comment shows it on demand
            lines += ["", "<details><summary>Provenance</summary>", ""]
            lines += _table(["what", "value"], [list(item) for item in result.provenance.items(defaults=False)])
            lines += ["", "</details>"]
        return "\n".join(lines) + "\n"

    def lint(self, report: LintReport) -> str:
        c = report.counts()
        verdict = "❌" if c["error"] else "✅"
        lines = [f"## {verdict} sopengine lint: {c['error']} error(s), {c['warning']} warning(s), "
                 f"{c['info']} note(s), {c['suppressed']} suppressed in {len(report.files)} file(s)"]
        active = report.active()
        if active:
            lines += [""] + _table(["where", "severity", "code", "message"],
                                   [[f"{d.location.file}:{d.location.line}", d.severity.value, d.code.value,
                                     d.message] for d in active[: self.rows]])
            lines += self._more(len(active), "findings")
        return "\n".join(lines) + "\n"

    def test(self, report: TestReport) -> str:
        failed = report.failed
        verdict = "❌" if failed else "✅"
        lines = [f"## {verdict} sopengine test: {len(report.outcomes) - len(failed)} of {len(report.outcomes)} "
                 f"scenario(s) passed; coverage {report.percent:.1f}%"]
        if failed:
            lines += [""] + _table(["scenario", "where", "problems"],
                                   [[o.name, str(o.location), "; ".join(o.problems)] for o in failed[: self.rows]])
            lines += self._more(len(failed), "failed scenarios")
        return "\n".join(lines) + "\n"
