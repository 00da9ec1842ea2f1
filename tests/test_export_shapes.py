"""Real export shapes (issue 14): each gives the right events and findings, or a clear warning or error.

The fixtures under data/inputs/*-shapes are written from the vendors' documented
shapes (../shared/FORMATS.md), not from the bundled mappings: a SOQL or REST query
of CaseHistory without DataType, a Data Loader CSV with ALL-CAPS headers, Jira
Cloud issues with option fields, automation comments and truncated changelogs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson

from sopengine import audit
from sopengine.adapters import InputSpec
from sopengine.audit import load_facts, read_records
from sopengine.cli import cli
from sopengine.events import Event, InputWarning
from sopengine.model import Pack

DATA = Path(__file__).resolve().parent / "data" / "inputs"
SF = DATA / "salesforce-shapes"
SF_REST = [SF / "Case.json", SF / "CaseHistory.json", SF / "CaseComment.json"]
SF_LOADER = [SF / "dataloader" / "Case.csv", SF / "dataloader" / "CaseHistory.csv",
             SF / "dataloader" / "CaseComment.csv"]


def events_of(pack: Pack, paths: list[Path], spec: InputSpec) -> list[dict[str, Any]]:
    return [orjson.loads(orjson.dumps(r.to_json())) for r in read_records(pack, paths, inputs=spec)
            if isinstance(r, Event)]


def run(pack: Pack, paths: list[Path], spec: InputSpec, facts: Any = None) -> Any:
    return audit(pack, read_records(pack, paths, inputs=spec), facts)


def reconciles(result: Any, read: int) -> bool:
    return result.read == read == result.events + len(result.rejected) + sum(result.skipped.values())


# --------------------------------------------------------------------------- 1. CaseHistory without DataType

def test_case_history_without_data_type_pairs_the_id_and_name_rows_of_each_owner_change(bundled: Pack) -> None:
    events = events_of(bundled, SF_REST, InputSpec("salesforce"))
    owners = [(e["data"]["to"], e["data"]["to_kind"], e["data"]["from"]) for e in events
              if e["type"] == "case.owner_changed"]
    # one event per change (not one with ids and one with names): a queue by name, a user by id
    assert owners == [("Back Office Task Queue Homeowner", "queue", "0055e000003FrntAAC"),
                      ("0055e000003BackAAC", "user", "Back Office Task Queue Homeowner")]
    parent = [e for e in events if e["type"] == "case.field_changed" and e["data"]["field"] == "Parent"]
    assert [e["data"]["to"] for e in parent] == ["5005e00000PaReNAAV"]  # the name row came first: paired all the same
    assert "closure_comments" in {e["data"].get("field") for e in events}  # a plain field is no part: mapped at once


def test_case_history_without_data_type_gives_the_findings_of_the_same_export_with_it(bundled: Pack,
                                                                                      tmp_path: Path) -> None:
    doc = json.loads((SF / "CaseHistory.json").read_text(encoding="utf-8"))
    for row in doc["records"]:  # the same rows as a query that selected DataType returns them
        value = row["NewValue"] or row["OldValue"] or ""
        row["DataType"] = ("DynamicEnum" if row["Field"] == "Status" else
                           "EntityId" if len(value) in (15, 18) and value[:3] in ("005", "00G", "003", "500")
                           else "Text")
    with_type = tmp_path / "CaseHistory.json"
    with_type.write_text(json.dumps(doc), encoding="utf-8")
    facts = load_facts([SF / "facts.yaml"])
    got = run(bundled, SF_REST, InputSpec("salesforce"), facts)
    expected = run(bundled, [SF_REST[0], with_type, SF_REST[2]], InputSpec("salesforce"), facts)
    assert got.to_json()["violations"] == expected.to_json()["violations"] == []
    assert got.undecided == expected.undecided == []  # no owner named "Betty Back" looked up as a user id
    assert got.events == expected.events == 8 and reconciles(got, 12)


def test_a_lookup_change_whose_name_row_is_missing_is_mapped_from_its_ids_with_a_warning(bundled: Pack) -> None:
    result = run(bundled, SF_REST, InputSpec("salesforce"), load_facts([SF / "facts.yaml"]))
    assert [(Path(w.file).name, w.line) for w in result.warnings] == [("CaseHistory.json", 8)]
    assert "has no Text row" in result.warnings[0].message and "Field='Contact'" in result.warnings[0].message
    assert result.summary()["warnings"] == 1 and reconciles(result, 12)  # a warning is not a record


def test_cli_lists_the_warning_and_counts_it_in_the_summary(runner: Any, tmp_path: Path) -> None:
    out = tmp_path / "audit.json"
    result = runner.invoke(cli, ["audit", "--input-format", "salesforce", *map(str, SF_REST), "--facts",
                                 str(SF / "facts.yaml"), "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["summary"]["warnings"] == 1 and doc["summary"]["read"] == 12
    assert doc["warnings"][0]["line"] == 8 and doc["warnings"][0]["file"].endswith("CaseHistory.json")
    text = runner.invoke(cli, ["audit", "--input-format", "salesforce", *map(str, SF_REST)])
    assert "Warnings about the input (1)" in text.output and "CaseHistory.json:8: CaseHistory:" in text.output


# --------------------------------------------------------------------------- 2. case-insensitive names

def test_a_data_loader_export_with_all_caps_headers_reads_like_the_rest_api_records(bundled: Pack) -> None:
    loader = events_of(bundled, SF_LOADER, InputSpec("salesforce"))
    rest = events_of(bundled, SF_REST, InputSpec("salesforce"))
    assert loader == rest and len(loader) == 8
    result = run(bundled, SF_LOADER, InputSpec("salesforce"))
    assert result.rejected == [] and [w.line for w in result.warnings] == [9]


def test_only_a_mapping_that_declares_it_matches_names_in_any_case(bundled: Pack, tmp_path: Path) -> None:
    log = tmp_path / "log.csv"
    log.write_text("CASE,Time,TYPE,Actor,comments\nC1,2024-05-06T09:00:00Z,review.logged,u1,ok\n", encoding="utf-8")
    assert [e["data"] for e in events_of(bundled, [log], InputSpec())] == [{"comments": "ok"}]  # default: any case
    exact = tmp_path / "exact.input.yaml"
    exact.write_text("mapping: exact\nsources:\n  - name: row\n    defaults: {case: case, time: time, actor: actor}\n"
                     "    rules:\n      - type: type\n", encoding="utf-8")
    result = run(bundled, [log], InputSpec("auto", str(exact)))
    assert result.events == 0 and "gives no" not in result.rejected[0].error
    assert "missing required key(s): case, time, type" in result.rejected[0].error
