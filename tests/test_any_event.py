"""``on: any`` and ``on: {any_except: [...]}``: a rule need not list the vocabulary (every declared type, or every
one but those), on both engines."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from sopengine import Event, load_pack
from sopengine.audit import new_session
from sopengine.errors import PackError
from sopengine.native import available

from .conftest import START

PACK = """\
events:
  t.a: {}
  t.b: {}
  t.c: {}
sop: {id: any, title: Any event, source: {document: any.txt}}
rules:
  - id: at-most-three
    kind: at_most
    severity: error
    description: at most three events of any type
    source: {document: any.txt, step: "1"}
    message: too many events
    on: any
    max: 3
  - id: nothing-but-a-after-c
    kind: forbid
    severity: warning
    description: after a t.c, only t.a
    source: {document: any.txt, step: "2"}
    message: "{event.type} after t.c"
    on: {any_except: [t.a]}
    when: "state.seen_c"
state:
  seen_c:
    type: value
    initial: false
    updates:
      - {on: t.c, set: "true"}
"""

ENGINES = ["python"] + (["native"] if available() else [])


def _pack(tmp_path: Path, text: str = PACK) -> object:
    (tmp_path / "any.yaml").write_text(text)
    return load_pack([tmp_path])


@pytest.mark.parametrize("engine", ENGINES)
def test_any_is_every_declared_type_and_any_except_all_but_those(tmp_path: Path, engine: str) -> None:
    pack = _pack(tmp_path)
    session = new_session(pack, None, engine)
    for i, etype in enumerate(["t.a", "t.c", "t.a", "t.b", "t.c"]):
        session.feed(Event(f"e{i}", "K", START + i * 60.0, etype, None, {}))
    found = sorted((v.rule, v.events[0], v.message) for v in session.result().violations)
    assert found == [("any/at-most-three", "e3", "too many events"), ("any/at-most-three", "e4", "too many events"),
                     ("any/nothing-but-a-after-c", "e3", "t.b after t.c"),
                     ("any/nothing-but-a-after-c", "e4", "t.c after t.c")]


def test_both_engines_agree(tmp_path: Path) -> None:
    if not available():
        pytest.skip("the native core is not built")
    pack = _pack(tmp_path)
    outputs = []
    for engine in ("python", "native"):
        session = new_session(pack, None, engine)
        for i, etype in enumerate(["t.b", "t.c", "t.c", "t.a", "t.b", "t.a"]):
            session.feed(Event(f"e{i}", f"K{i % 2}", START + i * 60.0, etype, None, {}))
        outputs.append(orjson.dumps(session.result().to_json()))
    assert outputs[0] == outputs[1]


def test_an_unknown_type_in_any_except_and_an_event_type_named_any_are_refused(tmp_path: Path) -> None:
    with pytest.raises(PackError, match=r"any.yaml:21:9: error \[unknown-event\] unknown event type 't\.d'"):
        _pack(tmp_path, PACK.replace("any_except: [t.a]", "any_except: [t.d]"))
    with pytest.raises(PackError, match=r"any.yaml:2:3: error \[schema\] 'any' is not allowed here: on: any means "
                                        "every event type, so no event type is named any"):
        _pack(tmp_path, PACK.replace("  t.c: {}\n", "  t.c: {}\n  any: {}\n"))
