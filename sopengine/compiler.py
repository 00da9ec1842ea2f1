"""Compile stage: checked documents -> an immutable :class:`~sopengine.model.Pack`.

The compiler runs as a tuple of small named stages that each add diagnostics
to a shared sink (up to a limit) rather than stopping at the first problem:
declarations are collected across files, parameters resolved, state and
indexes compiled, then rules. Every name in a rule is resolved here, so the
evaluator never meets an unknown event type, field, state variable or
parameter.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timezone
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping

from . import calendars as cal
from ._yaml import YamlDocument
from .calendars import AROUND_THE_CLOCK, Calendar, CalendarRef
from .errors import Code, DiagnosticSink, Location, did_you_mean
from .expr import Expr, Scope, Template, compile_expr, compile_template, pattern_problem
from .limits import DEFAULT, Limits
from .kinds import KINDS
from .model import (
    CaseLink, Conflict, Effective, EventType, FactCollection, FieldSpec, Index, Match, Pack, Param, Rule, Sop, Source,
    StateUpdate, StateVar, Suppression, Reconcile,
)
from .rulebase import UNDECLARED, Completion, rule_key
from .timeutil import parse_duration, parse_time
from .typecheck import STATE_KINDS, UNKNOWN, Names, Ty, field_type, update_problem


ANY = "any"  # on: any (every declared event type); the schema refuses it as an event type's name


@dataclass
class _Work:
    """Everything the stages share while compiling one pack."""

    docs: list[YamlDocument]
    overrides: Mapping[str, str]
    sink: DiagnosticSink
    limits: Limits = DEFAULT
    name: str = "pack"
    version: str | None = None
    report: dict[str, Any] = field(default_factory=dict)
    report_doc: YamlDocument | None = None
    columns: dict[str, Expr] = field(default_factory=dict)
    accountable: Expr | None = None
    complete_doc: YamlDocument | None = None  # the file whose pack section says when a case is complete
    reconcile_doc: YamlDocument | None = None  # the file whose pack section says how to reconcile SLA verdicts
    reconcile: Reconcile | None = None
    complete_when: Expr | None = None
    complete_idle: float | None = None
    open_vocabulary: bool = False  # pack.vocabulary: open
    links: list[CaseLink] = field(default_factory=list)
    events: dict[str, EventType] = field(default_factory=dict)
    param_specs: dict[str, Param] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)
    facts: dict[str, FactCollection] = field(default_factory=dict)
    state_raw: dict[str, tuple[YamlDocument, dict[str, Any]]] = field(default_factory=dict)
    state: list[StateVar] = field(default_factory=list)
    indexes: dict[str, Index] = field(default_factory=dict)
    sops: dict[str, Sop] = field(default_factory=dict)
    effective: dict[int, Effective] = field(default_factory=dict)  # id(document) -> its SOP version's range
    rules: list[Rule] = field(default_factory=list)
    disabled: list[Rule] = field(default_factory=list)
    conflicts: list[Conflict] = field(default_factory=list)
    suppressions: list[Suppression] = field(default_factory=list)
    duration_params: set[str] = field(default_factory=set)
    calendars_raw: dict[str, tuple[YamlDocument, dict[str, Any]]] = field(default_factory=dict)
    calendar_specs: dict[str, tuple[cal.Hours, frozenset[date], tuple[int, int]]] = field(default_factory=dict)
    calendars_used: set[str] = field(default_factory=set)
    any_calendar: bool = False  # an expression chooses: every declared calendar may be named
    calendars: dict[str, Calendar] = field(default_factory=dict)

    # -- helpers shared by the stages ------------------------------------------
    def error(self, code: Code, message: str, location: Location) -> None:
        self.sink.add(code, message, location)

    def fields_of(self, types: Iterable[str]) -> frozenset[str]:
        names: set[str] = set()
        for t in types:
            et = self.events.get(t)
            if et:
                names.update(et.fields)
        return frozenset(names)

    def field_types(self, types: Iterable[str] | None) -> dict[str, Ty]:
        """Each data field of the event types -> the kinds of value it may hold (the union over the types)."""
        out: dict[str, Ty] = {}
        for t in types or ():
            et = self.events.get(t)
            for name, spec in (et.fields if et else {}).items():
                ty = field_type(spec.type)
                out[name] = out[name] | ty if name in out else ty
        return out

    def scope(self, *, event: Iterable[str] | None = None, trigger: Iterable[str] | None = None,
              other: Iterable[str] | None = None, state: bool = True,
              extra: Iterable[str] = (), trigger_name: str = "trigger") -> Scope:
        event = None if event is None else list(event)
        trigger = None if trigger is None else list(trigger)
        state_types = {name: STATE_KINDS.get(str(raw.get("type")), UNKNOWN)
                       for name, (_doc, raw) in self.state_raw.items()}
        types = Names(self.field_types(event), self.field_types(trigger), state_types, self.params)
        return Scope(
            event_fields=None if event is None else self.fields_of(event),
            trigger_fields=None if trigger is None else self.fields_of(trigger),
            trigger_name=trigger_name,
            other_fields=None if other is None else frozenset(other),
            state_vars=frozenset(self.state_raw) if state else None,
            params=self.params,
            facts={name: frozenset(c.fields) for name, c in self.facts.items()},
            extra=frozenset(extra),
            types=types,
        )

    def expr(self, text: Any, scope: Scope, loc: Location) -> Expr | None:
        compiled, problem = compile_expr(text, scope, loc, self.limits)
        if problem:
            self.sink.extend([problem])
        return compiled

    def template(self, text: Any, scope: Scope, loc: Location) -> Template:
        compiled, problems = compile_template(text, scope, loc, self.limits)
        self.sink.extend(problems)
        return compiled or Template(str(text), (str(text),))

    def event_types(self, value: Any, loc: Location) -> frozenset[str]:
        """``on:`` as the event types it names: one, a list, ``any`` (every declared type), or
        ``{any_except: [...]}`` (every declared type but those); with an open vocabulary, ``any`` and
        ``any_except`` also hold for the undeclared types (:data:`UNDECLARED`)."""
        every = frozenset(self.events) | ({UNDECLARED} if self.open_vocabulary else frozenset())
        if value == ANY:
            return every
        excluded = isinstance(value, Mapping)
        if excluded:
            value = value.get("any_except")
        names = [value] if isinstance(value, str) else list(value or [])
        for n in names:
            if n not in self.events:
                self.error(Code.UNKNOWN_EVENT, f"unknown event type '{n}'{did_you_mean(n, self.events)}", loc)
        if excluded:
            return every - frozenset(names)
        return frozenset(names)

    def duration(self, value: Any, loc: Location) -> float | None:
        if value is None:
            return None
        if isinstance(value, str) and value.startswith("params."):
            name = value[len("params."):]
            if not self._param_of(value, "duration", Code.BAD_DURATION, "a duration", loc):
                return None
            self.duration_params.add(name)
            value = self.params.get(name)
            return float(value) if value is not None else None  # a bad default is reported once, elsewhere
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.error(Code.BAD_DURATION, str(exc), loc)
            return None

    def _param_of(self, ref: str, kind: str, code: Code, what: str, loc: Location) -> bool:
        """Whether ``params.NAME`` names a declared parameter of type ``kind`` (else the error, said)."""
        name = ref[len("params."):]
        spec = self.param_specs.get(name)
        if spec is None:
            self.error(Code.UNKNOWN_PARAM, f"'{ref}' is not a declared parameter"
                       f"{did_you_mean(name, self.param_specs)}", loc)
            return False
        if spec.type != kind:
            self.error(code, f"parameter '{name}' is a {spec.type}, not {what}", loc)
            return False
        return True

    def calendar(self, value: Any, scope: Scope, loc: Location) -> CalendarRef | None:
        """A rule's ``calendar:``: a declared name, ``24x7`` (None: around the clock), ``params.NAME`` (a text
        parameter naming one), or ``{expr: ...}`` (an expression giving the name, evaluated where the deadline
        starts). A name known here is checked here; one an expression gives is checked at run time."""
        if value is None:
            return None
        if isinstance(value, Mapping):
            expr = self.expr(value.get("expr"), scope, loc)
            if expr is None:
                return None
            for name in _constant_names(expr, self.params):
                self._known_calendar(name, loc)
            self.any_calendar = True
            return CalendarRef(None, expr)
        name = value
        if isinstance(value, str) and value.startswith("params."):
            pname = value[len("params."):]
            if not self._param_of(value, "string", Code.BAD_CALENDAR, "the text naming a calendar", loc):
                return None
            self.duration_params.add(pname)  # read by the rule, as a duration parameter is
            name = self.params.get(pname)
        if not isinstance(name, str) or not self._known_calendar(name, loc):
            return None
        return None if name == AROUND_THE_CLOCK else CalendarRef(name, None)

    def _known_calendar(self, name: Any, loc: Location) -> bool:
        if name == AROUND_THE_CLOCK:
            return True
        if name in self.calendar_specs:
            self.calendars_used.add(name)
            return True
        if name in self.calendars_raw:
            return False  # declared, but broken: reported where it is declared
        known = [*self.calendars_raw, AROUND_THE_CLOCK]
        self.error(Code.UNKNOWN_CALENDAR, f"calendar {name!r} is not declared (calendars: {', '.join(known)})"
                   f"{did_you_mean(str(name), known)}", loc)
        return False

    def match(self, raw: Mapping[str, Any], doc: YamlDocument, path: tuple[str | int, ...],
              trigger: frozenset[str] | None = None, trigger_name: str = "trigger") -> Match:
        types = self.event_types(raw.get("on"), doc.loc(path + ("on",)))
        when = None
        if "when" in raw:
            scope = self.scope(event=types, trigger=trigger, trigger_name=trigger_name)
            when = self.expr(raw["when"], scope, doc.loc(path + ("when",)))
        return Match(types, when)


def _constant_names(expr: Expr, params: Mapping[str, Any]) -> list[Any]:
    """The values an expression choosing a calendar can give that are known before it runs: the whole
    expression's when it is constant, else the literal texts and parameters it gives directly (through
    ``x if c else y``, ``and``, ``or``)."""
    import ast

    if expr.constant:
        try:
            return [expr.fn(None, {}, None, None, None)]
        except Exception:  # noqa: BLE001 - it fails at run time too, and is undecided there
            return []
    out: list[Any] = []
    todo = [expr.tree] if expr.tree is not None else []
    while todo:
        node = todo.pop()
        if isinstance(node, ast.IfExp):
            todo += [node.body, node.orelse]
        elif isinstance(node, ast.BoolOp):
            todo += node.values
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            out.append(node.value)
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "params"
              and isinstance(params.get(node.attr), str)):
            out.append(params[node.attr])
    return out


def _declared(work: _Work, section: str) -> Iterable[tuple[YamlDocument, str, Any]]:
    for doc in work.docs:
        body = (doc.data or {}).get(section) or {}
        for name, value in body.items():
            yield doc, name, value


def _field_specs(raw: Mapping[str, Any] | None) -> dict[str, FieldSpec]:
    out = {}
    for fname, spec in (raw or {}).items():
        spec = spec or {}
        enum = tuple(spec["enum"]) if "enum" in spec else None
        out[fname] = FieldSpec(fname, spec.get("type", "any"), spec.get("description", ""), enum)
    return out


# ------------------------------------------------------------------ stage: declarations
def collect_declarations(work: _Work) -> None:
    seen: dict[tuple[str, str], Location] = {}

    def once(section: str, name: str, loc: Location) -> bool:
        first = seen.get((section, name))
        if first:
            work.error(Code.DUPLICATE_DECLARATION, f"{section} '{name}' is already declared at {first}", loc)
            return False
        seen[(section, name)] = loc
        return True

    for doc in work.docs:
        pack = (doc.data or {}).get("pack")
        if pack:
            work.name = pack["name"]
            work.version = pack.get("version", work.version)
            work.report.update(pack.get("report") or {})
            if "complete" in pack:
                work.complete_doc = doc
            work.open_vocabulary = work.open_vocabulary or pack.get("vocabulary") == "open"
            if "reconcile" in pack:
                work.reconcile_doc = doc
            if pack.get("report"):
                work.report_doc = doc
    for doc, name, raw in _declared(work, "events"):
        loc = doc.key_loc(("events", name))
        if once("event type", name, loc):
            raw = raw or {}
            work.events[name] = EventType(name, raw.get("description", ""), _field_specs(raw.get("data")), loc)
    for doc, name, raw in _declared(work, "facts"):
        loc = doc.key_loc(("facts", name))
        if once("facts collection", name, loc):
            work.facts[name] = FactCollection(name, raw.get("description", ""), _field_specs(raw.get("fields")), loc)
    for doc, name, raw in _declared(work, "params"):
        loc = doc.key_loc(("params", name))
        if once("parameter", name, loc):
            work.param_specs[name] = Param(name, raw["type"], raw["default"], raw.get("description", ""), loc,
                                           tuple(raw["enum"]) if "enum" in raw else None)
    for doc, name, raw in _declared(work, "state"):
        if once("state", name, doc.key_loc(("state", name))):
            work.state_raw[name] = (doc, raw)
    for doc, name, raw in _declared(work, "calendars"):
        if name == AROUND_THE_CLOCK:
            work.error(Code.BAD_CALENDAR, f"'{AROUND_THE_CLOCK}' is the built-in calendar of every hour; give "
                       "yours another name", doc.key_loc(("calendars", name)))
        elif once("calendar", name, doc.key_loc(("calendars", name))):
            work.calendars_raw[name] = (doc, raw)
    collect_sops(work)


def collect_sops(work: _Work) -> None:
    """Each SOP once, with its versions: several files may declare one SOP id only as versions, each with a
    distinct ``version`` and an ``effective`` range (the schema requires both keys together)."""
    first: dict[str, tuple[YamlDocument, dict[str, Any]]] = {}
    versions: dict[str, dict[str, Location]] = {}
    ranges: dict[str, list[Effective]] = {}
    for doc in work.docs:
        sop = (doc.data or {}).get("sop")
        if not sop:
            continue
        sop_id, loc = sop["id"], doc.loc(("sop", "id"))
        earlier = first.get(sop_id)
        if earlier is None:
            first[sop_id] = (doc, sop)
            versions[sop_id], ranges[sop_id] = {}, []
        elif "version" not in sop or "version" not in earlier[1]:
            unversioned = doc.loc(("sop", "id")) if "version" not in sop else earlier[0].loc(("sop", "id"))
            work.error(Code.DUPLICATE_DECLARATION, f"sop '{sop_id}' is already declared at "
                       f"{earlier[0].loc(('sop', 'id'))}; files may declare one SOP only as its versions, each with "
                       f"a distinct 'version' and an 'effective' range (this one at {unversioned} has none)", loc)
            continue
        if "version" not in sop:
            continue
        version, vloc = str(sop["version"]), doc.loc(("sop", "version"))
        if version in versions[sop_id]:
            work.error(Code.DUPLICATE_DECLARATION, f"version '{version}' of sop '{sop_id}' is already declared at "
                       f"{versions[sop_id][version]}", vloc)
            continue
        versions[sop_id][version] = vloc
        effective = _effective(work, doc, version)
        if effective is not None:
            work.effective[id(doc)] = effective
            ranges[sop_id].append(effective)
    for sop_id, (doc, sop) in first.items():
        in_order = tuple(sorted(ranges[sop_id], key=lambda e: (e.start, e.version)))
        work.sops[sop_id] = Sop(sop_id, sop["title"], sop.get("description", ""), sop["source"]["document"],
                                doc.loc(("sop", "id")), in_order)


def _effective(work: _Work, doc: YamlDocument, version: str) -> Effective | None:
    """A SOP version's ``effective: {from, until}``: RFC 3339 dates (00:00 UTC) or date-times with an offset;
    ``until`` (exclusive) may be left out while the version is still in force."""
    raw = doc.data["sop"]["effective"]
    times: dict[str, float | None] = {"from": None, "until": None}
    for key in ("from", "until"):
        if key not in raw:
            continue
        try:
            times[key] = parse_effective_time(raw[key])
        except ValueError as exc:
            work.error(Code.BAD_EFFECTIVE, f"effective.{key}: {exc}", doc.loc(("sop", "effective", key)))
            return None
    start, end = times["from"], times["until"]
    assert start is not None  # the schema requires from
    if end is not None and end <= start:
        work.error(Code.BAD_EFFECTIVE, f"effective: until ({raw['until']}) is not after from ({raw['from']})",
                   doc.loc(("sop", "effective", "until")))
        return None
    return Effective(version, start, end, False, doc.loc(("sop", "effective")))


def parse_effective_time(text: Any) -> float:
    """A date (``2024-07-01``: 00:00 UTC that day) or an RFC 3339 date-time with an offset, as epoch seconds.
    Raises ValueError."""
    if isinstance(text, str) and len(text) == 10:
        try:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), timezone.utc).timestamp()
        except ValueError:
            raise ValueError(f"{text!r} is not a date (YYYY-MM-DD)") from None
    return parse_time(text)


# ------------------------------------------------------------------ stage: parameters
def coerce_param(spec: Param, value: Any, loc: Location) -> Any:
    """Check a parameter value against its type and allowed values; strings from --set are parsed.
    Raises ValueError."""
    coerced = _coerce_type(spec, value)
    if spec.enum is not None and coerced not in spec.enum:
        shown = [str(v) for v in spec.enum]
        raise ValueError(f"{value!r} is not one of {', '.join(shown)}{did_you_mean(str(value), shown)}")
    return coerced


def _coerce_type(spec: Param, value: Any) -> Any:
    if spec.type == "duration":
        return parse_duration(value)
    if spec.type == "number":
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else None
            except ValueError:
                raise ValueError(f"'{value}' is not a number") from None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a number")
        return value
    if spec.type == "boolean":
        if isinstance(value, str):
            low = value.strip().lower()
            if low in ("true", "yes", "1", "on"):
                return True
            if low in ("false", "no", "0", "off"):
                return False
            raise ValueError(f"'{value}' is not true or false")
        if not isinstance(value, bool):
            raise ValueError(f"{value!r} is not true or false")
        return value
    if spec.type == "list":
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                try:
                    value = json.loads(text)
                except ValueError:
                    raise ValueError(f"'{value}' is not a JSON list") from None
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, list):
            raise ValueError(f"{value!r} is not a list")
        return tuple(value)
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def resolve_params(work: _Work) -> None:
    for name, spec in work.param_specs.items():
        try:
            work.params[name] = coerce_param(spec, spec.default, spec.location)
        except ValueError as exc:
            work.error(Code.BAD_PARAM, f"default of parameter '{name}': {exc}", spec.location)
    for name, text in work.overrides.items():
        override = work.param_specs.get(name)
        where = Location("--set")
        if override is None:
            work.error(Code.UNKNOWN_PARAM, f"--set {name}: no such parameter{did_you_mean(name, work.param_specs)}",
                       where)
            continue
        try:
            work.params[name] = coerce_param(override, text, where)
        except ValueError as exc:
            work.error(Code.BAD_PARAM, f"--set {name}: {exc}", where)


# ------------------------------------------------------------------ stage: calendars
def compile_calendars(work: _Work) -> None:
    """Each declared calendar checked: years, hours, closed dates, zone. It is expanded only once a rule uses it
    (:func:`expand_calendars`): the holidays library takes about a second to load."""
    for name, (doc, raw) in work.calendars_raw.items():
        base = ("calendars", name)
        ok = True

        def bad(message: str, *path: str | int) -> None:
            nonlocal ok
            ok = False
            work.error(Code.BAD_CALENDAR, f"calendar '{name}': {message}", doc.loc(base + path))

        years = tuple(raw.get("years") or cal.DEFAULT_YEARS)
        if not (1900 <= years[0] <= years[1] <= 2200) or years[1] - years[0] >= cal.MAX_YEARS:
            bad(f"years {list(years)}: from 1900 to 2200, first <= last, at most {cal.MAX_YEARS} of them",
                "years")
        hours: list[tuple[int, tuple[tuple[int, int], ...]]] = []
        for day, ranges in (raw.get("hours") or {}).items():
            parsed = []
            for i, text in enumerate(ranges or []):
                try:
                    parsed.append(cal.parse_range(text))
                except ValueError as exc:
                    bad(str(exc), "hours", day, i)
            parsed.sort()
            if any(a[1] > b[0] for a, b in zip(parsed, parsed[1:])):
                bad(f"the hours of {day} overlap", "hours", day)
            hours.append((cal.WEEKDAYS.index(day), tuple(parsed)))
        closed: set[Any] = set()
        for i, text in enumerate(raw.get("closed") or []):
            try:
                closed.add(date.fromisoformat(str(text)))
            except ValueError:
                bad(f"{text!r} is not a date (YYYY-MM-DD)", "closed", i)
        try:
            cal.zone_info(raw["zone"])
        except ValueError as exc:
            bad(str(exc), "zone")
        if ok:
            work.calendar_specs[name] = (tuple(sorted(hours)), frozenset(closed), (years[0], years[1]))


def expand_calendars(work: _Work) -> None:
    """The calendars the rules use (every one when an expression chooses), with their holidays, expanded into
    working intervals (:mod:`sopengine.calendars`), in the order they are declared."""
    for name, (hours, closed, years) in work.calendar_specs.items():
        if not (work.any_calendar or name in work.calendars_used):
            continue
        doc, raw = work.calendars_raw[name]
        loc = doc.loc(("calendars", name, "holidays"))
        spec = raw.get("holidays")
        if spec:
            try:
                closed = closed | cal.holiday_dates(spec["country"], spec.get("subdivision"), years,
                                                    tuple(spec.get("categories") or ()))
            except ValueError as exc:
                work.error(Code.BAD_CALENDAR, f"calendar '{name}': holidays: {exc}", loc)
                continue
        built = cal.build(name, raw["zone"], hours, closed, years)
        if not built.starts:
            work.error(Code.BAD_CALENDAR, f"calendar '{name}': it has no working time at all in its years",
                       doc.loc(("calendars", name, "hours")))
            continue
        work.calendars[name] = built


# ------------------------------------------------------------------ stage: state
def compile_state(work: _Work) -> None:
    for name, (doc, raw) in work.state_raw.items():
        base = ("state", name)
        kind = raw["type"]
        updates = []
        for i, up in enumerate(raw["updates"]):
            path = base + ("updates", i)
            types = work.event_types(up["on"], doc.loc(path + ("on",)))
            scope = work.scope(event=types)
            when = work.expr(up["when"], scope, doc.loc(path + ("when",))) if "when" in up else None
            ops = [k for k in ("set", "add", "remove", "clear") if k in up]
            if len(ops) != 1:
                work.error(Code.BAD_STATE_OP, "an update has exactly one of set, add, remove, clear", doc.loc(path))
                continue
            op = ops[0]
            if op in ("remove",) and kind != "set":
                work.error(Code.BAD_STATE_OP, f"'{op}' needs a set; '{name}' is a {kind}", doc.loc(path + (op,)))
            if op == "add" and kind == "value":
                work.error(Code.BAD_STATE_OP, f"'add' needs a set or counter; '{name}' is a value",
                           doc.loc(path + (op,)))
            value = None if op == "clear" else work.expr(up[op], scope, doc.loc(path + (op,)))
            problem = update_problem(kind, op, value.ty) if value is not None else None
            if problem:
                work.error(Code.TYPE_MISMATCH, f"state '{name}': {problem}", doc.loc(path + (op,)))
            updates.append(StateUpdate(types, op, value, when))
        work.state.append(StateVar(name, kind, raw.get("initial"), raw.get("description", ""),
                                   tuple(updates), doc.key_loc(base)))


# ------------------------------------------------------------------ stage: indexes
def compile_indexes(work: _Work) -> None:
    for doc, name, raw in _declared(work, "indexes"):
        base = ("indexes", name)
        scope = work.scope()
        member = work.expr(raw["member"], scope, doc.loc(base + ("member",)))
        key = work.expr(raw["key"], scope, doc.loc(base + ("key",)))
        attrs = []
        for aname, text in (raw.get("attributes") or {}).items():
            compiled = work.expr(text, scope, doc.loc(base + ("attributes", aname)))
            if compiled:
                attrs.append((aname, compiled))
        if member and key:
            work.indexes[name] = Index(name, raw.get("description", ""), member, key, tuple(attrs), doc.key_loc(base))


# ------------------------------------------------------------------ stage: rules
def compile_rules(work: _Work) -> None:
    ids: dict[str, Location] = {}
    all_types = list(work.events)
    for doc in work.docs:
        data = doc.data or {}
        sop = data.get("sop")
        if not sop:
            continue
        if "version" in sop and id(doc) not in work.effective:
            continue  # a duplicate SOP, or a version whose range is wrong: reported; its rules would clash
        applies = None
        if "applies_when" in sop:
            applies = work.expr(sop["applies_when"], work.scope(event=all_types), doc.loc(("sop", "applies_when")))
        effective = work.effective.get(id(doc))
        per_event = replace(effective, at_event=True) if effective is not None else None
        version = effective.version if effective is not None else None
        for i, raw in enumerate(data.get("rules") or []):
            path: tuple[str | int, ...] = ("rules", i)
            rule_id = rule_key(f"{sop['id']}/{raw['id']}", version)
            loc = doc.loc(path + ("id",))
            if rule_id in ids:
                work.error(Code.DUPLICATE_ID, f"rule id '{rule_id}' is already used at {ids[rule_id]}", loc)
                continue
            ids[rule_id] = loc
            if "effective_at" in raw and effective is None:
                work.error(Code.BAD_EFFECTIVE, "effective_at: the rule's SOP has no versions (sop.version and "
                           "sop.effective)", doc.loc(path + ("effective_at",)))
            src = raw["source"]
            common: dict[str, Any] = dict(
                id=rule_id, sop=sop["id"], kind=raw["kind"], severity=raw["severity"],
                description=raw["description"].strip(), source=Source(src["document"], src["step"], src.get("quote", "")),
                message=None, location=loc, applies=applies, disabled=raw.get("disabled"),
                accountable=work.expr(raw["accountable"], work.scope(), doc.loc(path + ("accountable",)))
                if "accountable" in raw else None,
                version=version, effective=per_event if raw.get("effective_at") == "event" else effective,
                complete=completion(work, doc, path + ("complete",), raw["complete"]) if "complete" in raw else None)
            for j, sup in enumerate(raw.get("suppress", [])):
                work.suppressions.append(Suppression(sup["code"], rule_id, sup["reason"],
                                                     doc.loc(path + ("suppress", j))))
            rule = KINDS[raw["kind"]].compile(work, doc, path, raw, common)
            if rule is not None:
                (work.disabled if rule.disabled else work.rules).append(rule)
    for doc in work.docs:
        for j, sup in enumerate((doc.data or {}).get("suppress", [])):
            work.suppressions.append(Suppression(sup["code"], sup.get("target"), sup["reason"],
                                                 doc.loc(("suppress", j))))


def compile_conflicts(work: _Work) -> None:
    known = {name for r in (*work.rules, *work.disabled) for name in (r.id, r.public_id)}
    for doc, name, raw in _declared(work, "conflicts"):
        base = ("conflicts", name)
        for i, rule_id in enumerate(raw["rules"]):
            if rule_id not in known:
                work.error(Code.UNKNOWN_NAME, f"conflict '{name}' names unknown rule '{rule_id}'"
                           f"{did_you_mean(rule_id, known)}", doc.loc(base + ("rules", i)))
        res = raw["resolution"]
        param = res.get("param")
        if param is not None and param not in work.param_specs:
            work.error(Code.UNKNOWN_PARAM, f"conflict '{name}' is resolved by unknown parameter '{param}'"
                       f"{did_you_mean(param, work.param_specs)}", doc.loc(base + ("resolution", "param")))
        work.conflicts.append(Conflict(name, raw["description"].strip(), tuple(raw["rules"]), param,
                                       res.get("choice"), res["reason"].strip(), doc.key_loc(base)))


def compile_report(work: _Work) -> None:
    """worklist columns and who is accountable (expressions over a case's state), the facts that group actors,
    links of case ids."""
    doc = work.report_doc
    if doc is None:
        return
    for name, text in (work.report.get("columns") or {}).items():
        expr = work.expr(text, work.scope(), doc.loc(("pack", "report", "columns", name)))
        if expr is not None:
            work.columns[name] = expr
    if "accountable" in work.report:
        work.accountable = work.expr(work.report["accountable"], work.scope(),
                                     doc.loc(("pack", "report", "accountable")))
    groups = work.report.get("actor_groups")
    if groups and groups["facts"] not in work.facts:
        work.sink.add(Code.UNKNOWN_FACT, f"'{groups['facts']}' is not a declared facts collection"
                      f"{did_you_mean(groups['facts'], work.facts)}", doc.loc(("pack", "report", "actor_groups")))
    for i, link in enumerate(work.report.get("links") or []):
        match = link.get("match")
        problem = pattern_problem(match) if match is not None else None
        if problem:
            work.error(Code.BAD_PATTERN, problem, doc.loc(("pack", "report", "links", i, "match")))
            continue
        work.links.append(CaseLink(link["url"], re.compile(match) if match is not None else None))


def completion(work: _Work, doc: YamlDocument, p: tuple[str | int, ...], raw: Mapping[str, Any]) -> Completion:
    """A ``complete`` section (the pack's or a rule's): a condition over a case's state, a time without events."""
    when = work.expr(raw["when"], work.scope(), doc.loc(p + ("when",))) if "when" in raw else None
    idle = work.duration(raw["idle"], doc.loc(p + ("idle",))) if "idle" in raw else None
    return Completion(when, idle)


def compile_completion(work: _Work) -> None:
    """When a case has ended (pack.complete)."""
    doc = work.complete_doc
    if doc is None:
        return
    done = completion(work, doc, ("pack", "complete"), doc.data["pack"]["complete"])
    work.complete_when, work.complete_idle = done.when, done.idle


def compile_reconcile(work: _Work) -> None:
    """Which events carry the system of record's SLA verdicts, and which rule encodes each SLA
    (sopengine.reconcile)."""
    doc = work.reconcile_doc
    if doc is None:
        return
    raw = doc.data["pack"]["reconcile"]
    event = raw["event"]
    if event not in work.events:
        work.error(Code.UNKNOWN_EVENT, f"unknown event type '{event}'{did_you_mean(event, work.events)}",
                   doc.loc(("pack", "reconcile", "event")))
    # the rules are checked by sopengine reconcile: pack.yaml is also read without the SOP files that hold them
    work.reconcile = Reconcile(event, dict(raw["rules"]))


STAGES: tuple[tuple[str, Callable[[_Work], None]], ...] = (
    ("declarations", collect_declarations),
    ("parameters", resolve_params),
    ("calendars", compile_calendars),
    ("state", compile_state),
    ("indexes", compile_indexes),
    ("rules", compile_rules),
    ("calendars used", expand_calendars),
    ("conflicts", compile_conflicts),
    ("report", compile_report),
    ("completion", compile_completion),
    ("reconcile", compile_reconcile),
)


def compile_pack(docs: list[YamlDocument], overrides: Mapping[str, str] | None = None,
                 sink: DiagnosticSink | None = None, limits: Limits = DEFAULT) -> Pack:
    """Compile checked documents into a :class:`Pack`; raises PackError with every problem found."""
    sink = sink if sink is not None else DiagnosticSink()
    work = _Work(docs, dict(overrides or {}), sink, limits)
    for _name, stage in STAGES:
        stage(work)
    if not work.rules and not work.disabled and not sink.errors:
        sink.add(Code.EMPTY_PACK, "the pack has no rules", Location(docs[0].file if docs else "(no files)"))
    sink.raise_if_errors()
    return Pack(
        name=work.name, events=dict(work.events), params=dict(work.params), param_specs=dict(work.param_specs),
        facts=dict(work.facts), state=tuple(work.state), indexes=dict(work.indexes), sops=dict(work.sops),
        rules=tuple(work.rules), files=tuple(d.file for d in docs), conflicts=tuple(work.conflicts),
        disabled=tuple(work.disabled), suppressions=tuple(work.suppressions),
        duration_params=frozenset(work.duration_params), report=dict(work.report), columns=dict(work.columns),
        accountable=work.accountable, links=tuple(work.links), version=work.version,
        complete_when=work.complete_when, complete_idle=work.complete_idle, open_vocabulary=work.open_vocabulary,
        reconcile=work.reconcile,
        calendars=dict(work.calendars))
