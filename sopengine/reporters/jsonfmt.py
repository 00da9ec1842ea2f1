"""JSON output (audit: SPEC §5, schemas/audit-output.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport


def _dump(data: Any, indent: bool) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n"


@dataclass
class JsonReporter:
    indent: bool = True

    def audit(self, result: AuditResult, pack: Pack | None = None) -> str:
        return _dump(result.to_json(), self.indent)

    def lint(self, report: LintReport) -> str:
        return _dump(report.to_json(), self.indent)

    def test(self, report: TestReport) -> str:
        return _dump(report.to_json(), self.indent)
