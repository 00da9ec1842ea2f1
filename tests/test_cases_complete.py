"""--cases-complete: a finished log, every case ended at its last event (Declare's reading). An obligation
still open there is a violation at that time, not a next action; deadlines count up to the case's end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import Event, load_pack
from sopengine.audit import new_session
from sopengine.cli import cli
from sopengine.native import available

from .conftest import START, engine_blind, write_jsonl

PACK = """\
events:
  t.open: {}
  t.reply: {}
  t.note: {}
sop: {id: cc, title: Complete cases, source: {document: cc.txt}}
rules:
  - id: replied
    kind: response
    severity: error
    description: an opened case is replied to, some time
    source: {document: cc.txt, step: "1"}
    message: no reply
    action: reply
    after: {on: t.open}
    expect: {on: t.reply}
  - id: replied-in-a-day
    kind: response
    severity: warning
    description: an opened case is replied to within a day
    source: {document: cc.txt, step: "2"}
    message: no reply within a day
    action: reply
    after: {on: t.open}
    expect: {on: t.reply}
    within: 1d
  - id: noted-hourly
    kind: response
    severity: info
    description: a note every hour after opening
    source: {document: cc.txt, step: "3"}
    message: no note this hour
    action: note
    after: {on: t.open}
    expect: {on: t.note}
    within: 1h
    repeat: {every: 1h}
"""

ENGINES = ["python"] + (["native"] if available() else [])
H = 3600.0
# K1: opened, never replied, ends at 30m. K2: opened, replied. K3: opened, never replied, last event 2 days on.
EVENTS = [("K1", 0, "t.open"), ("K1", 0.5, "t.note"), ("K2", 0, "t.open"), ("K2", 0.2, "t.reply"),
          ("K2", 0.4, "t.note"), ("K3", 0, "t.open"), ("K3", 48, "t.note")]


def _pack(tmp_path: Path) -> object:
    (tmp_path / "cc.yaml").write_text(PACK)
    return load_pack([tmp_path])


@pytest.mark.parametrize("engine", ENGINES)
def test_obligations_open_when_the_case_ended_are_violations_there(tmp_path: Path, engine: str) -> None:
    pack = _pack(tmp_path)
    results = []
    for complete in (False, True):
        session = new_session(pack, None, engine, cases_complete=complete)
        for i, (case, hours, etype) in enumerate(EVENTS):
            session.feed(Event(f"e{i}", case, START + hours * H, etype, None, {}))
        results.append(session.result())
    open_, done = results
    assert {(a.case, a.rule) for a in open_.next_actions} == {
        ("K1", "cc/replied"), ("K1", "cc/noted-hourly"),
        ("K3", "cc/replied"), ("K2", "cc/noted-hourly"), ("K3", "cc/noted-hourly")}
    assert done.next_actions == [] and done.work == []
    found = sorted((v.case, v.rule, (v.time - START) / H, v.message) for v in done.violations)
    assert found == [
        ("K1", "cc/replied", 0.5, "no reply [still open when the case ended]"),
        ("K1", "cc/replied-in-a-day", 0.5, "no reply within a day [still open when the case ended]"),
        ("K3", "cc/noted-hourly", 1.0, "no note this hour"),  # hourly misses up to the case's end only
        *[("K3", "cc/noted-hourly", float(h), "no note this hour") for h in range(2, 48)],
        ("K3", "cc/replied", 48.0, "no reply [still open when the case ended]"),
        ("K3", "cc/replied-in-a-day", 24.0, "no reply within a day"),  # its deadline came before the end
    ]
    missed = {(k[0], k[2]): v for k, v in done.attainment.items()}
    assert sum(row[2] for row in missed.values()) == len([v for v in done.violations if v.rule != "cc/replied"])


@pytest.mark.skipif(not available(), reason="the native core is not built")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_the_flag_gives_the_same_report_on_both_engines(tmp_path: Path, jobs: str) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "cc.yaml").write_text(PACK)
    from sopengine.timeutil import format_time

    log = write_jsonl(tmp_path / "log.jsonl", [{"id": f"e{i}", "case": c, "time": format_time(START + h * H),
                                               "type": t} for i, (c, h, t) in enumerate(EVENTS)])
    outputs = []
    for engine in ("python", "native"):
        result = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(tmp_path / "pack"), "--cases-complete",
                                          "--format", "json", "--engine", engine, "--jobs", jobs])
        assert result.exit_code == 1, result.output
        outputs.append(result.stdout)
    assert engine_blind(outputs[1]) == engine_blind(outputs[0])
    data = json.loads(outputs[0])
    assert data["next_actions"] == [] and data["provenance"]["inputs"]["options"] == {"cases_complete": "true"}


def test_next_with_complete_cases_lists_nothing_to_do(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "cc.yaml").write_text(PACK)
    from sopengine.timeutil import format_time

    log = write_jsonl(tmp_path / "log.jsonl", [{"id": f"e{i}", "case": c, "time": format_time(START + h * H),
                                               "type": t} for i, (c, h, t) in enumerate(EVENTS)])
    args = ["next", str(log), "--sops", str(tmp_path / "pack"), "--as-of", format_time(START + 49 * H)]
    live = CliRunner().invoke(cli, args)
    finished = CliRunner().invoke(cli, [*args, "--cases-complete"])
    assert live.exit_code == finished.exit_code == 0, live.output + finished.output
    assert "0 item(s)" not in live.stdout and "0 item(s)" in finished.stdout


COMPLETE_PACK = PACK.replace("sop: {id: cc,", """state:
  closed:
    type: value
    initial: false
    updates:
      - {on: t.note, set: "true"}
pack:
  name: cc
  complete: {when: state.closed, idle: 7d}
sop: {id: cc,""")


@pytest.mark.parametrize("engine", ENGINES)
def test_the_pack_says_when_a_case_has_ended_by_its_state_or_by_inactivity(tmp_path: Path, engine: str) -> None:
    """K1 and K3 end with a note (state.closed); K4 has no note but no event for 7 days by the as-of time;
    K5 has neither: its obligations stay next actions."""
    (tmp_path / "cc.yaml").write_text(COMPLETE_PACK)
    pack = load_pack([tmp_path])
    events = [("K1", 0, "t.open"), ("K1", 0.5, "t.note"), ("K4", 0, "t.open"), ("K5", 200, "t.open"),
              ("K5", 200.5, "t.reply")]
    session = new_session(pack, None, engine)
    for i, (case, hours, etype) in enumerate(events):
        session.feed(Event(f"e{i}", case, START + hours * H, etype, None, {}))
    result = session.result()
    ended = sorted((v.case, v.rule, (v.time - START) / H) for v in result.violations
                   if v.message.endswith("[still open when the case ended]"))
    assert ended == [("K1", "cc/replied", 0.5), ("K1", "cc/replied-in-a-day", 0.5), ("K4", "cc/replied", 0.0),
                     ("K4", "cc/replied-in-a-day", 0.0)]
    assert {(a.case, a.rule) for a in result.next_actions} == {("K5", "cc/noted-hourly")}
    earlier = session.result(as_of=START + 100 * H)  # K4's 7 days have not passed yet: still open
    assert ("K4", "cc/replied") in {(a.case, a.rule) for a in earlier.next_actions}


RULE_COMPLETE_PACK = COMPLETE_PACK.replace("  complete: {when: state.closed, idle: 7d}\n", "").replace(
    """    expect: {on: t.reply}
    within: 1d
""", """    expect: {on: t.reply}
    within: 1d
    complete: {when: state.closed}
""")
DECLARE_RULE = """\
  - id: replied-after-open
    kind: declare
    template: response
    severity: error
    description: an opened case is replied to (Declare's response)
    source: {document: cc.txt, step: "4"}
    activation: {on: t.open}
    target: {on: t.reply}
    message: no reply to the opening
    complete: {idle: 7d}
"""


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rule_says_when_a_case_has_ended_for_it_alone(tmp_path: Path, engine: str) -> None:
    """replied-in-a-day ends a case when it is closed, replied-after-open after 7 idle days; the pack says
    nothing, so replied stays a next action in every case. K1 is closed (a note); K1 and K4 have had no event
    for over 7 days at the as-of time (K5's opening), K5 has."""
    (tmp_path / "cc.yaml").write_text(RULE_COMPLETE_PACK + DECLARE_RULE)
    pack = load_pack([tmp_path])
    events = [("K1", 0, "t.open"), ("K1", 0.5, "t.note"), ("K4", 0, "t.open"), ("K5", 200, "t.open")]
    session = new_session(pack, None, engine)
    for i, (case, hours, etype) in enumerate(events):
        session.feed(Event(f"e{i}", case, START + hours * H, etype, None, {}))
    result = session.result()
    ended = sorted((v.case, v.rule, (v.time - START) / H) for v in result.violations
                   if v.message.endswith("[still open when the case ended]"))
    assert ended == [("K1", "cc/replied-after-open", 0.5), ("K1", "cc/replied-in-a-day", 0.5),
                     ("K4", "cc/replied-after-open", 0.0)]
    actions = {(a.case, a.rule) for a in result.next_actions}
    assert {("K1", "cc/replied"), ("K4", "cc/replied"), ("K5", "cc/replied"), ("K5", "cc/replied-after-open")} \
        <= actions
    assert not {("K1", "cc/replied-after-open"), ("K4", "cc/replied-after-open"), ("K1", "cc/replied-in-a-day")} \
        & actions


@pytest.mark.skipif(not available(), reason="the native core is not built")
def test_a_rules_completion_gives_the_same_report_on_both_engines(tmp_path: Path) -> None:
    (tmp_path / "pack").mkdir()
    (tmp_path / "pack" / "cc.yaml").write_text(RULE_COMPLETE_PACK + DECLARE_RULE)
    from sopengine.timeutil import format_time

    log = write_jsonl(tmp_path / "log.jsonl", [{"id": f"e{i}", "case": c, "time": format_time(START + h * H),
                                               "type": t} for i, (c, h, t) in enumerate(EVENTS)])
    outputs = []
    for engine in ("python", "native"):
        result = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(tmp_path / "pack"), "--format", "json",
                                          "--engine", engine, "--as-of", format_time(START + 400 * H)])
        assert result.exit_code == 1, result.output
        outputs.append(result.stdout)
    assert engine_blind(outputs[1]) == engine_blind(outputs[0])
    assert "[still open when the case ended]" in outputs[0]


def test_lint_takes_a_rules_completion_for_the_pack_s(tmp_path: Path) -> None:
    from sopengine.lint import lint

    (tmp_path / "cc.yaml").write_text(RULE_COMPLETE_PACK + DECLARE_RULE)
    late = sorted(d.subject for d in lint([tmp_path]).diagnostics if d.code.value == "never-late")
    assert late == ["cc/replied"]  # the two rules with their own complete are not noted
