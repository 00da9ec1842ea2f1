"""Event data checked against the pack's vocabulary as events are read.

The pack declares each event type's data fields with a type and, where it
applies, the values allowed (``events.TYPE.data`` in pack.yaml). An event whose
declared field holds something else (``origin: "Phone"`` where ``phone`` is
declared, a number where a string is) would make a rule silently not fire, so
it is rejected with the reason; with ``--lenient-data`` it is kept and each such
field is counted as a warning. A field the pack does not declare for the event's
type is kept and warned about once per field, with a did-you-mean. Absent, null
and "" are "not filled" (SPEC §2) and never checked.

The native core checks the files it reads itself (``native/core/src/vocab.rs``)
and hands back the same faults; both are worded here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from .errors import did_you_mean
from .events import InputWarning
from .model import EventType, FieldSpec
from .timeutil import TimeFormatError, parse_time

TYPE, VALUE, UNDECLARED = "type", "value", "undeclared"  # the problems a field can have

_EXPECTED = {"string": "a string", "number": "a number", "boolean": "true or false", "list": "a list",
             "object": "an object", "time": "an RFC 3339 time"}
_SHOWN_CHARS = 60  # of a value quoted in a reason
_SHOWN_VALUES = 20  # of the allowed values listed
_SHOWN_TYPES = 5  # of the event types an undeclared field is named for


class DataFault(ValueError):
    """An event refused for its data (see :meth:`DataCheck.reason`)."""


def _type_name(value: Any) -> str:
    return type(value).__name__


def fits(spec: FieldSpec, value: Any) -> bool:
    """Whether a filled value has the declared type."""
    kind = spec.type
    if kind == "string":
        return isinstance(value, str)
    if kind == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "list":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "time":
        if not isinstance(value, str):
            return False
        try:
            parse_time(value)
        except TimeFormatError:
            return False
    return True


def _shown(value: Any) -> str:
    if isinstance(value, str) and len(value) > _SHOWN_CHARS:
        value = value[:_SHOWN_CHARS] + "…"
    text = repr(value)
    return text if len(text) <= _SHOWN_CHARS + 10 else f"a {_type_name(value)}"


class DataCheck:
    """The pack's event vocabulary as a check: which fields of an event break their declaration."""

    def __init__(self, events: Mapping[str, EventType]):
        self._fields = {name: et.fields for name, et in events.items()}

    def faults(self, etype: str, data: Mapping[str, Any]) -> list[tuple[str, str, Any]]:
        """(field, problem, value) of each filled field of an event of a declared type that breaks its
        declaration (TYPE, VALUE) or is not declared (UNDECLARED), by field name; none for an event of a type the
        pack does not declare (an open vocabulary)."""
        declared = self._fields.get(etype)
        if declared is None:
            return []
        out = []
        for name in sorted(data):
            value = data[name]
            spec = declared.get(name)
            if spec is None:
                out.append((name, UNDECLARED, value))
            elif not fits(spec, value):
                out.append((name, TYPE, value))
            elif spec.enum is not None and value not in spec.enum:
                out.append((name, VALUE, value))
        return out

    def explain(self, etype: str, field: str, problem: str, value: Any) -> str:
        """One fault in words (an undeclared field: see :meth:`undeclared`)."""
        if problem == UNDECLARED:
            return self.undeclared(field, [etype])
        spec = self._fields[etype][field]
        if problem == TYPE:
            got = _shown(value) if spec.type == "time" and isinstance(value, str) else _type_name(value)
            return f"data.{field} should be {_EXPECTED[spec.type]}, not {got}"
        allowed = list(spec.enum or ())
        listed = ", ".join(repr(v) for v in allowed[:_SHOWN_VALUES])
        if len(allowed) > _SHOWN_VALUES:
            listed += f" and {len(allowed) - _SHOWN_VALUES} more"
        hint = did_you_mean(value, [v for v in allowed if isinstance(v, str)]) if isinstance(value, str) else ""
        return f"data.{field} {_shown(value)} is not one of {listed}{hint}"

    def undeclared(self, field: str, etypes: list[str]) -> str:
        """A field that events of these types carry and the pack does not declare for them."""
        hint = did_you_mean(field, sorted({f for t in etypes for f in self._fields[t]}))
        if len(etypes) == len(self._fields):
            return f"data field {field!r} is not declared by the pack for any event type{hint}"
        shown = ", ".join(etypes[:_SHOWN_TYPES]) + (f" and {len(etypes) - _SHOWN_TYPES} more types"
                                                    if len(etypes) > _SHOWN_TYPES else "")
        return f"data field {field!r} is not declared by the pack for {shown}{hint}"

    def reason(self, etype: str, faults: Iterable[tuple[str, str, Any]]) -> str:
        """Why an event is rejected for the faults of its declared fields."""
        return (f"{etype}: " + "; ".join(self.explain(etype, *f) for f in faults)
                + " (--lenient-data keeps such events)")


@dataclass(slots=True)
class _Note:
    count: int
    file: str
    line: int
    value: Any


class DataNotes:
    """Faults kept as warnings, counted per event type, field and problem: undeclared fields, and with
    lenient data the fields that break their declaration. Each is told once, at its first event in the
    report's order (file, line), with the number of events that have it."""

    def __init__(self) -> None:
        self._notes: dict[tuple[str, str, str], _Note] = {}

    def __bool__(self) -> bool:
        return bool(self._notes)

    def add(self, etype: str, field: str, problem: str, value: Any, file: str, line: int, count: int = 1) -> None:
        key = (etype, field, problem)
        note = self._notes.get(key)
        if note is None:
            self._notes[key] = _Note(count, file, line, value)
            return
        note.count += count
        if (file, line) < (note.file, note.line):
            note.file, note.line, note.value = file, line, value

    def absorb(self, other: "DataNotes") -> None:
        for (etype, field, problem), n in other._notes.items():
            self.add(etype, field, problem, n.value, n.file, n.line, n.count)

    def warnings(self, check: DataCheck) -> list[InputWarning]:
        """One warning per field and problem; an undeclared field once for every type that carries it."""
        out = []
        undeclared: dict[str, list[tuple[str, _Note]]] = {}
        for (etype, field, problem), n in self._notes.items():
            if problem == UNDECLARED:
                undeclared.setdefault(field, []).append((etype, n))
                continue
            told = check.explain(etype, field, problem, n.value)
            out.append(InputWarning(n.file, n.line, f"{etype}: {told}, kept (--lenient-data): {n.count} event(s), "
                                                    "the first here"))
        for field, notes in undeclared.items():
            first = min((n for _, n in notes), key=lambda n: (n.file, n.line))
            told = check.undeclared(field, sorted(etype for etype, _ in notes))
            out.append(InputWarning(first.file, first.line, f"{told}: {sum(n.count for _, n in notes)} event(s), "
                                                            "the first here"))
        return out


def check_event(check: DataCheck, notes: DataNotes, lenient: bool, etype: str, data: Mapping[str, Any],
                where: tuple[str, int]) -> None:
    """Check one event's data: note what is only warned about; raise DataFault (the reason) when the event
    is rejected. Nothing is noted for a rejected event."""
    faults = check.faults(etype, data)
    if not faults:
        return
    breaking = [f for f in faults if f[1] != UNDECLARED]
    if breaking and not lenient:
        raise DataFault(check.reason(etype, breaking))
    for field, problem, value in faults:
        notes.add(etype, field, problem, value, *where)
