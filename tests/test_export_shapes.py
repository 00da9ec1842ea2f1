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
import pytest

from sopengine import audit
from sopengine.adapters import InputSpec
from sopengine.audit import load_facts, read_records
from sopengine.cli import cli
from sopengine.errors import InputError
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


def test_an_unfinished_salesforce_query_response_is_warned_about(bundled: Pack, tmp_path: Path) -> None:
    """A REST query answer that says done: false (with its nextRecordsUrl), or holds fewer records than its
    totalSize, is one page: the cases of the others are not in the export."""
    doc = json.loads(SF_REST[0].read_text(encoding="utf-8"))
    first = tmp_path / "Case.json"
    first.write_text(json.dumps({**doc, "totalSize": 3, "done": False,
                                 "nextRecordsUrl": "/services/data/v60.0/query/01gD0000002HU6KIAW-2000"}))
    result = run(bundled, [first, *SF_REST[1:]], InputSpec("salesforce"))
    assert [(w.line, w.message) for w in result.warnings if "query response" in w.message] == [
        (0, "this is one page of a query response: it holds 1 of 3 records; the other pages are not in this "
            "export, so their records are not audited: fetch every page (nextRecordsUrl) or export with Data "
            "Loader or Bulk API")]
    first.write_text(json.dumps({**doc, "done": False}))
    said = [w.message for w in run(bundled, [first, *SF_REST[1:]], InputSpec("salesforce")).warnings]
    assert any("it holds 1 records and says done: false" in m for m in said)
    assert not any("query response" in w.message for w in run(bundled, SF_REST, InputSpec("salesforce")).warnings)


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


# --------------------------------------------------------------------------- 3-6. Jira Cloud issues

JIRA = DATA / "jira-shapes"


def jira_run(pack: Pack, paths: list[Path] | None = None) -> Any:
    return run(pack, paths or [JIRA / "search.json"], InputSpec("jira"), load_facts([JIRA / "facts.yaml"]))


def jira_events(pack: Pack, paths: list[Path] | None = None) -> dict[str, dict[str, Any]]:
    return {e["id"]: e for e in events_of(pack, paths or [JIRA / "search.json"], InputSpec("jira"))}


def test_a_ticket_created_already_assigned_is_assigned_from_its_creation(bundled: Pack) -> None:
    events = jira_events(bundled)
    # SD-201: no assignee change at all: the current assignee was there from the start
    assert events["SD-201:initial:assignee"]["data"] == {"assignee": "557058:agent1"}
    assert events["SD-201:initial:assignee"]["time"] == events["SD-201:created"]["time"]
    # SD-203: created for Alex, reassigned to Sam: at creation it was the 'from' of the first change, not Sam
    assert events["SD-203:initial:assignee"]["data"] == {"assignee": "557058:agent1"}
    assert events["SD-203:40301:0"]["data"] == {"assignee": "557058:agent2"}
    # SD-202: created unassigned (its first assignee change is from nobody): no assignment at creation
    assert "SD-202:initial:assignee" not in events
    rules = {(v.rule, v.case) for v in jira_run(bundled).violations}
    assert not {r for r in rules if r[0] in ("service-desk/unassigned-15m", "service-desk/essential-fields")}


def test_ticket_created_carries_each_field_as_it_was_at_creation(bundled: Pack) -> None:
    created = jira_events(bundled)["SD-202:created"]["data"]
    assert created["priority"] == "Medium"  # today High, raised 40 minutes after creation
    violations = [v for v in jira_run(bundled).violations if v.rule == "service-desk/priority-organization"]
    assert [(v.case, v.message) for v in violations] == [
        ("SD-202", "SunCo Solar has priority service but the ticket's priority is Medium")]


def test_select_and_multi_select_options_map_to_their_values(bundled: Pack) -> None:
    created = jira_events(bundled)["SD-201:created"]["data"]
    assert created["channel"] == ["phone", "email"] and created["financing"] == "EverBright"
    result = jira_run(bundled)
    assert not [v for v in result.violations if v.case == "SD-201" and "phone" in v.rule]  # HO Phone was noted


def test_an_option_object_a_mapping_names_whole_is_left_out_with_a_warning_not_printed(bundled: Pack,
                                                                                      tmp_path: Path) -> None:
    mapping = tmp_path / "options.input.yaml"
    mapping.write_text("""mapping: options
reader: jira
sources:
  - name: issue
    match: {kind: issue}
    defaults: {case: key, time: fields.created}
    rules:
      - type: {value: ticket.created}
        event:
          data:
            financing: fields.customfield_10060
            channel: fields.customfield_10050
            request_type: {expr: "text(field('fields.customfield_10060'))"}
  - name: other
    rules:
      - skip: not used here
""", encoding="utf-8")
    records = list(read_records(bundled, [JIRA / "search.json"], inputs=InputSpec("jira", str(mapping))))
    created = [r for r in records if isinstance(r, Event)]
    assert [e.case for e in created] == ["SD-202", "SD-203"]  # text() of SD-201's option is refused
    assert all("financing" not in e.data and "channel" not in e.data for e in created)
    rejected = [r for r in records if not isinstance(r, (Event, InputWarning)) and hasattr(r, "error")]
    assert len(rejected) == 1 and "text() of an object (fields: id, self, value)" in rejected[0].error
    warnings = [w.message for w in records if isinstance(w, InputWarning)]
    assert "issue: data field 'channel' would be a list of objects with id, value, not a value; left out " \
           "(map one field of it, e.g. pluck(field('fields.customfield_10050'), 'value'))" in warnings
    assert not any("{'" in str(e.data) for e in created)  # no Python repr of an option anywhere


def test_an_automations_acknowledgement_is_not_the_first_response(bundled: Pack) -> None:
    events = jira_events(bundled)
    assert events["SD-201:comment:30101"]["data"]["author_type"] == "app"
    first = [v for v in jira_run(bundled).violations if v.rule == "service-desk/first-response-2h"]
    assert [v.case for v in first] == ["SD-201"]  # "Automation for Jira" replied at 1 minute; Alex at 3 hours


def test_a_truncated_changelog_and_an_unfinished_search_are_warned_about_and_counted(bundled: Pack) -> None:
    result = jira_run(bundled)
    assert [(w.line, w.message.split(":")[0]) for w in result.warnings] == [
        (0, "this is one page of a search response"), (2, "issue SD-202")]
    assert "holds 3 of 4 issues" in result.warnings[0].message
    assert "its changelog holds 2 of 3 changes" in result.warnings[1].message
    assert result.summary()["warnings"] == 2 and reconciles(result, 14)


def test_a_next_page_token_response_and_a_cut_comment_list_are_warned_about(bundled: Pack, tmp_path: Path) -> None:
    doc = json.loads((JIRA / "search.json").read_text(encoding="utf-8"))
    issue = doc["issues"][2]
    issue["fields"]["comment"].update(total=7, maxResults=1)
    page = tmp_path / "jql.json"  # GET /rest/api/3/search/jql: no total; isLast (after the issues) says more
    page.write_text(json.dumps({"issues": [issue], "nextPageToken": "CAEaAggD", "isLast": False}), encoding="utf-8")
    result = jira_run(bundled, [page])
    assert [w.message for w in result.warnings] == [
        "this is one page of a search response: it holds 1 issues and says isLast: false; the other pages are not "
        "in this export, so their tickets are not audited: fetch every page (startAt or nextPageToken)",
        "issue SD-203: its comment field holds 1 of 7 comments; the others are not in this export: merge the pages "
        "of /rest/api/3/issue/SD-203/comment into the issue"]
    whole = tmp_path / "one.json"
    whole.write_text(json.dumps(doc["issues"][0]), encoding="utf-8")  # one issue, complete: nothing to say
    assert jira_run(bundled, [whole]).warnings == []


# --------------------------------------------------------------------------- 7. CSV dialects, times, facts

EVENTS_HEADER = "case;time;type;actor;comments"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def read(pack: Pack, path: Path, **options: Any) -> tuple[list[Event], list[Any]]:
    records = list(read_records(pack, [path], inputs=InputSpec(**options)))
    return [r for r in records if isinstance(r, Event)], [r for r in records if not isinstance(r, Event)]


def test_the_delimiter_is_sniffed_from_the_header_or_an_excel_sep_line_or_given(bundled: Pack,
                                                                               tmp_path: Path) -> None:
    rows = ["C1{d}2024-05-06T09:00:00Z{d}review.logged{d}u1{d}\"ok{d} really\""]
    for name, d in (("semicolon", ";"), ("tab", "\t"), ("pipe", "|"), ("comma", ",")):
        path = write(tmp_path / f"{name}.csv", EVENTS_HEADER.replace(";", d) + "\n" + rows[0].format(d=d) + "\n")
        events, other = read(bundled, path)
        assert other == [] and [e.data for e in events] == [{"comments": f"ok{d} really"}], name
    excel = write(tmp_path / "excel.csv", "sep=|\ncase|time|type|actor|comments\nC1|2024-05-06T09:00:00Z|review.logged|u1|a;b;c,d\n")
    events, _ = read(bundled, excel)
    assert [(e.data, e.origin) for e in events] == [({"comments": "a;b;c,d"}, (str(excel), 3))]
    given = write(tmp_path / "given.csv", "case;time;type;actor;comments\nC1;2024-05-06T09:00:00Z;review.logged;u1;x\n")
    events, other = read(bundled, given, csv_delimiter=",")  # the user's word wins: one column, no 'case'
    assert events == [] and "missing required key(s): case, time, type" in other[0].error


def test_utf16_and_utf8_byte_order_marks_are_recognised_and_cp1252_only_when_declared(bundled: Pack,
                                                                                    tmp_path: Path) -> None:
    text = "case\ttime\ttype\tactor\tcomments\r\nC1\t2024-05-06T09:00:00Z\treview.logged\tu1\tRéunion à 9h\r\n"
    for encoding in ("utf-16", "utf-8-sig"):  # Excel's "Unicode text" is UTF-16 with a BOM, tab-separated
        events, other = read(bundled, write(tmp_path / f"{encoding}.csv", text, encoding))
        assert other == [] and [e.data["comments"] for e in events] == ["Réunion à 9h"], encoding
    legacy = write(tmp_path / "cp1252.csv", text.replace("Réunion", "Réunion “quoted”"), "cp1252")
    events, other = read(bundled, legacy)
    assert events == [] and other[0].line == 2 and "not valid UTF-8" in other[0].error
    assert "--encoding cp1252" in other[0].error
    events, other = read(bundled, legacy, encoding="cp1252")
    assert other == [] and events[0].data["comments"] == "Réunion “quoted” à 9h"


def test_report_times_are_read_with_the_time_format_in_the_time_zone(bundled: Pack, tmp_path: Path) -> None:
    path = write(tmp_path / "report.csv", "\n".join([
        "case,time,type,actor,comments",
        "C1,27/11/2026 14:05,review.logged,u1,winter",       # CET: +01:00
        "C1,01/07/2026 14:05,review.logged,u1,summer",       # CEST: +02:00
        "C1,29/03/2026 02:30,review.logged,u1,skipped hour",  # clocks went from 02:00 to 03:00
        "C1,2026-11-27 14:05,review.logged,u1,other shape"]) + "\n")
    events, other = read(bundled, path, time_format="%d/%m/%Y %H:%M", timezone="Europe/Berlin")
    assert [e.to_json()["time"] for e in events] == ["2026-11-27T13:05:00Z", "2026-07-01T12:05:00Z"]
    assert [(r.line, r.error) for r in other] == [
        (4, "row: time '29/03/2026 02:30' does not exist in Europe/Berlin (the clocks went forward then)"),
        (5, "row: time '2026-11-27 14:05' does not match --time-format '%d/%m/%Y %H:%M'")]
    events, other = read(bundled, path, time_format="%d/%m/%Y %H:%M")
    assert events == [] and "has no offset: give --timezone" in other[0].error
    naive = write(tmp_path / "naive.csv", "case,time,type,actor\nC1,2026-11-27 14:05,review.logged,u1\n"
                                          "C1,2026-11-27T14:05:00+05:30,review.logged,u1\n")
    events, _ = read(bundled, naive, timezone="America/New_York")  # an offset given in the file is kept
    assert [e.to_json()["time"] for e in events] == ["2026-11-27T19:05:00Z", "2026-11-27T08:35:00Z"]


def test_bad_reading_options_are_usage_errors_with_exit_2(runner: Any, tmp_path: Path) -> None:
    log = write(tmp_path / "log.csv", "case,time,type\nC1,2024-05-06T09:00:00Z,review.logged\n")
    for option, value, words in (("--timezone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
                                 ("--encoding", "klingon", "unknown encoding 'klingon'"),
                                 ("--csv-delimiter", ":", "':' is not one of , ; | tab")):
        result = runner.invoke(cli, ["audit", str(log), option, value])
        assert result.exit_code == 2 and words in result.output, result.output
        assert "Traceback" not in result.output
    result = runner.invoke(cli, ["audit", str(log), "--csv-delimiter", "tab"])
    assert result.exit_code == 2 and "missing required key(s)" in result.output  # tab read: one column
    help_text = runner.invoke(cli, ["audit", "--help"]).output
    for option in ("--csv-delimiter", "--encoding", "--time-format", "--timezone", "[NAME=]FILE"):
        assert option in help_text


def test_a_data_loader_user_export_is_the_users_facts_through_the_mapping(bundled: Pack, runner: Any,
                                                                        tmp_path: Path) -> None:
    users = SF / "dataloader" / "User.csv"
    facts = load_facts([f"users={users}"], inputs=InputSpec("salesforce"), pack=bundled)
    assert facts == {"users": [
        {"id": "0055e000003FrntAAC", "name": "Frank Front", "email": "frank@greentech.example", "team": "Support",
         "role": "frontline"},
        {"id": "0055e000003BackAAC", "name": "Betty Back", "email": "betty@greentech.example", "team": "Support",
         "role": "back_office"}]}
    out = tmp_path / "a.json"
    result = runner.invoke(cli, ["audit", "--input-format", "salesforce", *map(str, SF_LOADER), "--facts",
                                 f"users={users}", "--format", "json", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text(encoding="utf-8"))["undecided"] == []
    result = runner.invoke(cli, ["audit", "--input-format", "salesforce", *map(str, SF_LOADER), "--facts", str(users)])
    assert result.exit_code == 2 and "say which facts collection this CSV file holds, e.g. --facts" in result.output


def test_a_facts_csv_without_a_mapping_takes_its_columns_and_the_packs_types(bundled: Pack, tmp_path: Path) -> None:
    orgs = write(tmp_path / "Organizations.csv", "ID;Priority_Service;ACCOUNT_MANAGER\n"
                                                 "SunCo Solar;TRUE;557058:am1\nBright Roofs;false;557058:am2\n")
    facts = load_facts([orgs], pack=bundled)  # the file's name is the collection's
    assert facts["organizations"][0] == {"id": "SunCo Solar", "priority_service": True, "account_manager": "557058:am1"}
    same = run(bundled, [JIRA / "search.json"], InputSpec("jira"), facts)
    assert same.to_json()["violations"] == jira_run(bundled).to_json()["violations"]
    write(orgs, "Id,Priority_Service\nSunCo Solar,maybe\n")
    with pytest.raises(InputError) as err:
        load_facts([orgs], pack=bundled)
    assert str(err.value) == f"{orgs}:2: 'organizations' field 'priority_service': 'maybe' is not true or false"


# --------------------------------------------------------------------------- 8. one person, several names

def test_a_person_named_by_account_id_and_by_email_is_one_owner_in_the_worklist(runner: Any, tmp_path: Path) -> None:
    facts = tmp_path / "facts.yaml"
    facts.write_text((JIRA / "facts.yaml").read_text(encoding="utf-8") + """users:
  - {id: alex@greentech.example, jira_account_id: "557058:agent1", team: Support, role: service_desk}
  - {id: sam@greentech.example, aliases: ["557058:agent2", "Sam.Agent@GreenTech.example"], team: Support}
""", encoding="utf-8")
    base = ["next", "--input-format", "jira", str(JIRA / "search.json"), "--as-of", "2024-06-03T01:00:00Z",
            "--format", "json"]

    def cases(*args: str) -> list[str]:
        result = runner.invoke(cli, [*base, *args])
        assert result.exit_code == 0, result.output
        return [item["case"] for item in json.loads(result.output)["items"]]

    # the changelog names Alex by account id; the people facts know it is alex@greentech.example
    assert cases("--facts", str(JIRA / "facts.yaml"), "--where", "owner=alex@greentech.example") == []
    assert cases("--facts", str(facts), "--where", "owner=alex@greentech.example") == ["SD-201", "SD-203"]
    assert cases("--facts", str(facts), "--where", "owner=557058:agent1") == []


def test_identities_rewrite_only_the_declared_fields_and_refuse_a_shared_name(bundled: Pack, tmp_path: Path) -> None:
    people = {"users": [{"id": "alex@greentech.example", "jira_account_id": "557058:agent1"},
                        {"id": "sam@greentech.example", "aliases": ["557058:AGENT2"]}]}
    spec = InputSpec("jira").with_facts(people)
    events = {e["id"]: e for e in events_of(bundled, [JIRA / "search.json"], spec)}
    assert events["SD-203:40301:0"]["data"] == {"assignee": "sam@greentech.example"}  # any case
    assert events["SD-201:comment:30103"]["actor"] == "alex@greentech.example"
    assert events["SD-201:comment:30101"]["actor"] == "557058:f58131cb-b67d-43c7-b30d-6b58d40bd077"  # no fact
    people["users"].append({"id": "alex2", "aliases": ["557058:agent1"]})
    with pytest.raises(InputError, match="'557058:agent1' names both 'alex@greentech.example' and 'alex2'"):
        events_of(bundled, [JIRA / "search.json"], InputSpec("jira").with_facts(people))
