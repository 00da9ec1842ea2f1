"""SOP versions by effective date: a case is judged by the version in force when it was created (or, per rule, at
each event), findings name the version, both engines agree to the byte, and loading, lint, rules and diff say
what the versions are.

The scenarios of tests/packs/versions run in test_scenarios and test_engines; here: whole audits on both engines,
the output formats, the loading errors, lint, the rules listing and diff between versions.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner

from sopengine import PackError, load_pack, parse_time
from sopengine.audit import audit
from sopengine.cli import cli
from sopengine.events import Event
from sopengine.impact import as_version
from sopengine.lint import lint
from sopengine.native import PLAN_VERSION, available, emit
from sopengine.scenarios import PackSource, load_scenario_file, run_scenario

from .conftest import PACKS, write_jsonl

VERSIONS = PACKS / "versions"
ENGINES = ["python", pytest.param("native", marks=pytest.mark.skipif(not available(),
                                                                        reason="the native core is not built"))]

# Case A: created on the last evening of June (version 2024), answered after midnight (in July).
# Case B: created in July (version 2024-h2), answered after 6h, closed.
# Case C: created in March (version 2024), never answered, closed.
LOG = [
    {"id": "a1", "case": "A", "time": "2024-06-30T20:00:00Z", "type": "request.opened"},
    {"id": "a2", "case": "A", "time": "2024-07-01T03:00:00Z", "type": "request.answered", "data": {"text": "hi"}},
    {"id": "b1", "case": "B", "time": "2024-07-02T08:00:00Z", "type": "request.opened"},
    {"id": "b2", "case": "B", "time": "2024-07-02T14:00:00Z", "type": "request.answered",
     "data": {"text": "hi", "channel": "mail"}},
    {"id": "b3", "case": "B", "time": "2024-07-02T15:00:00Z", "type": "request.closed"},
    {"id": "c1", "case": "C", "time": "2024-03-02T08:00:00Z", "type": "request.opened"},
    {"id": "c2", "case": "C", "time": "2024-03-02T09:00:00Z", "type": "request.closed"},
    {"id": "d1", "case": "D", "time": "2024-07-03T08:00:00Z", "type": "request.opened"},
]
AS_OF = parse_time("2024-07-03T09:00:00Z")


def _events(rows: list[dict[str, Any]]) -> list[Event]:
    return [Event(r["id"], r["case"], parse_time(r["time"]), r["type"], None, dict(r.get("data") or {}))
            for r in rows]


def _audit(pack: Any, engine: str) -> dict[str, Any]:
    result = audit(pack, _events(LOG), None, AS_OF, engine=engine)
    return orjson.loads(orjson.dumps({**result.to_json(), "work": [w.to_json() for w in result.work]}))


@pytest.fixture(scope="module")
def pack() -> Any:
    return load_pack([VERSIONS])


def _copy(tmp_path: Path) -> Path:
    dest = tmp_path / "versions"
    shutil.copytree(VERSIONS, dest, ignore=shutil.ignore_patterns("*.test.yaml"))
    return dest


# -- judging --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("engine", ENGINES)
def test_each_case_is_judged_by_the_version_in_force_when_it_was_created(pack: Any, engine: str) -> None:
    report = _audit(pack, engine)
    found = sorted((v["case"], v["rule"], v.get("version"), v["message"]) for v in report["violations"])
    assert found == [
        # answered at 03:00 in July: 2024-h2's answer-fields (effective_at: event) wants the channel
        ("A", "answer/answer-fields", "2024-h2", "Answer without channel"),
        # created in July: 4 hours to answer, 6 taken; closing after the answer is fine
        ("B", "answer/first-answer", "2024-h2", "No answer within 4h"),
        # created in March: 8 hours to answer, and closing unanswered was no rule yet
        ("C", "answer/first-answer", "2024", "No answer within 8h"),
    ]
    # case A, created in June, has 8 hours (2024), not 4 (2024-h2), though answered in July
    assert not any(v["case"] == "A" and v["rule"] == "answer/first-answer" for v in report["violations"])


@pytest.mark.parametrize("engine", ENGINES)
def test_next_actions_worklist_and_attainment_name_the_version(pack: Any, engine: str) -> None:
    report = _audit(pack, engine)
    assert [(a["rule"], a["version"], a["case"]) for a in report["next_actions"]] == [
        ("answer/first-answer", "2024-h2", "D")]
    assert [(w["rule"], w["version"], w["case"], w["overdue"]) for w in report["work"]] == [
        ("answer/first-answer", "2024", "C", True), ("answer/first-answer", "2024-h2", "D", False)]
    rows = {(r["rule"], r["version"], r["week"]): (r["on_time"], r["late"], r["missed"], r["open"])
            for r in report["attainment"]}
    assert rows == {("answer/first-answer", "2024", "2024-W09"): (0, 0, 1, 0),
                    ("answer/first-answer", "2024", "2024-W27"): (1, 0, 0, 0),
                    ("answer/first-answer", "2024-h2", "2024-W27"): (0, 1, 0, 1)}
    assert set(report["rules"]) == {"answer/first-answer@2024", "answer/first-answer@2024-h2",
                                    "answer/answer-fields@2024-h2", "answer/answer-before-close@2024-h2"}


@pytest.mark.skipif(not available(), reason="the native core is not built")
def test_both_engines_give_the_same_json(pack: Any) -> None:
    assert _audit(pack, "native") == _audit(pack, "python")


@pytest.mark.parametrize("engine", ENGINES)
def test_a_rule_judged_at_each_event_follows_the_event_not_the_case(pack: Any, engine: str) -> None:
    """answer-fields is effective_at: event: an answer in June to a case created in June needs no channel, one in
    July does; first-answer (at the case's creation) stays with 2024 for both."""
    rows = [{"id": "o", "case": "E", "time": "2024-06-30T10:00:00Z", "type": "request.opened"},
            {"id": "x", "case": "E", "time": "2024-06-30T11:00:00Z", "type": "request.answered",
             "data": {"text": "a"}},
            {"id": "y", "case": "E", "time": "2024-07-01T11:00:00Z", "type": "request.answered",
             "data": {"text": "b"}}]
    result = audit(pack, _events(rows), None, parse_time("2024-07-02T00:00:00Z"), engine=engine)
    assert [(v.to_json()["rule"], v.to_json()["version"], v.events) for v in result.violations] == [
        ("answer/answer-fields", "2024-h2", ("y",))]
    assert result.passed == {"answer/answer-fields@2024": 1, "answer/first-answer@2024": 1}


@pytest.mark.parametrize("engine", ENGINES)
def test_a_case_created_before_every_version_is_judged_by_none(pack: Any, engine: str) -> None:
    rows = [{"id": "o", "case": "F", "time": "2023-12-31T23:00:00Z", "type": "request.opened"},
            {"id": "c", "case": "F", "time": "2024-01-02T00:00:00Z", "type": "request.closed"}]
    result = audit(pack, _events(rows), None, None, engine=engine)
    assert result.violations == [] and result.next_actions == [] and result.passed == {}


@pytest.mark.parametrize("engine", ENGINES)
def test_an_event_that_comes_late_moves_the_case_to_the_version_of_its_new_first_event(pack: Any,
                                                                                       engine: str) -> None:
    """The case's creation is its earliest event, wherever it stands in the input."""
    rows = [{"id": "b", "case": "G", "time": "2024-07-01T01:00:00Z", "type": "request.answered",
             "data": {"text": "x", "channel": "y"}},
            {"id": "a", "case": "G", "time": "2024-06-30T22:00:00Z", "type": "request.opened"},
            {"id": "c", "case": "G", "time": "2024-07-01T02:00:00Z", "type": "request.closed"}]
    result = audit(pack, _events(rows), None, None, engine=engine)
    assert result.violations == []
    assert result.passed["answer/first-answer@2024"] == 1


def test_an_unversioned_pack_gives_the_plan_and_output_it_gave_before() -> None:
    """No version field or key anywhere; a rule's id is its public id; the plan's SOP slots carry no range."""
    from .conftest import SOPS

    bundled = load_pack([SOPS])
    assert all(r.version is None and r.effective is None and "@" not in r.id for r in bundled.rules)
    plan = json.loads(emit(bundled))
    assert plan["version"] == PLAN_VERSION and all(slot["effective"] is None for slot in plan["sops"])
    assert not bundled.versioned


def test_the_plan_gates_each_version_by_its_range(pack: Any) -> None:
    plan = json.loads(emit(pack))
    assert [r["id"] for r in plan["rules"]] == [
        "answer/first-answer@2024", "answer/answer-fields@2024", "answer/first-answer@2024-h2",
        "answer/answer-fields@2024-h2", "answer/answer-before-close@2024-h2"]
    july = parse_time("2024-07-01T00:00:00Z")
    slots = [plan["sops"][r["applies"]]["effective"] for r in plan["rules"]]
    assert slots[0] == {"from": parse_time("2024-01-01T00:00:00Z"), "until": july, "at_event": False}
    assert slots[1]["at_event"] and slots[3]["at_event"] and not slots[4]["at_event"]
    assert slots[2] == {"from": july, "until": None, "at_event": False}


# -- outputs --------------------------------------------------------------------------------------------------
def test_the_audit_json_is_valid_against_its_schema_with_versions(tmp_path: Path, runner: CliRunner) -> None:
    import jsonschema

    log = write_jsonl(tmp_path / "log.jsonl", LOG)
    result = runner.invoke(cli, ["audit", "--sops", str(VERSIONS), str(log), "--format", "json",
                                 "--as-of", "2024-07-03T09:00:00Z"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    schema = json.loads((PACKS.parent.parent / "schemas" / "audit-output.schema.json").read_text())
    jsonschema.validate(report, schema)
    assert {v["version"] for v in report["violations"]} == {"2024", "2024-h2"}
    broken = dict(report["violations"][0], version=7)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**report, "violations": [broken]}, schema)


def test_the_worklist_csv_has_a_version_column_only_for_a_versioned_pack(tmp_path: Path, runner: CliRunner) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", LOG)
    result = runner.invoke(cli, ["next", "--sops", str(VERSIONS), str(log), "--format", "csv",
                                 "--as-of", "2024-07-03T09:00:00Z", "--rule", "answer/first-answer"])
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][-1] == "version" and rows[1][rows[0].index("rule")] == "answer/first-answer"
    assert [(row[rows[0].index("case")], row[-1]) for row in rows[1:]] == [("C", "2024"), ("D", "2024-h2")]
    from .conftest import ROOT, SOPS

    plain = runner.invoke(cli, ["next", "--sops", str(SOPS), str(ROOT / "examples" / "events.jsonl"), "--format",
                                "csv", "--facts", str(ROOT / "examples" / "facts.yaml")])
    assert "version" not in plain.stdout.splitlines()[0].split(",")


# -- scenarios ------------------------------------------------------------------------------------------------
def test_a_scenario_expecting_the_wrong_version_fails(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    scenarios = pack / "answer.test.yaml"
    scenarios.write_text((VERSIONS / "answer.test.yaml").read_text().replace(
        'violations: [{rule: first-answer, version: "2024", at: 8h, message: "within 8h"}]',
        'violations: [{rule: first-answer, version: 2024-h2, at: 8h, message: "within 8h"}]'))
    doc, _ = load_scenario_file(scenarios)
    assert doc is not None
    names = [sc["name"] for sc in doc.data["scenarios"]]
    index = names.index("a case created in March unanswered after 8 hours breaks 2024's first-answer")
    outcome = run_scenario(PackSource([pack]), doc, index, engine="python")
    assert not outcome.passed
    assert any("expected violation not found" in p for p in outcome.problems)
    assert any("unexpected violation: rule=answer/first-answer, version=2024" in p for p in outcome.problems)


# -- loading --------------------------------------------------------------------------------------------------
def _errors(path: Path) -> list[str]:
    with pytest.raises(PackError) as info:
        load_pack([path])
    return [str(d) for d in info.value.diagnostics]


def test_two_files_of_one_sop_without_versions_are_refused_with_both_places(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    for name in ("answer-2024.yaml", "answer-2024h2.yaml"):
        path = pack / name
        text = path.read_text()
        path.write_text("\n".join(line for line in text.splitlines()
                                  if not line.startswith(("  version:", "  effective:"))) + "\n")
    errors = _errors(pack)
    assert any("duplicate-declaration" in e and "answer-2024h2.yaml:3" in e and "answer-2024.yaml:3" in e
               and "distinct 'version' and an 'effective' range" in e for e in errors), errors


def test_a_second_file_of_a_versioned_sop_without_a_version_is_refused(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text("\n".join(line for line in path.read_text().splitlines()
                              if not line.startswith(("  version:", "  effective:"))) + "\n")
    errors = _errors(pack)
    assert any("sop 'answer' is already declared at" in e and "answer-2024h2.yaml" in e for e in errors), errors


def test_two_files_with_the_same_version_are_refused_at_the_second(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text(path.read_text().replace("version: 2024-h2", 'version: "2024"'))
    errors = _errors(pack)
    assert any("answer-2024h2.yaml:6" in e and "version '2024' of sop 'answer' is already declared at" in e
               and "answer-2024.yaml:6" in e for e in errors), errors


@pytest.mark.parametrize(("effective", "message"), [
    ('{from: "2024-07-01", until: "2024-07-01"}', "until (2024-07-01) is not after from (2024-07-01)"),
    ('{from: "2024-13-01"}', "effective.from: '2024-13-01' is not a date (YYYY-MM-DD)"),
    ('{from: "2024-07-01T00:00:00"}', "has no UTC offset"),
])
def test_an_effective_range_that_cannot_be_is_an_error_at_its_key(tmp_path: Path, effective: str,
                                                                 message: str) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text(path.read_text().replace('effective: {from: "2024-07-01T00:00:00Z"}', f"effective: {effective}"))
    errors = _errors(pack)
    assert any("bad-effective" in e and message in e and "answer-2024h2.yaml:7" in e for e in errors), errors


def test_a_version_needs_its_range_and_a_range_its_version(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text(path.read_text().replace('  effective: {from: "2024-07-01T00:00:00Z"}\n', ""))
    assert any("schema" in e and "effective" in e for e in _errors(pack))


def test_effective_at_on_a_rule_of_an_unversioned_sop_is_an_error(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    (pack / "answer-2024h2.yaml").unlink()
    path = pack / "answer-2024.yaml"
    path.write_text("\n".join(line for line in path.read_text().splitlines()
                              if not line.startswith(("  version:", "  effective:"))) + "\n")
    errors = _errors(pack)
    assert any("bad-effective" in e and "effective_at: the rule's SOP has no versions" in e for e in errors), errors


# -- lint -----------------------------------------------------------------------------------------------------
def _lint(pack: Path) -> list[tuple[str, str, str]]:
    return [(d.code.value, d.severity.value, d.message) for d in lint([pack]).diagnostics]


def test_the_versions_pack_lints_clean() -> None:
    assert _lint(VERSIONS) == []


def test_versions_in_force_at_once_are_a_lint_error(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text(path.read_text().replace('from: "2024-07-01T00:00:00Z"', 'from: "2024-06-01"'))
    report = lint([pack])
    assert [(d.code.value, d.severity.value, d.message) for d in report.diagnostics] == [
        ("version-overlap", "error", "versions 2024 and 2024-h2 of SOP answer are both in force from "
         "2024-06-01T00:00:00Z until 2024-07-01T00:00:00Z; a case created then is judged by both. End 2024 "
         "(effective.until) where 2024-h2 begins")]
    assert report.failed()
    assert report.diagnostics[0].location.file.endswith("answer-2024h2.yaml")


def test_an_open_ended_version_before_another_overlaps_it(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024.yaml"
    path.write_text(path.read_text().replace(', until: "2024-07-01"', ""))
    assert [(c, s) for c, s, _ in _lint(pack)] == [("version-overlap", "error")]


def test_a_time_between_versions_when_none_is_in_force_is_a_lint_warning(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    path = pack / "answer-2024h2.yaml"
    path.write_text(path.read_text().replace('from: "2024-07-01T00:00:00Z"', 'from: "2024-08-01"'))
    report = lint([pack])
    assert [(d.code.value, d.severity.value, d.message) for d in report.diagnostics] == [
        ("version-gap", "warning", "no version of SOP answer is in force from 2024-07-01T00:00:00Z until "
         "2024-08-01T00:00:00Z (after 2024, before 2024-h2); a case created then is judged by none of its rules")]
    assert not report.failed()


def test_a_rule_required_in_one_version_and_forbidden_in_another_is_no_conflict(tmp_path: Path) -> None:
    pack = _copy(tmp_path)
    (pack / "answer-2024.yaml").write_text((pack / "answer-2024.yaml").read_text() + """
  - id: no-close
    kind: forbid
    severity: error
    description: Requests were not closed in 2024 (for this test).
    source: {document: answering.md, step: Closing}
    on: request.closed
    message: "Closed"
""")
    assert _lint(pack) == []


# -- rules and diff -------------------------------------------------------------------------------------------
def test_rules_lists_each_version_with_its_range(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "--sops", str(VERSIONS), "--format", "json"])
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)
    assert [(r["id"], r["version"], r["effective"]["from"], r["effective"]["until"], r["effective_at"])
            for r in items] == [
        ("answer/first-answer", "2024", "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z", "case"),
        ("answer/answer-fields", "2024", "2024-01-01T00:00:00Z", "2024-07-01T00:00:00Z", "event"),
        ("answer/first-answer", "2024-h2", "2024-07-01T00:00:00Z", None, "case"),
        ("answer/answer-fields", "2024-h2", "2024-07-01T00:00:00Z", None, "event"),
        ("answer/answer-before-close", "2024-h2", "2024-07-01T00:00:00Z", None, "case")]
    text = runner.invoke(cli, ["rules", "--sops", str(VERSIONS)]).stdout
    assert "version 2024, in force from 2024-01-01T00:00:00Z until 2024-07-01T00:00:00Z" in text
    assert "version 2024-h2, in force from 2024-07-01T00:00:00Z\n" in text


def test_rules_of_an_unversioned_pack_name_no_version(runner: CliRunner) -> None:
    from .conftest import SOPS

    items = json.loads(runner.invoke(cli, ["rules", "--sops", str(SOPS), "--format", "json"]).stdout)
    assert items and not any("version" in r or "effective" in r for r in items)


@pytest.mark.parametrize("engine", ENGINES)
def test_one_version_in_force_at_every_time_judges_every_case(pack: Any, engine: str) -> None:
    """What diff --sop-versions compares: the log under 2024 alone, then under 2024-h2 alone."""
    old = audit(as_version(pack, "answer", "2024"), _events(LOG), None, AS_OF, engine=engine)
    new = audit(as_version(pack, "answer", "2024-h2"), _events(LOG), None, AS_OF, engine=engine)
    assert sorted((v.rule, v.case) for v in old.violations) == [("answer/first-answer", "C")]
    assert sorted((v.rule, v.case) for v in new.violations) == [
        ("answer/answer-before-close", "C"), ("answer/answer-fields", "A"), ("answer/first-answer", "A"),
        ("answer/first-answer", "B"), ("answer/first-answer", "C")]
    assert all("version" not in v.to_json() for v in new.violations)


def test_diff_compares_two_versions_of_a_sop_over_one_log(tmp_path: Path, runner: CliRunner) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", LOG)
    result = runner.invoke(cli, ["diff", str(VERSIONS), "--sop-versions", "answer", "2024", "2024-h2",
                                 "--log", str(log), "--as-of", "2024-07-03T09:00:00Z", "--format", "json"])
    assert result.exit_code == 1, result.output
    impact = json.loads(result.stdout)
    assert impact["summary"] == {"appeared": 4, "disappeared": 0, "changed": 2}
    assert [(f["rule"], f["case"]) for f in impact["appeared"]] == [
        ("answer/answer-before-close", "C"), ("answer/answer-fields", "A"), ("answer/first-answer", "A"),
        ("answer/first-answer", "B")]
    changed = {c["old"]["case"]: (c["old"].get("due") or c["old"]["time"], c["new"].get("due") or c["new"]["time"])
               for c in impact["changed"]}
    assert changed == {"C": ("2024-03-02T16:00:00Z", "2024-03-02T12:00:00Z"),
                       "D": ("2024-07-03T16:00:00Z", "2024-07-03T12:00:00Z")}
    same = runner.invoke(cli, ["diff", str(VERSIONS), "--sop-versions", "answer", "2024", "2024",
                               "--log", str(log)])
    assert same.exit_code == 0, same.output


@pytest.mark.parametrize(("args", "message"), [
    (["--sop-versions", "answer", "2024", "2025"], "SOP 'answer' has no version '2025' (its versions: 2024, 2024-h2)"),
    (["--sop-versions", "answr", "2024", "2024-h2"], "unknown SOP 'answr'"),
    ([], "give two packs"),
])
def test_diff_between_versions_that_are_not_there_is_a_usage_error(tmp_path: Path, runner: CliRunner,
                                                                   args: list[str], message: str) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", LOG)
    result = runner.invoke(cli, ["diff", str(VERSIONS), *args, "--log", str(log)])
    assert result.exit_code == 2 and message in result.output


def test_explain_says_a_version_not_in_force_does_not_apply(tmp_path: Path, runner: CliRunner) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", LOG)
    result = runner.invoke(cli, ["explain", "--sops", str(VERSIONS), "A", str(log), "--format", "json"])
    assert result.exit_code == 0, result.output
    steps = json.loads(result.stdout)["timeline"]
    opened = {e["rule"]: e for e in steps[0]["evaluations"]}
    assert opened["answer/first-answer@2024-h2"]["outcome"] == "not_applicable"
    assert opened["answer/first-answer@2024-h2"]["conditions"] == [{
        "condition": "effective", "value": False,
        "expression": "version 2024-h2 in force from 2024-07-01T00:00:00Z, at the case creation 2024-06-30T20:00:00Z"}]
    assert opened["answer/first-answer@2024"]["outcome"] == "triggered"


# -- every kind honours the version's range -------------------------------------------------------------------
_KIND_PACK = """\
pack: {name: kinds}
events:
  thing.opened: {data: {n: {type: number}, m: {type: string}, owner: {type: string}}}
  thing.checked: {}
  thing.done: {}
state:
  count: {type: counter, updates: [{on: thing.opened, add: "1"}]}
  owner: {type: value, updates: [{on: thing.opened, set: data.owner}]}
indexes:
  owners: {member: filled(state.owner), key: state.owner}
sop:
  id: k
  title: K
  source: {document: k.md}
  version: "1"
  effective: {from: "2024-01-01", until: "2024-07-01"}
rules:
  - id: r
    kind: KIND
    severity: error
    description: d
    source: {document: k.md, step: "1"}
    message: m
"""
_KIND_KEYS: dict[str, str] = {
    "guard": "on: thing.opened\nrequire: data.n > 5",
    "forbid": "on: thing.done",
    "require_fields": "on: thing.opened\nfields: [m]",
    "precedence": "on: thing.done\nafter: {on: thing.checked}",
    "at_most": "on: thing.opened\nmax: 1",
    "response": "after: {on: thing.opened}\nexpect: {on: thing.checked}\nwithin: 1h\naction: check it",
    "invariant": "require: state.count < 2\ngrace: 1m\naction: fix it",
    "cross_case": "on: thing.opened\nindex: owners\nkey: data.owner",
    "declare": "template: response\nactivation: {on: thing.opened}\ntarget: {on: thing.checked}\nwindow: {max: 1h}",
}


def _kind_log(start: str) -> list[Event]:
    t = parse_time(start)
    rows = [("p1", "P", 0, "thing.opened"), ("p2", "P", 1, "thing.opened"), ("p3", "P", 2, "thing.done"),
            ("q1", "Q", 3, "thing.opened"), ("q2", "Q", 4, "thing.done")]
    return [Event(i, case, t + minutes * 60, etype, None, {"n": 1, "owner": "o"} if etype == "thing.opened" else {})
            for i, case, minutes, etype in rows]


@pytest.mark.parametrize("at", ["case", "event"])
@pytest.mark.parametrize("kind", list(_KIND_KEYS))
def test_every_kind_judges_only_the_cases_of_its_version(tmp_path: Path, kind: str, at: str) -> None:
    keys = _KIND_KEYS[kind] + ("\neffective_at: event" if at == "event" else "")
    (tmp_path / "k.yaml").write_text(_KIND_PACK.replace("KIND", kind) + "".join(f"    {line}\n"
                                                                               for line in keys.splitlines()))
    pack = load_pack([tmp_path])
    engines = ["python", "native"] if available() else ["python"]
    for start, judged in (("2024-03-01T00:00:00Z", True), ("2024-08-01T00:00:00Z", False),
                          ("2023-12-31T12:00:00Z", False)):
        reports = [audit(pack, _kind_log(start), None, parse_time(start) + 86400, engine=e) for e in engines]
        found = [(v.rule, v.case) for v in reports[0].violations] + [(a.rule, a.case) for a in reports[0].next_actions]
        assert bool(found) == judged, (start, found)
        assert all(rule == "k/r@1" for rule, _ in found)
        as_json = [orjson.dumps(r.to_json()) for r in reports]
        assert as_json[-1] == as_json[0]
