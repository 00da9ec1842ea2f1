"""audit_frame: a DataFrame of events (pm4py's column names or sopengine's) audited as a log file is, the
findings back as DataFrames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sopengine import audit_frame, load_facts
from sopengine.audit import audit_paths

from .conftest import ROOT

pd = pytest.importorskip("pandas")
EXAMPLE = ROOT / "examples" / "events.jsonl"


def _frame(pm4py_names: bool) -> Any:
    rows = []
    for line in EXAMPLE.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        rows.append({"id": event["id"], "case": event["case"], "time": pd.Timestamp(event["time"]),
                     "type": event["type"], "actor": event.get("actor"), **event.get("data", {})})
    frame = pd.DataFrame(rows)  # columns of data fields an event lacks hold NaN: not filled
    if pm4py_names:
        frame = frame.rename(columns={"case": "case:concept:name", "type": "concept:name",
                                      "time": "time:timestamp", "actor": "org:resource"})
    return frame


@pytest.mark.parametrize("pm4py_names", [True, False], ids=["pm4py columns", "sopengine columns"])
def test_a_dataframe_audit_equals_the_file_audit(bundled: Any, pm4py_names: bool) -> None:
    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    expected = audit_paths(bundled, [str(EXAMPLE)], facts)
    found = audit_frame(_frame(pm4py_names), bundled, facts=facts)
    assert found.result.rejected == [] and found.result.events == expected.events
    assert [v.to_json() for v in found.result.violations] == [v.to_json() for v in expected.violations]
    assert [a.to_json() for a in found.result.next_actions] == [a.to_json() for a in expected.next_actions]
    table = found.violations
    assert len(table) == len(expected.violations) and list(table.columns)[:3] == ["rule", "case", "time"]
    per_case = found.per_case
    assert per_case["violations"].sum() == len(expected.violations)
    assert per_case["next_actions"].sum() == len(expected.next_actions)


def test_bad_rows_are_rejected_with_their_row_number(bundled: Any) -> None:
    frame = pd.DataFrame([
        {"case:concept:name": "C1", "concept:name": "case.created", "time:timestamp": pd.Timestamp("2024-05-06T09:00Z"),
         "origin": "phone"},
        {"case:concept:name": "C1", "concept:name": "case.created", "time:timestamp": pd.Timestamp("2024-05-06T09:00"),
         "origin": "phone"},  # naive: refused, as a log line's would be
        {"case:concept:name": None, "concept:name": "case.created", "time:timestamp": pd.Timestamp("2024-05-06T09:00Z"),
         "origin": "phone"},
        {"case:concept:name": "C2", "concept:name": "case.created", "time:timestamp": pd.Timestamp("2024-05-06T09:00Z"),
         "origin": "Phone"},  # not one of the pack's values
    ])
    found = audit_frame(frame, bundled)
    assert found.result.events == 1
    reasons = {r.line: r.error for r in found.result.rejected}
    assert set(reasons) == {2, 3, 4} and all(r.file == "(dataframe)" for r in found.result.rejected)
    assert "missing required key(s): case" in reasons[3] and "did you mean 'phone'" in reasons[4]
