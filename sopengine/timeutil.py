"""Event time and durations.

Times are held as float seconds since the epoch (UTC) once parsed, so that
comparisons and deadline arithmetic on the hot path are plain float operations.
"""

from __future__ import annotations

import math
import re
from datetime import datetime, timezone

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_DURATION_FULL = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[wdhms]\s*)+$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_UNIT = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}
MAX_DURATION = 1000 * 365.25 * 86400.0  # longer has no meaning for a deadline, and would overflow times
MIN_REPEAT = 60.0  # a repeating obligation's shortest period: shorter ones flood a report with violations


class TimeFormatError(ValueError):
    """A timestamp that is not RFC 3339 with an offset."""


def parse_duration(text: object) -> float:
    """Parse ``"48h"``, ``"2d 4h"``, ``"15m"``, ``"7d"`` or ISO 8601 ``"PT2H"`` into seconds.

    Raises ValueError with a readable message otherwise.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write e.g. '48h', '2d', '15m' or 'PT2H'")
    seconds = None
    if _DURATION_FULL.match(text):
        seconds = sum(float(n) * _UNIT[u.lower()] for n, u in _DURATION_PART.findall(text))
    else:
        m = _ISO_DURATION.match(text.strip())
        if m and any(m.groupdict().values()):
            seconds = sum(float(v) * _UNIT[k] for k, v in m.groupdict().items() if v)
    if seconds is None:
        raise ValueError(f"{text!r} is not a duration; write e.g. '48h', '2d', '15m' or 'PT2H'")
    if seconds > MAX_DURATION:
        shown = text if len(text) <= 40 else text[:40] + "..."
        raise ValueError(f"duration {shown!r} is longer than 1000 years, the longest a rule or scenario may use")
    return seconds


def format_duration(seconds: float) -> str:
    """Inverse of :func:`parse_duration` for display: ``172800`` -> ``"2d"``."""
    if seconds == 0:
        return "0s"
    parts = []
    rest = float(seconds)
    for unit in ("d", "h", "m", "s"):
        size = _UNIT[unit]
        count = int(rest // size)
        if count:
            parts.append(f"{count}{unit}")
            rest -= count * size
    return "".join(parts) or f"{seconds}s"


def time_type_message(type_name: str) -> str:
    """Why a time that is not a string is refused (also worded for the native reader)."""
    return f"time must be a string, got {type_name}"


def parse_time(text: object) -> float:
    """RFC 3339 timestamp with an offset -> epoch seconds.

    Accepts ``Z``, ``+00:00`` and ``+0000`` (common in CRM exports); refuses naive times,
    dates without a time, impossible dates, and instants outside the years 1-9999 in UTC.
    """
    if not isinstance(text, str):
        raise TimeFormatError(time_type_message(type(text).__name__))
    if len(text) == 19 and text[4] == "-" and text[7] == "-" and text[10] in "Tt ":
        raise TimeFormatError(f"time {text!r} has no UTC offset (add Z or +00:00)")
    if len(text) < 20 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt ":
        raise TimeFormatError(f"time {text!r} is not RFC 3339 (e.g. 2024-05-01T09:00:00Z)")
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimeFormatError(f"time {text!r} is not a valid RFC 3339 date and time ({exc})") from None
    if value.tzinfo is None:
        raise TimeFormatError(f"time {text!r} has no UTC offset (add Z or +00:00)")
    try:
        value.astimezone(timezone.utc)  # every time shown in a report is UTC: it must exist there
    except OverflowError:
        raise TimeFormatError(f"time {text!r} is outside the years 1-9999 in UTC") from None
    return value.timestamp()


def format_time(epoch: float | None) -> str | None:
    """Epoch seconds -> RFC 3339 in UTC (``2024-05-01T09:00:00Z``), for reports.

    A deadline can fall past the year 9999 (a late event plus a long deadline): it is
    written with an expanded year (``+10000-01-01T01:00:00Z``, ISO 8601) rather than
    failing the whole report.
    """
    if epoch is None:
        return None
    try:
        return format_time_strict(epoch)
    except (ValueError, OverflowError, OSError):
        return _expanded(epoch)


def format_due(epoch: float | None, zone: str | None) -> str | None:
    """A deadline for people: RFC 3339 in UTC, and when a business calendar in ``zone`` counted it, the local
    time there too: ``2026-03-30T09:00:00Z (2026-03-30 11:00 CEST, Europe/Berlin)``."""
    text = format_time(epoch)
    if epoch is None or zone is None:
        return text
    from zoneinfo import ZoneInfo

    try:
        local = datetime.fromtimestamp(epoch, ZoneInfo(zone))
    except (ValueError, OverflowError, OSError, KeyError):
        return text
    shown = local.strftime("%Y-%m-%d %H:%M:%S" if local.second else "%Y-%m-%d %H:%M")
    return f"{text} ({shown} {local.tzname()}, {zone})"


def format_time_strict(epoch: float) -> str:
    """:func:`format_time` as the expression language's ``iso()`` has it: raises outside years 1-9999."""
    value = datetime.fromtimestamp(epoch, timezone.utc)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _expanded(epoch: float) -> str:
    if epoch != epoch or epoch in (float("inf"), float("-inf")):
        return str(epoch)
    millis = round(epoch * 1000)
    days, rest = divmod(millis, 86_400_000)
    year, month, day = _civil_from_days(days)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    seconds, ms = divmod(rest, 1000)
    fraction = f".{ms:03d}" if ms else ""
    return f"{year:+05d}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{seconds:02d}{fraction}Z"


def iso_week(epoch: float) -> int:
    """The ISO 8601 week (UTC) an instant falls in, as ``year * 100 + week`` (2024-W19 is 202419).

    Calendar arithmetic on whole days (Howard Hinnant's), not ``datetime``: any finite time has a week,
    past the year 9999 too, and the native core counts it the same way.
    """
    days = math.floor(epoch / 86_400)
    thursday = days - (days + 3) % 7 + 3  # the week's Thursday names its year (1970-01-01 was a Thursday)
    year = _civil_from_days(thursday)[0]
    return year * 100 + (thursday - _days_from_civil(year, 1, 1)) // 7 + 1


def format_week(week: int) -> str:
    """:func:`iso_week`'s number as ISO 8601 text: ``2024-W19``."""
    year, number = divmod(week, 100)
    return f"{year:04d}-W{number:02d}"


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """Days since 1970-01-01 -> the proleptic Gregorian (year, month, day) (Howard Hinnant's civil_from_days)."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _days_from_civil(year: int, month: int, day: int) -> int:
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    doy = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146_097 + doe - 719_468
