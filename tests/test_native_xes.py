"""The native core's XES reader (issue 13, item 7) against the Python path.

The Python path reads XES with :func:`sopengine.adapters.readers.read_xes` (expat, through defusedxml) and maps
each record in Python; the native core reads the file and builds its events itself when the mapping is one it
applies exactly (:mod:`sopengine.adapters.native_xes`). Every test here audits one input both ways (and on
the Python engine) and compares the JSON: the same events, ids, rejections with their reasons and lines,
warnings, skipped records and findings. Where a file stops being well-formed, the XML parser's own message
may differ (expat's against the core's emulation of it, after the root element only): there the message in
the parentheses is left out of the comparison, and every other part of the report must still agree.
"""

from __future__ import annotations

import gzip
import re
import unicodedata
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine import load_pack
from sopengine.adapters import InputSpec, default_mapping, load_mapping
from sopengine.adapters.native_xes import native_inputs, native_spec
from sopengine.audit import audit, audit_paths, load_facts, read_records
from sopengine.findings import AuditResult
from sopengine.model import Pack
from sopengine.native import available
from sopengine.timeutil import parse_time

from .conftest import PACKS, ROOT, SOPS
from .fuzzing import budget
from .test_inputs import _scenarios
from .xes_util import to_xes

pytestmark = pytest.mark.skipif(not available(), reason="the native core is not built")

FIXTURE = Path(__file__).resolve().parent / "data" / "xes" / "features.xes"
DATA = ROOT.parent / "shared" / "data"
COMPLETE = InputSpec(cases_complete=True)


@pytest.fixture(scope="module")
def pack() -> Pack:
    return load_pack([PACKS / "xes"])


def python_path(pack: Pack, path: Path, spec: InputSpec = COMPLETE, facts: Any = None,
                as_of: float | None = None) -> AuditResult:
    """The audit through the Python reader and mapping, on the native engine (the reference of this module)."""
    return audit(pack, read_records(pack, [path], inputs=spec), facts, as_of, engine="native", limits=spec.limits,
                 lenient_data=spec.lenient_data, cases_complete=spec.cases_complete)


def native_path(pack: Pack, path: Path, spec: InputSpec = COMPLETE, facts: Any = None,
                as_of: float | None = None, engine: str = "native") -> AuditResult:
    return audit_paths(pack, [str(path)], facts, as_of, inputs=spec, engine=engine)


def as_json(result: AuditResult, *, messages: bool = True) -> bytes:
    out = result.to_json()
    if not messages:  # the XML parser's own words for where the file stops being well-formed
        for r in out["rejected"]:
            r["error"] = re.sub(r"^not well-formed XES \(.*\); ", "not well-formed XES (...); ", r["error"])
    return orjson.dumps(out)


def assert_same(pack: Pack, path: Path, spec: InputSpec = COMPLETE, facts: Any = None, as_of: float | None = None,
                *, messages: bool = True, python_engine: bool = True) -> AuditResult:
    """The native reader read ``path`` itself, and its audit is the Python path's, byte for byte."""
    assert native_inputs([path], spec, pack) is not None, "the native reader does not take this input"
    got = native_path(pack, path, spec, facts, as_of)
    want = python_path(pack, path, spec, facts, as_of)
    assert as_json(got, messages=messages) == as_json(want, messages=messages)
    if python_engine:
        assert as_json(native_path(pack, path, spec, facts, as_of, "python"), messages=messages) == \
            as_json(want, messages=messages)
    assert got.read == got.events + len(got.rejected) + sum(got.skipped.values())
    return got


@pytest.fixture
def no_python_reader(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Python XES reader fails when called: an audit that passes read the file natively."""
    import sopengine.adapters as adapters

    def refuse(*_: Any, **__: Any) -> Any:
        raise AssertionError("the Python XES reader was called")

    monkeypatch.setattr(adapters, "read_xes", refuse)


# --------------------------------------------------------------------------- the fixtures

def test_the_feature_fixture_reads_natively_as_the_python_path_reads_it(pack: Pack, tmp_path: Path) -> None:
    got = assert_same(pack, FIXTURE)
    reasons = [r.error for r in got.rejected]
    # each check refuses its event, in its own words, at its line
    assert "attribute 'amount': '12.5' is not a valid int" in reasons
    assert "True" in reasons  # an attribute __bad__ holding true
    assert "event: unknown event type 'Unknown step'" in reasons
    assert "event: missing required key(s): case" in reasons  # a trace without a name, an event outside a trace
    assert any(r.startswith("duplicate event id 'close-1'") for r in reasons)
    assert any("should be a number, not str" in r for r in reasons)
    assert got.warnings and got.violations


def test_the_native_reader_does_not_call_the_python_one(pack: Pack, no_python_reader: None) -> None:
    assert native_path(pack, FIXTURE).events == 7
    with pytest.raises(AssertionError, match="Python XES reader"):
        python_path(pack, FIXTURE)


@pytest.mark.parametrize("variant", ["crlf", "cr", "gzip", "bom"])
def test_line_ends_compression_and_a_byte_order_mark_change_nothing(pack: Pack, tmp_path: Path, variant: str) -> None:
    text = FIXTURE.read_bytes()
    path = tmp_path / ("f.xes.gz" if variant == "gzip" else "f.xes")
    if variant == "gzip":
        path.write_bytes(gzip.compress(text))
    elif variant == "bom":
        path.write_bytes(b"\xef\xbb\xbf" + text)
    else:
        path.write_bytes(text.replace(b"\n", b"\r\n" if variant == "crlf" else b"\r"))
    assert_same(pack, path)


def test_as_of_lenient_data_and_an_open_vocabulary_hold_as_for_json_lines(pack: Pack, tmp_path: Path) -> None:
    as_of = parse_time("2011-10-03T09:40:00Z")
    got = assert_same(pack, FIXTURE, as_of=as_of)
    assert got.skipped == {"after the as-of time": 3}
    assert_same(pack, FIXTURE, InputSpec(cases_complete=True, lenient_data=True))
    folder = tmp_path / "open"
    folder.mkdir()
    text = (PACKS / "xes" / "xes.yaml").read_text(encoding="utf-8")
    (folder / "xes.yaml").write_text(text.replace("  name: xes-differential\n",
                                                  "  name: xes-differential\n  vocabulary: open\n"), encoding="utf-8")
    open_pack = load_pack([folder])
    got = assert_same(open_pack, FIXTURE)
    assert "event: unknown event type 'Unknown step'" not in [r.error for r in got.rejected]


def test_the_example_log_as_gzipped_xes_reads_natively(bundled: Pack, tmp_path: Path) -> None:
    import json

    events = [json.loads(line) for line in (ROOT / "examples" / "events.jsonl").read_text().splitlines() if line]
    path = tmp_path / "events.xes.gz"
    path.write_bytes(gzip.compress(to_xes(events).encode("utf-8")))
    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    got = assert_same(bundled, path, InputSpec(), facts)
    assert got.read == 2511 and got.violations


@pytest.mark.parametrize(("scenario_set", "index"), _scenarios())
def test_every_bundled_scenario_as_xes_reads_natively_as_the_python_path_reads_it(scenario_set: Any, index: int,
                                                                                  tmp_path: Path) -> None:
    from sopengine.scenarios import DEFAULT_START, PackSource, _time, scenario_events

    data = scenario_set.doc.data
    sc = data["scenarios"][index]
    bundled = PackSource([SOPS]).pack(sc.get("params"))
    start = parse_time(sc.get("start") or data.get("start") or DEFAULT_START)
    path = tmp_path / "s.xes"
    path.write_text(to_xes([e.to_json() for e in scenario_events(sc, data, bundled, start)]), encoding="utf-8")
    as_of = _time(sc["as_of"], start, "as_of") if "as_of" in sc else None
    # (the engines are compared on every scenario by tests/test_engines.py)
    assert_same(bundled, path, InputSpec(), sc.get("facts", data.get("facts")), as_of, python_engine=False)


def test_decimal_digits_of_every_script_read_as_python_reads_them(pack: Pack, tmp_path: Path) -> None:
    zeros = [c for c in range(0x110000) if unicodedata.category(chr(c)) == "Nd" and unicodedata.decimal(chr(c)) == 0]
    events = [{"case": f"c{i}", "type": "Review", "time": "2024-01-01T00:00:00Z",
               "data": {"score": chr(z + 1) + "_" + chr(z + 2)}} for i, z in enumerate(zeros)]
    text = to_xes(events).replace('<string key="score"', '<int key="score"')
    text = text.replace("</log>", '<trace><string key="concept:name" value="odd"/><event>'
                        '<string key="concept:name" value="Review"/><date key="time:timestamp" '
                        'value="2024-01-01T00:00:00Z"/><int key="score" value="\u00b2"/></event></trace></log>')
    path = tmp_path / "digits.xes"
    path.write_text(text, encoding="utf-8")
    got = assert_same(pack, path)
    assert len(got.violations) == len(zeros) and all("score 12)" in v.message for v in got.violations)
    assert [r.error for r in got.rejected] == ["attribute 'score': '²' is not a valid int"]


# --------------------------------------------------------------------------- hostile and broken XES

HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<log xes.version="1.0">\n'
EVENT = ('<trace><string key="concept:name" value="c1"/>\n<event><string key="concept:name" value="Register"/>'
         '<date key="time:timestamp" value="2024-01-01T00:00:00Z"/>{}</event>\n</trace>\n')

HOSTILE = {
    "bad typed values": HEAD + EVENT.format('<int key="amount" value="1.5"/><float key="x" value="1,5"/>') + "</log>",
    "lists nested deeper than json-depth": HEAD + EVENT.format(
        '<list key="deep">' + "<values><list key='d'>" * 70 + "</list></values>" * 70 + "</list>") + "</log>",
    "lists nested 100,000 deep, in an event and in its trace": HEAD + EVENT.format(
        '<list key="deep">' + "<values><list key='d'>" * 100_000 + "</list></values>" * 100_000 + "</list>").replace(
        "<event>", '<list key="t">' + "<values><list key='d'>" * 100_000 + "</list></values>" * 100_000
        + "</list><event>") + "</log>",
    "meta-attributes": HEAD + EVENT.format(
        '<string key="amount" value="3"><int key="amount" value="4"><string key="x" value="y"/></int></string>'
        '<int key="tags" value="1"><list key="l"><values><string key="v" value="w"/></values></list></int>') + "</log>",
    "a list inside an attribute inside a list": HEAD + EVENT.format(
        '<list key="tags"><values><string key="s" value="1"><list key="m"/></string><string key="t" value="2"/>'
        '</values></list><string key="note" value="after"/>') + "</log>",
    "globals": HEAD.replace("\n<log", "\n<log") + '<global scope="event"><string key="note" value="g"/>'
    '<int key="amount" value="5"/></global><global scope="trace"><string key="concept:name" value="gt"/></global>'
    '<global><string key="urgent" value="yes"/></global>' + EVENT.format("") + "</log>",
    "missing trace name": HEAD + EVENT.format("").replace('<string key="concept:name" value="c1"/>', "") + "</log>",
    "namespaced tags": HEAD + EVENT.format("").replace("<event>", "<xes:event>").replace("</event>", "</xes:event>")
    .replace("<string ", "<xes:string ").replace("<date ", "<xes:date ") + "</log>",
    "other prefixes are not XES's": HEAD + EVENT.format('<foo:string key="note" value="n"/>').replace(
        "<event>", "<foo:event>").replace("</event>", "</foo:event>") + "</log>",
    "entities and references": HEAD + EVENT.format('<string key="note" value="&lt;&amp;&#x41;&#10;&#9;x\ty"/>')
    + "</log>",
    "an attribute __bad__": HEAD + EVENT.format('<string key="__bad__" value="why not"/>') + EVENT.format(
        '<int key="__bad__" value="0"/>') + "</log>",
    "events outside traces and nested traces": HEAD + '<event><string key="concept:name" value="Close"/>'
    '<date key="time:timestamp" value="2024-01-02T00:00:00Z"/></event><trace><trace>'
    '<string key="concept:name" value="inner"/></trace>' + EVENT.format("") + "</trace></log>",
    "a numeric case and id": HEAD + EVENT.format('<float key="identity:id" value="1e16"/>').replace(
        '<string key="concept:name" value="c1"/>', '<float key="concept:name" value="1.5"/>') + "</log>",
    "a list as the case": HEAD + EVENT.format("").replace('<string key="concept:name" value="c1"/>',
                                                          '<list key="concept:name"/>') + "</log>",
    "no XML declaration, whitespace and comments first": "\n  <!-- c -->\n" + HEAD.split("\n", 1)[1]
    + EVENT.format("") + "</log>\n<!-- end -->\n",
}


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_xes_reads_natively_as_the_python_path_reads_it(pack: Pack, tmp_path: Path, name: str) -> None:
    path = tmp_path / "hostile.xes"
    path.write_text(HOSTILE[name], encoding="utf-8")
    assert_same(pack, path)


def test_floats_that_are_not_finite_are_kept_as_the_reference_engine_keeps_them(pack: Pack, tmp_path: Path) -> None:
    # The Python reader hands its events to the native engine through orjson, which writes inf and nan as null:
    # there a field holding one is not filled. The native reader keeps the float, as the reference engine does.
    path = tmp_path / "floats.xes"
    path.write_text(HEAD + EVENT.format('<float key="amount" value="inf"/><float key="z" value="-nan"/>'
                                        '<string key="note" value="n"/>') + "</log>", encoding="utf-8")
    got = native_path(pack, path)
    assert as_json(got) == as_json(native_path(pack, path, engine="python"))
    assert got.violations and not any(v.rule.endswith("register-fields") for v in got.violations)


BROKEN = {  # the body after <log>, expat's message and the line of the rejection
    "truncated in a tag": ('<trace>\n<string key="concept:name" value="c1"/>\n' + EVENT.format("") + "<event>\n<str",
                           "unclosed token", 9),
    "truncated between elements": (EVENT.format("") + EVENT.format(""), "no element found", 9),
    "mismatched tag": (EVENT.format("") + "<trace>\n</event>", "mismatched tag", 7),
    # expat reports an undefined entity in an attribute at its tag
    "an undefined entity": (EVENT.format("") + '<trace><string\n key="x" value="&nbsp;"/>', "undefined entity", 6),
    "a control character": (EVENT.format("") + '<trace><string key="x"\n value="a\x01"/>',
                            "not well-formed (invalid token)", 7),
    "junk after the log": (EVENT.format("") + "</log>\n\nmore", "junk after document element", 8),
    "invalid UTF-8": (EVENT.format("") + "<trace>\n\xff", "not well-formed (invalid token)", 7),
}


@pytest.mark.parametrize("name", list(BROKEN))
def test_a_broken_file_gives_the_events_before_it_then_one_rejection_at_its_line(pack: Pack, tmp_path: Path,
                                                                                 name: str) -> None:
    body, message, line = BROKEN[name]
    path = tmp_path / "broken.xes"
    path.write_bytes((HEAD + body).encode("utf-8").replace(b"\xc3\xbf", b"\xff"))
    got = assert_same(pack, path)
    last = got.rejected[-1]
    assert (last.line, last.error) == (line, f"not well-formed XES ({message}); the rest of the file cannot be read")
    assert got.events >= 1


@pytest.mark.parametrize(("body", "refusal"), [
    ('<!DOCTYPE log [<!ENTITY a "aaaa">]>\n<log>&a;</log>',
     "refused: EntitiesForbidden(name='a', system_id=None, public_id=None); XES input may not declare entities or "
     "DTDs"),
    ('<!DOCTYPE log SYSTEM "http://example.com/x.dtd">\n<log/>',
     "refused: ExternalReferenceForbidden(system_id='http://example.com/x.dtd', public_id=None); XES input may not "
     "declare entities or DTDs"),
])
def test_a_file_declaring_entities_is_refused_by_the_python_reader_it_is_left_to(pack: Pack, tmp_path: Path,
                                                                                   body: str, refusal: str) -> None:
    path = tmp_path / "dtd.xes"
    path.write_text(body, encoding="utf-8")
    assert native_inputs([path], COMPLETE, pack) is None  # a document type: the Python reader reads the file
    got = native_path(pack, path)
    assert [r.error for r in got.rejected] == [refusal]


@pytest.mark.parametrize("prolog", ['<?xml version="1.0" encoding="ISO-8859-1"?>', "<!DOCTYPE log>",
                                    '<?xml version="1:0"?>', '<?xml version="1.0" standalone="no" encoding="UTF-8"?>',
                                    '<?xml version="1.0"?>\n<?xml version="1.0"?>', "x"])
def test_a_prolog_the_core_does_not_read_as_expat_does_is_left_to_the_python_reader(pack: Pack, tmp_path: Path,
                                                                                     prolog: str) -> None:
    path = tmp_path / "prolog.xes"
    path.write_text(prolog + "\n<log>" + EVENT.format("") + "</log>", encoding="latin-1")
    assert native_inputs([path], COMPLETE, pack) is None
    assert as_json(native_path(pack, path)) == as_json(python_path(pack, path))


def _mutate(data: bytes, at: int, op: int, piece: bytes) -> bytes:
    if op == 0:
        return data[:at] + piece + data[at:]
    if op == 1:
        return data[:at] + piece + data[at + 1:]
    return data[:at] + data[at + 1:]


PIECES = [b"<", b"&", b">", b'"', b"'", b"\x01", b"&foo;", b"&#0;", b"]]>", b"<!--", b"-->", b"</x>", b"<x>", b"\xff",
          b"\xc3", b"\xef\xbf\xbe", b" ", b"\n", b"\r", b"=", b"/", b"?", b"!", b"--", b"<![CDATA[", b"&#x110000;",
          b"&amp", b"<?xml version='1.0'?>", b":"]


def _same_on(pack: Pack, tmp_path: Path, data: bytes) -> None:
    path = tmp_path / "mutated.xes"
    path.write_bytes(data)
    if native_inputs([path], COMPLETE, pack) is None:  # the prolog was hit: the Python reader's, both ways
        return
    assert as_json(native_path(pack, path), messages=False) == as_json(python_path(pack, path), messages=False)


def test_the_fixture_cut_anywhere_gives_the_same_events_and_rejection(pack: Pack, tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    for at in range(0, len(data), 37):
        _same_on(pack, tmp_path, data[:at])


@budget(60)
@given(at=st.integers(0, 4400), op=st.integers(0, 2), piece=st.sampled_from(PIECES))
def test_the_fixture_broken_anywhere_gives_the_same_events_and_rejection(pack: Pack, tmp_path: Path, at: int,
                                                                         op: int, piece: bytes) -> None:
    data = FIXTURE.read_bytes()
    _same_on(pack, tmp_path, _mutate(data, min(at, len(data) - 1), op, piece))


# --------------------------------------------------------------------------- which mappings the core applies

def test_the_default_xes_mapping_is_applied_by_the_core(pack: Pack) -> None:
    import json

    spec = native_spec(default_mapping("xes"), pack)
    assert spec is not None and spec.source == "event"
    got = json.loads(spec.spec)
    assert got["values"] == {"id": {"path": "identity:id"}, "case": {"path": "trace.concept:name"},
                             "time": {"path": "time:timestamp"}, "type": {"path": "concept:name"},
                             "actor": {"path": "org:resource"}}
    assert got["rest"] is True and "trace" in got["used"]
    assert got["typed"] == {"Register": {"amount": "number", "urgent": "boolean", "tags": "list"},
                            "Review": {"amount": "number", "score": "number"}}


MAPPING = """mapping: m
reader: xes
sources:
  - name: event
    defaults: {{case: trace.concept:name, time: time:timestamp, rest: true}}
    rules:
      {rule}
"""


@pytest.mark.parametrize(("rule", "native"), [
    ("- type: concept:name", True),
    ("- {type: concept:name, event: {actor: {value: bot}, data: {kind: {value: 3}, who: org:resource}}}", True),
    ("- {type: concept:name, event: {data: {all: trace}}}", True),
    ("- type: {expr: \"field('concept:name')\"}", False),
    ("- {when: \"row.x == 1\", type: concept:name}", False),
    ("- {skip: never}\n      - type: concept:name", False),
    ("- {type: concept:name, event: {data: {l: {value: [1, 2]}}}}", False),
    ("- {type: concept:name, event: {data: {d: trace.0\u0663}}}", False),
])
def test_a_mapping_the_core_cannot_apply_exactly_keeps_the_python_path(pack: Pack, tmp_path: Path, rule: str,
                                                                       native: bool) -> None:
    mapping = tmp_path / "m.input.yaml"
    mapping.write_text(MAPPING.format(rule=rule), encoding="utf-8")
    assert (native_spec(load_mapping(mapping), pack) is not None) is native
    spec = InputSpec(mapping=str(mapping), cases_complete=True)
    assert (native_inputs([FIXTURE], spec, pack) is not None) is native
    if native:
        assert_same(pack, FIXTURE, spec)


def test_a_mapping_with_an_expression_falls_back_and_gives_the_same_json(pack: Pack, tmp_path: Path) -> None:
    # (a field an expression reads is not left out of rest, as a path is: both name their data here)
    by_path, by_expr = tmp_path / "path.input.yaml", tmp_path / "expr.input.yaml"
    data = "event: {data: {amount: amount, score: score, note: note, urgent: urgent, tags: tags}}"
    by_path.write_text(MAPPING.format(rule="- {type: concept:name, " + data + "}").replace("rest: true", "rest: false"),
                       encoding="utf-8")
    by_expr.write_text(MAPPING.format(rule="- {type: {expr: \"field('concept:name')\"}, " + data + "}")
                       .replace("rest: true", "rest: false"), encoding="utf-8")
    native, fallback = (InputSpec(mapping=str(m), cases_complete=True) for m in (by_path, by_expr))
    assert native_inputs([FIXTURE], native, pack) is not None
    assert native_inputs([FIXTURE], fallback, pack) is None
    assert as_json(native_path(pack, FIXTURE, fallback)) == as_json(native_path(pack, FIXTURE, native))
    assert as_json(native_path(pack, FIXTURE, fallback, engine="python")) == as_json(native_path(pack, FIXTURE, native))


def test_a_time_format_or_zone_keeps_the_python_path(pack: Pack) -> None:
    assert native_inputs([FIXTURE], InputSpec(timezone="Europe/Amsterdam"), pack) is None
    assert native_inputs([FIXTURE], InputSpec(), pack) is not None


# --------------------------------------------------------------------------- the BPI Challenge logs
# The Python path reads them in 10 s (2013) and 25 s (2012) of CPU, and each result has ~50 MB of JSON to
# compare: slow, but in the normal suite (-m 'not slow' leaves them out).

@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "bpic2013_incidents.xes.gz").exists(), reason="../shared/data is not here")
def test_bpi_challenge_2013_reads_natively_as_the_python_path_reads_it() -> None:
    pack = load_pack([PACKS / "declare-bpic2013"])
    got = assert_same(pack, DATA / "bpic2013_incidents.xes.gz", python_engine=False)
    assert (got.events, got.cases, len(got.rejected)) == (65_533, 7_554, 0)
    lifecycle = InputSpec("xes-lifecycle", pack_dirs=(str(PACKS / "bpic2013"),))
    assert native_inputs([DATA / "bpic2013_incidents.xes.gz"], lifecycle, pack) is None  # an expression


@pytest.mark.slow
@pytest.mark.skipif(not (DATA / "bpic2012.xes.gz").exists(), reason="../shared/data is not here")
def test_bpi_challenge_2012_reads_natively_as_the_python_path_reads_it() -> None:
    pack = load_pack([PACKS / "declare-bpic2012"])
    got = assert_same(pack, DATA / "bpic2012.xes.gz", python_engine=False)
    assert (got.events, got.cases, len(got.rejected)) == (262_200, 13_087, 0)
