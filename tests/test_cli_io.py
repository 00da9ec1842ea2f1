"""Inputs and outputs of the audit command: stdin, gzip, report files, facts files."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine.cli import cli

from .conftest import engine_blind

LINE = json.dumps({"id": "e1", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged",
                   "actor": "someone"}) + "\n"


def test_a_gzipped_log_and_stdin_are_read(tmp_path: Path, runner: CliRunner) -> None:
    gz = tmp_path / "log.jsonl.gz"
    with gzip.open(gz, "wt") as fh:
        fh.write(LINE)
    from_gz = runner.invoke(cli, ["audit", str(gz), "--format", "json", "--fail-on", "never"])
    from_stdin = runner.invoke(cli, ["audit", "-", "--format", "json", "--fail-on", "never"], input=LINE)
    assert from_gz.exit_code == from_stdin.exit_code == 0
    assert json.loads(from_gz.stdout)["summary"]["events"] == 1
    assert json.loads(from_stdin.stdout)["summary"]["events"] == 1


def test_the_report_is_written_to_the_output_file(tmp_path: Path, runner: CliRunner) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(LINE)
    out = tmp_path / "reports" / "audit.json"
    result = runner.invoke(cli, ["audit", str(log), "--format", "json", "-o", str(out)])
    assert result.exit_code == 1  # the review by a non-owner is an error
    assert json.loads(out.read_text())["violations"][0]["rule"] == "case-assignment/review-by-owner-only"
    assert [p.name for p in out.parent.iterdir()] == ["audit.json"]  # no temporary file left behind


def test_fail_on_sets_the_exit_code_by_severity(tmp_path: Path, runner: CliRunner) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.created",
                               "actor": "fl.ana", "data": {"record": "account", "associated_installer": "X",
                                                           "request_type": "A", "request_subtype": "B",
                                                           "description": "d"}}) + "\n")
    facts = tmp_path / "facts.yaml"
    facts.write_text("users:\n  - {id: fl.ana, team: Support, role: frontline}\n")
    args = ["audit", str(log), "--facts", str(facts)]
    assert runner.invoke(cli, args).exit_code == 0  # only a warning (create-from-contact)
    assert runner.invoke(cli, [*args, "--fail-on", "warning"]).exit_code == 1


def test_a_bad_facts_file_is_reported_with_its_line(tmp_path: Path, runner: CliRunner) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(LINE)
    facts = tmp_path / "facts.yaml"
    facts.write_text("users:\n  - {team: Support}\n")
    result = runner.invoke(cli, ["audit", str(log), "--facts", str(facts)])
    assert result.exit_code == 2
    assert "facts.yaml:2" in result.output and "needs an 'id'" in result.output
    missing = runner.invoke(cli, ["audit", str(log), "--facts", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output and "Traceback" not in missing.output


def test_a_bad_as_of_is_a_usage_error(tmp_path: Path, runner: CliRunner) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text(LINE)
    result = runner.invoke(cli, ["audit", str(log), "--as-of", "yesterday"])
    assert result.exit_code == 2 and "--as-of" in result.output


def test_help_lists_the_commands_and_exit_codes(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["--help"])
    assert result.exit_code == 0
    for word in ("validate", "rules", "audit", "Exit codes"):
        assert word in result.output


def test_writing_to_a_device_writes_in_place_and_never_replaces_it(tmp_path: Path, runner: CliRunner) -> None:
    import os
    import stat
    log = tmp_path / "log.jsonl"
    log.write_text(LINE)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    import threading
    received: list[bytes] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_bytes()))
    reader.start()
    result = runner.invoke(cli, ["audit", str(log), "--format", "json", "-o", str(fifo), "--fail-on", "never"])
    reader.join(timeout=10)
    assert result.exit_code == 0
    assert stat.S_ISFIFO(fifo.stat().st_mode)  # still a pipe, not a file renamed over it
    assert b'"violations"' in received[0]


def test_an_output_is_never_written_over_an_input_or_a_read_only_file(tmp_path: Path) -> None:
    import os
    import stat

    log = tmp_path / "log.jsonl"
    log.write_text(json.dumps({"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"}) + "\n")
    before = log.read_bytes()
    over_input = CliRunner().invoke(cli, ["audit", str(log), "--format", "json", "-o", str(log)])
    assert over_input.exit_code == 2 and "one of the files this command reads" in over_input.stderr
    assert log.read_bytes() == before
    locked = tmp_path / "locked.json"
    locked.write_text("keep")
    os.chmod(locked, stat.S_IRUSR)
    refused = CliRunner().invoke(cli, ["audit", str(log), "--format", "json", "-o", str(locked)])
    assert refused.exit_code == 2 and "read-only" in refused.stderr
    assert locked.read_text() == "keep"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["locked.json", "log.jsonl"]  # no temporary file left


def test_a_failed_write_leaves_no_temporary_file(tmp_path: Path, monkeypatch: Any) -> None:
    import os

    from sopengine import cli as cli_module

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    target = tmp_path / "report.json"
    with pytest.raises(cli_module.UsageError, match="No space left"):
        cli_module._write("text", str(target))
    assert list(tmp_path.iterdir()) == []


def test_grouped_on_a_log_that_is_not_grouped_fails_with_the_line_instead_of_guessing(tmp_path: Path) -> None:
    from sopengine import native

    rows = [{"id": "a1", "case": "A", "time": "2024-05-06T09:00:00Z", "type": "review.logged"},
            {"id": "b1", "case": "B", "time": "2024-05-06T09:01:00Z", "type": "review.logged"},
            {"id": "a2", "case": "A", "time": "2024-05-06T09:02:00Z", "type": "review.logged"}]
    log = tmp_path / "log.jsonl"
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    refused = CliRunner().invoke(cli, ["audit", str(log), "--grouped", "--engine", "python"])
    assert refused.exit_code == 2, refused.output
    assert f"{log}:3: case 'A' comes back after other cases" in refused.stderr
    assert "Traceback" not in refused.output
    if native.available():  # the core keeps every case it reads from a file: --grouped is only a hint there
        hinted = CliRunner().invoke(cli, ["audit", str(log), "--grouped", "--engine", "native", "--format", "json"])
        plain = CliRunner().invoke(cli, ["audit", str(log), "--engine", "python", "--format", "json"])
        assert hinted.exit_code == plain.exit_code and engine_blind(hinted.stdout) == engine_blind(plain.stdout)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_events_without_ids_in_two_files_of_one_name_are_not_duplicates(tmp_path: Path, engine: str) -> None:
    from sopengine import native

    if engine == "native" and not native.available():
        pytest.skip("the native core is not built")
    row = {"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "actor": "a"}
    logs = []
    for month in ("may", "jun"):
        (tmp_path / month).mkdir()
        log = tmp_path / month / "events.jsonl"
        log.write_text(json.dumps(row) + "\n")
        logs.append(str(log))
    result = CliRunner().invoke(cli, ["audit", *logs, "--format", "json", "--engine", engine, "--fail-on", "never"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)["summary"]
    assert summary["events"] == 2 and summary["rejected"] == 0
