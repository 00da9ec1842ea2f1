"""GitLab Code Quality (the Code Climate issue format GitLab reads from ``artifacts:reports:codequality``):
a JSON array of issues, each with a description, check name, fingerprint, severity and location."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from ..errors import Severity
from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport

_LINT = {Severity.ERROR: "major", Severity.WARNING: "minor", Severity.INFO: "info"}
_AUDIT = {"error": "major", "warning": "minor", "info": "info"}


def _issue(check: str, description: str, severity: str, path: str, line: int, *identity: object) -> dict[str, Any]:
    fingerprint = hashlib.sha256("\x1f".join(str(p) for p in (check, *identity)).encode("utf-8", "surrogatepass"))
    return {"type": "issue", "check_name": check, "description": description, "severity": severity,
            "fingerprint": fingerprint.hexdigest(), "location": {"path": path, "lines": {"begin": max(line, 1)}}}


def _dump(issues: list[dict[str, Any]]) -> str:
    return orjson.dumps(issues, option=orjson.OPT_INDENT_2).decode() + "\n"


@dataclass
class CodeQualityReporter:
    def lint(self, report: LintReport) -> str:
        return _dump([_issue(f"sopengine/{d.code.value}", d.message, _LINT[d.severity], d.location.file,
                             d.location.line, d.location.file, d.location.pointer() or d.location.line, d.subject,
                             d.message) for d in report.active()])

    def test(self, report: TestReport) -> str:
        return _dump([_issue("sopengine/scenario-failed", f"{o.name}: " + "; ".join(o.problems), "major",
                             o.location.file, o.location.line, o.file, o.name) for o in report.failed])

    def audit(self, result: AuditResult, pack: Pack) -> str:
        where = {r.id: r.location for r in pack.rules}
        issues = []
        if result.input_problem:
            issues.append(_issue("sopengine/input", result.input_problem, "blocker", pack.files[0] if pack.files
                                 else "", 1, result.input_problem))
        for v in result.violations:
            loc = where.get(v.rule)
            issues.append(_issue(v.rule, f"Case {v.case}: {v.message} (evidence: {', '.join(v.events)})",
                                 _AUDIT.get(v.severity, "minor"), loc.file if loc else "", loc.line if loc else 1,
                                 v.case, v.time, *v.events))
        return _dump(issues)
