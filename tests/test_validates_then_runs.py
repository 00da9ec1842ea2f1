"""Issue 15, "anything that validates must run": a pack that validates audits, and a scenario file that loads
runs, on both engines, without a traceback; what cannot work is refused at compile time with file:line.

One test per reproducer of the issue; each failed on the code before (a traceback, a silent difference
between the engines, or a pack that validated and then did nothing)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine import audit, load_pack
from sopengine.cli import cli
from sopengine.errors import Code, PackError
from sopengine.events import Event
from sopengine.expr import MAX_JOINED
from sopengine.scenarios import run_tests

from .conftest import START, engine_blind, write_jsonl

pytest.importorskip("sopengine._native")
ENGINES = ("python", "native")

HEADER = """\
pack:
  name: runs
  report: {{columns: {{seen: state.seen}}}}
events:
  a.x: {{data: {{v: {{type: string}}, n: {{type: number}}, l: {{type: list}}, o: {{type: any}}}}}}
  b.x: {{data: {{}}}}
state:
  seen:
    type: set
    updates:
      - {{on: a.x, add: {seen}}}
  last:
    type: value
    updates:
      - {{on: a.x, set: data.v}}
sop: {{id: runs, title: Runs, source: {{document: runs.txt}}}}
rules:
  - id: answered
    kind: response
    severity: error
    description: An a.x is answered by a b.x.
    source: {{document: runs.txt, step: "1"}}
    after: {{on: a.x}}
    expect: {{on: b.x}}
    within: 1h
    action: answer
    message: "not answered"
"""


def _rule(body: str, kind: str = "guard", message: str = "broken") -> str:
    return (f"  - id: extra\n    kind: {kind}\n    severity: error\n    description: extra\n"
            f"    source: {{document: runs.txt, step: \"2\"}}\n    message: {json.dumps(message)}\n"
            + "".join(f"    {line}\n" for line in body.splitlines()))


def _pack(tmp_path: Path, *, seen: str = "data.v", extra: str = "") -> Path:
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    (folder / "runs.yaml").write_text(HEADER.format(seen=json.dumps(seen)) + extra)
    return folder


def _refused(folder: Path) -> list[str]:
    with pytest.raises(PackError) as info:
        load_pack([folder])
    for d in info.value.diagnostics:
        assert d.location.file.endswith("runs.yaml") and d.location.line > 1, str(d)
    return [str(d) for d in info.value.diagnostics]


def _line(n: int, etype: str, minutes: int, **data: Any) -> dict[str, Any]:
    return {"id": f"e{n}", "case": "C1", "time": f"2024-05-06T{9 + minutes // 60:02d}:{minutes % 60:02d}:00Z",
            "type": etype, "data": data}


def _audits_alike(folder: Path, log: Path, *extra: str) -> dict[str, Any]:
    """The JSON report of the audit on both engines: no traceback, exit 0 or 1, the same bytes."""
    outputs = []
    for engine in ENGINES:
        run = CliRunner().invoke(cli, ["audit", str(log), "--sops", str(folder), "--format", "json",
                                       "--engine", engine, *extra])
        assert run.exception is None or isinstance(run.exception, SystemExit), run.output
        assert run.exit_code in (0, 1), run.output
        outputs.append(engine_blind(run.stdout_bytes))
    assert outputs[0] == outputs[1]
    report: dict[str, Any] = json.loads(outputs[0])
    return report


# ------------------------------------------------------------------ compile-time type checks
def test_a_require_fields_entry_holding_an_expression_is_refused_with_its_place(tmp_path: Path) -> None:
    problems = _refused(_pack(tmp_path, extra=_rule("on: a.x\nfields: [v, \"n + 1\", state.nope]",
                                                    kind="require_fields")))
    assert any("[unknown-field] 'n + 1' is not a data field of a.x" in p for p in problems), problems
    assert any("[unknown-state] 'state.nope' is not declared state" in p for p in problems), problems


def test_adding_a_list_of_lists_to_a_set_is_refused_at_compile_time(tmp_path: Path) -> None:
    problems = _refused(_pack(tmp_path, seen="[data.v, [data.v]]"))
    assert any("[type-mismatch] state 'seen': 'add' of a set takes a value or a list of values" in p
               for p in problems), problems


def test_setting_a_set_to_itself_plus_itself_is_a_type_mismatch(tmp_path: Path) -> None:
    folder = _pack(tmp_path)
    text = (folder / "runs.yaml").read_text().replace("      - {on: a.x, set: data.v}",
                                                       "      - {on: a.x, set: data.v}\n"
                                                       "      - {on: b.x, set: \"state.seen + state.seen\"}")
    (folder / "runs.yaml").write_text(text)
    problems = _refused(folder)
    assert any("[type-mismatch] in 'state.seen + state.seen': '+' adds two numbers, joins two texts or two "
               "lists; 'state.seen' is a set" in p for p in problems), problems


@pytest.mark.parametrize(("expression", "says"), [
    ("data.v * 2 > 1", "'*' needs a number, but 'data.v' is a text"),
    ("days(data.v) > 1", "days() needs a number, but 'data.v' is a text"),
    ("data.v < 3", "'<' compares numbers with numbers or texts with texts"),
    ("len(data.n * 2) > 0", "len() needs a text, a list, a set or an object, but 'data.n * 2' is a number"),
    ("-data.l == 1", "unary - needs a number"),
    ("data.l - data.l", "'-' subtracts numbers (or a set from a set)"),
    ("'x' + params.limit == 'y'", "'+' adds two numbers"),
])
def test_an_operation_no_value_can_make_work_is_refused(tmp_path: Path, expression: str, says: str) -> None:
    folder = _pack(tmp_path, extra=_rule(f"on: a.x\nrequire: {json.dumps(expression)}"))
    text = (folder / "runs.yaml").read_text().replace("events:\n", "params:\n  limit: {type: number, default: 3}\n"
                                                      "events:\n", 1)
    (folder / "runs.yaml").write_text(text)
    problems = _refused(folder)
    assert any(f"[{Code.TYPE_MISMATCH.value}]" in p and says in p for p in problems), problems


@pytest.mark.parametrize("expression", [
    "data.o * 2 > 1", "data.n + 1 > data.n", "state.last + 'x' == 'y'", "state.seen - {'a'} == state.seen",
    "coalesce(data.n, 0) < 3", "text(data.l) + data.v == ''", "state.seen == {1, 'a'}",
])
def test_what_some_value_can_make_work_still_compiles(tmp_path: Path, expression: str) -> None:
    load_pack([_pack(tmp_path, extra=_rule(f"on: a.x\nrequire: {json.dumps(expression)}"))])


def test_a_counter_given_text_is_refused(tmp_path: Path) -> None:
    folder = _pack(tmp_path)
    text = (folder / "runs.yaml").read_text().replace(
        "  last:\n", "  count:\n    type: counter\n    updates:\n      - {on: a.x, add: data.v}\n  last:\n")
    (folder / "runs.yaml").write_text(text)
    assert any("[type-mismatch] state 'count': a counter holds a number; 'add' gives a text" in p
               for p in _refused(folder))


# ------------------------------------------------------------------ run-time guards, the same on both engines
def test_a_list_holding_lists_from_the_log_goes_into_a_set_on_both_engines_alike(tmp_path: Path) -> None:
    folder = _pack(tmp_path, seen="[data.o]")  # 'any' field: the compiler cannot know it nests
    log = write_jsonl(tmp_path / "log.jsonl", [_line(1, "a.x", 0, o=["q", ["r", ["s"]]]),
                                               _line(2, "a.x", 5, o=[["q"]])])
    report = _audits_alike(folder, log)
    assert report["summary"]["next_actions"] >= 1 and report["summary"]["rejected"] == 0


def test_a_worklist_column_of_texts_and_numbers_is_ordered_the_same_on_both_engines(tmp_path: Path) -> None:
    folder = _pack(tmp_path, seen="data.o")
    log = write_jsonl(tmp_path / "log.jsonl", [_line(1, "a.x", 0, o="p"), _line(2, "a.x", 1, o=10),
                                               _line(3, "a.x", 2, o=[9, "10", True, 2.5])])
    pack = load_pack([folder])
    columns = []
    for engine in ENGINES:
        events = [Event(f"e{i}", "C1", START + i * 60.0, "a.x", None, {"o": o})
                  for i, o in enumerate(["p", 10, [9, "10", True, 2.5]])]
        result = audit(pack, events, as_of=START + 600.0, engine=engine)
        columns.append([w.columns for w in result.work])
    assert columns[0] == columns[1] and columns[0][0] == (("seen", [True, 2.5, 9, 10, "10", "p"]),)
    _audits_alike(folder, log)


def test_nested_replace_that_would_build_past_the_limit_is_undecided_on_both_engines(tmp_path: Path) -> None:
    nested = "data.v"
    for _ in range(20):  # 262 characters doubled twenty times would be 275 million; the ninth passes MAX_JOINED
        nested = f"replace({nested}, 'a', 'aa')"
    folder = _pack(tmp_path, extra=_rule(f"on: a.x\nrequire: \"len({nested}) > 0\""))
    log = write_jsonl(tmp_path / "log.jsonl", [_line(1, "a.x", 0, v="a" * 262)])
    report = _audits_alike(folder, log)
    reasons = [u["reason"] for u in report["undecided"]]
    assert len(reasons) == 1 and f"replace() would build a text of 134144 characters; the limit is {MAX_JOINED}" \
        in reasons[0], reasons


def test_text_of_a_list_of_copies_of_a_long_field_is_bounded_on_both_engines(tmp_path: Path) -> None:
    folder = _pack(tmp_path, extra=_rule("on: a.x\nrequire: \"len(text([" + ", ".join(["data.v"] * 30)
                                         + "])) > 0\""))
    log = write_jsonl(tmp_path / "log.jsonl", [_line(1, "a.x", 0, v="x" * 5000)])
    reasons = [u["reason"] for u in _audits_alike(folder, log)["undecided"]]
    assert len(reasons) == 1 and "text() would build a text of 150058 characters" in reasons[0], reasons


def test_a_message_with_twenty_thousand_placeholders_is_refused_fast(tmp_path: Path) -> None:
    started = time.perf_counter()
    problems = _refused(_pack(tmp_path, extra=_rule("on: a.x\nrequire: 'false'", message="{data.v}" * 20_000)))
    assert time.perf_counter() - started < 5.0
    assert any("[expression-limit] message has more than 50 {...} placeholders (limit template-placeholders)" in p
               for p in problems), problems


def test_a_duration_past_a_thousand_years_is_refused_with_its_place(tmp_path: Path) -> None:
    folder = _pack(tmp_path)
    (folder / "runs.yaml").write_text((folder / "runs.yaml").read_text().replace("within: 1h", "within: 99999999w"))
    assert any("[bad-duration] duration '99999999w' is longer than 1000 years" in p for p in _refused(folder))


# ------------------------------------------------------------------ scenario files
SCENARIO = """\
sop: runs
scenarios:
  - name: the one under test
{body}
"""


@pytest.mark.parametrize(("body", "says"), [
    ("    events:\n      - {id: x, at: 0m, type: a.x}\n      - {id: x, at: 1m, type: b.x}\n    expect: {}",
     "scenarios.test.yaml:6:14: error [duplicate-id] event 2 has the id 'x' of event 1"),
    ("    events:\n      - {at: 0m, type: a.x}\n      - {id: e1, at: 1m, type: b.x}\n    expect: {}",
     "error [duplicate-id] event 2 has the id 'e1' of event 1"),
    (f"    events:\n      - {{at: \"{'9' * 400}w\", type: a.x}}\n    expect: {{}}",
     "scenarios.test.yaml:5:14: error [bad-duration] duration '9999"),
    (f"    events:\n      - {{at: 0m, type: a.x}}\n    expect:\n      violations:\n"
     f"        - {{rule: answered, at: \"{'9' * 400}w\"}}", "scenarios.test.yaml:8:32: error [bad-duration]"),
    (f"    events:\n      - {{at: 0m, type: a.x}}\n    expect:\n      next_actions:\n"
     f"        - {{rule: answered, due: \"{'9' * 400}w\"}}", "error [bad-duration] duration"),
    ("    as_of: '2020-01-01T00:00:00Z'\n    events:\n      - {at: 0m, type: a.x}\n    expect: {}",
     "scenarios.test.yaml:4:12: error [bad-duration] as_of 2020-01-01T00:00:00Z is before the scenario's first "
     "event"),
])
def test_a_scenario_that_cannot_run_fails_with_its_place_not_a_traceback(tmp_path: Path, body: str,
                                                                        says: str) -> None:
    folder = _pack(tmp_path)
    (folder / "scenarios.test.yaml").write_text(SCENARIO.format(body=body))
    report = run_tests([folder])
    assert [o.name for o in report.failed] == ["the one under test"]
    assert any(says in p for p in report.failed[0].problems), report.failed[0].problems
    run = CliRunner().invoke(cli, ["test", str(folder)])
    assert run.exit_code == 1 and run.exception is None or isinstance(run.exception, SystemExit), run.output
    assert "Traceback" not in run.output
