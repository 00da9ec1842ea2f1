"""`sopengine next`: the worklist of the example log, in due order, filtered, in three formats."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from sopengine.cli import cli
from sopengine.timeutil import parse_time

from .conftest import ROOT, write_jsonl

EXAMPLE = str(ROOT / "examples" / "events.jsonl")
FACTS = str(ROOT / "examples" / "facts.yaml")
LAST = "2024-06-12T20:56:34Z"  # the example log's latest event


def worklist(runner: Any, *args: str) -> dict[str, Any]:
    result = runner.invoke(cli, ["next", EXAMPLE, "--facts", FACTS, "--format", "json", *args])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def test_pending_actions_of_the_example_log_come_overdue_first_then_by_due_time(runner: Any) -> None:
    doc = worklist(runner, "--as-of", LAST)
    items = doc["items"]
    assert doc["as_of"] == LAST and len(items) >= 10
    overdue = [i["overdue"] for i in items]
    assert overdue == sorted(overdue, reverse=True) and any(overdue) and not all(overdue)
    for group in (True, False):
        dues = [parse_time(i["due"]) for i in items if i["overdue"] is group and i["due"]]
        assert dues == sorted(dues)
    assert all(parse_time(i["due"]) < parse_time(LAST) for i in items if i["overdue"])
    assert all(i["due"] is None or parse_time(i["due"]) >= parse_time(LAST) for i in items if not i["overdue"])
    # every next action the audit reports at the same time is on the list
    audit = json.loads(runner.invoke(cli, ["audit", EXAMPLE, "--facts", FACTS, "--format", "json"]).output)
    listed = {(i["rule"], i["case"], i["due"]) for i in items}
    assert {(a["rule"], a["case"], a["due"]) for a in audit["next_actions"]} <= listed


def test_filters_by_column_sop_rule_and_overdue(runner: Any) -> None:
    everything = worklist(runner, "--as-of", LAST)["items"]
    queue = "Back Office Task Queue Homeowner"
    by_queue = worklist(runner, "--as-of", LAST, "--where", f"queue={queue}")["items"]
    assert by_queue and by_queue == [i for i in everything if i.get("queue") == queue]
    owner = next(i["owner"] for i in everything if i.get("owner"))
    assert worklist(runner, "--as-of", LAST, "--where", f"owner={owner}")["items"] == [
        i for i in everything if i.get("owner") == owner]
    assert worklist(runner, "--as-of", LAST, "--sop", "service-desk")["items"] == [
        i for i in everything if i["rule"].startswith("service-desk/")]
    assert worklist(runner, "--as-of", LAST, "--rule", "self-assign-from-queue")["items"] == [
        i for i in everything if i["rule"] == "working-a-case/self-assign-from-queue"]
    assert worklist(runner, "--as-of", LAST, "--overdue")["items"] == [i for i in everything if i["overdue"]]
    bad = runner.invoke(cli, ["next", EXAMPLE, "--where", "onwer=x"])
    assert bad.exit_code == 2 and "did you mean 'owner'" in bad.output


def test_default_as_of_is_now_and_is_stated(runner: Any) -> None:
    text = runner.invoke(cli, ["next", EXAMPLE, "--facts", FACTS])
    assert text.exit_code == 0
    first = text.output.splitlines()[0]
    assert first.startswith("Worklist as of 20") and LAST not in first
    stated = first.split("as of ")[1].split(":")[0]
    assert stated[:4] >= "2026"  # wall-clock now, not the log's last event


def test_events_after_the_as_of_time_are_not_counted(runner: Any, tmp_path: Any) -> None:
    log = write_jsonl(tmp_path / "t.jsonl", [
        {"id": "t1", "case": "SD-1", "time": "2024-05-06T09:00:00Z", "type": "ticket.created",
         "data": {"reporter": "a@x.example"}},
        {"id": "t2", "case": "SD-1", "time": "2024-05-06T09:30:00Z", "type": "ticket.commented", "actor": "agent",
         "data": {"visibility": "public", "body": "hello"}},
    ])
    early = runner.invoke(cli, ["next", str(log), "--as-of", "2024-05-06T09:10:00Z", "--format", "json"])
    doc = json.loads(early.output)
    assert any(i["rule"] == "service-desk/first-response-2h" for i in doc["items"])
    assert doc["summary"]["skipped"] == 1 and doc["summary"]["read"] == 2
    late = json.loads(runner.invoke(cli, ["next", str(log), "--as-of", "2024-05-06T09:40:00Z",
                                          "--format", "json"]).output)
    assert not any(i["rule"] == "service-desk/first-response-2h" for i in late["items"])


def test_csv_has_a_header_and_one_row_per_item(runner: Any) -> None:
    doc = worklist(runner, "--as-of", LAST)
    out = runner.invoke(cli, ["next", EXAMPLE, "--facts", FACTS, "--as-of", LAST, "--format", "csv"]).output
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["case"] for r in rows] == [i["case"] for i in doc["items"]]
    assert set(rows[0]) >= {"overdue", "due", "case", "rule", "action", "owner", "queue", "status"}


def test_the_text_worklist_separates_items_with_a_blank_line_not_an_escaped_newline(runner: Any) -> None:
    out = runner.invoke(cli, ["next", EXAMPLE, "--facts", FACTS, "--as-of", LAST]).output
    assert "\\n" not in out
    lines = out.splitlines()
    firsts = [i for i, line in enumerate(lines) if " due " in f" {line}" and "/" in line]
    assert len(firsts) >= 10 and all(lines[i - 1] == "" for i in firsts)
