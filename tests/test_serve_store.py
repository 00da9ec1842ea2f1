"""The serve stores (SQLite and PostgreSQL) behind the one ``Store`` interface: the same answers to the same calls."""

from __future__ import annotations

from typing import Any

import pytest

from sopengine.errors import UsageError
from sopengine.serve.store import NewEvent, Store, Timer, open_store

from .conftest import stored_rows


def event(case: str, eid: str, at: float = 1.0) -> NewEvent:
    return NewEvent(case, eid, at, f'{{"id": "{eid}"}}'.encode())


def timer(case: str, kind: str, due: float) -> Timer:
    return Timer(due, case, "rule", "e1", kind, "act")


@pytest.fixture
def store(db: str) -> Any:
    s = open_store(db)
    yield s
    s.close()


def test_an_event_is_stored_once_per_case_and_id_and_numbered_in_input_order(store: Store, db: str) -> None:
    seqs, rejected = store.add([event("A", "e1"), event("A", "e2"), event("B", "e1")], [("/events", 4, "bad", b"x")],
                               {})
    assert (seqs, rejected) == ([1, 2, 3], [1])
    seqs, rejected = store.add([event("A", "e2"), event("A", "e3")], [("/events", 2, "worse", b"y")], {})
    new = seqs[1]
    assert seqs[0] is None and new is not None and new > 3 and rejected == [2]  # SQLite may skip the duplicate's number
    assert store.has("A", "e3") and not store.has("B", "e2")
    assert [(e.seq, e.case, e.id) for e in store.events()] == [(1, "A", "e1"), (2, "A", "e2"), (3, "B", "e1"),
                                                              (new, "A", "e3")]
    assert [e.seq for e in store.events("A")] == [1, 2, new]
    assert [(r.seq, r.line, r.error) for r in store.rejections()] == [(1, 4, "bad"), (2, 2, "worse")]
    assert stored_rows(db, "SELECT count(*) FROM events") == [(4,)]  # committed: another connection sees it


def test_an_ingest_that_fails_part_way_stores_nothing_of_it(store: Store, db: str) -> None:
    store.add([event("A", "e1")], [], {})
    with pytest.raises(Exception):
        store.add([event("A", "e2")], [("/events", 1, "bad", b"x")], {"A": [timer("A", "overdue", 5.0)]},
                  [("k", "t", b"p")], {"A": object()})  # type: ignore[dict-item]  # fails last, after the inserts
    assert [e.id for e in store.events()] == ["e1"]
    assert store.counts() == {"events": 1, "rejected": 0, "timers": 0, "outbox_pending": 0, "outbox_delivered": 0,
                              "dead_letters": 0}
    assert store.add([event("A", "e2")], [], {})[0] == [2]


def test_timers_are_replaced_per_case_and_fire_once(store: Store) -> None:
    store.add([], [], {"A": [timer("A", "at_risk", 2.0), timer("A", "overdue", 5.0)],
                       "B": [timer("B", "overdue", 3.0)]}, open_items={"A": 1, "B": 1})
    store.add([], [], {"A": [timer("A", "overdue", 6.0)]}, open_items={"A": 2})
    assert [(t.case, t.kind, t.due) for t in store.timers()] == [("B", "overdue", 3.0), ("A", "overdue", 6.0)]
    assert store.open_items() == (2, 3)
    due = store.timers()[0]
    assert store.fire(due, [("B|rule|e1|overdue", "hook", b"{}")])
    assert not store.fire(due, [("B|rule|e1|overdue", "hook", b"{}")])  # already fired
    assert [t.case for t in store.timers()] == ["A"]
    assert store.counts()["outbox_pending"] == 1


def test_a_notification_is_queued_once_per_key_retried_and_kept_as_a_dead_letter(store: Store) -> None:
    store.enqueue([("k1", "hook", b"1"), ("k2", "hook", b"2")])
    store.add([], [], {}, [("k1", "hook", b"again")])  # the same key: not queued twice
    due = store.outbox_due(1e12)
    assert [(o.key, o.payload, o.attempts) for o in due] == [("k1", b"1", 0), ("k2", b"2", 0)]
    store.delivered("k1", "hook")
    store.retry("k2", "hook", 100.0, "HTTP 500", dead=False)
    assert store.next_outgoing() == 100.0 and store.outbox_due(99.0) == []
    store.retry("k2", "hook", 200.0, "HTTP 500", dead=True)
    assert store.dead_letters() == [("k2", "hook", 2, "HTTP 500")]
    assert store.next_outgoing() is None
    counts = store.counts()
    assert (counts["outbox_pending"], counts["outbox_delivered"], counts["dead_letters"]) == (0, 1, 1)


@pytest.mark.postgres
def test_a_postgresql_store_has_one_writer(postgres_db: str) -> None:
    from sopengine.serve.postgres import PostgresStore

    db = postgres_db
    first = open_store(db)
    try:
        with pytest.raises(UsageError, match="another sopengine serve is writing"):
            PostgresStore(db, lock_wait=0.5)
    finally:
        first.close()
    PostgresStore(db, lock_wait=0.5).close()  # the lock goes with the first one's connection


def test_an_unreachable_postgresql_server_is_a_usage_error() -> None:
    pytest.importorskip("psycopg")
    with pytest.raises(UsageError, match="cannot connect to PostgreSQL"):
        open_store("postgresql://nobody:x@127.0.0.1:9/none?connect_timeout=2")
