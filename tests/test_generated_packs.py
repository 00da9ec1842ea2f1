"""Engine invariants over generated packs and generated logs (hypothesis).

The packs are made from every rule kind of the language over a small made-up
vocabulary; the logs have ties in time on purpose. Whatever the pack and the
log, the audit is deterministic, independent of the order of the input (but
for the order of a case's events at the same time), the same with worker
processes, never counts a duplicated event twice, monotone in the as-of time,
and reconciles its counts.
"""

from __future__ import annotations

import json
import random
import resource
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from sopengine import Session, audit, load_pack, read_records
from sopengine.cli import cli
from sopengine.errors import PackError
from sopengine.events import Event
from sopengine.kinds.declare import TEMPLATES
from sopengine.model import Pack
from sopengine.parallel import audit_parallel
from sopengine.scenarios import PackSource, load_scenario_file, run_scenario
from sopengine.timeutil import format_time

from .conftest import START, engine_blind
from .fuzzing import budget

TYPES = ["a.x", "b.x", "c.x"]
HEADER = """\
events:
  a.x: {data: {v: {type: string}, n: {type: number}}}
  b.x: {data: {v: {type: string}, n: {type: number}}}
  c.x: {data: {v: {type: string}, n: {type: number}}}
state:
  last_v:
    type: value
    updates:
      - {on: [a.x, b.x, c.x], set: data.v}
  count:
    type: counter
    updates:
      - {on: a.x, add: 1}
indexes:
  by_v:
    member: filled(state.last_v)
    key: state.last_v
sop: {id: gen, title: Generated, source: {document: gen.txt}}
rules:
"""
EVENT_CONDS = ["data.v == 'p'", "filled(data.n)", "data.n > 5", "state.last_v != data.v", "state.count < 2", "true"]
STATE_CONDS = ["state.count < 2", "state.last_v != 'q'", "filled(state.last_v)", "state.count == 0 or true"]
DURATIONS = ["30m", "1h", "2h", "1d"]

CORRELATIONS = ["", "event.data.v == activation.data.v", "filled(event.data.n) or activation.data.v == 'p'"]
WINDOWS = ["", "{max: 1h}", "{min: 15m}", "{min: 15m, max: 2h}"]


def _declare(template: str, a: str, b: str, cond: str, corr: str, window: str, n: int) -> str:
    """A declare rule's keys: only those its template takes."""
    shape = TEMPLATES[template]
    lines = [f"template: {template}", f"activation: {{on: {a}" + (f", when: \"{cond}\"" if cond else "") + "}"]
    if shape.binary:
        lines.append(f"target: {{on: {b}" + (f", when: \"{corr}\"" if corr else "") + "}")
        if window:
            lines.append(f"window: {window}")
    if shape.counts:
        lines.append(f"n: {n}")
    return "\n".join(lines)


_types = st.sampled_from(TYPES)
_rule = st.one_of(
    st.builds(lambda t, c: f"on: {t}\nrequire: \"{c}\"", _types, st.sampled_from(EVENT_CONDS)).map(
        lambda body: ("guard", body)),
    st.builds(lambda t, c: f"on: {t}\nwhen: \"{c}\"", _types, st.sampled_from(EVENT_CONDS)).map(
        lambda body: ("forbid", body)),
    st.builds(lambda t, f: f"on: {t}\nfields: [{f}]", _types, st.sampled_from(["v", "n", "v, n"])).map(
        lambda body: ("require_fields", body)),
    st.builds(lambda t, u, d: f"on: {t}\nafter: {{on: {u}}}" + (f"\nwithin: {d}" if d else ""),
              _types, _types, st.sampled_from(DURATIONS + [""])).map(lambda body: ("precedence", body)),
    st.builds(lambda t, k: f"on: {t}\nmax: {k}", _types, st.integers(0, 2)).map(lambda body: ("at_most", body)),
    st.builds(lambda t, u, d, c, p: f"after: {{on: {t}, when: \"{c}\"}}\nexpect: {{on: {u}}}\nwithin: {d}\n"
                                    "action: do it" + (f"\npause: {{when: \"{p}\"}}" if p else ""),
              _types, _types, st.sampled_from(DURATIONS), st.sampled_from(EVENT_CONDS),
              st.sampled_from(["", "", *STATE_CONDS[:3], "trigger.data.v == state.last_v"])).map(
        lambda body: ("response", body)),
    st.builds(lambda c, d: f"require: \"{c}\"\ngrace: {d}\naction: fix it", st.sampled_from(STATE_CONDS),
              st.sampled_from(DURATIONS)).map(lambda body: ("invariant", body)),
    st.builds(lambda t: f"on: {t}\nindex: by_v\nkey: data.v", _types).map(lambda body: ("cross_case", body)),
    st.builds(lambda template, a, b, c, corr, window, n: _declare(template, a, b, c, corr, window, n),
              st.sampled_from(list(TEMPLATES)), _types, _types, st.sampled_from(EVENT_CONDS[:3] + [""]),
              st.sampled_from(CORRELATIONS), st.sampled_from(WINDOWS), st.integers(1, 2)).map(
        lambda body: ("declare", body)),
)
_packs = st.lists(_rule, min_size=1, max_size=6)

# one event: case, minutes after the start (small, so that times tie), type, data
_event = st.tuples(st.sampled_from(["C0", "C1", "C2", "C3"]), st.integers(0, 300).map(lambda m: m - m % 15),
                   _types, st.sampled_from([None, "p", "q", "r"]), st.sampled_from([None, 1, 7]))
_logs = st.lists(_event, min_size=1, max_size=25)


def _pack_text(rules: list[tuple[str, str]]) -> str:
    out = [HEADER]
    for i, (kind, body) in enumerate(rules):
        out.append(f"  - id: r{i}\n    kind: {kind}\n    severity: error\n    description: rule {i}\n"
                   f"    source: {{document: gen.txt, step: \"{i}\"}}\n    message: \"rule {i}\"\n")
        out.append("".join(f"    {line}\n" for line in body.splitlines()))
    return "".join(out)


def _make_pack(root: Path, rules: list[tuple[str, str]]) -> tuple[Pack, Path]:
    folder = root / "pack"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "gen.yaml").write_text(_pack_text(rules))
    return load_pack([folder]), folder


def _events(log: list[tuple[str, int, str, str | None, int | None]]) -> list[Event]:
    events = []
    for i, (case, minutes, etype, v, n) in enumerate(log):
        data = {k: val for k, val in (("v", v), ("n", n)) if val is not None}
        events.append(Event(f"e{i}", case, START + minutes * 60.0, etype, "ann", data))
    return events


def _copy(events: list[Event]) -> list[Event]:
    return [Event(e.id, e.case, e.time, e.type, e.actor, dict(e.data)) for e in events]


def _findings(pack: Pack, events: list[Event], as_of: float | None = None) -> Any:
    result = audit(pack, _copy(events), as_of=as_of)
    out = result.to_json()
    out.pop("rejected")
    out["summary"].pop("rejected")
    out["summary"].pop("read")
    return out


def _shuffle_keeping_ties(events: list[Event], rnd: random.Random) -> list[Event]:
    """A random order of the events in which each case's events at one time keep their order."""
    order = list(events)
    rnd.shuffle(order)
    groups: dict[tuple[str, float], list[Event]] = {}
    for e in events:
        groups.setdefault((e.case, e.time), []).append(e)
    taken: dict[tuple[str, float], int] = {}
    out = []
    for e in order:
        key = (e.case, e.time)
        out.append(groups[key][taken.get(key, 0)])
        taken[key] = taken.get(key, 0) + 1
    return out


def _write_log(path: Path, events: list[Event]) -> Path:
    with path.open("w") as fh:
        for e in events:
            fh.write(json.dumps({"id": e.id, "case": e.case, "time": format_time(e.time), "type": e.type,
                                 "actor": e.actor, "data": e.data}) + "\n")
    return path


@budget(40)
@given(_packs, _logs, st.randoms(use_true_random=False))
def test_shuffling_the_lines_but_not_a_cases_ties_changes_nothing(tmp_path_factory: pytest.TempPathFactory,
                                                                  rules: Any, log: Any, rnd: random.Random) -> None:
    pack, _ = _make_pack(tmp_path_factory.mktemp("gen"), rules)
    events = _events(log)
    assert _findings(pack, _shuffle_keeping_ties(events, rnd)) == _findings(pack, events)


@budget(25)
@given(_packs, _logs)
def test_the_same_input_gives_the_same_output_byte_for_byte(tmp_path_factory: pytest.TempPathFactory,
                                                            rules: Any, log: Any) -> None:
    root = tmp_path_factory.mktemp("gen")
    _, folder = _make_pack(root, rules)
    path = _write_log(root / "log.jsonl", _events(log))
    outputs = []
    for fmt in ("json", "sarif", "junit", "text"):
        runs = [CliRunner().invoke(cli, ["audit", str(path), "--sops", str(folder), "--format", fmt,
                                         "--fail-on", "never"]) for _ in range(2)]
        assert runs[0].exit_code == 0, runs[0].output
        assert runs[0].stdout_bytes == runs[1].stdout_bytes
        outputs.append(runs[0].stdout_bytes)
    assert all(outputs)


@budget(40)
@given(_packs, _logs, st.lists(st.integers(0, 10**6), min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_a_duplicated_event_is_rejected_once_and_never_counted_twice(tmp_path_factory: pytest.TempPathFactory,
                                                                     rules: Any, log: Any, picks: list[int],
                                                                     rnd: random.Random) -> None:
    root = tmp_path_factory.mktemp("gen")
    pack, _ = _make_pack(root, rules)
    events = _events(log)
    lines = _write_log(root / "clean.jsonl", events).read_text().splitlines()
    copies = sorted({p % len(lines) for p in picks})
    dirty = list(lines)
    for n in copies:  # each copy goes after its original (the first one read is the one kept)
        dirty.insert(rnd.randint(dirty.index(lines[n]) + 1, len(dirty)), lines[n])
    (root / "dirty.jsonl").write_text("\n".join(dirty) + "\n")
    clean = audit(pack, read_records(pack, [str(root / "clean.jsonl")]))
    result = audit(pack, read_records(pack, [str(root / "dirty.jsonl")]))
    second = {dirty.index(lines[n], dirty.index(lines[n]) + 1) + 1: json.loads(lines[n]) for n in copies}
    assert {r.line: r.error for r in result.rejected} == {
        line: f"duplicate event id {obj['id']!r} in case {obj['case']!r}; the first is kept"
        for line, obj in second.items()}
    assert result.events == len(lines) and result.read == len(dirty) == result.events + len(result.rejected)
    assert [v.to_json() for v in result.violations] == [v.to_json() for v in clean.violations]
    assert [a.to_json() for a in result.next_actions] == [a.to_json() for a in clean.next_actions]


@budget(40)
@given(_packs, _logs, st.integers(0, 400), st.integers(0, 400))
def test_a_later_as_of_keeps_every_violation_and_settles_or_keeps_every_next_action(
        tmp_path_factory: pytest.TempPathFactory, rules: Any, log: Any, a: int, b: int) -> None:
    pack, _ = _make_pack(tmp_path_factory.mktemp("gen"), rules)
    session = Session(pack)
    for e in _events(log):
        session.feed(e)
    early, late = session.result(START + min(a, b) * 60.0), session.result(START + max(a, b) * 60.0)

    def key(f: Any) -> Any:
        return (f.rule, f.case, f.events)

    later = {(key(v), v.time) for v in late.violations}
    assert {(key(v), v.time) for v in early.violations} <= later
    for n in early.next_actions:
        assert key(n) in {key(x) for x in late.next_actions} | {k for k, _ in later}, n


@budget(40)
@given(_packs, _logs, st.integers(0, 400), st.integers(0, 400))
def test_what_is_found_from_the_events_up_to_t_is_still_found_when_later_events_come(
        tmp_path_factory: pytest.TempPathFactory, rules: Any, log: Any, a: int, b: int) -> None:
    pack, _ = _make_pack(tmp_path_factory.mktemp("gen"), rules)
    events = _events(log)
    t, later = START + min(a, b) * 60.0, START + max(a, b) * 60.0
    early = audit(pack, [e for e in _copy(events) if e.time <= t], as_of=t)
    full = audit(pack, _copy(events), as_of=max(later, max(e.time for e in events)))
    found = {(v.rule, v.case, v.events, v.time) for v in full.violations}
    assert {(v.rule, v.case, v.events, v.time) for v in early.violations} <= found


@budget(30)
@given(_packs, _logs)
def test_grouped_streaming_and_buffered_evaluation_agree_and_counts_reconcile(
        tmp_path_factory: pytest.TempPathFactory, rules: Any, log: Any) -> None:
    pack, _ = _make_pack(tmp_path_factory.mktemp("gen"), rules)
    events = _events(log)
    by_case = sorted(_copy(events), key=lambda e: e.case)  # stable: each case's input order is kept
    as_of = max(e.time for e in events)
    grouped = audit(pack, by_case, as_of=as_of, grouped=True)
    assert grouped.to_json() == audit(pack, _copy(events), as_of=as_of).to_json()
    assert grouped.read == grouped.events == len(events)


@budget(8)
@given(_packs, _logs, st.integers(2, 3))
def test_jobs_n_equals_one_process_on_generated_packs(tmp_path_factory: pytest.TempPathFactory, rules: Any,
                                                      log: Any, jobs: int) -> None:
    root = tmp_path_factory.mktemp("gen")
    pack, folder = _make_pack(root, rules)
    path = _write_log(root / "log.jsonl", _events(log))
    with path.open("a") as fh:
        fh.write('{"case": "C1", "time": "2024-05-06T09:00:00Z"\n')  # one rejected line, reported once
    one = audit(pack, read_records(pack, [str(path)]))
    many = audit_parallel(pack, ([str(folder)], {}), [str(path)], {}, None, jobs)
    assert many.to_json() == one.to_json()


def test_a_breach_judged_after_its_grace_lists_each_evidence_event_once(tmp_path: Path) -> None:
    # The breaking event also set the state the condition read: it is the trigger and the evidence both.
    pack, _ = _make_pack(tmp_path, [("invariant", "require: \"state.last_v != 'q'\"\ngrace: 30m\naction: fix it")])
    events = _events([("C2", 0, "a.x", "q", None)])
    judged_at_as_of = audit(pack, _copy(events), as_of=START + 31 * 60.0)
    later = Event("e9", "C2", START + 45 * 60.0, "b.x", "ann", {})  # its deadline passes before this event
    expired_by_an_event = audit(pack, _copy(events) + [later])
    assert [v.events for v in judged_at_as_of.violations] == [("e0",)]
    assert [v.events for v in expired_by_an_event.violations] == [("e0",)]


# ---------------------------------------------------------------------------- validates => runs (issue 15)
# Packs made of random expressions over every kind of value (text, number, list, unknown data; a set, a
# counter and a value in state; parameters; every function, replace() nested) in every place one is written
# (conditions, state updates, messages, worklist columns, field lists), and logs whose data has any shape
# (kept with --lenient-data). Whatever the compiler accepts must audit on both engines alike and run its
# scenarios, with no traceback, in bounded time and memory.
RUN_HEADER = """\
pack: {{name: gen-run, report: {{columns: {{col: {column}}}}}}}
params:
  p: {{type: number, default: 2}}
  tags: {{type: list, default: [a, b]}}
events:
  a.x: {{data: {{v: {{type: string}}, n: {{type: number}}, l: {{type: list}}, o: {{type: any}}}}}}
  b.x: {{data: {{v: {{type: string}}, n: {{type: number}}, l: {{type: list}}, o: {{type: any}}}}}}
state:
  s:
    type: set
    updates:
      - {{on: a.x, add: {add}}}
      - {{on: b.x, remove: data.v}}
  c:
    type: counter
    updates:
      - {{on: a.x, add: {count}}}
  last:
    type: value
    updates:
      - {{on: [a.x, b.x], set: {value}}}
indexes:
  by:
    member: {member}
    key: {key}
    attributes: {{seen: {attribute}}}
sop: {{id: gen, title: Generated, source: {{document: gen.txt}}}}
rules:
"""
_ATOMS = ["data.v", "data.n", "data.l", "data.o", "state.s", "state.c", "state.last", "params.p", "params.tags",
          "'a'", "'a,b'", "1", "2.5", "0", "true", "null", "[1, 'a']", "[[1], 'a']", "{1, 'a'}", "event.time"]
_UNARY = ["len({})", "text({})", "lower({})", "filled({})", "days({})", "not {}", "-{}", "split({}, ',')",
          "replace({}, 'a', 'aa')", "replace(replace({}, 'a', 'aaaa'), 'a', 'aaaa')", "[{}]", "iso({})",
          "duration_text({})", "coalesce({}, 'z')"]
_BINARY = ["{} + {}", "{} - {}", "{} * {}", "{} / {}", "{} % {}", "{} < {}", "{} == {}", "{} in {}", "{} and {}",
           "{} or {}", "{} if {} else 'no'", "missing_in({}, {})", "contains({}, {})", "any_in({}, {})"]
_expr = st.recursive(
    st.sampled_from(_ATOMS),
    lambda inner: st.one_of(
        st.builds(lambda f, a: f.format(a), st.sampled_from(_UNARY), inner),
        st.builds(lambda f, a, b: "(" + f.format(a, b) + ")", st.sampled_from(_BINARY), inner, inner)),
    max_leaves=8)
_run_rule = st.sampled_from(["guard", "forbid", "invariant", "response", "require_fields", "cross_case", "at_most",
                             "precedence"])
_fields = st.lists(st.sampled_from(["v", "n", "l", "o", "state.s", "state.last", "n + 1", "v or l"]), min_size=1,
                   max_size=3)
_run_pack = st.tuples(st.lists(_expr, min_size=7, max_size=7),
                      st.lists(st.tuples(_run_rule, _expr, _expr, _fields), min_size=1, max_size=3))
_shapes = st.sampled_from([None, "", "a", "a,b", "é" * 3, 0, 7, 2.5, -1, True, [], ["a"], ["a", ["b", ["c"]]],
                           [1, "1"], {"k": ["v"]}, "x" * 3000, 10**15])
_run_event = st.tuples(st.sampled_from(["C0", "C1"]), st.integers(0, 180), st.sampled_from(["a.x", "b.x"]),
                       _shapes, _shapes, _shapes, _shapes)
_run_log = st.lists(_run_event, min_size=1, max_size=12)
_RULE_BODY = {
    "guard": "on: a.x\nrequire: {c}", "forbid": "on: b.x\nwhen: {c}", "invariant": "require: {c}\ngrace: 30m\n"
    "action: fix it", "response": "after: {{on: a.x, when: {c}}}\nexpect: {{on: b.x}}\nwithin: 1h\naction: answer",
    "require_fields": "on: a.x\nfields: {f}", "cross_case": "on: a.x\nindex: by\nkey: {c}",
    "at_most": "on: a.x\nwhen: {c}\nmax: 1", "precedence": "on: b.x\nwhen: {c}\nafter: {{on: a.x}}\nwithin: 1h",
}
_CONDITION = {"guard": ("require",), "forbid": ("when",), "invariant": ("require",), "response": ("after", "when"),
              "require_fields": ("fields",), "cross_case": ("key",), "at_most": ("when",), "precedence": ("when",)}


def _run_slots(spec: Any) -> dict[tuple[Any, ...], Any]:
    """Every place of the generated pack that holds generated text, by its path in the file."""
    (column, add, count, value, member, key, attribute), rules = spec
    slots: dict[tuple[Any, ...], Any] = {("pack", "report", "columns", "col"): column,
                                         ("indexes", "by", "member"): member, ("indexes", "by", "key"): key,
                                         ("indexes", "by", "attributes", "seen"): attribute,
                                         ("state", "s", "updates", 0, "add"): add,
                                         ("state", "c", "updates", 0, "add"): count,
                                         ("state", "last", "updates", 0, "set"): value}
    for i, (kind, condition, message, fields) in enumerate(rules):
        slots[("rules", i, *_CONDITION[kind])] = fields if kind == "require_fields" else condition
        slots[("rules", i, "message")] = "{" + message + "} and {" + message + "}"
    return slots


_SAFE = {"col": "state.c", "add": "data.v", "set": "data.v", "fields": ["v"], "message": "broken",
         "key": "state.last", "seen": "state.c"}


def _run_pack_text(spec: Any, slots: dict[tuple[Any, ...], Any]) -> str:
    def at(*path: Any) -> str:
        return json.dumps(slots[path])

    out = [RUN_HEADER.format(column=at("pack", "report", "columns", "col"), add=at("state", "s", "updates", 0, "add"),
                             count=at("state", "c", "updates", 0, "add"),
                             value=at("state", "last", "updates", 0, "set"), member=at("indexes", "by", "member"),
                             key=at("indexes", "by", "key"), attribute=at("indexes", "by", "attributes", "seen"))]
    for i, (kind, *_rest) in enumerate(spec[1]):
        body = _RULE_BODY[kind].format(c=at("rules", i, *_CONDITION[kind]) if kind != "require_fields" else "",
                                       f=at("rules", i, "fields") if kind == "require_fields" else "")
        out.append(f"  - id: r{i}\n    kind: {kind}\n    severity: error\n    description: rule {i}\n"
                   f"    source: {{document: gen.txt, step: \"{i}\"}}\n    message: {at('rules', i, 'message')}\n")
        out.append("".join(f"    {line}\n" for line in body.splitlines()))
    return "".join(out)


def _validating(folder: Path, spec: Any) -> bool:
    """Write the generated pack; each place the compiler refuses gets a safe expression instead (its refusal
    must be a diagnostic with that place), until the pack validates. False if it never does."""
    slots = _run_slots(spec)
    for _ in range(4):
        (folder / "gen.yaml").write_text(_run_pack_text(spec, slots))
        try:
            load_pack([folder])
            return True
        except PackError as exc:
            refused = {path for path in slots for d in exc.diagnostics if d.location.path[:len(path)] == path}
            assert refused, [str(d) for d in exc.diagnostics]
            for path in refused:
                slots[path] = "1" if path[:2] == ("state", "c") else _SAFE.get(str(path[-1]), "true")
    return False


def _run_lines(log: list[Any]) -> list[dict[str, Any]]:
    return [{"id": f"e{i}", "case": case, "time": format_time(START + minutes * 60.0), "type": etype,
             "data": {k: val for k, val in zip("vnlo", values) if val is not None}}
            for i, (case, minutes, etype, *values) in enumerate(log)]


@budget(30)
@given(_run_pack, _run_log)
def test_a_generated_pack_that_validates_audits_and_tests_on_both_engines_without_an_exception(
        tmp_path_factory: pytest.TempPathFactory, spec: Any, log: Any) -> None:
    root = tmp_path_factory.mktemp("run")
    folder = root / "pack"
    folder.mkdir()
    if not _validating(folder, spec):
        return
    validated = CliRunner().invoke(cli, ["validate", str(folder)])
    assert validated.exit_code == 0, validated.output
    lines = _run_lines(log)
    path = root / "log.jsonl"
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    scenario = {"sop": "gen", "scenarios": [{"name": "generated", "expect": {}, "events": [
        {"id": line["id"], "case": line["case"], "at": f"{minutes}m", "type": line["type"], "data": line["data"]}
        for line, (_case, minutes, *_rest) in zip(lines, log)]}]}
    (folder / "gen.test.yaml").write_text(json.dumps(scenario))
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    started = time.perf_counter()
    reports = []
    for engine in ("python", "native"):
        run = CliRunner().invoke(cli, ["audit", str(path), "--sops", str(folder), "--format", "json", "--engine",
                                       engine, "--lenient-data", "--max-rejected", "100%"])
        assert run.exception is None or isinstance(run.exception, SystemExit), run.output
        assert run.exit_code in (0, 1), run.output
        assert len(run.stdout_bytes) < 2_000_000
        reports.append(engine_blind(run.stdout_bytes))
    assert reports[0] == reports[1]
    tested = CliRunner().invoke(cli, ["test", str(folder)])
    assert tested.exception is None or isinstance(tested.exception, SystemExit), tested.output
    assert tested.exit_code in (0, 1) and "Traceback" not in tested.output, tested.output
    doc, problems = load_scenario_file(folder / "gen.test.yaml")
    assert doc is not None, problems
    source = PackSource([folder])
    outcomes = [run_scenario(source, doc, 0, engine) for engine in ("python", "native")]
    assert outcomes[0].problems == outcomes[1].problems
    assert time.perf_counter() - started < 20.0
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss_before) / 1024
    assert grown_mb < 300, f"peak memory grew by {grown_mb:.0f} MB"
