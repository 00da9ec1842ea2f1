"""Input formats (issue 6): every adapter maps its export onto the same canonical events.

The strongest check is equivalence: the same events written as JSON Lines and as
XES, CSV or Parquet must give identical findings, for every scenario of the
bundled pack and for the example log. The Salesforce and Jira fixtures are built
from the documented export shapes (../shared/FORMATS.md), quirks included.
"""

from __future__ import annotations

import csv
import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest

from sopengine import audit, load_pack
from sopengine.adapters import InputSpec, load_mapping
from sopengine.adapters.mapping import Merger, MergeSpec
from sopengine.audit import load_facts, read_records
from sopengine.cli import cli
from sopengine.errors import PackError, UsageError
from sopengine.events import Event, Skipped
from sopengine.model import Pack
from sopengine.scenarios import DEFAULT_START, PackSource, collect, scenario_events
from sopengine.timeutil import parse_time

from .conftest import ROOT, SOPS, write_jsonl
from .xes_util import to_xes

DATA = Path(__file__).resolve().parent / "data" / "inputs"
SF = DATA / "salesforce"
JIRA = DATA / "jira"
EXAMPLE = ROOT / "examples" / "events.jsonl"
EXAMPLE_FACTS = ROOT / "examples" / "facts.yaml"


def findings(result: Any) -> dict[str, Any]:
    out = result.to_json()
    return {k: out[k] for k in ("violations", "next_actions", "undecided")} | {
        "counts": {k: out["summary"][k] for k in ("events", "cases", "violations", "next_actions")}}


def run(pack: Pack, paths: list[Path], spec: InputSpec | None = None, facts: Any = None,
        as_of: float | None = None) -> Any:
    return audit(pack, read_records(pack, paths, inputs=spec), facts, as_of)


def example_events() -> list[dict[str, Any]]:
    return [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


# --------------------------------------------------------------------------- XES == JSONL

def _scenarios() -> list[Any]:
    sets, problems = collect([SOPS])
    assert not problems
    return [pytest.param(s, i, id=f"{Path(s.file).name}:{i}") for s in sets for i in range(s.count)]


@pytest.mark.parametrize(("scenario_set", "index"), _scenarios())
def test_every_bundled_scenario_gives_the_same_findings_from_xes_and_jsonl(scenario_set: Any, index: int,
                                                                          tmp_path: Path) -> None:
    data = scenario_set.doc.data
    sc = data["scenarios"][index]
    pack = PackSource([SOPS]).pack(sc.get("params"))
    start = parse_time(sc.get("start") or data.get("start") or DEFAULT_START)
    events = [e.to_json() for e in scenario_events(sc, data, pack, start)]
    facts = sc.get("facts", data.get("facts"))
    as_of = None
    if "as_of" in sc:
        from sopengine.scenarios import _time
        as_of = _time(sc["as_of"], start, "as_of")
    jsonl = write_jsonl(tmp_path / "s.jsonl", events)
    xes = tmp_path / "s.xes"
    xes.write_text(to_xes(events), encoding="utf-8")
    from_jsonl = run(pack, [jsonl], facts=facts, as_of=as_of)
    from_xes = run(pack, [xes], facts=facts, as_of=as_of)
    assert from_xes.rejected == []
    assert findings(from_xes) == findings(from_jsonl)
    assert from_jsonl.violations or from_jsonl.next_actions or not sc["expect"].get("violations")


def test_the_example_log_gives_the_same_findings_from_gzipped_xes(bundled: Pack, tmp_path: Path) -> None:
    xes = tmp_path / "events.xes.gz"
    with gzip.open(xes, "wt", encoding="utf-8") as fh:
        fh.write(to_xes(example_events()))
    facts = load_facts([EXAMPLE_FACTS])
    expected = run(bundled, [EXAMPLE], facts=facts)
    got = run(bundled, [xes], facts=facts)
    assert expected.violations and got.read == expected.read == 2511
    assert findings(got) == findings(expected)


def test_xes_mapping_composes_the_type_from_name_and_lifecycle(tmp_path: Path) -> None:
    # BPI Challenge 2013 style: the activity alone is ambiguous; activity + lifecycle is the type.
    log = tmp_path / "bpi.xes"
    log.write_text("""<?xml version="1.0" encoding="UTF-8"?>
<log xes.version="1.0" xmlns="http://www.xes-standard.org/">
  <global scope="event"><string key="org:group" value="unknown"/></global>
  <trace><string key="concept:name" value="1-364285768"/>
    <event><string key="concept:name" value="Accepted"/><string key="lifecycle:transition" value="In Progress"/>
      <date key="time:timestamp" value="2010-03-31T16:59:42.000+02:00"/><string key="org:resource" value="Value 1"/>
      <list key="products"><values><string key="p" value="PROD582"/><string key="p" value="PROD583"/></values></list>
    </event>
    <event><string key="concept:name" value="Completed"/><string key="lifecycle:transition" value="Closed"/>
      <date key="time:timestamp" value="2010-04-06T16:44:07+02:00"/><int key="impact" value="2"/>
      <boolean key="reopened" value="false"/><string key="org:group" value="V3_2"/>
    </event>
  </trace>
</log>
""", encoding="utf-8")
    mapping = tmp_path / "bpi.input.yaml"
    mapping.write_text("""mapping: bpi
reader: xes
sources:
  - name: event
    defaults: {case: trace.concept:name, time: time:timestamp, actor: org:resource, rest: true}
    rules:
      - type: {expr: "replace(lower(field('concept:name') + '.' + field('lifecycle:transition')), ' ', '_')"}
""", encoding="utf-8")
    pack = load_pack([ROOT / "tests" / "packs" / "incidents"])
    records = list(read_records(pack, [log], inputs=InputSpec("xes", str(mapping))))
    events = [r for r in records if isinstance(r, Event)]
    assert [(e.type, e.case, e.actor) for e in events] == [
        ("accepted.in_progress", "1-364285768", "Value 1"), ("completed.closed", "1-364285768", None)]
    assert events[0].data["products"] == ["PROD582", "PROD583"]
    assert events[0].data["org:group"] == "unknown" and events[1].data["org:group"] == "V3_2"  # <global> default
    assert events[1].data["impact"] == 2 and events[1].data["reopened"] is False
    assert audit(pack, iter(records)).violations == []
    unmapped = run(pack, [log])  # the default XES mapping takes concept:name alone: not this vocabulary
    assert [r.line for r in unmapped.rejected] == [5, 9]
    assert "unknown event type 'Accepted'" in unmapped.rejected[0].error


@pytest.mark.parametrize(("body", "reason"), [
    ("<trace><string key='concept:name' value='C1'/><event><string key='concept:name' value='x'/>",
     "the rest of the file cannot be read"),
    ("<!DOCTYPE log [<!ENTITY a 'aaaa'>]><log>&a;</log>", "may not declare entities"),
])
def test_a_broken_or_hostile_xes_file_is_a_rejected_record_not_a_crash(bundled: Pack, tmp_path: Path, body: str,
                                                                      reason: str) -> None:
    log = tmp_path / "bad.xes"
    log.write_text(body if body.startswith("<!") else f"<log>{body}", encoding="utf-8")
    result = run(bundled, [log])
    assert len(result.rejected) == 1 and reason in result.rejected[0].error
    assert result.read == result.events + len(result.rejected) + sum(result.skipped.values())


# --------------------------------------------------------------------------- CSV and Parquet

CSV_MAPPING = """mapping: helpdesk-export
description: Our helpdesk's CSV export; list columns hold values separated by '|'.
sources:
  - name: row
    defaults:
      case: Ticket Number
      time: Occurred At
      actor: {expr: "row.Agent"}
      id: Event Id
    rules:
      - when: "row.Kind == 'heartbeat'"
        skip: monitoring row
      - type: Kind
        event:
          data:
            {data}
"""

LIST_FIELDS = {"jira_tickets", "cc", "mentions", "labels"}
LIST_ON = {"to": "email.sent", "channel": "ticket.created"}  # a list on these events, one value on others


def _csv_export(events: list[dict[str, Any]], path: Path) -> str:
    """The example events as a user's CSV export with its own column names; returns the mapping text."""
    fields = sorted({k for e in events for k in (e.get("data") or {})})
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["Event Id", "Ticket Number", "Occurred At", "Kind", "Agent"] + [f"d_{f}" for f in fields])
        w.writerow(["hb1", "", "2024-01-01T00:00:00Z", "heartbeat", ""] + [""] * len(fields))
        for e in events:
            data = e.get("data") or {}
            cells = []
            for f in fields:
                v = data.get(f)
                cells.append("|".join(v) if isinstance(v, list) else json.dumps(v) if isinstance(v, bool)
                             else "" if v is None else str(v))
            w.writerow([e["id"], e["case"], e["time"], e["type"], e.get("actor") or ""] + cells)
    lines = []
    for f in fields:
        if f in LIST_ON:
            lines.append(f"{f}: {{expr: \"split(field('d_{f}'), '|') if row.Kind == '{LIST_ON[f]}' "
                         f"else field('d_{f}')\"}}")
        elif f in LIST_FIELDS:
            lines.append(f"{f}: {{expr: \"split(field('d_{f}'), '|')\"}}")
        elif f in ("sales_rep_without_contact", "customer_in_salesforce", "needs_config"):
            lines.append(f"{f}: {{expr: \"true if field('d_{f}') == 'true' else (false if field('d_{f}') == "
                         f"'false' else null)\"}}")
        else:
            lines.append(f"{f}: d_{f}")
    return CSV_MAPPING.replace("{data}", "\n            ".join(lines))


def test_a_csv_export_with_its_own_column_names_audits_like_the_jsonl_log(bundled: Pack, tmp_path: Path) -> None:
    events = example_events()
    export = tmp_path / "export.csv"
    mapping = tmp_path / "helpdesk.input.yaml"
    mapping.write_text(_csv_export(events, export), encoding="utf-8")
    facts = load_facts([EXAMPLE_FACTS])
    got = run(bundled, [export], InputSpec("auto", str(mapping)), facts)
    expected = run(bundled, [EXAMPLE], facts=facts)
    assert got.rejected == [] and got.skipped == {"row: monitoring row": 1}
    assert findings(got) == findings(expected)


def test_parquet_audits_like_the_jsonl_log(bundled: Pack, tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    events = example_events()
    fields = sorted({k for e in events for k in (e.get("data") or {})})
    rows = []
    for e in events:
        data = e.get("data") or {}
        row = {"case": e["case"], "time": e["time"], "type": e["type"], "actor": e.get("actor"), "id": e["id"]}
        for f in fields:  # a Parquet column has one type: 'to' and 'channel' are lists on some events only
            row[f"{f}_list" if f in LIST_ON and isinstance(data.get(f), list) else f] = data.get(f)
        rows.append(row)
    columns = list(dict.fromkeys(k for row in rows for k in row))  # from_pylist takes the first row's keys
    rows = [{k: row.get(k) for k in columns} for row in rows]
    path = tmp_path / "events.parquet"
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=500)
    mapping = tmp_path / "parquet.input.yaml"
    mapping.write_text("""mapping: parquet-export
sources:
  - name: row
    defaults: {case: case, time: time, actor: actor, id: id, rest: true}
    rules:
      - type: type
        event:
          data:
            to: {expr: "coalesce(row.to_list, row.to)"}
            channel: {expr: "coalesce(row.channel_list, row.channel)"}
""", encoding="utf-8")
    facts = load_facts([EXAMPLE_FACTS])
    got = run(bundled, [path], InputSpec("parquet", str(mapping)), facts)
    expected = run(bundled, [EXAMPLE], facts=facts)
    assert got.rejected == [] and got.read == 2511
    assert findings(got) == findings(expected)


def test_csv_with_the_default_column_names_needs_no_mapping(bundled: Pack, tmp_path: Path) -> None:
    path = tmp_path / "log.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write("case,time,type,actor,comments\nC1,2024-05-06T09:00:00.000+0000,review.logged,u1,ok\n")
    result = run(bundled, [path])
    assert result.events == 1 and result.rejected == []


def test_malformed_csv_rows_are_rejected_with_their_lines(bundled: Pack, tmp_path: Path) -> None:
    path = tmp_path / "log.csv"
    path.write_bytes(
        b"\xef\xbb\xbfcase,time,type,actor\r\n"
        b"C1,2024-05-06T09:00:00Z,review.logged,u1\r\n"
        b"C1,2024-05-06T09:05:00Z,review.logged\r\n"                 # 3: too few fields
        b"C1,2024-05-06T09:06:00Z,review.logged,u\xff\r\n"           # 4: bad UTF-8
        b"C1,2024-05-06 09:07,review.logged,u1\r\n"                  # 5: no offset
        b"C1,2024-05-06T09:08:00Z,no.such,u1\r\n"                    # 6: unknown type
        b'C1,2024-05-06T09:09:00Z,review.logged,"u1\r\n')            # 7: quote never closed
    result = run(bundled, [path])
    reasons = {r.line: r.error for r in result.rejected}
    assert result.events == 1
    assert sorted(reasons) == [3, 4, 5, 6, 7]
    assert "3 fields" in reasons[3] and "UTF-8" in reasons[4] and "not RFC 3339" in reasons[5]
    assert "unknown event type 'no.such'" in reasons[6]
    assert result.read == 6


# --------------------------------------------------------------------------- Salesforce

SF_FILES = [SF / "Case.csv", SF / "CaseHistory.csv", SF / "CaseComment.json"]


def test_salesforce_export_becomes_the_expected_events(bundled: Pack) -> None:
    records = list(read_records(bundled, SF_FILES, inputs=InputSpec("salesforce")))
    events = [orjson.loads(orjson.dumps(r.to_json())) for r in records if isinstance(r, Event)]
    expected = [json.loads(line) for line in (SF / "expected.jsonl").read_text(encoding="utf-8").splitlines()]
    assert events == expected
    owner_changes = [e for e in events if e["type"] == "case.owner_changed"]
    # Two CaseHistory rows per owner change (ids, then names): one event each, a user by id, a queue by name.
    assert [(e["data"]["to"], e["data"]["to_kind"]) for e in owner_changes] == [
        ("Back Office Task Queue Homeowner", "queue"), ("005BACK", "user")]


def test_salesforce_export_audits_to_the_expected_findings(bundled: Pack) -> None:
    result = run(bundled, SF_FILES, InputSpec("salesforce"), load_facts([SF / "facts.yaml"]))
    assert {(v.rule, v.case) for v in result.violations} == {
        ("working-a-case/reopen-once-within-6h", "00001001"),      # reopened 8h after closing
        ("case-assignment/review-by-owner-only", "00001001"),      # 005OTHER logged a review; 005BACK owns it
        ("unresponsive-installer/email-installer", "00001001"),    # closed without the installer email
        ("unresponsive-installer/related-parties", "00001001"),
        ("case-assignment/homeowner-under-contract", "00001001"),
        ("case-assignment/homeowner-under-contract", "00001002"),
    }
    reopen = next(v for v in result.violations if v.rule.endswith("reopen-once-within-6h"))
    assert reopen.events == ("sf-hist-017A09", "sf-hist-017A08")
    assert [(r.file.rsplit("/", 1)[-1], r.line) for r in result.rejected] == [
        ("CaseHistory.csv", 13), ("CaseHistory.csv", 14), ("CaseHistory.csv", 15)]
    assert "no Case record with key '5001x00000AAA9'" in result.rejected[0].error
    assert result.skipped == {"CaseHistory: creation (the Case row gives it, with the case's fields)": 2,
                              "CaseHistory: merged into the event of its other row(s)": 2}
    assert result.read == 2 + 14 + 2 == result.events + len(result.rejected) + sum(result.skipped.values())
    same = run(bundled, [SF / "expected.jsonl"], facts=load_facts([SF / "facts.yaml"]))
    assert findings(same) == findings(result)


def test_history_read_before_its_case_is_held_until_the_case_is_read(bundled: Pack) -> None:
    files = [SF / "CaseHistory.csv", SF / "CaseComment.json", SF / "Case.csv"]
    reordered = run(bundled, files, InputSpec("salesforce"))
    in_order = run(bundled, SF_FILES, InputSpec("salesforce"))
    assert findings(reordered) == findings(in_order)


def test_merger_waits_only_a_window_of_rows_and_handles_a_repeated_part() -> None:
    merger = Merger(MergeSpec(("k",), "t", ("id", "name"), window=2))
    assert merger.push({"k": 1, "t": "id", "v": "005"}, 1) == []
    assert merger.push({"k": 2, "t": "other"}, 2) == [({"k": 2, "t": "other"}, 2, [], ())]
    out = merger.push({"k": 1, "t": "name", "v": "Ann"}, 3)
    assert out == [({"k": 1, "t": "name", "v": "Ann", "id.k": 1, "id.t": "id", "id.v": "005", "name.k": 1,
                     "name.t": "name", "name.v": "Ann"}, 1, [3], ())]
    merger.push({"k": 5, "t": "id"}, 4)
    first = merger.push({"k": 5, "t": "id"}, 5)[0]  # the same part again closes the first group, unpaired
    assert first[1] == 4 and first[3] == ("name",)
    merger.push({"k": 7, "t": "id"}, 6)
    merger.push({"k": 8, "t": "x"}, 7)
    expired = merger.push({"k": 9, "t": "x"}, 8)
    assert [(line, missing) for _, line, _, missing in expired] == [(5, ("name",)), (8, ())]  # 5 waited > 2 rows
    assert [(line, missing) for _, line, _, missing in merger.flush()] == [(6, ("name",))]


# --------------------------------------------------------------------------- Jira

def test_jira_issues_audit_to_the_expected_findings(bundled: Pack) -> None:
    result = run(bundled, [JIRA / "issues.json"], InputSpec("jira"), load_facts([JIRA / "facts.yaml"]))
    assert sorted((v.rule, v.case) for v in result.violations) == [
        ("service-desk/eb-label", "SD-101"),              # EverBright financing, no EB label
        ("service-desk/first-response-2h", "SD-101"),     # the internal note does not count; public reply at 3h
        ("service-desk/priority-organization", "SD-101"),  # SunCo Solar has priority service, priority Medium
    ]
    assert [(r.line, r.error) for r in result.rejected] == [
        (2, "change: time 'yesterday' is not RFC 3339 (e.g. 2024-05-01T09:00:00Z)"),
        (2, "issue SD-102: a comment is not an object"),
        (3, "a Jira issue needs a 'key'"),
    ]
    records = [r for r in read_records(bundled, [JIRA / "issues.json"], inputs=InputSpec("jira"))
               if isinstance(r, Event)]
    by_id = {e.id: e for e in records}
    assert by_id["SD-101:comment:20001"].data["visibility"] == "internal"
    assert by_id["SD-101:comment:20002"].data["visibility"] == "public"
    assert by_id["SD-102:created"].data["priority"] == "High"  # Highest -> High
    assert by_id["SD-102:30003:1"].data == {"field": "labels", "to": ["EB", "status"], "from": ["EB"]}
    assert by_id["SD-101:30001:0"].data == {"assignee": "557058:agent1"}


# --------------------------------------------------------------------------- mapping errors, CLI

def test_a_mapping_with_schema_and_expression_errors_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.input.yaml"
    bad.write_text("mapping: bad\nsources:\n  - name: row\n    rules:\n      - type: kind\n"
                   "        when: \"row.kind ==\"\n        event: {case: c, time: t, colour: red}\n",
                   encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_mapping(bad)
    text = str(err.value)
    assert "bad.input.yaml:7" in text and "colour" in text
    bad.write_text("mapping: bad\nsources:\n  - name: row\n    rules:\n      - type: kind\n"
                   "        when: \"row.kind == 'x' and row.__class__\"\n        event: {case: c, time: t}\n",
                   encoding="utf-8")
    with pytest.raises(PackError) as err:
        load_mapping(bad)
    assert "bad.input.yaml:6" in str(err.value) and "'_'" in str(err.value)


def test_cli_reads_salesforce_and_rejects_an_unknown_format(runner: Any, tmp_path: Path) -> None:
    out = tmp_path / "sf.json"
    result = runner.invoke(cli, ["audit", "--input-format", "salesforce", *map(str, SF_FILES), "--facts",
                                 str(SF / "facts.yaml"), "--format", "json", "-o", str(out), "--jobs", "2",
                                 "--max-rejected", "3"])  # the fixture's 3 malformed rows, on purpose
    assert result.exit_code == 1, result.output
    doc = json.loads(out.read_text())
    assert doc["summary"]["violations"] == 6 and doc["summary"]["skipped"] == 4 and doc["summary"]["read"] == 18
    result = runner.invoke(cli, ["audit", "--input-format", "salesforse", str(SF / "Case.csv")])
    assert result.exit_code == 2 and "did you mean 'salesforce'" in result.output
    result = runner.invoke(cli, ["audit", "--mapping", str(tmp_path / "none.yaml"), str(SF / "Case.csv")])
    assert result.exit_code == 2 and "none.yaml not found" in result.output


def test_input_mappings_beside_the_pack_are_not_sop_files(bundled: Pack) -> None:
    assert not any(f.endswith(".input.yaml") for f in bundled.files)
    for path in sorted(SOPS.glob("*.input.yaml")):
        mapping = load_mapping(path)
        for source in mapping.sources:
            for rule in source.rules:
                t = rule.fields.values.get("type")
                if rule.skip is None and t is not None and t.path is None and t.expr is None:
                    assert t.const in bundled.events, f"{path.name}: {t.const} is not in the vocabulary"


def test_an_unknown_format_is_a_usage_error(bundled: Pack) -> None:
    with pytest.raises(UsageError):
        list(read_records(bundled, [EXAMPLE], inputs=InputSpec("xls")))
    assert Skipped("f", 1, "r").reason == "r"
