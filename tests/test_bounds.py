"""Hostile logs and exports, class by class (issue 15): nothing a log holds makes the audit crash, read
without bound or write more than in proportion to it, on either engine, and the two engines agree."""

from __future__ import annotations

import gzip
import json
import re
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import given
from hypothesis import strategies as st

from sopengine import InputSpec, audit, load_pack, read_records
from sopengine.adapters.readers import read_json
from sopengine.cli import cli
from sopengine.errors import UsageError
from sopengine.expr import SHOWN_CHARS, SHOWN_ITEMS
from sopengine.findings import MAX_EVIDENCE, MAX_REPEATS
from sopengine.limits import CEILINGS, Limits
from sopengine.model import Pack

from .conftest import engine_blind, write_jsonl
from .fuzzing import budget

_native = pytest.importorskip("sopengine._native")
ENGINES = ("python", "native")

# A pack whose rules cite and show what can grow with a log: a set of open items (guard, invariant), a
# text kept in state, a count of events (at_most), a weekly obligation (response with repeat).
PACK = """\
pack: {name: output-bounds}
events:
  item.opened: {data: {item: {type: string}}}
  item.closed: {data: {item: {type: string}}}
  note.set: {data: {text: {type: string}}}
  ping: {data: {}}
  case.done: {data: {}}
state:
  open_items:
    type: set
    updates:
      - {on: item.opened, add: data.item}
      - {on: item.closed, remove: data.item}
  note:
    type: value
    updates:
      - {on: note.set, set: data.text}
sop: {id: bounds, title: Output bounds, source: {document: bounds.txt}}
rules:
  - id: done-with-open-items
    kind: guard
    severity: error
    description: A case is done only when no item is open.
    source: {document: bounds.txt, step: "1"}
    on: case.done
    require: len(state.open_items) == 0
    message: "Done while {state.open_items} open; note: {state.note}"
  - id: one-ping
    kind: at_most
    severity: warning
    description: At most one ping.
    source: {document: bounds.txt, step: "2"}
    on: ping
    max: 1
    message: "Ping number {count}"
  - id: weekly-ping
    kind: response
    severity: warning
    description: A ping every week after a note.
    source: {document: bounds.txt, step: "3"}
    after: {on: note.set}
    expect: {on: ping}
    repeat: {every: 7d}
    action: "Ping"
    message: "A week without a ping"
  - id: no-open-items
    kind: invariant
    severity: info
    description: Fewer than 50 items are open, but for a day.
    source: {document: bounds.txt, step: "4"}
    require: len(state.open_items) < 50
    grace: 1d
    action: "Close {state.open_items}"
    message: "Items {state.open_items} open"
"""
T0 = "2024-05-06T09:00:00Z"


@pytest.fixture(scope="module")
def pack_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("pack") / "bounds.yaml"
    path.write_text(PACK, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def pack(pack_file: Path) -> Pack:
    return load_pack([pack_file])


def ev(eid: str, case: str, etype: str, time: str = T0, **data: Any) -> dict[str, Any]:
    return {"id": eid, "case": case, "time": time, "type": etype, **({"data": data} if data else {})}


def run(args: list[str]) -> Result:
    return CliRunner().invoke(cli, args, catch_exceptions=False)


def audit_cli(log: Path, engine: str, *extra: str, sops: Path | None = None) -> Result:
    args = ["audit", str(log), "--format", "json", "--engine", engine, "--fail-on", "never",
            "--max-rejected", "100%", *extra]
    return run(args + (["--sops", str(sops)] if sops else []))


def same_on_both_engines(log: Path, *extra: str, sops: Path | None = None) -> dict[str, Any]:
    """The JSON report of ``log``, byte for byte the same on both engines."""
    outs = {e: audit_cli(log, e, *extra, sops=sops) for e in ENGINES}
    for e, r in outs.items():
        assert r.exit_code == 0, (e, r.output)
    assert engine_blind(outs["native"].stdout) == engine_blind(outs["python"].stdout)
    return json.loads(outs["python"].stdout)  # type: ignore[no-any-return]


def deep(n: int) -> str:
    return "[" * n + "]" * n


# --------------------------------------------------------------------------- 1. nesting

def test_a_line_nested_500_deep_is_rejected_on_both_engines_not_a_crash(tmp_path: Path, pack_file: Path) -> None:
    log = write_jsonl(tmp_path / "deep.jsonl", [
        ev("a", "C1", "ping"),
        '{"id": "b", "case": "C1", "time": "%s", "type": "ping", "data": {"x": %s}}' % (T0, deep(500)),
        # a repeated key: its first value is as deep; the reader measures the text, not the dict kept
        '{"id": "c", "case": "C1", "time": "%s", "type": "ping", "x": %s, "x": 1}' % (T0, deep(70)),
        '{"id": "d", "case": "C1", "time": "%s", "type": "ping", "data": {"x": %s}}' % (T0, deep(62)),
    ])
    data = same_on_both_engines(log, sops=pack_file)
    assert [(r["line"], r["error"]) for r in data["rejected"]] == [
        (2, "nested too deeply: more than 64 levels of arrays and objects (limit json-depth)"),
        (3, "nested too deeply: more than 64 levels of arrays and objects (limit json-depth)")]
    assert data["summary"]["events"] == 2
    smaller = same_on_both_engines(log, "--max", "json-depth=10", sops=pack_file)
    assert [r["line"] for r in smaller["rejected"]] == [2, 3, 4]
    assert "more than 10 levels" in smaller["rejected"][0]["error"]


def test_depth_limits_past_what_python_can_walk_are_refused_when_set(tmp_path: Path) -> None:
    for name, ceiling in CEILINGS.items():
        with pytest.raises(UsageError, match=f"at most {ceiling}"):
            Limits().with_settings([f"{name}={ceiling + 1}"])
        result = run(["validate", "--max", f"{name}={ceiling * 50}"])
        assert result.exit_code == 2 and f"at most {ceiling}" in result.output and "Traceback" not in result.output
    assert Limits().with_settings([f"yaml-depth={CEILINGS['yaml-depth']}"]).yaml_depth == CEILINGS["yaml-depth"]


def test_a_yaml_file_nested_to_the_ceiling_is_refused_with_its_place(tmp_path: Path) -> None:
    ceiling = CEILINGS["yaml-depth"]
    sop = tmp_path / "deep.yaml"
    sop.write_text(f"sop: x\nparams: {deep(ceiling + 5)}\n", encoding="utf-8")
    result = run(["validate", str(sop), "--max", f"yaml-depth={ceiling}"])
    assert result.exit_code == 1 and f"deep.yaml:2:" in result.output and "limit yaml-depth" in result.output
    assert "Traceback" not in result.output and "RecursionError" not in result.output


def test_a_json_document_nested_60k_deep_is_refused_fast_and_in_little_memory(tmp_path: Path) -> None:
    doc = tmp_path / "deep.json"
    good = json.dumps(ev("a", "C1", "ping"))
    doc.write_text("[" + good + ", " + '{"a":' * 60_000 + "1" + "}" * 60_000 + "]", encoding="utf-8")
    tracemalloc.start()
    started = time.perf_counter()
    records = list(read_json(str(doc), "deep.json"))
    elapsed = time.perf_counter() - started
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert elapsed < 2 and peak < 20_000_000, (elapsed, peak)  # quadratic: seconds and ~10 GB
    assert records[0][0] == json.loads(good)
    assert records[1][1] == 2 and "nested too deeply" in str(records[1][0]) and "rest of the file" in str(records[1][0])


def test_a_record_of_a_json_document_nested_past_the_limit_is_rejected(bundled: Pack, tmp_path: Path) -> None:
    doc = tmp_path / "log.json"
    # within the document's bound (its array and an event object around it), past the record's own
    rows = [ev("a", "C1", "case.created"), {**ev("b", "C1", "review.logged"), "data": {"x": json.loads(deep(63))}}]
    doc.write_text(json.dumps(rows), encoding="utf-8")
    result = audit(bundled, read_records(bundled, [str(doc)]))
    assert result.events == 1 and [r.line for r in result.rejected] == [2]
    assert "limit json-depth" in result.rejected[0].error


# --------------------------------------------------------------------------- 2. output linear in input

def test_a_line_dated_9999_makes_at_most_a_thousand_misses_of_a_weekly_obligation(tmp_path: Path,
                                                                                  pack_file: Path) -> None:
    log = write_jsonl(tmp_path / "far.jsonl", [ev("n", "C1", "note.set", text="x"),
                                               ev("z", "C2", "ping", time="9999-12-31T00:00:00Z")])
    data = same_on_both_engines(log, sops=pack_file)
    weekly = [v for v in data["violations"] if v["rule"] == "bounds/weekly-ping"]
    assert len(weekly) == MAX_REPEATS + 1  # 416,000 before (117 MB from a 400-byte log)
    summary = re.search(r"\[missed (\d+) more time\(s\) after this, the last at 9999-12-\d\dT09:00:00Z; an "
                        rf"obligation lists at most {MAX_REPEATS} misses\]$", weekly[-1]["message"])
    assert summary and int(summary[1]) > 400_000
    assert len(json.dumps(data)) < 400_000


def test_misses_past_the_cap_while_a_case_is_evaluated_are_counted_not_listed(tmp_path: Path,
                                                                             pack_file: Path) -> None:
    log = write_jsonl(tmp_path / "far.jsonl", [ev("n", "C1", "note.set", text="x"),
                                               ev("p", "C1", "ping", time="9000-01-01T00:00:00Z"),
                                               ev("q", "C1", "item.opened", time="9999-12-31T00:00:00Z", item="i")])
    data = same_on_both_engines(log, sops=pack_file)
    weekly = [v for v in data["violations"] if v["rule"] == "bounds/weekly-ping"]
    assert len(weekly) == MAX_REPEATS + 1 and "[missed" in weekly[-1]["message"]
    # met by the ping, the obligation starts again and is open at as-of; its later misses are not listed
    assert "bounds/weekly-ping" in [a["rule"] for a in data["next_actions"]]


def test_a_finding_cites_at_most_20_events_and_shows_at_most_20_items(tmp_path: Path, pack_file: Path) -> None:
    n = 300
    rows: list[Any] = [ev(f"o{i}", "C1", "item.opened", item=f"I-{i:04d}") for i in range(n)]
    rows += [ev(f"d{i}", "C1", "case.done") for i in range(n)]
    rows += [ev(f"p{i}", "C2", "ping") for i in range(n)]
    log = write_jsonl(tmp_path / "many.jsonl", rows)
    data = same_on_both_engines(log, sops=pack_file)
    done = [v for v in data["violations"] if v["rule"] == "bounds/done-with-open-items"]
    assert len(done) == n
    first = done[0]
    assert len(first["events"]) == MAX_EVIDENCE and first["more_events"] == n + 1 - MAX_EVIDENCE
    assert first["events"][:3] == ["d0", "o0", "o1"]
    assert f"I-0019, … and {n - SHOWN_ITEMS} more open" in first["message"] and "I-0020" not in first["message"]
    pings = {v["events"][0]: v for v in data["violations"] if v["rule"] == "bounds/one-ping"}
    assert len(pings) == n - 1 and "more_events" not in pings["p1"]
    last = pings[f"p{n - 1}"]
    assert last["events"][:3] == [f"p{n - 1}", "p0", "p1"] and len(last["events"]) == MAX_EVIDENCE
    assert last["more_events"] == n - MAX_EVIDENCE
    invariant = [a for a in data["next_actions"] if a["rule"] == "bounds/no-open-items"]  # broken by the 50th
    assert len(invariant[0]["events"]) == MAX_EVIDENCE and invariant[0]["more_events"] == 50 - MAX_EVIDENCE
    assert len(json.dumps(data)) < 10 * len(log.read_bytes())  # quadratic before: 35 times the log


def test_a_long_text_in_state_is_cut_in_every_message_that_shows_it(tmp_path: Path, pack_file: Path) -> None:
    text = "é" * 50_000
    log = write_jsonl(tmp_path / "long.jsonl", [ev("n", "C1", "note.set", text=text), ev("o", "C1", "item.opened",
                                                                                         item="i")]
                      + [ev(f"d{i}", "C1", "case.done") for i in range(50)])
    data = same_on_both_engines(log, sops=pack_file)
    done = [v for v in data["violations"] if v["rule"] == "bounds/done-with-open-items"]
    assert len(done) == 50
    assert done[0]["message"].endswith(f"note: {'é' * SHOWN_CHARS}… ({50_000 - SHOWN_CHARS} more characters)")


# --------------------------------------------------------------------------- 3. rejected records

def test_rejected_records_past_the_limit_are_counted_by_kind_the_same_on_every_engine(tmp_path: Path,
                                                                                      pack_file: Path) -> None:
    rows: list[Any] = [ev(f"p{i}", f"C{i}", "ping") for i in range(20)]
    rows += ["not json"] * 300 + ['{"case": 5}'] * 200 + [ev("p0", "C0", "ping")] * 50  # duplicates: refused
    log = write_jsonl(tmp_path / "bad.jsonl", rows)
    data = same_on_both_engines(log, "--max", "rejected-kept=30", sops=pack_file)
    assert [r["line"] for r in data["rejected"]] == list(range(21, 51))
    assert data["summary"]["rejected"] == 550 and data["summary"]["read"] == 570
    assert data["rejected_more"] == [
        {"reason": "not valid JSON: invalid literal, expected '…': line N column N (char N)", "count": 270},
        {"reason": "missing required key(s): time, type", "count": 200},
        {"reason": "duplicate event id '…' in case '…'; the first is kept", "count": 50}]
    jobs = audit_cli(log, "python", "--max", "rejected-kept=30", "--jobs", "2", sops=pack_file)
    assert jobs.exit_code == 0 and json.loads(jobs.stdout) == data
    text = run(["audit", str(log), "--sops", str(pack_file), "--max", "rejected-kept=30", "--fail-on", "never",
                "--max-rejected", "100%"])
    assert "Rejected lines (550)" in text.stdout and "... and 270 more, not listed (limit rejected-kept)" in text.stdout


def test_a_log_of_bad_lines_keeps_memory_flat(tmp_path: Path, pack: Pack) -> None:
    log = tmp_path / "junk.jsonl"
    log.write_bytes(b"x\n" * 100_000)
    limits = Limits(rejected_kept=100)
    tracemalloc.start()
    result = audit(pack, read_records(pack, [str(log)], inputs=InputSpec(limits=limits)), limits=limits)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.rejected_count == 100_000 and len(result.rejected) == 100
    assert peak < 5_000_000, peak  # every Rejected kept: ~35 MB


@pytest.mark.parametrize("engine", ENGINES)
def test_a_gzip_that_inflates_past_the_ratio_is_refused_with_exit_2(tmp_path: Path, pack_file: Path,
                                                                     engine: str) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    bomb.write_bytes(gzip.compress(b"x\n" * 3_000_000, 9))  # 3 MB from ~6 KB
    result = audit_cli(bomb, engine, "--max", "gzip-ratio=100", sops=pack_file)
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{bomb}: refused after line " in result.stderr and "limit gzip-ratio" in result.stderr
    assert "Traceback" not in result.output


# --------------------------------------------------------------------------- 4. truncated or malformed containers

def _gz_lines(n: int) -> bytes:
    return gzip.compress(b"".join(json.dumps(ev(f"p{i}", f"C{i}", "ping")).encode() + b"\n" for i in range(n)))


@pytest.mark.parametrize("how", [("python",), ("native",), ("python", "--jobs", "2")])
def test_a_truncated_gzip_is_exit_2_with_the_file_and_the_last_line_read(tmp_path: Path, pack_file: Path,
                                                                         how: tuple[str, ...]) -> None:
    log = tmp_path / "cut.jsonl.gz"
    log.write_bytes(_gz_lines(2000)[:3000])
    result = audit_cli(log, *how, sops=pack_file)
    assert result.exit_code == 2 and result.stdout == "" and "Aborted" not in result.output
    assert f"{log}: the compressed data ends early after line " in result.stderr
    assert "Traceback" not in result.output
    lines = {e: audit_cli(log, e, sops=pack_file).stderr.split("after line ")[1].split()[0] for e in ENGINES}
    assert lines["python"] == lines["native"] and int(lines["python"]) > 100


@pytest.mark.parametrize("engine", ENGINES)
def test_a_corrupt_or_false_gzip_is_exit_2_with_the_file(tmp_path: Path, pack_file: Path, engine: str) -> None:
    body = bytearray(_gz_lines(2000))
    body[len(body) // 2:len(body) // 2 + 64] = b"\xff" * 64
    for name, data in (("corrupt.jsonl.gz", bytes(body)), ("plain.jsonl.gz", b'{"case": "C1"}\n')):
        log = tmp_path / name
        log.write_bytes(data)
        result = audit_cli(log, engine, sops=pack_file)
        assert result.exit_code == 2 and f"{log}: not valid gzip data" in result.stderr, result.output
        assert "Traceback" not in result.output


def test_an_unclosed_csv_quote_is_exit_2_saying_how_many_lines_it_took(tmp_path: Path, bundled: Pack) -> None:
    csv = tmp_path / "log.csv"
    rows = [f"C{i},2024-05-06T09:00:00Z,case.created,a" for i in range(50)]
    rows[2] = 'C2,2024-05-06T09:00:00Z,"case.created,a'
    csv.write_text("case,time,type,actor\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = run(["audit", str(csv), "--format", "json", "--max-rejected", "100%"])
    assert result.exit_code == 2 and result.stdout == ""
    assert f"{csv}:4: a quoted field opened in this row is never closed: lines 4-51 (48 lines" in result.stderr
    big = tmp_path / "big.csv"  # the quote swallows more than a field may hold: stopped there, said the same way
    big.write_text("case,time,type,actor\n" + "\n".join(rows) + "\n" + "\n".join(rows[3:] * 40) + "\n",
                   encoding="utf-8")
    result = run(["audit", str(big), "--max", "line-bytes=2000"])
    assert result.exit_code == 2 and f"{big}:4: a quoted field opened in this row runs over" in result.stderr


# --------------------------------------------------------------------------- 5. --max everywhere

def test_facts_files_have_their_own_size_limit_and_every_limit_reaches_them(tmp_path: Path, pack_file: Path) -> None:
    log = write_jsonl(tmp_path / "log.jsonl", [ev("p", "C1", "ping")])
    facts = tmp_path / "facts.yaml"
    facts.write_text("users:\n" + "".join(f"  - id: u{i}\n    name: {'x' * 50}\n" for i in range(100)),
                     encoding="utf-8")
    # facts files are not SOP files: the SOP limit does not bound them, their own does
    assert audit_cli(log, "python", "--facts", str(facts), "--max", "sop-file-bytes=2000", sops=pack_file).exit_code == 0
    small = audit_cli(log, "python", "--facts", str(facts), "--max", "facts-file-bytes=1000", sops=pack_file)
    assert small.exit_code == 2 and "limit facts-file-bytes" in small.stderr and str(facts) in small.stderr
    csv = tmp_path / "users.csv"
    csv.write_text("Id,Name\n" + "".join(f"u{i},{'x' * 50}\n" for i in range(100)), encoding="utf-8")
    small = audit_cli(log, "python", "--facts", f"users={csv}", "--max", "facts-file-bytes=1000", sops=pack_file)
    assert small.exit_code == 2 and "larger than 1000 bytes (limit facts-file-bytes)" in small.stderr
    nested = tmp_path / "nested.yaml"
    nested.write_text(f"users:\n  - id: u1\n    x: {deep(100)}\n", encoding="utf-8")
    refused = audit_cli(log, "python", "--facts", str(nested), sops=pack_file)
    assert refused.exit_code == 2 and "limit yaml-depth" in refused.stderr
    assert audit_cli(log, "python", "--facts", str(nested), "--max", "yaml-depth=110", sops=pack_file).exit_code == 0


# --------------------------------------------------------------------------- 6. properties and fuzzing

_KINDS = st.sampled_from(["good", "deep", "far", "repeat", "open", "done", "long", "junk", "ping", "note"])


def _line(kind: str, i: int, case: str, size: int) -> Any:
    if kind == "deep":
        return '{"id": "x%d", "case": "%s", "time": "%s", "type": "ping", "data": {"v": %s}}' % (
            i, case, T0, deep(40 + size * 7))
    if kind == "far":
        return ev(f"f{i}", case, "item.opened", time=f"{9000 + size * 100}-01-01T00:00:00Z", item=f"F{i}")
    if kind == "repeat":
        return ev("same", case, "ping")
    if kind == "open":
        return ev(f"o{i}", case, "item.opened", item=f"I{i}")
    if kind == "done":
        return ev(f"d{i}", case, "case.done")
    if kind == "long":
        return ev(f"l{i}", case, "note.set", text="t" * (size * 700))
    if kind == "junk":
        return "{" * size + "not json"
    if kind == "ping":
        return ev(f"p{i}", case, "ping")
    if kind == "note":
        return ev(f"n{i}", case, "note.set", text=f"note {i}")
    return ev(f"g{i}", case, "item.closed", item=f"I{i - 1}")


@budget(25)
@given(st.lists(st.tuples(_KINDS, st.sampled_from(["C1", "C2", "C3"]), st.integers(0, 9)), min_size=1,
                max_size=60))
def test_any_log_gives_the_same_report_on_both_engines_bounded_in_proportion_to_it(
        tmp_path_factory: pytest.TempPathFactory, pack_file: Path, lines: list[tuple[str, str, int]]) -> None:
    tmp = tmp_path_factory.mktemp("prop")
    log = write_jsonl(tmp / "log.jsonl", [_line(kind, i, case, size) for i, (kind, case, size) in enumerate(lines)])
    data = same_on_both_engines(log, "--max", "rejected-kept=10", sops=pack_file)
    n = len(lines)
    repeating = sum(1 for kind, _, _ in lines if kind in ("note", "long"))  # a note opens a weekly obligation
    findings = data["violations"] + data["next_actions"]
    assert all(len(f["events"]) <= MAX_EVIDENCE for f in findings)
    # a message is its template with each placeholder cut to SHOWN_CHARS (and the note of a summary)
    assert all(len(v["message"]) <= 2 * SHOWN_CHARS + 200 for v in data["violations"])
    # a line is checked by a few rules; a note's obligation lists at most MAX_REPEATS + 1 misses
    assert len(data["violations"]) <= 4 * n + repeating * (MAX_REPEATS + 1)
    assert len(data["rejected"]) <= 10 and data["summary"]["read"] == n
    budget_bytes = 5_000 + 8_000 * n + repeating * (MAX_REPEATS + 1) * 400
    assert len(json.dumps(data)) <= budget_bytes


@budget(60)
@given(st.lists(st.one_of(st.binary(max_size=120), st.sampled_from([
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "ping", "data": {"v": ' + deep(66).encode() + b"}}",
    b'{"case": "C1", "time": "2024-05-06T09:00:00Z", "type": "ping", "x": ' + deep(66).encode() + b', "x": 1}',
    b'{"id": "a", "case": "C1", "time": "2024-05-06T09:00:00Z", "type": "ping"}',
    b'{"case": "C1", "time": "9999-12-31T23:59:59Z", "type": "note.set", "data": {"text": "\\\\\\"[[["}}',
    b'["\\\\", "\\"", "[", {"a": "]]]]"}]'])), min_size=1, max_size=25))
def test_fuzz_the_log_readers_agree_on_any_bytes_and_never_fail(tmp_path_factory: pytest.TempPathFactory,
                                                               lines: list[bytes]) -> None:
    from sopengine.events import Event, read_jsonl, render_native_reason

    path = tmp_path_factory.mktemp("fuzz") / "log.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines) + b"\n")
    types = ["ping", "note.set"]
    want = [("event", r.id, r.case, r.time, r.type, r.seq) if isinstance(r, Event) else ("rejected", r.line, r.error)
            for r in read_jsonl(path, set(types), type_names=lambda: types, max_line_bytes=4096)]
    got = [("event", *r[1:5], r[7]) if r[0] == "event"
           else ("rejected", r[1], render_native_reason(r[2], 4096, lambda: types))
           for r in _native.read_jsonl_records(str(path), types, [], 4096, 64)]
    assert got == want
    assert len(want) == sum(1 for line in path.read_bytes().split(b"\n") if line.strip())


_YAML_LEAF = st.one_of(st.integers(-10**30, 10**30), st.text(max_size=8), st.booleans(), st.none(),
                       st.sampled_from(["on: x", "!!python/name:os.system", "*a", "&a x", "{{", "'"]))
_YAML = st.recursive(_YAML_LEAF, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                          st.dictionaries(st.text(max_size=6), inner, max_size=3)),
                     max_leaves=40)


@budget(40)
@given(_YAML, st.integers(1, 120), st.sampled_from(["rules", "params", "state", "events", "sop"]),
       st.integers(1, CEILINGS["yaml-depth"]))
def test_fuzz_the_pack_loader_with_any_structure_and_nesting_never_gives_a_traceback(
        tmp_path_factory: pytest.TempPathFactory, value: Any, depth: int, key: str, yaml_depth: int) -> None:
    from sopengine.errors import PackError

    path = tmp_path_factory.mktemp("yaml") / "fuzzed.yaml"
    nested: Any = value
    for _ in range(depth):
        nested = [nested]
    path.write_text(json.dumps({"sop": {"id": "x", "title": "t"}, key: nested}), encoding="utf-8")
    try:
        load_pack([path], limits=Limits(yaml_depth=yaml_depth))
    except PackError as exc:
        assert exc.diagnostics and all(d.location.file.endswith("fuzzed.yaml") and d.location.line >= 1
                                       for d in exc.diagnostics)
