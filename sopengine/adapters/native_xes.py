"""XES read by the native core: which inputs it reads itself, and the mapping spec it applies.

The core reads an XES file and builds its events itself (no Python object per event, see
``native/core/src/xes``) when its input mapping is one the core applies exactly as
:meth:`Mapping.apply <sopengine.adapters.mapping.Mapping.apply>` does, decided here and nowhere else
(:func:`native_spec`):

* the mapping reads XES (``reader: xes``) and has one source, matching every record (no ``match``
  columns; ``kind`` none or ``event``), with no ``key`` and no ``merge``;
* that source's first rule has no ``when`` and no ``skip`` (so it takes every record, and later rules never
  apply);
* each value (id, case, time, type, actor and the data fields) is a field path or a constant that is text, a
  number, a boolean or null; ``rest`` may be on or off;
* the mapping is not case-insensitive, no identities apply (no facts name them), and no --time-format or
  --timezone is given.

The default XES mapping (``xes.input.yaml``) is one. Any other mapping (an expression, a ``when``, a lookup,
a merge, identities in use, a time format or zone, several sources) keeps the Python reader
(:func:`sopengine.adapters.readers.read_xes` and :func:`sopengine.adapters.read_inputs`), unchanged. So does
a file whose prolog (what comes before the root element) the core does not read exactly as expat does: a
document type declaration (entities are refused there, as before), an encoding other than UTF-8, an XML
declaration of another form, or stdin. Both ways give the same events, rejections and lines.

The mapping's part of the spec (:func:`mapping_spec`) is the CSV reader's too (:mod:`.native_csv`), and
:func:`native_inputs` decides for every input file, whatever its container.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Sequence

from .mapping import EVENT_KEYS, Mapping, Value, _example, _shape

if TYPE_CHECKING:
    from ..model import Pack
    from . import InputSpec

_TEXT_TYPES = ("boolean", "number", "list")  # declared types _typed reads from text
_INT64 = (-(2**63), 2**63 - 1)


@dataclass(frozen=True)
class NativeMapping:
    """A mapping the core applies to the records of an XES (or CSV) file: its spec (JSON, for the core) and its
    source's name."""

    spec: str
    source: str


def _value(value: Value) -> dict[str, Any] | None:
    """A value as the spec writes it, or None when the core cannot compute it."""
    if value.expr is not None:
        return None
    if value.path is not None:
        # get_path reads a path segment of digits as a list index with int(): only ASCII digits here
        if any(ch.isdigit() and not ch.isascii() for ch in value.path):
            return None
        return {"path": value.path}
    const = value.const
    if const is None or isinstance(const, (str, bool)):
        return {"const": const}
    if isinstance(const, int):
        return {"const": const} if _INT64[0] <= const <= _INT64[1] else None
    if isinstance(const, float) and math.isfinite(const):
        return {"const": const}
    return None


def native_spec(mapping: Mapping | None, pack: "Pack") -> NativeMapping | None:
    """The spec of ``mapping`` for the core's XES reader, or None when the core cannot apply it exactly (the
    module's docstring says which it can)."""
    if mapping is None or mapping.reader != "xes" or mapping.names is not None:
        return None
    spec = mapping_spec(mapping, pack, ("event",))
    if spec is None:
        return None
    return NativeMapping(json.dumps(spec, ensure_ascii=False, allow_nan=False), spec["source"])


def mapping_spec(mapping: Mapping, pack: "Pack", record_kinds: tuple[str, ...]) -> dict[str, Any] | None:
    """The spec (as data) of a mapping of one source that takes every record whose kind is None or one of
    ``record_kinds``, with values the core computes (field paths and constants), no identities and no time format;
    None when ``mapping`` is not one. Field names are as the records spell them (a case-insensitive mapping's
    records are spelt by the caller)."""
    if len(mapping.sources) != 1 or mapping.times is not None or mapping.aliases:
        return None
    source = mapping.sources[0]
    if source.columns or source.kind not in (None, *record_kinds) or source.key is not None or source.merge is not None:
        return None
    rule = source.rules[0]
    if rule.when is not None or rule.skip is not None:
        return None
    fields = rule.fields
    values: dict[str, Any] = {}
    for key in EVENT_KEYS:
        if key in fields.values:
            got = _value(fields.values[key])
            if got is None:
                return None
            values[key] = got
    data: list[tuple[str, dict[str, Any]]] = []
    for name, value in fields.data.items():
        got = _value(value)
        if got is None:
            return None
        data.append((name, got))
    typed = {etype: kinds for etype, decl in pack.events.items()
             if (kinds := {f.name: f.type for f in decl.fields.values() if f.type in _TEXT_TYPES})}
    return {"source": source.name, "values": values, "data": data, "rest": bool(fields.rest),
            "used": sorted(fields.used), "typed": typed}


def native_inputs(paths: Iterable[str | os.PathLike[str]], spec: "InputSpec", pack: "Pack"
                  ) -> list[tuple[str, NativeMapping | None]] | None:
    """How the native core reads each input itself: (path, None) for a JSON Lines file, (path, its mapping's
    spec) for an XES or CSV file (:mod:`.native_csv`); None when some input needs the Python readers (then all
    go through them, so that one session never mixes the two)."""
    from .._core import native as core
    from . import _Plan
    from .native_csv import native_csv

    if core is None:
        return None
    plan = _Plan(spec)
    out: list[tuple[str, NativeMapping | None]] = []
    for raw in paths:
        path = os.fspath(raw)
        if path == "-":
            return None
        container, mapping = plan.for_file(path)
        if container == "jsonl" and mapping is None:
            out.append((path, None))
            continue
        if container == "csv":
            csv = native_csv(path, mapping, spec, pack)
            if csv is None:
                return None
            out.append((path, csv))
            continue
        xes = native_spec(mapping, pack)
        if xes is None or core.xes_prolog(path, spec.limits.gzip_ratio) is not None:
            return None
        out.append((path, xes))
    return out


def structured_warning(source: str, field: str, path: str | None, keys: Sequence[str] | None) -> str:
    """The warning of :meth:`Mapping._build` for a data field the core left out: its value was an object (with
    ``keys``) or a list of lists (``keys`` None); worded by the same helpers from a value of that shape."""
    got: Any = dict.fromkeys(keys) if keys is not None else [[]]
    value = Value(path=path) if path is not None else Value()
    return (f"{source}: data field '{field}' would be {_shape(got)}, not a value; left out (map one field of it, "
            f"e.g. {_example(value, got)})")
