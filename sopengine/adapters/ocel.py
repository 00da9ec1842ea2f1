"""OCEL 2.0 object-centric event logs (JSON and SQLite) read with one object type as the case notion.

An OCEL event relates to any number of objects of several types (an order, its items, a package). Audited
with ``--case-type order``, each event becomes one record per related object of that type, in that object's
case (an event of two orders is in both cases, under its own id); an event related to no object of the type
is a record the default mapping skips ("no object of the case type"), so the accounting still reconciles.
Every record carries, besides the event's id, type, time and attributes, one field per object type listing
the ids of the objects of that type the event relates to (``data.items`` in an expression, when the pack
declares it), and ``qualifier``: how the event relates to its case's object.

The JSON form (``.jsonocel``, or ``--input-format ocel``) is read whole; the SQLite form (``.sqlite``) through
the standard library, table by table as the OCEL 2.0 specification lays them out. A record's 'line' is the
event's number in the log.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Any, Iterator

from ..errors import InputError, UsageError
from ..limits import DEFAULT, Limits
from .readers import RawRecord

SQLITE_MAGIC = b"SQLite format 3\x00"


def read_ocel(path: str, display: str, limits: Limits = DEFAULT, case_type: str | None = None
              ) -> Iterator[RawRecord]:
    """One record per (event, related object of ``case_type``); see the module's text."""
    with open(path, "rb") as fh:
        head = fh.read(len(SQLITE_MAGIC))
    events, types = _sqlite(path, display) if head == SQLITE_MAGIC else _json(path, display)
    if case_type is None or case_type not in types:
        known = ", ".join(sorted(types)) or "none"
        raise UsageError(f"{display}: an OCEL log needs its case notion: --case-type TYPE, one of its object types "
                         f"({known})" if case_type is None else
                         f"{display}: --case-type {case_type!r} is not an object type of this log ({known})")
    for number, (event, related) in enumerate(events, start=1):
        if "__bad__" in event:
            yield str(event["__bad__"]), number, None
            continue
        by_type: dict[str, list[str]] = {}
        for object_id, object_type, _qualifier in related:
            by_type.setdefault(object_type, []).append(object_id)
        base = {**event, **by_type}
        cases = [(oid, q) for oid, otype, q in related if otype == case_type]
        if not cases:
            yield {**base, "case": None, "qualifier": None}, number, None
        for object_id, qualifier in dict.fromkeys(cases):
            yield {**base, "case": object_id, "qualifier": qualifier}, number, None


Event = dict[str, Any]
Related = list[tuple[str, str, str | None]]  # (object id, object type, qualifier)


def _json(path: str, display: str) -> tuple[list[tuple[Event, Related]], set[str]]:
    try:
        with open(path, "rb") as fh:
            log = json.load(fh)
    except (OSError, ValueError) as exc:
        raise InputError(f"{display}: not an OCEL 2.0 JSON log: {exc}") from None
    if not isinstance(log, dict) or not isinstance(log.get("events"), list):
        raise InputError(f"{display}: not an OCEL 2.0 JSON log (no 'events' list)")
    object_type = {o.get("id"): o.get("type") for o in log.get("objects") or [] if isinstance(o, dict)}
    types = {t.get("name") for t in log.get("objectTypes") or [] if isinstance(t, dict)} | set(object_type.values())
    out: list[tuple[Event, Related]] = []
    for e in log["events"]:
        if not isinstance(e, dict):
            out.append(({"__bad__": f"expected an event object, got {type(e).__name__}"}, []))
            continue
        event: Event = {"id": e.get("id"), "type": e.get("type"), "time": e.get("time")}
        for attr in e.get("attributes") or []:
            if isinstance(attr, dict) and "name" in attr:
                event.setdefault(str(attr["name"]), attr.get("value"))
        related = [(str(r.get("objectId")), str(object_type.get(r.get("objectId"))), r.get("qualifier"))
                   for r in e.get("relationships") or [] if isinstance(r, dict)]
        out.append((event, related))
    return out, {str(t) for t in types if t is not None}


def _sqlite(path: str, display: str) -> tuple[list[tuple[Event, Related]], set[str]]:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise InputError(f"{display}: cannot open the SQLite file: {exc}") from None
    try:
        db.row_factory = sqlite3.Row
        kinds = {r["ocel_type"]: r["ocel_type_map"] for r in db.execute("SELECT * FROM event_map_type")}
        objects = {r["ocel_id"]: r["ocel_type"] for r in db.execute("SELECT ocel_id, ocel_type FROM object")}
        related: dict[str, Related] = {}
        for r in db.execute("SELECT ocel_event_id, ocel_object_id, ocel_qualifier FROM event_object"):
            oid = r["ocel_object_id"]
            related.setdefault(r["ocel_event_id"], []).append((oid, str(objects.get(oid)), r["ocel_qualifier"]))
        events: list[tuple[Event, Related]] = []
        for etype, table in kinds.items():
            for r in db.execute(f'SELECT * FROM "event_{table.replace(chr(34), chr(34) * 2)}"'):
                event: Event = {"id": r["ocel_id"], "type": etype, "time": r["ocel_time"]}
                event.update({k: r[k] for k in r.keys() if k not in ("ocel_id", "ocel_time")})
                events.append((event, related.get(r["ocel_id"], [])))
        types = {r["ocel_type"] for r in db.execute("SELECT ocel_type FROM object_map_type")} | set(objects.values())
    except sqlite3.Error as exc:
        raise InputError(f"{display}: not an OCEL 2.0 SQLite log: {exc}") from None
    finally:
        db.close()
    events.sort(key=lambda er: (str(er[0]["time"]), str(er[0]["id"])))  # the tables split the log by type
    return events, {str(t) for t in types if t is not None}
