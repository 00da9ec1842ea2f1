"""The native JSON Lines reader against the Python reader (the reference): same records, same words."""

from __future__ import annotations

import gzip
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine.events import Event, Rejected, read_jsonl, render_native_reason
from sopengine.timeutil import TimeFormatError, parse_time

from .fuzzing import budget
from .test_hostile_logs import HOSTILE

_native = pytest.importorskip("sopengine._native")

TYPES = ["case.created", "review.logged", "a.b"]
FIELDS = ["to", "n", "x", "comments", "note"]
LIMIT = 4096


def same_value(a: Any, b: Any) -> bool:
    """Equal with the same types all the way down, floats bit for bit (-0.0 is not 0.0)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b) or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(same_value(a[k], b[k]) for k in a)
    return bool(a == b)


def python_records(path: Path, limit: int) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for r in read_jsonl(path, set(TYPES), type_names=lambda: TYPES, max_line_bytes=limit):
        if isinstance(r, Event):
            data = {k: r.data[k] for k in FIELDS if k in r.data}
            out.append(("event", r.id, r.case, r.time, r.type, r.actor, data, r.seq, r.origin[1] if r.origin else -1))
        else:
            assert isinstance(r, Rejected)
            out.append(("rejected", r.line, r.error))
    return out


def native_records(path: Path, limit: int) -> list[tuple[Any, ...]]:
    out: list[tuple[Any, ...]] = []
    for r in _native.read_jsonl_records(str(path), TYPES, FIELDS, limit):
        if r[0] == "rejected":
            out.append(("rejected", r[1], render_native_reason(r[2], limit, lambda: TYPES)))
        else:
            out.append(tuple(r))
    return out


def assert_same(path: Path, limit: int = LIMIT) -> None:
    want, got = python_records(path, limit), native_records(path, limit)
    assert len(got) == len(want), (got, want)
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(max(old, 10_000))  # data nested 1024 deep
    try:
        for g, w in zip(got, want):
            assert g[0] == w[0] and same_value(list(g), list(w)), (g, w)
    finally:
        sys.setrecursionlimit(old)


def write(tmp_path: Path, lines: list[bytes], name: str = "log.jsonl", sep: bytes = b"\n") -> Path:
    path = tmp_path / name
    body = sep.join(lines) + sep
    path.write_bytes(gzip.compress(body) if name.endswith(".gz") else body)
    return path


def envelope(time: Any = "2024-05-06T09:00:00Z", **extra: Any) -> bytes:
    obj = {"case": "C1", "time": time, "type": "review.logged", **extra}
    return json.dumps(obj).encode()


TIMES = ["2024-05-06T09:00:00Z", "2024-05-06t09:00:00z", "2024-05-06 09:00:00+01:00", "2024-05-06T09:00:00+0100",
         "2024-05-06T09:00:00.5Z", "2024-05-06T09:00:00,123456789Z", "2024-05-06T09:00:00+01:00:30.25",
         "2024-12-31T23:59:60Z", "2024-02-29T00:00:00Z", "2023-02-29T00:00:00Z", "0001-01-01T00:00:00Z",
         "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59.999999Z", "9999-12-31T23:59:59-23:59",
         "2024-05-06T09:00:00", "2024-05-06", "2024-05-06T09:00:00+24:00", "2024-05-06T09:00:00-00:00",
         "2024-05-06T09:00:00Z\u0000", "2024-05-06T09:00:00+00:00:00.5", "2024-05-06T09:00:00.Z",
         "2024-05-06T09:00:00 Z", "2024-05-06T09:00:00é+01:00", "２０２４-05-06T09:00:00Z", "2024-W19-1T09:00:00Z"]

# A corpus of lines: the hostile log corpus, envelope variants, JSON edge cases.
CORPUS: list[bytes] = [line for line, _ in HOSTILE.values()] + [envelope(t) for t in TIMES] + [
    envelope(17), envelope(None), envelope(""), envelope(["x"]), envelope(1.5), envelope(True), envelope({}),
    envelope(actor=""), envelope(actor=None), envelope(actor=3), envelope(actor=["a"]), envelope(actor="fl.ana"),
    envelope(data=None), envelope(data=""), envelope(data="x"), envelope(data=[]), envelope(data=3.5),
    envelope(data={"to": "", "n": None, "x": 0, "comments": False, "note": [None, ""], "other": {"deep": [1]}}),
    envelope(data={"n": 18446744073709551615, "x": -9223372036854775808, "to": 9223372036854775808}),
    envelope(data={"n": 1e300, "x": -0.0, "to": 5e-324, "note": {"a": 1, "b": {"c": [1.5, "é", "\u0000"]}}}),
    envelope(id=""), envelope(id=None), envelope(id=7), envelope(id="ev-9"), envelope(id={"a": 1}),
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "no.such"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.c"}',
    b'{"case": "", "time": "", "type": ""}', b'{"case": 1, "type": 2}', b'{}', b'[]', b'1', b'-0', b'"x"', b'true',
    b'{"case": "C1", "time": 5, "type": "a.b"}', b'{"case": "C1", "time": [], "type": 5}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "data": {"n": 1, "n": null}}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "data": {"n": null, "n": 2, "x": {"k": 1, "j": 2, "k": 3}}}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "data": {"x": 1}, "data": 5}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "data": 5, "data": {"x": 1}}',
    b'{"case": 5, "case": "C2", "time": "2024-05-06T09:00:00Z", "type": "a.b", "type": "nope", "type": "a.b"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": 1e400}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": 1' + b"0" * 30 + b"}",
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": "\\ud800"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": "\\ud83d\\ude00"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": "\\udc00x"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": "\x01"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "z": "\xff"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "\\u0063ase": "C9"}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b",}', b'{"case": "C1"} {}', b'{"a" 1}',
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b"}\x0c', b'\x0b\x0c{"case": "C1"}',
    b'{"case":"C1","time":"2024-05-06T09:00:00Z","type":"a.b","data":{"x":[1,]}}', b"NaN", b"[1.]", b"01",
] + [b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "data": {"x": ' + b"[" * n + b"]" * n + b"}}"
     for n in (1021, 1022, 1023, 1024)] + [
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "a.b", "o": ' + b"[" * n + b"]" * n + b"}"
    for n in (1022, 1023, 1024)] + [b"[" * n + b"]" * n for n in (1024, 1025)] + [
    b'{"x": ' * n + b"1" + b"}" * n for n in (1024, 1025)]


def test_each_corpus_line_reads_the_same(tmp_path: Path) -> None:
    for i, line in enumerate(CORPUS):
        assert_same(write(tmp_path, [line], f"one{i}.jsonl"))


def test_a_whole_corpus_file_with_bom_blank_lines_and_crlf_reads_the_same(tmp_path: Path) -> None:
    lines = [b"\xef\xbb\xbf" + CORPUS[0]] + [x for line in CORPUS for x in (line, b"", b" \t\x0b")]
    assert_same(write(tmp_path, lines, sep=b"\r\n"))
    assert_same(write(tmp_path, lines, "log.jsonl.gz"))


@pytest.mark.parametrize("extra", [0, 1, 2, 3, 4])
def test_line_lengths_around_the_limit_read_the_same(tmp_path: Path, extra: int) -> None:
    line = envelope(data={"note": "a" * 60})
    for limit in range(len(line) - 4, len(line) + 6):
        for ending in (b"\n", b"\r\n", b"\r\r\n", b" \n"):
            path = tmp_path / "len.jsonl"
            path.write_bytes(b"\xef\xbb\xbf" * (extra % 2) + line + ending + b"x" * extra + ending + line)
            assert_same(path, limit)


@budget(120)
@given(st.lists(st.one_of(st.sampled_from(CORPUS), st.binary(max_size=60),
                          st.builds(lambda line, at, cut: line[:at % (len(line) + 1)] + cut,
                                    st.sampled_from(CORPUS[:60]), st.integers(0, 200), st.binary(max_size=4))),
                min_size=1, max_size=12),
       st.sampled_from([b"\n", b"\r\n"]), st.booleans(), st.integers(40, 300))
def test_any_mix_of_lines_reads_the_same(tmp_path: Path, lines: list[bytes], sep: bytes, gz: bool,
                                         limit: int) -> None:
    name = "mix.jsonl.gz" if gz else "mix.jsonl"
    assert_same(write(tmp_path, [b"\xef\xbb\xbf" + lines[0]] + lines[1:], name, sep), limit)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(FIELDS + ["k", ""]), inner, max_size=4),
    max_leaves=12)


@budget(150)
@given(st.lists(st.dictionaries(st.sampled_from(["case", "time", "type", "actor", "data", "id", "other"]),
                                json_values | st.sampled_from(TIMES + TYPES), max_size=7), min_size=1, max_size=8))
def test_random_envelopes_read_the_same(tmp_path: Path, objs: list[dict[str, Any]]) -> None:
    assert_same(write(tmp_path, [json.dumps(o).encode() for o in objs]))


def python_time(text: str) -> float | None:
    try:
        return parse_time(text)
    except TimeFormatError:
        return None


def same_time(text: str) -> None:
    want, got = python_time(text), _native.parse_time(text)
    assert got == want and (got is None or repr(got) == repr(want)), (text, got, want)


def test_listed_times_parse_the_same() -> None:
    for text in TIMES:
        same_time(text)


digits = st.text("0123456789", min_size=1, max_size=3)
piece = st.one_of(digits, st.sampled_from([":", ".", ",", "+", "-", "Z", "z", " ", "T", "\x00", "é", "W", "0", "00"]))
offset = st.one_of(st.sampled_from(["Z", "z", "", " ", "+00:00", "-00:00", "+0000", "+01", "+24:00", "-23:59:59.999999"]),
                   st.builds(lambda s, h, m: f"{s}{h:02d}{m}", st.sampled_from("+-"), st.integers(0, 99),
                             st.sampled_from(["", ":00", ":30", "30", ":59:59", ":00:00.5", ":99", ":0"])))


@budget(600)
@given(st.integers(0, 10000), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25), st.integers(0, 61),
       st.integers(0, 61), st.sampled_from(["", ".", ".5", ",25", ".123456", ".1234567", ".000001", ".9999999"]),
       offset, st.sampled_from("Tt X"), st.lists(piece, max_size=3))
def test_generated_timestamps_parse_the_same(y: int, mo: int, d: int, h: int, mi: int, s: int, frac: str,
                                             off: str, sep: str, noise: list[str]) -> None:
    text = f"{y:04d}-{mo:02d}-{d:02d}{sep}{h:02d}:{mi:02d}:{s:02d}{frac}{off}"
    same_time(text)
    same_time(text + "".join(noise))
    for i, p in enumerate(noise):
        at = (len(text) * (i + 1)) // (len(noise) + 1)
        same_time(text[:at] + p + text[at:])


@budget(300)
@given(st.text(st.sampled_from("0123456789-:T .,+Zz\x00é"), min_size=18, max_size=32))
def test_timestamp_like_noise_parses_the_same(text: str) -> None:
    same_time(text)
    same_time("2024-05-06T" + text[11:])


def test_large_timestamps_round_as_python_does() -> None:
    for y in (2255, 2286, 5000, 9999):
        for frac in ("", ".000001", ".499999", ".5", ".999999", ".123457"):
            same_time(f"{y}-12-31T23:59:59{frac}+23:59:59.999999")
            same_time(f"{y}-01-01T00:00:00{frac}Z")


def test_the_hook_reports_an_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        _native.read_jsonl_records(os.fspath(tmp_path / "missing.jsonl"), TYPES, FIELDS, LIMIT)
