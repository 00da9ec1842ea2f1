"""Business calendars: working time is counted as a clock on the office wall would count it, both engines agree
to the byte, and a calendar that cannot be used is said at compile time (or, chosen at run time, undecided).

The scenarios of tests/packs/calendars (weekends, holidays, summer time, triggers at night) run in
test_scenarios and test_engines; here: the counting against an independent reference, the compile errors,
and whole audits on both engines.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sopengine import PackError, load_pack
from sopengine.calendars import build, parse_range
from sopengine.cli import cli
from sopengine.native import available, emit

from .conftest import PACKS, engine_blind, write_jsonl
from .fuzzing import budget

CALENDARS = PACKS / "calendars"

# -- the count, against a reference that walks the minutes ---------------------------------------------------
ZONES = ["Europe/Berlin", "America/Denver", "Australia/Sydney", "Asia/Kolkata", "UTC"]


def _walk(zone: str, hours: dict[int, list[tuple[int, int]]], closed: set[date], t: int, minutes: int) -> int:
    """The instant ``minutes`` working minutes after ``t`` (whole minutes), by looking at each minute's local
    time: the other direction from the expansion, which turns local times into instants."""
    tz = ZoneInfo(zone)
    now, left = t, minutes
    while True:
        local = datetime.fromtimestamp(now, tz)
        at = local.hour * 60 + local.minute
        if local.date() not in closed and any(a <= at < b for a, b in hours.get(local.weekday(), [])):
            left -= 1
            if left == 0:
                return now + 60
        now += 60


_RANGES = st.lists(st.tuples(st.integers(5, 21), st.integers(1, 4)), max_size=2)  # whole hours, clear of 02:00-03:00


@budget(40)
@given(zone=st.sampled_from(ZONES),
       week=st.lists(_RANGES, min_size=7, max_size=7),
       closed_days=st.lists(st.integers(0, 40), max_size=4),
       day=st.integers(0, 30), minute=st.integers(0, 24 * 60 - 1), length=st.integers(1, 20 * 60))
def test_working_time_is_counted_as_the_minutes_on_the_local_clock(zone: str, week: list[list[tuple[int, int]]],
                                                                  closed_days: list[int], day: int, minute: int,
                                                                  length: int) -> None:
    """Around both changes of summer time (March and October 2026, and April/October in Sydney)."""
    hours: dict[int, list[tuple[int, int]]] = {}
    for weekday, ranges in enumerate(week):
        spans = sorted((h * 60, min(h + n, 24) * 60) for h, n in ranges)
        merged: list[tuple[int, int]] = []
        for a, b in spans:
            if merged and a <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], b))
            else:
                merged.append((a, b))
        if merged:
            hours[weekday] = merged
    if not hours:
        hours[0] = [(9 * 60, 17 * 60)]
    base = date(2026, 3, 20) if day % 2 else date(2026, 9, 28)
    closed = {date.fromordinal(base.toordinal() + d) for d in closed_days}
    cal = build("test", zone, tuple(sorted((d, tuple(r)) for d, r in hours.items())), frozenset(closed), (2026, 2027))
    start = datetime(base.year, base.month, base.day, tzinfo=ZoneInfo(zone)).timestamp()
    t = int(start) + day * 86400 + minute * 60
    assert cal.add(float(t), length * 60.0) == _walk(zone, hours, closed, t, length)


def test_a_deadline_that_uses_up_a_working_day_exactly_falls_at_its_close_not_the_next_opening() -> None:
    cal = build("x", "UTC", ((0, ((540, 1020),)), (1, ((540, 1020),))), frozenset(), (2026, 2026))
    monday_3pm = datetime(2026, 3, 2, 15, tzinfo=timezone.utc).timestamp()
    assert cal.add(monday_3pm, 2 * 3600) == datetime(2026, 3, 2, 17, tzinfo=timezone.utc).timestamp()
    assert cal.add(monday_3pm, 2 * 3600 + 1) == datetime(2026, 3, 3, 9, 0, 1, tzinfo=timezone.utc).timestamp()
    assert cal.add(monday_3pm, 0) == monday_3pm


@pytest.mark.parametrize(("text", "problem"), [
    ("9:00-17:00", "not a range of hours"), ("09:00-17:60", "not a time of day"), ("17:00-09:00", "ends before"),
    ("09:00-24:01", "not a time of day"), ("09:00", "not a range of hours"),
])
def test_a_range_of_hours_that_is_not_one_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_range(text)


# -- compile time ------------------------------------------------------------------------------------------
PACK = """\
events:
  opened: {data: {region: {type: string}}}
  answered: {}
params:
  which: {type: string, default: office}
  limit: {type: duration, default: 1h}
calendars:
  office:
    zone: Europe/Berlin
    hours: {mon: ["09:00-17:00"], tue: ["09:00-17:00"]}
sop: {id: s, title: S, source: {document: d.txt}}
rules:
  - id: answer
    kind: response
    severity: error
    description: d
    source: {document: d.txt, step: "1"}
    after: {on: opened}
    expect: {on: answered}
    within: 2h
    calendar: office
    action: "answer by {iso(due)}"
    message: m
"""


def _errors(tmp_path: Path, text: str) -> list[tuple[str, str]]:
    (tmp_path / "p.yaml").write_text(text)
    with pytest.raises(PackError) as caught:
        load_pack([tmp_path])
    return [(d.code.value, d.message) for d in caught.value.diagnostics]


def test_the_base_pack_loads_and_its_rule_counts_in_the_office_calendar(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PACK)
    pack = load_pack([tmp_path])
    rule = pack.rules[0]
    assert rule.calendar is not None and rule.calendar.name == "office"  # type: ignore[attr-defined]
    assert list(pack.calendars) == ["office"] and pack.calendars["office"].zone == "Europe/Berlin"


@pytest.mark.parametrize(("change", "code", "words"), [
    (("calendar: office", "calendar: ofice"), "unknown-calendar", "did you mean 'office'"),
    (("calendar: office", "calendar: params.which"), None, None),
    (("calendar: office\n", "calendar: params.which\n", "default: office", "default: offfice"), "unknown-calendar",
     "'offfice' is not declared"),
    (("calendar: office", "calendar: params.limit"), "bad-calendar", "is a duration, not the text naming"),
    (("calendar: office", "calendar: {expr: \"'office' if data.region == 'EU' else 'ofice'\"}"),
     "unknown-calendar", "'ofice' is not declared"),
    (("calendar: office", "calendar: {expr: \"lower(data.region) + '-office'\"}"), None, None),
    (("zone: Europe/Berlin", "zone: Europe/Berln"), "bad-calendar", "not a time zone of the IANA database"),
    (('mon: ["09:00-17:00"]', 'mon: ["09:00-13:00", "12:00-17:00"]'), "bad-calendar", "the hours of mon overlap"),
    (('mon: ["09:00-17:00"]', 'mon: ["17:00-09:00"]'), "bad-calendar", "ends before it starts"),
    (("    hours:", "    holidays: {country: XY}\n    hours:"), "bad-calendar", "holidays:"),
    (("    hours:", "    holidays: {country: DE, subdivision: ZZ}\n    hours:"), "bad-calendar", "holidays:"),
    (("    hours:", "    closed: [2026-02-30]\n    hours:"), "bad-calendar", "is not a date"),
    (("    hours:", "    years: [2045, 2000]\n    hours:"), "bad-calendar", "years [2045, 2000]"),
    (("  office:\n", "  24x7:\n"), "bad-calendar", "built-in calendar of every hour"),
    (("    within: 2h\n", "    repeat: {every: 1d}\n"), "bad-calendar", "a repeating obligation counts every hour"),
    (("within: 2h", "within: {expr: \"hours(1) if data.region == 'EU' else hours(4)\"}"), None, None),
    (("within: 2h", "within: {expr: \"hours(1) if data.regio == 'EU' else hours(4)\"}"), "unknown-field",
     "did you mean 'region'"),
    (("within: 2h", "within: {expr: hours(1)}\n    repeat: {every: 1d}", "calendar: office", "calendar: 24x7"),
     "bad-duration", "a repeating obligation's deadline is a duration, not an expression"),
])
def test_a_calendar_that_cannot_be_used_is_an_error_at_its_place_with_the_reason(
        tmp_path: Path, change: tuple[str, ...], code: str | None, words: str | None) -> None:
    text = PACK
    for old, new in zip(change[::2], change[1::2]):
        text = text.replace(old, new)
    assert text != PACK
    if code is None:
        (tmp_path / "p.yaml").write_text(text)
        load_pack([tmp_path])
        return
    found = _errors(tmp_path, text)
    assert any(c == code and words in m for c, m in found), found  # type: ignore[operator]


def test_the_calendar_key_is_offered_by_the_schema_and_refuses_other_shapes(tmp_path: Path) -> None:
    found = _errors(tmp_path, PACK.replace("calendar: office", "calendar: {name: office}"))
    assert {c for c, _ in found} == {"schema"} and any("'expr' is required" in m for _, m in found), found


def test_the_plan_carries_each_calendar_as_sorted_disjoint_working_intervals(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(PACK)
    plan = json.loads(emit(load_pack([tmp_path])))
    [cal] = plan["calendars"]
    starts, ends = cal["starts"], cal["ends"]
    assert cal["name"] == "office" and cal["years"] == [2000, 2045]
    assert len(starts) == len(ends) > 2 * 46 * 50  # two days a week for 46 years
    assert all(s < e for s, e in zip(starts, ends)) and all(e < s for e, s in zip(ends, starts[1:]))
    # Monday 9 January 2023, 09:00 in Berlin (winter time) is 08:00 UTC
    assert datetime(2023, 1, 9, 8, tzinfo=timezone.utc).timestamp() in starts
    assert plan["rules"][0]["calendar"] == {"name": "office"}


# -- whole audits on both engines ---------------------------------------------------------------------------
def _log(path: Path) -> Path:
    rows = [
        {"id": "a1", "case": "EU-1", "time": "2026-03-27T15:00:00+01:00", "type": "request.opened",
         "data": {"region": "EU"}},
        {"id": "a2", "case": "US-1", "time": "2026-07-02T17:00:00-06:00", "type": "request.opened",
         "data": {"region": "US", "customer": "c1"}},
        {"id": "a3", "case": "MARS-1", "time": "2026-12-31T20:00:00Z", "type": "request.opened",
         "data": {"region": "MARS"}},
        {"id": "a4", "case": "NONE-1", "time": "2026-04-02T16:00:00+02:00", "type": "request.opened", "data": {}},
        {"id": "a5", "case": "XX-1", "time": "2026-03-28T12:00:00+01:00", "type": "request.opened",
         "data": {"region": "XX", "customer": "c9"}},
        {"id": "a6", "case": "EU-1", "time": "2026-03-30T10:30:00+02:00", "type": "request.assigned",
         "data": {"to": "ana"}},
        {"id": "a7", "case": "EU-2", "time": "2026-05-09T22:00:00+02:00", "type": "request.opened",
         "data": {"region": "EU"}},
    ]
    return write_jsonl(path, rows)


@pytest.mark.skipif(not available(), reason="the native core is not built")
@pytest.mark.parametrize("as_of", ["2026-03-30T09:30:00+02:00", "2026-04-08T00:00:00Z", "2026-07-06T12:00:00Z"])
def test_an_audit_with_calendars_is_the_same_json_on_both_engines(tmp_path: Path, runner, as_of: str) -> None:  # type: ignore[no-untyped-def]
    log = _log(tmp_path / "log.jsonl")
    facts = tmp_path / "facts.yaml"
    facts.write_text("customers:\n  - {id: c1, calendar: denver-office}\n")
    outputs = {}
    for engine in ("python", "native"):
        result = runner.invoke(cli, ["audit", str(log), "--sops", str(CALENDARS), "--facts", str(facts),
                                     "--as-of", as_of, "--format", "json", "--engine", engine, "--fail-on", "never"])
        assert result.exit_code == 0, result.output
        outputs[engine] = result.output
    assert engine_blind(outputs["native"]) == engine_blind(outputs["python"])
    report = json.loads(outputs["native"])
    reasons = {u["reason"] for u in report["undecided"]}
    assert "calendar 'year-2026' covers the years 2026-2026: the deadline from 2026-12-31T20:00:00Z falls " \
           "outside them" not in reasons or as_of != "2026-03-30T09:30:00+02:00"  # the event is after that as-of
    if as_of == "2026-04-08T00:00:00Z":
        assert any(r.startswith("calendar \"'berlin-office' if data.region") and "could not be evaluated: TypeError"
                   in r for r in reasons), reasons
        assert "'c9' is not in the 'customers' facts" in reasons


# -- due times shown in the calendar's zone -----------------------------------------------------------------
def test_a_deadline_counted_in_a_calendar_is_shown_in_its_zone_as_well_as_utc() -> None:
    from sopengine.timeutil import format_due, parse_time

    due = parse_time("2026-03-30T09:00:00Z")
    assert format_due(due, "Europe/Berlin") == "2026-03-30T09:00:00Z (2026-03-30 11:00 CEST, Europe/Berlin)"
    assert format_due(due + 30, "America/Denver") == "2026-03-30T09:00:30Z (2026-03-30 03:00:30 MDT, America/Denver)"
    assert format_due(due, None) == "2026-03-30T09:00:00Z"


@pytest.mark.parametrize("engine", ["python", "native"])
def test_text_reports_show_due_times_in_the_calendar_zone_and_json_keeps_utc(tmp_path: Path, runner,  # type: ignore[no-untyped-def]
                                                                          engine: str) -> None:
    if engine == "native" and not available():
        pytest.skip("the native core is not built")
    log = write_jsonl(tmp_path / "log.jsonl", [
        {"id": "t1", "case": "SS-1", "time": "2024-11-08T16:30:00-07:00", "type": "ticket.created",
         "actor": "pat@home.example", "data": {"reporter": "pat@home.example"}}])
    args = [str(log), "--set", "service_desk_calendar=service-desk-hours", "--as-of", "2024-11-11T12:00:00Z"]
    text = runner.invoke(cli, ["audit", *args, "--engine", engine, "--fail-on", "never"]).output
    # 30 minutes on Friday, Monday 11 November is Veterans Day: Tuesday 09:30 Mountain time
    assert "due 2024-11-12T16:30:00Z (2024-11-12 09:30 MST, America/Denver)  service-desk/first-response-2h" in text
    worklist = runner.invoke(cli, ["next", *args]).output
    assert "due 2024-11-12T16:30:00Z (2024-11-12 09:30 MST, America/Denver)" in worklist
    report = json.loads(runner.invoke(cli, ["audit", *args, "--engine", engine, "--format", "json",
                                            "--fail-on", "never"]).output)
    [action] = [a for a in report["next_actions"] if a["rule"] == "service-desk/first-response-2h"]
    assert action["due"] == "2024-11-12T16:30:00Z" and "zone" not in action
