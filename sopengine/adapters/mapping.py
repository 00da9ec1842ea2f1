"""Input mappings: how the records of an export become canonical events.

A mapping is YAML (``schemas/input-mapping.schema.json``), so that a user maps
their own export, and a pack ships mappings for the systems its SOPs run on
(``sops/*.input.yaml``), without Python. A record belongs to the first source
whose ``match`` it meets; the first rule of that source whose ``when`` holds
makes one event (or skips the record, counted under its reason). Values are a
field name or dotted path, a constant, or an expression of the pack's
expression language with ``row.FIELD``, ``field('path')`` and ``lookup()``.
"""

from __future__ import annotations

import ast
import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping as MappingT

from .._yaml import YamlDocument, load_yaml_file
from ..errors import Code, Diagnostic, Location, PackError
from ..expr import _KW_SUFFIX, Expr, Scope, compile_expr, get_path
from ..limits import DEFAULT, Limits
from ..pack import MAPPING_SUFFIXES
from ..schema import check

INPUT_MAPPING = "input-mapping.schema.json"
__all__ = ["MAPPING_SUFFIXES", "Mapping", "load_mapping"]
EVENT_KEYS = ("id", "case", "time", "type", "actor")


class Deferred(Exception):
    """A lookup into a source table whose record has not been read yet; the record is retried at the end."""

    def __init__(self, table: str, key: Any):
        super().__init__(f"no {table} record with key {key!r}")
        self.table = table
        self.key = key


@dataclass(frozen=True)
class Skip:
    """A record a mapping rule deliberately does not turn into an event."""

    reason: str


@dataclass(frozen=True)
class Value:
    """One value of an event: a field path, a constant or an expression."""

    path: str | None = None
    const: Any = None
    expr: Expr | None = None

    def get(self, record: dict[str, Any], runtime: "Lookups") -> Any:
        if self.path is not None:
            return get_path(record, self.path)
        if self.expr is not None:
            return self.expr.fn(record, None, None, None, runtime)
        return self.const


@dataclass(frozen=True)
class Fields:
    values: MappingT[str, Value]  # id, case, time, type, actor
    data: MappingT[str, Value]
    rest: bool
    used: frozenset[str]  # top-level record fields named by the values (left out of `rest`)


@dataclass(frozen=True)
class Rule:
    when: Expr | None
    skip: str | None
    fields: Fields


@dataclass(frozen=True)
class MergeSpec:
    key: tuple[str, ...]
    by: "str | Value"  # the field naming a row's part, or a value computing it (null: the row is no part)
    parts: tuple[str, ...]
    window: int = 1000

    def part_of(self, record: dict[str, Any], runtime: "Lookups | None") -> Any:
        if isinstance(self.by, str):
            return record.get(self.by)
        try:
            return self.by.get(record, runtime) if runtime is not None else None
        except Exception:  # noqa: BLE001 - a row the expression cannot classify is no part; its rule maps it
            return None


@dataclass(frozen=True)
class Source:
    name: str
    columns: tuple[str, ...]
    kind: str | None
    key: str | None
    keep: tuple[str, ...] | None
    merge: MergeSpec | None
    rules: tuple[Rule, ...]

    def matches(self, record: dict[str, Any], kind: str | None) -> bool:
        if self.kind is not None and self.kind != kind:
            return False
        return all(c in record for c in self.columns)


class Lookups:
    """The ``R`` of mapping expressions: static tables and the tables sources build as they are read."""

    def __init__(self, static: MappingT[str, MappingT[str, Any]], source_tables: frozenset[str]):
        self.static = static
        self.tables: dict[str, dict[str, Any]] = {name: {} for name in source_tables}

    def lookup(self, table: str, key: Any, fld: str | None = None) -> Any:
        if key is None or key == "":
            return None
        if table in self.static:
            entry = self.static[table].get(str(key))
            return get_path(entry, fld) if fld is not None and isinstance(entry, dict) else entry
        record = self.tables[table].get(str(key))
        if record is None:
            raise Deferred(table, key)
        return record if fld is None else get_path(record, fld)

    def remember(self, source: Source, record: dict[str, Any]) -> None:
        if source.key is None:
            return
        key = get_path(record, source.key)
        if key is None or key == "":
            return
        kept = record if source.keep is None else {k: get_path(record, k) for k in source.keep}
        self.tables[source.name][str(key)] = kept


def _time_text(value: Any) -> Any:
    if isinstance(value, _dt.datetime):
        return value.isoformat()  # naive stays naive, and is rejected as having no offset
    return value


@dataclass(frozen=True)
class TimeReading:
    """How an export writes its times when not as RFC 3339 with an offset (--time-format, --timezone).

    ``format`` is a strptime format (``%d/%m/%Y %H:%M`` for a report's ``27/11/2026 14:05``); ``zone`` an
    IANA time zone for times without an offset (local times). A local time that a clock change skipped is
    refused; one it repeated takes its first (earlier) offset.
    """

    format: str | None = None
    zone: str | None = None

    def __post_init__(self) -> None:
        if self.zone is not None:
            self._tz()  # an unknown name fails now, as a usage error, not on every row

    def _tz(self) -> _dt.tzinfo:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        from ..errors import UsageError

        try:
            return ZoneInfo(self.zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            raise UsageError(f"--timezone: unknown time zone {self.zone!r} (an IANA name such as "
                             "Europe/Berlin or America/New_York)") from None

    def convert(self, value: Any) -> Any:
        """The time as RFC 3339 with its offset; raises ValueError saying why it cannot be."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if self.format is not None:
            try:
                when = _dt.datetime.strptime(text, self.format)
            except ValueError:
                raise ValueError(f"time {text!r} does not match --time-format {self.format!r}") from None
        else:
            try:
                when = _dt.datetime.fromisoformat(text)
            except ValueError:
                return value  # refused by the event check, in its own words
        if when.tzinfo is not None:
            return when.isoformat()
        if self.zone is None:
            raise ValueError(f"time {text!r} has no offset: give --timezone (the zone the export's times are in)")
        tz = self._tz()
        local = when.replace(tzinfo=tz)
        if local.astimezone(_dt.timezone.utc).astimezone(tz).replace(tzinfo=None) != when:
            raise ValueError(f"time {text!r} does not exist in {self.zone} (the clocks went forward then)")
        return local.isoformat()


@dataclass(frozen=True)
class Identities:
    """One person under several names (an email here, an account id there): facts records of ``collection``
    list the names under ``keys``; the event keys and data fields in ``fields`` are rewritten to the record's
    id at read time."""

    collection: str
    keys: tuple[str, ...]
    fields: tuple[str, ...]

    def aliases(self, facts: MappingT[str, Any]) -> dict[str, str]:
        """Name (lower case) -> the id of the one record it names; raises InputError on a name two share."""
        from ..errors import InputError

        out: dict[str, str] = {}
        records = facts.get(self.collection) or []
        for rec in records.values() if isinstance(records, MappingT) else records:
            if not isinstance(rec, MappingT) or "id" not in rec:
                continue
            rid = str(rec["id"])
            for key in ("id", *self.keys):
                names = rec.get(key)
                for name in names if isinstance(names, list) else [names]:
                    if not isinstance(name, (str, int)) or name == "":
                        continue
                    low = str(name).lower()
                    if out.setdefault(low, rid) != rid:
                        raise InputError(f"facts '{self.collection}': {name!r} names both {out[low]!r} and "
                                         f"{rid!r}; an identity may belong to one record only")
        return out


@dataclass(frozen=True)
class Mapping:
    """A compiled input mapping."""

    name: str
    file: str
    reader: str
    sources: tuple[Source, ...]
    tables: MappingT[str, MappingT[str, Any]] = field(default_factory=dict)
    description: str = ""
    names: MappingT[str, str] | None = None  # case-insensitive mappings: lower-case name -> the mapping's spelling
    initial: tuple[str, ...] = ()  # reader jira: fields whose value at creation is a record of kind 'initial'
    times: TimeReading | None = None  # how the export writes times (--time-format, --timezone)
    facts: MappingT[str, MappingT[str, Value]] = field(default_factory=dict)  # collection -> field -> value
    identities: Identities | None = None
    aliases: MappingT[str, str] | None = None  # the identities' names in the facts of this run (lower case) -> id

    def canonical(self, record: dict[str, Any]) -> dict[str, Any]:
        """The record with its top-level field names spelt as the mapping spells them, when the mapping's
        field names are case-insensitive (``ID``, ``CaseNumber`` and ``casenumber`` are one field)."""
        if self.names is None:
            return record
        return {self.spelt(k) if isinstance(k, str) else k: v for k, v in record.items()}

    def spelt(self, name: str) -> str:
        """A record field's name as the mapping spells it (:meth:`canonical`)."""
        return name if self.names is None else self.names.get(name.lower(), name)

    def lookups(self) -> Lookups:
        return Lookups(self.tables, frozenset(s.name for s in self.sources if s.key))

    def source_for(self, record: dict[str, Any], kind: str | None) -> Source | None:
        for source in self.sources:
            if source.matches(record, kind):
                return source
        return None

    def apply(self, source: Source, record: dict[str, Any], runtime: Lookups
              ) -> tuple[dict[str, Any], tuple[str, ...]] | Skip | str:
        """The canonical event object of a record with warnings about it, a Skip, or why it cannot be mapped.

        Raises :class:`Deferred` when a lookup needs a record not read yet.
        """
        for rule in source.rules:
            try:
                if rule.when is not None and not rule.when.fn(record, None, None, None, runtime):
                    continue
            except Deferred:
                raise
            except Exception as exc:  # noqa: BLE001 - a record of an unexpected shape is rejected, not fatal
                return f"{source.name}: condition {rule.when.text if rule.when else ''!r} failed: {exc}"
            if rule.skip is not None:
                return Skip(f"{source.name}: {rule.skip}")
            return self._build(source, rule.fields, record, runtime)
        return f"{source.name}: no rule of the mapping '{self.name}' takes this record"

    def _build(self, source: Source, fields: Fields, record: dict[str, Any], runtime: Lookups
               ) -> tuple[dict[str, Any], tuple[str, ...]] | str:
        out: dict[str, Any] = {}
        notes: list[str] = []
        try:
            for key, value in fields.values.items():
                out[key] = value.get(record, runtime)
            data: dict[str, Any] = {}
            if fields.rest:
                for k, v in record.items():
                    if k not in fields.used and not isinstance(v, dict):
                        data[k] = v
            for key, value in fields.data.items():
                got = value.get(record, runtime)
                if _structured(got):
                    notes.append(f"{source.name}: data field '{key}' would be {_shape(got)}, not a value; left "
                                 f"out (map one field of it, e.g. {_example(value, got)})")
                    continue
                data[key] = got
        except Deferred:
            raise
        except Exception as exc:  # noqa: BLE001
            return f"{source.name}: a value could not be computed: {exc}"
        if "time" in out:
            out["time"] = _time_text(out["time"])
            if self.times is not None:
                try:
                    out["time"] = self.times.convert(out["time"])
                except ValueError as exc:
                    return f"{source.name}: {exc}"
        for key in ("case", "id", "actor"):
            if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
                out[key] = str(out[key])  # numeric ids in an export (CSV numbers, Parquet ints) are ids
        if self.aliases and self.identities is not None:
            for name in self.identities.fields:
                where = out if name in EVENT_KEYS else data
                if name in where:
                    where[name] = _same_person(where[name], self.aliases)
        out["data"] = {k: _time_text(v) for k, v in data.items()}
        return out, tuple(notes)


def _same_person(value: Any, aliases: MappingT[str, str]) -> Any:
    if isinstance(value, list):
        return [_same_person(v, aliases) for v in value]
    return aliases.get(value.lower(), value) if isinstance(value, str) else value


def _structured(value: Any) -> bool:
    """An object, or a list holding one: what an export's structured field (a Jira option, a user) maps to when
    the mapping names the field rather than one of its values."""
    return isinstance(value, dict) or (isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value))


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return f"an object with {', '.join(sorted(map(str, value))[:6])}"
    inner = next(v for v in value if isinstance(v, (dict, list)))
    return f"a list of objects with {', '.join(sorted(map(str, inner))[:6])}" if isinstance(inner, dict) \
        else "a list of lists"


def _example(value: Value, got: Any) -> str:
    sample = got if isinstance(got, dict) else next((v for v in got if isinstance(v, dict)), {})
    name = "value" if "value" in sample else "name" if "name" in sample else next(iter(sample), "value")
    if value.path is not None and isinstance(got, dict):
        return f"{value.path}.{name}"
    what = f"field('{value.path}')" if value.path is not None else "..."
    return f"pluck({what}, '{name}')"


# --------------------------------------------------------------------------- loading

class _Compiler:
    def __init__(self, doc: YamlDocument, tables: frozenset[str], limits: Limits):
        self.doc = doc
        self.limits = limits
        self.scope = Scope(record=True, tables=tables)
        self.problems: list[Diagnostic] = []
        self.names: set[str] = set()  # the record fields the mapping names (for case-insensitive matching)

    def name(self, path: str) -> str:
        self.names.update((path, path.split(".")[0]))
        return path

    def expr(self, text: Any, loc: tuple[str | int, ...]) -> Expr | None:
        expr, problem = compile_expr(text, self.scope, self.doc.loc(loc), self.limits)
        if problem:
            self.problems.append(problem)
            return None
        assert expr is not None
        for node in ast.walk(expr.tree) if expr.tree is not None else ():  # row.FIELD and field('path')
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "row":
                self.name(node.attr.removesuffix(_KW_SUFFIX))
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "field"
                  and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
                self.name(node.args[0].value)
        return expr

    def value(self, raw: Any, path: tuple[str | int, ...]) -> Value | None:
        if isinstance(raw, str):
            return Value(path=self.name(raw))
        if "value" in raw:
            return Value(const=raw["value"])
        expr = self.expr(raw["expr"], path + ("expr",))
        return Value(expr=expr) if expr is not None else None

    def fields(self, raw: MappingT[str, Any], base: Fields | None, path: tuple[str | int, ...]) -> Fields:
        values = dict(base.values) if base else {}
        data = dict(base.data) if base else {}
        rest = base.rest if base else False
        for key in EVENT_KEYS:
            if key in raw:
                v = self.value(raw[key], path + (key,))
                if v is not None:
                    values[key] = v
        for name, rawv in (raw.get("data") or {}).items():
            v = self.value(rawv, path + ("data", name))
            if v is not None:
                data[name] = v
        rest = raw.get("rest", rest)
        paths = [v.path for v in (*values.values(), *data.values()) if v.path]
        return Fields(values, data, rest, frozenset(paths) | frozenset(p.split(".")[0] for p in paths))

    def rule(self, raw: MappingT[str, Any], base: Fields, path: tuple[str | int, ...]) -> Rule:
        when = None
        if "when" in raw and raw["when"] is not True:
            when = self.expr(raw["when"], path + ("when",))
        event_raw = dict(raw.get("event") or {})
        if "type" in raw:
            event_raw["type"] = raw["type"]
        fields = self.fields(event_raw, base, path + ("event",))
        if raw.get("skip") is None:
            missing = [k for k in ("case", "time", "type") if k not in fields.values]
            if missing:
                self.problems.append(Diagnostic(
                    Code.SCHEMA, f"this rule gives no {', '.join(missing)} (set it here or in the source's defaults)",
                    self.doc.loc(path)))
        return Rule(when, raw.get("skip"), fields)

    def source(self, raw: MappingT[str, Any], path: tuple[str | int, ...]) -> Source:
        base = self.fields(raw.get("defaults") or {}, None, path + ("defaults",))
        rules = tuple(self.rule(r, base, path + ("rules", i)) for i, r in enumerate(raw["rules"]))
        match = raw.get("match") or {}
        for name in (*match.get("columns", ()), raw.get("key") or "", *raw.get("keep", ())):
            self.name(name)
        merge = raw.get("merge")
        spec = None
        if merge:
            by = self.name(merge["by"]) if isinstance(merge["by"], str) else \
                self.value(merge["by"], path + ("merge", "by"))
            spec = MergeSpec(tuple(map(self.name, merge["key"])), by or "", tuple(merge["parts"]),
                             merge.get("window", 1000))
        return Source(raw["name"], tuple(match.get("columns") or ()), match.get("kind"), raw.get("key"),
                      tuple(raw["keep"]) if raw.get("keep") else None, spec, rules)


def load_mapping(path: str | Path, display: str | None = None, limits: Limits = DEFAULT) -> Mapping:
    """Load, check and compile a mapping file; raises PackError listing every problem with file:line."""
    shown = display or str(path)
    doc, problems = load_yaml_file(Path(path), shown, limits)
    if doc is None or problems:
        raise PackError(problems or [Diagnostic(Code.FILE_UNREADABLE, "cannot read", Location(shown))])
    problems = check(doc, INPUT_MAPPING)
    if problems:
        raise PackError(problems)
    data = doc.data
    names = [s["name"] for s in data["sources"]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise PackError([Diagnostic(Code.DUPLICATE_ID, f"source name '{dupes[0]}' is used twice", doc.loc(("sources",)))])
    tables = {str(k): {str(kk): vv for kk, vv in v.items()} for k, v in (data.get("tables") or {}).items()}
    clash = set(tables) & {s["name"] for s in data["sources"] if s.get("key")}
    if clash:
        raise PackError([Diagnostic(Code.DUPLICATE_ID, f"'{sorted(clash)[0]}' is both a table and a keyed source",
                                    doc.loc(("tables",)))])
    comp = _Compiler(doc, frozenset(tables) | frozenset(s["name"] for s in data["sources"] if s.get("key")), limits)
    sources = tuple(comp.source(s, ("sources", i)) for i, s in enumerate(data["sources"]))
    facts = {str(name): {str(k): v for k, raw in (values or {}).items()
                         if (v := comp.value(raw, ("facts", name, k))) is not None}
             for name, values in (data.get("facts") or {}).items()}
    if comp.problems:
        raise PackError(comp.problems)
    spelling = {n.lower(): n for n in sorted(comp.names) if n} if data.get("case_insensitive") else None
    return Mapping(data["mapping"], shown, data.get("reader", "records"), sources, tables,
                   data.get("description", ""), spelling, tuple(data.get("initial") or ()), facts=facts,
                   identities=_identities(data.get("identities")))


def _identities(raw: Any) -> Identities | None:
    if not raw:
        return None
    return Identities(raw["facts"], tuple(raw.get("keys") or ()), tuple(raw["fields"]))


Merged = tuple[dict[str, Any], int, list[int], tuple[str, ...]]  # record, first line, lines folded, parts missing


class Merger:
    """Merges the rows of one change written as several parts (see the schema's ``merge``).

    Only rows still waiting for their other parts are held, and none longer than
    ``window`` further rows (the parts of one change are written together, so
    exports keep them close): memory stays bounded whatever the file's size. A
    group released without all its parts says which are missing (the caller
    warns: its event is mapped from the parts it has).
    """

    def __init__(self, spec: MergeSpec, runtime: Lookups | None = None):
        self.spec = spec
        self.runtime = runtime
        self._waiting: dict[tuple[Any, ...], tuple[dict[str, dict[str, Any]], int, list[int]]] = {}
        self._born: dict[tuple[Any, ...], int] = {}
        self._n = 0

    def push(self, record: dict[str, Any], line: int) -> list[Merged]:
        """Records ready to map: (record, line of its first row, lines folded into it, parts missing)."""
        spec = self.spec
        self._n += 1
        ready = self._expire()
        part = spec.part_of(record, self.runtime)
        if part not in spec.parts:
            return ready + [(record, line, [], ())]
        key = tuple(get_path(record, k) for k in spec.key)
        parts, first, folded = self._waiting.pop(key) if key in self._waiting else ({}, line, [])
        self._born.pop(key, None)
        if part in parts:  # the same part again: the earlier group gets no more, and is released as it is
            ready.append(self._merged(parts, first, folded))
            parts, first, folded = {}, line, []
        if parts:
            folded.append(line)
        parts[str(part)] = record
        if len(parts) == len(spec.parts):
            ready.append(self._merged(parts, first, folded))
        else:
            self._waiting[key] = (parts, first, folded)
            self._born[key] = self._n
        return ready

    def _expire(self) -> list[Merged]:
        out = []
        while self._born:
            key, born = next(iter(self._born.items()))
            if self._n - born <= self.spec.window:
                break
            del self._born[key]
            out.append(self._merged(*self._waiting.pop(key)))
        return out

    def flush(self) -> list[Merged]:
        out = [self._merged(parts, first, folded) for parts, first, folded in self._waiting.values()]
        self._waiting.clear()
        self._born.clear()
        return out

    def _merged(self, parts: dict[str, dict[str, Any]], first: int, folded: list[int]) -> Merged:
        out: dict[str, Any] = {}
        for name in self.spec.parts:
            if name in parts:
                out.update(parts[name])
        for name, record in parts.items():
            for k, v in record.items():
                out[f"{name}.{k}"] = v
        return out, first, folded, tuple(p for p in self.spec.parts if p not in parts)
