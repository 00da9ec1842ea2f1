"""Every audit output says what produced it (provenance), and `audit --reproduce REPORT` runs that audit again:
it refuses when a file is not as it was, and says whether the findings are identical."""

from __future__ import annotations

import hashlib
import json
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from jsonschema import Draft202012Validator

from sopengine import __version__
from sopengine.cli import cli
from sopengine.schema import AUDIT_OUTPUT, load_schema

from .conftest import ROOT, SOPS

AS_OF = "2024-06-01T00:00:00Z"


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory holding a copy of the bundled pack (./sops), the example log and facts, and a
    config file that sets one parameter; paths in reports are relative to it."""
    shutil.copytree(SOPS, tmp_path / "sops", ignore=shutil.ignore_patterns("*.test.yaml"))
    shutil.copy(ROOT / "examples" / "events.jsonl", tmp_path / "events.jsonl")
    shutil.copy(ROOT / "examples" / "facts.yaml", tmp_path / "facts.yaml")
    (tmp_path / "sopengine.yaml").write_text("params: {first_response_within: 3h}\n")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _audit(*args: str, stdin: bytes | None = None) -> Any:
    result = CliRunner().invoke(cli, ["audit", *args, "--fail-on", "never"], input=stdin)
    assert result.exit_code == 0, result.output[-2000:]
    return result


def _report(path: str = "report.json", *args: str) -> dict[str, Any]:
    _audit("events.jsonl", "--facts", "facts.yaml", "--set", "reopen_window=12h", "--as-of", AS_OF,
           "--format", "json", "-o", path, *args)
    doc: dict[str, Any] = json.loads(Path(path).read_text())
    return doc


def test_the_json_report_names_the_tool_pack_files_params_facts_inputs_as_of_and_engine(project: Path) -> None:
    doc = _report()
    Draft202012Validator(load_schema(AUDIT_OUTPUT)).validate(doc)
    p = doc["provenance"]
    assert p["tool"] == {"name": "sopengine", "version": __version__}
    assert p["engine"] in ("native", "python")
    assert p["pack"]["name"] == "sopengine-bundled" and p["pack"]["version"] == "0.1.0"
    assert p["pack"]["paths"] == ["sops"]
    files = {f["path"]: f for f in p["pack"]["files"]}
    on_disk = sorted(q for q in (project / "sops").iterdir())
    assert sorted(files) == [f"sops/{q.name}" for q in on_disk]  # every SOP file and every mapping beside them
    assert all(files[f"sops/{q.name}"]["sha256"] == _sha(q) for q in on_disk)
    sources = {q["name"]: (q["value"], q["source"]) for q in p["params"]}
    assert sources["reopen_window"] == ("12h", "--set")
    assert sources["first_response_within"] == ("3h", "config")
    assert sources["escalation_contact"] == ("Mark Fredericks", "default") and len(sources) > 20
    log = project / "events.jsonl"
    assert p["inputs"]["files"] == [{"path": "events.jsonl", "bytes": log.stat().st_size, "sha256": _sha(log)}]
    assert p["facts"] == [{"path": "facts.yaml", "bytes": (project / "facts.yaml").stat().st_size,
                           "sha256": _sha(project / "facts.yaml")}]
    assert p["as_of"] == {"time": AS_OF, "chosen": "given"} and doc["as_of"] == AS_OF
    assert p["limits"] == {} and p["inputs"]["options"] == {} and p["inputs"]["mapping"] is None


def test_provenance_is_the_same_bytes_run_after_run_and_says_when_as_of_was_the_latest_event(project: Path) -> None:
    runs = [_audit("events.jsonl", "--format", "json").stdout for _ in range(2)]
    assert runs[0] == runs[1]
    assert json.loads(runs[0])["provenance"]["as_of"]["chosen"] == "latest event"


def test_stdin_is_said_to_be_stdin_with_the_bytes_read_and_their_hash(project: Path) -> None:
    data = (project / "events.jsonl").read_bytes()
    doc = json.loads(_audit("-", "--format", "json", stdin=data).stdout)
    assert doc["provenance"]["inputs"]["files"] == [{"path": "-", "bytes": len(data),
                                                    "sha256": hashlib.sha256(data).hexdigest(), "stdin": True}]


def test_every_format_carries_the_provenance(project: Path) -> None:
    provenance = _report()["provenance"]
    log_sha = provenance["inputs"]["files"][0]["sha256"]
    common = ["events.jsonl", "--facts", "facts.yaml", "--set", "reopen_window=12h", "--as-of", AS_OF]
    sarif = json.loads(_audit(*common, "--format", "sarif").stdout)["runs"][0]
    assert sarif["properties"]["provenance"] == provenance
    assert sarif["invocations"] == [{"executionSuccessful": True}]
    junit = ET.fromstring(_audit(*common, "--format", "junit").stdout)
    for suite in junit.findall("testsuite"):
        props = {p.get("name"): p.get("value") for p in suite.findall("properties/property")}
        assert props["sopengine"] == __version__ and log_sha in props["input events.jsonl"]
        assert props["param reopen_window"] == "12h (--set)" and props["as-of"] == f"{AS_OF} (given)"
    text = _audit(*common).stdout
    footer = text[text.index("\nProvenance\n"):]
    assert "input events.jsonl: " in footer and log_sha in footer and "param reopen_window: 12h (--set)" in footer
    assert "params at the pack's defaults: " in footer  # counted, not listed: the JSON lists them
    markdown = _audit(*common, "--format", "markdown").stdout
    assert "<details><summary>Provenance</summary>" in markdown and log_sha in markdown
    html = _audit(*common, "--format", "html", "-o", "report.html")
    page = (project / "report.html").read_text()
    assert '<footer id="provenance">' in page and log_sha in page and f"by sopengine {__version__}" in page
    assert html.stdout == ""


def test_reproducing_an_unchanged_audit_finds_the_same_findings(project: Path) -> None:
    _report()
    result = CliRunner().invoke(cli, ["audit", "--reproduce", "report.json"])
    assert result.exit_code == 0, result.output
    assert "report.json: reproduced: the findings are identical" in result.stdout


def test_a_changed_log_stops_the_reproduction_naming_the_file(project: Path) -> None:
    _report()
    log = project / "events.jsonl"
    log.write_bytes(log.read_bytes().replace(b"Closed", b"closed", 1))
    result = CliRunner().invoke(cli, ["audit", "--reproduce", "report.json"])
    assert result.exit_code == 2, result.output
    assert "events.jsonl: changed since the audit" in result.stderr and "Traceback" not in result.output


def test_a_changed_or_added_sop_file_stops_the_reproduction(project: Path) -> None:
    _report()
    sop = project / "sops" / "working-a-case.yaml"
    original = sop.read_text()
    sop.write_text(original.replace("6h", "7h"))
    result = CliRunner().invoke(cli, ["audit", "--reproduce", "report.json"])
    assert result.exit_code == 2 and "sops/working-a-case.yaml: changed since the audit" in result.stderr
    sop.write_text(original)
    (project / "sops" / "extra.yaml").write_text((project / "sops" / "working-a-case.yaml").read_text()
                                                 .replace("id: working-a-case", "id: working-a-case-2", 1))
    result = CliRunner().invoke(cli, ["audit", "--reproduce", "report.json"])
    assert result.exit_code == 2 and "sops/extra.yaml: part of the pack now" in result.stderr, result.output


def test_findings_that_differ_exit_1_with_the_counts_of_each_rule_that_changed(project: Path) -> None:
    doc = _report()
    gone = doc["violations"].pop(0)
    rule = gone["rule"]
    was = sum(v["rule"] == rule for v in doc["violations"]) + 1
    Path("edited.json").write_text(json.dumps(doc))
    result = CliRunner().invoke(cli, ["audit", "--reproduce", "edited.json"])
    assert result.exit_code == 1, result.output
    assert result.stdout.splitlines() == ["edited.json: the findings differ:",
                                          f"  {rule}: violations {was - 1} -> {was} (1 new, 0 gone)"]


def test_reproduce_takes_no_logs_nor_options_that_change_the_audit_and_refuses_a_report_of_stdin(
        project: Path) -> None:
    _report()
    refused = CliRunner().invoke(cli, ["audit", "--reproduce", "report.json", "events.jsonl", "--set", "x=1"])
    assert refused.exit_code == 2 and "drop LOGS, --set" in refused.stderr
    Path("stdin.json").write_text(_audit("-", "--format", "json", stdin=(project / "events.jsonl").read_bytes()).stdout)
    from_stdin = CliRunner().invoke(cli, ["audit", "--reproduce", "stdin.json"])
    assert from_stdin.exit_code == 2 and "the audit read stdin" in from_stdin.stderr
    Path("old.json").write_text('{"summary": {}}')
    old = CliRunner().invoke(cli, ["audit", "--reproduce", "old.json"])
    assert old.exit_code == 2 and "has no provenance" in old.stderr
    assert CliRunner().invoke(cli, ["audit"]).exit_code == 2
