"""Event time and durations.

Times are held as float seconds since the epoch (UTC) once parsed, so that
comparisons and deadline arithmetic on the hot path are plain float operations.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(w|d|h|m|s)", re.IGNORECASE)
_DURATION_FULL = re.compile(r"^\s*(?:\d+(?:\.\d+)?\s*[wdhms]\s*)+$", re.IGNORECASE)
_ISO_DURATION = re.compile(
    r"^P(?:(?P<w>\d+)W)?(?:(?P<d>\d+)D)?(?:T(?:(?P<h>\d+)H)?(?:(?P<m>\d+)M)?(?:(?P<s>\d+(?:\.\d+)?)S)?)?$")
_UNIT = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


class TimeFormatError(ValueError):
    """A timestamp that is not RFC 3339 with an offset."""


def parse_duration(text: object) -> float:
    """Parse ``"48h"``, ``"2d 4h"``, ``"15m"``, ``"7d"`` or ISO 8601 ``"PT2H"`` into seconds.

    Raises ValueError with a readable message otherwise.
    """
    if isinstance(text, bool) or not isinstance(text, str):
        raise ValueError(f"{text!r} is not a duration; write e.g. '48h', '2d', '15m' or 'PT2H'")
    if _DURATION_FULL.match(text):
        return sum(float(n) * _UNIT[u.lower()] for n, u in _DURATION_PART.findall(text))
    m = _ISO_DURATION.match(text.strip())
    if m and any(m.groupdict().values()):
        return sum(float(v) * _UNIT[k] for k, v in m.groupdict().items() if v)
    raise ValueError(f"{text!r} is not a duration; write e.g. '48h', '2d', '15m' or 'PT2H'")


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
    dates without a time, and impossible dates.
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
    return value.timestamp()


def format_time(epoch: float | None) -> str | None:
    """Epoch seconds -> RFC 3339 in UTC (``2024-05-01T09:00:00Z``)."""
    if epoch is None:
        return None
    value = datetime.fromtimestamp(epoch, timezone.utc)
    text = value.isoformat(timespec="milliseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")
