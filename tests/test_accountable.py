"""Who is accountable for a violation (pack ``report.accountable``, a rule's own ``accountable``): evaluated on
the case's state when the violation arose, in both engines alike, and absent when the pack names nobody; and the
attainment of rules with a deadline (on time, late, missed, open by rule, week and accountable)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from sopengine.cli import cli
from sopengine.native import available
from sopengine.schema import AUDIT_OUTPUT, load_schema

from .conftest import engine_blind, write_jsonl

ENGINES = ["python", "native"] if available() else ["python"]

# A small pack of its own: tickets a requester opens, that someone owns and must answer within 2 hours.
PACK = """
pack:
  name: desk
  report:
    actor_groups: {facts: people, field: team}
{accountable}
events:
  opened: {data: {}}
  owned: {data: {to: {type: string}}}
  answered: {data: {}}
  closed: {data: {}}
facts:
  people: {fields: {team: {type: string}}}
state:
  owner:
    type: value
    updates:
      - {on: owned, set: data.to}
      - {on: closed, clear: true}
  answered:
    type: value
    initial: false
    updates:
      - {on: answered, set: true}
  lead:
    type: value
    updates:
      - {on: opened, set: "'lead.' + event.actor"}
sop:
  id: desk
  title: Desk
  source: {document: desk.txt}
rules:
  - id: answer-2h
    kind: response
    severity: error
    description: A ticket is answered within 2 hours.
    source: {document: desk.txt, step: "1"}
    after: {on: opened}
    expect: {on: answered}
    within: 2h
    message: "Not answered within 2h"
    action: "Answer"
  - id: answer-before-close
    kind: guard
    severity: warning
    description: A ticket is answered before it is closed.
    source: {document: desk.txt, step: "2"}
    on: closed
    require: state.answered
    message: "Closed unanswered"
  - id: owned-within-1h
    kind: invariant
    severity: info
    description: An open ticket has an owner within an hour.
    source: {document: desk.txt, step: "3"}
    on: opened
    when: not state.answered
    require: filled(state.owner)
    grace: 1h
    message: "No owner"
    action: "Take it"
{override}
"""

OVERRIDE = """    accountable: state.lead"""


def _pack(tmp_path: Path, accountable: str | None = "state.owner", override: bool = False) -> Path:
    text = PACK.replace("{accountable}", f"    accountable: {accountable}" if accountable else "")
    text = text.replace("{override}", OVERRIDE if override else "")
    path = tmp_path / "desk.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _event(n: int, case: str, minute: int, etype: str, actor: str, **data: Any) -> dict[str, Any]:
    return {"id": f"{case}-{n}", "case": case, "time": f"2024-05-06T{9 + minute // 60:02d}:{minute % 60:02d}:00Z",
            "type": etype, "actor": actor, "data": data}


def _log(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "events.jsonl", [
        # T1: the requester opens it; ana owns it, then bob, an hour before the 2h deadline: bob missed it.
        _event(1, "T1", 0, "opened", "req.one"), _event(2, "T1", 10, "owned", "disp", to="ana"),
        _event(3, "T1", 60, "owned", "disp", to="bob"), _event(4, "T1", 200, "answered", "bob"),
        # T2: owner changes at the deadline itself (state at the deadline: cara), then after it (dan).
        _event(1, "T2", 0, "opened", "req.two"), _event(2, "T2", 30, "owned", "disp", to="ana"),
        _event(3, "T2", 120, "owned", "disp", to="cara"), _event(4, "T2", 150, "owned", "disp", to="dan"),
        _event(5, "T2", 170, "answered", "dan"),
        # T3: never answered, the deadline judged at the as-of time: the last state names eve.
        _event(1, "T3", 0, "opened", "req.three"), _event(2, "T3", 20, "owned", "disp", to="eve"),
        # T4: closed unanswered by frank while gus owns it: the guard sees the state before the close
        # (after it the owner is cleared); no owner for 90 minutes (the invariant's deadline is at 60).
        _event(1, "T4", 0, "opened", "req.four"), _event(2, "T4", 90, "owned", "disp", to="gus"),
        _event(3, "T4", 100, "closed", "frank"),
        # T5: answered by its owner in time. T6: opened late in the day, due after the as-of time (open).
        _event(1, "T5", 0, "opened", "req.five"), _event(2, "T5", 10, "owned", "disp", to="ana"),
        _event(3, "T5", 30, "answered", "ana"),
        _event(1, "T6", 330, "opened", "req.six"), _event(2, "T6", 340, "owned", "disp", to="hal"),
    ])


def _audit(*args: str) -> bytes:
    result = CliRunner().invoke(cli, ["audit", *args, "--format", "json", "--fail-on", "never",
                                      "--as-of", "2024-05-06T15:00:00Z"])
    assert result.exit_code == 0, result.output[-2000:]
    return result.stdout_bytes


def _violations(doc: bytes) -> dict[tuple[str, str], str | None]:
    found = json.loads(doc)["violations"]
    return {(v["case"], v["rule"].split("/")[1]): v.get("accountable") for v in found}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_missed_deadline_is_charged_to_whom_the_state_names_at_the_deadline_not_to_the_first_actor(
        tmp_path: Path, engine: str) -> None:
    doc = _audit(str(_log(tmp_path)), "--sops", str(_pack(tmp_path)), "--engine", engine)
    assert _violations(doc) == {
        ("T1", "answer-2h"): "bob",  # the owner when the deadline passed, not req.one who opened it
        ("T2", "answer-2h"): "cara",  # changed at the deadline: in force at it; dan came after
        ("T3", "answer-2h"): "eve",  # judged at the as-of time, from the case's last state
        ("T4", "answer-2h"): None,  # closed (owner cleared) before its deadline passed: no one
        ("T4", "answer-before-close"): "gus",  # the state the close is checked against, before it clears
        ("T4", "owned-within-1h"): None,  # nobody owned it when the hour ran out
    }
    Draft202012Validator(load_schema(AUDIT_OUTPUT)).validate(json.loads(doc))
    first_actors = {v["case"]: v["events"][0] for v in json.loads(doc)["violations"]}
    assert first_actors["T1"] == "T1-1"  # the evidence still starts at the requester's event


def test_sarif_text_and_junit_name_who_is_accountable(tmp_path: Path) -> None:
    args = [str(_log(tmp_path)), "--sops", str(_pack(tmp_path)), "--fail-on", "never", "--as-of",
            "2024-05-06T15:00:00Z"]
    sarif = json.loads(CliRunner().invoke(cli, ["audit", *args, "--format", "sarif"]).stdout)
    charged = {(r["properties"]["case"], r["ruleId"].split("/")[1]): r["properties"].get("accountable")
               for r in sarif["runs"][0]["results"]}
    assert charged[("T1", "answer-2h")] == "bob" and charged[("T4", "answer-2h")] is None
    text = CliRunner().invoke(cli, ["audit", *args]).stdout
    assert "; accountable: bob" in text
    junit = CliRunner().invoke(cli, ["audit", *args, "--format", "junit"]).stdout
    assert "(accountable: bob)" in junit


def test_a_rules_own_accountable_overrides_the_packs(tmp_path: Path) -> None:
    found = _violations(_audit(str(_log(tmp_path)), "--sops", str(_pack(tmp_path, override=True))))
    assert found[("T4", "owned-within-1h")] == "lead.req.four"
    assert found[("T1", "answer-2h")] == "bob"


@pytest.mark.parametrize("accountable", ["state.owner", None], ids=["declared", "undeclared"])
def test_every_engine_writes_the_same_accountable_bytes(tmp_path: Path, accountable: str | None) -> None:
    if len(ENGINES) < 2:
        pytest.skip("the native core is not built here")
    log, pack = str(_log(tmp_path)), str(_pack(tmp_path, accountable))
    reports = [engine_blind(_audit(log, "--sops", pack, *args))
               for args in (["--engine", "python"], ["--engine", "native"], ["--engine", "native", "--jobs", "2"],
                            ["--engine", "python", "--jobs", "2"])]
    assert reports[1:] == reports[:1] * 3
    violations = json.loads(reports[0])["violations"]
    assert violations and all(("accountable" in v) == (accountable is not None) for v in violations
                              if v["case"] != "T4")  # T4's owner is cleared, or unset, when its deadlines pass


def test_without_a_declaration_violations_have_no_accountable_key(tmp_path: Path) -> None:
    doc = json.loads(_audit(str(_log(tmp_path)), "--sops", str(_pack(tmp_path, None))))
    assert doc["violations"] and all("accountable" not in v for v in doc["violations"])
    Draft202012Validator(load_schema(AUDIT_OUTPUT)).validate(doc)


def test_an_accountable_expression_is_checked_like_any_other(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["validate", str(_pack(tmp_path, "state.ownr"))])
    assert result.exit_code != 0 and "ownr" in result.output and "pack/report/accountable" in result.output


def _row(who: str | None, on_time: int = 0, late: int = 0, missed: int = 0, open: int = 0,
         rule: str = "answer-2h") -> dict[str, Any]:
    return {"rule": f"desk/{rule}", "week": "2024-W19", "accountable": who, "on_time": on_time, "late": late,
            "missed": missed, "open": open}


@pytest.mark.parametrize("engine", ENGINES)
def test_each_obligation_with_a_deadline_counts_once_on_time_late_missed_or_open_by_week_and_accountable(
        tmp_path: Path, engine: str) -> None:
    doc = json.loads(_audit(str(_log(tmp_path)), "--sops", str(_pack(tmp_path)), "--engine", engine))
    assert doc["attainment"] == [
        _row(None, missed=1),  # T4: closed unanswered; nobody owned it at its deadline
        _row("ana", on_time=1),  # T5: met in time, as the case stood when met
        _row("bob", late=1),  # T1: answered after its deadline, charged to the owner at the deadline
        _row("cara", late=1),  # T2
        _row("eve", missed=1),  # T3: still unanswered at the as-of time
        _row("hal", open=1),  # T6: due after the as-of time
        # the invariant's grace is a deadline too: restoring it in time, late, or not at all
        _row(None, late=1, missed=1, rule="owned-within-1h"),  # T4: owned after the hour; unowned at its close
        _row("ana", on_time=3, rule="owned-within-1h"),  # T1, T2, T5: owned in time, by ana
        _row("eve", on_time=1, rule="owned-within-1h"),
        _row("hal", on_time=1, rule="owned-within-1h"),
    ]
    # a late answer is still a violation, and the overdue obligation adds nothing else: no pass, no new finding
    assert doc["rules"]["desk/answer-2h"] == {"passed": 1, "violations": 4, "next_actions": 1, "undecided": 0}
    Draft202012Validator(load_schema(AUDIT_OUTPUT)).validate(doc)


def test_attainment_is_bounded_by_rules_weeks_and_people_not_by_obligations(tmp_path: Path) -> None:
    rows = []
    for n in range(300):  # 300 tickets, one owner, all answered in time on one day
        case = f"B{n}"
        rows += [_event(1, case, 0, "opened", f"req.{n}"), _event(2, case, 1, "owned", "disp", to="ana"),
                 _event(3, case, 5, "answered", "ana")]
    log = write_jsonl(tmp_path / "many.jsonl", rows)
    for engine in ENGINES:
        doc = json.loads(_audit(str(log), "--sops", str(_pack(tmp_path)), "--engine", engine))
        assert doc["attainment"] == [_row("ana", on_time=300), _row("ana", on_time=300, rule="owned-within-1h")]


def test_an_as_of_time_before_a_deadline_leaves_the_obligation_open_and_after_it_missed(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "one.jsonl", [_event(1, "C1", 0, "opened", "req"),
                                               _event(2, "C1", 5, "owned", "disp", to="ana")])
    for engine in ENGINES:
        def at(as_of: str) -> list[dict[str, Any]]:
            result = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(_pack(tmp_path)), "--format", "json",
                                              "--fail-on", "never", "--engine", engine, "--as-of", as_of])
            rows: list[dict[str, Any]] = json.loads(result.stdout)["attainment"]
            return rows

        owned = _row("ana", on_time=1, rule="owned-within-1h")
        assert at("2024-05-06T10:59:00Z") == [_row("ana", open=1), owned]
        assert at("2024-05-06T11:01:00Z") == [_row("ana", missed=1), owned]


def test_iso_weeks_match_the_calendar_across_year_ends() -> None:
    from datetime import datetime, timedelta, timezone

    from sopengine.timeutil import format_week, iso_week

    start = datetime(2019, 12, 20, tzinfo=timezone.utc)
    for hours in range(0, 24 * 365 * 6, 7):
        t = start + timedelta(hours=hours)
        year, week, _ = t.isocalendar()
        assert iso_week(t.timestamp()) == year * 100 + week, t
    assert format_week(iso_week(datetime(2021, 1, 3, 23, 59, tzinfo=timezone.utc).timestamp())) == "2020-W53"
    assert format_week(iso_week(datetime(2024, 12, 30, tzinfo=timezone.utc).timestamp())) == "2025-W01"
