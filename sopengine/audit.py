"""The public entry point of auditing: logs (or events) and a pack in, an :class:`AuditResult` out.

Sessions live in :mod:`sopengine.session`, judging and the cross-case join in
:mod:`sopengine.judging`; the names other modules have imported from here are
re-exported.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from .errors import InputError, StrictModeError
from .events import Event, LineCounter, Record, Select, Skipped
from .findings import AuditResult
from .judging import assemble as assemble
from .judging import judge as judge
from .limits import DEFAULT, Limits
from .model import Pack
from .session import ENGINES as ENGINES
from .session import CaseClosed as CaseClosed
from .session import DuplicateEvent as DuplicateEvent
from .session import Partial as Partial
from .session import Session as Session
from .session import attach_timelines, cases_with_findings
from .session import duplicate_reason as duplicate_reason
from .session import engine_name as engine_name
from .session import feed_all as feed_all
from .session import index_facts as index_facts
from .session import new_session as new_session

if TYPE_CHECKING:
    from .adapters import InputSpec


def read_records(pack: Pack, paths: Iterable[str | os.PathLike[str]], counter: LineCounter | None = None,
                 select: Select | None = None, inputs: "InputSpec | None" = None) -> Iterator[Record]:
    """Events, rejected lines and skipped records of the logs, in input order.

    JSON Lines by default; ``inputs`` chooses other formats and input mappings
    (see :mod:`sopengine.adapters`).
    """
    from .adapters import InputSpec, read_inputs

    return read_inputs(pack, paths, inputs or InputSpec(), counter, select)


AFTER_AS_OF = "after the as-of time"


def until(records: Iterable[Record], as_of: float | None) -> Iterable[Record]:
    """The records of an audit as of ``as_of``: an event later than it is not evaluated but skipped, counted
    under the reason :data:`AFTER_AS_OF` (so read = events + rejected + skipped still holds). Every way of
    auditing goes through this, so an audit, the worklist and a scenario as of a past moment all show what
    was known then (SPEC §2). ``as_of`` None: the latest event, so nothing is later."""
    if as_of is None:
        return records
    return (Skipped(*(r.origin or ("(input)", r.seq)), AFTER_AS_OF) if isinstance(r, Event) and r.time > as_of
            else r for r in records)


def audit(pack: Pack, records: Iterable[Record], facts: Mapping[str, Any] | None = None,
          as_of: float | None = None, *, strict: bool = False, grouped: bool = False,
          timelines: int = 0, engine: str | None = None, resident_cases: int | None = None,
          limits: Limits = DEFAULT, lenient_data: bool = False, cases_complete: bool = False,
          held_by_case: bool = False) -> AuditResult:
    """Audit a stream of events (and rejected lines) against a pack, as of ``as_of`` (default: the latest
    event time); events after a given ``as_of`` are skipped, not evaluated (see :func:`until`).

    ``grouped=True`` declares that each case's events come together: a case is
    closed, and its state freed, as soon as the next case starts, so memory
    grows with the largest case rather than with the log.
    ``timelines`` keeps the events of up to that many cases with findings, for
    reports that show them (cases freed by ``grouped`` have none).
    ``engine`` is ``native``, ``python`` or ``auto`` (the default: native where it is built).
    ``resident_cases`` bounds the cases the native engine holds in memory; the least recently
    touched wait in a temporary file (default: no bound). Findings do not depend on it.
    ``limits``: rejected-kept bounds the rejected records listed (the rest are counted by kind).
    ``lenient_data``: events whose data breaks the pack's declaration are kept, each such field counted as a
    warning, instead of rejected. ``cases_complete``: the log is finished, every case ended at its last event:
    an obligation still open there is a violation, not a next action (Declare's reading). ``held_by_case``:
    keep per case how often each declare rule held (:attr:`AuditResult.held`).
    """
    session = new_session(pack, facts, engine, resident_cases=resident_cases, timelines=timelines > 0,
                          limits=limits, lenient_data=lenient_data, cases_complete=cases_complete,
                          held_by_case=held_by_case)
    runs = feed_all(session, until(records, as_of), strict=strict, grouped=grouped)
    result = session.result(as_of)
    result.grouped_input = runs == result.cases
    if timelines:
        session.add_timelines(result, timelines)
    return result


def audit_paths(pack: Pack, paths: list[str], facts: Mapping[str, Any] | None = None, as_of: float | None = None,
                *, strict: bool = False, grouped: bool = False, inputs: "InputSpec | None" = None,
                counter: LineCounter | None = None, timelines: int = 0, engine: str | None = None,
                resident_cases: int | None = None, held_by_case: bool = False) -> AuditResult:
    """Audit log files: on the native engine, JSON Lines files, and XES and CSV files whose mapping the core
    applies exactly (:mod:`sopengine.adapters.native_xes`, :mod:`sopengine.adapters.native_csv`), are read by the
    core itself (no Python object per event; events after a given ``as_of`` skipped as :func:`until` does; the
    events of ``timelines`` read again afterwards); every other input, and the Python engine, go through
    :func:`read_records`."""
    from .adapters import InputSpec
    from .adapters.native_xes import native_inputs

    spec = inputs or InputSpec()
    native = native_inputs(paths, spec, pack) if engine_name(engine) == "native" else None
    if native is not None:
        from .native import NativeSession

        session = NativeSession(pack, facts, keep_events=False, resident_cases=resident_cases, until=as_of,
                                limits=spec.limits, lenient_data=spec.lenient_data,
                                cases_complete=spec.cases_complete, held_by_case=held_by_case)
        for path, mapped in native:
            session.feed_file(path, counter, mapped)
            first = session.rejected.first() if strict else None
            if first is not None:
                raise StrictModeError(f"{first.file}:{first.line}: {first.error}")
        result = session.result(as_of, last=True)
        if timelines:
            reread_timelines(pack, paths, result, timelines, spec)
        return result
    return audit(pack, read_records(pack, paths, counter, inputs=spec), facts, as_of, strict=strict, grouped=grouped,
                 timelines=timelines, engine=engine, resident_cases=resident_cases, limits=spec.limits,
                 lenient_data=spec.lenient_data, cases_complete=spec.cases_complete, held_by_case=held_by_case)


def reread_timelines(pack: Pack, paths: list[str], result: AuditResult, limit: int,
                     inputs: "InputSpec | None" = None) -> None:
    """Attach the timelines of up to ``limit`` cases with findings (:meth:`Session.add_timelines`) by reading the
    logs again for the events of those cases: for audits whose engine kept no events (the core reading files
    itself, --jobs workers, Spark). The events are those the audit evaluated: not after its as-of time, not
    refused for their data, the first of a repeated id."""
    from .adapters import InputSpec
    from .datacheck import DataCheck, DataFault, DataNotes, check_event

    spec = inputs or InputSpec()
    wanted = cases_with_findings(result)
    check, notes = DataCheck(pack.events), DataNotes()
    kept: dict[str, list[Event]] = {}
    ids: dict[str, set[str]] = {}

    def mine(obj: Any, _seq: int) -> bool:
        return isinstance(obj, dict) and obj.get("case") in wanted

    for record in until(read_records(pack, paths, select=mine, inputs=spec), result.as_of):
        if not isinstance(record, Event):
            continue
        try:
            check_event(check, notes, spec.lenient_data, record.type, record.data, ("", 0))
        except DataFault:
            continue
        seen = ids.setdefault(record.case, set())
        if record.id not in seen:
            seen.add(record.id)
            kept.setdefault(record.case, []).append(record)
    attach_timelines(result, kept, limit)


def facts_file(arg: str | os.PathLike[str]) -> tuple[str | None, str]:
    """A --facts argument: ``FILE``, or ``NAME=FILE`` naming the collection a CSV file holds."""
    text = os.fspath(arg)
    name, sep, path = text.partition("=")
    if sep and name.isidentifier() and not os.path.exists(text):
        return name, path
    return None, text


def load_facts(paths: Iterable[str | os.PathLike[str]], *, inputs: "InputSpec | None" = None,
               pack: Pack | None = None) -> dict[str, Any]:
    """Merge facts files: collection name -> list of records with ``id``.

    YAML or JSON files map collection names to records. A CSV file (``NAME=FILE.csv``, or a file named after
    the collection, e.g. users.csv) holds one collection, read as ``inputs`` says (its mapping's ``facts``
    section, delimiter, encoding; see :func:`sopengine.adapters.read_facts_csv`), with the field types the
    ``pack`` declares.
    """
    from ._yaml import load_yaml_file
    from pathlib import Path

    from .adapters import InputSpec

    limits = (inputs or InputSpec()).limits
    merged: dict[str, list[Any]] = {}
    for raw in paths:
        name, path = facts_file(raw)
        if path.lower().endswith((".csv", ".csv.gz")):
            collection, records = _csv_facts(name, path, inputs, pack)
            merged.setdefault(collection, []).extend(records)
            continue
        if name is not None:
            raise InputError(f"{raw}: NAME=FILE names the collection of a CSV file; {path} is YAML or JSON, "
                             "whose collections are named inside it")
        doc, problems = load_yaml_file(Path(path), path, limits, links=True,  # named by the operator
                                       size_limit="facts-file-bytes")
        if problems or doc is None:
            raise InputError("\n".join(str(p) for p in problems) or f"{raw}: cannot read")
        data = doc.data
        if not isinstance(data, dict):
            raise InputError(f"{raw}:1: facts must be a mapping of collection name to a list of records")
        for name, records in data.items():
            if isinstance(records, dict):
                records = [dict(v, id=k) for k, v in records.items() if isinstance(v, dict)]
            if not isinstance(records, list):
                loc = doc.loc((name,))
                raise InputError(f"{loc}: facts '{name}' must be a list of records with an 'id'")
            for i, rec in enumerate(records):
                if not isinstance(rec, dict) or "id" not in rec:
                    raise InputError(f"{doc.loc((name, i))}: each record of '{name}' needs an 'id'")
            merged.setdefault(name, []).extend(records)
    return merged


def _csv_facts(name: str | None, path: str, inputs: "InputSpec | None", pack: Pack | None
               ) -> tuple[str, list[dict[str, Any]]]:
    from pathlib import Path

    from .adapters import InputSpec, read_facts_csv

    declared = dict(pack.facts) if pack is not None else {}
    stem = Path(path).name.split(".")[0]
    collection = name or next((c for c in declared if c.lower() == stem.lower()), None)
    if collection is None:
        known = f" (the pack declares {', '.join(sorted(declared))})" if declared else ""
        raise InputError(f"{path}: say which facts collection this CSV file holds, e.g. --facts "
                         f"{next(iter(sorted(declared)), 'users')}={path}{known}")
    spec = declared.get(collection)
    fields = {f: fs.type for f, fs in spec.fields.items()} if spec is not None else {}
    return collection, read_facts_csv(path, collection, inputs or InputSpec(), fields)
