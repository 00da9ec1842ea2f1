"""The native core's CSV reader (issue 13, item 7) against the Python path.

The Python path reads CSV with :func:`sopengine.adapters.readers.read_csv` (the csv module) and maps each row in
Python; the native core reads the rows and builds their events itself when the file and its mapping are ones it
reads exactly (:mod:`sopengine.adapters.native_csv`). Every test here audits one input both ways and compares
the JSON report byte for byte: the same events, rejections with their reasons and lines, skipped rows,
warnings, counts and findings; where the Python reader stops with an error, the native one stops with the same.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st

from sopengine import load_pack
from sopengine.adapters import InputSpec
from sopengine.adapters.native_xes import native_inputs
from sopengine.audit import audit, audit_paths, load_facts, read_records
from sopengine.errors import InputError
from sopengine.findings import AuditResult
from sopengine.limits import Limits
from sopengine.model import Pack
from sopengine.native import available
from sopengine.timeutil import parse_time

from .conftest import ROOT, SOPS
from .fuzzing import budget

pytestmark = pytest.mark.skipif(not available(), reason="the native core is not built")

EXAMPLE = ROOT / "examples" / "events.jsonl"
HEAD = "case,time,type,actor,id,comments\n"
ROW = "C{n},2024-05-06T09:{m:02d}:00Z,review.logged,u1,e{n}-{m},ok {m}\n"


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack([SOPS])


@pytest.fixture(scope="module")
def facts() -> Any:
    return load_facts([ROOT / "examples" / "facts.yaml"])


def python_path(pack: Pack, path: Path, spec: InputSpec, facts: Any, as_of: float | None = None) -> AuditResult:
    """The audit through the Python reader and mapping, on the native engine (the reference of this module)."""
    return audit(pack, read_records(pack, [path], inputs=spec), facts, as_of, engine="native", limits=spec.limits,
                 lenient_data=spec.lenient_data, cases_complete=spec.cases_complete)


def native_path(pack: Pack, path: Path, spec: InputSpec, facts: Any, as_of: float | None = None) -> AuditResult:
    return audit_paths(pack, [str(path)], facts, as_of, inputs=spec, engine="native")


def outcome(run: Any) -> bytes:
    """The report as JSON, or the error the reading stopped with."""
    try:
        return orjson.dumps(run().to_json())
    except InputError as exc:
        return f"InputError: {exc}".encode()


def assert_same(pack: Pack, path: Path, facts: Any = None, spec: InputSpec | None = None, *,
                native: bool = True, as_of: float | None = None) -> bytes:
    """Both paths give the same report (or stop with the same error); ``native``: the core reads the file."""
    spec = spec or InputSpec()
    assert (native_inputs([path], spec, pack) is not None) is native
    got = outcome(lambda: native_path(pack, path, spec, facts, as_of))
    want = outcome(lambda: python_path(pack, path, spec, facts, as_of))
    assert got == want
    if not got.startswith(b"InputError"):
        summary = json.loads(got)["summary"]
        assert summary["read"] == summary["events"] + summary["rejected"] + summary["skipped"]
    return got


@pytest.fixture
def no_python_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python CSV reader fails when called: an audit that passes read the file natively."""
    import sopengine.adapters as adapters

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the Python CSV reader was called")

    monkeypatch.setitem(adapters._CONTAINERS, "csv", refuse)
    monkeypatch.setattr(adapters, "read_csv", refuse)


def write(tmp_path: Path, data: bytes | str, name: str = "log.csv") -> Path:
    path = tmp_path / name
    raw = data.encode("utf-8") if isinstance(data, str) else data
    path.write_bytes(gzip.compress(raw) if name.endswith(".gz") else raw)
    return path


def example_csv() -> str:
    """The example log as CSV: the event keys and the data fields as columns."""
    events = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
    columns = ["id", "case", "time", "type", "actor"]
    data = sorted({k for e in events for k in e.get("data", {})})
    out = [",".join(columns + data)]
    for e in events:
        cells = [e.get(k) for k in columns] + [e.get("data", {}).get(k) for k in data]
        out.append(",".join(_cell(c) for c in cells))
    return "\n".join(out) + "\n"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    text = ";".join(map(str, value)) if isinstance(value, list) else str(value).lower() \
        if isinstance(value, bool) else str(value)
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n\r') else text


# --------------------------------------------------------------------------- the shapes of a CSV file

def test_the_example_log_as_csv_reads_natively_as_the_python_path_reads_it(pack: Pack, facts: Any,
                                                                            tmp_path: Path,
                                                                            no_python_reader: None) -> None:
    path = write(tmp_path, example_csv())
    got = outcome(lambda: native_path(pack, path, InputSpec(), facts))
    assert json.loads(got)["summary"]["events"] > 100


def test_the_example_log_as_csv_gives_the_python_paths_report(pack: Pack, facts: Any, tmp_path: Path) -> None:
    text = example_csv()
    out = json.loads(assert_same(pack, write(tmp_path, text), facts))
    assert out["summary"]["events"] > 100 and out["violations"]
    assert_same(pack, write(tmp_path, text, "log.csv.gz"), facts)
    assert_same(pack, write(tmp_path, text.replace("\n", "\r\n"), "crlf.csv"), facts)


def test_as_of_lenient_data_and_complete_cases_hold_as_for_the_python_reader(pack: Pack, facts: Any,
                                                                            tmp_path: Path) -> None:
    path = write(tmp_path, example_csv().replace(",true,", ",maybe,"))
    assert json.loads(assert_same(pack, path, facts, as_of=parse_time("2024-05-07T12:00:00Z")))["summary"]["skipped"]
    out = json.loads(assert_same(pack, path, facts))
    assert any("should be true or false" in r["error"] for r in out["rejected"])  # a declared boolean: "maybe"
    lenient = json.loads(assert_same(pack, path, facts, InputSpec(lenient_data=True, cases_complete=True)))
    assert lenient["summary"]["warnings"] and lenient["summary"]["events"] > out["summary"]["events"]


@pytest.mark.parametrize("text", [
    pytest.param("\ufeff" + HEAD + ROW.format(n=1, m=1), id="bom"),
    pytest.param("sep=;\n" + (HEAD + ROW.format(n=1, m=1)).replace(",", ";"), id="sep-line"),
    pytest.param("SEP=|\r\n" + (HEAD + ROW.format(n=1, m=1)).replace(",", "|"), id="sep-line-upper"),
    pytest.param((HEAD + ROW.format(n=1, m=1)).replace(",", ";"), id="sniffed-semicolon"),
    pytest.param((HEAD + ROW.format(n=1, m=1)).replace(",", "\t"), id="sniffed-tab"),
    pytest.param((HEAD + ROW.format(n=1, m=1)).replace(",", "|"), id="sniffed-pipe"),
    pytest.param('"case";"time,x";type;actor;id;comments\nC1;2024-05-06T09:00:00Z;review.logged;u;e;"a;b"\n',
                 id="sniffed-outside-quotes"),
    pytest.param(HEAD + 'C1,2024-05-06T09:01:00Z,review.logged,u1,e1,"one\ntwo\r\nthree"\n'
                 + ROW.format(n=2, m=2), id="quoted-newlines"),
    pytest.param(HEAD + "\n\n" + ROW.format(n=1, m=1) + '""\n\r\n' + ROW.format(n=1, m=2), id="empty-rows"),
    pytest.param(HEAD + "C1,2024-05-06T09:01:00Z,review.logged,u1\n" + "C1,x,y,z,w,v,u\n" + ROW.format(n=1, m=2),
                 id="wrong-field-counts"),
    pytest.param(HEAD + "C1,2024-05-06T09:01:00Z,review.logged,,,\n", id="empty-values"),
    pytest.param(" Case , TIME,Type ,ACTOR,Id,Comments\n" + ROW.format(n=1, m=1), id="header-case-and-spaces"),
    pytest.param("case,time,type,Case\nC1,2024-05-06T09:01:00Z,review.logged,C2\n"
                 "C1,2024-05-06T09:02:00Z,review.logged,\n", id="a-column-spelt-twice"),
    pytest.param(HEAD + '"C1","2024-05-06T09:01:00Z",review.logged,u1,e1,"say ""hi"""\n', id="quotes"),
    pytest.param(HEAD + 'C1,2024-05-06T09:01:00Z,review.logged,u1,e1,a"b"c\n', id="quote-inside-unquoted"),
    pytest.param(HEAD + '"C1"x,2024-05-06T09:01:00Z,review.logged,u1,e1,c\n' + ROW.format(n=1, m=2),
                 id="text-after-a-closing-quote"),
    pytest.param(HEAD + "C1,2024-05-06T09:01:00Z,review.logged,u1,e1,c\rd\n" + ROW.format(n=1, m=2),
                 id="carriage-return-in-a-field"),
    pytest.param(HEAD + "C1,2024-05-06T09:01:00Z,review.logged,u1,e1,c\r", id="carriage-return-at-the-end"),
    pytest.param(HEAD + ROW.format(n=1, m=1) + 'C1,2024-05-06T09:02:00Z,review.logged,u1,e1,"open\n',
                 id="quote-open-on-the-last-line"),
    pytest.param(HEAD + ROW.format(n=1, m=1) + 'C1,2024-05-06T09:02:00Z,review.logged,u1,e1,"open\n'
                 + ROW.format(n=1, m=3), id="quote-never-closed"),
    pytest.param(HEAD + ROW.format(n=1, m=1) + "C1,2024-05-06T09:02:00Z,no.such,u1,e2,\n"
                 + "C1,2024-05-06 09:03,review.logged,u1,e3,\n" + ",2024-05-06T09:04:00Z,review.logged,,,\n"
                 + ROW.format(n=1, m=1), id="event-checks"),
    pytest.param(HEAD + "C1,2024-05-06T09:01:00Z,review.logged,u1,e1,\x00nul\n", id="nul"),
    pytest.param(HEAD + ROW.format(n=1, m=1).rstrip("\n"), id="no-final-newline"),
    pytest.param(HEAD, id="header-only"),
    pytest.param("sep=;", id="a-sep-line-only"),
    pytest.param("\n" + ROW.format(n=1, m=1) + "\n", id="an-empty-header"),
    pytest.param("case,,type,time\nC1,x,review.logged,2024-05-06T09:01:00Z\n", id="a-column-without-a-name"),
    pytest.param('case,"time\nof day",type\nC1,2024-05-06T09:01:00Z,review.logged\n', id="header-over-two-lines"),
    pytest.param(HEAD + ROW.format(n=1, m=5) + ROW.format(n=1, m=3) + ROW.format(n=2, m=1) + ROW.format(n=1, m=4),
                 id="out-of-order-times"),
])
def test_each_shape_of_csv_reads_natively_as_the_python_path_reads_it(pack: Pack, facts: Any, tmp_path: Path,
                                                                      text: str) -> None:
    assert_same(pack, write(tmp_path, text), facts)
    assert_same(pack, write(tmp_path, text, "log.csv.gz"), facts)


def test_a_delimiter_given_on_the_command_line_is_the_python_readers_too(pack: Pack, facts: Any,
                                                                         tmp_path: Path) -> None:
    text = (HEAD + ROW.format(n=1, m=1)).replace(",", ";").replace("ok 1", "a,b")
    assert_same(pack, write(tmp_path, text), facts, InputSpec(csv_delimiter=";"))
    assert_same(pack, write(tmp_path, text), facts, InputSpec(csv_delimiter="|"))


def test_a_damaged_gzip_file_stops_the_reading_as_the_python_reader_does(pack: Pack, facts: Any,
                                                                        tmp_path: Path) -> None:
    data = gzip.compress((HEAD + "".join(ROW.format(n=n % 7, m=n % 60) for n in range(5000))).encode())
    path = tmp_path / "log.csv.gz"
    path.write_bytes(data[: len(data) // 2])
    assert assert_same(pack, path, facts).startswith(b"InputError: ")


def test_several_files_csv_and_json_lines_read_natively_in_order(pack: Pack, facts: Any, tmp_path: Path) -> None:
    first = write(tmp_path, HEAD + ROW.format(n=1, m=1) + ROW.format(n=2, m=2) + "C1,x\n", "a.csv")
    second = write(tmp_path, (HEAD + ROW.format(n=1, m=1) + ROW.format(n=1, m=3)).replace(",", ";"), "b.csv.gz")
    third = tmp_path / "c.jsonl"
    third.write_text(json.dumps({"id": "e1-3", "case": "C1", "time": "2024-05-06T09:04:00Z",
                                 "type": "review.logged"}) + "\n", encoding="utf-8")
    paths = [first, second, third]
    spec = InputSpec()
    assert native_inputs(paths, spec, pack) is not None
    got = audit_paths(pack, [str(p) for p in paths], facts, inputs=spec, engine="native")
    want = audit(pack, read_records(pack, paths, inputs=spec), facts, engine="native")
    assert orjson.dumps(got.to_json()) == orjson.dumps(want.to_json())
    assert sum("duplicate event id" in r.error for r in got.rejected) == 2


def test_a_line_that_is_not_utf8_is_a_rejected_row(pack: Pack, facts: Any, tmp_path: Path) -> None:
    raw = (HEAD + ROW.format(n=1, m=1)).encode() + b'C1,2024-05-06T09:02:00Z,review.logged,u\xff,e2,"a\n' \
        + b'b\xe9"\n' + ROW.format(n=1, m=3).encode() + b"C1,\xc3\n"
    out = json.loads(assert_same(pack, write(tmp_path, raw), facts))
    assert [r["line"] for r in out["rejected"]] == [3, 6]


def test_a_field_past_the_field_limit_is_a_rejected_row_or_stops_the_reading(pack: Pack, facts: Any,
                                                                           tmp_path: Path) -> None:
    spec = InputSpec(limits=Limits(line_bytes=40))
    long = "é" * 41
    one = HEAD + ROW.format(n=1, m=1) + f"C1,2024-05-06T09:02:00Z,review.logged,u1,e2,{long},x\n" \
        + ROW.format(n=1, m=3) + "C1,2024-05-06T09:04:00Z,review.logged,u1,e4," + "é" * 40 + "\n"
    out = json.loads(assert_same(pack, write(tmp_path, one), facts, spec))
    assert "field larger than field limit (40)" in out["rejected"][0]["error"]
    spanning = HEAD + ROW.format(n=1, m=1) + 'C1,2024-05-06T09:02:00Z,review.logged,u1,e2,"' + "x\n" * 30 \
        + ROW.format(n=1, m=3)
    assert b"runs over" in assert_same(pack, write(tmp_path, spanning), facts, spec)


def test_a_quote_never_closed_stops_the_reading_in_the_python_readers_words(pack: Pack, facts: Any,
                                                                          tmp_path: Path) -> None:
    text = HEAD + ROW.format(n=1, m=1) + 'C1,2024-05-06T09:02:00Z,review.logged,u1,e2,"open\n' + ROW.format(n=1, m=3)
    got = assert_same(pack, write(tmp_path, text), facts)
    assert got.startswith(b"InputError: ") and b"log.csv:3: a quoted field opened in this row is never closed" in got


def test_many_rejected_rows_are_counted_past_the_ones_kept(pack: Pack, facts: Any, tmp_path: Path) -> None:
    rows = "".join(f'"C{n}"x,\n' if n % 3 else f"C{n},a\n" if n % 2 else "\xff\n" for n in range(300))
    raw = (HEAD + rows).encode().replace("\xff".encode(), b"\xff")
    assert_same(pack, write(tmp_path, raw), facts, InputSpec(limits=Limits(rejected_kept=5)))


# --------------------------------------------------------------------------- what the Python reader keeps

@pytest.mark.parametrize("case", ["encoding", "utf16", "expression", "time-format", "odd-sep", "stdin-like"])
def test_inputs_the_core_does_not_read_exactly_keep_the_python_reader(pack: Pack, facts: Any, tmp_path: Path,
                                                                       case: str) -> None:
    text = HEAD + ROW.format(n=1, m=1)
    spec = InputSpec()
    path = write(tmp_path, text)
    if case == "encoding":
        spec = InputSpec(encoding="cp1252")
    elif case == "utf16":
        path = write(tmp_path, "\ufeff".encode("utf-16-le") + text.encode("utf-16-le"))
    elif case == "expression":
        mapping = tmp_path / "m.input.yaml"
        mapping.write_text("mapping: m\nsources:\n  - name: row\n    rules:\n      - type: {expr: \"row.type\"}\n"
                           "        event: {case: case, time: time}\n", encoding="utf-8")
        spec = InputSpec(mapping=str(mapping))
    elif case == "time-format":
        spec = InputSpec(time_format="%Y-%m-%dT%H:%M:%SZ", timezone="UTC")
    elif case == "odd-sep":
        path = write(tmp_path, "sep=x\n" + text.replace(",", "x"))
    if case == "stdin-like":
        assert native_inputs(["-"], spec, pack) is None
        return
    assert_same(pack, path, facts, spec, native=False)


def test_a_mapping_of_paths_and_constants_reads_natively(pack: Pack, facts: Any, tmp_path: Path) -> None:
    mapping = tmp_path / "m.input.yaml"
    mapping.write_text("mapping: m\nsources:\n  - name: export\n    rules:\n      - type: Kind\n"
                       "        event: {case: Ticket, time: When, actor: {value: system}, data: {note: Note}}\n",
                       encoding="utf-8")
    text = ("Ticket,When,Kind,Note,Other\nC1,2024-05-06T09:00:00Z,review.logged,hi,x\n"
            "C1,2024-05-06T09:01:00Z,review.logged,,\nc2,2024-05-06T09:01:00Z,,,\n")
    assert_same(pack, write(tmp_path, text), facts, InputSpec(mapping=str(mapping)))


# --------------------------------------------------------------------------- generated CSV

_CELLS = st.sampled_from(["C1", "C2", "2024-05-06T09:00:00Z", "2024-05-06T10:30:00+02:00", "review.logged",
                          "ticket.created", "u1", "", " ", '"', '""', "a,b", "a;b", "a\tb", "a|b", "x\ny", "x\r\ny",
                          "é", "\x00", "true", "12", "no.such"])


_GOOD = {"case": st.sampled_from(["C1", "C2"]), "type": st.just("review.logged"),
         "time": st.sampled_from(["2024-05-06T09:00:00Z", "2024-05-06T10:30:00+02:00"])}


@st.composite
def csv_texts(draw: st.DrawFn) -> bytes:
    """CSV text as exports write it, and as they get it wrong: quoted and unquoted cells holding delimiters,
    quotes and newlines, empty cells, rows of the wrong width, empty lines, stray quotes, a bare carriage
    return, a line that is not UTF-8, a BOM, a sep= line, CRLF line ends."""
    delim = draw(st.sampled_from([",", ";", "\t", "|"]))
    header = draw(st.permutations(["case", "Time", "TYPE"])) + \
        draw(st.lists(st.sampled_from(["actor", "id", " note ", "x", "CASE"]), max_size=4))
    if draw(st.integers(0, 5)) == 0:
        header = header[:draw(st.integers(1, 3))]
    lines = []
    if draw(st.booleans()):
        lines.append(f"sep={delim}")
    lines.append(delim.join(header))
    for _ in range(draw(st.integers(0, 8))):
        width = len(header) + draw(st.sampled_from([0, 0, 0, 0, -1, 1]))
        cells = []
        for column in range(max(width, 0)):
            name = header[column].lower() if column < len(header) else ""
            cell = draw(_GOOD.get(name, _CELLS) if draw(st.integers(0, 3)) else _CELLS)
            how = draw(st.sampled_from(["plain"] * 6 + ["quoted"] * 3 + ["broken"]))
            if how == "quoted" or (how == "plain" and any(c in cell for c in f'"{delim}\n\r')):
                cell = '"' + cell.replace('"', '""') + '"'
            elif how == "broken":
                cell = draw(st.sampled_from(['"' + cell, '"' + cell + '"x', cell + '"', cell + "\r" + "z"]))
            cells.append(cell)
        lines.append(delim.join(cells) if cells else draw(st.sampled_from(["", '""', " "])))
    end = draw(st.sampled_from(["\n", "\r\n"]))
    text = end.join(lines) + draw(st.sampled_from([end, ""]))
    raw = text.encode("utf-8")
    if draw(st.booleans()):
        raw = b"\xef\xbb\xbf" + raw
    if draw(st.integers(0, 4)) == 0:
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + b"\xff" + raw[at:]
    return raw


@functools.lru_cache(maxsize=1)
def bundled() -> Pack:
    """The bundled pack, outside the arguments hypothesis prints for a failing example."""
    return load_pack([SOPS])


@given(raw=csv_texts())
@budget(300)
def test_generated_csv_reads_natively_as_the_python_path_reads_it(raw: bytes, tmp_path_factory: Any) -> None:
    path = tmp_path_factory.mktemp("gen") / "log.csv"
    path.write_bytes(raw)
    spec, pack = InputSpec(), bundled()
    native = native_inputs([path], spec, pack) is not None
    event("read natively" if native else "read by the Python reader")
    got = assert_same(pack, path, None, spec, native=native)
    if got.startswith(b"InputError"):
        event("stops with an InputError")
        return
    out = json.loads(got)
    event("has events" if out["summary"]["events"] else "has no events")
    for rejected in out["rejected"]:
        event(f"rejected: {rejected['error'].split(chr(39))[0][:24]}")
