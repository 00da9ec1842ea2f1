"""Hostile log lines: the audit never fails on input, and every non-blank line is evaluated or rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sopengine import InputSpec, audit, read_records
from sopengine.cli import cli
from sopengine.limits import Limits
from sopengine.model import Pack

from .fuzzing import budget

GOOD = json.dumps({"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.created", "actor": "fl.ana"})
WITH_ID = json.dumps({"id": "ev-7", "case": "C2", "time": "2024-05-06T09:00:00Z", "type": "case.created"})
LINE_LIMIT = 4096

# kind -> (line, what its rejection says); None: a good envelope, evaluated as any other
HOSTILE: dict[str, tuple[bytes, str | None]] = {
    "truncated": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"', "truncated JSON"),
    "JSON array": (b"[1, 2, 3]", "expected a JSON object, got list"),
    "bare string": (b'"just a string"', "expected a JSON object, got str"),
    "null": (b"null", "got null"),
    "numeric case id": (b'{"case": 17, "time": "2024-05-06T09:00:00Z", "type": "review.logged"}',
                        "'case' must be a string"),
    "list case id": (b'{"case": ["C1"], "time": "2024-05-06T09:00:00Z", "type": "review.logged"}',
                     "'case' must be a string"),
    "naive time": (b'{"case": "C1", "time": "2024-05-06T09:00:00", "type": "review.logged"}', "offset"),
    "impossible date": (b'{"case": "C1", "time": "2024-02-30T09:00:00Z", "type": "review.logged"}', "2024-02-30"),
    "data not an object": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "data": [1]}',
                           "'data' must be an object"),
    "actor not a string": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", '
                           b'"actor": {"x": 1}}', "'actor' must be a string"),
    "invalid UTF-8": (b"\xff\xfe not utf-8 \xc3\x28", "not valid UTF-8"),
    "NUL bytes": (b"\x00\x00\x00", "not valid JSON"),
    "unknown type": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "no.such.type"}',
                     "unknown event type 'no.such.type'"),
    "deep nesting": (b'{"case": "C1", "data": ' + b"[" * 2000 + b"]" * 2000 + b"}", "nested too deeply"),
    "huge integer": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", "n": 1'
                     + b"0" * 400 + b"}", "number is infinity"),
    "very long line": (b'{"case": "C1", "x": "' + b"a" * (LINE_LIMIT * 3) + b'"}', "limit line-bytes"),
    "duplicate id": (WITH_ID.encode(), "duplicate event id 'ev-7'"),
    # good envelopes, odd data and all
    "NUL inside a string": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged", '
                            b'"data": {"comments": "\\u0000"}}', None),
    "CRLF line end": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "review.logged"}\r', None),
    # a declared field of another type: refused, as a rule would silently not fire on it (sopengine.datacheck)
    "data of another type": (b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "case.status_changed", '
                             b'"data": {"to": ["x"]}}', "data.to should be a string, not list"),
}
SPEC = InputSpec(limits=Limits(line_bytes=LINE_LIMIT))


@budget(60)
@given(st.lists(st.one_of(st.sampled_from([line for line, _ in HOSTILE.values()]), st.just(GOOD.encode()),
                          st.binary(max_size=80)), min_size=1, max_size=30))
def test_any_mix_of_lines_is_audited_and_counts_reconcile(bundled: Pack, tmp_path: Path, lines: list[bytes]) -> None:
    path = tmp_path / "hostile.jsonl"
    clean = [line.replace(b"\n", b" ") for line in lines]
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(clean) + b"\n")  # with a byte-order mark
    result = audit(bundled, read_records(bundled, [str(path)], inputs=SPEC), {"users": []})
    non_blank = sum(1 for line in clean if line.strip())
    assert result.read == non_blank == result.events + len(result.rejected)
    for r in result.rejected:
        assert r.file == str(path) and 1 <= r.line <= len(clean) and r.error


def test_each_hostile_line_is_rejected_with_its_line_and_reason_and_the_good_ones_are_evaluated(
        bundled: Pack, tmp_path: Path) -> None:
    path = tmp_path / "mixed.jsonl"
    kinds = list(HOSTILE)
    rows = [GOOD.encode(), WITH_ID.encode()] + [HOSTILE[k][0] for k in kinds] + [GOOD.encode()]
    path.write_bytes(b"\xef\xbb\xbf" + b"\n".join(rows) + b"\n")
    result = audit(bundled, read_records(bundled, [str(path)], inputs=SPEC), {"users": []})
    reasons = {r.line: r.error for r in result.rejected}
    for n, kind in enumerate(kinds, start=3):
        expected = HOSTILE[kind][1]
        if expected is None:
            assert n not in reasons, (kind, reasons.get(n))
        else:
            assert expected in reasons.get(n, ""), (kind, reasons.get(n))
    good = 3 + sum(1 for k in kinds if HOSTILE[k][1] is None)
    assert result.events == good and len(result.rejected) == len(rows) - good
    assert result.read == len(rows) == result.events + len(result.rejected)
    assert all(r.file == str(path) for r in result.rejected)


_LINES = [json.dumps({"id": f"e{i}", "case": f"C{i % 3}", "time": f"2024-05-06T09:{i:02d}:00Z",
                      "type": t, "actor": "fl.ana", "data": d}).encode()
          for i, (t, d) in enumerate([("case.created", {"account_type": "homeowner", "priority": "High"}),
                                      ("case.status_changed", {"to": "Closed", "from": "New"}),
                                      ("case.owner_changed", {"to": "bo.ben", "to_kind": "user"}),
                                      ("review.logged", {}), ("assignment.created", {"assignment": "A1"})])]


@budget(80)
@given(st.lists(st.tuples(st.integers(0, len(_LINES) - 1), st.integers(0, 400), st.binary(max_size=6),
                          st.sampled_from(["keep", "cut", "flip", "insert"])), min_size=1, max_size=20))
def test_mutated_event_lines_are_evaluated_or_rejected_never_lost(bundled: Pack, tmp_path: Path,
                                                                 edits: list[tuple[int, int, bytes, str]]) -> None:
    rows = []
    for which, at, payload, op in edits:
        line = _LINES[which]
        at %= len(line)
        line = {"keep": line, "cut": line[:at], "flip": line[:at] + payload + line[at + len(payload):],
                "insert": line[:at] + payload + line[at:]}[op]
        rows.append(line.replace(b"\n", b"").replace(b"\r", b""))
    path = tmp_path / "mutated.jsonl"
    path.write_bytes(b"\n".join(rows) + b"\n")
    result = audit(bundled, read_records(bundled, [str(path)]), {"users": []})
    assert result.read == sum(1 for r in rows if r.strip()) == result.events + len(result.rejected)
    assert all(r.error and 1 <= r.line <= len(rows) for r in result.rejected)


@pytest.mark.parametrize("engine", ["python", "native"])
def test_times_outside_years_1_to_9999_in_utc_are_rejected_and_late_deadlines_still_report(
        tmp_path: Path, engine: str) -> None:
    from sopengine import native

    if engine == "native" and not native.available():
        pytest.skip("the native core is not built")
    log = tmp_path / "log.jsonl"
    rows = [{"id": "t1", "case": "T-1", "time": "9999-12-31T23:00:00Z", "type": "ticket.created", "actor": "a",
             "data": {"reporter": "r@x.com", "organization": "Org"}},
            {"id": "t2", "case": "T-2", "time": "9999-12-31T23:59:59-12:00", "type": "ticket.created", "actor": "a"},
            {"id": "t3", "case": "T-3", "time": "0001-01-01T00:00:00+00:01", "type": "ticket.created", "actor": "a"}]
    log.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = CliRunner().invoke(cli, ["audit", str(log), "--format", "json", "--engine", engine,
                                      "--fail-on", "never", "--max-rejected", "100%"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert [(r["line"], "outside the years 1-9999 in UTC" in r["error"]) for r in data["rejected"]] == \
        [(2, True), (3, True)]
    dues = [a["due"] for a in data["next_actions"]]
    assert "+10000-01-01T01:00:00Z" in dues  # a deadline past 9999 is written, not a crash
    as_of = CliRunner().invoke(cli, ["audit", str(log), "--as-of", "9999-12-31T23:59:59-12:00"])
    assert as_of.exit_code == 2 and "outside the years 1-9999" in as_of.stderr
