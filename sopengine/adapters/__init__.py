"""Input formats: every export becomes canonical events (SPEC §2) with the same rejected accounting.

``jsonl`` (the canonical format) and ``json`` (canonical events in an array)
need no mapping. Every other input goes through an input mapping
(:mod:`.mapping`): ``csv`` and ``parquet`` use a column mapping (by default
columns named case, time, type, actor, id; the rest become data), ``xes`` the
XES standard attributes, and a named format such as ``salesforce`` or ``jira``
is a ``NAME.input.yaml`` mapping shipped beside the pack. ``--mapping FILE``
replaces the default mapping of any of them.

Every record read is an event, a rejected record (file, line, reason) or a
record the mapping skipped on purpose (counted by reason): nothing is lost.

On the native engine the core reads JSON Lines, and XES and CSV whose mapping
is made of field paths and constants (:mod:`.native_xes` and :mod:`.native_csv`
decide), itself; these readers are then the reference it is tested against.
"""

from __future__ import annotations

import codecs
import dataclasses
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator
from typing import Mapping as MappingT

from .._resources import bundled_pack_dir
from ..errors import InputError, UsageError, did_you_mean
from ..limits import DEFAULT, Limits
from ..events import (InputWarning, LineCounter, Record, Rejected, Select, Skipped, event_from_obj, read_jsonl)
from ..model import EventType, Pack
from ..pack import walk_yaml
from ..expr import get_path
from .mapping import MAPPING_SUFFIXES, Deferred, Lookups, Mapping, Merger, Skip, Source, TimeReading, load_mapping
from .readers import (DELIMITERS, Note, RawRecord, container_of, read_csv, read_jira, read_json, read_parquet,
                      read_xes)

_HERE = Path(__file__).resolve().parent
BUILTIN_FORMATS = ("auto", "jsonl", "json", "csv", "parquet", "xes", "ocel")
_DEFAULT_MAPPINGS = {"csv": "columns", "parquet": "columns", "xes": "xes", "ocel": "ocel"}
_READER_CONTAINERS = ("xes", "ocel")  # mappings whose reader is one of these read that container

Reader = Callable[[str, str], Iterator[RawRecord]]
_CONTAINERS: dict[str, Callable[..., Iterator[RawRecord]]] = {"csv": read_csv, "parquet": read_parquet, "json": read_json,
                                  "jsonl": read_json, "xes": read_xes}


@dataclass(frozen=True)
class InputSpec:
    """How to read the logs: ``format`` (auto by extension, a built-in format or a pack mapping's name)
    and an optional mapping file that replaces the format's default mapping."""

    format: str = "auto"
    mapping: str | None = None
    pack_dirs: tuple[str, ...] = ()  # where NAME.input.yaml mappings are looked for (default: the bundled pack)
    limits: Limits = DEFAULT  # line-bytes bounds a JSON Lines line and a CSV field; sop-file-bytes a mapping file
    csv_delimiter: str | None = None  # None: an Excel sep= line, else sniffed from the header (, ; TAB |)
    encoding: str | None = None  # CSV: None is the byte-order mark's (UTF-8, UTF-16), else UTF-8
    time_format: str | None = None  # strptime format of the times of mapped records (e.g. %d/%m/%Y %H:%M)
    timezone: str | None = None  # IANA zone of mapped records' times written without an offset
    facts: MappingT[str, Any] | None = dataclasses.field(default=None, compare=False, repr=False)  # identities
    lenient_data: bool = False  # keep events whose data breaks the pack's declaration, noted (sopengine.datacheck)
    cases_complete: bool = False  # a finished log: every case ended at its last event (sopengine.judging.judge)
    case_type: str | None = None  # OCEL: the object type whose objects are the cases (sopengine.adapters.ocel)

    def __post_init__(self) -> None:
        if self.csv_delimiter is not None and self.csv_delimiter not in DELIMITERS:
            raise UsageError(f"--csv-delimiter: {self.csv_delimiter!r} is not one of , ; | tab")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise UsageError(f"--encoding: unknown encoding {self.encoding!r} (e.g. utf-8, utf-16, cp1252)") \
                    from None
        self.times()  # an unknown time zone is a usage error now

    def with_facts(self, facts: MappingT[str, Any]) -> "InputSpec":
        """This spec with the facts a mapping's ``identities`` read names from."""
        return dataclasses.replace(self, facts=facts)

    def times(self) -> TimeReading | None:
        if self.time_format is None and self.timezone is None:
            return None
        return TimeReading(self.time_format, self.timezone)


def mapping_files(dirs: Iterable[str | os.PathLike[str]]) -> dict[str, Path]:
    """Input mappings shipped beside a pack: name -> file (``NAME.input.yaml``)."""
    found: dict[str, Path] = {}
    for raw in dirs:
        path = Path(raw)
        candidates = [path] if path.is_file() else walk_yaml(path) if path.is_dir() else []
        for p in candidates:
            for suffix in MAPPING_SUFFIXES:
                if p.name.endswith(suffix):
                    found.setdefault(p.name[: -len(suffix)], p)
    return found


def available_formats(spec: InputSpec) -> list[str]:
    return list(BUILTIN_FORMATS) + sorted(mapping_files(_pack_dirs(spec)))


def _pack_dirs(spec: InputSpec) -> list[str | os.PathLike[str]]:
    dirs: list[str | os.PathLike[str]] = []
    for d in spec.pack_dirs:
        dirs.append(d if Path(d).is_dir() else Path(d).parent)
    return dirs or [bundled_pack_dir()]


class _Plan:
    """What each file is: its container, and the mapping (None: canonical events)."""

    def __init__(self, spec: InputSpec):
        self.spec = spec
        self._mappings: dict[str, Mapping] = {}
        self._named = mapping_files(_pack_dirs(spec))
        fmt = spec.format
        if fmt not in BUILTIN_FORMATS and fmt not in self._named:
            raise UsageError(f"--input-format: unknown format {fmt!r}{did_you_mean(fmt, available_formats(spec))}; "
                             f"choose from {', '.join(available_formats(spec))}")
        self.override = self._load(spec.mapping) if spec.mapping else None

    def _load(self, path: str | os.PathLike[str]) -> Mapping:
        key = os.fspath(path)
        if key not in self._mappings:
            if not Path(key).is_file():
                raise UsageError(f"mapping file {key} not found")
            mapping = load_mapping(key, _display(key), self.spec.limits)
            aliases = mapping.identities.aliases(self.spec.facts) if mapping.identities and self.spec.facts else None
            self._mappings[key] = dataclasses.replace(mapping, times=self.spec.times(), aliases=aliases)
        return self._mappings[key]

    def chosen(self) -> Mapping | None:
        """The mapping --mapping or a named --input-format chose, if any."""
        return self.override or (self._load(self._named[self.spec.format]) if self.spec.format in self._named
                                 else None)

    def for_file(self, path: str) -> tuple[str, Mapping | None]:
        fmt = self.spec.format
        container = container_of(path) if path != "-" else "jsonl"
        if fmt in self._named:
            mapping = self.override or self._load(self._named[fmt])
            if mapping.reader in _READER_CONTAINERS:
                container = mapping.reader
            return container, mapping
        if fmt not in ("auto",):
            container = fmt
        if self.override is not None:
            return (self.override.reader if self.override.reader in _READER_CONTAINERS else container), \
                self.override
        if container in _DEFAULT_MAPPINGS:
            return container, self._load(_HERE / f"{_DEFAULT_MAPPINGS[container]}.input.yaml")
        return container, None


def plain_jsonl(paths: Iterable[str | os.PathLike[str]], spec: InputSpec) -> bool:
    """Every input is a JSON Lines file (plain or .gz) read as canonical events, none of them stdin."""
    plan = _Plan(spec)
    return all(os.fspath(p) != "-" and plan.for_file(os.fspath(p)) == ("jsonl", None) for p in paths)


def _display(path: str | os.PathLike[str]) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return os.fspath(path)


def read_inputs(pack: Pack, paths: Iterable[str | os.PathLike[str]], spec: InputSpec,
                counter: LineCounter | None = None, select: Select | None = None) -> Iterator[Record]:
    """Events, rejected and skipped records of every input, in input order.

    ``counter`` numbers the records across files (an event's ``seq``); ``select``
    keeps only a worker's share (see :mod:`sopengine.parallel`).
    """
    plan = _Plan(spec)
    types = pack.known_types
    depth = spec.limits.json_depth
    counter = counter if counter is not None else LineCounter()
    lookups: dict[int, Lookups] = {}
    deferred: list[tuple[Mapping, Source, dict[str, Any], str, int, int, tuple[str, ...]]] = []
    for raw in paths:
        path = os.fspath(raw)
        container, mapping = plan.for_file(path)
        if container == "jsonl" and mapping is None:
            yield from read_jsonl(path, types, display=path, type_names=lambda: list(types), counter=counter,
                                  select=select, limits=spec.limits)
            continue
        if mapping is None:
            yield from _canonical(path, types, counter, select, spec.limits)
        else:
            runtime = lookups.setdefault(id(mapping), mapping.lookups())
            read = _reader_for(container, mapping, spec)
            yield from _mapped(mapping, runtime, read, path, types, counter, select, deferred, depth)
        _account_bytes(path, counter)
    for mapping, source, record, display, line, _, notes in deferred:
        counter.lines += 1  # a new place in the input order: after everything read
        seq = counter.lines
        yield from _finish(mapping, source, record, lookups[id(mapping)], display, line, seq, types, select,
                           final=True, notes=notes, depth=depth)


def _account_bytes(path: str, counter: LineCounter) -> None:
    try:
        counter.bytes += os.path.getsize(path) if path != "-" else 0
    except OSError:
        pass
    counter.report()


def _canonical(path: str, types: Any, counter: LineCounter, select: Select | None, limits: Limits
               ) -> Iterator[Record]:
    for rec, line, _kind in read_json(path, path, limits):
        if isinstance(rec, Note):  # a page of a query response: said once, by the first worker
            if select is None or select(None, counter.lines):
                yield InputWarning(path, line, rec.text)
            continue
        counter.lines += 1
        seq = counter.lines
        if isinstance(rec, str):
            if select is None or select(None, seq):
                yield Rejected(path, line, rec)
            continue
        yield from _checked(rec, path, line, seq, types, select, depth=limits.json_depth)


def _mapped(mapping: Mapping, runtime: Lookups, read: Reader, path: str, types: Any, counter: LineCounter,
            select: Select | None, deferred: list[Any], depth: int) -> Iterator[Record]:
    mergers: dict[str, Merger] = {}

    def mine(seq: int) -> bool:
        return select is None or select(None, seq)

    def ready(source: Source, record: dict[str, Any], line: int, folded: list[int], seq: int,
              missing: tuple[str, ...] = ()) -> Iterator[Record]:
        for n in folded:
            counter.lines += 1
            if mine(counter.lines):
                yield Skipped(path, n, f"{source.name}: merged into the event of its other row(s)")
        notes = (_unpaired(source, record, missing),) if missing else ()
        yield from _finish(mapping, source, record, runtime, path, line, seq, types, select, deferred=deferred,
                           notes=notes, depth=depth)

    for rec, line, kind in read(path, path):
        if isinstance(rec, Note):  # no record: this worker's share by the record read before it
            if mine(counter.lines):
                yield InputWarning(path, line, rec.text)
            continue
        if isinstance(rec, str):
            counter.lines += 1
            if mine(counter.lines):
                yield Rejected(path, line, rec)
            continue
        rec = mapping.canonical(rec)
        source = mapping.source_for(rec, kind)
        if source is None:
            counter.lines += 1
            if mine(counter.lines):
                yield _unmatched(mapping, rec, path, line)
            continue
        runtime.remember(source, rec)
        if source.merge is None:
            counter.lines += 1
            yield from ready(source, rec, line, [], counter.lines)
            continue
        merger = mergers.setdefault(source.name, Merger(source.merge, runtime))
        for merged, first, folded, missing in merger.push(rec, line):
            counter.lines += 1
            yield from ready(source, merged, first, folded, counter.lines, missing)
    for name, merger in mergers.items():
        source = next(s for s in mapping.sources if s.name == name)
        for merged, first, folded, missing in merger.flush():
            counter.lines += 1
            yield from ready(source, merged, first, folded, counter.lines, missing)


def _unpaired(source: Source, record: dict[str, Any], missing: tuple[str, ...]) -> str:
    spec = source.merge
    assert spec is not None
    key = ", ".join(f"{k}={get_path(record, k)!r}" for k in spec.key)
    have = [p for p in spec.parts if p not in missing]
    return (f"{source.name}: a change written as {' and '.join(spec.parts)} rows has no {' or '.join(missing)} "
            f"row ({key}); its event is made from the {' and '.join(have)} row alone")


def _unmatched(mapping: Mapping, record: dict[str, Any], display: str, line: int) -> Rejected:
    names = ", ".join(s.name for s in mapping.sources)
    return Rejected(display, line, f"the record matches no source of the mapping '{mapping.name}' "
                                   f"({names}); its fields: {', '.join(sorted(record)[:12])}")


def map_record(mapping: Mapping, record: dict[str, Any], display: str, line: int, seq: int,
               types: Any, depth: int = DEFAULT.json_depth) -> Iterator[Record]:
    """One record through a mapping whose records stand alone (no keyed sources to look up, no merging),
    as the default ``columns`` mapping: for engines that read the records themselves (Spark)."""
    record = mapping.canonical(record)
    source = mapping.source_for(record, None)
    if source is None:
        yield _unmatched(mapping, record, display, line)
        return
    yield from _finish(mapping, source, record, mapping.lookups(), display, line, seq, types, None, final=True,
                       depth=depth)


def read_facts_csv(path: str, collection: str, spec: InputSpec, fields: MappingT[str, str] | None = None
                   ) -> list[dict[str, Any]]:
    """The records of one facts collection in a CSV file (a Data Loader export of User, say).

    The input mapping in use (``--input-format NAME`` or ``--mapping``) may say how its columns become the
    collection's fields (its ``facts`` section); otherwise the columns are the fields, those named as a field
    the pack declares (``fields``: name -> type) in any case taking its spelling. Declared booleans and
    numbers are converted from text, lists split on ';'. Facts are reference data: any row that cannot be
    read stops the command with its file and line.
    """
    mapping = _Plan(spec).chosen()
    through = mapping if mapping is not None and collection in mapping.facts else None
    runtime = through.lookups() if through is not None else Lookups({}, frozenset())
    declared = dict(fields or {})
    spelling = {name.lower(): name for name in (*declared, "id")}
    display = path  # as the operator named it, as YAML facts files are
    out = []
    for rec, line, _ in read_csv(path, display, spec.limits, spec.csv_delimiter, spec.encoding,
                                 size_limit="facts-file-bytes"):
        where = f"{display}:{line}"
        if not isinstance(rec, dict):
            raise InputError(f"{where}: {rec}")
        if through is not None:
            rec = through.canonical(rec)
            try:
                record = {k: v.get(rec, runtime) for k, v in through.facts[collection].items()}
            except Exception as exc:  # noqa: BLE001 - a value that cannot be computed names its row
                raise InputError(f"{where}: a '{collection}' field could not be computed: {exc}") from None
        else:
            record = {spelling.get(k.lower(), k): v for k, v in rec.items()}
        record = {k: _fact_value(v, declared.get(k), f"{where}: '{collection}' field '{k}'")
                  for k, v in record.items() if v is not None and v != ""}
        if "id" not in record:
            raise InputError(f"{where}: a '{collection}' record needs an id (a column named Id, or the mapping's "
                             f"facts.{collection}.id)")
        record["id"] = str(record["id"])
        out.append(record)
    return out


def _fact_value(value: Any, kind: str | None, what: str) -> Any:
    try:
        return _from_text(value, kind)
    except ValueError as exc:
        raise InputError(f"{what}: {exc}") from None


def _from_text(value: Any, kind: str | None) -> Any:
    """Text (a CSV cell) as the declared type: booleans from true/false/1/0/yes/no, numbers, lists split on
    ';'; other values and types as they are. Raises ValueError saying what the text is not."""
    if not isinstance(value, str):
        return value
    if kind == "boolean":
        low = value.strip().lower()
        if low not in ("true", "false", "1", "0", "yes", "no"):
            raise ValueError(f"{value!r} is not true or false")
        return low in ("true", "1", "yes")
    if kind == "number":
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{value!r} is not a number") from None
        return int(number) if number.is_integer() and "." not in value else number
    if kind == "list":
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


def _typed(event: dict[str, Any], types: MappingT[str, EventType]) -> None:
    """A mapped record's text values of data fields its event type declares as booleans, numbers or lists,
    converted as :func:`_from_text` does (a CSV export holds only text). Text that is no such value stays, and
    the event is refused for it with the declaration (:mod:`sopengine.datacheck`)."""
    etype, data = event.get("type"), event.get("data")
    declared = types.get(etype) if isinstance(etype, str) else None
    if declared is None or not isinstance(data, dict):
        return
    for name, value in data.items():
        spec = declared.fields.get(name)
        if isinstance(value, str) and spec is not None and spec.type in ("boolean", "number", "list"):
            try:
                data[name] = _from_text(value, spec.type)
            except ValueError:
                pass


def default_mapping(container: str) -> Mapping:
    """The mapping a container format is read with when none is given (csv, parquet: columns; xes)."""
    return load_mapping(_HERE / f"{_DEFAULT_MAPPINGS[container]}.input.yaml")


def _reader_for(container: str, mapping: Mapping, spec: InputSpec) -> Reader:
    limits = spec.limits
    if mapping.reader == "jira":
        return partial(read_jira, limits=limits, initial=mapping.initial)
    if mapping.reader == "xes":
        return partial(read_xes, limits=limits)
    if mapping.reader == "ocel":
        from .ocel import read_ocel

        return partial(read_ocel, limits=limits, case_type=spec.case_type)
    if container == "csv":
        return partial(read_csv, limits=limits, delimiter=spec.csv_delimiter, encoding=spec.encoding)
    reader = _CONTAINERS.get(container)
    if reader is None:
        raise UsageError(f"the mapping '{mapping.name}' reads records; {container} is not a record format")
    return partial(reader, limits=limits)


def _finish(mapping: Mapping, source: Source, record: dict[str, Any], runtime: Lookups, display: str, line: int,
            seq: int, types: Any, select: Select | None, deferred: list[Any] | None = None,
            final: bool = False, notes: tuple[str, ...] = (), depth: int = DEFAULT.json_depth) -> Iterator[Record]:
    """Map one record and check the result as any event is checked; ``notes`` are warnings about the record,
    reported with it (by the worker whose share it is)."""
    try:
        obj = mapping.apply(source, record, runtime)
    except Deferred as exc:
        if not final and deferred is not None:
            deferred.append((mapping, source, record, display, line, seq, notes))
            return
        obj = f"{source.name}: {exc}"
    if isinstance(obj, (Skip, str)):
        if select is None or select(None, seq):
            yield Skipped(display, line, obj.reason) if isinstance(obj, Skip) else Rejected(display, line, obj)
            yield from (InputWarning(display, line, note) for note in notes)
        return
    event, more = obj
    _typed(event, types)
    yield from _checked(event, display, line, seq, types, select, f"{source.name}: ", notes + more, depth)


def _checked(obj: dict[str, Any], display: str, line: int, seq: int, types: Any, select: Select | None,
             prefix: str = "", notes: tuple[str, ...] = (), depth: int = DEFAULT.json_depth) -> Iterator[Record]:
    """This worker's share of one event object, checked as any event is (SPEC §2), with its warnings."""
    if select is not None and not select(obj, seq):
        return
    result = event_from_obj(obj, f"{display}:{line}", types, seq, lambda: list(types),
                            (display, line), depth)
    yield Rejected(display, line, prefix + result) if isinstance(result, str) else result
    yield from (InputWarning(display, line, note) for note in notes)


__all__ = ["InputSpec", "available_formats", "default_mapping", "load_mapping", "map_record", "mapping_files",
           "read_facts_csv", "read_inputs", "Mapping"]
