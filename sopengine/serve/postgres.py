"""The store on a PostgreSQL server (``--db postgresql://...``), with psycopg 3: the tables and the semantics of
:class:`~sopengine.serve.store.SqliteStore`.

One connection in autocommit mode; a method that writes more than one row opens a transaction and returns after
its ``COMMIT``, which waits for the server's WAL flush (``synchronous_commit`` is set ``on`` for the session, so a
server configured otherwise does not weaken "acknowledged = committed").

One writer: the service keeps its engine's state in memory and rebuilds it from the stored events, so two
services writing one store would each miss the other's events. The store takes a session-level advisory lock
keyed on its ``events`` table at start and refuses to open while another process holds it; the server releases
it when that process's connection ends, however the process ended. ``seq`` (the input order, which
:meth:`events` follows) is numbered by the writer's insert as the next after the stored ones, so it is the
commit order.

The tables go in the first schema of the connection's ``search_path``; a URL chooses another with libpq's
``options`` parameter (``?options=-csearch_path%3Dsop``).
"""

from __future__ import annotations

import contextlib
import time as _time
from typing import Any, Callable, ContextManager, Iterable, Iterator, Sequence

import psycopg

from ..errors import UsageError
from .store import NewEvent, Outgoing, Reader, StoredEvent, StoredRejection, StoreUnavailable, Timer

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq bigint PRIMARY KEY,
    case_id text NOT NULL,
    event_id text NOT NULL,
    time double precision NOT NULL,
    body bytea NOT NULL,
    received double precision NOT NULL,
    UNIQUE (case_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_case ON events (case_id, seq);
CREATE TABLE IF NOT EXISTS rejected (
    seq bigint PRIMARY KEY,
    source text NOT NULL,
    line bigint NOT NULL,
    error text NOT NULL,
    body bytea NOT NULL,
    received double precision NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    case_id text NOT NULL,
    rule text NOT NULL,
    trigger text NOT NULL,
    kind text NOT NULL,
    due double precision NOT NULL,
    text text NOT NULL,
    PRIMARY KEY (case_id, rule, trigger, kind)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
CREATE TABLE IF NOT EXISTS outbox (
    key text NOT NULL,
    target text NOT NULL,
    payload bytea NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    next_try double precision NOT NULL,
    state text NOT NULL DEFAULT 'pending',
    error text,
    PRIMARY KEY (key, target)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_try);
CREATE TABLE IF NOT EXISTS cases (
    case_id text PRIMARY KEY,
    open_items integer NOT NULL
);
"""

# A batch in one statement. seq is numbered by the writer, the next after the stored ones in the batch's order:
# so the numbers follow commit order (a second writer would fail on the primary key rather than interleave), and
# a rolled-back transaction leaves no gap among the rejected records' numbers, the lines a re-audit names (an
# identity column's sequence is not transactional). max(seq) reads the primary key's index.
_INSERT_EVENTS = """
INSERT INTO events (seq, case_id, event_id, time, body, received)
SELECT (SELECT coalesce(max(seq), 0) FROM events) + row_number() OVER (ORDER BY n), case_id, event_id, time, body, %s
FROM unnest(%s::text[], %s::text[], %s::float8[], %s::bytea[]) WITH ORDINALITY AS new (case_id, event_id, time, body, n)
WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.case_id = new.case_id AND e.event_id = new.event_id)
ON CONFLICT (case_id, event_id) DO NOTHING
RETURNING seq, case_id, event_id
"""
_INSERT_REJECTED = """
INSERT INTO rejected (seq, source, line, error, body, received)
SELECT (SELECT coalesce(max(seq), 0) FROM rejected) + n, source, line, error, body, %s
FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::bytea[]) WITH ORDINALITY AS new (source, line, error, body, n)
RETURNING seq
"""
_INSERT_TIMERS = """
INSERT INTO timers (case_id, rule, trigger, kind, due, text)
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[], %s::text[])
"""
_LOCK_SPACE = 0x736F70 << 32  # "sop": the high half of the advisory lock key; the low half is the events table's oid
_PAGE = 4096  # events read per query by events(): bounded memory, no cursor held open between pages


class PostgresStore:
    """The store in a PostgreSQL database (schema: the first of the connection's ``search_path``). One
    connection, used by one thread at a time (the service's event loop); one writer process per store.

    A lost connection (the server restarted, the backend was terminated, the network broke) is not fatal: the
    call that finds it raises :class:`StoreUnavailable` (the service answers 503), the server has rolled back
    the transaction it interrupted, and the next call connects again and takes the writer's lock again. A
    ``COMMIT`` whose answer was lost may or may not have happened: the caller rebuilds what it keeps in memory
    from the store (:meth:`Live.rebuild <sopengine.serve.live.Live.rebuild>`)."""

    def __init__(self, url: str, *, lock_wait: float = 10.0):
        self._url = url
        try:
            self._db = self._connect(lock_wait)
        except psycopg.Error as exc:
            raise UsageError(f"--db: cannot connect to PostgreSQL: {str(exc).strip()}") from None

    def _connect(self, lock_wait: float) -> psycopg.Connection[Any]:
        db = psycopg.connect(self._url, autocommit=True, application_name="sopengine serve")
        try:
            db.execute("SET synchronous_commit TO on")
            with db.transaction():
                # CREATE TABLE IF NOT EXISTS is not safe against a concurrent one: a transaction-level lock
                # serialises two services starting at once on an empty schema (the second then finds the lock held)
                db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_SPACE,))
                db.execute(_SCHEMA)
            self._lock(db, lock_wait)
        except BaseException:
            db.close()
            raise
        return db

    @staticmethod
    def _lock(db: psycopg.Connection[Any], wait: float) -> None:
        deadline = _time.monotonic() + wait
        while True:  # a killed writer's connection may take a moment to end on the server
            row = db.execute("SELECT pg_try_advisory_lock(%s + 'events'::regclass::oid::bigint)",
                             (_LOCK_SPACE,)).fetchone()
            if row is not None and row[0]:
                return
            if _time.monotonic() >= deadline:
                raise UsageError("--db: another sopengine serve is writing to this PostgreSQL store (it holds the "
                                 "store's advisory lock); one service per store")
            _time.sleep(0.2)

    @contextlib.contextmanager
    def _using(self) -> Iterator[psycopg.Connection[Any]]:
        """The connection, made again first if the last one was lost; its loss while in use (or a failure to
        make it again) is :class:`StoreUnavailable`."""
        if self._db.closed:
            try:
                # one try for the writer's lock: the lost session's lock is released when the server ends it
                self._db = self._connect(0.0)
            except (psycopg.Error, UsageError) as exc:
                raise StoreUnavailable(f"the PostgreSQL store cannot be reached again: {str(exc).strip()}") from exc
        try:
            yield self._db
        except psycopg.Error as exc:
            if self._db.closed or self._db.broken:
                self._db.close()
                raise StoreUnavailable(f"the connection to the PostgreSQL store was lost: {str(exc).strip()}") \
                    from exc
            raise

    def _one(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self._using() as db:
            row = db.execute(sql, params).fetchone()
        assert row is not None
        return row[0]

    def add(self, events: Sequence[NewEvent], rejected: Sequence[tuple[str, int, str, bytes]],
            timers: dict[str, list[Timer]], outgoing: Iterable[tuple[str, str, bytes]] = (),
            open_items: dict[str, int] | None = None) -> tuple[list[int | None], list[int]]:
        now = _time.time()
        seqs: list[int | None] = []
        rejected_seqs: list[int] = []
        with self._using() as db, db.transaction(), db.cursor() as cur:
            if events:
                cur.execute(_INSERT_EVENTS, (now, [e.case for e in events], [e.id for e in events],
                                             [e.time for e in events], [e.body for e in events]))
                added = {(case, event_id): seq for seq, case, event_id in cur.fetchall()}
                seqs = [added.get((e.case, e.id)) for e in events]
            if rejected:
                cur.execute(_INSERT_REJECTED, (now, [r[0] for r in rejected], [r[1] for r in rejected],
                                               [r[2] for r in rejected], [r[3] for r in rejected]))
                rejected_seqs = sorted(seq for (seq,) in cur.fetchall())
            self._set_timers(cur, timers)
            self._enqueue(cur, outgoing)
            if open_items:
                cur.execute("INSERT INTO cases (case_id, open_items) SELECT * FROM unnest(%s::text[], %s::int[]) "
                            "ON CONFLICT (case_id) DO UPDATE SET open_items = EXCLUDED.open_items",
                            (list(open_items), list(open_items.values())))
        return seqs, rejected_seqs

    @staticmethod
    def _set_timers(cur: psycopg.Cursor[Any], timers: dict[str, list[Timer]]) -> None:
        if not timers:
            return
        # two statements for the whole batch (a statement per case costs a round trip each); the last of a
        # repeated key wins, as SQLite's INSERT OR REPLACE has it
        rows = {(t.case, t.rule, t.trigger, t.kind): t for items in timers.values() for t in items}
        cur.execute("DELETE FROM timers WHERE case_id = ANY(%s::text[])", (list(timers),))
        if rows:
            cur.execute(_INSERT_TIMERS, ([t.case for t in rows.values()], [t.rule for t in rows.values()],
                                         [t.trigger for t in rows.values()], [t.kind for t in rows.values()],
                                         [t.due for t in rows.values()], [t.text for t in rows.values()]))

    @staticmethod
    def _enqueue(cur: psycopg.Cursor[Any], outgoing: Iterable[tuple[str, str, bytes]]) -> None:
        now = _time.time()
        rows = [(key, target, payload, now) for key, target, payload in outgoing]
        if rows:
            cur.executemany("INSERT INTO outbox (key, target, payload, next_try) VALUES (%s, %s, %s, %s) "
                            "ON CONFLICT (key, target) DO NOTHING", rows)

    def set_timers(self, timers: dict[str, list[Timer]]) -> None:
        """Replace the timers of each case given (a rebuild at start)."""
        with self._using() as db, db.transaction(), db.cursor() as cur:
            self._set_timers(cur, timers)

    def has(self, case: str, event_id: str) -> bool:
        with self._using() as db:
            return db.execute("SELECT 1 FROM events WHERE case_id = %s AND event_id = %s",
                              (case, event_id)).fetchone() is not None

    def known(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        if not keys:
            return set()
        with self._using() as db:
            rows = db.execute("SELECT case_id, event_id FROM events JOIN unnest(%s::text[], %s::text[]) AS "
                              "asked (case_id, event_id) USING (case_id, event_id)",
                              ([case for case, _ in keys], [event_id for _, event_id in keys])).fetchall()
        return {(case, event_id) for case, event_id in rows}

    def events(self, case: str | None = None) -> Iterator[StoredEvent]:
        return _events(self._using, case)

    def rejections(self) -> list[StoredRejection]:
        with self._using() as db:
            return _rejections(db)

    def reader(self) -> Reader:
        try:
            return _PostgresReader(self._url)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"the PostgreSQL store cannot be reached: {str(exc).strip()}") from exc

    def rejected_body(self, seq: int) -> bytes | None:
        with self._using() as db:
            row = db.execute("SELECT body FROM rejected WHERE seq = %s", (seq,)).fetchone()
        return bytes(row[0]) if row else None

    def counts(self) -> dict[str, int]:
        with self._using() as db:
            row = db.execute(
                "SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM rejected), (SELECT count(*) FROM timers), "
                "count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'delivered'), "
                "count(*) FILTER (WHERE state = 'dead') FROM outbox").fetchone()
        assert row is not None
        names = ("events", "rejected", "timers", "outbox_pending", "outbox_delivered", "dead_letters")
        return dict(zip(names, (int(n) for n in row)))

    def open_items(self) -> tuple[int, int]:
        with self._using() as db:
            row = db.execute("SELECT count(*), coalesce(sum(open_items), 0) FROM cases").fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def timers(self) -> list[Timer]:
        with self._using() as db:
            return [Timer(due, case, rule, trigger, kind, text) for case, rule, trigger, kind, due, text in
                    db.execute("SELECT case_id, rule, trigger, kind, due, text FROM timers ORDER BY due")]

    def fire(self, timer: Timer, outgoing: Iterable[tuple[str, str, bytes]]) -> bool:
        with self._using() as db, db.transaction(), db.cursor() as cur:
            cur.execute("DELETE FROM timers WHERE case_id = %s AND rule = %s AND trigger = %s AND kind = %s "
                        "AND due = %s", (timer.case, timer.rule, timer.trigger, timer.kind, timer.due))
            fired = cur.rowcount > 0
            if fired:
                self._enqueue(cur, outgoing)
        return fired

    def enqueue(self, outgoing: Iterable[tuple[str, str, bytes]]) -> None:
        with self._using() as db, db.transaction(), db.cursor() as cur:
            self._enqueue(cur, outgoing)

    def outbox_due(self, now: float, limit: int = 100) -> list[Outgoing]:
        with self._using() as db:
            return [Outgoing(key, target, bytes(payload), attempts, next_try) for key, target, payload, attempts,
                    next_try in db.execute("SELECT key, target, payload, attempts, next_try FROM outbox WHERE state = "
                                           "'pending' AND next_try <= %s ORDER BY next_try LIMIT %s", (now, limit))]

    def next_outgoing(self) -> float | None:
        upcoming: float | None = self._one("SELECT min(next_try) FROM outbox WHERE state = 'pending'")
        return upcoming

    def delivered(self, key: str, target: str) -> None:
        with self._using() as db:
            db.execute("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, error = NULL "
                       "WHERE key = %s AND target = %s", (key, target))

    def retry(self, key: str, target: str, next_try: float, error: str, dead: bool) -> None:
        with self._using() as db:
            db.execute("UPDATE outbox SET attempts = attempts + 1, next_try = %s, error = %s, state = %s "
                       "WHERE key = %s AND target = %s", (next_try, error, "dead" if dead else "pending", key, target))

    def dead_letters(self) -> list[tuple[str, str, int, str]]:
        with self._using() as db:
            return [(key, target, attempts, error) for key, target, attempts, error in db.execute(
                "SELECT key, target, attempts, coalesce(error, '') FROM outbox WHERE state = 'dead' ORDER BY key")]

    def close(self) -> None:
        self._db.close()  # ends the session: the server releases the writer's advisory lock


def _events(using: Callable[[], ContextManager[psycopg.Connection[Any]]], case: str | None) -> Iterator[StoredEvent]:
    # by pages on seq rather than a server-side cursor, which would hold a transaction open across the
    # caller's other calls on the service's connection (its single writer adds nothing while it reads)
    after = 0
    while True:
        with using() as db:
            if case is None:
                rows = db.execute("SELECT seq, case_id, event_id, time, body FROM events WHERE seq > %s "
                                  "ORDER BY seq LIMIT %s", (after, _PAGE)).fetchall()
            else:
                rows = db.execute("SELECT seq, case_id, event_id, time, body FROM events WHERE case_id = %s "
                                  "AND seq > %s ORDER BY seq LIMIT %s", (case, after, _PAGE)).fetchall()
        for seq, case_id, event_id, at, body in rows:
            yield StoredEvent(seq, case_id, event_id, at, bytes(body))
        if len(rows) < _PAGE:
            return
        after = rows[-1][0]


def _rejections(db: psycopg.Connection[Any]) -> list[StoredRejection]:
    return [StoredRejection(*row) for row in db.execute("SELECT seq, source, line, error FROM rejected ORDER BY seq")]


class _PostgresReader:
    """A connection of its own in one read-only REPEATABLE READ transaction: every page it reads is of one
    snapshot, while the service's connection goes on committing."""

    def __init__(self, url: str):
        self._db = psycopg.connect(url, application_name="sopengine serve (reader)")
        self._db.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        self._db.read_only = True

    @contextlib.contextmanager
    def _using(self) -> Iterator[psycopg.Connection[Any]]:
        try:
            yield self._db
        except psycopg.OperationalError as exc:
            if self._db.closed or self._db.broken:
                raise StoreUnavailable(f"the connection to the PostgreSQL store was lost: {str(exc).strip()}") \
                    from exc
            raise

    def events(self, case: str | None = None) -> Iterator[StoredEvent]:
        return _events(self._using, case)

    def rejections(self) -> list[StoredRejection]:
        with self._using() as db:
            return _rejections(db)

    def close(self) -> None:
        self._db.close()  # the transaction is rolled back: it wrote nothing
