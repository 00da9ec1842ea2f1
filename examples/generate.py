"""Generate the bundled example: examples/events.jsonl and examples/facts.yaml.

Deterministic (fixed seed), so the committed files can be regenerated exactly:

    python examples/generate.py

The log tells a few hundred short case and ticket stories from May to mid-June 2024.
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


# ---------------------------------------------------------------- case creation (seed 000)
def duplicate_request(first: Story, second: Story) -> None:
    agent = first.rng.choice(FRONTLINE)
    created(first, agent, request_type="Billing", request_subtype="Refund")
    second.t = first.t + timedelta(hours=3)
    created(second, first.rng.choice(FRONTLINE), request_type="Billing", request_subtype="Refund",
            contact=f"CT-{first.case[-4:]}", account=f"ACC-{first.case[-4:]}")
    for st in (first, second):
        st.wait(600)
        status(st, agent, "Closed")


def account_level_case(s: Story) -> None:
    created(s, s.rng.choice(FRONTLINE), "installer", record="account", contact=None)
    s.wait(120)
    status(s, "fl.ana", "Closed")


def sales_rep_case(s: Story, with_email: bool) -> None:
    text = "Sales rep Dana Li (dana.li@sunbright.example) asks about a commission." if with_email \
        else "Sales rep Dana Li asks about a commission."
    created(s, s.rng.choice(FRONTLINE), "installer", record="account", contact=None,
            sales_rep_without_contact=True, description=text)
    s.wait(180)
    status(s, "fl.omar", "Closed")


def missing_fields(s: Story) -> None:
    created(s, s.rng.choice(FRONTLINE), request_subtype=None, associated_installer=None)
    s.wait(200)
    status(s, "fl.june", "Closed")


def jira_related(s: Story, linked: bool) -> None:
    keys = [f"SS-{s.rng.randint(2000, 2999)}", f"SS-{s.rng.randint(3000, 3999)}"]
    text = f"Installer reports a monitoring outage; see {keys[0]}" + (f" and {keys[1]}" if linked else "")
    created(s, s.rng.choice(FRONTLINE), "installer", jira_tickets=keys, description=text)
    s.wait(300)
    status(s, "fl.raj", "Closed")


def engine_job(s: Story, outcome: str) -> None:
    agent = s.rng.choice(FRONTLINE)
    job = f"JOB-{s.case[-4:]}"
    created(s, agent, "installer", engine_job=job)
    if outcome == "commented":
        s.wait(20).add("engine.comment_posted", agent, job=job, visibility="private", text=f"Related Case {s.case}")
    if outcome != "open":
        s.wait(400)
        status(s, agent, "Closed")


def assignment_to_back_office(s: Story) -> None:
    agent = s.rng.choice(FRONTLINE)
    created(s, agent)
    s.wait(15).add("assignment.created", agent, assignment=f"{s.case}-A1", team="Back Office")
    s.wait(5)
    status(s, agent, "In Progress - Internal Referral")
    s.wait(10)
    to_queue(s, agent, Q_HOME)
    s.wait(120).add("assignment.closed", "bo.ben", assignment=f"{s.case}-A1")
    s.wait(10)
    status(s, "fl.ana", "Closed")


def frontline_referral(s: Story, reassigned: bool) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    created(s, agent)
    s.wait(15)
    referral(s, agent, f"{s.case}-A1", close_after=None)
    if reassigned:
        s.wait(5)
        to_queue(s, agent, Q_HOME)
        s.wait(10)
        take(s, member, Q_HOME)
    s.wait(500).add("assignment.closed", "sales.tia", assignment=f"{s.case}-A1")
    s.wait(15)
    status(s, member if reassigned else agent, "In Progress - Awaiting Customer Support")
    s.wait(100)
    status(s, member if reassigned else agent, "Closed")


# ---------------------------------------------------------------- unresponsive installer (seed 002)
def unresponsive(s: Story, slip: str = "", program: str = "standard", end: str = "closed", weeks: int = 3) -> None:
    agent, member = s.rng.choice(FRONTLINE), s.rng.choice(BACK_OFFICE)
    n = s.case[-4:]
    ho_mail, inst_mail = f"homeowner{n}@mail.example", "ops@sunbright.example"
    data: dict[str, Any] = dict(request_type="Installer Complaints", request_subtype="Unresponsive Installer",
                                description="Installer has not returned calls about PTO for three weeks.",
                                homeowner=f"Homeowner {n}", homeowner_email=ho_mail, installer_email=inst_mail,
                                origin=s.rng.choice(["phone", "chat"]), program=program)
    if slip == "misclassified":
        data["request_type"] = "System Performance"
    if slip == "no_homeowner":
        data["homeowner"] = None
    created(s, agent, **data)
    s.wait(10)
    if slip == "not_reassigned":
        s.wait(600)
        status(s, agent, "Closed")
        return
    to_queue(s, agent, Q_HOME)
    s.wait(s.rng.randint(5, 15))
    take(s, member, Q_HOME)
    s.wait(30)
    beam = program in ("beam", "concert")
    if beam:
        to = [inst_mail] if slip == "beam_to_installer" else ["Risk@greentechrenewables.com"]
        cc = [ho_mail] if slip == "beam_cc" else []
        s.add("email.sent", member, email=f"{s.case}-M1", to=to, cc=cc, quick_reply="Unresponsive Beam",
              channel="salesforce")
        weeks = 1 if slip == "missed_week" else weeks
        gap = 60 * 24 * 6
        for w in range(weeks):
            s.wait(60 if w == 0 else gap)
            s.add("email.sent", member, email=f"{s.case}-C{w}", to=[ho_mail], quick_reply="Unresponsive Beam HO",
                  channel="cxone")
        if end == "open":
            return
        s.wait(gap * (2 if slip == "missed_week" else 1))
    else:
        cc = [] if slip == "no_cc" else [ho_mail]
        s.add("email.sent", member, email=f"{s.case}-M1", to=[inst_mail], cc=cc, quick_reply="Unresponsive Install",
              channel="salesforce")
        if end == "open":
            return
        if slip == "no_sales":
            s.wait(60 * 24 * 3)
        elif slip == "quick_fix":
            s.wait(60 * 20)
        else:
            s.wait(60 * 24 * 2 - 120).add(
                "assignment.created", member, assignment=f"{s.case}-A1", team="Sales",
                referral_reason="Unresponsive Installer", referral_comments="No contact for 2 days after our email.",
                account_manager="am.alex", sales_manager="sm.sue")
            s.wait(3)
            status(s, member, "In Progress - Internal Referral")
            s.wait(60 * 8).add("assignment.closed", "sales.sam", assignment=f"{s.case}-A1")
            s.wait(15)
            status(s, member, "In Progress - Awaiting Customer Support", "In Progress - Internal Referral")
            s.wait(60)
    if slip != "no_closure_comments":
        s.add("case.field_changed", member, field="closure_comments", to="Installer contacted the homeowner.")
        s.wait(2)
    status(s, member, "Closed")


# ---------------------------------------------------------------- service desk (seed 004)
ORGS = ["Helio Homes", "SunBright Solar", "Bright Roofs", "Newco Solar"]
DESK = ["sd.kim", "sd.lou"]


def ticket(s: Story, slip: str = "") -> None:
    n = s.case[-4:]
    reporter = f"customer{n}@mail.example"
    org = "SunBright Solar" if slip in ("priority_org", "priority_org_ok") else s.rng.choice(["Helio Homes", "Bright Roofs"])
    if slip == "unknown_org":
        org = "Newco Solar"
    agent = s.rng.choice(DESK)
    data: dict[str, Any] = {"reporter": reporter, "organization": org, "channel": ["email"], "labels": [],
                            "priority": "High" if org == "SunBright Solar" and slip != "priority_org" else "Medium",
                            "request_type": s.rng.choice(["billing", "status", "training"])}
    if slip in ("phone", "phone_no_comment", "public_phone"):
        data["channel"] = ["phone"]
    if slip in ("eb", "eb_no_label"):
        data["financing"] = "EverBright"
        data["labels"] = ["EB"] if slip == "eb" else ["billing"]
    if slip in ("forwarded", "forwarded_fixed"):
        data["reporter"] = "staff.member@goeverbright.com"
    if slip in ("cancel", "cancel_no_am"):
        data["request_type"] = "cancellation"
    if slip == "missing_fields":
        data["organization"] = None
        data["channel"] = []
    s.add("ticket.created", data["reporter"], **data)
    if slip != "unassigned" and slip != "missing_fields":
        s.wait(s.rng.randint(2, 12)).add("ticket.assigned", agent, assignee=agent)
    elif slip == "unassigned":
        s.wait(50).add("ticket.assigned", agent, assignee=agent)
    if slip == "forwarded_fixed":
        s.wait(10).add("ticket.field_changed", agent, field="reporter", to=reporter, **{"from": data["reporter"]})
    if slip in ("linked_config", "linked_config_ok"):
        s.wait(5).add("ticket.linked", agent, linked=f"SS-{int(n) + 5000}", link_type="config", via="manual")
        if slip == "linked_config_ok":
            s.add("ticket.field_changed", agent, field="priority", to="High", **{"from": "Medium"})
    if slip in ("phone", "public_phone"):
        s.wait(3).add("ticket.commented", agent, visibility="internal", body=f"HO Phone: 555-01{n[:2]}-{n}")
    if slip in ("cancel",):
        am = {"Helio Homes": "am.bea", "Bright Roofs": "am.cy"}[org]
        s.wait(20).add("notification.sent", agent, channel="slack", to=am)
    reply = "We are looking into it and will update you today."
    if slip == "public_phone":
        reply = "I will call you back at 555-014-" + n + " this afternoon."
    s.wait(190 if slip == "slow_response" else s.rng.randint(15, 100))
    s.add("ticket.commented", agent, visibility="public", body=reply)
    s.wait(s.rng.randint(60, 600))
    s.add("ticket.status_changed", agent, to="Resolved", **{"from": "In Progress"})


def ticket_open(s: Story) -> None:
    n = s.case[-4:]
    s.add("ticket.created", f"customer{n}@mail.example", reporter=f"customer{n}@mail.example",
          organization="Helio Homes", channel=["phone"], priority="Medium", request_type="status")


STORIES: list[tuple[Callable[[Story], None], int]] = [
    (by_the_book, 150),
    (close_with_open_assignment, 6), (review_by_non_owner, 6), (reopen_late, 4), (reopen_in_time, 6),
    (invalid_status, 4), (status_lags_assignment, 5), (status_stuck_after_referral, 4),
    (taken_for_someone_else, 4), (given_to_sales, 4), (owner_not_in_facts, 2),
    (homeowner_without_contract, 4), (account_changed_directly, 3), (account_changed_via_contract, 4),
    (owner_update_only_in_chatter, 4), (owner_update_with_review, 5),
    (lambda s: follow_up(s, "replied"), 5), (lambda s: follow_up(s, "escalated"), 4),
    (lambda s: follow_up(s, "ignored"), 4),
    (account_level_case, 3), (lambda s: sales_rep_case(s, True), 3), (lambda s: sales_rep_case(s, False), 3),
    (missing_fields, 3), (lambda s: jira_related(s, True), 4), (lambda s: jira_related(s, False), 3),
    (lambda s: engine_job(s, "commented"), 5), (lambda s: engine_job(s, "forgotten"), 3),
    (assignment_to_back_office, 3), (lambda s: frontline_referral(s, True), 5),
    (lambda s: frontline_referral(s, False), 3),
    (unresponsive, 8), (lambda s: unresponsive(s, "misclassified"), 2), (lambda s: unresponsive(s, "no_homeowner"), 2),
    (lambda s: unresponsive(s, "not_reassigned"), 2), (lambda s: unresponsive(s, "no_cc"), 3),
    (lambda s: unresponsive(s, "no_sales"), 3), (lambda s: unresponsive(s, "quick_fix"), 3),
    (lambda s: unresponsive(s, "no_closure_comments"), 2),
    (lambda s: unresponsive(s, program="beam"), 3), (lambda s: unresponsive(s, program="concert"), 2),
    (lambda s: unresponsive(s, "beam_to_installer", program="beam"), 2),
    (lambda s: unresponsive(s, "beam_cc", program="concert"), 2),
    (lambda s: unresponsive(s, "missed_week", program="beam"), 2),
]

TICKETS: list[tuple[str, int]] = [
    ("", 50), ("phone", 8), ("slow_response", 4), ("unassigned", 4), ("priority_org", 3), ("priority_org_ok", 4),
    ("unknown_org", 2), ("linked_config", 3), ("linked_config_ok", 3), ("missing_fields", 3), ("forwarded", 3),
    ("forwarded_fixed", 3), ("eb", 4), ("eb_no_label", 3), ("phone_no_comment", 3), ("cancel", 3),
    ("cancel_no_am", 3), ("public_phone", 3),
]


def facts() -> dict[str, Any]:
    users = [{"id": u, "team": "Support", "role": "frontline"} for u in FRONTLINE]
    users += [{"id": u, "team": "Support", "role": "back_office"} for u in BACK_OFFICE]
    users += [{"id": u, "team": "Sales", "role": "sales"} for u in SALES]
    users += [{"id": u, "team": "Support", "role": "service_desk"} for u in DESK]
    users += [{"id": "legal.lee", "team": "Legal", "role": "counsel"},
              {"id": "risk.rob", "team": "Risk", "role": "analyst"},
              {"id": "comp.cat", "team": "Compliance", "role": "analyst"}]
    organizations = [
        {"id": "SunBright Solar", "priority_service": True, "account_manager": "am.alex"},
        {"id": "Helio Homes", "priority_service": False, "account_manager": "am.bea"},
        {"id": "Bright Roofs", "priority_service": False, "account_manager": "am.cy"},
    ]  # Newco Solar is missing on purpose: its checks are undecided, not violations
    return {"users": users, "organizations": organizations}


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
    for _ in range(3):
        first, second = story(rng.uniform(0, span)), story(0)
        duplicate_request(first, second)
        events.extend(first.events + second.events)
    tickets = [slip for slip, n in TICKETS for _ in range(n)]
    rng.shuffle(tickets)
    for i, slip in enumerate(tickets):
        t = Story(f"SS-{4000 + i}", START + timedelta(days=span * i / len(tickets), minutes=rng.randint(0, 600)), rng)
        ticket(t, slip)
        events.extend(t.events)
    # What is still open when the export was taken ("now", just after the last closed story):
    # these become next actions.
    now = max(datetime.fromisoformat(e["time"].replace("Z", "+00:00")) for e in events) + timedelta(hours=1)

    def open_story(before: timedelta) -> Story:
        nonlocal number
        number += 1
        return Story(f"0000{number}", now - before, rng)

    for _ in range(3):
        s = open_story(timedelta(hours=2))
        waiting_in_queue(s)
        events.extend(s.events)
    s = open_story(timedelta(days=3.3))
    follow_up(s, "open")
    events.extend(s.events)
    s = open_story(timedelta(minutes=70))
    owner_update_only_in_chatter(s)
    events.extend(s.events[:2])
    s = open_story(timedelta(hours=3))
    engine_job(s, "open")
    events.extend(s.events)
    s = open_story(timedelta(hours=5))
    unresponsive(s, end="open")
    events.extend(s.events)
    s = open_story(timedelta(days=8))
    unresponsive(s, program="beam", end="open", weeks=2)
    events.extend(s.events)
    t = Story("SS-4999", now - timedelta(minutes=30), rng)
    ticket_open(t)
    events.extend(t.events)
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
