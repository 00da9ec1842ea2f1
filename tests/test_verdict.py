"""Never a false "clean": an audit whose input could not be read says so in every format and exits 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "events.jsonl"


def _audit(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["audit", *args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def test_a_csv_whose_rows_all_fail_exits_2_and_says_why_in_every_format(tmp_path: Path) -> None:
    csv = tmp_path / "export.csv"  # a semicolon CSV is read (the delimiter is sniffed); its columns are not known
    csv.write_text("ticket;when;what\nC1;2024-05-06T09:00:00Z;review.logged\nC2;2024-05-06T10:00:00Z;review.logged\n")
    code, text, err = _audit(str(csv))
    assert code == 2 and text.startswith("INPUT NOT READ: none of the 2 records read is an event")
    assert "No violations" not in text and "input not read" in err
    _, out, _ = _audit(str(csv), "--format", "json")
    assert "is an event" in json.loads(out)["input_problem"]
    _, out, _ = _audit(str(csv), "--format", "sarif")
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert "is an event" in invocation["toolExecutionNotifications"][0]["message"]["text"]
    _, out, _ = _audit(str(csv), "--format", "junit")
    assert '<error type="input"' in out
    _, out, _ = _audit(str(csv), "--format", "github")
    assert out.startswith("::error title=sopengine%3A input not read::")


def test_an_empty_log_exits_2(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    code, text, _ = _audit(str(empty))
    assert code == 2 and "holds no record at all" in text


@pytest.mark.parametrize(("limit", "code"), [("1%", 2), ("5", 2), ("10%", 1), ("40", 1)])
def test_the_rejected_share_beyond_max_rejected_exits_2(tmp_path: Path, limit: str, code: int) -> None:
    lines = EXAMPLE.read_text().splitlines()[:300]
    bad = ["{not json"] * 30
    log = tmp_path / "log.jsonl"
    log.write_text("\n".join(lines + bad) + "\n")
    got, text, _ = _audit(str(log), "--facts", str(ROOT / "examples" / "facts.yaml"), "--max-rejected", limit)
    assert got == code, text[:300]
    if code == 2:
        assert "30 of 330 records were rejected (9.1%" in text and "30 × not valid JSON" in text


def test_a_clean_log_within_the_limit_still_exits_on_its_findings() -> None:
    code, text, _ = _audit(str(EXAMPLE), "--facts", str(ROOT / "examples" / "facts.yaml"))
    assert code == 1 and "INPUT NOT READ" not in text
