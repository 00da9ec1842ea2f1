"""Scenario tests of SOPs: events in, expected findings out (``*.test.yaml`` beside the SOP files).

One loader and one runner serve the project's own test suite and, later, the
``sopengine test`` command. A scenario passes when the findings of the rules in
its scope are exactly the expected ones (each expected finding is compared on
the keys it gives).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ._yaml import YamlDocument, load_yaml_file
from .audit import Session
from .compiler import compile_pack
from .errors import Diagnostic, DiagnosticSink, Location, PackError
from .events import Event, event_from_obj
from .findings import AuditResult
from .model import Pack
from .pack import SCENARIO_SUFFIXES, load_documents
from .schema import SCENARIO_FILE, check
from .timeutil import TimeFormatError, format_time, parse_duration, parse_time

DEFAULT_START = "2024-05-06T09:00:00Z"  # a Monday morning


@dataclass
class ScenarioOutcome:
    """The result of one scenario."""

    file: str
    name: str
    sop: str
    location: Location
    problems: list[str] = field(default_factory=list)
    fired: set[str] = field(default_factory=set)  # rules the scenario expects to produce a violation
    silent: set[str] = field(default_factory=set)  # rules in scope the scenario expects to stay silent
    result: AuditResult | None = None

    @property
    def passed(self) -> bool:
        return not self.problems


class PackSource:
    """A pack's documents, loaded once and compiled once per set of parameter overrides."""

    def __init__(self, paths: Iterable[str | os.PathLike[str]]):
        self.paths = list(paths)
        sink = DiagnosticSink()
        self.docs = load_documents(self.paths, sink)
        sink.raise_if_errors()
        self._packs: dict[tuple[tuple[str, str], ...], Pack] = {}

    def pack(self, params: Mapping[str, Any] | None = None) -> Pack:
        key = tuple(sorted((k, _param_text(v)) for k, v in (params or {}).items()))
        if key not in self._packs:
            self._packs[key] = compile_pack(self.docs, dict(key))
        return self._packs[key]


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        import json
        return json.dumps(value)
    return str(value)


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(sorted(q for q in p.rglob("*") if q.name.endswith(SCENARIO_SUFFIXES)))
        elif p.name.endswith(SCENARIO_SUFFIXES):
            files.append(p)
    return files


def load_scenario_file(path: Path) -> tuple[YamlDocument | None, list[Diagnostic]]:
    doc, problems = load_yaml_file(path, os.path.relpath(path) if path.is_absolute() else str(path))
    if doc is None or problems:
        return None, problems
    schema_problems = check(doc, SCENARIO_FILE)
    return (None if schema_problems else doc), schema_problems


def _time(text: Any, start: float, where: str) -> float:
    if not isinstance(text, str):
        raise ValueError(f"{where}: expected a time or an offset, got {text!r}")
    stripped = text.strip()
    if stripped[:1] == "+" or not (len(stripped) >= 20 and stripped[4:5] == "-"):
        return start + parse_duration(stripped.lstrip("+"))
    return parse_time(stripped)


def _full(rule: str, sop: str) -> str:
    return rule if "/" in rule else f"{sop}/{rule}"


def run_scenario(source: PackSource, doc: YamlDocument, index: int) -> ScenarioOutcome:
    """Run one scenario of a loaded scenario file."""
    data = doc.data
    sc = data["scenarios"][index]
    sop = data["sop"]
    out = ScenarioOutcome(doc.file, sc["name"], sop, doc.loc(("scenarios", index)))
    try:
        pack = source.pack(sc.get("params"))
    except PackError as exc:
        out.problems.append(f"the pack does not compile with these params: {exc}")
        return out
    if sop not in pack.sops:
        out.problems.append(f"unknown SOP '{sop}'")
        return out
    sop_rules = {r.id for r in pack.rules if r.sop == sop}
    scope = {_full(r, sop) for r in sc.get("rules", [])} or sop_rules
    unknown = sorted(scope - {r.id for r in pack.rules})
    if unknown:
        out.problems.append(f"unknown rule(s) in 'rules': {', '.join(unknown)}")
        return out
    try:
        start = parse_time(sc.get("start") or data.get("start") or DEFAULT_START)
        events = _events(sc, data, pack, start)
        as_of = _time(sc["as_of"], start, "as_of") if "as_of" in sc else None
    except (ValueError, TimeFormatError) as exc:
        out.problems.append(str(exc))
        return out
    facts = sc.get("facts", data.get("facts"))
    session = Session(pack, facts)
    for e in events:
        session.feed(e)
    result = session.result(as_of)
    out.result = result
    default_case = sc.get("case") or data.get("case") or "C1"
    expect = sc["expect"]
    _compare(out, "violation", [v for v in result.violations if v.rule in scope],
             expect.get("violations", []), sop, default_case, start)
    _compare(out, "next action", [a for a in result.next_actions if a.rule in scope],
             expect.get("next_actions", []), sop, default_case, start)
    _compare(out, "undecided check", [u for u in result.undecided if u.rule in scope],
             expect.get("undecided", []), sop, default_case, start)
    out.fired = {_full(v["rule"], sop) for v in expect.get("violations", [])}
    out.silent = scope - out.fired - {_full(a["rule"], sop) for a in expect.get("next_actions", [])}
    return out


def _events(sc: Mapping[str, Any], data: Mapping[str, Any], pack: Pack, start: float) -> list[Event]:
    default_case = sc.get("case") or data.get("case") or "C1"
    events = []
    for i, raw in enumerate(sc["events"], 1):
        when = raw.get("time") if "time" in raw else format_time(_time(raw.get("at", "0s"), start, f"event {i}"))
        obj = {"id": raw.get("id", f"e{i}"), "case": raw.get("case", default_case), "time": when,
               "type": raw["type"], "actor": raw.get("actor"), "data": raw.get("data")}
        made = event_from_obj(obj, f"e{i}", pack.events, i, lambda: list(pack.events))
        if isinstance(made, str):
            raise ValueError(f"event {i}: {made}")
        events.append(made)
    return events


def _compare(out: ScenarioOutcome, what: str, actual: list[Any], expected: list[Mapping[str, Any]],
             sop: str, default_case: str, start: float) -> None:
    remaining = list(actual)
    for exp in expected:
        match = next((a for a in remaining if _matches(a, exp, sop, default_case, start)), None)
        if match is None:
            out.problems.append(f"expected {what} not found: {dict(exp)}")
        else:
            remaining.remove(match)
    for a in remaining:
        out.problems.append(f"unexpected {what}: {_describe(a)}")


def _matches(actual: Any, exp: Mapping[str, Any], sop: str, default_case: str, start: float) -> bool:
    if actual.rule != _full(exp["rule"], sop):
        return False
    if actual.case != exp.get("case", default_case):
        return False
    if "at" in exp and actual.time != _time(exp["at"], start, "at"):
        return False
    if "events" in exp and set(actual.events) != set(exp["events"]):
        return False
    if "message" in exp and exp["message"] not in actual.message:
        return False
    if "due" in exp:
        due = None if exp["due"] is None else _time(exp["due"], start, "due")
        if actual.due != due:
            return False
    if "action" in exp and exp["action"] not in actual.action:
        return False
    if "reason" in exp and exp["reason"] not in actual.reason:
        return False
    return True


def _describe(finding: Any) -> str:
    data = finding.to_json()
    return ", ".join(f"{k}={v}" for k, v in data.items() if v not in (None, [], ""))


def run_files(pack_paths: Iterable[str | os.PathLike[str]], files: Iterable[Path]) -> list[ScenarioOutcome]:
    """Run every scenario of the given scenario files against the pack at ``pack_paths``."""
    source = PackSource(pack_paths)
    outcomes = []
    for path in files:
        doc, problems = load_scenario_file(path)
        if doc is None:
            o = ScenarioOutcome(str(path), "(file)", "", Location(str(path)))
            o.problems.extend(str(p) for p in problems)
            outcomes.append(o)
            continue
        for i in range(len(doc.data["scenarios"])):
            outcomes.append(run_scenario(source, doc, i))
    return outcomes
