"""OCEL 2.0 logs (JSON and SQLite, written here as the OCEL 2.0 specification lays them out) read with the order
as the case notion: an event is in the case of each order it relates to, the related items are data, and the
accounting reconciles with events that relate to no order."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sopengine.cli import cli

from .conftest import PACKS, engine_blind

PACK = PACKS / "ocel"

OBJECTS = {"o1": "order", "o2": "order", "i1": "item", "i2": "item", "i3": "item", "c1": "customer"}
# (id, type, time, attributes, related (object, qualifier))
EVENTS: list[tuple[str, str, str, dict[str, Any], list[tuple[str, str]]]] = [
    ("e1", "place order", "2025-01-01T09:00:00Z", {}, [("o1", "order"), ("i1", "part"), ("i2", "part"),
                                                        ("c1", "buyer")]),
    ("e2", "place order", "2025-01-01T09:30:00Z", {}, [("o2", "order"), ("i3", "part"), ("c1", "buyer")]),
    ("e3", "pick item", "2025-01-01T10:00:00Z", {}, [("i1", "picked"), ("o1", "for")]),
    ("e4", "pay order", "2025-01-01T10:05:00Z", {"amount": 12.5}, [("o1", "order"), ("o2", "order")]),
    ("e5", "ship order", "2025-01-01T11:00:00Z", {}, [("o1", "order"), ("i1", "part"), ("i2", "part")]),
    ("e6", "pick item", "2025-01-01T11:10:00Z", {}, [("i3", "picked")]),  # relates to no order
    ("e7", "pick item", "2025-01-01T11:20:00Z", {}, [("i3", "picked"), ("o2", "for")]),
    ("e8", "ship order", "2025-01-01T12:00:00Z", {}, [("o2", "order"), ("i3", "part")]),
]


def _json_log(path: Path) -> Path:
    log = {
        "objectTypes": [{"name": t, "attributes": []} for t in sorted(set(OBJECTS.values()))],
        "eventTypes": [{"name": t, "attributes": []} for t in sorted({e[1] for e in EVENTS})],
        "objects": [{"id": o, "type": t} for o, t in OBJECTS.items()],
        "events": [{"id": i, "type": t, "time": time,
                    "attributes": [{"name": k, "value": v} for k, v in attrs.items()],
                    "relationships": [{"objectId": o, "qualifier": q} for o, q in rel]}
                   for i, t, time, attrs, rel in EVENTS],
    }
    path.write_text(json.dumps(log), encoding="utf-8")
    return path


def _sqlite_log(path: Path) -> Path:
    db = sqlite3.connect(path)
    kinds = sorted({e[1] for e in EVENTS})
    table = {k: k.replace(" ", "") for k in kinds}
    db.execute("CREATE TABLE event (ocel_id TEXT PRIMARY KEY, ocel_type TEXT)")
    db.execute("CREATE TABLE object (ocel_id TEXT PRIMARY KEY, ocel_type TEXT)")
    db.execute("CREATE TABLE event_object (ocel_event_id TEXT, ocel_object_id TEXT, ocel_qualifier TEXT)")
    db.execute("CREATE TABLE event_map_type (ocel_type TEXT, ocel_type_map TEXT)")
    db.execute("CREATE TABLE object_map_type (ocel_type TEXT, ocel_type_map TEXT)")
    for k in kinds:
        extra = ", amount REAL" if k == "pay order" else ""
        db.execute(f"CREATE TABLE event_{table[k]} (ocel_id TEXT, ocel_time TEXT{extra})")
        db.execute("INSERT INTO event_map_type VALUES (?, ?)", (k, table[k]))
    for t in sorted(set(OBJECTS.values())):
        db.execute("INSERT INTO object_map_type VALUES (?, ?)", (t, t))
    db.executemany("INSERT INTO object VALUES (?, ?)", OBJECTS.items())
    for i, t, time, attrs, rel in EVENTS:
        db.execute("INSERT INTO event VALUES (?, ?)", (i, t))
        cols = ["ocel_id", "ocel_time", *attrs]
        db.execute(f"INSERT INTO event_{table[t]} ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                   (i, time, *attrs.values()))
        db.executemany("INSERT INTO event_object VALUES (?, ?, ?)", [(i, o, q) for o, q in rel])
    db.commit()
    db.close()
    return path


def _audit(log: Path, *extra: str) -> Any:
    return CliRunner().invoke(cli, ["audit", str(log), "--sops", str(PACK), "--format", "json", "--fail-on",
                                    "never", *extra])


@pytest.mark.parametrize("write", [_json_log, _sqlite_log], ids=["json", "sqlite"])
def test_an_ocel_log_is_audited_with_the_order_as_the_case(tmp_path: Path, write: Any) -> None:
    log = write(tmp_path / ("log.jsonocel" if write is _json_log else "log.sqlite"))
    outputs = []
    for engine in ("python", "native"):
        out = _audit(log, "--case-type", "order", "--engine", engine)
        assert out.exit_code == 0, out.output
        outputs.append(out.stdout_bytes)
    assert engine_blind(outputs[0]) == engine_blind(outputs[1])
    report = json.loads(outputs[0])
    s = report["summary"]
    # 8 events: e4 is in both orders' cases, e6 relates to no order (skipped): 9 records read
    assert (s["read"], s["events"], s["rejected"], s["cases"]) == (9, 8, 0, 2)
    assert report["skipped"] == [{"reason": "event: no object of the case type", "count": 1}]
    assert "case_type" in json.dumps(report["provenance"])  # --reproduce reads the log the same way
    found = sorted((v["rule"], v["case"], v["events"][0]) for v in report["violations"])
    # o1 ships with i2 never picked; o2's payment came before its shipping (e4 is in both cases)
    assert found == [("orders/items-picked-before-shipping", "o1", "e5")]
    assert "with 1 item(s) not picked" in report["violations"][0]["message"]


def test_without_a_case_type_the_log_says_which_object_types_it_has(tmp_path: Path) -> None:
    log = _json_log(tmp_path / "log.jsonocel")
    out = _audit(log)
    assert out.exit_code == 2 and "Traceback" not in out.output
    assert "--case-type TYPE, one of its object types (customer, item, order)" in out.stderr
    wrong = _audit(log, "--case-type", "parcel")
    assert wrong.exit_code == 2 and "--case-type 'parcel' is not an object type" in wrong.stderr


def test_an_item_as_the_case_reads_the_same_log_otherwise(tmp_path: Path) -> None:
    """The case notion is a choice: with items as cases every event of an item is in its case."""
    log = _json_log(tmp_path / "log.jsonocel")
    out = _audit(log, "--case-type", "item")
    assert out.exit_code == 0, out.output
    s = json.loads(out.stdout)["summary"]
    related = sum(1 for e in EVENTS for o, _ in e[4] if OBJECTS[o] == "item")
    unrelated = sum(1 for e in EVENTS if not any(OBJECTS[o] == "item" for o, _ in e[4]))
    assert (s["events"], s["cases"], s["read"]) == (related, 3, related + unrelated)
