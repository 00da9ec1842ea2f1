"""Engine invariants, checked with hypothesis over generated logs of the bundled pack."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from sopengine import Session, audit
from sopengine.events import Event
from sopengine.model import Pack

from .conftest import SOPS, START
from .fuzzing import budget

USERS = ["fl.ana", "bo.ben", "sales.sam", "ghost"]
QUEUES = ["Back Office Task Queue Homeowner", "Back Office Task Queue Installer", "Sales Escalations"]
STATUSES = ["New", "In Progress - Internal Referral", "In Progress - Awaiting Customer Support", "Closed", "Pending"]
FACTS = {"users": [{"id": "fl.ana", "team": "Support", "role": "frontline"},
                   {"id": "bo.ben", "team": "Support", "role": "back_office"},
                   {"id": "sales.sam", "team": "Sales", "role": "sales"}]}

_step = st.one_of(
    st.tuples(st.just("case.owner_changed"), st.sampled_from(USERS + QUEUES)),
    st.tuples(st.just("case.status_changed"), st.sampled_from(STATUSES)),
    st.tuples(st.just("assignment.created"), st.sampled_from(["A1", "A2"])),
    st.tuples(st.just("assignment.closed"), st.sampled_from(["A1", "A2"])),
    st.tuples(st.just("assignment.replied"), st.sampled_from(["A1", "A2"])),
    st.tuples(st.just("review.logged"), st.sampled_from(USERS)),
    st.tuples(st.just("chatter.posted"), st.sampled_from(["A1", "", "Mark Fredericks"])),
    st.tuples(st.just("case.field_changed"), st.sampled_from(["account", "homeowner_contract"])),
)
_case = st.tuples(
    st.sampled_from(["homeowner", "installer"]),
    st.sampled_from(["High", "Normal"]),
    st.lists(st.tuples(st.integers(1, 4000), _step, st.sampled_from(USERS)), max_size=12),
)


def _events(cases: list[tuple[str, str, list[Any]]]) -> list[Event]:
    """Turn generated cases into events with globally distinct times (ties are tested separately)."""
    raw: list[tuple[int, str, str, str | None, dict[str, Any]]] = []
    for n, (account_type, priority, steps) in enumerate(cases):
        case = f"C{n}"
        raw.append((n, case, "case.created", "fl.ana", {"account_type": account_type, "priority": priority}))
        minute = n
        for gap, (etype, arg), actor in steps:
            minute += gap
            data: dict[str, Any]
            if etype == "case.owner_changed":
                data = {"to": arg, "to_kind": "queue" if arg in QUEUES else "user"}
            elif etype == "case.status_changed":
                data = {"to": arg}
            elif etype == "assignment.created":
                data = {"assignment": arg, "team": "Sales"}
            elif etype == "assignment.closed":
                data = {"assignment": arg}
            elif etype == "chatter.posted":
                data = {"assignment": arg} if arg == "A1" else ({"mentions": [arg]} if arg else {})
            elif etype == "case.field_changed":
                data = {"field": arg, "to": "X"}
            else:
                data = {}
            raw.append((minute, case, etype, actor, data))
    # distinct times: scale and break ties by position
    events = []
    for i, (minute, case, etype, actor, data) in enumerate(raw):
        events.append(Event(f"{case}-{i}", case, START + minute * 60.0 + i * 0.001, etype, actor, data))
    return events


def _fingerprint(pack: Pack, events: list[Event], as_of: float | None = None, grouped: bool = False) -> Any:
    copies = [Event(e.id, e.case, e.time, e.type, e.actor, dict(e.data)) for e in events]
    result = audit(pack, copies, FACTS, as_of, grouped=grouped)
    return result.to_json()


SETTINGS = budget(60)


@SETTINGS
@given(st.lists(_case, min_size=1, max_size=5), st.randoms(use_true_random=False))
def test_input_order_does_not_change_the_findings(bundled: Pack, cases: Any, rnd: random.Random) -> None:
    events = _events(cases)
    shuffled = list(events)
    rnd.shuffle(shuffled)
    assert _fingerprint(bundled, shuffled) == _fingerprint(bundled, events)


@SETTINGS
@given(st.lists(_case, min_size=1, max_size=5))
def test_grouped_streaming_equals_buffered_evaluation(bundled: Pack, cases: Any) -> None:
    events = _events(cases)
    by_case = sorted(events, key=lambda e: (int(e.case[1:]), e.time))
    as_of = max(e.time for e in events)
    assert _fingerprint(bundled, by_case, as_of, grouped=True) == _fingerprint(bundled, events, as_of)


@SETTINGS
@given(st.lists(_case, min_size=1, max_size=4), st.integers(0, 6000), st.integers(0, 6000))
def test_a_later_as_of_keeps_violations_and_turns_next_actions_into_violations_or_keeps_them(
        bundled: Pack, cases: Any, a: int, b: int) -> None:
    events = _events(cases)
    early, late = START + min(a, b) * 60.0, START + max(a, b) * 60.0
    session = Session(bundled, FACTS)
    for e in events:
        session.feed(e)
    first, second = session.result(early), session.result(late)

    def key(v: Any) -> Any:
        return (v.rule, v.case, v.events)

    later_violations = [(key(v), v.time) for v in second.violations]
    for v in first.violations:
        assert (key(v), v.time) in later_violations
    later_actions = {key(n) for n in second.next_actions}
    later_violation_keys = {k for k, _ in later_violations}
    for n in first.next_actions:
        assert key(n) in later_actions or key(n) in later_violation_keys


@SETTINGS
@given(st.lists(_case, min_size=1, max_size=4))
def test_the_same_input_gives_the_same_output(bundled: Pack, cases: Any) -> None:
    events = _events(cases)
    assert _fingerprint(bundled, events) == _fingerprint(bundled, events)


def test_equal_times_within_a_case_keep_input_order(bundled: Pack) -> None:
    t = START + 3600
    base = [Event("c", "C1", START, "case.created", "fl.ana", {}),
            Event("a", "C1", t, "assignment.created", "fl.ana", {"assignment": "A1"}),
            Event("x", "C1", t, "case.status_changed", "fl.ana", {"to": "Closed"})]
    rule = "working-a-case/close-with-open-assignments"
    closed_after = audit(bundled, base, FACTS)
    assert [v.events for v in closed_after.violations if v.rule == rule] == [("x", "a")]
    swapped = [base[0], base[2], base[1]]
    closed_before = audit(bundled, swapped, FACTS)
    assert [v for v in closed_before.violations if v.rule == rule] == []


@budget(12)
@given(st.lists(_case, min_size=1, max_size=6), st.integers(2, 3), st.randoms(use_true_random=False))
def test_jobs_n_gives_the_same_findings_as_one_process(bundled: Pack, tmp_path_factory: Any, cases: Any,
                                                       jobs: int, rnd: random.Random) -> None:
    import json

    from sopengine.audit import read_records
    from sopengine.parallel import audit_parallel
    from sopengine.timeutil import format_time

    events = _events(cases)
    rnd.shuffle(events)
    path = tmp_path_factory.mktemp("jobs") / "log.jsonl"
    with path.open("w") as fh:
        for e in events:
            fh.write(json.dumps({"id": e.id, "case": e.case, "time": format_time(e.time), "type": e.type,
                                 "actor": e.actor, "data": e.data}) + "\n")
        fh.write('{"case": "broken\n')  # a rejected line is reported once, by one worker
    one = audit(bundled, read_records(bundled, [str(path)]), FACTS)
    many = audit_parallel(bundled, ([str(SOPS)], {}), [str(path)], FACTS, None, jobs)
    assert many.to_json() == one.to_json()
