"""--quiet: on success nothing but the chosen format's own output (text: only findings and errors), no notice
or tip on stderr; the exit codes are those of the same command without it."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from sopengine.cli import cli

from .conftest import ROOT, SOPS

EXAMPLE_LOG = str(ROOT / "examples" / "events.jsonl")
FACTS = str(ROOT / "examples" / "facts.yaml")
QUIET_EVENT = json.dumps({"id": "e1", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "chatter.posted",
                          "actor": "someone", "data": {}}) + "\n"  # no rule finds anything in it
BUNDLED_NOTICE = "checking the bundled demo pack"


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A directory with no pack of its own: commands check the bundled pack and say so on stderr."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _both(*args: str, stdin: str | None = None) -> tuple[Result, Result]:
    """The command as given and with --quiet."""
    return CliRunner().invoke(cli, list(args), input=stdin), CliRunner().invoke(cli, [*args, "--quiet"], input=stdin)


@pytest.mark.parametrize("command", [["validate"], ["test"], ["test", "--threshold", "100"],
                                     ["audit", "log.jsonl"]])
def test_a_clean_run_prints_nothing_at_all(elsewhere: Path, command: list[str]) -> None:
    (elsewhere / "log.jsonl").write_text(QUIET_EVENT)
    loud, quiet = _both(*command)
    assert loud.exit_code == quiet.exit_code == 0, loud.output
    assert loud.stdout and BUNDLED_NOTICE in loud.stderr
    assert (quiet.stdout, quiet.stderr) == ("", "")


def test_validate_lists_only_the_problems_of_a_broken_pack(tmp_path: Path) -> None:
    shutil.copytree(SOPS, tmp_path / "sops")
    pack = tmp_path / "sops" / "pack.yaml"
    pack.write_text(pack.read_text().replace("events:\n", "events:\n  broken: []\n", 1))
    loud, quiet = _both("validate", str(tmp_path / "sops"))
    assert loud.exit_code == quiet.exit_code == 1
    assert "problem(s) found" in loud.stderr and quiet.stderr == ""
    assert quiet.stdout == loud.stdout and "pack.yaml:" in quiet.stdout


def test_lint_prints_the_unsuppressed_findings_without_the_summary(tmp_path: Path) -> None:
    shutil.copytree(SOPS, tmp_path / "sops")
    with open(tmp_path / "sops" / "pack.yaml", "a") as fh:
        fh.write("suppress:\n  - {code: unused-event, target: email.closed, reason: kept for the 2025 pack}\n")
    loud, quiet = _both("lint", str(tmp_path / "sops"))
    assert loud.exit_code == quiet.exit_code == 0
    assert "file(s) checked" in loud.stdout and "'email.closed'" in loud.stdout
    findings = [line for line in loud.stdout.splitlines()[:-2] if "(suppressed:" not in line]
    assert quiet.stdout.splitlines() == findings and "'document.uploaded'" in quiet.stdout
    assert quiet.stderr == ""


def test_other_formats_are_written_as_without_it(tmp_path: Path) -> None:
    loud, quiet = _both("lint", "bundled", "--format", "sarif")
    assert loud.exit_code == quiet.exit_code == 0 and quiet.stdout == loud.stdout
    reports = [tmp_path / "loud.json", tmp_path / "quiet.json"]
    results = [CliRunner().invoke(cli, ["audit", EXAMPLE_LOG, "--facts", FACTS, "--format", "json", "-o",
                                        str(reports[0])]),
               CliRunner().invoke(cli, ["audit", EXAMPLE_LOG, "--facts", FACTS, "--format", "json", "-o",
                                        str(reports[1]), "-q"])]
    assert [r.exit_code for r in results] == [1, 1]
    assert reports[0].read_bytes() == reports[1].read_bytes()


def test_an_audit_with_violations_prints_only_its_findings_and_exits_1() -> None:
    loud, quiet = _both("audit", EXAMPLE_LOG, "--facts", FACTS)
    assert loud.exit_code == quiet.exit_code == 1
    assert loud.stdout.startswith("sopengine audit as of") and "\nProvenance\n" in loud.stdout
    assert quiet.stdout.startswith("Violations (170)\n")
    assert "sopengine audit as of" not in quiet.stdout and "Provenance" not in quiet.stdout
    for section in ("Violations (", "Next actions (", "Checks that could not be decided ("):
        assert section in quiet.stdout
    assert quiet.stdout in loud.stdout  # the same findings, as they read without --quiet


def test_a_failing_scenario_is_shown_without_the_passing_ones(tmp_path: Path) -> None:
    shutil.copytree(SOPS, tmp_path / "sops")
    tests = tmp_path / "sops" / "case-creation.test.yaml"
    text = tests.read_text()
    tests.write_text(text.replace("{rule: search-existing-first, case: B,", "{rule: search-existing-first, case: C,", 1))
    loud, quiet = _both("test", str(tmp_path / "sops"))
    assert loud.exit_code == quiet.exit_code == 1
    assert "PASS" in loud.stdout and "PASS" not in quiet.stdout and "scenario(s):" not in quiet.stdout
    assert quiet.stdout.startswith("FAIL") and quiet.stdout.count("FAIL") == loud.stdout.count("FAIL") == 1


def test_notices_about_how_an_audit_runs_are_left_out() -> None:
    loud, quiet = _both("audit", "-", "--jobs", "2", "--engine", "python", "--fail-on", "never", stdin=QUIET_EVENT)
    assert loud.exit_code == quiet.exit_code == 0
    assert "--jobs 2: an input is a pipe" in loud.stderr and quiet.stderr == ""


def test_no_progress_bar_unless_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """As on a terminal outside CI, where the bar shows by default."""
    monkeypatch.setattr("sopengine.cli.wanted", lambda setting: True if setting is None else setting)
    args = ("audit", EXAMPLE_LOG, "--facts", FACTS, "--fail-on", "never", "-o", os.devnull)
    loud, quiet = _both(*args)
    assert "B/s" in loud.stderr and quiet.stderr == ""
    asked = CliRunner().invoke(cli, [*args, "--quiet", "--progress"])
    assert "B/s" in asked.stderr


def test_a_reproduced_audit_says_nothing(tmp_path: Path) -> None:
    report = tmp_path / "audit.json"
    made = CliRunner().invoke(cli, ["audit", EXAMPLE_LOG, "--facts", FACTS, "--format", "json", "-o", str(report)])
    assert made.exit_code == 1
    loud, quiet = _both("audit", "--reproduce", str(report))
    assert loud.exit_code == quiet.exit_code == 0
    assert "reproduced: the findings are identical" in loud.stdout and (quiet.stdout, quiet.stderr) == ("", "")
