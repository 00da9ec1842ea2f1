"""Generate the bundled example: examples/events.jsonl and examples/facts.yaml.

Deterministic (fixed seed), so the committed files can be regenerated exactly:

    python examples/generate.py

The log tells a few hundred short case stories over four weeks of May 2024.
Most are worked by the book; each kind of slip the pack's rules look for
appears in some of them, so that every rule both fires and is met somewhere.
Events are written in time order, as a CRM export would list them.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
SEED = 20240506
START = datetime(2024, 5, 6, 8, 0, tzinfo=timezone.utc)
DAYS = 26

FRONTLINE = ["fl.ana", "fl.omar", "fl.june", "fl.raj"]
BACK_OFFICE = ["bo.ben", "bo.cara", "bo.dev", "bo.ela"]
SALES = ["sales.sam", "sales.tia"]
OTHERS = ["legal.lee", "risk.rob", "comp.cat"]
UNKNOWN = ["temp.tom"]  # not in the facts: checks about them stay undecided
Q_HOME = "Back Office Task Queue Homeowner"
Q_INST = "Back Office Task Queue Installer"
ESCALATION = "Mark Fredericks"


@dataclass
class Story:
    """One case's events, written step by step with a moving clock."""

    case: str
    t: datetime
    rng: random.Random
    events: list[dict[str, Any]] = field(default_factory=list)

    def wait(self, minutes: float) -> "Story":
        self.t += timedelta(minutes=minutes)
        return self

    def add(self, etype: str, actor: str | None, **data: Any) -> "Story":
        event: dict[str, Any] = {"id": f"{self.case}-{len(self.events) + 1}", "case": self.case,
                                 "time": self.t.strftime("%Y-%m-%dT%H:%M:%SZ"), "type": etype}
        if actor:
            event["actor"] = actor
        if data:
            event["data"] = data
        self.events.append(event)
        return self


# ---------------------------------------------------------------- building blocks
def created(s: Story, agent: str, kind: str = "homeowner", **extra: Any) -> None:
    n = s.case[-4:]
    data = {"record": "contact", "account_type": kind, "contact": f"CT-{n}", "account": f"ACC-{n}",
            "request_type": s.rng.choice(["Billing", "Installer Complaints", "System Performance"]),
            "request_subtype": s.rng.choice(["Invoice Question", "Monitoring", "Production Issue"]),
            "description": "Customer called about their system.", "associated_installer": "SunBright Solar",
            "origin": s.rng.choice(["phone", "chat", "email"]), "priority": "Normal", "program": "standard"}
    if kind == "homeowner":
        data["homeowner_contract"] = f"HC-{n}"
    data.update(extra)
    s.add("case.created", agent, **data)


def to_queue(s: Story, agent: str, queue: str) -> None:
    s.add("case.owner_changed", agent, to=queue, to_kind="queue", **{"from": agent})


def take(s: Story, member: str, queue: str) -> None:
    s.add("case.owner_changed", member, to=member, to_kind="user", **{"from": queue})


def status(s: Story, actor: str, to: str, frm: str | None = None) -> None:
    data = {"to": to}
    if frm:
        data["from"] = frm
    s.add("case.status_changed", actor, **data)


def referral(s: Story, owner: str, aid: str, team: str = "Sales", close_after: float | None = 600) -> None:
    s.add("assignment.created", owner, assignment=aid, team=team, referral_reason="Needs review",
          referral_comments="Please check the account.")
    s.wait(3)
    status(s, owner, "In Progress - Internal Referral")
    if close_after is not None:
        s.wait(close_after * 0.5).add("assignment.replied", s.rng.choice(SALES), assignment=aid)
        s.wait(close_after * 0.5).add("assignment.closed", s.rng.choice(SALES), assignment=aid)
        s.wait(20)
        status(s, owner, "In Progress - Awaiting Customer Support", "In Progress - Internal Referral")


def by_the_book(s: Story) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    queue = s.rng.choice([Q_HOME, Q_INST])
    created(s, agent, "homeowner" if queue == Q_HOME else "installer")
    s.wait(8)
    to_queue(s, agent, queue)
    s.wait(s.rng.randint(5, 20))
    take(s, member, queue)
    s.wait(30).add("review.logged", member, comments="Called the customer, investigating.")
    if s.rng.random() < 0.6:
        s.wait(60)
        referral(s, member, f"{s.case}-A1")
    s.wait(s.rng.randint(60, 600))
    status(s, member, "Closed")


# ---------------------------------------------------------------- stories with a slip
def close_with_open_assignment(s: Story) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    created(s, agent)
    s.wait(5)
    to_queue(s, agent, Q_HOME)
    s.wait(30)
    take(s, member, Q_HOME)
    s.wait(60)
    referral(s, member, f"{s.case}-A1", close_after=None)
    s.wait(240)
    status(s, member, "Closed", "In Progress - Internal Referral")


def review_by_non_owner(s: Story) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    created(s, agent)
    s.wait(5)
    to_queue(s, agent, Q_HOME)
    s.wait(45)
    take(s, member, Q_HOME)
    s.wait(90).add("review.logged", agent, comments="Customer called again for an update.")
    s.wait(120)
    status(s, member, "Closed")


def reopen_late(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(60)
    status(s, agent, "Closed", "New")
    s.wait(60 * 9)
    status(s, agent, "In Progress - Awaiting Customer Support", "Closed")
    s.wait(60)
    status(s, agent, "Closed", "In Progress - Awaiting Customer Support")


def reopen_in_time(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(60)
    status(s, agent, "Closed", "New")
    s.wait(90)
    status(s, agent, "In Progress - Awaiting Customer Support", "Closed")
    s.wait(60)
    status(s, agent, "Closed", "In Progress - Awaiting Customer Support")


def invalid_status(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(30)
    status(s, agent, "Pending Customer", "New")
    s.wait(300)
    status(s, agent, "Closed")


def status_lags_assignment(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(20).add("assignment.created", agent, assignment=f"{s.case}-A1", team="Legal")
    s.wait(300).add("assignment.closed", "legal.lee", assignment=f"{s.case}-A1")
    s.wait(30)
    status(s, agent, "In Progress - Awaiting Customer Support")
    s.wait(200)
    status(s, agent, "Closed")


def status_stuck_after_referral(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(20)
    referral(s, agent, f"{s.case}-A1", close_after=None)
    s.wait(400).add("assignment.closed", "sales.sam", assignment=f"{s.case}-A1")
    s.wait(60 * 30)
    status(s, agent, "Closed", "In Progress - Internal Referral")


def taken_for_someone_else(s: Story) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    created(s, agent)
    s.wait(5)
    to_queue(s, agent, Q_INST)
    s.wait(15).add("case.owner_changed", agent, to=member, to_kind="user", **{"from": Q_INST})
    s.wait(300)
    status(s, member, "Closed")


def given_to_sales(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(40).add("case.owner_changed", agent, to=s.rng.choice(SALES), to_kind="user", **{"from": agent})
    s.wait(600)
    status(s, agent, "Closed")


def owner_not_in_facts(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(40).add("case.owner_changed", agent, to=UNKNOWN[0], to_kind="user", **{"from": agent})
    s.wait(600)
    status(s, UNKNOWN[0], "Closed")


def homeowner_without_contract(s: Story) -> None:
    created(s, s.rng.choice(FRONTLINE), homeowner_contract=None, record="account")
    s.wait(100)
    status(s, "fl.ana", "Closed")


def account_changed_directly(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(90).add("case.field_changed", agent, field="account", to="ACC-9999", **{"from": f"ACC-{s.case[-4:]}"})
    s.wait(100)
    status(s, agent, "Closed")


def account_changed_via_contract(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(90).add("case.field_changed", agent, field="homeowner_contract", to="HC-9999",
                   **{"from": f"HC-{s.case[-4:]}"})
    s.add("case.field_changed", agent, field="account", to="ACC-9999", **{"from": f"ACC-{s.case[-4:]}"})
    s.wait(100)
    status(s, agent, "Closed")


def owner_update_only_in_chatter(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(60).add("chatter.posted", agent, text="Spoke to the homeowner, waiting on photos.", visibility="internal")
    s.wait(300)
    status(s, agent, "Closed")


def owner_update_with_review(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(60).add("chatter.posted", agent, text="Spoke to the homeowner, waiting on photos.", visibility="internal")
    s.wait(15).add("review.logged", agent, comments="Spoke to the homeowner, waiting on photos.")
    s.wait(300)
    status(s, agent, "Closed")


def follow_up(s: Story, outcome: str) -> None:
    agent = s.rng.choice(FRONTLINE)
    aid = f"{s.case}-A1"
    created(s, agent)
    s.wait(10)
    referral(s, agent, aid, close_after=None)
    s.wait(60 * 24).add("chatter.posted", agent, assignment=aid, text="Any update on this?",
                        mentions=[s.rng.choice(SALES)])
    if outcome == "replied":
        s.wait(60 * 20).add("assignment.replied", "sales.sam", assignment=aid)
    elif outcome == "escalated":
        s.wait(60 * 50).add("chatter.posted", agent, text=f"@{ESCALATION} no reply for two days",
                            mentions=[ESCALATION])
    elif outcome == "ignored":
        s.wait(60 * 80).add("review.logged", agent, comments="Still waiting on Sales.")
    if outcome != "open":
        s.wait(60 * 10).add("assignment.closed", "sales.sam", assignment=aid)
        s.wait(20)
        status(s, agent, "In Progress - Awaiting Customer Support", "In Progress - Internal Referral")
        s.wait(60)
        status(s, agent, "Closed")


def oldest_first_pair(older: Story, newer: Story, in_order: bool) -> None:
    agent, member = older.rng.choice(FRONTLINE), older.rng.choice(BACK_OFFICE)
    created(older, agent)
    older.wait(5)
    to_queue(older, agent, Q_INST)
    newer.t = older.t + timedelta(minutes=40)
    created(newer, agent)
    newer.wait(5)
    to_queue(newer, agent, Q_INST)
    first, second = (older, newer) if in_order else (newer, older)
    first.t = newer.t + timedelta(minutes=30)
    take(first, member, Q_INST)
    second.t = first.t + timedelta(minutes=30)
    take(second, member, Q_INST)
    for st in (older, newer):
        st.wait(200)
        status(st, member, "Closed")


def waiting_in_queue(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(5)
    to_queue(s, agent, s.rng.choice([Q_HOME, Q_INST]))


STORIES: list[tuple[Callable[[Story], None], int]] = [
    (by_the_book, 150),
    (close_with_open_assignment, 6), (review_by_non_owner, 6), (reopen_late, 4), (reopen_in_time, 6),
    (invalid_status, 4), (status_lags_assignment, 5), (status_stuck_after_referral, 4),
    (taken_for_someone_else, 4), (given_to_sales, 4), (owner_not_in_facts, 2),
    (homeowner_without_contract, 4), (account_changed_directly, 3), (account_changed_via_contract, 4),
    (owner_update_only_in_chatter, 4), (owner_update_with_review, 5),
    (lambda s: follow_up(s, "replied"), 5), (lambda s: follow_up(s, "escalated"), 4),
    (lambda s: follow_up(s, "ignored"), 4),
]


def facts() -> dict[str, Any]:
    users = [{"id": u, "team": "Support", "role": "frontline"} for u in FRONTLINE]
    users += [{"id": u, "team": "Support", "role": "back_office"} for u in BACK_OFFICE]
    users += [{"id": u, "team": "Sales", "role": "sales"} for u in SALES]
    users += [{"id": "legal.lee", "team": "Legal", "role": "counsel"},
              {"id": "risk.rob", "team": "Risk", "role": "analyst"},
              {"id": "comp.cat", "team": "Compliance", "role": "analyst"}]
    return {"users": users}


def generate() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    rng = random.Random(SEED)
    plan: list[Callable[[Story], None]] = [fn for fn, n in STORIES for _ in range(n)]
    rng.shuffle(plan)
    events: list[dict[str, Any]] = []
    number = 1000

    def story(offset_days: float) -> Story:
        nonlocal number
        number += 1
        t0 = START + timedelta(days=offset_days, minutes=rng.randint(0, 9 * 60))
        return Story(f"0000{number}", t0, rng)

    span = DAYS - 4
    for i, fn in enumerate(plan):
        s = story(span * i / len(plan))
        fn(s)
        events.extend(s.events)
    for in_order in (False, False, True, True):
        older, newer = story(rng.uniform(0, span)), story(0)
        oldest_first_pair(older, newer, in_order)
        events.extend(older.events + newer.events)
    # what is still open at the end of the export: next actions
    for _ in range(3):
        s = story(DAYS - 0.5)
        waiting_in_queue(s)
        events.extend(s.events)
    s = story(DAYS - 3.6)
    follow_up(s, "open")
    events.extend(s.events)
    s = story(DAYS - 0.2)
    owner_update_only_in_chatter(s)
    events.extend(s.events[:2])
    events.sort(key=lambda e: e["time"])  # stable: a case's equal-time events keep their order
    return events, facts()


def main() -> None:
    events, fact_data = generate()
    with open(HERE / "events.jsonl", "w", encoding="utf-8") as fh:
        for e in events:
            fh.write(json.dumps(e, separators=(",", ":")) + "\n")
    import yaml
    with open(HERE / "facts.yaml", "w", encoding="utf-8") as fh:
        fh.write("# Reference data for examples/events.jsonl (generated by examples/generate.py).\n")
        yaml.safe_dump(fact_data, fh, sort_keys=False, default_flow_style=None, width=110)
    print(f"wrote {len(events)} events in {len({e['case'] for e in events})} cases")


if __name__ == "__main__":
    main()
