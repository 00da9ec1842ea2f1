"""JSON output of an audit (SPEC §5; schema: schemas/audit-output.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson

from ..findings import AuditResult


@dataclass
class JsonReporter:
    indent: bool = True

    def render(self, result: AuditResult) -> str:
        option = orjson.OPT_INDENT_2 if self.indent else 0
        return orjson.dumps(result.to_json(), option=option).decode() + "\n"
