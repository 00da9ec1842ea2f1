"""The native engine: the compiled pack as a plan for the Rust core, and sessions that run on it.

The plan is plain JSON data (docs/plan-format.md), emitted once per pack and
cached on it; the core (``sopengine._native``) builds its steps from it and
refuses a plan of another version. Expressions and templates are emitted by
:mod:`sopengine.plan`; this module emits everything around them: the event
vocabulary, state and its updates, indexes, SOP applicability, the fields
every rule has (each kind's own come from its module in :mod:`sopengine.kinds`),
and the worklist columns.
"""

from __future__ import annotations

import json
import os
import weakref
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping, Sequence

import orjson

from . import plan as ir
from ._core import native as native_core
from .calendars import Calendar, CalendarRef
from .datacheck import DataCheck, DataNotes, check_event
from .errors import InputError
from .events import (Event, InputWarning, LineCounter, Rejected, Rejections, Skipped, damaged_message,
                     render_native_reason)
from .expr import Expr, Template, state_refs
from .findings import (AtRisk, AuditResult, NextAction, Pending, Rendered, Undecided, Violation, WorkItem,
                       named)
from .judging import counted
from .kinds.response import warn_points
from .kinds import KINDS
from .limits import DEFAULT, Limits
from .model import Effective, Match, Pack, Rule
from .rulebase import UNDECLARED
from .session import CaseClosed, DuplicateEvent, attach_timelines, duplicate_reason, index_facts

if TYPE_CHECKING:
    from .adapters.native_xes import NativeMapping

PLAN_VERSION = 6

_native: Any = native_core


def available() -> bool:
    """Whether the native core can be imported here."""
    return _native is not None


class _Emitter:
    def __init__(self, pack: Pack):
        self.pack = pack
        self.types = {name: i for i, name in enumerate(pack.events)}
        self.types[UNDECLARED] = len(pack.events)  # one past the declared types (an open vocabulary)
        self.state = {var.name: i for i, var in enumerate(pack.state)}
        self.indexes = {name: i for i, name in enumerate(pack.indexes)}
        # (SOP, id(applies expr), version's range) -> slot: rules of a SOP (version) share one answer per event
        self.sops: dict[tuple[str, int, Effective | None], int] = {}
        self.sop_slots: list[dict[str, Any]] = []

    def on(self, types: Iterable[str]) -> list[int]:
        return sorted(self.types[t] for t in types)

    def expr(self, e: Expr | None) -> dict[str, Any] | None:
        if e is None:
            return None
        return {"node": ir.expression(e, self.state, self.pack.params), "repr": repr(e.text),
                "refs": [self.state[name] for name in sorted(e.state_refs)]}

    def template(self, t: Template | None) -> dict[str, Any] | None:
        return None if t is None else ir.template(t, self.state, self.pack.params)

    def calendar(self, ref: CalendarRef | None) -> dict[str, Any] | None:
        """A rule's choice of calendar: null (every hour), ``{"name": ...}``, or ``{"expr": ...}``."""
        if ref is None:
            return None
        return {"name": ref.name} if ref.expr is None else {"expr": self.expr(ref.expr)}

    def match(self, m: Match) -> dict[str, Any]:
        return {"on": self.on(m.on), "when": self.expr(m.when)}

    def applies(self, rule: Rule) -> int | None:
        if not rule.gated:
            return None
        key = (rule.sop, id(rule.applies), rule.effective)
        slot = self.sops.get(key)
        if slot is None:
            slot = self.sops[key] = len(self.sop_slots)
            eff = rule.effective
            self.sop_slots.append({"sop": rule.sop, "applies": self.expr(rule.applies), "effective": None if eff is None
                                   else {"from": eff.start, "until": eff.end, "at_event": eff.at_event}})
        return slot

    def rule(self, rule: Rule) -> dict[str, Any]:
        out: dict[str, Any] = {"id": rule.id, "kind": rule.kind, "severity": rule.severity,
                               "applies": self.applies(rule), "message": self.template(rule.message),
                               "accountable": self.expr(self.pack.accountable_for(rule)),
                               "complete": None if rule.complete is None else
                               {"when": self.expr(rule.complete.when), "idle": rule.complete.idle}}
        out.update(KINDS[rule.kind].emit(self, rule))
        return out

    def plan(self) -> dict[str, Any]:
        pack = self.pack
        fields = sorted({f for et in pack.events.values() for f in et.fields})
        updates = [{"var": self.state[var.name], "on": self.on(up.on), "op": up.op, "value": self.expr(up.value),
                    "when": self.expr(up.when)} for var in pack.state for up in var.updates]
        indexes = [{"name": ix.name, "member": self.expr(ix.member), "key": self.expr(ix.key),
                    "attributes": [[n, self.expr(x)] for n, x in ix.attributes],
                    "reads": sorted(self.state[n] for n in state_refs((ix.member, ix.key,
                                                                       *(a for _, a in ix.attributes))))}
                   for ix in pack.indexes.values()]
        rules = [self.rule(r) for r in pack.rules]
        return {
            "version": PLAN_VERSION,
            "event_types": list(pack.events),
            "data_fields": fields,
            "event_data": [{f.name: {"type": f.type, "enum": None if f.enum is None else [ir.tv(v) for v in f.enum]}
                            for f in et.fields.values()} for et in pack.events.values()],
            "state": [{"name": v.name, "kind": v.kind, "initial": ir.tv(v.fresh())} for v in pack.state],
            "updates": updates,
            "indexes": indexes,
            "sops": self.sop_slots,
            "rules": rules,
            "columns": [[name, self.expr(e)] for name, e in pack.columns.items()],
            "complete": {"when": self.expr(pack.complete_when), "idle": pack.complete_idle},
            "open_vocabulary": pack.open_vocabulary,
            "calendars": [_calendar(c) for c in pack.calendars.values()],
        }


def _calendar(c: Calendar) -> dict[str, Any]:
    def seconds(times: tuple[float, ...]) -> list[float | int]:
        return [int(t) if t.is_integer() else t for t in times]  # whole seconds, written short

    return {"name": c.name, "zone": c.zone, "years": list(c.years), "first": c.first, "last": c.last, "starts": seconds(c.starts),
            "ends": seconds(c.ends)}


def emit(pack: Pack) -> str:
    """The plan of a pack as JSON text (made once per pack: a Pack is immutable)."""
    cached = _CACHE.get(id(pack))
    if cached is not None:
        return cached
    text = json.dumps(_Emitter(pack).plan(), ensure_ascii=False, allow_nan=False)
    _CACHE[id(pack)] = text
    weakref.finalize(pack, _CACHE.pop, id(pack), None)
    return text


_CACHE: dict[int, str] = {}


def facts_json(facts: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """Facts indexed by id (``index_facts``) as JSON text with typed values, for the core."""
    return json.dumps({coll: {rid: {k: ir.tv(v) for k, v in rec.items()} for rid, rec in records.items()}
                       for coll, records in facts.items()}, ensure_ascii=False, allow_nan=False)


#: What one case in play costs the core in memory, rounded up: the benchmark logs measured ~5.5 KB, and ~3.3 KB
#: since the core's allocations per event fell (1M interleaved: RSS after feeding, 13k against 104k cases kept).
#: Twice the cases in memory took ~12% less CPU but a 183 MB peak at 1M against 130 (docs/benchmarks.md).
CASE_BYTES = 8 * 1024


def resident_cases(memory_budget_mb: int) -> int:
    """The cases to keep in memory under a budget: 40% of it for the cases in play, the rest for the
    findings, the cross-case join's partition and the report (at least 1,000 cases)."""
    return max(1_000, memory_budget_mb * 2**20 * 4 // 10 // CASE_BYTES)


_CLASSES: dict[str, Any] = {"violations": Violation, "next_actions": NextAction, "at_risk": AtRisk,
                            "undecided": Undecided, "work": WorkItem}
_BATCH = 1000  # findings rendered, or made into objects, at a time


class NativeResult(AuditResult):
    """An :class:`AuditResult` whose findings the core keeps (``_native.Findings``, in their one order) until
    something reads them: the counts, the rule counts and the severities are the core's, the JSON reporter
    has the core write the findings' text (:meth:`rendered`), and the lists (``violations``,
    ``next_actions``, ``at_risk``, ``undecided``, ``work``) become Python objects the first time one is read.
    A 1M-event audit of the benchmark log has ~420k findings (106k violations, 312k undecided checks): as
    objects, made and rendered one by one, they took seconds of its CPU."""

    _found: Any = None

    @classmethod
    def holding(cls, found: Any, as_of: float | None, events: int, cases: int) -> NativeResult:
        result = cls(as_of, events, cases)
        for kind in _CLASSES:  # read through the properties below, from the core's findings
            del result.__dict__[kind]
        result._found = found
        return result

    def _held(self, kind: str) -> bool:
        return kind not in self.__dict__ and self._found is not None

    def count(self, kind: str) -> int:
        return self._found.count(kind) if self._held(kind) else super().count(kind)

    def by_rule(self, kind: str) -> Mapping[str, int]:
        return self._found.by_rule(kind) if self._held(kind) else super().by_rule(kind)

    def severity_counts(self) -> Mapping[str, int]:
        return self._found.severities() if self._held("violations") else super().severity_counts()

    def rendered(self, kind: str) -> Rendered | None:
        if not self._held(kind):
            return None
        found = self._found
        names = [(n["rule"], n.get("version")) for n in map(named, found.rule_keys())]
        count = found.count(kind)

        def batches(indent: bool) -> Iterator[str]:
            def slow(kind: str, i: int) -> str:  # an item the core leaves to the reference rendering
                from .reporters.jsonfmt import nested

                return nested(_CLASSES[kind](*found.rows(kind, i, i + 1)[0]).to_json(), "    ", indent)

            for start in range(0, count, _BATCH):
                yield found.render(kind, start, start + _BATCH, indent, names, slow)

        return Rendered(count, batches)

    def __getstate__(self) -> dict[str, Any]:  # pickled (a service's worker, a test): as plain lists
        for kind in _CLASSES:
            getattr(self, kind)
        state = dict(self.__dict__)
        state.pop("_found", None)
        return state


def _findings(kind: str) -> property:
    """The property of a :class:`NativeResult` list: made from the core's findings when first read."""
    make = _CLASSES[kind]

    def get(self: NativeResult) -> list[Any]:
        if self._held(kind):
            self.__dict__[kind] = [make(*row) for start in range(0, self._found.count(kind), _BATCH)
                                   for row in self._found.rows(kind, start, start + _BATCH)]
        made: list[Any] = self.__dict__.setdefault(kind, [])
        return made

    def put(self: NativeResult, value: list[Any]) -> None:
        self.__dict__[kind] = value

    return property(get, put, doc=f"The result's {kind} (made from the core's findings when first read).")


for _kind in _CLASSES:
    setattr(NativeResult, _kind, _findings(_kind))


class NativeSession:
    """:class:`sopengine.Session`'s API on the native core: the same findings, made in Rust.

    >>> session = NativeSession(pack, facts)
    >>> for event in events: session.feed(event)
    >>> result = session.result(as_of=None)
    """

    def __init__(self, pack: Pack, facts: Mapping[str, Any] | None = None, *, keep_events: bool = True,
                 resident_cases: int | None = None, share: tuple[int, int] | None = None,
                 timelines: bool = True, until: float | None = None, limits: Limits = DEFAULT,
                 lenient_data: bool = False, cases_complete: bool = False, held_by_case: bool = False,
                 join_threads: int = 1):
        if _native is None:
            raise RuntimeError("the native core (sopengine._native) is not built here; use engine='python'")
        self.pack = pack
        self._core = _native.NativeSession(emit(pack), facts_json(index_facts(facts or {})), keep_events)
        if resident_cases is not None:  # past it, the least recently touched cases are spilled to disk
            self._core.set_resident_limit(resident_cases)
        if share is not None:  # (mine, of): feed_file evaluates only this share of the cases
            self._core.set_share(*share)
        self._core.set_until(until)  # feed_file skips (and counts) events after it: an audit as of a time
        self._core.set_lenient_data(lenient_data)  # feed_file keeps events whose data breaks the pack's, noted
        self._core.set_cases_complete(cases_complete)  # every case ended at its last event (judging.judge)
        self._core.set_held_by_case(held_by_case)  # per case, the times each declare rule held (AuditResult.held)
        self._core.set_join_threads(join_threads)  # partitions of the cross-case join joined at once
        self._check = DataCheck(pack.events)  # feed checks here what feed_file's core checks itself
        self._lenient = lenient_data
        self.notes = DataNotes()
        # read by the core (path, display, XES or CSV spec): read again for cases an event came late for
        self._files: list[tuple[str, str, str | None]] = []
        self.limits = limits  # how the core reads files (line-bytes, json-depth, gzip-ratio), rejected-kept
        self._seq = 0
        self._latest: float | None = None
        self._keep = keep_events and timelines  # the core keeps its own copies to replay; these are for reports
        self._events: dict[str, list[Event]] = {}
        self.rejected = Rejections(limits.rejected_kept)
        self.skipped: dict[str, int] = {}
        self.warnings: list[InputWarning] = []

    def feed(self, event: Event, seq: int | None = None) -> None:
        """Add one event (see :meth:`sopengine.Session.feed`)."""
        if event.type not in self.pack.known_types:
            raise ValueError(f"unknown event type {event.type!r}")
        number = self._seq if seq is None else seq
        check_event(self._check, self.notes, self._lenient, event.type, event.data,
                    event.origin or ("(input)", number))
        refused = self._core.feed(event.id, event.case, event.time, event.type, event.actor,
                                  orjson.dumps(event.data, default=str).decode(), number)
        if refused == "closed":
            raise CaseClosed(f"case {event.case!r} was already closed; its events must come together")
        if refused == "duplicate":
            raise DuplicateEvent(duplicate_reason(event.id, event.case))
        event.seq = number
        self._seq = number + 1
        if self._latest is None or event.time > self._latest:
            self._latest = event.time
        if self._keep:
            self._events.setdefault(event.case, []).append(event)

    def preview(self, case: str, events: Sequence[Event] = ()) -> tuple[list[Pending], list[Violation]]:
        """What ``case`` has open after its last event and the violations it found so far, as if ``events``
        (of that case, already checked) came after every event fed; the session is left as it was (see
        :meth:`sopengine.Session.preview`)."""
        pending, violations = self._core.preview(case, [
            (e.id, e.time, e.type, e.actor, orjson.dumps(e.data, default=str).decode(), self._seq + n)
            for n, e in enumerate(events)])
        return [Pending(*p) for p in pending], [Violation(*v) for v in violations]

    def feed_file(self, path: str, counter: LineCounter | None = None, mapped: "NativeMapping | None" = None
                  ) -> None:
        """Read and evaluate a JSON Lines file (plain or .gz) entirely in the core, under this session's
        limits; with ``mapped``, an XES or CSV file (plain or .gz) read through that mapping
        (:mod:`sopengine.adapters.native_xes`, :mod:`sopengine.adapters.native_csv`).

        The same events, rejections (worded by :mod:`sopengine.events` and the XES reader) and refusals
        as feeding the records of :func:`sopengine.events.read_jsonl` (or of the XES mapping) one by one.
        The core lists the first rejected-kept of them; the rest come in batches, each worded, counted by
        kind and let go.
        """
        def progress(n: int, _lines: int) -> None:
            if counter is not None:
                counter.bytes += n
                counter.report()

        worded: dict[Any, str] = {}  # a file of bad lines repeats few reasons: each is worded once

        def overflow(batch: list[tuple[Any, ...]]) -> None:
            for item in batch:
                if item[0] != "rejected":
                    self.rejected.count(_refusal(*item[2:]))
                    continue
                reason = item[2]
                key = reason if reason[0] in ("json", "too_long", "too_deep", "unknown_type", "time", "csv_malformed",
                                              "csv_width", "csv_undecodable") else None
                text = worded.get(key) if key is not None else None
                if text is None:
                    text = self._reason(reason)
                    if key is not None and len(worded) < 4096:
                        worded[key] = text
                self.rejected.count(text)

        limits = self.limits
        spec = mapped.spec if mapped is not None else None
        self._files.append((os.fspath(path), path, spec))
        try:
            next_seq, rejected, refused, after, notes, warnings = self._core.feed_file(
                os.fspath(path), path, self._seq, limits.line_bytes, progress, limits.json_depth, limits.gzip_ratio,
                limits.rejected_kept, overflow, spec)
        except OSError as exc:
            raise _read_error(path, exc, limits) from None
        if warnings and mapped is not None:
            from .adapters.native_xes import structured_warning

            self.warnings.extend(InputWarning(path, line, structured_warning(mapped.source, field, data_path, keys))
                                 for line, field, data_path, keys in warnings)
        for line, reason in rejected:
            self.rejected.add(Rejected(path, line, self._reason(reason)))
        for line, kind, event_id, case in refused:
            self.rejected.add(Rejected(path, line, _refusal(kind, event_id, case)))
        for etype, field, problem, value, line, count in notes:
            self.notes.add(etype, field, problem, value, path, line, count)
        if after:
            from .audit import AFTER_AS_OF

            self.skipped[AFTER_AS_OF] = self.skipped.get(AFTER_AS_OF, 0) + after
        if counter is not None:
            counter.lines += next_seq - self._seq
        self._seq = next_seq

    def _reason(self, reason: tuple[Any, ...]) -> str:
        if reason[0] == "data":
            return self._check.reason(reason[1], reason[2])
        if reason[0] == "mapped":  # the event check of an event an input mapping made, after its source
            return f"{reason[1]}: {self._reason(reason[2])}"
        if reason[0].startswith("csv_"):
            from .adapters.readers import csv_malformed_reason, csv_width_reason, undecodable_reason

            if reason[0] == "csv_malformed":  # (kind, delimiter, ended)
                return csv_malformed_reason(reason[1], reason[2], self.limits.line_bytes, reason[3])
            if reason[0] == "csv_width":
                return csv_width_reason(reason[1], reason[2])
            return undecodable_reason("utf-8")
        if reason[0].startswith("xes_"):
            from .adapters.readers import xes_malformed_reason, xes_value_reason

            if reason[0] == "xes_value":
                return xes_value_reason(*reason[1:])
            if reason[0] == "xes_malformed":
                return xes_malformed_reason(reason[1])
            return str(reason[1])  # xes_bad: what the attribute __bad__ held
        names = list(self.pack.events)
        return render_native_reason(reason, self.limits.line_bytes, lambda: names, self.limits.json_depth)

    def reject(self, rejected: Rejected) -> None:
        self.rejected.add(rejected)

    def skip(self, skipped: Skipped) -> None:
        self.skipped[skipped.reason] = self.skipped.get(skipped.reason, 0) + 1

    def warn(self, warning: InputWarning) -> None:
        self.warnings.append(warning)

    def close_case(self, case_id: str) -> None:
        self._core.close_case(case_id)
        self._events.pop(case_id, None)

    @property
    def latest_time(self) -> float | None:
        return self._latest

    def result(self, as_of: float | None = None, others: Iterable[Any] = (), *, last: bool = False,
               parts: Sequence[str] = ()) -> AuditResult:
        """Findings as of ``as_of`` (default: the latest event time seen), with the ``partial_bytes`` of
        sessions that evaluated the other shares of the log. ``last``: the session is done with (its
        memory is freed first; a later call finds nothing)."""
        self._replay()
        as_of, events, cases, found, passed, attained, held = self._core.result(
            as_of, last, list(others), list(parts), warn_points(self.pack))
        return counted(
            NativeResult.holding(found, as_of, events, cases), self.rejected, passed, self.skipped,
            self.warnings + self.notes.warnings(self._check),
            {(rule, week, who): counts for rule, week, who, counts in attained}, held)

    def partial_bytes(self, parts: str | None = None, last: bool = False) -> bytes:
        """What this session found (its share of the cases), for another's ``result(others=...)``; with
        ``parts``, its cross-case probes and intervals are written to files ``{parts}{k}`` instead, for
        that session's ``result(parts=[...])``. ``last`` (with ``parts``): nothing follows, and each case is
        dropped as its findings are taken (a worker's end: less copying, less memory)."""
        self._replay()
        return bytes(self._core.partial_bytes(parts, last))

    def _replay(self) -> None:
        """Cases an event came late for are evaluated again from their files' events, in order."""
        if self._files and self._core.dirty_cases():
            try:
                self._core.replay_files(self._files, self.limits.line_bytes, self.limits.json_depth,
                                        self.limits.gzip_ratio)
            except OSError as exc:
                raise _read_error(self._files[0][1], exc, self.limits) from None

    def next_actions(self, as_of: float | None = None) -> list[NextAction]:
        return self.result(as_of).next_actions

    def add_timelines(self, result: AuditResult, limit: int) -> None:
        """Attach the events of up to ``limit`` cases with findings (see :meth:`sopengine.Session.add_timelines`)."""
        attach_timelines(result, self._events, limit)


def _refusal(kind: str, event_id: str, case: str) -> str:
    """Why the core's session refused an event of a file it read."""
    if kind == "duplicate":
        return duplicate_reason(event_id, case)
    return f"event {event_id}: case {case!r} was already closed; its events must come together"


def _read_error(display: str, exc: OSError, limits: Limits) -> InputError:
    """The core's read error as the Python reader words it (a damaged .gz: ``(DAMAGED, (damage, line))``)."""
    if len(exc.args) == 2 and exc.args[0] == _DAMAGED:
        damage, line = exc.args[1]
        return InputError(damaged_message(display, damage, line, limits.gzip_ratio))
    if len(exc.args) == 2 and exc.args[0] == _UNCLOSED:
        from .adapters.readers import unclosed_quote

        start, end, ended = exc.args[1]
        return InputError(unclosed_quote(display, start, end, ended, limits.line_bytes))
    return InputError(str(exc))


_DAMAGED = "sopengine.damaged"  # native/py/src/session.rs DAMAGED
_UNCLOSED = "sopengine.unclosed"  # native/py/src/session.rs UNCLOSED: a CSV quote never closed
