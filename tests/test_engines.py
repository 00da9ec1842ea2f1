"""One semantics, two engines: the native core and the Python reference evaluator give byte-identical JSON.

Every scenario of every pack, the example log, and hypothesis-generated packs and logs run on both.
"""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine import Event, audit, load_facts, load_pack, parse_time, read_records
from sopengine.audit import new_session
from sopengine.findings import AuditResult, Pending, Violation
from sopengine.native import available
from sopengine.reporters.jsonfmt import JsonReporter
from sopengine.scenarios import PackSource, load_scenario_file, run_scenario, scenario_files

from .conftest import PACKS, ROOT, SOPS, engine_blind
from .fuzzing import budget
from .test_generated_packs import _copy, _events, _logs, _make_pack, _packs

pytestmark = pytest.mark.skipif(not available(), reason="the native core is not built")


def _json(result: AuditResult) -> bytes:
    """Everything a report can show, as bytes: the JSON output as the reporter writes it, indented and compact
    (the native core writes its findings' text itself), then the findings made into objects and the worklist."""
    written = JsonReporter().audit(result) + JsonReporter(indent=False).audit(result)
    return written.encode() + orjson.dumps({**result.to_json(), "work": [w.to_json() for w in result.work]},
                                           option=orjson.OPT_INDENT_2)


def _scenarios() -> list[Any]:
    out = []
    for pack_dir in (SOPS, PACKS / "library", PACKS / "incidents", PACKS / "declare", PACKS / "calendars",
                     PACKS / "pauses", PACKS / "versions"):
        for path in scenario_files([pack_dir]):
            doc, _ = load_scenario_file(path)
            if doc is None:
                continue
            for i, sc in enumerate(doc.data["scenarios"]):
                out.append(pytest.param(pack_dir, path, i, id=f"{path.stem}: {sc['name']}"))
    return out


_SOURCES: dict[Path, PackSource] = {}


@pytest.mark.parametrize(("pack_dir", "path", "index"), _scenarios())
def test_every_scenario_gives_the_same_json_on_both_engines(pack_dir: Path, path: Path, index: int) -> None:
    source = _SOURCES.setdefault(pack_dir, PackSource([pack_dir]))
    doc, _ = load_scenario_file(path)
    assert doc is not None
    python = run_scenario(source, doc, index, engine="python")
    native = run_scenario(source, doc, index, engine="native")
    assert python.result is not None and native.result is not None, python.problems + native.problems
    assert _json(native.result) == _json(python.result)
    assert native.problems == python.problems


@pytest.mark.parametrize("as_of", [None, "2024-05-20T00:00:00Z"])
def test_the_example_log_gives_the_same_json_on_both_engines(bundled: Any, as_of: str | None) -> None:
    from sopengine import parse_time

    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    when = parse_time(as_of) if as_of else None
    log = [str(ROOT / "examples" / "events.jsonl")]
    python = audit(bundled, read_records(bundled, log), facts, when, engine="python")
    native = audit(bundled, read_records(bundled, log), facts, when, engine="native")
    assert python.violations, "the example log breaks rules on purpose"
    assert _json(native) == _json(python)
    fresh = audit(bundled, read_records(bundled, log), facts, when, engine="native")
    copied = pickle.loads(pickle.dumps(fresh))  # a result whose findings the core holds pickles them as lists
    assert _json(copied) == _json(python)


@pytest.mark.parametrize("as_of", [None, "2024-05-20T00:00:00Z"])
def test_the_native_engine_spilling_every_idle_case_gives_the_same_json(bundled: Any, as_of: str | None) -> None:
    """One case in memory at a time: every switch of case writes one to disk and reads one back."""
    from sopengine import parse_time

    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    when = parse_time(as_of) if as_of else None
    log = [str(ROOT / "examples" / "events.jsonl")]
    python = audit(bundled, read_records(bundled, log), facts, when, engine="python")
    native = audit(bundled, read_records(bundled, log), facts, when, engine="native", resident_cases=1)
    assert _json(native) == _json(python)


def test_the_cross_case_join_gives_the_same_findings_on_several_threads(bundled: Any) -> None:
    """Every case spilled, so the join reads its partitions from files; three threads join them at once."""
    from sopengine.native import NativeSession

    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    found = []
    for threads in (1, 3):
        session = NativeSession(bundled, facts, keep_events=False, resident_cases=1, join_threads=threads)
        session.feed_file(str(ROOT / "examples" / "events.jsonl"))
        found.append(session.result(None))
    cross = {r.id for r in bundled.rules if r.kind == "cross_case"}
    assert {v.rule for v in found[0].violations} & cross, "the example log breaks a cross-case rule"
    assert _json(found[1]) == _json(found[0])


def test_spilled_cases_an_event_came_late_for_are_replayed_from_the_files(bundled: Any, tmp_path: Path) -> None:
    """Shuffled lines and duplicates across two files read by the core, one case in memory at a time."""
    import random

    from sopengine.audit import audit_paths

    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines()
    random.Random(11).shuffle(lines)
    half = len(lines) // 2
    first, second = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    first.write_bytes(b"\n".join(lines[:half] + [lines[5]]) + b"\n")
    second.write_bytes(b"\n".join(lines[half:]) + b"\n")
    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    paths = [str(first), str(second)]
    python = audit_paths(bundled, paths, facts, engine="python")
    native = audit_paths(bundled, paths, facts, engine="native", resident_cases=1)
    assert python.rejected and python.violations
    assert _json(native) == _json(python)
    assert [r.to_json() for r in native.rejected] == [r.to_json() for r in python.rejected]


def _found(found: tuple[list[Pending], list[Violation]]) -> bytes:
    """A case's preview (open items, violations), every field, as bytes."""
    pending, violations = found
    return orjson.dumps([[dataclasses.asdict(p) for p in pending], [dataclasses.asdict(v) for v in violations]],
                        default=lambda o: sorted(o) if isinstance(o, (set, frozenset)) else str(o))


@pytest.mark.parametrize("resident", [None, 1])
def test_a_cases_preview_is_what_feeding_its_events_gives_on_both_engines_and_changes_nothing(
        bundled: Any, resident: int | None) -> None:
    """Every third event of the example log is held back and previewed per case: the same open items and
    violations as a session fed them after the others, on both engines (spilling every idle case, with
    ``resident`` 1), and the previewing session's findings are what they were."""
    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    log = [str(ROOT / "examples" / "events.jsonl")]
    previews: dict[str, dict[str, bytes]] = {}
    for engine in ("python", "native"):
        events = [r for r in read_records(bundled, log) if isinstance(r, Event)]
        fed = [e for i, e in enumerate(events) if i % 3 != 2]
        held: dict[str, list[Event]] = {}
        for e in events[2::3]:
            held.setdefault(e.case, []).append(e)
        latest = {e.case: e.time for e in sorted(fed, key=lambda e: e.time)}
        assert any(e.time < latest.get(e.case, e.time) for e in events[2::3]), "some held event comes late"
        options: dict[str, Any] = {"timelines": False, **({"resident_cases": resident} if engine == "native" else {})}
        before, after = new_session(bundled, facts, engine, **options), new_session(bundled, facts, engine, **options)
        for e in fed:
            before.feed(e)
            after.feed(e)
        for e in events[2::3]:
            after.feed(Event(e.id, e.case, e.time, e.type, e.actor, e.data))
        findings = _json(before.result())
        cases = sorted({e.case for e in events})
        previews[engine] = {case: _found(before.preview(case, held.get(case, []))) for case in cases}
        assert previews[engine] == {case: _found(after.preview(case)) for case in cases}
        assert _json(before.result()) == findings  # the previews changed nothing
    assert previews["native"] == previews["python"]
    found = [orjson.loads(f) for f in previews["native"].values()]
    assert any(p["due"] for pending, _ in found for p in pending) and any(v for _, v in found)


@budget(60)
@given(_packs, _logs, st.integers(0, 400))
def test_generated_packs_and_logs_give_the_same_json_on_both_engines(
        tmp_path_factory: pytest.TempPathFactory, rules: Any, log: Any, minutes: int) -> None:
    from .conftest import START

    pack, _ = _make_pack(tmp_path_factory.mktemp("gen"), rules)
    events = _events(log)
    for as_of in (None, START + minutes * 60.0):
        results = []
        for engine, resident in (("python", None), ("native", None), ("native", 1)):
            session = new_session(pack, None, engine, resident_cases=resident)
            for e in _copy(events):
                session.feed(e)
            results.append(_json(session.result(as_of)))
        assert results[1] == results[0]
        assert results[2] == results[0], "spilling idle cases to disk changed the findings"


@pytest.mark.parametrize("as_of", [[], ["--as-of", "2024-05-20T00:00:00Z"]], ids=["latest", "as-of"])
def test_a_shuffled_log_with_bad_lines_read_by_the_core_gives_the_same_report(tmp_path: Path,
                                                                              as_of: list[str]) -> None:
    """Lines out of order (cases replayed from a second read), rejected lines, duplicates, two files; on one
    process and on native --jobs workers that each evaluate a share of the cases and merge; as of the
    latest event, and as of a past moment (later events skipped by the core, also when it replays)."""
    import random

    from click.testing import CliRunner

    from sopengine.cli import cli
    from tests.test_hostile_logs import HOSTILE

    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines()
    random.Random(7).shuffle(lines)
    # Cases a --jobs worker can tell only by decoding the line (an escaped case id, a repeated key): each line
    # is still read by the worker of its case
    for n, line in enumerate(lines[:30]):
        event = orjson.loads(line)
        rest = orjson.dumps({k: v for k, v in event.items() if k != "case"})[1:]
        escaped = "".join(f"\\u{ord(c):04x}" for c in event["case"]).encode()
        lines[n] = (b'{"case": "' + escaped + b'", ' + rest if n % 3 == 0 else
                    b'{"case": "decoy", ' + line[1:] if n % 3 == 1 else b'{"case": 5, ' + line[1:])
    half = len(lines) // 2
    hostile = [line for line, _ in HOSTILE.values()]
    first = tmp_path / "a.jsonl"
    first.write_bytes(b"\n".join(lines[:half] + [lines[3], b""] + hostile) + b"\n")
    second = tmp_path / "b.jsonl"
    second.write_bytes(b"\n".join(lines[half:]) + b"\n")
    outputs = []
    for engine, jobs in (("python", "1"), ("native", "1"), ("native", "2"), ("native", "3")):
        result = CliRunner().invoke(cli, ["audit", str(first), str(second), "--facts",
                                          str(ROOT / "examples" / "facts.yaml"), "--format", "json",
                                          "--engine", engine, "--fail-on", "never", "--jobs", jobs, *as_of])
        assert result.exit_code == 0, result.output
        assert "one process" not in result.stderr
        outputs.append(result.stdout)
    data = orjson.loads(outputs[0])
    assert data["summary"]["rejected"] >= 2 and data["violations"]
    for engine, output in zip(("native", "native --jobs 2", "native --jobs 3"), outputs[1:]):
        assert engine_blind(output) == engine_blind(outputs[0]), engine


def test_without_the_native_module_auto_runs_the_python_engine_and_says_so_once(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from sopengine import native
    from sopengine.cli import cli

    log = str(ROOT / "examples" / "events.jsonl")
    args = ["audit", log, "--facts", str(ROOT / "examples" / "facts.yaml"), "--format", "json", "--fail-on", "never"]
    with_core = CliRunner().invoke(cli, args)
    monkeypatch.setattr(native, "_native", None)
    without = CliRunner().invoke(cli, args)
    assert without.exit_code == with_core.exit_code == 0
    assert engine_blind(without.stdout) == engine_blind(with_core.stdout)
    assert orjson.loads(without.stdout)["provenance"]["engine"] == "python"
    assert without.stderr.count("native core is not built") == 1 and "native core" not in with_core.stderr
    named = CliRunner().invoke(cli, [*args, "--engine", "native"])
    assert named.exit_code == 2 and "not built" in named.stderr and "Traceback" not in named.output


def test_the_html_report_is_the_same_on_both_engines_and_with_native_workers(tmp_path: Path) -> None:
    """Timelines and the worklist do not depend on the engine: the native core keeps no events, so those of the
    cases with findings are read again (in one process and after --jobs workers)."""
    import re

    from click.testing import CliRunner

    from sopengine.cli import cli

    pytest.importorskip("jinja2")
    pages = []
    for engine, jobs in (("python", "1"), ("native", "1"), ("native", "2")):
        out = tmp_path / f"{engine}-{jobs}.html"
        result = CliRunner().invoke(cli, ["audit", str(ROOT / "examples" / "events.jsonl"), "--facts",
                                          str(ROOT / "examples" / "facts.yaml"), "--format", "html", "-o", str(out),
                                          "--engine", engine, "--jobs", jobs, "--fail-on", "never"])
        assert result.exit_code == 0, result.output
        assert "one process" not in result.stderr
        page = out.read_text(encoding="utf-8")
        page = re.sub(r"generated \S+ by sopengine \S+ \((native|python) engine\)", "", page)
        pages.append(re.sub(r'<td data-label="engine">(native|python)</td>', "", page))
    assert pages[1] == pages[0]
    assert pages[2] == pages[0]


def test_timelines_read_again_after_the_core_are_the_events_the_audit_evaluated(bundled: Any, tmp_path: Path) -> None:
    """Not after the as-of time, not refused for their data, the first of a repeated id: as the Python engine
    kept them."""
    from sopengine.audit import audit_paths

    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines()
    first = next(line for line in lines if b'"case.created"' in line and b'"00001002"' in line)  # has findings
    bad = orjson.loads(first)
    bad["id"], bad["data"]["account_type"] = "bad-1", 5  # refused: account_type is a string
    log = tmp_path / "log.jsonl"
    log.write_bytes(b"\n".join([*lines, first, orjson.dumps(bad)]) + b"\n")  # a repeated id, a refused line
    facts = load_facts([ROOT / "examples" / "facts.yaml"])
    for as_of in (None, parse_time("2024-05-20T00:00:00Z")):
        python = audit_paths(bundled, [str(log)], facts, as_of, engine="python", timelines=1000)
        native = audit_paths(bundled, [str(log)], facts, as_of, engine="native", timelines=1000)
        assert bad["case"] in python.timelines and len(python.timelines) > 50
        assert {c: [e.to_json() for e in evs] for c, evs in native.timelines.items()} == \
            {c: [e.to_json() for e in evs] for c, evs in python.timelines.items()}
        assert native.actors == python.actors


_ANY_TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)  # every code point but surrogates


@budget(60)
@given(st.lists(st.tuples(_ANY_TEXT, _ANY_TEXT, st.booleans()), min_size=1, max_size=6, unique_by=lambda t: t[1]),
       st.integers(0, 12))
def test_any_text_of_case_and_event_ids_is_written_as_the_reference_writes_it(
        ids: list[tuple[str, str, bool]], hours: int) -> None:
    """The core writes its findings' JSON itself: quotes, backslashes, control characters, non-ASCII text and
    U+2028 come out as orjson writes them for the Python engine (violations, next actions, pauses)."""
    pack = _PAUSES.setdefault("pack", load_pack([PACKS / "pauses"]))
    start = parse_time("2026-03-02T10:00:00Z")
    events = []
    for n, (case, event_id, pause) in enumerate(ids):
        events.append(Event(event_id, case, start + n * 60, "request.opened", data={"tier": "basic"}))
        if pause:
            events.append(Event(event_id + "·", case, start + n * 60 + 30, "request.status_changed",
                                data={"to": "Waiting for requester"}))
    as_of = start + hours * 3600
    python = audit(pack, events, as_of=as_of, engine="python")
    native = audit(pack, events, as_of=as_of, engine="native")
    assert python.violations or python.next_actions
    assert _json(native) == _json(python)


_PAUSES: dict[str, Any] = {}


@pytest.mark.parametrize("engine", ["python", "native"])
def test_fail_on_exits_1_by_the_severities_the_report_shows(engine: str, tmp_path: Path) -> None:
    """--fail-on reads the violations' severities (on the native engine, from the findings the core keeps): a log
    with warnings and no errors fails at ``warning`` and passes at ``error``."""
    from click.testing import CliRunner

    from sopengine.cli import cli

    facts = str(ROOT / "examples" / "facts.yaml")

    def run(log: Path, fail_on: str) -> tuple[int, list[str]]:
        out = tmp_path / "out.json"
        done = CliRunner().invoke(cli, ["audit", str(log), "--facts", facts, "--format", "json", "-o", str(out),
                                        "--engine", engine, "--fail-on", fail_on])
        assert done.exit_code in (0, 1), done.output
        return done.exit_code, [v["severity"] for v in orjson.loads(out.read_bytes())["violations"]]

    whole = ROOT / "examples" / "events.jsonl"
    run(whole, "never")
    report = orjson.loads((tmp_path / "out.json").read_bytes())
    warned_only = {v["case"] for v in report["violations"]} - \
        {v["case"] for v in report["violations"] if v["severity"] == "error"}
    lines = [line for line in whole.read_bytes().splitlines() if orjson.loads(line)["case"] in warned_only]
    some = tmp_path / "warned.jsonl"
    some.write_bytes(b"\n".join(lines) + b"\n")
    rank = {"info": 0, "warning": 1, "error": 2}
    exits = {}
    for log in (whole, some):
        for fail_on in ("info", "warning", "error"):
            code, severities = run(log, fail_on)
            assert code == int(any(rank[s] >= rank[fail_on] for s in severities)), (log.name, fail_on)
            exits[(log.name, fail_on)] = code
    assert exits[(some.name, "warning")] == 1 and exits[(some.name, "error")] == 0
    assert exits[(whole.name, "error")] == 1
