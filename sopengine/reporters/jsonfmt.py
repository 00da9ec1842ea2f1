"""JSON output (audit: SPEC §5, schemas/audit-output.schema.json)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Iterator

import orjson

from ..findings import AuditResult, Rendered
from ..lint import LintReport
from ..model import Pack
from ..scenarios import TestReport


def _dump(data: Any, indent: bool) -> str:
    return orjson.dumps(data, option=orjson.OPT_INDENT_2 if indent else 0).decode() + "\n"


def nested(value: Any, pad: str, indent: bool) -> str:
    """orjson's text of a value one or two levels down in the document (``pad``: the indentation there)."""
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode().replace("\n", "\n" + pad) if indent else \
        orjson.dumps(value).decode()


def _stream(doc: dict[str, Any], indent: bool) -> Iterator[str]:
    """The text of ``_dump(doc)`` in pieces, where a value of ``doc`` may be an iterator of items: those
    are rendered one by one, so that a report with a million findings never exists as one tree of
    dicts and one string at once; or a :class:`Rendered`, whose text the engine writes. The bytes are
    those of one ``orjson.dumps`` of the whole."""
    key_sep, item_pad, end_pad = (": ", "\n    ", "\n  ") if indent else (":", "", "")
    for n, (key, value) in enumerate(doc.items()):
        head = ("{" if n == 0 else ",") + ("\n  " if indent else "") + orjson.dumps(key).decode() + key_sep
        if isinstance(value, Rendered):  # written by the engine, as the lines below would write them
            yield head + "["
            yield from value.batches(indent)
            yield "]" if not value.count else end_pad + "]"
            continue
        if not isinstance(value, Iterator):
            yield head + nested(value, "  ", indent)
            continue
        batch, empty = [head + "["], True
        for item in value:
            batch.append(("" if empty else ",") + item_pad + nested(item, "    ", indent))
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
