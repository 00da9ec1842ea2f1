"""Event data checked against the pack's declared fields as events are read (sopengine.datacheck and the
core's vocab.rs): a declared field of another type or outside its allowed values rejects the line, or with
--lenient-data is kept and counted per field; an undeclared field warns once per field. Both engines, every
way in (the core's own reader, events fed from Python, CSV through a mapping, --jobs workers)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sopengine import load_pack
from sopengine.adapters import InputSpec
from sopengine.audit import audit_paths
from sopengine.cli import cli
from sopengine.findings import AuditResult
from sopengine.native import available

from .conftest import engine_blind
from .fuzzing import budget

PACK = """\
events:
  t.a:
    data:
      s: {type: string, enum: [open, closed]}
      n: {type: number}
      b: {type: boolean}
      l: {type: list}
      o: {type: object}
      at: {type: time}
      any: {type: any, enum: [1, "one"]}
      text: {type: string}
  t.b:
    data:
      text: {type: string}
sop: {id: dc, title: Data checks, source: {document: dc.txt}}
rules:
  - id: no-closed
    kind: forbid
    severity: error
    description: a t.a that says closed
    source: {document: dc.txt, step: "1"}
    message: "closed: {data.s}"
    on: t.a
    when: "data.s == 'closed'"
"""

ENGINES = ["python"] + (["native"] if available() else [])


@pytest.fixture(scope="module")
def pack_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("datacheck")
    (folder / "dc.yaml").write_text(PACK)
    return folder


def _line(n: int, etype: str, data: str, case: str | None = None) -> str:
    """A log line whose data object is given as JSON text (so that it may repeat a key)."""
    return (f'{{"id": "e{n}", "case": "{case or f"C{n}"}", "time": "2026-01-01T10:{n % 60:02d}:00Z", '
            f'"type": "{etype}", "actor": "ann", "data": {data}}}')


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def _audit(pack_dir: Path, log: Path, engine: str, *extra: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, ["audit", "--sops", str(pack_dir), str(log), "--format", "json",
                                      "--engine", engine, "--max-rejected", "100%", *extra])
    return result.exit_code, result.stdout, result.stderr


LINES = [
    _line(1, "t.a", '{"s": "Closed"}'),                       # not an allowed value; a did-you-mean
    _line(2, "t.a", '{"s": 3}'),                              # a number where a string is declared
    _line(3, "t.a", '{"s": "closed", "chanel": "x"}'),        # undeclared: kept, warned
    _line(4, "t.a", '{"b": "yes", "n": true, "l": "a;b"}'),   # three faults on one line
    _line(5, "t.a", '{"at": "yesterday"}'),                   # not a time
    _line(6, "t.a", '{"at": "2026-01-01T10:00:00Z", "any": 1.0, "o": {"k": 1}}'),  # all fine (1.0 == 1)
    _line(7, "t.b", '{"s": "open", "txt": "x"}'),             # s is declared for t.a, not t.b; txt nowhere
    _line(8, "t.a", '{"s": null, "n": "", "chanel": null}'),  # null and "" are not filled: not checked
    _line(9, "t.a", '{"chanel": "x", "chanel": null}'),       # a repeated key: the last value counts
    _line(10, "t.a", '{"s": "closed", "chanel": "y"}'),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_declared_field_holding_what_its_declaration_refuses_rejects_the_line(pack_dir: Path, tmp_path: Path,
                                                                                engine: str) -> None:
    code, out, _ = _audit(pack_dir, _write(tmp_path / "log.jsonl", LINES), engine)
    data = json.loads(out)
    errors = {r["line"]: r["error"] for r in data["rejected"]}
    assert set(errors) == {1, 2, 4, 5}
    assert errors[1] == ("t.a: data.s 'Closed' is not one of 'open', 'closed' (did you mean 'closed'?) "
                         "(--lenient-data keeps such events)")
    assert "data.s should be a string, not int" in errors[2]
    assert errors[4].startswith("t.a: data.b should be true or false, not str; data.l should be a list, not str; "
                                "data.n should be a number, not bool")
    assert "data.at should be an RFC 3339 time, not 'yesterday'" in errors[5]
    warnings = {w["warning"] for w in data["warnings"]}
    assert warnings == {"data field 'chanel' is not declared by the pack for t.a: 2 event(s), the first here",
                        "data field 's' is not declared by the pack for t.b: 1 event(s), the first here",
                        "data field 'txt' is not declared by the pack for t.b (did you mean 'text'?): 1 event(s), "
                        "the first here"}
    assert [w["line"] for w in data["warnings"]] == [3, 7, 7]
    assert data["summary"]["events"] == 6 and data["summary"]["read"] == 10
    assert len(data["violations"]) == 2 and code == 1


@pytest.mark.parametrize("engine", ENGINES)
def test_lenient_data_keeps_the_events_and_counts_a_warning_per_field(pack_dir: Path, tmp_path: Path,
                                                                      engine: str) -> None:
    lines = LINES + [_line(11, "t.a", '{"s": "Closed"}'), _line(12, "t.a", '{"s": "OPEN"}')]
    code, out, _ = _audit(pack_dir, _write(tmp_path / "log.jsonl", lines), engine, "--lenient-data")
    data = json.loads(out)
    assert data["rejected"] == [] and data["summary"]["events"] == 12
    told = {w["warning"]: w["line"] for w in data["warnings"]}
    assert told[("t.a: data.s 'Closed' is not one of 'open', 'closed' (did you mean 'closed'?), kept "
                 "(--lenient-data): 3 event(s), the first here")] == 1
    assert told["t.a: data.s should be a string, not int, kept (--lenient-data): 1 event(s), the first here"] == 2
    assert told["t.a: data.b should be true or false, not str, kept (--lenient-data): 1 event(s), the first here"] \
        == 4
    assert data["provenance"]["inputs"]["options"] == {"lenient_data": "true"}
    assert code == 1


@pytest.mark.skipif(not available(), reason="the native core is not built")
@pytest.mark.parametrize("lenient", [[], ["--lenient-data"]], ids=["strict", "lenient"])
@pytest.mark.parametrize("jobs", ["1", "2"])
def test_both_engines_and_native_workers_give_the_same_report(pack_dir: Path, tmp_path: Path, lenient: list[str],
                                                              jobs: str) -> None:
    log = _write(tmp_path / "log.jsonl", LINES * 1 + [_line(20 + i, "t.a", '{"s": "Closed", "zz": 1}')
                                                      for i in range(7)])
    python = _audit(pack_dir, log, "python", *lenient)
    native = _audit(pack_dir, log, "native", "--jobs", jobs, *lenient)
    assert native[0] == python[0]
    assert engine_blind(native[1]) == engine_blind(python[1])


@pytest.mark.skipif(not available(), reason="the native core is not built")
def test_a_case_replayed_by_the_core_leaves_out_the_events_rejected_for_their_data(pack_dir: Path,
                                                                                   tmp_path: Path) -> None:
    """An event that comes late makes the core read its case's events again: the refused one stays out."""
    lines = [_line(30, "t.a", '{"s": "closed"}', "K"), _line(10, "t.a", '{"s": "Closed"}', "K"),
             _line(20, "t.a", '{"s": "closed", "n": "x"}', "K")]
    log = _write(tmp_path / "late.jsonl", lines)
    outputs = [_audit(pack_dir, log, engine) for engine in ("python", "native")]
    data = json.loads(outputs[0][1])
    assert data["summary"]["rejected"] == 2 and len(data["violations"]) == 1
    assert engine_blind(outputs[1][1]) == engine_blind(outputs[0][1])


@pytest.mark.parametrize("engine", ENGINES)
def test_csv_text_becomes_the_declared_boolean_number_or_list(pack_dir: Path, tmp_path: Path, engine: str) -> None:
    csv = tmp_path / "log.csv"
    csv.write_text("case,time,type,s,b,n,l\n"
                   "C1,2026-01-01T10:00:00Z,t.a,closed,Yes,2.5,a;b\n"
                   "C2,2026-01-01T10:00:00Z,t.a,open,maybe,3,x\n")
    code, out, _ = _audit(pack_dir, csv, engine)
    data = json.loads(out)
    assert data["summary"]["events"] == 1
    assert [r["error"] for r in data["rejected"]] == [
        "t.a: data.b should be true or false, not str (--lenient-data keeps such events)"]
    assert code == 1 and data["violations"][0]["message"] == "closed: closed"


def test_events_fed_through_the_api_are_checked_and_a_lenient_session_notes_them(pack_dir: Path) -> None:
    from sopengine import Event, Session
    from sopengine.datacheck import DataFault

    pack = load_pack([pack_dir])
    session = Session(pack)
    with pytest.raises(DataFault, match=r"data.s 'Open' is not one of"):
        session.feed(Event("e1", "C1", 0.0, "t.a", None, {"s": "Open"}))
    lenient = Session(pack, lenient_data=True)
    lenient.feed(Event("e1", "C1", 0.0, "t.a", None, {"s": "Open"}))
    assert [w.message for w in lenient.result().warnings] == [
        "t.a: data.s 'Open' is not one of 'open', 'closed' (did you mean 'open'?), kept (--lenient-data): "
        "1 event(s), the first here"]


_VALUES = st.sampled_from([None, "", "open", "closed", "Open", "x", 0, 1, 1.0, 2.5, True, False, [], ["a"], {},
                           {"k": 1}, "2026-01-01T10:00:00Z", "2026-13-01T10:00:00Z", "one", "1"])
_KEYS = st.sampled_from(["s", "n", "b", "l", "o", "at", "any", "text", "zz", "S"])
_LINE = st.tuples(st.sampled_from(["t.a", "t.b"]), st.sampled_from(["C1", "C2", "C3"]), st.integers(0, 50),
                  st.lists(st.tuples(_KEYS, _VALUES), max_size=5))


def _report(result: AuditResult) -> bytes:
    return orjson.dumps(result.to_json(), option=orjson.OPT_SORT_KEYS)


@pytest.mark.skipif(not available(), reason="the native core is not built")
@budget(40)
@given(st.lists(_LINE, min_size=1, max_size=12), st.booleans())
def test_generated_data_gives_the_same_report_on_both_engines_and_both_readers(
        tmp_path_factory: pytest.TempPathFactory, lines: list[Any], lenient: bool) -> None:
    """The core's own reader, the Python reader, and events fed to the core from Python all agree."""
    folder = tmp_path_factory.mktemp("gen")
    (folder / "dc.yaml").write_text(PACK)
    pack = load_pack([folder])
    text = [(f'{{"id": "e{i}", "case": "{case}", "time": "2026-01-01T10:{minute:02d}:00Z", "type": "{etype}", '
             f'"data": {{{", ".join(f"{json.dumps(k)}: {json.dumps(v)}" for k, v in pairs)}}}}}')
            for i, (etype, case, minute, pairs) in enumerate(lines)]
    log = _write(folder / "log.jsonl", text)
    spec = InputSpec(lenient_data=lenient)
    reference = _report(audit_paths(pack, [str(log)], engine="python", inputs=spec))
    assert _report(audit_paths(pack, [str(log)], engine="native", inputs=spec)) == reference
    assert _report(audit_paths(pack, [str(log)], engine="native", inputs=spec, timelines=5)) == reference
