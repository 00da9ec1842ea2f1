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

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping as MappingT

from .._yaml import YamlDocument, load_yaml_file
from ..errors import Code, Diagnostic, Location, PackError
from ..expr import Expr, Scope, compile_expr, get_path
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
    by: str
    parts: tuple[str, ...]
    window: int = 1000


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
class Mapping:
    """A compiled input mapping."""

    name: str
    file: str
    reader: str
    sources: tuple[Source, ...]
    tables: MappingT[str, MappingT[str, Any]] = field(default_factory=dict)
    description: str = ""

    def lookups(self) -> Lookups:
        return Lookups(self.tables, frozenset(s.name for s in self.sources if s.key))

    def source_for(self, record: dict[str, Any], kind: str | None) -> Source | None:
        for source in self.sources:
            if source.matches(record, kind):
                return source
        return None

    def apply(self, source: Source, record: dict[str, Any], runtime: Lookups) -> dict[str, Any] | Skip | str:
        """The canonical event object of a record, a Skip, or why it cannot be mapped.

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

    @staticmethod
    def _build(source: Source, fields: Fields, record: dict[str, Any], runtime: Lookups) -> dict[str, Any] | str:
        out: dict[str, Any] = {}
        try:
            for key, value in fields.values.items():
                out[key] = value.get(record, runtime)
            data: dict[str, Any] = {}
            if fields.rest:
                for k, v in record.items():
                    if k not in fields.used and not isinstance(v, dict):
                        data[k] = v
            for key, value in fields.data.items():
                data[key] = value.get(record, runtime)
        except Deferred:
            raise
        except Exception as exc:  # noqa: BLE001
            return f"{source.name}: a value could not be computed: {exc}"
        if "time" in out:
            out["time"] = _time_text(out["time"])
        for key in ("case", "id", "actor"):
            if isinstance(out.get(key), (int, float)) and not isinstance(out.get(key), bool):
                out[key] = str(out[key])  # numeric ids in an export (CSV numbers, Parquet ints) are ids
        out["data"] = {k: _time_text(v) for k, v in data.items()}
        return out


# --------------------------------------------------------------------------- loading

class _Compiler:
    def __init__(self, doc: YamlDocument, tables: frozenset[str], limits: Limits):
        self.doc = doc
        self.limits = limits
        self.scope = Scope(record=True, tables=tables)
        self.problems: list[Diagnostic] = []

    def value(self, raw: Any, path: tuple[str | int, ...]) -> Value | None:
        if isinstance(raw, str):
            return Value(path=raw)
        if "value" in raw:
            return Value(const=raw["value"])
        expr, problem = compile_expr(raw["expr"], self.scope, self.doc.loc(path + ("expr",)), self.limits)
        if problem:
            self.problems.append(problem)
            return None
        return Value(expr=expr)

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
            when, problem = compile_expr(raw["when"], self.scope, self.doc.loc(path + ("when",)), self.limits)
            if problem:
                self.problems.append(problem)
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
        merge = raw.get("merge")
        return Source(raw["name"], tuple(match.get("columns") or ()), match.get("kind"), raw.get("key"),
                      tuple(raw["keep"]) if raw.get("keep") else None,
                      MergeSpec(tuple(merge["key"]), merge["by"], tuple(merge["parts"]), merge.get("window", 1000))
                      if merge else None, rules)


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
    if comp.problems:
        raise PackError(comp.problems)
    return Mapping(data["mapping"], shown, data.get("reader", "records"), sources, tables,
                   data.get("description", ""))


class Merger:
    """Merges the rows of one change written as several parts (see the schema's ``merge``).

    Only rows still waiting for their other parts are held, and none longer than
    ``window`` further rows (the parts of one change are written together, so
    exports keep them close): memory stays bounded whatever the file's size.
    """

    def __init__(self, spec: MergeSpec):
        self.spec = spec
        self._waiting: dict[tuple[Any, ...], tuple[dict[str, dict[str, Any]], int, list[int]]] = {}
        self._born: dict[tuple[Any, ...], int] = {}
        self._n = 0

    def push(self, record: dict[str, Any], line: int) -> list[tuple[dict[str, Any], int, list[int]]]:
        """Records ready to map: (record, line of its first row, lines folded into it)."""
        spec = self.spec
        self._n += 1
        ready = self._expire()
        part = record.get(spec.by)
        if part not in spec.parts:
            return ready + [(record, line, [])]
        key = tuple(get_path(record, k) for k in spec.key)
        parts, first, folded = self._waiting.pop(key) if key in self._waiting else ({}, line, [])
        self._born.pop(key, None)
        if part in parts:  # the same part again: the earlier group is complete as it is
            ready.append((self._merged(parts), first, folded))
            parts, first, folded = {}, line, []
        if parts:
            folded.append(line)
        parts[str(part)] = record
        if len(parts) == len(spec.parts):
            ready.append((self._merged(parts), first, folded))
        else:
            self._waiting[key] = (parts, first, folded)
            self._born[key] = self._n
        return ready

    def _expire(self) -> list[tuple[dict[str, Any], int, list[int]]]:
        out = []
        while self._born:
            key, born = next(iter(self._born.items()))
            if self._n - born <= self.spec.window:
                break
            del self._born[key]
            parts, first, folded = self._waiting.pop(key)
            out.append((self._merged(parts), first, folded))
        return out

    def flush(self) -> list[tuple[dict[str, Any], int, list[int]]]:
        out = [(self._merged(parts), first, folded) for parts, first, folded in self._waiting.values()]
        self._waiting.clear()
        self._born.clear()
        return out

    def _merged(self, parts: dict[str, dict[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name in self.spec.parts:
            if name in parts:
                out.update(parts[name])
        for name, record in parts.items():
            for k, v in record.items():
                out[f"{name}.{k}"] = v
        return out
