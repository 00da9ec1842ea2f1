"""sopengine explain: one case's timeline, each rule's evaluation and why, the clocks, and the case's findings,
which must be the audit's for the case on both engines."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from sopengine import load_pack
from sopengine.cli import cli
from sopengine.errors import UsageError
from sopengine.explain import explain
from sopengine.schema import load_schema
from sopengine.timeutil import format_time

from .conftest import PACKS, ROOT, START, ev, write_jsonl

LOG = str(ROOT / "examples" / "events.jsonl")
FACTS = str(ROOT / "examples" / "facts.yaml")
FINDINGS = ("violations", "next_actions", "undecided")
LIBRARY = PACKS / "library"
DAY = 24 * 60  # minutes


def _run(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, list(args), catch_exceptions=False)
    return result


def _audit(runner: CliRunner, engine: str, *extra: str) -> dict[str, Any]:
    result = _run(runner, "audit", LOG, "--facts", FACTS, "--format", "json", "--engine", engine,
                  "--fail-on", "never", *extra)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def _explained(runner: CliRunner, case: str, *extra: str) -> dict[str, Any]:
    result = _run(runner, "explain", case, LOG, "--facts", FACTS, "--format", "json", *extra)
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads(result.output)
    return doc


def _of_case(audit: dict[str, Any], case: str) -> dict[str, list[Any]]:
    return {k: [f for f in audit[k] if f["case"] == case] for k in FINDINGS}


def _sample(audit: dict[str, Any]) -> list[str]:
    """Cases of the example log that show every kind of finding: for each rule, the first case it has a
    violation in, and the first case with a next action of it, and the cases with undecided checks."""
    cases: dict[str, None] = {}
    for key in FINDINGS:
        seen: set[str] = set()
        for f in audit[key]:
            if f["rule"] not in seen:
                seen.add(f["rule"])
                cases[f["case"]] = None
    return list(cases)


@pytest.fixture(scope="module")
def audits() -> dict[str, dict[str, Any]]:
    runner = CliRunner()
    return {engine: _audit(runner, engine) for engine in ("native", "python")}


def test_the_example_log_sample_covers_violations_next_actions_and_undecided(audits: dict[str, Any]) -> None:
    sample = _sample(audits["native"])
    kinds = Counter(k for case in sample for k in FINDINGS if _of_case(audits["native"], case)[k])
    assert kinds["violations"] > 10 and kinds["next_actions"] > 0 and kinds["undecided"] > 0


def test_explain_findings_are_the_audits_for_the_case_on_both_engines(audits: dict[str, Any]) -> None:
    runner = CliRunner()
    sample = _sample(audits["native"])
    for case in sample:
        explained = _explained(runner, case)
        for engine, audit in audits.items():
            assert {k: explained[k] for k in FINDINGS} == _of_case(audit, case), (case, engine)


def test_explain_as_of_a_past_moment_is_the_audit_as_of_it_on_both_engines(audits: dict[str, Any]) -> None:
    runner = CliRunner()
    # the middle of the log: obligations are open, some of them already late
    times = sorted(json.loads(line)["time"] for line in Path(LOG).read_text().splitlines())
    as_of = times[len(times) // 2]
    at = {engine: _audit(runner, engine, "--as-of", as_of) for engine in ("native", "python")}
    cases = [c for c in dict.fromkeys(a["case"] for a in at["native"]["next_actions"])][:4] \
        + [c for c in dict.fromkeys(v["case"] for v in at["native"]["violations"])][:4]
    assert len(cases) == 8
    for case in cases:
        explained = _explained(runner, case, "--as-of", as_of)
        assert explained["as_of_chosen"] == "given"
        assert all(s["event"]["time"] <= at["native"]["as_of"] for s in explained["timeline"])
        for engine, audit in at.items():
            assert {k: explained[k] for k in FINDINGS} == _of_case(audit, case), (case, engine)


def test_explain_of_a_complete_log_is_the_audit_of_it_on_both_engines() -> None:
    runner = CliRunner()
    at = {engine: _audit(runner, engine, "--cases-complete") for engine in ("native", "python")}
    plain = _audit(runner, "native")
    # cases whose open obligations a complete log makes violations
    cases = [c for c in dict.fromkeys(a["case"] for a in plain["next_actions"])][:3]
    assert cases
    for case in cases:
        explained = _explained(runner, case, "--cases-complete")
        assert explained["cases_complete"] is True and not explained["next_actions"]
        for engine, audit in at.items():
            assert {k: explained[k] for k in FINDINGS} == _of_case(audit, case), (case, engine)


def test_explain_json_follows_its_schema_and_shows_every_event_of_the_case_in_time_order() -> None:
    runner = CliRunner()
    case = "SS-4999"  # a ticket with violations and a next action in the example log
    doc = _explained(runner, case)
    Draft202012Validator(load_schema("explain-output.schema.json")).validate(doc)
    rows = [json.loads(line) for line in Path(LOG).read_text().splitlines()]
    ids = [r["id"] for r in sorted((r for r in rows if r["case"] == case), key=lambda r: r["time"])]
    assert [s["event"]["id"] for s in doc["timeline"]] == ids
    assert doc["summary"]["events"] == len(ids)
    # the timeline's violations (deadlines passed before an event, violations at events) and those judged at
    # as-of are the case's violations, each once
    listed = [v for s in doc["timeline"] for v in s["deadlines"]] \
        + [v for s in doc["timeline"] for e in s["evaluations"] for v in e.get("violations", [])] \
        + [v for j in doc["at_as_of"] for v in j.get("violations", [])]
    assert sorted(map(json.dumps, listed)) == sorted(map(json.dumps, doc["violations"]))


def test_explain_text_shows_each_event_the_rules_that_fired_and_the_findings(audits: dict[str, Any]) -> None:
    runner = CliRunner()
    case = "SS-4999"
    result = _run(runner, "explain", case, LOG, "--facts", FACTS)
    assert result.exit_code == 0, result.output
    text = result.output
    rows = [json.loads(line) for line in Path(LOG).read_text().splitlines()]
    for r in rows:
        if r["case"] == case:
            assert f"[{r['id']}]" in text
    found = _of_case(audits["native"], case)
    assert found["violations"] and found["next_actions"]
    lines = text.splitlines()
    for v in found["violations"]:
        assert any(line.strip().startswith("violated") and v["rule"] in line for line in lines), v["rule"]
        assert any(line.strip().startswith("violation") and v["rule"] in line and v["message"] in line
                   for line in lines)
    for a in found["next_actions"]:
        assert any(line.strip().startswith("next action") and a["rule"] in line and a["action"] in line
                   for line in lines)
    assert lines[0].startswith(f"Case {case} as of ")


def test_a_case_not_in_the_log_is_bad_usage_with_a_suggestion() -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["explain", "00001O04", LOG, "--facts", FACTS])
    assert result.exit_code == 2
    assert "not in the log (434 case(s))" in result.output and "did you mean" in result.output
    assert "Traceback" not in result.output


def test_a_case_whose_events_all_come_after_the_as_of_time_is_bad_usage(tmp_path: Path) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": "a1", "case": "A", "time": "2024-05-06T09:00:00Z", "type": "loan.borrowed",
         "data": {"book": "Dune", "member": "m1"}},
        {"id": "b1", "case": "B", "time": "2024-05-08T09:00:00Z", "type": "loan.borrowed",
         "data": {"book": "Emma", "member": "m1"}},
    ])
    result = CliRunner().invoke(cli, ["explain", "B", str(log), "--sops", str(LIBRARY), "--as-of",
                                      "2024-05-07T00:00:00Z"])
    assert result.exit_code == 2
    assert "no event up to the as-of time" in result.output


def test_explain_help_shows_an_example() -> None:
    result = CliRunner().invoke(cli, ["explain", "--help"])
    assert result.exit_code == 0
    assert "sopengine explain 00001004 examples/events.jsonl" in result.output
    assert "--as-of" in result.output and "--input-format" in result.output and "--cases-complete" in result.output


# -- what each rule did, on a pack about something else ------------------------------------------------------------
@pytest.fixture(scope="module")
def library() -> Any:
    return load_pack([LIBRARY])


FACTS_LIB = {"members": [{"id": "m1", "standing": "good"}, {"id": "m2", "standing": "suspended"}]}


def _evaluation(step: Any, rule: str, phase: str | None = None) -> Any:
    found = [e for e in step.evaluations if e.rule == f"loans/{rule}" and (phase is None or e.phase == phase)]
    assert len(found) == 1, (rule, [(e.rule, e.phase) for e in step.evaluations])
    return found[0]


def test_an_obligation_is_triggered_then_met_and_its_clock_runs_between(library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1"),
              ev("e2", "L1", 3 * DAY, "loan.returned", condition="good")]
    x = explain(library, events, "L1", FACTS_LIB)
    first, second = x.steps
    opened = _evaluation(first, "return-within-21-days")
    assert opened.outcome == "triggered" and opened.opened is not None
    assert opened.opened.due == START + 21 * DAY * 60
    assert [c.rule for c in first.clocks] == ["loans/return-within-21-days"]
    assert first.clocks[0].calendar is None and first.clocks[0].paused is None
    assert "calendar" not in first.clocks[0].to_json() and "paused" not in first.clocks[0].to_json()
    met = _evaluation(second, "return-within-21-days", "obligation")
    assert met.outcome == "held" and met.trigger == "e1"
    assert second.clocks == [] and x.judged == [] and x.violations == []
    assert second.changed == ["returned"] and second.state["returned"] is True


def test_a_deadline_that_passed_before_an_event_is_listed_at_that_event_and_the_late_return_ends_it(
        library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1"),
              ev("e2", "L1", 25 * DAY, "loan.returned", condition="good")]
    x = explain(library, events, "L1", FACTS_LIB)
    late = x.steps[1]
    assert [(v.rule, v.time) for v in late.deadlines] == [("loans/return-within-21-days", START + 21 * DAY * 60)]
    ended = _evaluation(late, "return-within-21-days", "obligation")
    assert ended.outcome == "held" and "late" in ended.why
    assert [v.rule for v in x.violations] == ["loans/return-within-21-days"]


def test_open_at_as_of_is_a_next_action_and_late_at_as_of_is_a_violation(library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1")]
    soon = explain(library, events, "L1", FACTS_LIB, START + 3 * DAY * 60)
    assert [j.outcome for j in soon.judged] == ["pending"]
    assert [(a.rule, a.due) for a in soon.next_actions] == [("loans/return-within-21-days", START + 21 * DAY * 60)]
    later = explain(library, events, "L1", FACTS_LIB, START + 22 * DAY * 60)
    assert [j.outcome for j in later.judged] == ["violated"] and not later.next_actions
    assert format_time(START + 21 * DAY * 60) in later.judged[0].why


def test_a_guard_that_fails_is_violated_and_one_that_holds_says_which_condition_held(library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1"),
              ev("e2", "L1", 1 * DAY, "loan.renewed"),
              ev("e3", "L1", 2 * DAY, "loan.returned", condition="good"),
              ev("e4", "L1", 3 * DAY, "loan.renewed")]
    x = explain(library, events, "L1", FACTS_LIB)
    ok = _evaluation(x.steps[1], "no-renewal-after-return")
    assert ok.outcome == "held" and "not state.returned" in ok.why
    assert [c.value for c in ok.conditions] == [True]
    bad = _evaluation(x.steps[3], "no-renewal-after-return")
    assert bad.outcome == "violated" and bad.why == "Renewed after the book was returned"
    assert [c.value for c in bad.conditions] == [False]


def test_a_missing_fact_is_undecided_with_the_reason_and_never_a_violation(library: Any) -> None:
    events = [ev("e1", "L3", 0, "loan.borrowed", book="Ulysses", member="m9")]
    x = explain(library, events, "L3", FACTS_LIB)
    check = _evaluation(x.steps[0], "members-in-good-standing")
    assert check.outcome == "undecided" and "'m9' is not in the 'members' facts" in check.why
    assert [c.value for c in check.conditions] == [None]
    assert [u.rule for u in x.undecided] == ["loans/members-in-good-standing"] and not x.violations


def test_only_the_explained_case_is_recorded_but_every_case_counts_for_the_as_of_time(library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1"),
              ev("f1", "L2", 30 * DAY, "loan.borrowed", book="Emma", member="m1")]
    x = explain(library, events, "L1", FACTS_LIB)
    assert [s.event.id for s in x.steps] == ["e1"]
    assert x.as_of == START + 30 * DAY * 60 and x.as_of_chosen == "latest event"
    assert [j.outcome for j in x.judged] == ["violated"]  # L2's borrowing makes L1's loan late


def test_events_out_of_order_are_explained_in_time_order(library: Any) -> None:
    events = [ev("e2", "L1", 3 * DAY, "loan.returned", condition="good"),
              ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1")]
    x = explain(library, events, "L1", FACTS_LIB)
    assert [s.event.id for s in x.steps] == ["e1", "e2"]
    assert _evaluation(x.steps[1], "return-within-21-days", "obligation").outcome == "held"


def test_a_case_not_in_the_log_names_the_cases_it_has(library: Any) -> None:
    events = [ev("e1", "L1", 0, "loan.borrowed", book="Dune", member="m1")]
    with pytest.raises(UsageError, match=r"'L2' is not in the log \(1 case\(s\)\); its cases: 'L1'"):
        explain(library, events, "L2", FACTS_LIB)


def test_a_hostile_case_id_and_data_stay_on_their_lines_in_the_text(tmp_path: Path) -> None:
    from .test_output_injection import HOSTILE_CASE, _assert_inert

    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": "e1\n::error::x", "case": HOSTILE_CASE, "time": "2024-05-06T09:00:00Z", "type": "loan.borrowed",
         "actor": "desk\x1b[2J", "data": {"book": "Dune\n::error file=a::pwned", "member": "m1"}}])
    result = CliRunner().invoke(cli, ["explain", HOSTILE_CASE, str(log), "--sops", str(LIBRARY)])
    assert result.exit_code == 0, result.output
    _assert_inert(result.stdout)


def test_every_case_of_the_example_log_explained_in_one_pass_has_the_audits_findings(
        audits: dict[str, Any]) -> None:
    from sopengine.audit import load_facts, read_records
    from sopengine.explain import explain_cases

    pack = load_pack([ROOT / "sops"])
    cases = list(dict.fromkeys(json.loads(line)["case"] for line in Path(LOG).read_text().splitlines()))
    found = explain_cases(pack, read_records(pack, [LOG]), cases, load_facts([FACTS]))
    assert sorted(found) == sorted(cases)
    for case, x in found.items():
        doc = x.to_json()
        for engine, audit in audits.items():
            assert {k: doc[k] for k in FINDINGS} == _of_case(audit, case), (case, engine)


# -- the HTML report's timelines ----------------------------------------------------------------------------------
def _page_data(page: str) -> dict[str, Any]:
    import base64
    import gzip
    import re

    packed = re.search(r'<script type="text/plain" id="report-data">([^<]*)</script>', page)
    assert packed is not None
    data: dict[str, Any] = json.loads(gzip.decompress(base64.b64decode(packed.group(1))))
    return data


def _html(tmp_path: Path, *extra: str) -> Path:
    pytest.importorskip("jinja2")
    pytest.importorskip("plotly")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(cli, ["audit", LOG, "--facts", FACTS, "--format", "html", "--output", str(out),
                                      "--fail-on", "never", *extra])
    assert result.exit_code == 0, result.output
    return out


def test_the_html_timelines_show_what_each_rule_did_as_explain_says_with_explain(tmp_path: Path) -> None:
    data = _page_data(_html(tmp_path, "--explain").read_text(encoding="utf-8"))
    cases = {c["id"]: c for c in data["cases"]}
    runner = CliRunner()
    for case in ("SS-4999", "00001229"):
        explained = _explained(runner, case)
        shown = cases[case]["explained"]
        assert list(shown) == [s["event"]["id"] for s in explained["timeline"]]
        for step in explained["timeline"]:
            assert shown[step["event"]["id"]][len(step["deadlines"]):] == \
                [[e["outcome"], e["rule"], e["why"]] for e in step["evaluations"]]
            assert [row[:2] for row in shown[step["event"]["id"]][:len(step["deadlines"])]] == \
                [["violated", v["rule"]] for v in step["deadlines"]]
    assert all("explained" in c for c in data["cases"])  # every case with findings


def test_without_explain_the_html_report_is_as_before(tmp_path: Path) -> None:
    data = _page_data(_html(tmp_path).read_text(encoding="utf-8"))
    assert data["cases"] and not any("explained" in c for c in data["cases"])


def test_explain_for_the_html_report_cannot_read_stdin_again() -> None:
    result = CliRunner().invoke(cli, ["audit", "-", "--facts", FACTS, "--format", "html", "--explain",
                                      "--fail-on", "never"], input=Path(LOG).read_text())
    assert result.exit_code == 2 and "stdin" in result.output


def test_an_opened_case_in_the_html_report_lists_each_events_rule_evaluations(tmp_path: Path) -> None:
    from .browser import Page
    from .test_html_report import _chromium, _open, _search

    report = _html(tmp_path, "--explain")
    case = "SS-4999"
    explained = _explained(CliRunner(), case)
    with Page(_chromium(), tmp_path / "chromium") as page:
        _open(page, report)
        _search(page, "cases-search", case)
        page.js("document.querySelector('#cases-table tr.case-row').click()")
        shown = page.js("[...document.querySelectorAll('#cases-table ol.timeline > li')].map(li => "
                        "[...li.querySelectorAll('li.eval')].filter(x => x.offsetParent !== null)"
                        ".map(x => x.innerText))")
        assert len(shown) == len(explained["timeline"])
        for lines, step in zip(shown, explained["timeline"]):
            applicable = [e for e in step["evaluations"] if e["outcome"] != "not_applicable"]
            for e in applicable:  # each shown with its outcome, rule and why; the others behind one button
                assert any(e["rule"] in line and e["why"] in line and e["outcome"].replace("_", " ") in line
                           for line in lines), e
            hidden = len(step["evaluations"]) - len(applicable)
            assert len(lines) == len(step["deadlines"]) + len(applicable) + (1 if hidden else 0)
        first = explained["timeline"][0]
        assert any(e["outcome"] == "not_applicable" for e in first["evaluations"])
        page.js("document.querySelector('#cases-table ul.evals').querySelector('button').click()")
        opened = page.js("[...document.querySelector('#cases-table ul.evals').querySelectorAll('li.eval')]"
                         ".filter(x => x.offsetParent !== null).length")
        assert opened == len(first["deadlines"]) + len(first["evaluations"]) + 1
    assert page.errors == []
