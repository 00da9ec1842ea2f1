"""Events and the JSON Lines reader (SPEC §2).

A line that cannot become an event is a :class:`Rejected` with its file, line
and reason; the reader never stops on one. The reader only checks the
envelope; which event types exist comes from the pack.
"""

from __future__ import annotations

import gzip
import os
import sys
from dataclasses import dataclass
from typing import Any, BinaryIO, Callable, Container, Iterator, Union

import orjson

from .errors import InputError, did_you_mean
from .limits import DEFAULT
from .timeutil import TimeFormatError, format_time, parse_time, time_type_message



class Event:
    """One event of a case. ``time`` is epoch seconds; ``seq`` is the input order (ties keep it);
    ``origin`` is the file and line it was read from, when it was read from one."""

    __slots__ = ("id", "case", "time", "type", "actor", "data", "seq", "origin")

    def __init__(self, id: str, case: str, time: float, type: str, actor: str | None = None,
                 data: dict[str, Any] | None = None, seq: int = -1, origin: tuple[str, int] | None = None):
        self.id = id
        self.case = case
        self.time = time
        self.type = type
        self.actor = actor
        self.data = data if data is not None else {}
        self.seq = seq
        self.origin = origin

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "case": self.case, "time": format_time(self.time), "type": self.type}
        if self.actor is not None:
            out["actor"] = self.actor
        if self.data:
            out["data"] = self.data
        return out

    def __repr__(self) -> str:
        return f"Event({self.id!r}, {self.case!r}, {format_time(self.time)!r}, {self.type!r}, {self.actor!r})"


@dataclass(frozen=True, slots=True)
class Rejected:
    """A line that is not a usable event."""

    file: str
    line: int
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "error": self.error}


@dataclass(frozen=True, slots=True)
class Skipped:
    """An input record an input mapping deliberately does not turn into an event (counted by reason)."""

    file: str
    line: int
    reason: str


@dataclass(frozen=True, slots=True)
class InputWarning:
    """Something an input says about itself that may make findings wrong (an export cut short, a change
    whose rows could not be paired): reported with its file and line and counted, never an event."""

    file: str
    line: int
    message: str

    @property
    def where(self) -> str:
        """file:line, or the file alone for what is said of the whole file (line 0)."""
        return f"{self.file}:{self.line}" if self.line else self.file

    def to_json(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "warning": self.message}


Record = Union[Event, Rejected, Skipped, InputWarning]


def _clean_data(data: dict[str, Any]) -> dict[str, Any]:
    # SPEC §2: absent, null and "" all mean "not filled"; drop them once here.
    for v in data.values():
        if v is None or v == "":
            return {k: v for k, v in data.items() if v is not None and v != ""}
    return data


# Why a line is refused, one small function per reason: the Python reader and the native
# reader's structured reasons (render_native_reason) word them with the same code.

def not_object_reason(type_name: str) -> str:
    return f"expected a JSON object, got {type_name}"


def missing_reason(keys: list[str]) -> str:
    return f"missing required key(s): {', '.join(keys)}"


def wrong_type_reason(key: str, type_name: str, expected: str = "a string") -> str:
    return f"'{key}' must be {expected}, got {type_name}"


def unknown_type_reason(name: str, type_names: Callable[[], list[str]] | None) -> str:
    hint = did_you_mean(name, type_names()) if type_names else ""
    return f"unknown event type '{name}'{hint}"


def time_reason(value: object) -> str:
    """parse_time's own words for a time it refuses."""
    try:
        parse_time(value)
    except TimeFormatError as exc:
        return str(exc)
    raise ValueError(f"time {value!r} is accepted by parse_time")


def event_from_obj(obj: Any, fallback_id: str, known_types: Container[str] | None, seq: int = -1,
                   type_names: Callable[[], list[str]] | None = None,
                   origin: tuple[str, int] | None = None) -> Event | str:
    """Build an Event from a decoded JSON value, or return the reason it is rejected."""
    if not isinstance(obj, dict):
        return not_object_reason(type(obj).__name__ if obj is not None else 'null')
    case = obj.get("case")
    time_text = obj.get("time")
    etype = obj.get("type")
    missing = [k for k, v in (("case", case), ("time", time_text), ("type", etype)) if v is None or v == ""]
    if missing:
        return missing_reason(missing)
    if not isinstance(case, str):
        return wrong_type_reason("case", type(case).__name__)
    if not isinstance(etype, str):
        return wrong_type_reason("type", type(etype).__name__)
    if known_types is not None and etype not in known_types:
        return unknown_type_reason(etype, type_names)
    try:
        t = parse_time(time_text)
    except TimeFormatError as exc:
        return str(exc)
    actor = obj.get("actor")
    if actor is not None and not isinstance(actor, str):
        return wrong_type_reason("actor", type(actor).__name__)
    data = obj.get("data")
    if data is None:
        data = {}
    elif not isinstance(data, dict):
        return wrong_type_reason("data", type(data).__name__, "an object")
    else:
        data = _clean_data(data)
    eid = obj.get("id")
    if eid is None or eid == "":
        eid = fallback_id
    elif not isinstance(eid, str):
        return wrong_type_reason("id", type(eid).__name__)
    return Event(eid, case, t, etype, actor or None, data, seq, origin)


def open_binary(path: str | os.PathLike[str]) -> BinaryIO:
    """Open a log file for reading bytes; ``.gz`` is decompressed on the fly."""
    p = os.fspath(path)
    try:
        if p == "-":
            return sys.stdin.buffer
        if p.endswith(".gz"):
            return gzip.open(p, "rb")  # type: ignore[return-value]
        return open(p, "rb")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None


Select = Callable[[Any, int], bool]  # (decoded line or None, global line number) -> this reader's share?


class LineCounter:
    """Numbers non-blank lines across the files of one input (the input order), and counts bytes read."""

    __slots__ = ("lines", "bytes", "on_progress", "_reported")

    def __init__(self, on_progress: Callable[[int, int], None] | None = None):
        self.lines = 0
        self.bytes = 0
        self.on_progress = on_progress
        self._reported = 0

    def report(self) -> None:
        if self.on_progress is not None and self.bytes != self._reported:
            self.on_progress(self.bytes - self._reported, self.lines)
            self._reported = self.bytes


def too_long_reason(limit: int) -> str:
    return f"line is longer than {limit} bytes (limit line-bytes)"


def too_long_line(name: str, lineno: int, limit: int) -> Rejected:
    return Rejected(name, lineno, too_long_reason(limit))


def json_reason(exc: orjson.JSONDecodeError) -> str:
    """Why a line is not a JSON value, said plainly (UTF-8, truncated, too deep, or else)."""
    text = str(exc)
    if "UTF-8" in text:
        return f"not valid UTF-8: {text}"
    if text.startswith("unexpected end of data"):
        return f"truncated JSON: {text}"
    if "depth limit" in text:
        return f"not valid JSON: nested too deeply ({text})"
    return f"not valid JSON: {text}"


def json_line_reason(line: bytes) -> str:
    """json_reason for a line orjson refuses."""
    try:
        orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return json_reason(exc)
    raise ValueError(f"line {line[:80]!r} is valid JSON")


def render_native_reason(reason: tuple[Any, ...], max_line_bytes: int,
                         type_names: Callable[[], list[str]] | None = None) -> str:
    """The text of a native reader's structured reason ``(kind, *args)``, in this reader's words."""
    kind, *args = reason
    if kind == "too_long":
        return too_long_reason(max_line_bytes)
    if kind == "json":
        return json_line_reason(args[0])
    if kind == "not_object":
        return not_object_reason(args[0])
    if kind == "missing":
        return missing_reason(list(args[0]))
    if kind == "not_string":
        return wrong_type_reason(args[0], args[1])
    if kind == "unknown_type":
        return unknown_type_reason(args[0], type_names)
    if kind == "time_not_string":
        return time_type_message(args[0])
    if kind == "time":
        return time_reason(args[0])
    if kind == "data_not_object":
        return wrong_type_reason("data", args[0], "an object")
    raise ValueError(f"unknown native reason {kind!r}")


def _skip_rest_of_line(readline: Callable[[int], bytes], counter: LineCounter) -> None:
    """Read past the end of an over-long line a chunk at a time, so it is never held whole."""
    while True:
        chunk = readline(1 << 20)
        counter.bytes += len(chunk)
        if not chunk or chunk.endswith(b"\n"):
            return


def line_record(line: bytes, name: str, base: str, lineno: int, seq: int, known_types: Container[str] | None,
                type_names: Callable[[], list[str]] | None = None, select: Select | None = None
                ) -> Event | Rejected | None:
    """One stripped, non-blank line of a log within the length limit: an Event or a Rejected.

    ``base`` starts derived ids (the file as named); None when ``select`` leaves the line to another worker.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Rejected(name, lineno, json_reason(exc)) if select is None or select(None, seq) else None
    if select is not None and not select(obj, seq):
        return None
    result = event_from_obj(obj, f"{base}:{lineno}", known_types, seq, type_names, (name, lineno))
    return Rejected(name, lineno, result) if isinstance(result, str) else result


def read_jsonl(path: str | os.PathLike[str], known_types: Container[str] | None = None,
               display: str | None = None, type_names: Callable[[], list[str]] | None = None,
               max_line_bytes: int = DEFAULT.line_bytes, counter: LineCounter | None = None,
               select: Select | None = None) -> Iterator[Record]:
    """Yield an Event or a Rejected for every non-blank line of a JSON Lines file, in file order.

    Each event's ``seq`` is its line's number in the whole input (``counter`` carries it
    across files). ``select`` keeps only a share of the lines (a worker's cases).
    """
    name = display or os.fspath(path)
    base = name  # derived ids name the file as given: two folders may hold logs of one name
    counter = counter if counter is not None else LineCounter()
    fh = open_binary(path)
    readline = fh.readline
    lineno = 0
    try:
        while True:
            raw = readline(max_line_bytes + 2)  # a longer line is never held whole
            if not raw:
                break
            lineno += 1
            counter.bytes += len(raw)
            too_long = len(raw) == max_line_bytes + 2 and not raw.endswith(b"\n")
            if too_long:
                _skip_rest_of_line(readline, counter)
            if not lineno & 4095:
                counter.report()
            if lineno == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            line = raw.strip()
            if not line and not too_long:
                continue
            counter.lines += 1
            seq = counter.lines
            if too_long or len(raw.rstrip(b"\r\n")) > max_line_bytes:
                if select is None or select(None, seq):
                    yield too_long_line(name, lineno, max_line_bytes)
                continue
            record = line_record(line, name, base, lineno, seq, known_types, type_names, select)
            if record is not None:
                yield record
        counter.report()
    except OSError as exc:  # e.g. a corrupt gzip stream
        raise InputError(f"{name}: read failed ({exc})") from None
    finally:
        if os.fspath(path) != "-":
            fh.close()
