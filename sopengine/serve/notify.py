"""Timers and notifications.

The scheduler keeps the stored due-time index (:meth:`Store.timers`) in a heap and sleeps until its earliest
entry, or until an ingest adds an earlier one; a restart re-arms every timer from the store. A timer that comes
due is deleted and its notifications queued in the outbox in one transaction, keyed by (case, rule, trigger,
kind), so a notification is queued at most once however often its timer is re-armed. The deliverer POSTs the
outbox with retries and exponential backoff; one that keeps failing is kept as a dead letter. Delivery is at
least once: a receiver de-duplicates by the ``Idempotency-Key`` header.
"""

from __future__ import annotations

import asyncio
import heapq
import time as _time
from dataclasses import dataclass
from typing import Any, Iterable

import orjson

from ..timeutil import format_time
from .store import Store, StoreUnavailable, Timer

FORMATS = ("json", "slack", "teams")
RETRY = 1.0  # seconds before the store is tried again after it could not be reached
LATENCY = 1.0  # the stated bound: a timer fires within this many seconds of its due time (loop not starved)


@dataclass(frozen=True)
class Target:
    """An outbound webhook: where, and in which format (generic JSON, Slack or Teams incoming webhook)."""

    url: str
    format: str = "json"

    @staticmethod
    def parse(text: str) -> "Target":
        """``URL`` (generic JSON), or ``slack=URL``, ``teams=URL``, ``json=URL``."""
        name, sep, rest = text.partition("=")
        if sep and name in FORMATS and "://" not in name:
            return Target(rest, name)
        return Target(text)


def payload(target: Target, key: str, item: dict[str, Any]) -> bytes:
    """A notification in the target's format. ``item``: kind, case, rule, text, and due or time."""
    when = item.get("due") or item.get("time") or ""
    headline = f"[{item['kind']}] case {item['case']}, {item['rule']}"
    line = f"{headline}: {item['text']}" + (f" (due {when})" if item.get("due") else "")
    if target.format == "slack":
        return orjson.dumps({"text": line})
    if target.format == "teams":
        return orjson.dumps({"@type": "MessageCard", "@context": "https://schema.org/extensions",
                             "summary": headline, "title": headline, "text": f"{item['text']} {when}".strip()})
    return orjson.dumps({"key": key, **item})


def timer_item(timer: Timer) -> dict[str, Any]:
    return {"kind": timer.kind, "case": timer.case, "rule": timer.rule, "text": timer.text,
            "trigger": timer.trigger, "due" if timer.kind == "overdue" else "at": format_time(timer.due)}


class Notifier:
    """The scheduler and the deliverer, as two asyncio tasks of the service."""

    def __init__(self, store: Store, targets: Iterable[Target], *, max_attempts: int = 8, backoff: float = 1.0,
                 backoff_cap: float = 300.0, timeout: float = 10.0):
        self.store = store
        self.targets = list(targets)
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.backoff_cap = backoff_cap
        self.timeout = timeout
        self._heap: list[tuple[float, int, Timer, float]] = []  # (due, order, timer, when armed)
        self._n = 0
        self._wake = asyncio.Event()
        self._send = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._stopping = False
        self.latency: list[float] = []  # seconds fired timers came after their due time (the last 1,000)
        self.fired = 0
        self.delivered = 0
        self.failed = 0

    def outgoing(self, key: str, item: dict[str, Any]) -> list[tuple[str, str, bytes]]:
        return [(key, t.url, payload(t, key, item)) for t in self.targets]

    def arm(self, timers: Iterable[Timer]) -> None:
        """Add timers to the heap (a changed case's; stale ones are found out when they fire)."""
        now = _time.time()
        for t in timers:
            self._n += 1
            heapq.heappush(self._heap, (t.due, self._n, t, now))
        self._wake.set()

    def poke(self) -> None:
        """Something was queued in the outbox."""
        self._send.set()

    def start(self) -> None:
        self.arm(self.store.timers())
        self._tasks = [asyncio.create_task(self._schedule()), asyncio.create_task(self._deliver())]

    async def stop(self) -> None:
        """Stop firing timers, and let a delivery under way end and be recorded (for at most the request
        timeout): one cut off after its receiver had it would be sent again at the next start."""
        self._stopping = True
        self._send.set()
        schedule, deliver = self._tasks or (None, None)
        if schedule is not None:
            schedule.cancel()
        for task, limit in ((schedule, None), (deliver, self.timeout)):
            if task is None:
                continue
            try:
                await asyncio.wait_for(task, timeout=limit)
            except (asyncio.CancelledError, asyncio.TimeoutError):
                pass

    async def _schedule(self) -> None:
        while True:
            now = _time.time()
            unavailable = False
            while self._heap and self._heap[0][0] <= now:
                entry = heapq.heappop(self._heap)
                _, _, timer, armed = entry
                try:
                    fired = self.store.fire(timer, self.outgoing(timer.key, timer_item(timer)))
                except StoreUnavailable:  # tried again shortly (fired already, it is no longer stored then)
                    heapq.heappush(self._heap, entry)
                    unavailable = True
                    break
                if fired:
                    self.fired += 1
                    if armed < timer.due:  # a due time already past when armed (a late event) is no latency
                        self.latency = self.latency[-999:] + [max(0.0, now - timer.due)]
                    self._send.set()
            delay = RETRY if unavailable else self._heap[0][0] - _time.time() if self._heap else 3600.0
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=max(0.0, delay))
            except asyncio.TimeoutError:
                pass

    async def _deliver(self) -> None:
        import httpx

        async with httpx.AsyncClient(timeout=self.timeout) as client:
            while not self._stopping:
                try:
                    await self._deliver_due(client)
                    upcoming = self.store.next_outgoing()
                except StoreUnavailable:  # tried again shortly; a delivery not recorded is sent again (at least once)
                    upcoming = _time.time() + RETRY
                if self._stopping:
                    return
                delay = 60.0 if upcoming is None else max(0.0, upcoming - _time.time())
                self._send.clear()
                if self._stopping:  # stop() set _send before it was cleared here
                    return
                try:
                    await asyncio.wait_for(self._send.wait(), timeout=min(delay, 60.0))
                except asyncio.TimeoutError:
                    pass

    async def _deliver_due(self, client: Any) -> None:
        """POST the notifications due now, recording each outcome."""
        import httpx

        for item in self.store.outbox_due(_time.time()):
            if self._stopping:
                return
            try:
                response = await client.post(item.target, content=item.payload, headers={
                    "content-type": "application/json", "idempotency-key": item.key,
                    "user-agent": "sopengine-notifier"})
                error = None if response.is_success else f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                error = f"{type(exc).__name__}: {exc}"
            if error is None:
                self.store.delivered(item.key, item.target)
                self.delivered += 1
                continue
            self.failed += 1
            dead = item.attempts + 1 >= self.max_attempts
            wait = min(self.backoff * 2 ** item.attempts, self.backoff_cap)
            self.store.retry(item.key, item.target, _time.time() + wait, error, dead)
