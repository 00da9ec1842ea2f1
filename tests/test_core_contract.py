"""What issue 2 must show: the contract of the core, end to end through the CLI."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner
from jsonschema import Draft202012Validator

from sopengine.cli import cli
from sopengine.schema import AUDIT_OUTPUT, load_schema

from .conftest import ROOT, write_jsonl

FACTS = {"users": [{"id": "fl.ana", "team": "Support", "role": "frontline"},
                   {"id": "bo.ben", "team": "Support", "role": "back_office"}]}


def _audit_json(runner: CliRunner, *args: str) -> tuple[int, dict]:  # type: ignore[type-arg]
    result = runner.invoke(cli, ["audit", *args, "--format", "json"])
    assert "Traceback" not in result.output
    data = json.loads(result.stdout)
    Draft202012Validator(load_schema(AUDIT_OUTPUT)).validate(data)
    return result.exit_code, data


def test_closing_with_open_assignment_and_non_owner_review_are_exactly_two_violations(
        tmp_path: Path, runner: CliRunner) -> None:
    case = "00001001"
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": "c1", "case": case, "time": "2024-05-06T09:00:00Z", "type": "case.created", "actor": "fl.ana",
         "data": {"record": "contact", "account_type": "installer", "contact": "CT-1", "request_type": "Billing",
                  "request_subtype": "Invoice Question", "description": "Invoice is wrong",
                  "associated_installer": "SunBright Solar", "origin": "email"}},
        {"id": "q1", "case": case, "time": "2024-05-06T09:05:00Z", "type": "case.owner_changed", "actor": "fl.ana",
         "data": {"to": "Back Office Task Queue Installer", "to_kind": "queue", "from": "fl.ana"}},
        {"id": "t1", "case": case, "time": "2024-05-06T09:20:00Z", "type": "case.owner_changed", "actor": "bo.ben",
         "data": {"to": "bo.ben", "to_kind": "user", "from": "Back Office Task Queue Installer"}},
        {"id": "a1", "case": case, "time": "2024-05-06T09:30:00Z", "type": "assignment.created",
         "actor": "bo.ben", "data": {"assignment": "CA-1", "team": "Sales"}},
        {"id": "s1", "case": case, "time": "2024-05-06T09:31:00Z", "type": "case.status_changed",
         "actor": "bo.ben", "data": {"from": "New", "to": "In Progress - Internal Referral"}},
        {"id": "r1", "case": case, "time": "2024-05-06T10:00:00Z", "type": "review.logged",
         "actor": "fl.ana", "data": {"comments": "customer called again"}},
        {"id": "x1", "case": case, "time": "2024-05-06T11:00:00Z", "type": "case.status_changed",
         "actor": "bo.ben", "data": {"from": "In Progress - Internal Referral", "to": "Closed"}},
    ])
    facts = tmp_path / "facts.json"
    facts.write_text(json.dumps(FACTS))
    code, data = _audit_json(runner, str(log), "--facts", str(facts))
    found = sorted((v["rule"], tuple(v["events"])) for v in data["violations"])
    assert found == [
        ("case-assignment/review-by-owner-only", ("r1", "t1")),
        ("working-a-case/close-with-open-assignments", ("x1", "a1")),
    ]
    assert code == 1  # error-severity violations fail the run by default
    assert data["summary"]["violations"] == 2


def test_rejected_lines_are_listed_and_counts_reconcile(tmp_path: Path, runner: CliRunner) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.created", "actor": "fl.ana"},
        '{"case": "C1", "time": "2024-05-06T09:10:00Z", "type": "review.logged", "act',
        {"time": "2024-05-06T09:20:00Z", "type": "review.logged", "actor": "fl.ana"},
        {"case": "C1", "time": "2024-05-06 nine o'clock", "type": "review.logged", "actor": "fl.ana"},
        {"case": "C1", "time": "2024-05-06T09:40:00Z", "type": "review.loged", "actor": "fl.ana"},
        {"case": "C1", "time": "2024-05-06T09:50:00Z", "type": "review.logged", "actor": "fl.ana"},
    ])
    code, data = _audit_json(runner, str(log), "--fail-on", "never", "--max-rejected", "100%")
    assert code == 0
    rejected = {r["line"]: r["error"] for r in data["rejected"]}
    assert set(rejected) == {2, 3, 4, 5}
    assert all(r["file"] == str(log) for r in data["rejected"])
    assert "truncated JSON" in rejected[2]
    assert "case" in rejected[3]
    assert "RFC 3339" in rejected[4]
    assert "did you mean 'review.logged'" in rejected[5]
    s = data["summary"]
    assert (s["events"], s["rejected"], s["read"]) == (2, 4, 6)
    assert s["read"] == s["events"] + s["rejected"]


def test_strict_mode_stops_at_the_first_rejected_line(tmp_path: Path, runner: CliRunner) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", ['{"case": "C1"'])
    result = runner.invoke(cli, ["audit", str(log), "--strict"])
    assert result.exit_code == 2
    assert f"{log}:1" in result.output and "Traceback" not in result.output


def test_rules_json_lists_every_rule_with_its_spec_id_and_source(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["rules", "--format", "json"])
    assert result.exit_code == 0
    rules = {r["id"]: r for r in json.loads(result.stdout)}
    spec = (ROOT.parent / "shared" / "SPEC.md").read_text(encoding="utf-8") \
        if (ROOT.parent / "shared" / "SPEC.md").exists() else None
    for sop in ("working-a-case", "case-assignment"):
        ids = {i for i in rules if i.startswith(sop + "/")}
        assert len(ids) >= 6
        if spec is not None:
            section = spec.split(f"**`{sop}`**", 1)[1].split("**`", 1)[0]
            catalog = {f"{sop}/{name}" for name in re.findall(r"^- `([a-z0-9-]+)`", section, re.M)}
            assert catalog <= ids, f"missing: {catalog - ids}"
    for rule in rules.values():
        assert rule["source"]["document"] and rule["source"]["step"]
        assert rule["severity"] in ("error", "warning", "info")
        assert rule["description"]


def test_the_readme_run_command_shows_violations_and_next_actions(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["audit", str(ROOT / "examples" / "events.jsonl"),
                                 "--facts", str(ROOT / "examples" / "facts.yaml")])
    assert result.exit_code in (0, 1)
    assert "Violations (" in result.output and "Next actions (" in result.output
    assert "Traceback" not in result.output
