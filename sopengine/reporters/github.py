"""GitHub Actions workflow commands: one annotation per finding (``::error file=...,line=...::message``)."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import Severity
from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport

_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}
_AUDIT_LEVEL = {"error": "error", "warning": "warning", "info": "notice"}


def _data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _prop(text: str) -> str:
    return _data(text).replace(":", "%3A").replace(",", "%2C")


def _line(level: str, message: str, title: str, file: str = "", line: int = 0, col: int = 0) -> str:
    props = []
    if file:
        props.append(f"file={_prop(file)}")
        if line:
            props.append(f"line={line}")
            if col:
                props.append(f"col={col}")
    props.append(f"title={_prop(title)}")
    return f"::{level} {','.join(props)}::{_data(message)}"


ANNOTATIONS_PER_LEVEL = 10  # GitHub shows at most 10 error and 10 warning annotations of a step


def _capped(items: list[tuple[str, str]], report: str) -> str:
    """Annotations (level, line), the most severe first, at most ANNOTATIONS_PER_LEVEL of each level, then one
    notice with the counts of what was left out and where to see it all."""
    rank = {"error": 0, "warning": 1, "notice": 2}
    shown: list[str] = []
    per_level: dict[str, int] = {}
    left: dict[str, int] = {}
    for level, text in sorted(items, key=lambda item: rank[item[0]]):  # stable: each level keeps its order
        if per_level.get(level, 0) < ANNOTATIONS_PER_LEVEL:
            shown.append(text)
            per_level[level] = per_level.get(level, 0) + 1
        else:
            left[level] = left.get(level, 0) + 1
    if left:
        counts = ", ".join(f"{n} more {level}{'s' if n > 1 else ''}" for level, n in left.items())
        shown.append(_line("notice", f"{counts} not shown as annotations (GitHub shows "
                                     f"{ANNOTATIONS_PER_LEVEL} of each level per step); {report}",
                           "sopengine: more findings"))
    return "".join(line + "\n" for line in shown)


@dataclass
class GithubReporter:
    def lint(self, report: LintReport) -> str:
        out = []
        for d in report.active():
            loc = d.location
            level = _LEVEL[d.severity]
            out.append((level, _line(level, d.message, f"sopengine {d.code.value}", loc.file, loc.line, loc.column)))
        return _capped(out, "sopengine lint --format text lists them all")

    def test(self, report: TestReport) -> str:
        out = []
        for o in report.failed:
            out.append(("error", _line("error", f"{o.name}: " + "; ".join(o.problems), "sopengine scenario failed",
                                       o.location.file, o.location.line)))
        return _capped(out, "sopengine test --format text lists them all")

    def audit(self, result: AuditResult, pack: Pack) -> str:
        rules = {r.id: r for r in pack.rules}
        out = []
        for v in result.violations:
            rule = rules.get(v.rule)
            loc = rule.location if rule else None
            level = _AUDIT_LEVEL.get(v.severity, "warning")
            out.append((level, _line(level, f"case {v.case}: {v.message} (evidence: {', '.join(v.events)})", v.rule,
                                     loc.file if loc else "", loc.line if loc else 0)))
        problem = [_line("error", result.input_problem, "sopengine: input not read")] if result.input_problem else []
        return "".join(line + "\n" for line in problem) + _capped(out, "the text or JSON report lists them all")
