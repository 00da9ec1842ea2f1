"""Events and the JSON Lines reader (SPEC §2).

A line that cannot become an event is a :class:`Rejected` with its file, line
and reason; the reader never stops on one. The reader only checks the
envelope; which event types exist comes from the pack.
"""

from __future__ import annotations

import gzip
import io
import os
import re
import sys
import zlib
from dataclasses import dataclass
from itertools import accumulate
from typing import Any, BinaryIO, Callable, Container, Iterator, Union

import orjson

from .errors import InputError, did_you_mean
from .limits import DEFAULT, Limits
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


_SUGGESTION = re.compile(r"\s*\(did you mean [^)]*\)")
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_NUMBER = re.compile(r"\d+")
_KIND_OF: dict[str, str] = {}  # a log of bad lines repeats few reasons: each is elided once


def reason_kind(reason: str) -> str:
    """A rejection reason without its particulars: suggestions dropped, quoted values and numbers elided."""
    kind = _KIND_OF.get(reason)
    if kind is None:
        text = _NUMBER.sub("N", _QUOTED.sub("'…'", _SUGGESTION.sub("", reason)))
        kind = text if len(text) <= 80 else text[:79] + "…"
        if len(_KIND_OF) >= 4096:
            _KIND_OF.clear()
        _KIND_OF[reason] = kind
    return kind


class Rejections:
    """Rejected records, bounded: the first ``keep`` in the report's order (file, line, reason) are kept
    whole; the others are counted by :func:`reason_kind` (:meth:`counts`: the :attr:`KINDS` most
    common kinds, the rest together).

    Which are kept does not depend on the order records arrive in, so workers' shares merge into the
    same result as one process's.
    """

    KINDS = 100
    OTHER = "(other reasons)"
    _HELD = 10_000  # kinds told apart while counting (more only where reasons hold unquoted data)

    def __init__(self, keep: int = DEFAULT.rejected_kept):
        self.keep = keep
        self._items: list[Rejected] = []
        self.more: dict[str, int] = {}  # kind -> records past the kept ones

    def add(self, rejected: Rejected) -> None:
        self._items.append(rejected)
        if len(self._items) >= 2 * self.keep + 64:
            self._trim()

    def count(self, reason: str) -> None:
        """Count a record past the kept ones by its reason (a caller that knows it is past them)."""
        self._count_kind(reason_kind(reason), 1)

    def _count_kind(self, kind: str, n: int) -> None:
        if kind not in self.more and len(self.more) >= self._HELD:
            kind = self.OTHER
        self.more[kind] = self.more.get(kind, 0) + n

    def absorb(self, other: "Rejections") -> None:
        for r in other._items:
            self.add(r)
        for kind, n in other.more.items():
            self._count_kind(kind, n)

    def counts(self) -> dict[str, int]:
        """The records past the kept ones by kind: the most common first, at most KINDS and the rest as one."""
        self._trim()
        ranked = sorted(self.more.items(), key=lambda kv: (kv[0] == self.OTHER, -kv[1], kv[0]))
        out = dict(ranked[:self.KINDS])
        rest = sum(n for _, n in ranked[self.KINDS:])
        if rest:
            out[self.OTHER] = out.get(self.OTHER, 0) + rest
        return out

    def _trim(self) -> None:
        self._items.sort(key=_report_order)
        for r in self._items[self.keep:]:
            self.count(r.error)
        del self._items[self.keep:]

    def kept(self) -> list[Rejected]:
        """The records kept, in the report's order."""
        self._trim()
        return list(self._items)

    def first(self) -> Rejected | None:
        return min(self._items, key=_report_order, default=None)


def _report_order(r: Rejected) -> tuple[str, int, str]:
    return (r.file, r.line, r.error)


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


def too_deep_reason(limit: int) -> str:
    return f"nested too deeply: more than {limit} levels of arrays and objects (limit json-depth)"


_NOT_STRUCTURE = bytes(sorted(set(range(256)) - set(b'"[]{}')))
_STRINGS = re.compile(rb'"[^"]*"')
_DELTA = [0] * 256
_DELTA[ord("[")] = _DELTA[ord("{")] = 1
_DELTA[ord("]")] = _DELTA[ord("}")] = -1


def bracket_depths(text: bytes, depth: int = 0, in_string: bool = False) -> tuple[int, int, bool]:
    """How deep arrays and objects nest in a piece of JSON text: (deepest, depth at its end, whether it ends
    inside a string), from ``depth`` and ``in_string`` at its start. The text must not end inside an escape.

    At C speed, with no Python step per byte: escapes and strings are cut out by bytes methods and a regular
    expression, and the depth is the running sum of the brackets left (text that is not JSON may be
    mis-measured; the parser refuses it anyway).
    """
    kept = text.replace(b"\\\\", b"").replace(b'\\"', b"").translate(None, _NOT_STRUCTURE)
    kept = _STRINGS.sub(b"", b'"' + kept if in_string else kept)
    quote = kept.find(b'"')  # a string still open: what follows it is text
    brackets = kept[:quote] if quote >= 0 else kept
    if not brackets:
        return depth, depth, quote >= 0
    depths = list(accumulate(map(_DELTA.__getitem__, brackets), initial=depth))
    return max(depths), depths[-1], quote >= 0


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether lists, tuples and dicts in ``value`` nest more than ``limit`` deep (the value itself is
    level 1). Walked with a stack, not recursion: the value may be as deep as orjson allows."""
    stack = [(value, 1)] if isinstance(value, (dict, list, tuple)) else []
    while stack:
        item, depth = stack.pop()
        children = item.values() if isinstance(item, dict) else item
        if depth > limit:
            return True
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list, tuple)))
    return False


def event_from_obj(obj: Any, fallback_id: str, known_types: Container[str] | None, seq: int = -1,
                   type_names: Callable[[], list[str]] | None = None,
                   origin: tuple[str, int] | None = None, max_depth: int | None = DEFAULT.json_depth
                   ) -> Event | str:
    """Build an Event from a decoded JSON value, or return the reason it is rejected.

    ``max_depth`` bounds its nesting (None: already checked by the caller)."""
    if max_depth is not None and nesting_exceeds(obj, max_depth):
        return too_deep_reason(max_depth)
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


def open_binary(path: str | os.PathLike[str], display: str | None = None,
                gzip_ratio: int = DEFAULT.gzip_ratio) -> BinaryIO:
    """Open a log file for reading bytes; ``.gz`` is decompressed on the fly (see :class:`Gunzip`)."""
    p = os.fspath(path)
    try:
        if p == "-":
            return sys.stdin.buffer
        if p.endswith(".gz"):
            return io.BufferedReader(Gunzip(open(p, "rb"), display or p, gzip_ratio), 1 << 16)
        return open(p, "rb")
    except OSError as exc:
        raise InputError(f"{p}: cannot read ({exc.strerror or exc})") from None


# A .gz input is measured against gzip-ratio once this much of it is decompressed.
GZIP_GRACE = 1 << 20


def damaged_message(display: str, damage: str, line: int, ratio: int) -> str:
    """Why a compressed input stops being readable (``damage``: truncated, corrupt, bomb), said the same way
    by both engines' readers; ``line`` is the last whole line decompressed before it."""
    where = f" after line {line}" if line else ""
    if damage == "truncated":
        return (f"{display}: the compressed data ends early{where} (a truncated .gz file?); the rest of the "
                "file is lost, so nothing of it was audited")
    if damage == "bomb":
        return (f"{display}: refused{where}: it decompresses to more than {ratio} times the compressed bytes "
                "read (limit gzip-ratio; a decompression bomb?)")
    return f"{display}: not valid gzip data{where}; the file cannot be read on, so nothing of it was audited"


class _Tally:
    """A file that counts the bytes read from it."""

    def __init__(self, fh: BinaryIO):
        self.fh = fh
        self.taken = 0

    def read(self, n: int = -1) -> bytes:
        data = self.fh.read(n)
        self.taken += len(data)
        return data

    def close(self) -> None:
        self.fh.close()


class Gunzip(io.RawIOBase):
    """A gzip stream decompressed as it is read, with its damage said plainly (an :class:`InputError` naming
    the file and the last whole line): truncated, corrupt, or a decompression bomb (past
    :data:`GZIP_GRACE` bytes, more than ``ratio`` times the compressed bytes read so far)."""

    def __init__(self, fh: BinaryIO, display: str, ratio: int):
        self._tally = _Tally(fh)
        self._gz = gzip.GzipFile(fileobj=self._tally, mode="rb")  # type: ignore[call-overload]
        self.display = display
        self.ratio = ratio
        self.out = 0
        self.lines = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        try:  # one piece at a time: what was inflated before the damage is never lost with it
            data = self._gz.read1(len(buffer))
        except EOFError:
            raise InputError(damaged_message(self.display, "truncated", self.lines, self.ratio)) from None
        except (gzip.BadGzipFile, zlib.error):
            raise InputError(damaged_message(self.display, "corrupt", self.lines, self.ratio)) from None
        n = len(data)
        buffer[:n] = data
        self.out += n
        self.lines += data.count(b"\n")
        if self.out > GZIP_GRACE and self.out > self.ratio * self._tally.taken:
            raise InputError(damaged_message(self.display, "bomb", self.lines, self.ratio))
        return n

    def close(self) -> None:
        if not self.closed:
            self._gz.close()
            self._tally.close()
        super().close()


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
                         type_names: Callable[[], list[str]] | None = None, max_depth: int = DEFAULT.json_depth
                         ) -> str:
    """The text of a native reader's structured reason ``(kind, *args)``, in this reader's words."""
    kind, *args = reason
    if kind == "too_long":
        return too_long_reason(max_line_bytes)
    if kind == "too_deep":
        return too_deep_reason(max_depth)
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
                type_names: Callable[[], list[str]] | None = None, select: Select | None = None,
                max_depth: int = DEFAULT.json_depth) -> Event | Rejected | None:
    """One stripped, non-blank line of a log within the length limit: an Event or a Rejected.

    ``base`` starts derived ids (the file as named); None when ``select`` leaves the line to another worker.
    """
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as exc:
        return Rejected(name, lineno, json_reason(exc)) if select is None or select(None, seq) else None
    if select is not None and not select(obj, seq):
        return None
    # Measured on the text, as the native reader does (a repeated key's first value counts too); only a
    # line with more brackets than the limit can nest deeper.
    if line.count(b"[") + line.count(b"{") > max_depth and bracket_depths(line)[0] > max_depth:
        return Rejected(name, lineno, too_deep_reason(max_depth))
    result = event_from_obj(obj, f"{base}:{lineno}", known_types, seq, type_names, (name, lineno), None)
    return Rejected(name, lineno, result) if isinstance(result, str) else result


def read_jsonl(path: str | os.PathLike[str], known_types: Container[str] | None = None,
               display: str | None = None, type_names: Callable[[], list[str]] | None = None,
               max_line_bytes: int | None = None, counter: LineCounter | None = None,
               select: Select | None = None, limits: Limits = DEFAULT) -> Iterator[Record]:
    """Yield an Event or a Rejected for every non-blank line of a JSON Lines file, in file order.

    Each event's ``seq`` is its line's number in the whole input (``counter`` carries it
    across files). ``select`` keeps only a share of the lines (a worker's cases). ``limits``
    bounds a line (line-bytes, unless ``max_line_bytes`` says), its nesting and a .gz file's ratio.
    """
    name = display or os.fspath(path)
    base = name  # derived ids name the file as given: two folders may hold logs of one name
    counter = counter if counter is not None else LineCounter()
    max_line_bytes = max_line_bytes if max_line_bytes is not None else limits.line_bytes
    max_depth = limits.json_depth
    fh = open_binary(path, name, limits.gzip_ratio)
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
            record = line_record(line, name, base, lineno, seq, known_types, type_names, select, max_depth)
            if record is not None:
                yield record
        counter.report()
    except OSError as exc:  # e.g. a corrupt gzip stream
        raise InputError(f"{name}: read failed ({exc})") from None
    finally:
        if os.fspath(path) != "-":
            fh.close()
