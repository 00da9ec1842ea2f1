"""Timers and notifications of sopengine serve: items turn at risk and overdue with no further event, within the
stated latency; each notification reaches a local receiver once, in its format, retried until it is taken."""

from __future__ import annotations

import json
import threading
import time
import warnings
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Iterator

import pytest

from sopengine import load_pack
from sopengine.serve.app import ServeConfig, create_app
from sopengine.serve.notify import LATENCY, RETRY, Target
from sopengine.serve.store import StoreUnavailable, open_store
from sopengine.timeutil import format_time

from .conftest import PACKS, stored_rows

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

WITHIN = 3.0  # the deadline of desk/answer-in-time in these tests; at risk at half of it
EVERY = 60.0  # the period of desk/update-while-waiting (the shortest a pack may give)


class Receiver:
    """A local webhook receiver: records each POST with its arrival time; fails the first ``failures``."""

    def __init__(self, failures: int = 0):
        self.got: list[tuple[float, str, str, Any]] = []  # (arrived, path, idempotency key, body)
        self.failures = failures
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                body = json.loads(self.rfile.read(int(self.headers["content-length"])))
                failing = outer.failures > 0
                outer.failures -= 1
                outer.got.append((time.time(), self.path, self.headers.get("idempotency-key", ""), body))
                self.send_response(500 if failing else 204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait(self, n: int, timeout: float) -> None:
        deadline = time.time() + timeout
        while len(self.got) < n and time.time() < deadline:
            time.sleep(0.02)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def service(db: str, targets: list[Target], **config: Any) -> TestClient:
    pack = load_pack([PACKS / "serve"], {"answer_within": f"{WITHIN}s", "update_every": f"{EVERY}s"})
    app = create_app(pack, {}, open_store(db), ServeConfig(dev_no_auth=True, notify=targets, **config))
    return TestClient(app, client=("127.0.0.1", 50000))


def opened(eid: str, at: float) -> dict[str, Any]:
    return {"id": eid, "case": "T-1", "time": format_time(at), "type": "ticket.opened", "data": {"priority": "High"}}


def test_an_item_turns_at_risk_then_overdue_with_no_event_and_each_is_notified_once_in_time(
        db: str, receiver: Receiver) -> None:
    start = time.time()
    targets = [Target(receiver.url + "/generic"), Target(receiver.url + "/slack", "slack"),
               Target(receiver.url + "/teams", "teams")]
    with service(db, targets) as c:
        assert c.post("/events", json=opened("o1", start)).json()["accepted"] == 1
        item = c.get("/next").json()["items"][0]
        assert (item["overdue"], item["at_risk"]) == (False, False)
        receiver.wait(6, WITHIN + LATENCY + 2)
        time.sleep(0.5)  # nothing more comes
        item = c.get("/next").json()["items"][0]
        assert item["overdue"] is True  # no event came: the clock alone turned it
        c.post("/events", json=opened("o1", start))  # sent again: no new timer fires twice
        time.sleep(0.3)
        metrics = c.get("/metrics").text
    generic = [(t, key, body) for t, path, key, body in receiver.got if path == "/generic"]
    assert [body["kind"] for _, _, body in generic] == ["at_risk", "overdue"]
    for (arrived, key, body), due in zip(generic, (start + WITHIN / 2, start + WITHIN)):
        assert due <= arrived <= due + LATENCY, (body["kind"], arrived - due)
        assert key == body["key"] == f"T-1|desk/answer-in-time|o1|{body['kind']}"
        assert body["case"] == "T-1" and body["text"] == "answer it"
    assert len(receiver.got) == 6
    slack = [body for _, path, _, body in receiver.got if path == "/slack"]
    assert [set(b) for b in slack] == [{"text"}] * 2 and "[overdue] case T-1" in slack[1]["text"]
    teams = [body for _, path, _, body in receiver.got if path == "/teams"]
    assert all(b["@type"] == "MessageCard" for b in teams)
    assert "sopengine_timer_latency_seconds_count 2" in metrics


def test_a_restart_re_arms_the_timers_from_the_store(db: str, receiver: Receiver) -> None:
    start = time.time()
    with service(db, [Target(receiver.url)]) as c:
        c.post("/events", json=opened("o1", start - WITHIN / 2 - 0.5))  # at risk already: notified now
        receiver.wait(1, LATENCY + 1)
    assert [b["kind"] for *_, b in receiver.got] == ["at_risk"]
    with service(db, [Target(receiver.url)]) as c:
        receiver.wait(2, WITHIN + LATENCY + 1)
        time.sleep(0.3)
        assert c.get("/readyz").status_code == 200
    assert [b["kind"] for *_, b in receiver.got] == ["at_risk", "overdue"]
    assert receiver.got[1][0] <= start + WITHIN / 2 - 0.5 + LATENCY + 0.5  # armed again at start, not at the next event


def test_a_violation_is_notified_once_when_its_event_comes(db: str, receiver: Receiver) -> None:
    answered = {"id": "a1", "case": "T-2", "time": format_time(time.time()), "type": "ticket.answered"}
    with service(db, [Target(receiver.url)]) as c:
        c.post("/events", json=answered)
        c.post("/events", json=dict(answered, id="a2"))  # the case changes again; the first violation is known
        receiver.wait(2, 2)
        time.sleep(0.3)
    kinds = [(b["kind"], b["rule"], b["events"]) for *_, b in receiver.got]
    assert kinds == [("violation", "desk/no-answer-before-open", ["a1"]),
                     ("violation", "desk/no-answer-before-open", ["a2"])]


def test_a_failing_receiver_is_retried_with_the_same_key_and_a_dead_one_is_kept_as_a_dead_letter(
        db: str) -> None:
    flaky = Receiver(failures=2)
    try:
        with service(db, [Target(flaky.url), Target("http://127.0.0.1:9/closed")],
                     notify_backoff=0.1, notify_attempts=3) as c:
            c.post("/events", json={"id": "a1", "case": "T-3", "time": format_time(time.time()),
                                    "type": "ticket.answered"})
            flaky.wait(3, 5)
            deadline = time.time() + 5
            while time.time() < deadline and not c.get("/admin/dead-letters").json()["dead_letters"]:
                time.sleep(0.05)
            dead = c.get("/admin/dead-letters").json()["dead_letters"]
            time.sleep(0.3)
    finally:
        flaky.close()
    assert len(flaky.got) == 3 and len({key for _, _, key, _ in flaky.got}) == 1
    assert [(d["target"], d["attempts"]) for d in dead] == [("http://127.0.0.1:9/closed", 3)]


def test_an_event_that_comes_past_its_deadline_is_notified_overdue_at_once_and_not_at_risk(
        db: str, receiver: Receiver) -> None:
    start = time.time()
    with service(db, [Target(receiver.url)]) as c:
        c.post("/events", json=opened("late", start - WITHIN - 1))
        receiver.wait(1, LATENCY + 1)
        time.sleep(0.5)
    assert [(b["kind"], b["trigger"]) for *_, b in receiver.got] == [("overdue", "late")]
    assert receiver.got[0][0] <= start + LATENCY + 1


def test_a_repeating_obligation_turns_overdue_with_no_event_and_is_notified_once(db: str, receiver: Receiver) -> None:
    first = time.time() + 3.0  # its first deadline: the event that opens it is dated one period before
    waiting = {"id": "w1", "case": "T-4", "time": format_time(first - EVERY), "type": "ticket.waiting"}
    with service(db, [Target(receiver.url)]) as c:
        c.post("/events", json=waiting)
        before = c.get("/next").json()["items"]
        receiver.wait(1, first - time.time() + LATENCY + 2)
        after = c.get("/next").json()["items"]
        clocked = list(receiver.got)
        # a later event of the case: the deadline passed is found again, as a violation (the same key), and the
        # next one is armed
        noted = {"id": "n1", "case": "T-4", "time": format_time(time.time()), "type": "ticket.noted"}
        assert c.post("/events", json=noted).json()["accepted"] == 1
        time.sleep(0.5)
        missed = c.get("/findings", params={"as_of": format_time(time.time())}).json()["violations"]
        armed = stored_rows(db, "SELECT kind, due FROM timers WHERE case_id = 'T-4'")
    assert [(i["rule"], i["overdue"]) for i in before] == [("desk/update-while-waiting", False)]
    assert [(i["rule"], i["overdue"]) for i in after] == [("desk/update-while-waiting", True)]  # by the clock alone
    assert [b["kind"] for *_, b in clocked] == ["overdue"]  # notified with no event
    assert [v["rule"] for v in missed] == ["desk/update-while-waiting"]
    assert [(b["kind"], b["rule"], key) for _, _, key, b in receiver.got] == [
        ("overdue", "desk/update-while-waiting", "T-4|desk/update-while-waiting|w1|overdue")]
    assert receiver.got[0][0] >= first  # at its deadline, not before
    assert [(kind, format_time(due)) for kind, due in armed] == [("overdue", format_time(first + EVERY))]


def test_a_timer_and_a_delivery_that_find_the_store_unreachable_are_tried_again(db: str, receiver: Receiver) -> None:
    """The scheduler and the deliverer outlive a lost store connection (:class:`StoreUnavailable`): the timer is
    fired and its notification delivered once the store answers again."""
    with service(db, [Target(receiver.url)]) as c:
        store = c.app.state.notifier.store  # type: ignore[attr-defined]
        fire, outbox_due = store.fire, store.outbox_due
        failed: list[str] = []

        def once(name: str, real: Any) -> Any:
            def call(*args: Any) -> Any:
                if name not in failed:
                    failed.append(name)
                    raise StoreUnavailable("the connection to the store was lost")
                return real(*args)
            return call

        store.fire, store.outbox_due = once("fire", fire), once("outbox_due", outbox_due)
        c.post("/events", json=opened("late", time.time() - WITHIN - 1))  # overdue at once
        receiver.wait(1, 2 * RETRY + LATENCY + 2)
        time.sleep(0.3)
    assert sorted(failed) == ["fire", "outbox_due"]
    assert [(b["kind"], b["trigger"]) for *_, b in receiver.got] == [("overdue", "late")]
