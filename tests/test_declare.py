"""The declare rule kind beyond its scenarios (tests/packs/declare): what the compiler refuses, what lint's
self-target warning claims, and both engines alike on generated Declare rules in both readings of a case's end."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine import load_pack
from sopengine.errors import PackError
from sopengine.events import Event
from sopengine.kinds.declare import TEMPLATES
from sopengine.native import available
from sopengine.session import new_session

from .conftest import START
from .fuzzing import budget
from .test_generated_packs import CORRELATIONS, EVENT_CONDS, TYPES, WINDOWS, _declare

HEAD = """\
events:
  a.x: {data: {v: {type: string}, n: {type: number}}}
  b.x: {data: {v: {type: string}, n: {type: number}}}
  c.x: {data: {v: {type: string}, n: {type: number}}}
sop: {id: d, title: Declare, source: {document: d.txt}}
rules:
"""


def _pack(tmp_path: Path, *bodies: str) -> Any:
    text = HEAD + "".join(
        f"  - id: r{i}\n    kind: declare\n    severity: error\n    description: rule {i}\n"
        f"    source: {{document: d.txt, step: \"{i}\"}}\n    message: \"rule {i} at {{event.id}}\"\n"
        + "".join(f"    {line}\n" for line in body.splitlines()) for i, body in enumerate(bodies))
    folder = tmp_path / "pack"
    folder.mkdir(exist_ok=True)
    (folder / "d.yaml").write_text(text)
    return load_pack([folder])


@pytest.mark.parametrize(("body", "message"), [
    ("template: response\nactivation: {on: a.x}", "template response relates two kinds of event: it needs a target"),
    ("template: init\nactivation: {on: a.x}\ntarget: {on: b.x}", "template init takes no target"),
    ("template: response\nactivation: {on: a.x}\ntarget: {on: b.x}\nn: 2", "template response takes no n"),
    ("template: existence\nactivation: {on: a.x}\nwindow: {max: 1h}", "template existence takes no window"),
    ("template: response\nactivation: {on: a.x}\ntarget: {on: b.x}\nwindow: {min: 2h, max: 1h}",
     "window: min is longer than max"),
    ("template: response\nactivation: {on: a.x, when: \"activation.data.v == 'p'\"}\ntarget: {on: b.x}",
     "unknown name 'activation.data.v'; names here: params, event, data, case, state"),
    ("template: response\nactivation: {on: a.x}\ntarget: {on: b.x, when: \"activation.data.w == 1\"}",
     "'activation.data.w' is not a declared data field"),
    ("template: respons\nactivation: {on: a.x}", "respons"),
])
def test_what_a_template_does_not_take_is_an_error_at_its_key(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(PackError) as err:
        _pack(tmp_path, body)
    text = str(err.value)
    assert message in text and "d.yaml:" in text, text


def _events(log: list[tuple[str, int, str, str | None, int | None]]) -> list[Event]:
    out = []
    for i, (case, minutes, etype, v, n) in enumerate(log):
        data = {k: val for k, val in (("v", v), ("n", n)) if val is not None}
        out.append(Event(f"e{i}", case, START + minutes * 60.0, etype, "ann", data))
    return out


def _audit(pack: Any, events: list[Event], engine: str, complete: bool, as_of: float | None = None) -> bytes:
    session = new_session(pack, None, engine, cases_complete=complete)
    for e in events:
        session.feed(Event(e.id, e.case, e.time, e.type, e.actor, dict(e.data)))
    result = session.result(as_of)
    return orjson.dumps({**result.to_json(), "work": [w.to_json() for w in result.work]})


@pytest.mark.parametrize("engine", ["python", pytest.param("native", marks=pytest.mark.skipif(
    not available(), reason="the native core is not built"))])
def test_an_activation_that_is_its_own_target_leaves_the_last_one_unmet(tmp_path: Path, engine: str) -> None:
    """What lint's self-target warning says: response(a, a) is broken by the last a of every finished case."""
    pack = _pack(tmp_path, "template: response\nactivation: {on: a.x}\ntarget: {on: a.x}")
    log = [("C1", 0, "a.x", None, None), ("C1", 5, "a.x", None, None), ("C1", 9, "a.x", None, None),
           ("C2", 0, "a.x", None, None)]
    report = orjson.loads(_audit(pack, _events(log), engine, complete=True))
    assert sorted((v["case"], v["events"]) for v in report["violations"]) == [("C1", ["e2"]), ("C2", ["e3"])]
    live = orjson.loads(_audit(pack, _events(log), engine, complete=False))
    assert live["violations"] == [] and len(live["next_actions"]) == 2


_types = st.sampled_from(TYPES)
_rules = st.lists(st.builds(_declare, st.sampled_from(list(TEMPLATES)), _types, _types,
                            st.sampled_from(EVENT_CONDS[:3] + [""]), st.sampled_from(CORRELATIONS),
                            st.sampled_from(WINDOWS), st.integers(1, 2)), min_size=1, max_size=5)
_log = st.lists(st.tuples(st.sampled_from(["C0", "C1", "C2"]), st.integers(0, 150).map(lambda m: m - m % 30),
                          _types, st.sampled_from([None, "p", "q"]), st.sampled_from([None, 1, 7])),
                min_size=1, max_size=30)


@pytest.mark.skipif(not available(), reason="the native core is not built")
@budget(200)
@given(_rules, _log, st.integers(0, 300))
def test_generated_declare_rules_give_the_same_json_on_both_engines_in_both_readings(
        tmp_path_factory: pytest.TempPathFactory, bodies: list[str], log: Any, minutes: int) -> None:
    pack = _pack(tmp_path_factory.mktemp("declare"), *bodies)
    events = _events(log)
    for complete in (False, True):
        for as_of in (None, START + minutes * 60.0):
            python = _audit(pack, events, "python", complete, as_of)
            assert _audit(pack, events, "native", complete, as_of) == python, (complete, as_of)
