"""Durable state of the service: the events it acknowledged, the records it refused, the due-time index of its
timers and the outbox of its notifications.

The engine's state is not stored: it is a pure function of the stored events (event sourcing), so a case's
state change commits with the event that makes it, and a restart rebuilds it by feeding the stored events
again (:meth:`Store.events`). :class:`Store` is the small interface both backends implement:
:class:`SqliteStore`, the default, one file in WAL mode, and :class:`~sopengine.serve.postgres.PostgresStore`
for a ``postgresql://`` URL; :func:`open_store` picks one for ``--db``.
"""

from __future__ import annotations

import sqlite3
import time as _time
from dataclasses import dataclass
from typing import Iterable, Iterator, Protocol, Sequence


class StoreUnavailable(Exception):
    """The store cannot be reached now (a server store's connection was lost): the request that finds it is
    answered 503, the interrupted transaction stored nothing (or, its ``COMMIT`` sent and the answer lost, all of
    it), and a later call tries again."""


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An acknowledged event: its place in the store (``seq``, the input order) and its canonical JSON."""

    seq: int
    case: str
    id: str
    time: float
    body: bytes


@dataclass(frozen=True, slots=True)
class StoredRejection:
    seq: int
    source: str
    line: int
    error: str


@dataclass(frozen=True, slots=True)
class Timer:
    """A moment an open item of a case changes with no event: it turns ``at_risk`` or ``overdue``."""

    due: float
    case: str
    rule: str
    trigger: str  # the id of the event that opened the item
    kind: str  # at_risk, overdue
    text: str = ""  # the action the item asks for

    @property
    def key(self) -> str:
        """The notification's idempotency key: one notification per item and change, whatever is re-sent."""
        return f"{self.case}|{self.rule}|{self.trigger}|{self.kind}"


@dataclass(frozen=True, slots=True)
class Outgoing:
    key: str
    target: str
    payload: bytes
    attempts: int
    next_try: float


@dataclass(frozen=True, slots=True)
class NewEvent:
    case: str
    id: str
    time: float
    body: bytes


class Reader(Protocol):
    """A connection of the store's own for one long read off the event loop (a batch audit of the stored events,
    an explanation), beside the service's writes: it reads the store as one snapshot. Closed by its user."""

    def events(self, case: str | None = None) -> Iterator[StoredEvent]: ...
    def rejections(self) -> list[StoredRejection]: ...
    def close(self) -> None: ...


class Store(Protocol):
    """What the service needs of a durable store. Every method that writes commits before it returns:
    an answer to a client is sent only after its records are committed (ack = committed)."""

    def add(self, events: Sequence[NewEvent], rejected: Sequence[tuple[str, int, str, bytes]],
            timers: dict[str, list[Timer]], outgoing: Iterable[tuple[str, str, bytes]] = (),
            open_items: dict[str, int] | None = None) -> tuple[list[int | None], list[int]]:
        """In one transaction: insert ``events`` (their seqs; None for one whose (case, id) is already
        stored), the ``rejected`` records (source, line, reason, body; their seqs), replace the timers of
        each case of ``timers`` by its list, put the ``outgoing`` notifications in the outbox (once per key), and set
        the number of items each case of ``open_items`` has open."""
        ...

    def open_items(self) -> tuple[int, int]:
        """(cases, items they have open after their last event), as the last ingest of each left them."""
        ...

    def has(self, case: str, event_id: str) -> bool: ...

    def known(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (case, id) pairs of ``keys`` that are stored (one look-up for a request's events)."""
        ...

    def events(self, case: str | None = None) -> Iterator[StoredEvent]: ...
    def rejections(self) -> list[StoredRejection]: ...

    def reader(self) -> Reader:
        """A :class:`Reader` on a connection of its own (the store's connection is the event loop's)."""
        ...

    def counts(self) -> dict[str, int]: ...
    def timers(self) -> list[Timer]: ...
    def set_timers(self, timers: dict[str, list[Timer]]) -> None: ...
    def fire(self, timer: Timer, outgoing: Iterable[tuple[str, str, bytes]]) -> bool:
        """Delete ``timer`` and put its notifications (idempotency key, target, payload) in the outbox once: False when
        the timer was no longer stored (its case changed since)."""
        ...
    def enqueue(self, outgoing: Iterable[tuple[str, str, bytes]]) -> None: ...
    def outbox_due(self, now: float, limit: int = 100) -> list[Outgoing]: ...
    def next_outgoing(self) -> float | None: ...
    def delivered(self, key: str, target: str) -> None: ...
    def retry(self, key: str, target: str, next_try: float, error: str, dead: bool) -> None: ...
    def dead_letters(self) -> list[tuple[str, str, int, str]]: ...
    def close(self) -> None: ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    case_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    time REAL NOT NULL,
    body BLOB NOT NULL,
    received REAL NOT NULL,
    UNIQUE (case_id, event_id)
);
CREATE INDEX IF NOT EXISTS events_by_case ON events (case_id, seq);
CREATE TABLE IF NOT EXISTS rejected (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    source TEXT NOT NULL,
    line INTEGER NOT NULL,
    error TEXT NOT NULL,
    body BLOB NOT NULL,
    received REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS timers (
    case_id TEXT NOT NULL,
    rule TEXT NOT NULL,
    trigger TEXT NOT NULL,
    kind TEXT NOT NULL,
    due REAL NOT NULL,
    text TEXT NOT NULL,
    PRIMARY KEY (case_id, rule, trigger, kind)
);
CREATE INDEX IF NOT EXISTS timers_by_due ON timers (due);
CREATE TABLE IF NOT EXISTS outbox (
    key TEXT NOT NULL,
    target TEXT NOT NULL,
    payload BLOB NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_try REAL NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    error TEXT,
    PRIMARY KEY (key, target)
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_try);
CREATE TABLE IF NOT EXISTS cases (
    case_id TEXT PRIMARY KEY,
    open_items INTEGER NOT NULL
);
"""


def open_store(db: str) -> Store:
    """The store ``--db`` names: a ``postgresql://`` (or ``postgres://``) URL is a PostgreSQL database (psycopg,
    imported only then), anything else a SQLite file."""
    if db.startswith(("postgresql://", "postgres://")):
        try:
            from .postgres import PostgresStore
        except ImportError as exc:  # psycopg missing
            from ..errors import UsageError

            raise UsageError(f"--db {db.split('://')[0]}://...: the PostgreSQL store needs psycopg "
                             f"(pip install 'sopengine[serve]'): {exc}") from None
        return PostgresStore(db)
    return SqliteStore(db)


class SqliteStore:
    """The store in one SQLite file, in WAL mode with full sync: a commit survives the process being killed
    (and a power cut). One connection, used by one thread (the service's event loop)."""

    def __init__(self, path: str):
        self.path = path
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def add(self, events: Sequence[NewEvent], rejected: Sequence[tuple[str, int, str, bytes]],
            timers: dict[str, list[Timer]], outgoing: Iterable[tuple[str, str, bytes]] = (),
            open_items: dict[str, int] | None = None) -> tuple[list[int | None], list[int]]:
        now = _time.time()
        seqs: list[int | None] = []
        rejected_seqs: list[int] = []
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for e in events:
                cur = db.execute("INSERT OR IGNORE INTO events (case_id, event_id, time, body, received) "
                                 "VALUES (?, ?, ?, ?, ?)", (e.case, e.id, e.time, e.body, now))
                seqs.append(cur.lastrowid if cur.rowcount else None)
            for r in rejected:
                cur = db.execute("INSERT INTO rejected (source, line, error, body, received) VALUES (?, ?, ?, ?, ?)",
                                 (*r, now))
                rejected_seqs.append(cur.lastrowid or 0)
            self._set_timers(timers)
            self._enqueue(outgoing)
            db.executemany("INSERT OR REPLACE INTO cases (case_id, open_items) VALUES (?, ?)",
                           list((open_items or {}).items()))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return seqs, rejected_seqs

    def _set_timers(self, timers: dict[str, list[Timer]]) -> None:
        for case, items in timers.items():
            self._db.execute("DELETE FROM timers WHERE case_id = ?", (case,))
            self._db.executemany("INSERT OR REPLACE INTO timers (case_id, rule, trigger, kind, due, text) "
                                 "VALUES (?, ?, ?, ?, ?, ?)", [(t.case, t.rule, t.trigger, t.kind, t.due, t.text)
                                                               for t in items])

    def set_timers(self, timers: dict[str, list[Timer]]) -> None:
        """Replace the timers of each case given (a rebuild at start)."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._set_timers(timers)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def has(self, case: str, event_id: str) -> bool:
        return self._db.execute("SELECT 1 FROM events WHERE case_id = ? AND event_id = ?",
                                (case, event_id)).fetchone() is not None

    def known(self, keys: Sequence[tuple[str, str]]) -> set[tuple[str, str]]:
        return {key for key in keys if self.has(*key)}  # in process: a look-up costs microseconds

    def events(self, case: str | None = None) -> Iterator[StoredEvent]:
        return _sqlite_events(self._db, case)

    def rejections(self) -> list[StoredRejection]:
        return _sqlite_rejections(self._db)

    def reader(self) -> Reader:
        return _SqliteReader(self.path)

    def rejected_body(self, seq: int) -> bytes | None:
        row = self._db.execute("SELECT body FROM rejected WHERE seq = ?", (seq,)).fetchone()
        return bytes(row[0]) if row else None

    def counts(self) -> dict[str, int]:
        one = self._db.execute
        return {"events": one("SELECT count(*) FROM events").fetchone()[0],
                "rejected": one("SELECT count(*) FROM rejected").fetchone()[0],
                "timers": one("SELECT count(*) FROM timers").fetchone()[0],
                "outbox_pending": one("SELECT count(*) FROM outbox WHERE state = 'pending'").fetchone()[0],
                "outbox_delivered": one("SELECT count(*) FROM outbox WHERE state = 'delivered'").fetchone()[0],
                "dead_letters": one("SELECT count(*) FROM outbox WHERE state = 'dead'").fetchone()[0]}

    def open_items(self) -> tuple[int, int]:
        cases, items = self._db.execute("SELECT count(*), coalesce(sum(open_items), 0) FROM cases").fetchone()
        return cases, items

    def timers(self) -> list[Timer]:
        return [Timer(due, case, rule, trigger, kind, text) for case, rule, trigger, kind, due, text in
                self._db.execute("SELECT case_id, rule, trigger, kind, due, text FROM timers ORDER BY due")]

    def fire(self, timer: Timer, outgoing: Iterable[tuple[str, str, bytes]]) -> bool:
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            cur = db.execute("DELETE FROM timers WHERE case_id = ? AND rule = ? AND trigger = ? AND kind = ? "
                             "AND due = ?", (timer.case, timer.rule, timer.trigger, timer.kind, timer.due))
            if cur.rowcount:
                self._enqueue(outgoing)
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return bool(cur.rowcount)

    def _enqueue(self, outgoing: Iterable[tuple[str, str, bytes]]) -> None:
        now = _time.time()
        self._db.executemany("INSERT OR IGNORE INTO outbox (key, target, payload, next_try) VALUES (?, ?, ?, ?)",
                             [(key, target, payload, now) for key, target, payload in outgoing])

    def enqueue(self, outgoing: Iterable[tuple[str, str, bytes]]) -> None:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            self._enqueue(outgoing)
            self._db.execute("COMMIT")
        except BaseException:
            self._db.execute("ROLLBACK")
            raise

    def outbox_due(self, now: float, limit: int = 100) -> list[Outgoing]:
        return [Outgoing(key, target, bytes(payload), attempts, next_try) for key, target, payload, attempts, next_try
                in self._db.execute("SELECT key, target, payload, attempts, next_try FROM outbox WHERE state = "
                                    "'pending' AND next_try <= ? ORDER BY next_try LIMIT ?", (now, limit))]

    def next_outgoing(self) -> float | None:
        row = self._db.execute("SELECT min(next_try) FROM outbox WHERE state = 'pending'").fetchone()
        return row[0] if row else None

    def delivered(self, key: str, target: str) -> None:
        self._db.execute("UPDATE outbox SET state = 'delivered', attempts = attempts + 1, error = NULL "
                         "WHERE key = ? AND target = ?", (key, target))

    def retry(self, key: str, target: str, next_try: float, error: str, dead: bool) -> None:
        self._db.execute("UPDATE outbox SET attempts = attempts + 1, next_try = ?, error = ?, state = ? "
                         "WHERE key = ? AND target = ?", (next_try, error, "dead" if dead else "pending", key, target))

    def dead_letters(self) -> list[tuple[str, str, int, str]]:
        return [(key, target, attempts, error) for key, target, attempts, error in self._db.execute(
            "SELECT key, target, attempts, coalesce(error, '') FROM outbox WHERE state = 'dead' ORDER BY key")]

    def close(self) -> None:
        self._db.close()


def _sqlite_events(db: sqlite3.Connection, case: str | None) -> Iterator[StoredEvent]:
    if case is None:
        cur = db.execute("SELECT seq, case_id, event_id, time, body FROM events ORDER BY seq")
    else:
        cur = db.execute("SELECT seq, case_id, event_id, time, body FROM events WHERE case_id = ? ORDER BY seq",
                         (case,))
    while rows := cur.fetchmany(4096):
        for row in rows:
            yield StoredEvent(*row)


def _sqlite_rejections(db: sqlite3.Connection) -> list[StoredRejection]:
    return [StoredRejection(*row) for row in db.execute("SELECT seq, source, line, error FROM rejected ORDER BY seq")]


class _SqliteReader:
    """A second connection to the file, in one read transaction: WAL gives it the snapshot its first read saw,
    while the service's connection goes on committing."""

    def __init__(self, path: str):
        self._db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.execute("BEGIN")

    def events(self, case: str | None = None) -> Iterator[StoredEvent]:
        return _sqlite_events(self._db, case)

    def rejections(self) -> list[StoredRejection]:
        return _sqlite_rejections(self._db)

    def close(self) -> None:
        self._db.close()  # the read transaction ends with it

