"""The live engine: records in, acknowledged once committed; findings out, the batch audit's.

Ingestion checks each record as the batch reader does (:func:`sopengine.events.event_from_obj`, the pack's
data declarations), refuses a case's event that comes more than the reorder window after a later one, works
out the changed cases' timers and notifications on copies of them that take the new events (the session's
``preview``), and commits the events, the refused records, the timers and the notifications in one
transaction before it answers. Then the in-memory session (native where built, as the CLI chooses) is fed.
The session is a cache: it is a pure function of the stored events and is rebuilt from them at start.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import orjson

from ..audit import audit
from ..datacheck import DataCheck, DataFault, DataNotes, check_event
from ..events import Event, Record, Rejected, event_from_obj
from ..findings import AuditResult, Pending, Warn, risk_from
from ..kinds.response import ResponseRule, warn_points
from ..limits import DEFAULT, Limits
from ..model import Pack
from ..session import engine_name, new_session
from ..timeutil import format_duration, format_time
from .store import NewEvent, Reader, Store, StoreUnavailable, Timer


@dataclass(frozen=True)
class LiveConfig:
    """How the live engine reads and judges; none of it changes what the batch audit finds for the events kept."""

    engine: str | None = None  # auto: native where built
    reorder_window: float = 7 * 86400.0  # a case's event older than its latest by more: refused, kept
    lenient_data: bool = False
    limits: Limits = DEFAULT


@dataclass
class Outcome:
    """What became of one record of an ingest request."""

    line: int
    status: str  # accepted, duplicate, rejected
    id: str | None = None
    case: str | None = None
    error: str | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"line": self.line, "status": self.status}
        for name in ("id", "case", "error"):
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out


@dataclass
class Tally:
    """Counters for /metrics (since the process started)."""

    accepted: int = 0
    duplicates: int = 0
    rejected: dict[str, int] = field(default_factory=dict)  # reason kind -> records

    def reject(self, reason: str) -> None:
        from ..events import reason_kind

        kind = reason_kind(reason)
        self.rejected[kind] = self.rejected.get(kind, 0) + 1


def content_id(obj: Mapping[str, Any]) -> str:
    """The id of an event sent without one: a hash of its canonical content, so that sending it again is
    recognised as the same event (the batch reader derives it from the file and line instead)."""
    return "sha256:" + hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def window_reason(window: float, latest: float) -> str:
    return (f"more than {format_duration(window)} older than its case's latest event ({format_time(latest)}), "
            "past the reorder window; kept for a batch re-audit")


class Live:
    """The service's engine over a :class:`~sopengine.serve.store.Store`."""

    def __init__(self, pack: Pack, facts: Mapping[str, Any] | None, store: Store, config: LiveConfig):
        self.pack = pack
        self.facts = dict(facts or {})
        self.store = store
        self.config = config
        self.engine = engine_name(config.engine)
        self.tally = Tally()
        self._check = DataCheck(pack.events)
        self._type_names = sorted(pack.events)
        self._warns: Mapping[str, Warn] = warn_points(pack)
        self._responses = {r.id for r in pack.rules if isinstance(r, ResponseRule)}
        self._latest: dict[str, float] = {}  # case -> its latest event time
        self._session = self._new_session()
        self.ready = False
        self.stale = False  # the store may hold what the session was not fed (a commit's answer was lost)

    def _new_session(self) -> Any:
        return new_session(self.pack, self.facts, self.engine, timelines=False, limits=self.config.limits,
                           lenient_data=self.config.lenient_data)

    # -- start ---------------------------------------------------------------------------
    def rebuild(self) -> int:
        """Feed the stored events to a new session (the state is a function of them); returns their number.
        Until it has finished, the service is not ready (and :attr:`stale` stays set if it fails)."""
        self.ready = False
        self._session = session = self._new_session()
        self._latest.clear()
        n = 0
        for stored in self.store.events():
            event = self._decode(stored.body, stored.seq)
            session.feed(event, stored.seq)
            self._note_latest(event)
            n += 1
        for r in self.store.rejections():
            session.reject(Rejected(r.source, r.seq, r.error))
        self.ready = True
        self.stale = False
        return n

    def recover(self) -> bool:
        """Rebuild the session if a write's outcome was lost with the store's connection (:attr:`stale`):
        before the session is used again. True when it rebuilt."""
        if not self.stale:
            return False
        self.rebuild()
        return True

    def _decode(self, body: bytes, seq: int) -> Event:
        event = event_from_obj(orjson.loads(body), "", None, seq, max_depth=None)
        assert isinstance(event, Event), event
        return event

    def _note_latest(self, event: Event) -> None:
        if event.time > self._latest.get(event.case, float("-inf")):
            self._latest[event.case] = event.time

    # -- ingest --------------------------------------------------------------------------
    def ingest(self, records: Sequence[tuple[int, Any]], source: str,
               outgoing: Callable[[str, dict[str, Any]], list[tuple[str, str, bytes]]] | None = None
               ) -> tuple[list[Outcome], list[Timer]]:
        """Check and commit ``records`` ((line, decoded JSON value or :func:`refused`) pairs) in one
        transaction, with the timers of the changed cases and (``outgoing``: the notifier's) the notifications
        of their violations; then feed the accepted events to the session. Returns the outcome of each record
        and the changed cases' timers."""
        outcomes: list[Outcome] = []
        new: list[tuple[Event, bytes]] = []
        refused: list[tuple[str, int, str, bytes]] = []
        seen: set[tuple[str, str]] = set()
        latest: dict[str, float] = {}  # cases' latest times with this request's events
        checked: list[tuple[int, Event | str, bytes]] = []  # (line, the event or why it is refused, body)
        for line, obj in records:
            if isinstance(obj, _Refused):
                checked.append((line, obj.reason, obj.body))
                continue
            body = orjson.dumps(obj) if not isinstance(obj, bytes) else obj
            fallback = content_id(obj) if isinstance(obj, dict) else ""
            made = event_from_obj(obj, fallback, self.pack.events, -1, lambda: self._type_names,
                                  None, self.config.limits.json_depth)
            reason: str | None = made if isinstance(made, str) else None
            if isinstance(made, Event):
                try:
                    check_event(self._check, DataNotes(), self.config.lenient_data, made.type, made.data,
                                (source, line))
                except DataFault as exc:
                    reason = str(exc)
            checked.append((line, made if reason is None and isinstance(made, Event) else reason or "", body))
        # the stored ones among the request's (case, id) pairs, in one look-up (a round trip to a server)
        known = self.store.known([(made.case, made.id) for _, made, _ in checked if isinstance(made, Event)])
        for line, made, body in checked:
            if not isinstance(made, Event):
                outcomes.append(Outcome(line, "rejected", error=made))
                refused.append((source, line, made, body))
                continue
            key = (made.case, made.id)
            if key in seen or key in known:
                outcomes.append(Outcome(line, "duplicate", made.id, made.case))
                continue
            last = latest.get(made.case, self._latest.get(made.case))
            if last is not None and made.time < last - self.config.reorder_window:
                why = window_reason(self.config.reorder_window, last)
                outcomes.append(Outcome(line, "rejected", made.id, made.case, why))
                refused.append((source, line, why, body))
                continue
            seen.add(key)
            if last is None or made.time > last:
                latest[made.case] = made.time
            outcomes.append(Outcome(line, "accepted", made.id, made.case))
            new.append((made, orjson.dumps(made.to_json())))
        # Timers and notifications commit with the events that make them, so they are worked out before the
        # commit, on a copy of each changed case that takes its new events (the session's preview): the session
        # itself is fed only once the store has the events. Feeding it first would need the store's numbers
        # (seq) before the insert assigns them, and a failed commit would leave it ahead of the store until a
        # rebuild (seconds per 100k events); the copy costs each new event a second evaluation, microseconds.
        timers, violations, open_items = self._case_timers([e for e, _ in new], outgoing is not None)
        notes = [o for key, item in violations for o in outgoing(key, item)] if outgoing is not None else []
        try:
            seqs, refused_seqs = self.store.add([NewEvent(e.case, e.id, e.time, b) for e, b in new], refused,
                                                timers, notes, open_items)
        except StoreUnavailable:  # its COMMIT may have happened: the session is rebuilt before it is used again
            self.stale = True
            raise
        # committed: from here on the records are acknowledged, and the session must follow the store
        try:
            for (event, _), seq in zip(new, seqs):
                if seq is None:  # stored meanwhile by another writer: it is that one's
                    continue
                event.seq = seq
                self._session.feed(event, seq)
                self._note_latest(event)
            for (src, _line, reason, _body), rseq in zip(refused, refused_seqs):
                self._session.reject(Rejected(src, rseq, reason))
        except Exception:  # noqa: BLE001 - an engine fault: the state is rebuilt from the store, then raised
            self.rebuild()
            raise
        for _src, _line, reason, _body in refused:
            self.tally.reject(reason)
        self.tally.accepted += len(new)
        self.tally.duplicates += sum(o.status == "duplicate" for o in outcomes)
        return outcomes, [t for items in timers.values() for t in items]

    def _case_timers(self, new: Sequence[Event], notify: bool
                     ) -> tuple[dict[str, list[Timer]], list[tuple[str, dict[str, Any]]], dict[str, int]]:
        """For each case of ``new`` (events not yet fed), what the session would have with them: the moments
        its open items turn at risk or overdue with no further event (the due-time index), its violations (for
        notifications) and the number of items it has open. The deadlines are those the batch audit judges."""
        by_case: dict[str, list[Event]] = {}
        for e in new:
            by_case.setdefault(e.case, []).append(e)
        out: dict[str, list[Timer]] = {}
        found: list[tuple[str, dict[str, Any]]] = []
        counts: dict[str, int] = {}
        now = time.time()
        for case, events in by_case.items():
            pending, case_violations = self._session.preview(case, events)
            counts[case] = len(pending)
            out[case] = self._timers(case, pending, now)
            if notify:
                for v in case_violations:
                    kind = "overdue" if v.rule in self._responses else "violation"
                    found.append((f"{case}|{v.rule}|{v.events[0] if v.events else ''}|{kind}",
                                  {"kind": kind, "case": case, "rule": v.rule, "severity": v.severity,
                                   "text": v.message, "time": format_time(v.time), "events": list(v.events)}))
        return out, found, counts

    def _timers(self, case: str, pending: Iterable[Pending], now: float) -> list[Timer]:
        """The moments a case's open items change with no event. An item's next deadline (``due``) is when the
        batch audit first judges it overdue; a repeating obligation's later deadlines share its notification
        key, so it is notified once, as its overdue violations are. A paused clock has no deadline until an
        event of its case starts it again, and that event re-arms the case's timers."""
        items: dict[tuple[str, str, str], Timer] = {}
        for p in pending:
            if p.due is None or p.paused:
                continue
            trigger = p.events[0] if p.events else ""
            items[(p.rule, trigger, "overdue")] = Timer(p.due, case, p.rule, trigger, "overdue", p.action)
            warn = self._warns.get(p.rule)
            if warn is not None and p.due > now:  # past its deadline already: overdue says it
                items[(p.rule, trigger, "at_risk")] = Timer(risk_from(warn, p.due, p.since), case, p.rule,
                                                             trigger, "at_risk", p.action)
        return list(items.values())

    # -- read ----------------------------------------------------------------------------
    @property
    def latest_time(self) -> float | None:
        latest: float | None = self._session.latest_time
        return latest

    def is_live(self, as_of: float | None) -> bool:
        """Whether the live session answers as of ``as_of`` (at or after the latest event), rather than a
        batch audit of the stored events (:meth:`stored_result`)."""
        latest = self.latest_time
        return as_of is None or latest is None or as_of >= latest

    def result(self, as_of: float | None) -> AuditResult:
        """The audit's findings over the stored events as of ``as_of`` (None: the latest event time), as
        ``sopengine audit --as-of`` gives them over a log of these events (less provenance). An as-of before
        the latest event is answered by a batch audit of the stored events (later ones are skipped, as the
        batch audit skips them); otherwise by the live session.

        The session is one user's at a time: it may run on another thread than ingest's, never beside it
        (the service holds its engine lock around both)."""
        if self.is_live(as_of):
            result: AuditResult = self._session.result(as_of)
            return result
        return self.stored_result(as_of)

    def stored_result(self, as_of: float | None) -> AuditResult:
        """A batch audit of the stored events as of ``as_of``, read through a connection of its own (one
        snapshot): it uses neither the session nor the service's connection, so it runs beside ingest."""
        reader = self.store.reader()
        try:
            return audit(self.pack, self.records(reader=reader), self.facts, as_of, engine=self.engine,
                         limits=self.config.limits, lenient_data=self.config.lenient_data)
        finally:
            reader.close()

    def records(self, case: str | None = None, reader: Reader | None = None) -> Iterator[Record]:
        """The stored events in input order, then the refused records: a log of the service's input (read
        through ``reader``, else the store's own connection)."""
        source: Reader | Store = reader if reader is not None else self.store
        for stored in source.events(case):
            yield self._decode(stored.body, stored.seq)
        if case is None:
            for r in source.rejections():
                yield Rejected(r.source, r.seq, r.error)

    def open_counts(self) -> tuple[int, int]:
        """(cases, items open after each case's last event), for /metrics: kept in the store by each ingest,
        so that a scrape does not judge every case (~70 ms per 1,000 open cases)."""
        return self.store.open_items()


class _Refused:
    """A record refused before it is a JSON value (a line that is not JSON)."""

    __slots__ = ("reason", "body")

    def __init__(self, reason: str, body: bytes):
        self.reason = reason
        self.body = body


def refused(reason: str, body: bytes) -> Any:
    return _Refused(reason, body)
