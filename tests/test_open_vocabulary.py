"""pack.vocabulary: open: events of types the pack does not declare are read and evaluated, as a process-mining
log names any activity; a closed pack (the default) still rejects them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine import Event, load_pack
from sopengine.audit import new_session
from sopengine.cli import cli
from sopengine.errors import PackError
from sopengine.native import available
from sopengine.timeutil import format_time

from .conftest import START, engine_blind, write_jsonl

PACK = """\
pack:
  name: ov
  vocabulary: open
events:
  a: {data: {n: {type: number}}}
  b: {}
sop: {id: ov, title: Open vocabulary, source: {document: ov.txt}}
rules:
  - id: b-right-after-a
    kind: declare
    template: chain_response
    severity: error
    description: the event right after an a is a b
    source: {document: ov.txt, step: "1"}
    activation: {on: a}
    target: {on: b}
    message: "{event.type} is not followed right away by a b"
  - id: at-most-four-events
    kind: at_most
    severity: warning
    description: a case has at most four events of any type
    source: {document: ov.txt, step: "2"}
    on: any
    max: 4
    message: "more than four events: {event.type}"
  - id: no-other-after-b
    kind: declare
    template: not_succession
    severity: info
    description: nothing but a and b after a b
    source: {document: ov.txt, step: "3"}
    activation: {on: b}
    target: {on: {any_except: [a, b]}}
    message: "{event.type} after a b"
"""

ENGINES = ["python"] + (["native"] if available() else [])
# K1: a, then the undeclared 'x' breaks the chain, then b. K2: a b: held. K3: b, then 'y z' after it, five events.
ROWS = [("K1", "a", {"n": 1}), ("K1", "x", {"n": "text: not checked"}), ("K1", "b", {}),
        ("K2", "a", {}), ("K2", "b", {}),
        ("K3", "b", {}), ("K3", "y", {}), ("K3", "z", {}), ("K3", "a", {}), ("K3", "b", {})]


def _log(tmp_path: Path) -> Path:
    return write_jsonl(tmp_path / "log.jsonl", [
        {"id": f"e{i}", "case": c, "time": format_time(START + 60 * i), "type": t, "data": d}
        for i, (c, t, d) in enumerate(ROWS)] + ['{"case": "K9", "time": "2024-01-01T00:00:00Z"}'])


def _pack_dir(tmp_path: Path, text: str = PACK) -> Path:
    (tmp_path / "pack").mkdir(exist_ok=True)
    (tmp_path / "pack" / "ov.yaml").write_text(text)
    return tmp_path / "pack"


@pytest.mark.parametrize("engine", ENGINES)
def test_undeclared_types_are_evaluated_in_an_open_pack(tmp_path: Path, engine: str) -> None:
    pack = load_pack([_pack_dir(tmp_path)])
    session = new_session(pack, None, engine, cases_complete=True)
    for i, (case, etype, data) in enumerate(ROWS):
        session.feed(Event(f"e{i}", case, START + 60 * i, etype, None, dict(data)))
    found = sorted((v.case, v.rule, v.events, v.message) for v in session.result().violations)
    assert found == [
        ("K1", "ov/b-right-after-a", ("e0", "e1"), "a is not followed right away by a b"),
        ("K3", "ov/at-most-four-events", ("e9", "e5", "e6", "e7", "e8"), "more than four events: b"),
        ("K3", "ov/no-other-after-b", ("e6", "e5"), "y after a b"),
        ("K3", "ov/no-other-after-b", ("e7", "e5"), "z after a b"),
    ]


@pytest.mark.skipif(not available(), reason="the native core is not built")
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_both_engines_give_the_same_report_and_every_line_is_accounted_for(tmp_path: Path, jobs: str) -> None:
    pack, log = _pack_dir(tmp_path), _log(tmp_path)
    outputs = []
    for engine in ("python", "native"):
        result = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(pack), "--cases-complete",
                                          "--format", "json", "--engine", engine, "--jobs", jobs,
                                          "--max-rejected", "5"])
        assert result.exit_code == 1, result.output
        outputs.append(result.stdout)
    assert engine_blind(outputs[1]) == engine_blind(outputs[0])
    data = json.loads(outputs[0])
    counts = data["summary"]
    assert (counts["events"], counts["rejected"], counts["skipped"]) == (len(ROWS), 1, 0)
    assert counts["read"] == counts["events"] + counts["rejected"] + counts["skipped"]
    assert len(data["violations"]) == 4


@pytest.mark.parametrize("engine", ENGINES)
def test_a_closed_pack_still_rejects_undeclared_types(tmp_path: Path, engine: str) -> None:
    pack = _pack_dir(tmp_path, PACK.replace("  vocabulary: open\n", ""))
    result = CliRunner().invoke(cli, ["audit", str(_log(tmp_path)), "--sops", str(pack), "--format", "json",
                                      "--engine", engine, "--max-rejected", "5"])
    data = json.loads(result.stdout)
    assert data["summary"]["rejected"] == 4
    assert any("unknown event type 'x'" in r["error"] for r in data["rejected"])
    with pytest.raises(ValueError, match="unknown event type"):
        new_session(load_pack([pack]), None, engine).feed(Event("e", "K", START, "x", None, {}))


def test_rules_still_name_declared_types_only(tmp_path: Path) -> None:
    pack = _pack_dir(tmp_path, PACK.replace("target: {on: b}", "target: {on: w}"))
    with pytest.raises(PackError, match="unknown event type 'w'"):
        load_pack([pack])


@pytest.mark.parametrize("engine", ENGINES)
def test_an_imported_declare_model_reads_the_logs_other_activities(tmp_path: Path, engine: str) -> None:
    """import-declare writes an open pack: a log's activities the model does not name are read (not rejected)
    and stand between others, as in Declare: here 'Check' breaks Chain Response[Apply, Approve] in C1."""
    (tmp_path / "model.decl").write_text("activity Apply\nactivity Approve\nChain Response[Apply, Approve] | | |\n")
    (tmp_path / "pack").mkdir()
    imported = CliRunner().invoke(cli, ["import-declare", str(tmp_path / "model.decl"), "-o",
                                        str(tmp_path / "pack" / "model.yaml")])
    assert imported.exit_code == 0, imported.output
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": f"e{i}", "case": c, "time": format_time(START + 60 * i), "type": t}
        for i, (c, t) in enumerate([("C1", "Apply"), ("C1", "Check"), ("C1", "Approve"), ("C2", "Apply"),
                                    ("C2", "Approve"), ("C2", "Archive")])])
    result = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(tmp_path / "pack"), "--cases-complete",
                                      "--format", "json", "--engine", engine])
    data = json.loads(result.stdout)
    assert data["summary"]["rejected"] == 0 and data["summary"]["events"] == 6
    assert [(v["case"], v["events"]) for v in data["violations"]] == [("C1", ["e0", "e1"])]
