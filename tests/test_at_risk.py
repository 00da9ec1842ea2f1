"""At-risk warnings (issue 18): a response rule's ``warn`` point turns its open next actions at risk before their
deadline, listed apart in the JSON (``at_risk``), flagged in ``next`` and the worklist, the same on both
engines."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from sopengine import load_pack
from sopengine.cli import cli
from sopengine.errors import PackError

from .conftest import ROOT, engine_blind, write_jsonl

PACK = """\
events:
  ticket.opened: {data: {}}
  ticket.answered: {data: {}}
  ticket.checked: {data: {}}
sop: {id: desk, title: Desk, source: {document: desk.txt}}
rules:
  - id: answer-in-4h
    kind: response
    severity: error
    description: A ticket is answered within 4 hours; at risk once 75% of that has passed.
    source: {document: desk.txt, step: "1"}
    after: {on: ticket.opened}
    expect: {on: ticket.answered}
    within: 4h
    warn: "75%"
    action: answer it
    message: not answered in time
  - id: daily-check
    kind: response
    severity: warning
    description: An open ticket is checked every day; at risk in the last quarter of each day.
    source: {document: desk.txt, step: "2"}
    after: {on: ticket.opened}
    expect: {on: ticket.checked}
    repeat: {every: 1d}
    warn: 6h
    action: check it
    message: not checked today
"""


def _pack_dir(tmp_path: Path, text: str = PACK) -> Path:
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    (folder / "desk.yaml").write_text(text)
    return folder


def _log(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "log.jsonl", [
        {"id": "e1", "case": "T1", "type": "ticket.opened", "time": "2025-03-03T09:00:00Z", "actor": "a", "data": {}},
        {"id": "e2", "case": "T1", "type": "ticket.checked", "time": "2025-03-04T08:00:00Z", "actor": "a",
         "data": {}},
        {"id": "e3", "case": "T2", "type": "ticket.opened", "time": "2025-03-04T10:00:00Z", "actor": "a", "data": {}},
    ])


def _run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize(("as_of", "expected"), [
    # T2 opened 10:00: answer due 14:00, at risk from 13:00 (75%); T1's answer was due 2025-03-03T13:00 (late).
    # T1 checked 03-04 08:00: next check due 03-05 08:00, at risk from 03-05 02:00 (6h before); T2's first check
    # is due 03-05 10:00, at risk from 04:00.
    ("2025-03-04T12:59:00Z", []),
    ("2025-03-04T13:00:00Z", [("answer-in-4h", "T2", "2025-03-04T14:00:00Z", "2025-03-04T13:00:00Z")]),
    ("2025-03-05T03:00:00Z", [("daily-check", "T1", "2025-03-05T08:00:00Z", "2025-03-05T02:00:00Z")]),
    ("2025-03-05T05:00:00Z", [("daily-check", "T1", "2025-03-05T08:00:00Z", "2025-03-05T02:00:00Z"),
                              ("daily-check", "T2", "2025-03-05T10:00:00Z", "2025-03-05T04:00:00Z")]),
])
def test_next_actions_turn_at_risk_at_their_warning_point_on_both_engines(tmp_path: Path, as_of: str,
                                                                           expected: list[Any]) -> None:
    pack, log = _pack_dir(tmp_path), _log(tmp_path)
    outputs = []
    for engine in ("python", "native"):
        out = _run("audit", str(log), "--sops", str(pack), "--as-of", as_of, "--format", "json", "--fail-on",
                   "never", "--engine", engine)
        assert out.exit_code == 0, out.output
        outputs.append(out.stdout_bytes)
    assert engine_blind(outputs[0]) == engine_blind(outputs[1])
    report = json.loads(outputs[0])
    schema = json.loads((ROOT / "schemas" / "audit-output.schema.json").read_text(encoding="utf-8"))
    jsonschema.validate(report, schema)
    got = [(r["rule"].split("/")[1], r["case"], r["due"], r["at_risk_since"]) for r in report["at_risk"]]
    assert got == expected
    assert report["summary"]["at_risk"] == len(expected)
    actions = {(a["rule"].split("/")[1], a["case"], a["due"]) for a in report["next_actions"]}
    assert {g[:3] for g in got} <= actions  # an at-risk item is a next action too


def test_next_flags_at_risk_items_in_text_json_and_csv(tmp_path: Path) -> None:
    pack, log = _pack_dir(tmp_path), _log(tmp_path)
    common = ["next", str(log), "--sops", str(pack), "--as-of", "2025-03-04T13:30:00Z"]
    text = _run(*common)
    assert text.exit_code == 0, text.output
    assert "1 at risk" in text.stdout and "AT RISK due 2025-03-04T14:00:00Z  T2" in text.stdout
    rows = list(csv.DictReader(io.StringIO(_run(*common, "--format", "csv").stdout)))
    assert [(r["case"], r["at_risk"]) for r in rows if r["rule"].endswith("answer-in-4h")] == [("T2", "true")]
    assert all(r["at_risk"] == "false" for r in rows if r["overdue"] == "true")  # overdue is not at risk
    doc = json.loads(_run(*common, "--format", "json").stdout)
    assert doc["summary"]["at_risk_items"] == sum(item["at_risk"] for item in doc["items"]) == 1


@pytest.mark.parametrize(("change", "message"), [
    ("    warn: \"75%\"\n", "    warn: 4h\n"),
    ("    warn: \"75%\"\n", "    warn: \"150%\"\n"),
    ("    warn: \"75%\"\n", "    warn: \"most%\"\n"),
    ("    within: 4h\n    warn: \"75%\"\n", "    warn: 1h\n"),
])
def test_a_warning_point_outside_the_time_to_the_deadline_is_an_error(tmp_path: Path, change: str,
                                                                       message: str) -> None:
    with pytest.raises(PackError) as err:
        load_pack([_pack_dir(tmp_path, PACK.replace(change, message, 1))])
    assert "warn" in str(err.value) and "desk.yaml:" in str(err.value)
