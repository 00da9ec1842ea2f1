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


@dataclass
class GithubReporter:
    def lint(self, report: LintReport) -> str:
        out = []
        for d in report.active():
            loc = d.location
            out.append(_line(_LEVEL[d.severity], d.message, f"sopengine {d.code.value}", loc.file, loc.line,
                             loc.column))
        return "".join(line + "\n" for line in out)

    def test(self, report: TestReport) -> str:
        out = []
        for o in report.failed:
            out.append(_line("error", f"{o.name}: " + "; ".join(o.problems), "sopengine scenario failed",
                             o.location.file, o.location.line))
        return "".join(line + "\n" for line in out)

    def audit(self, result: AuditResult, pack: Pack) -> str:
        rules = {r.id: r for r in pack.rules}
        out = []
        for v in result.violations:
            rule = rules.get(v.rule)
            loc = rule.location if rule else None
            out.append(_line(_AUDIT_LEVEL.get(v.severity, "warning"),
                             f"case {v.case}: {v.message} (evidence: {', '.join(v.events)})", v.rule,
                             loc.file if loc else "", loc.line if loc else 0))
        return "".join(line + "\n" for line in out)
