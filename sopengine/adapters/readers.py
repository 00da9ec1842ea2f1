"""Readers: split an export into records, streaming, each with its line (or record number).

A reader yields ``(record, line, kind)`` where ``record`` is a dict, or the text
of why that part of the file is not a usable record (it is then rejected with
its line). Which events the records become is the mapping's business.

Libraries: :mod:`csv` (stdlib), pyarrow for Parquet (batches, never the whole
file), ijson for JSON (a multi-gigabyte REST export is never loaded whole),
defusedxml's expat reader for XES (entity-expansion and external-entity
attacks refused; SAX keeps memory to one trace's attributes).
"""

from __future__ import annotations

import codecs
import csv
import functools
import os
from dataclasses import dataclass
from typing import Any, BinaryIO, Iterable, Iterator

from ..errors import InputError
from ..events import bracket_depths, open_binary, too_deep_reason
from ..limits import DEFAULT, Limits

@dataclass(frozen=True)
class Note:
    """What a reader learns about the export itself that may make findings wrong (a changelog or a page of
    a paged response cut short): a warning, not a record."""

    text: str


RawRecord = tuple[dict[str, Any] | str | Note, int, str | None]


# --------------------------------------------------------------------------- CSV

DELIMITERS = (",", ";", "\t", "|")
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


class _Lines:
    """Decode a byte stream line by line, remembering which lines could not be decoded.

    UTF-8 (the default) and single-byte encodings such as cp1252 are decoded a line at a time, so a bad line
    is one rejected row; UTF-16 (found by its byte-order mark, or named) is decoded as a stream, since its
    line ends are two bytes.
    """

    def __init__(self, fh: BinaryIO, encoding: str, display: str, max_bytes: tuple[str, int] | None = None):
        self._fh = fh
        self.encoding = encoding
        self.display = display
        self.max_bytes = max_bytes  # (limit name, bytes): the file may hold no more
        self.read = 0
        self.number = 0
        self.ended = False  # the last line has been read
        self.bad: set[int] = set()
        self._text = None if codecs.lookup(encoding).name != "utf-16" else \
            codecs.getreader(encoding)(fh, "replace")
        self._pending: list[str] = []

    def __iter__(self) -> "_Lines":
        return self

    def __next__(self) -> str:
        if self._pending:
            self.number += 1
            return self._pending.pop()
        if self._text is not None:
            text = self._text.readline()
            if not text:
                self.ended = True
                raise StopIteration
            self._count(len(text) * 2)
            if "\ufffd" in text:
                self.bad.add(self.number)
            return text
        raw = self._fh.readline()
        if not raw:
            self.ended = True
            raise StopIteration
        self._count(len(raw))
        try:
            return raw.decode(self.encoding)
        except UnicodeDecodeError:
            self.bad.add(self.number)
            return raw.decode(self.encoding, "replace")

    def _count(self, size: int) -> None:
        self.number += 1
        self.read += size
        if self.max_bytes is not None and self.read > self.max_bytes[1]:
            name, limit = self.max_bytes
            raise InputError(f"{self.display}: larger than {limit} bytes (limit {name})")

    def push_back(self, line: str) -> None:
        """Give a line back (read to sniff the delimiter): the next read returns it again."""
        self.number -= 1
        self._pending.append(line)


def _encoding(fh: BinaryIO, given: str | None, display: str) -> str:
    """The file's encoding: its byte-order mark, else the one given (--encoding), else UTF-8. A byte-order
    mark is read past."""
    head = fh.peek(4)[:4] if hasattr(fh, "peek") else b""
    for bom, name in _BOMS:
        if head.startswith(bom):
            if given and codecs.lookup(given).name not in (name, codecs.lookup(name).name, "utf-8-sig"):
                raise InputError(f"{display}: starts with a {name.upper()} byte-order mark, but --encoding "
                                 f"says {given}")
            if name == "utf-8":
                fh.read(len(bom))
            return name  # the utf-16 codec reads its own mark
    return given or "utf-8"


def sniff_delimiter(header: str) -> str:
    """The delimiter of a CSV header line: the most frequent of , ; TAB | outside quotes (comma on a tie or
    when none occurs: a one-column file)."""
    counts = dict.fromkeys(DELIMITERS, 0)
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        elif not quoted and ch in counts:
            counts[ch] += 1
    best = max(DELIMITERS, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def read_csv(path: str, display: str, limits: Limits = DEFAULT, delimiter: str | None = None,
             encoding: str | None = None, size_limit: str | None = None) -> Iterator[RawRecord]:
    """Rows of a CSV file with a header row; a row's line is where it starts (quoted fields may span lines).

    The encoding is the file's byte-order mark (UTF-8, UTF-16), else ``encoding``, else UTF-8; the delimiter
    is ``delimiter``, else an Excel ``sep=X`` first line, else sniffed from the header (, ; TAB |). A field
    is bounded by line-bytes, the whole file by the limit ``size_limit`` names, if any. A quote that is
    never closed stops the reading (:class:`InputError`): the rows after it cannot be told apart.
    The native core reads the rows after the header the same way itself where it can
    (:mod:`sopengine.adapters.native_csv`).
    """
    csv.field_size_limit(limits.line_bytes)  # the csv module's own setting (process-wide); set before each file
    fh = open_binary(path, display, limits.gzip_ratio)
    size = (size_limit, getattr(limits, size_limit.replace("-", "_"))) if size_limit else None
    try:
        head = _csv_head(fh, display, delimiter, encoding, size)
        if head is None:
            return
        lines, reader, header = head
        width = len(header)
        start = lines.number + 1
        while True:
            try:
                row = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                # An open quote that swallowed the lines after its row (to the end, or past the field limit):
                # the rows after it cannot be told apart. On the last line it loses that row alone.
                if lines.number > start and (lines.ended or "field limit" in str(exc)):
                    raise InputError(unclosed_quote(display, start, lines.number, lines.ended,
                                                    limits.line_bytes)) from None
                yield f"malformed CSV: {exc}" + (" (a quote opened in this row is never closed)" if lines.ended
                                                 else ""), start, None
                start = lines.number + 1
                continue
            line, start = start, lines.number + 1
            if not row or row == [""]:
                continue
            if any(n in lines.bad for n in range(line, start)):
                yield undecodable_reason(lines.encoding), line, None
                continue
            if len(row) != width:
                yield csv_width_reason(len(row), width), line, None
                continue
            yield {k: v for k, v in zip(header, row) if v != ""}, line, None
    except OSError as exc:
        raise InputError(f"{display}: read failed ({exc})") from None
    finally:
        if path != "-":
            fh.close()


def _csv_head(fh: BinaryIO, display: str, delimiter: str | None, encoding: str | None,
              size: tuple[str, int] | None) -> tuple[_Lines, Any, list[str]] | None:
    """The file's lines, its csv reader and its header (stripped), read up to the header's end; None for a file
    without a header. Raises :class:`InputError` for a header that cannot be read."""
    try:
        lines = _Lines(fh, _encoding(fh, encoding, display), display, size)
    except LookupError:
        raise InputError(f"--encoding: unknown encoding {encoding!r}") from None
    first = next(lines, None)
    if first is None:
        return None
    if not delimiter and first.strip().lower().startswith("sep=") and len(first.strip()) == 5:
        delimiter, first = first.strip()[4], next(lines, "")
    lines.push_back(first)
    reader = csv.reader(lines, strict=True, delimiter=delimiter or sniff_delimiter(first))
    try:
        header = next(reader)
    except StopIteration:
        return None
    except csv.Error as exc:
        raise InputError(f"{display}:{lines.number}: cannot read the CSV header: {exc}") from None
    if lines.bad:
        raise InputError(f"{display}:{lines.number}: the header is {undecodable_reason(lines.encoding)}")
    return lines, reader, [h.strip() for h in header]


@dataclass(frozen=True)
class CsvHead:
    """How a UTF-8 CSV file's rows are read after its header: what the native core needs to read them itself."""

    header: tuple[str, ...]  # stripped, as read_csv keys its records
    delimiter: str
    lines: int  # the lines read up to the header's end (an Excel sep= line, the header's own): the rows follow


def csv_head(path: str, limits: Limits = DEFAULT, delimiter: str | None = None) -> CsvHead | None:
    """The header of a CSV file as :func:`read_csv` reads it, when the file is UTF-8 (no byte-order mark other
    than UTF-8's) and its header reads; else None (and :func:`read_csv` says what is wrong with it)."""
    csv.field_size_limit(limits.line_bytes)
    try:
        fh = open_binary(path, path, limits.gzip_ratio)
    except InputError:
        return None
    try:
        head = _csv_head(fh, path, delimiter, None, None)
        if head is None or head[0].encoding != "utf-8":
            return None
        lines, reader, header = head
        return CsvHead(tuple(header), reader.dialect.delimiter, lines.number)
    except (InputError, OSError):
        return None
    finally:
        fh.close()


def csv_width_reason(got: int, width: int) -> str:
    """Why a CSV row is rejected: it has another number of fields than its header."""
    return f"row has {got} fields; the header has {width}"


def csv_malformed_reason(kind: str, delimiter: str, limit: int, ended: bool) -> str:
    """Why a CSV row is rejected where the csv module (strict) stops reading it, in that module's own words:
    ``kind`` is ``quote`` (text after a closing quote), ``newline`` (a carriage return inside an unquoted
    field), ``eof`` (a quote never closed) or ``limit`` (a field longer than ``limit`` characters); ``ended``:
    the file ended inside the row."""
    return f"malformed CSV: {_csv_error(kind, delimiter, limit)}" + \
        (" (a quote opened in this row is never closed)" if ended else "")


@functools.lru_cache(maxsize=64)
def _csv_error(kind: str, delimiter: str, limit: int) -> str:
    """The csv module's message for one kind of fault, got by showing it a row with that fault."""
    rows = {"quote": '"a"b', "newline": "a\rb", "eof": '"a', "limit": "ab"}[kind]
    saved = csv.field_size_limit(1 if kind == "limit" else limit)
    try:
        list(csv.reader([rows], strict=True, delimiter=delimiter))
    except csv.Error as exc:
        return str(exc).replace("(1)", f"({limit})") if kind == "limit" else str(exc)
    finally:
        csv.field_size_limit(saved)
    raise ValueError(f"the csv module reads a row of kind {kind!r}")


def unclosed_quote(display: str, start: int, end: int, ended: bool, limit: int) -> str:
    """A quoted field that swallows the lines after it: where it starts (``start``), the line it was read to
    (``end``: the file's last when ``ended``), and how much of the file it takes."""
    span = end - start + 1
    if ended:
        return (f"{display}:{start}: a quoted field opened in this row is never closed: lines {start}-{end}"
                f" ({span} lines, to the end of the file) would be one field, so they are not audited; close "
                "the quote (a quote inside a field is written twice: \"\")")
    return (f"{display}:{start}: a quoted field opened in this row runs over {span} lines and past {limit} bytes "
            "(limit line-bytes) without closing: a quote that is never closed? The rows after it cannot be told "
            "apart, so the file is not audited")


def undecodable_reason(encoding: str) -> str:
    hint = " (an export from Excel or an older tool may be Windows-1252: --encoding cp1252)"
    return f"not valid {encoding.upper()}" + (hint if encoding == "utf-8" else "")


# --------------------------------------------------------------------------- Parquet

def read_parquet(path: str, display: str, limits: Limits = DEFAULT) -> Iterator[RawRecord]:
    """Rows of a Parquet file, a batch at a time; the 'line' is the row number (1-based)."""
    try:
        import pyarrow.parquet as pq  # optional extra: pip install 'sopengine[parquet]'
    except ImportError:
        raise InputError(f"{display}: reading Parquet needs pyarrow: pip install 'sopengine[parquet]'") from None
    try:
        pf = pq.ParquetFile(path)
        number = 0
        for batch in pf.iter_batches(batch_size=8192):
            for row in batch.to_pylist():
                number += 1
                yield {k: v for k, v in row.items() if v is not None}, number, None
    except (OSError, ValueError) as exc:  # pyarrow.ArrowInvalid is a ValueError
        raise InputError(f"{display}: not a readable Parquet file ({exc})") from None


# --------------------------------------------------------------------------- JSON

class TooDeep(Exception):
    """A JSON document nests deeper than its limit."""


class Nesting:
    """A JSON byte stream whose nesting is followed as it is read, raising :class:`TooDeep` past ``limit``.

    A parser that names where it is (ijson's prefixes) spends memory quadratic in the depth of what it
    reads; this stops a deep document before the parser gets to it, a chunk at a time, at C speed
    (:func:`sopengine.events.bracket_depths`). The chunk that goes too deep is handed over up to the
    bracket that does, so the records before it are read; the next read raises.
    """

    def __init__(self, fh: BinaryIO, limit: int):
        self._fh = fh
        self.limit = limit
        self.depth = 0
        self._in_string = False
        self._held = b""  # a backslash that escapes the first byte of the next chunk
        self._too_deep = False

    def read(self, size: int = -1) -> bytes:
        if self._too_deep:
            raise TooDeep()
        data = self._fh.read(size)
        chunk = self._held + data
        run = len(chunk) - len(chunk.rstrip(b"\\"))
        held = chunk[-1:] if run % 2 and data else b""
        chunk = chunk[:len(chunk) - len(held)]
        deepest, depth, in_string = bracket_depths(chunk, self.depth, self._in_string)
        if deepest > self.limit:
            self._too_deep = True
            return data[:self._cut(chunk) - len(self._held)]
        self.depth, self._in_string, self._held = depth, in_string, held
        return data

    def _cut(self, chunk: bytes) -> int:
        """Where in ``chunk`` the nesting first goes past the limit (byte by byte: once per document)."""
        depth, in_string, escaped = self.depth, self._in_string, False
        for at, byte in enumerate(chunk):
            if in_string:
                if escaped:
                    escaped = False
                elif byte == 0x5C:  # backslash
                    escaped = True
                elif byte == 0x22:
                    in_string = False
            elif byte == 0x22:
                in_string = True
            elif byte in (0x5B, 0x7B):
                depth += 1
                if depth > self.limit:
                    return at
            elif byte in (0x5D, 0x7D):
                depth -= 1
        return len(chunk)


def _json_prefix(path: str, containers: tuple[str, ...], limits: Limits) -> str:
    """Where the records are: 'item' (a top-level array), 'KEY.item' (e.g. a REST response's records),
    or '' (one object, or JSON Lines of objects)."""
    import ijson

    fh = open_binary(path, path, limits.gzip_ratio)
    try:
        depth = 0
        for prefix, event, value in ijson.parse(Nesting(fh, limits.json_depth + 2), multiple_values=True):
            if depth == 0 and event == "start_array":
                return "item"
            if event in ("start_map", "start_array"):
                depth += 1
            elif event in ("end_map", "end_array"):
                depth -= 1
                if depth == 0:
                    return ""
            elif depth == 1 and event == "map_key" and value in containers:
                return f"{value}.item"
        return ""
    except (ijson.JSONError, TooDeep):
        return ""  # reported with its position by the reader
    finally:
        if path != "-":
            fh.close()


def _json_values(path: str, display: str, containers: tuple[str, ...], limits: Limits,
                 top: dict[str, Any] | None = None) -> Iterator[tuple[Any, int, str | None]]:
    """(value, record number, None), then (None, n, why) if the file breaks off: the rest cannot be read.

    ``top`` receives the top-level scalars of a response (``total``, ``isLast``: wherever they are in the file,
    so it is complete once the values are). The document may nest json-depth levels below its records'
    container (a response's array in an object).
    """
    import ijson

    prefix = _json_prefix(path, containers, limits) if path != "-" else ""
    fh = open_binary(path, display, limits.gzip_ratio)
    guarded = Nesting(fh, limits.json_depth + 2)
    number = 0
    source: Any = guarded if top is None else \
        _top_scalars(ijson.parse(guarded, multiple_values=True, use_float=True), top)
    try:
        for value in ijson.items(source, prefix, multiple_values=True, use_float=True):
            number += 1
            yield value, number, None
    except ijson.JSONError as exc:
        yield None, number + 1, f"not valid JSON after record {number}; the rest of the file cannot be read ({exc})"
    except TooDeep:
        yield None, number + 1, (f"after record {number}: {too_deep_reason(limits.json_depth)}; the rest of the "
                                 "file cannot be read")
    except OSError as exc:
        raise InputError(f"{display}: read failed ({exc})") from None
    finally:
        if path != "-":
            fh.close()


def _top_scalars(events: Iterable[tuple[str, str, Any]], top: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    for prefix, event, value in events:
        if prefix and "." not in prefix and event in ("string", "number", "boolean", "null"):
            top[prefix] = value
        yield prefix, event, value


def read_json(path: str, display: str, limits: Limits = DEFAULT) -> Iterator[RawRecord]:
    """Objects of a JSON array, of a REST response's ``records``, or JSON Lines; the 'line' is the record number.

    A Salesforce query response that says ``done: false`` (or holds fewer records than its ``totalSize``) is
    one page of the answer: a :class:`Note` says so, as the cases of the other pages are not audited."""
    top: dict[str, Any] = {}
    number = 0
    for value, number, error in _json_values(path, display, ("records", "events", "items", "data"), limits, top):
        if error is not None:
            yield error, number, None
        elif isinstance(value, dict):
            attributes = value.get("attributes")
            yield value, number, attributes.get("type") if isinstance(attributes, dict) else None
        else:
            yield f"expected a JSON object, got {type(value).__name__}", number, None
    total = top.get("totalSize")
    total = int(total) if isinstance(total, (int, float)) and not isinstance(total, bool) else None
    if (total is not None and number < total) or top.get("done") is False:
        what = f"{number} of {total} records" if total is not None and number < total \
            else f"{number} records and says done: false"
        yield Note(f"this is one page of a query response: it holds {what}; the other pages are not in this "
                   "export, so their records are not audited: fetch every page (nextRecordsUrl) or export "
                   "with Data Loader or Bulk API"), 0, None


def read_jira(path: str, display: str, limits: Limits = DEFAULT, initial: tuple[str, ...] = ()
              ) -> Iterator[RawRecord]:
    """Records of Jira issues (a search response's ``issues``, an array, one issue, or JSON Lines).

    Per issue: one record of kind ``issue`` (the issue as exported, plus ``first_change``: the first changelog
    item of each field, by field id and by lower-case field name, whose ``from`` side is the field's value at
    creation), one of kind ``initial`` per field of ``initial`` filled at creation (see :func:`_initial`), one
    of kind ``change`` per changelog item (the item's fields plus ``key``, ``history``, ``created`` and
    ``author`` of its history), one of kind ``comment`` per comment (the comment plus ``key``). The 'line'
    is the issue's number in the file. A changelog, comment list or search response holding fewer entries
    than its ``total`` is a :class:`Note`: the rest is not in the export.
    """
    top: dict[str, Any] = {}
    number = 0
    for value, number, error in _json_values(path, display, ("issues",), limits, top):
        if error is not None:
            yield error, number, None
            continue
        if not isinstance(value, dict):
            yield f"expected a Jira issue object, got {type(value).__name__}", number, None
            continue
        key = value.get("key")
        if not isinstance(key, str) or not key:
            yield "a Jira issue needs a 'key'", number, None
            continue
        changelog = value.get("changelog") or {}
        histories = changelog.get("histories") if isinstance(changelog, dict) else None
        histories = histories if isinstance(histories, list) else []
        first = _first_changes(histories)
        yield {**value, "first_change": first}, number, "issue"
        fields: dict[str, Any] = value["fields"] if isinstance(value.get("fields"), dict) else {}
        for name in initial:
            record = _initial(key, name, fields, first)
            if record is not None:
                yield record, number, "initial"
        gap = _short(changelog, len(histories))
        if gap:
            yield Note(f"issue {key}: its changelog holds {gap} changes; the others are not in this "
                       f"export, so its events (and values at creation) may be wrong: merge the pages of "
                       f"/rest/api/3/issue/{key}/changelog into the issue"), number, None
        for h in histories:
            if not isinstance(h, dict) or not isinstance(h.get("items"), list):
                yield f"issue {key}: a changelog history without items", number, None
                continue
            head = {"key": key, "history": h.get("id"), "created": h.get("created"), "author": h.get("author")}
            for i, item in enumerate(h["items"]):
                if isinstance(item, dict):
                    yield {**item, **head, "item": i}, number, "change"
                else:
                    yield f"issue {key}: changelog item {i} of history {h.get('id')} is not an object", number, None
        comment = fields.get("comment")
        comments = comment.get("comments") if isinstance(comment, dict) else comment
        comments = comments if isinstance(comments, list) else []
        for c in comments:
            if isinstance(c, dict):
                yield {**c, "key": key}, number, "comment"
            else:
                yield f"issue {key}: a comment is not an object", number, None
        gap = _short(comment, len(comments))
        if gap:
            yield Note(f"issue {key}: its comment field holds {gap} comments; the others are not in this "
                       f"export: merge the pages of /rest/api/3/issue/{key}/comment into the issue"), number, None
        for field_id, value in fields.items():
            if isinstance(value, dict) and ("completedCycles" in value or "ongoingCycle" in value):
                yield from ((cycle, number, "sla") for cycle in _sla_cycles(key, field_id, value))
    page = _short(top, number, "issues")
    if page or top.get("isLast") is False:
        what = page or f"{number} issues and says isLast: false"
        yield Note(f"this is one page of a search response: it holds {what}; the other pages are not in this "
                   "export, so their tickets are not audited: fetch every page (startAt or nextPageToken)"), 0, None


def _sla_cycles(key: str, field_id: str, sla: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """Records of kind ``sla``: each cycle of a Jira Service Management SLA field (completed ones, then the
    ongoing one), as exported plus ``key``, ``field``, ``name``, ``cycle`` (its number), ``ongoing``, and its
    times as RFC 3339 UTC text from their ``epochMillis`` (``start``, ``stop``, ``target``: the breach time) and
    durations in seconds (``goal``, ``elapsed``): JSM's own ``iso8601`` writes offsets without a colon."""
    def when(t: Any) -> str | None:
        millis = t.get("epochMillis") if isinstance(t, dict) else None
        if not isinstance(millis, (int, float)) or isinstance(millis, bool):
            return None
        from ..timeutil import format_time
        return format_time(millis / 1000)

    def seconds(d: Any) -> float | None:
        millis = d.get("millis") if isinstance(d, dict) else None
        return millis / 1000 if isinstance(millis, (int, float)) and not isinstance(millis, bool) else None

    completed = sla.get("completedCycles")
    done: list[Any] = completed if isinstance(completed, list) else []
    ongoing = [sla["ongoingCycle"]] if isinstance(sla.get("ongoingCycle"), dict) else []
    for i, cycle in enumerate([*done, *ongoing]):
        if not isinstance(cycle, dict):
            continue
        yield {**cycle, "key": key, "field": field_id, "name": sla.get("name"), "cycle": i,
               "ongoing": i >= len(done), "start": when(cycle.get("startTime")), "stop": when(cycle.get("stopTime")),
               "target": when(cycle.get("breachTime")), "goal": seconds(cycle.get("goalDuration")),
               "elapsed": seconds(cycle.get("elapsedTime"))}


def _short(page: Any, held: int, what: str = "") -> str:
    """'N of TOTAL' (from startAt S) when a paged list holds fewer entries than its total, else ''."""
    if not isinstance(page, dict):
        return ""
    total, start = page.get("total"), page.get("startAt") or 0
    if not isinstance(total, (int, float)) or isinstance(total, bool) or not isinstance(start, (int, float)):
        return ""
    if held >= total and not start:
        return ""
    return f"{held} of {int(total)}{' ' + what if what else ''}" + (f" (from number {int(start) + 1})" if start else "")


def _first_changes(histories: list[Any]) -> dict[str, Any]:
    """The first changelog item of each field, by the time of its history (ties: as listed): keyed by field id
    (Cloud) and by lower-case field name. Histories with a time that does not parse are left out here."""
    from ..timeutil import TimeFormatError, parse_time

    dated = []
    for order, h in enumerate(histories):
        if isinstance(h, dict) and isinstance(h.get("items"), list):
            try:
                dated.append((parse_time(h.get("created")), order, h))
            except TimeFormatError:
                continue
    first: dict[str, Any] = {}
    for _, _, h in sorted(dated, key=lambda x: (x[0], x[1])):
        for item in h["items"]:
            if not isinstance(item, dict):
                continue
            for name in (item.get("fieldId"), item.get("field")):
                if isinstance(name, str) and name:
                    first.setdefault(name if name == item.get("fieldId") else name.lower(), item)
    return first


def _initial(key: str, name: str, fields: dict[str, Any], first: dict[str, Any]) -> dict[str, Any] | None:
    """A field's value at creation: the ``from`` side of its first change (``changed`` true: ``from``,
    ``fromString``, ``tmpFromAccountId``), else its current value (``changed`` false: ``value``); None when
    it was empty at creation (Jira writes nothing for an empty field either)."""
    head = {"key": key, "field": name, "created": fields.get("created"), "author": fields.get("creator")}
    item = first.get(name) or first.get(name.lower())
    if item is not None:
        side = {k: item.get(k) for k in ("from", "fromString", "tmpFromAccountId")}
        return {**head, **side, "changed": True} if any(v not in (None, "") for v in side.values()) else None
    current = fields.get(name)
    return {**head, "value": current, "changed": False} if current not in (None, "", [], {}) else None


# --------------------------------------------------------------------------- XES

_XES_TYPES = {"string", "date", "int", "float", "boolean", "id", "list", "container"}


def _xes_value(tag: str, raw: str | None) -> Any:
    if raw is None:
        return None
    if tag == "int":
        return int(raw)
    if tag == "float":
        return float(raw)
    if tag == "boolean":
        return raw.strip().lower() == "true"
    return raw


def xes_value_reason(key: str | None, value: str, tag: str) -> str:
    """Why an XES event is rejected: an attribute of type ``tag`` (int, float) whose text is not of it."""
    return f"attribute {key!r}: {value!r} is not a valid {tag}"


def xes_malformed_reason(message: str) -> str:
    """Why XES is rejected from where it stops being well-formed (``message``: the XML parser's words)."""
    return f"not well-formed XES ({message}); the rest of the file cannot be read"


def xes_refused_reason(refusal: object) -> str:
    """Why an XES file declaring entities (or an external document type) is refused (defusedxml's words)."""
    return f"refused: {refusal}; XES input may not declare entities or DTDs"


def read_xes(path: str, display: str, limits: Limits = DEFAULT) -> Iterator[RawRecord]:
    """One record per XES event: its attributes, plus the trace's attributes under ``trace``.

    Streaming (SAX, fed in 64 KB chunks): memory holds one trace's attributes and
    the events of the chunk being parsed. Lists become lists of their values;
    event-scope ``<global>`` values fill attributes an event lacks. The 'line'
    is where the event starts. (Lists nest as deep as the file does; the event is refused past json-depth.)
    The native core reads XES the same way itself where it can (:mod:`sopengine.adapters.native_xes`).
    """
    from xml.sax import SAXParseException
    from xml.sax.expatreader import ExpatLocator
    from xml.sax.handler import ContentHandler

    import defusedxml.sax
    from defusedxml import DefusedXmlException

    out: list[RawRecord] = []

    class Handler(ContentHandler):
        def __init__(self) -> None:
            super().__init__()
            self.stack: list[str] = []  # element local names
            self.trace: dict[str, Any] | None = None
            self.event: dict[str, Any] | None = None
            self.event_line = 0
            self.lists: list[tuple[str, list[Any]]] = []  # open <list> attributes
            self.globals_event: dict[str, Any] = {}
            self.in_global: str | None = None
            self.attr_depth = 0  # depth inside a (non-list) attribute: nested meta-attributes are ignored
            self.locator: Any = None

        def startElement(self, name: str, attrs: Any) -> None:  # noqa: N802 - SAX API
            local = name.rsplit(":", 1)[-1] if name.startswith("xes:") else name
            parent = self.stack[-1] if self.stack else None
            self.stack.append(local)
            if local == "trace":
                self.trace = {}
                return
            if local == "event":
                self.event = {}
                self.event_line = self.locator.getLineNumber() if self.locator is not None else 0
                return
            if local == "global":
                self.in_global = attrs.get("scope", "event")
                return
            if local not in _XES_TYPES or local == "container":
                return
            key = attrs.get("key")
            if self.attr_depth and not (self.lists and parent == "values"):
                self.attr_depth += 1
                return
            try:
                value = [] if local == "list" else _xes_value(local, attrs.get("value"))
            except ValueError:
                value = attrs.get("value")
                if self.event is not None:
                    self.event.setdefault("__bad__", xes_value_reason(key, value, local))
            if self.lists and parent == "values":
                self.lists[-1][1].append(value)
                if local == "list":
                    self.lists.append((key, value))
                else:
                    self.attr_depth += 1
                return
            if local == "list":
                self.lists.append((key, value))
            else:
                self.attr_depth += 1
            if key is None:
                return
            if self.in_global is not None:
                if self.in_global == "event":
                    self.globals_event[key] = value
            elif self.event is not None:
                self.event[key] = value
            elif self.trace is not None:
                self.trace[key] = value

        def endElement(self, name: str) -> None:  # noqa: N802 - SAX API
            local = self.stack.pop() if self.stack else name
            if local == "list" and self.lists:
                self.lists.pop()
                return
            if local in _XES_TYPES and self.attr_depth:
                self.attr_depth -= 1
                return
            if local == "global":
                self.in_global = None
            elif local == "event" and self.event is not None:
                event = self.event
                self.event = None
                bad = event.pop("__bad__", None)
                if bad:
                    out.append((str(bad), self.event_line, None))
                    return
                for k, v in self.globals_event.items():
                    event.setdefault(k, v)
                if self.trace is not None:
                    event["trace"] = dict(self.trace)
                out.append((event, self.event_line, "event"))
            elif local == "trace":
                self.trace = None

    handler = Handler()
    parser = defusedxml.sax.make_parser()
    parser.setContentHandler(handler)
    handler.locator = ExpatLocator(parser)  # feed() (unlike parse()) sets no document locator
    fh = open_binary(path, display, limits.gzip_ratio)
    try:
        while True:
            chunk = fh.read(65536)
            if not chunk:
                parser.close()
                yield from out
                break
            parser.feed(chunk)
            yield from out
            out.clear()
    except SAXParseException as exc:
        yield from out
        yield xes_malformed_reason(exc.getMessage()), exc.getLineNumber() or 0, None
    except DefusedXmlException as exc:
        yield from out
        yield xes_refused_reason(exc), 1, None
    except OSError as exc:
        raise InputError(f"{display}: read failed ({exc})") from None
    finally:
        if path != "-":
            fh.close()


def container_of(path: str) -> str:
    """The container format by file extension (``.gz`` looked through): csv, parquet, json, xes, ocel (``.jsonocel``,
    ``.sqlite``) or jsonl."""
    name = os.path.basename(path).lower()
    if name.endswith(".gz"):
        name = name[:-3]
    for ext, fmt in ((".csv", "csv"), (".parquet", "parquet"), (".pq", "parquet"), (".json", "json"),
                     (".xes", "xes"), (".jsonocel", "ocel"), (".sqlite", "ocel"), (".sqlite3", "ocel")):
        if name.endswith(ext):
            return fmt
    return "jsonl"
