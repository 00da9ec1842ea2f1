"""JSON output (audit: SPEC §5, schemas/audit-output.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import orjson

from ..findings import AuditResult
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport


def _dump(data: Any, indent: bool) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n"


def _stream(doc: dict[str, Any], indent: bool) -> Iterator[str]:
    """The text of ``_dump(doc)`` in pieces, where a value of ``doc`` may be an iterator of items: those
    are rendered one by one, so that a report with a million findings never exists as one tree of
    dicts and one string at once. The bytes are those of one ``orjson.dumps`` of the whole."""
    option = orjson.OPT_INDENT_2 if indent else 0
    key_sep, item_pad, end_pad = (": ", "\n    ", "\n  ") if indent else (":", "", "")

    def nested(value: Any, pad: str) -> str:  # orjson's text of a value one or two levels down
        return orjson.dumps(value, option=option).decode().replace("\n", "\n" + pad) if indent else \
            orjson.dumps(value).decode()

    for n, (key, value) in enumerate(doc.items()):
        head = ("{" if n == 0 else ",") + ("\n  " if indent else "") + orjson.dumps(key).decode() + key_sep
        if not isinstance(value, Iterator):
            yield head + nested(value, "  ")
            continue
        batch, empty = [head + "["], True
        for item in value:
            batch.append(("" if empty else ",") + item_pad + nested(item, "    "))
            empty = False
            if len(batch) >= 1000:
                yield "".join(batch)
                batch = []
        batch.append("]" if empty else end_pad + "]")
        yield "".join(batch)
    yield ("\n}" if indent else "}") + "\n" if doc else "{}\n"


@dataclass
class JsonReporter:
    indent: bool = True

    def audit(self, result: AuditResult, pack: Pack | None = None) -> str:
        return "".join(self.audit_chunks(result, pack))

    def audit_chunks(self, result: AuditResult, pack: Pack | None = None) -> Iterable[str]:
        """:meth:`audit`'s text in pieces, findings rendered as they are written (see :func:`_stream`)."""
        doc = result.to_json(lazy=True)
        return _stream(doc, self.indent)

    def lint(self, report: LintReport) -> str:
        return _dump(report.to_json(), self.indent)

    def test(self, report: TestReport) -> str:
        return _dump(report.to_json(), self.indent)
