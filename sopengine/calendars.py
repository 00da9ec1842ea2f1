"""Business calendars: when the clock of a deadline runs.

A pack declares calendars (``calendars:`` in a SOP file): working hours per weekday in a time zone, the
public holidays of a country (and region) from the ``holidays`` library, and explicit closed dates. A rule
that names one counts its ``within``, ``start`` (and an invariant's ``grace``) in working time only.

The compiler expands each calendar once into sorted, disjoint UTC working intervals over a bounded range of
years; both engines then add working seconds to a time by the same two binary searches over those numbers
(:meth:`Calendar.add`), so the core needs no time-zone rules and the two agree to the bit. The built-in name
:data:`AROUND_THE_CLOCK` counts every second (no calendar).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Iterable

if TYPE_CHECKING:
    from .expr import Expr

AROUND_THE_CLOCK = "24x7"
"""The calendar of every second: a rule without a calendar counts so."""

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
DEFAULT_YEARS = (2000, 2045)
"""The years a calendar covers unless it says (``years: [FROM, TO]``, both included)."""
MAX_YEARS = 200  # a wider range costs compile time and plan size for nothing


@dataclass(frozen=True, eq=False)
class Calendar:
    """One declared calendar, expanded: its working intervals ``[starts[i], ends[i])`` in epoch seconds (UTC),
    sorted and disjoint, and ``worked[i]``: the working seconds before interval ``i`` (``worked[n]``: all)."""

    name: str
    zone: str
    years: tuple[int, int]
    first: float  # the calendar's first instant: 1 January of its first year, 00:00 in its zone
    last: float  # the instant after its last year
    starts: tuple[float, ...]
    ends: tuple[float, ...]
    worked: tuple[float, ...]

    def add(self, t: float, seconds: float) -> float | None:
        """The instant ``seconds`` of working time after ``t``; None when that is not inside :attr:`years`.

        From a time outside working hours the count starts at the next opening. A deadline that uses up an
        interval exactly falls at its end (two working hours from 15:00 with work until 17:00: 17:00).
        The core (``native/core/src/calendar.rs``) does the same float operations in the same order.
        """
        if seconds == 0:
            return t
        if not self.first <= t < self.last:
            return None
        i = bisect_right(self.ends, t)  # the first interval that ends after t
        if i == len(self.ends):
            return None
        offset = self.worked[i] + (t - self.starts[i]) if t > self.starts[i] else self.worked[i]
        target = offset + seconds
        j = bisect_left(self.worked, target, 1) - 1  # the interval in which the count reaches target
        if j == len(self.ends):
            return None
        return self.starts[j] + (target - self.worked[j])

    def worked_at(self, t: float) -> float | None:
        """The working seconds of the calendar before ``t``; None when ``t`` is not inside :attr:`years`.
        A paused obligation keeps the working time left to its deadline as the difference of two of these
        (the core computes it alike)."""
        if not self.first <= t <= self.last:
            return None
        i = bisect_right(self.ends, t)  # the first interval that ends after t
        if i == len(self.ends):
            return self.worked[i]
        return self.worked[i] + (t - self.starts[i]) if t > self.starts[i] else self.worked[i]

    def outside(self, t: float) -> str:
        """Why :meth:`add` from ``t`` gave None: the undecided check's reason (the core words it alike)."""
        from .timeutil import format_time

        return (f"calendar '{self.name}' covers the years {self.years[0]}-{self.years[1]}: the deadline from "
                f"{format_time(t)} falls outside them")


@dataclass(frozen=True)
class CalendarRef:
    """A rule's choice of calendar: a declared one by ``name``, or the one an ``expr`` names at run time."""

    name: str | None
    expr: "Expr | None" = None


Hours = tuple[tuple[int, tuple[tuple[int, int], ...]], ...]  # (weekday 0-6, ((from, to) minutes, ...))


def parse_range(text: str) -> tuple[int, int]:
    """``"09:00-17:30"`` -> minutes after midnight ``(540, 1050)``; the end may be ``24:00``. Raises ValueError."""
    parts = text.split("-") if isinstance(text, str) else []
    if len(parts) != 2:
        raise ValueError(f"{text!r} is not a range of hours; write e.g. '09:00-17:00'")
    a, b = (_minutes(p.strip(), text) for p in parts)
    if b <= a:
        raise ValueError(f"{text!r} ends before it starts; a range stays within its day (the end may be 24:00)")
    return a, b


def _minutes(hhmm: str, whole: str) -> int:
    h, sep, m = hhmm.partition(":")
    if not (sep and len(h) == 2 and len(m) == 2 and h.isdigit() and m.isdigit()):
        raise ValueError(f"{whole!r} is not a range of hours; write e.g. '09:00-17:00'")
    total = int(h) * 60 + int(m)
    if int(m) > 59 or total > 24 * 60:
        raise ValueError(f"{hhmm!r} in {whole!r} is not a time of day (00:00 to 24:00)")
    return total


@lru_cache(maxsize=64)
def holiday_dates(country: str, subdivision: str | None, years: tuple[int, int],
                  categories: tuple[str, ...] = ()) -> frozenset[date]:
    """The public holidays of ``country`` (ISO 3166-1) and ``subdivision`` (ISO 3166-2 code, e.g. BY) over
    ``years``, by the ``holidays`` library. Raises ValueError with the reason when it knows no such place."""
    try:
        import holidays
    except ImportError:  # pragma: no cover - a dependency; said plainly if someone removed it
        raise ValueError("holidays by country need the 'holidays' package (pip install holidays)") from None
    try:
        found = holidays.country_holidays(country, subdiv=subdivision, years=range(years[0], years[1] + 1),
                                          categories=categories or None)
    except NotImplementedError as exc:
        raise ValueError(str(exc).strip() or f"no holidays are known for {country}") from None
    return frozenset(found)


@lru_cache(maxsize=64)
def expand(zone: str, hours: Hours, closed: frozenset[date], years: tuple[int, int]
           ) -> tuple[float, float, tuple[float, ...], tuple[float, ...]]:
    """The working intervals of a week's ``hours`` in ``zone``, less the ``closed`` days, over ``years``:
    (first instant, last instant, starts, ends). Raises ValueError for an unknown zone.

    Local times are read as the zone read them that day: a day of a change to or from summer time is an
    hour shorter or longer, and a time in the hour skipped in spring counts with the offset before the
    change (so a range starting in it starts an hour later). Adjacent ranges (a day ending at 24:00 and the
    next starting at 00:00) join into one interval.
    """
    tz = zone_info(zone)
    by_day = dict(hours)
    day, stop = date(years[0], 1, 1), date(years[1] + 1, 1, 1)
    starts: list[float] = []
    ends: list[float] = []
    one = timedelta(days=1)
    while day < stop:
        ranges = by_day.get(day.weekday())
        if ranges and day not in closed:
            midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
            for a, b in ranges:
                s = (midnight + timedelta(minutes=a)).timestamp()
                e = (midnight + timedelta(minutes=b)).timestamp()
                if e <= s:
                    continue  # a range inside the hour skipped in spring
                if ends and s <= ends[-1]:
                    ends[-1] = max(ends[-1], e)
                else:
                    starts.append(s)
                    ends.append(e)
        day += one
    first = datetime(years[0], 1, 1, tzinfo=tz).timestamp()
    last = datetime(years[1] + 1, 1, 1, tzinfo=tz).timestamp()
    return first, last, tuple(starts), tuple(ends)


def zone_info(name: str) -> Any:
    """The IANA time zone ``name``; raises ValueError for one the database does not know."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"'{name}' is not a time zone of the IANA database (e.g. Europe/Berlin, "
                         "America/Denver, UTC)") from None


def worked_before(starts: Iterable[float], ends: Iterable[float]) -> tuple[float, ...]:
    """Working seconds before each interval, and in all of them last (the core sums them in this order)."""
    out = [0.0]
    for s, e in zip(starts, ends):
        out.append(out[-1] + (e - s))
    return tuple(out)


def build(name: str, zone: str, hours: Hours, closed: frozenset[date], years: tuple[int, int]) -> Calendar:
    """A declared calendar, expanded (cached: a pack loaded again costs nothing). Raises ValueError."""
    first, last, starts, ends = expand(zone, hours, closed, years)
    return Calendar(name, zone, years, first, last, starts, ends, worked_before(starts, ends))
