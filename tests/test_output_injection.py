"""Data cannot take over a terminal or a CI log: newlines, workflow commands and escape sequences in
case ids, messages and scenario names reach text output as visible escapes, on one line."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.textsafe import line

from .conftest import ROOT

HOSTILE_CASE = "C1\n::error file=README.md::pwned\x1b[31m\u2028"


def _assert_inert(text: str) -> None:
    for row in text.splitlines():
        assert not row.startswith("::"), row
    assert "\x1b" not in text and "\u2028" not in text and "\r" not in text
    assert "pwned" in text  # shown, escaped, not dropped


def test_line_escapes_controls_and_never_starts_a_workflow_command() -> None:
    assert line("a\nb\r\x00\x7f") == "a\\nb\\r\\x00\\x7f"
    assert line("::warning::x") == " ::warning::x"
    assert line("tab\tkept, é kept") == "tab\tkept, é kept"


def test_a_hostile_case_id_stays_on_its_line_in_the_text_audit_and_the_worklist(tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    rows = [{"id": "e1", "case": HOSTILE_CASE, "time": "2024-05-06T09:00:00Z", "type": "case.created",
             "actor": "fl.ana", "data": {"record": "contact", "account_type": "installer", "origin": "phone",
                      "engine_job": "J-1"}},
            {"id": "e2", "case": HOSTILE_CASE, "time": "2024-05-06T09:05:00Z", "type": "review.logged",
             "actor": "someone\n::error::x", "data": {"comments": "x"}}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    facts = str(ROOT / "examples" / "facts.yaml")
    audit = CliRunner().invoke(cli, ["audit", str(log), "--facts", facts, "--fail-on", "never"])
    assert audit.exit_code == 0, audit.output
    _assert_inert(audit.stdout)
    worklist = CliRunner().invoke(cli, ["next", str(log), "--facts", facts, "--as-of", "2024-05-09T00:00:00Z"])
    assert worklist.exit_code == 0, worklist.output
    _assert_inert(worklist.stdout)


def test_a_hostile_scenario_name_stays_on_its_line_in_the_test_report(tmp_path: Path) -> None:
    pack = tmp_path / "pack"
    pack.mkdir()
    (pack / "lib.yaml").write_text((ROOT / "tests" / "packs" / "library" / "library.yaml").read_text())
    (pack / "lib.test.yaml").write_text(
        'sop: library\nscenarios:\n  - name: "fails\\n::error file=x::pwned\\e"\n'
        '    events:\n      - {at: 0m, type: loan.borrowed, actor: desk}\n'
        '    expect: {violations: [{rule: nothing-like-this}]}\n')
    result = CliRunner().invoke(cli, ["test", str(pack)])
    assert result.exit_code == 1, result.output
    _assert_inert(result.stdout)
