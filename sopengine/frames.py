"""Audit a DataFrame of events: pm4py's columns (``case:concept:name``, ``concept:name``, ``time:timestamp``,
``org:resource``) or sopengine's own (``case``, ``type``, ``time``, ``actor``, ``id``), every other column a
data field; findings back as DataFrames.

>>> found = sopengine.audit_frame(df, load_pack(["sops"]), cases_complete=True)
>>> found.violations            # one row per violation, the JSON output's fields
>>> found.per_case              # case, rule, violations, next_actions: what pm4py and Declare4Py users read
>>> found.conformance           # per case as pm4py's conformance_declare: deviations, dev_fitness, is_fit
>>> found.constraints           # per case and declare rule as Declare4Py: activations, fulfilments, violations

Rows are checked as the lines of a log are (a missing case, a naive or bad time, an unknown type, data
outside the pack's declaration: rejected with the row number); a row's id is its ``id`` column, else
``row:N``. Works with pandas and with anything that has ``to_dicts()`` (polars) or ``to_dict("records")``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
import importlib
from typing import Any, Iterable, Iterator, Mapping

from .audit import audit
from .events import Record, Rejected, event_from_obj
from .findings import AuditResult
from .model import Pack

PM4PY = {"case": "case:concept:name", "type": "concept:name", "time": "time:timestamp", "actor": "org:resource"}
CANONICAL = {"case": "case", "type": "type", "time": "time", "actor": "actor", "id": "id"}
SOURCE = "(dataframe)"  # the file name rejected rows are reported under


@dataclass
class FrameAudit:
    """An audit of a DataFrame: the result, and its findings as DataFrames."""

    result: AuditResult
    rules: tuple[str, ...] = ()  # the pack's rules (the constraints of a Declare model)
    cases: tuple[str, ...] = ()  # every case of the frame, in order of first appearance
    declare: tuple[str, ...] = ()  # the pack's declare rules (Declare's constraints)
    complete: bool = False  # read as a finished log (cases_complete)

    @property
    def violations(self) -> Any:
        return _frame([v.to_json() for v in self.result.violations],
                      ["rule", "case", "time", "severity", "message", "events"])

    @property
    def next_actions(self) -> Any:
        return _frame([a.to_json() for a in self.result.next_actions], ["rule", "case", "action", "due", "events"])

    @property
    def per_case(self) -> Any:
        """One row per case and rule with a finding: its violations and next actions."""
        counts: dict[tuple[str, str], list[int]] = {}
        for v in self.result.violations:
            counts.setdefault((v.case, v.rule), [0, 0])[0] += 1
        for a in self.result.next_actions:
            counts.setdefault((a.case, a.rule), [0, 0])[1] += 1
        return _frame([{"case": c, "rule": r, "violations": n[0], "next_actions": n[1]}
                       for (c, r), n in sorted(counts.items())], ["case", "rule", "violations", "next_actions"])

    @property
    def conformance(self) -> Any:
        """One row per case in the shape of pm4py's ``conformance_declare``: the number of constraints (rules),
        the rules the case breaks (``deviations``), how many, ``dev_fitness`` (the share of rules it keeps) and
        ``is_fit``. Read with ``cases_complete=True`` for Declare's reading of a finished trace."""
        broken: dict[str, set[str]] = {case: set() for case in self.cases}
        for v in self.result.violations:
            broken.setdefault(v.case, set()).add(v.rule)
        total = len(self.rules)
        rows = [{"case": case, "no_constr_total": total, "deviations": sorted(rules), "no_dev_total": len(rules),
                 "dev_fitness": 1 - len(rules) / total if total else 1.0, "is_fit": not rules}
                for case, rules in broken.items()]
        return _frame(rows, ["case", "no_constr_total", "deviations", "no_dev_total", "dev_fitness", "is_fit"])

    @property
    def constraints(self) -> Any:
        """One row per case and declare rule, as Declare4Py's conformance checker reads a trace:
        ``activations``, ``fulfilments``, ``violations``, ``pendings`` and ``state`` (see
        :func:`constraint_counts`)."""
        return _frame(constraint_counts(self.result, self.cases, self.declare, self.complete), CONSTRAINT_COLUMNS)


CONSTRAINT_COLUMNS = ["case", "rule", "activations", "fulfilments", "violations", "pendings", "state"]


def constraint_counts(result: AuditResult, cases: Iterable[str] | None, rules: Iterable[str], complete: bool
                      ) -> list[dict[str, Any]]:
    """Per case and declare rule (every pair, cases in the order given; ``cases`` None: the pairs activated, by
    case and rule), Declare4Py's counts from an audit
    made with ``held_by_case``: each activation is fulfilled (the rule held at it), violated or, at the end of
    a case read live, pending (a next action); ``activations`` is their sum. For the templates that read both
    ways (coexistence, the successions) a target that needs an activation counts as one, as Declare4Py sums
    both halves; for a case's first or last event (init, last) and too few activations (existence, exactly)
    the case's one judgement counts. ``state``: violated, possibly_violated (something pending), satisfied
    (``complete``: a finished log) or possibly_satisfied."""
    counts: dict[tuple[str, str], list[int]] = {}
    for case, rule, n in result.held:
        counts.setdefault((case, rule), [0, 0, 0])[0] += n
    for v in result.violations:
        counts.setdefault((v.case, v.rule), [0, 0, 0])[1] += 1
    for a in result.next_actions:
        counts.setdefault((a.case, a.rule), [0, 0, 0])[2] += 1
    rules = list(rules)
    if cases is None:
        wanted = set(rules)
        pairs = sorted(key for key in counts if key[1] in wanted)
    else:
        pairs = [(case, rule) for case in cases for rule in rules]
    rows = []
    for case, rule in pairs:
        held, broken, waiting = counts.get((case, rule), (0, 0, 0))
        state = ("violated" if broken else "possibly_violated" if waiting else
                 "satisfied" if complete else "possibly_satisfied")
        rows.append({"case": case, "rule": rule, "activations": held + broken + waiting, "fulfilments": held,
                     "violations": broken, "pendings": waiting, "state": state})
    return rows


def audit_frame(frame: Any, pack: Pack, *, facts: Mapping[str, Any] | None = None, as_of: float | None = None,
                columns: Mapping[str, str] | None = None, engine: str | None = None, cases_complete: bool = False,
                lenient_data: bool = False) -> FrameAudit:
    """Audit the events of a DataFrame against ``pack``. ``columns`` names the envelope's columns
    (``case``, ``type``, ``time``, ``actor``, ``id``): by default pm4py's where the frame has them (and an
    ``id`` column if there is one), else sopengine's own names. ``as_of``, ``cases_complete``, ``lenient_data`` and ``engine`` are as for
    :func:`sopengine.audit.audit`."""
    rows = _rows(frame)
    names = dict(columns or _columns(rows[0] if rows else {}))
    result = audit(pack, _records(rows, names, pack), facts, as_of, engine=engine, cases_complete=cases_complete,
                   lenient_data=lenient_data, held_by_case=True)
    cases = dict.fromkeys(str(c) for c in (_value(row.get(names["case"])) for row in rows) if c is not None)
    return FrameAudit(result, tuple(r.id for r in pack.rules), tuple(cases),
                      tuple(r.id for r in pack.rules if r.kind == "declare"), cases_complete)


def _rows(frame: Any) -> list[dict[str, Any]]:
    if hasattr(frame, "to_dicts"):  # polars
        return list(frame.to_dicts())
    return list(frame.to_dict("records"))


def _columns(row: Mapping[str, Any]) -> dict[str, str]:
    if PM4PY["case"] in row and PM4PY["type"] in row:
        return {**PM4PY, "id": "id"} if "id" in row else dict(PM4PY)
    return dict(CANONICAL)


def _records(rows: list[dict[str, Any]], names: Mapping[str, str], pack: Pack) -> Iterator[Record]:
    envelope = set(names.values())
    types = pack.known_types
    for n, row in enumerate(rows, start=1):
        obj = {key: _value(row.get(column)) for key, column in names.items()}
        obj["data"] = {k: v for k, v in ((k, _value(v)) for k, v in row.items() if k not in envelope)
                       if v is not None}
        made = event_from_obj(obj, f"row:{n}", types, n, lambda: list(types), (SOURCE, n))
        yield Rejected(SOURCE, n, made) if isinstance(made, str) else made


def _value(value: Any) -> Any:
    """A cell as the JSON value it stands for: missing cells (None, NaN, NaT, NA) are None; numpy scalars are
    Python's; timestamps are RFC 3339 text (a naive one stays naive, and is refused as a log line would be)."""
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "isoformat"):
        return None if str(value) == "NaT" else value.isoformat()
    if type(value).__name__ == "NAType":  # pandas.NA
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)) and getattr(value, "shape", None) == ():
        return value.item()
    if hasattr(value, "tolist"):  # a numpy array in a cell (a list column)
        return value.tolist()
    return value


def _frame(records: list[dict[str, Any]], columns: list[str]) -> Any:
    pd = importlib.import_module("pandas")  # a pandas DataFrame (untyped here: pandas ships no type stubs)
    return pd.DataFrame.from_records(records, columns=columns if not records else None)
