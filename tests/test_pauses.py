"""Pause conditions (issue 18): a response rule's clock stands still while its ``pause`` holds over the case's
state, and runs again with the time that was left. The scenarios of tests/packs/pauses run on both engines
(test_scenarios, test_engines) and the generated packs of test_generated_packs pause too; here: the JSON and
worklist a pause gives on both engines and with worker processes, the attainment of a paused obligation,
explain, and the compile errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from click.testing import CliRunner

from sopengine import audit, load_pack, read_records
from sopengine.cli import cli
from sopengine.errors import PackError
from sopengine.timeutil import parse_time

from .conftest import PACKS, ROOT, engine_blind, write_jsonl

PACK = PACKS / "pauses"


def _event(eid: str, case: str, time: str, etype: str, **data: Any) -> dict[str, Any]:
    return {"id": eid, "case": case, "time": time, "type": etype, "actor": "agent", "data": data}


def _log(tmp_path: Path) -> Path:
    """R1 waits for its requester 11:00-13:00 (due 16:00, moved from 14:00); R2 waits from 11:00 to the as-of
    time (paused); R3 is withdrawn while it waits (a violation closing the pause); R4 is answered at 15:00,
    after the unpaused deadline but in time; R5 never pauses and is late at 14:00."""
    day = "2026-03-02T"
    return write_jsonl(tmp_path / "log.jsonl", [
        _event("a1", "R1", day + "10:00:00Z", "request.opened", tier="basic"),
        _event("a2", "R1", day + "11:00:00Z", "request.status_changed", to="Waiting for requester"),
        _event("a3", "R1", day + "13:00:00Z", "request.status_changed", to="In progress"),
        _event("b1", "R2", day + "10:00:00Z", "request.opened", tier="basic"),
        _event("b2", "R2", day + "11:00:00Z", "request.status_changed", to="Waiting for requester"),
        _event("c1", "R3", day + "10:00:00Z", "request.opened", tier="basic"),
        _event("c2", "R3", day + "11:00:00Z", "request.status_changed", to="Waiting for requester"),
        _event("c3", "R3", day + "12:30:00Z", "request.withdrawn"),
        _event("d1", "R4", day + "10:00:00Z", "request.opened", tier="basic"),
        _event("d2", "R4", day + "10:30:00Z", "request.status_changed", to="Waiting for requester"),
        _event("d3", "R4", day + "12:00:00Z", "request.status_changed", to="In progress"),
        _event("d4", "R4", day + "15:00:00Z", "request.answered"),
        _event("e1", "R5", day + "10:00:00Z", "request.opened", tier="basic"),
    ])


def _audit(log: Path, *extra: str) -> bytes:
    out = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(PACK), "--as-of", "2026-03-02T15:30:00Z",
                                   "--format", "json", "--fail-on", "never", "--facts", str(_facts(log.parent)),
                                   *extra])
    assert out.exit_code == 0, out.output
    return out.stdout_bytes


def _facts(folder: Path) -> Path:
    path = folder / "facts.yaml"
    path.write_text("holds: []\n")
    return path


def _of(report: dict[str, Any], section: str, rule: str = "desk/answer-4h") -> dict[str, dict[str, Any]]:
    return {item["case"]: item for item in report[section] if item["rule"] == rule}


def test_findings_list_their_pauses_the_same_on_both_engines_and_with_workers(tmp_path: Path) -> None:
    log = _log(tmp_path)
    python = _audit(log, "--engine", "python")
    native = _audit(log, "--engine", "native")
    workers = _audit(log, "--engine", "native", "--jobs", "2")
    assert engine_blind(native) == engine_blind(python)
    assert json.loads(workers)["violations"] == json.loads(native)["violations"]
    assert json.loads(workers)["next_actions"] == json.loads(native)["next_actions"]
    report = json.loads(python)
    jsonschema.validate(report, json.loads((ROOT / "schemas" / "audit-output.schema.json").read_text()))
    violations, actions = _of(report, "violations"), _of(report, "next_actions")
    assert set(violations) == {"R3", "R5"} and set(actions) == {"R1", "R2"}
    assert violations["R3"]["events"] == ["c1", "c2", "c3"]
    assert violations["R3"]["pauses"] == [{"from": "2026-03-02T11:00:00Z", "until": "2026-03-02T12:30:00Z"}]
    assert violations["R3"]["paused_seconds"] == 5400
    assert "pauses" not in violations["R5"] and violations["R5"]["time"] == "2026-03-02T14:00:00Z"
    assert actions["R1"]["due"] == "2026-03-02T16:00:00Z" and actions["R1"]["paused_seconds"] == 7200
    assert actions["R1"]["events"] == ["a1", "a2", "a3"]
    assert actions["R2"]["due"] is None
    assert actions["R2"]["pauses"] == [{"from": "2026-03-02T11:00:00Z", "until": None}]
    assert actions["R2"]["paused_seconds"] == 0  # only ended pauses count


def test_a_paused_obligation_counts_open_by_its_deadline_and_the_worklist_shows_no_due(tmp_path: Path) -> None:
    """Attainment: R4 met in time although after 14:00; R5 missed; R1 and R2 open (R2 by the deadline as it
    stood when its clock stopped: the same week). The worklist item of R2 has no due and is not overdue."""
    log, pack = _log(tmp_path), load_pack([PACK])
    for engine in ("python", "native"):
        report = json.loads(_audit(log, "--engine", engine))
        rows = [r for r in report["attainment"] if r["rule"] == "desk/answer-4h"]
        assert [(r["week"], r["on_time"], r["late"], r["missed"], r["open"]) for r in rows] == [
            ("2026-W10", 1, 0, 2, 2)], engine
        result = audit(pack, read_records(pack, [str(log)]), {"holds": []}, parse_time("2026-03-02T15:30:00Z"),
                       engine=engine)
        items = {w.case: w.to_json() for w in result.work if w.rule == "desk/answer-4h"}
        assert (items["R2"]["due"], items["R2"]["overdue"]) == (None, False)
        assert items["R1"]["due"] == "2026-03-02T16:00:00Z"


def test_explain_shows_the_clock_stopping_and_running_again(tmp_path: Path) -> None:
    out = CliRunner().invoke(cli, ["explain", "R1", str(_log(tmp_path)), "--sops", str(PACK), "--as-of",
                                   "2026-03-02T15:30:00Z", "--format", "json", "--facts", str(_facts(tmp_path))])
    assert out.exit_code == 0, out.output
    doc = json.loads(out.stdout)
    jsonschema.validate(doc, json.loads((ROOT / "schemas" / "explain-output.schema.json").read_text()))
    turned = [(step["event"]["id"], ev["outcome"], ev["why"]) for step in doc["timeline"]
              for ev in step["evaluations"] if ev["rule"] == "desk/answer-4h" and ev["outcome"] in ("paused",
                                                                                                   "pending")]
    assert turned == [
        ("a2", "paused", "the clock stands still (pause.when is true: state.status == 'Waiting for requester'): "
                         "3h left to the deadline"),
        ("a3", "pending", "the clock runs again (pause.when is false: state.status == 'Waiting for requester'): "
                          "due 2026-03-02T16:00:00Z")]
    clocks = {step["event"]["id"]: [c for c in step["clocks"] if c["rule"] == "desk/answer-4h"]
              for step in doc["timeline"]}
    assert [(c["paused"], c["due"]) for c in clocks["a2"]] == [(True, None)]
    assert [(c["paused"], c["due"]) for c in clocks["a3"]] == [(False, "2026-03-02T16:00:00Z")]


_RULE = """\
events:
  t.opened: {data: {v: {type: string}}}
  t.done: {}
state:
  v: {type: value, updates: [{on: t.opened, set: data.v}]}
sop: {id: p, title: P, source: {document: p.txt}}
rules:
  - id: r
    kind: response
    severity: error
    description: d
    source: {document: p.txt, step: "1"}
    after: {on: t.opened}
    expect: {on: t.done}
    action: do it
    message: late
"""


@pytest.mark.parametrize(("keys", "problem"), [
    ("within: 1h\npause: {when: \"data.v == 'w'\"}", "data"),  # the pause reads the state, not an event
    ("repeat: {every: 1d}\npause: {when: \"state.v == 'w'\"}", "cannot pause"),
    ("within: 1h\npause: {}", "when"),
    ("within: 1h\npause: {when: \"state.v == 'w'\", until: x}", "until"),
])
def test_a_pause_that_cannot_be_is_an_error_at_its_place(tmp_path: Path, keys: str, problem: str) -> None:
    def pack(keys: str) -> Path:
        folder = tmp_path / str(len(list(tmp_path.iterdir())))
        folder.mkdir()
        (folder / "p.yaml").write_text(_RULE + "".join(f"    {line}\n" for line in keys.splitlines()))
        return folder

    rule = load_pack([pack("within: 1h\npause: {when: \"state.v == 'w'\"}")]).rules[0]
    assert rule.pause is not None  # type: ignore[attr-defined]  # the same rule with a good pause loads
    with pytest.raises(PackError) as err:
        load_pack([pack(keys)])
    assert problem in str(err.value) and "p.yaml:" in str(err.value)
