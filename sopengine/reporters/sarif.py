"""SARIF 2.1.0 (OASIS), the format code-scanning tools read."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from .. import __version__
from ..errors import Code, Diagnostic, Location, Severity
from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport
from ..timeutil import format_time

SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}
_AUDIT_LEVEL = {"error": "error", "warning": "warning", "info": "note"}


def _location(loc: Location) -> dict[str, Any]:
    physical: dict[str, Any] = {"artifactLocation": {"uri": loc.file.replace("\\", "/")}}
    if loc.line > 0:
        region: dict[str, Any] = {"startLine": loc.line}
        if loc.column > 0:
            region["startColumn"] = loc.column
        physical["region"] = region
    return {"physicalLocation": physical}


def _fingerprint(*parts: object) -> dict[str, str]:
    """partialFingerprints: the same finding gets the same value in every run (code scanning tracks it by
    this), different findings different values; nothing of the run itself (its time, the as-of) goes in."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode("utf-8", "surrogatepass")).hexdigest()
    return {"sopengine/v1": digest}


def _log(rules: list[dict[str, Any]], results: list[dict[str, Any]], automation: str,
         problem: str | None = None, provenance: dict[str, Any] | None = None) -> str:
    run: dict[str, Any] = {
        "tool": {"driver": {"name": "sopengine", "version": __version__, "semanticVersion": __version__,
                            "rules": rules}},
        "automationDetails": {"id": automation},
        "columnKind": "unicodeCodePoints",
        "results": results,
    }
    if problem or provenance:
        invocation: dict[str, Any] = {"executionSuccessful": not problem}
        if problem:
            invocation["toolExecutionNotifications"] = [{"level": "error", "message": {"text": problem}}]
        run["invocations"] = [invocation]
    if provenance:
        run["properties"] = {"provenance": provenance}  # what produced the run: pack, files and hashes, as-of
    log = {"$schema": SCHEMA, "version": "2.1.0", "runs": [run]}
    return orjson.dumps(log, option=orjson.OPT_INDENT_2).decode() + "\n"


def _result(d: Diagnostic, index: dict[str, int]) -> dict[str, Any]:
    result: dict[str, Any] = {"ruleId": d.code.value, "ruleIndex": index[d.code.value], "level": _LEVEL[d.severity],
                              "message": {"text": d.message}, "locations": [_location(d.location)],
                              "partialFingerprints": _fingerprint(d.code.value, d.location.file,
                                                                  d.location.pointer() or d.location.line,
                                                                  d.subject, d.message)}
    if d.location.path:
        result["properties"] = {"documentPath": d.location.pointer()}
    if d.suppressed is not None:
        result["suppressions"] = [{"kind": "inSource", "justification": d.suppressed}]
    return result


@dataclass
class SarifReporter:
    def lint(self, report: LintReport) -> str:
        codes = sorted({d.code.value for d in report.diagnostics})
        index = {c: i for i, c in enumerate(codes)}
        rules = [{"id": c, "name": Code(c).name.title().replace("_", ""),
                  "shortDescription": {"text": f"sopengine lint: {c}"}} for c in codes]
        return _log(rules, [_result(d, index) for d in report.diagnostics], "sopengine/lint/")

    def test(self, report: TestReport) -> str:
        rules = [{"id": "scenario-failed", "name": "ScenarioFailed",
                  "shortDescription": {"text": "A scenario of an SOP did not give the expected findings"}}]
        results = [{"ruleId": "scenario-failed", "ruleIndex": 0, "level": "error",
                    "message": {"text": f"{o.name}: " + "; ".join(o.problems)},
                    "locations": [_location(o.location)],
                    "partialFingerprints": _fingerprint("scenario-failed", o.file, o.name)} for o in report.failed]
        return _log(rules, results, "sopengine/test/")

    def audit(self, result: AuditResult, pack: Pack) -> str:
        index = {r.id: i for i, r in enumerate(pack.rules)}
        rules = [{
            "id": r.id, "name": r.id.replace("/", ".").replace("-", "_"),
            "shortDescription": {"text": r.description.split(". ")[0][:200]},
            "fullDescription": {"text": r.description},
            "help": {"text": f"Source: {r.source.document}, {r.source.step}. {r.source.quote}".strip()},
            "defaultConfiguration": {"level": _AUDIT_LEVEL.get(r.severity, "warning")},
            "properties": {"sop": r.sop, "kind": r.kind},
        } for r in pack.rules]
        results = []
        for v in result.violations:
            item: dict[str, Any] = {
                "ruleId": v.rule, "level": _AUDIT_LEVEL.get(v.severity, "warning"),
                "message": {"text": f"Case {v.case}: {v.message}"},
                "locations": [{"logicalLocations": [{"name": v.case, "kind": "object"}]}],
                "properties": {"case": v.case, "time": format_time(v.time), "events": list(v.events),
                               **({"accountable": v.accountable} if v.accountable else {})},
                "partialFingerprints": _fingerprint(v.rule, v.case, v.time, *v.events),
            }
            if v.rule in index:
                item["ruleIndex"] = index[v.rule]
                item["locations"][0].update(_location(pack.rules[index[v.rule]].location))
            results.append(item)
        return _log(rules, results, f"sopengine/audit/{pack.name}/", result.input_problem,
                    result.provenance.to_json() if result.provenance else None)
