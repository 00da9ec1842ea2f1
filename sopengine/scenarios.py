"""Scenario tests of SOPs: events in, expected findings out (``*.test.yaml`` beside the SOP files).

One loader and one runner serve the project's own test suite and, later, the
``sopengine test`` command. A scenario passes when the findings of the rules in
its scope are exactly the expected ones (each expected finding is compared on
the keys it gives).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from ._yaml import YamlDocument, load_yaml_file
from .audit import until
from .compiler import compile_pack
from .errors import Code, Diagnostic, DiagnosticSink, Location, PackError
from .events import Event, event_from_obj
from .findings import AuditResult
from .limits import DEFAULT, Limits
from .model import Pack
from .pack import SCENARIO_SUFFIXES, load_documents, pack_files, walk_yaml
from .schema import SCENARIO_FILE, check
from .rulebase import public_rule
from .session import feed_all, new_session
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

    def __init__(self, paths: Iterable[str | os.PathLike[str]], limits: Limits = DEFAULT):
        self.paths = list(paths)
        self.limits = limits
        sink = DiagnosticSink()
        self.docs = load_documents(self.paths, sink, limits)
        sink.raise_if_errors()
        self._packs: dict[tuple[tuple[str, str], ...], Pack] = {}

    def pack(self, params: Mapping[str, Any] | None = None) -> Pack:
        key = tuple(sorted((k, _param_text(v)) for k, v in (params or {}).items()))
        if key not in self._packs:
            self._packs[key] = compile_pack(self.docs, dict(key), limits=self.limits)
        return self._packs[key]


def _param_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return json.dumps(value)
    return str(value)


@dataclass
class ScenarioSet:
    """The scenarios of one file: a ``*.test.yaml`` file, or the ``tests:`` of a SOP file."""

    doc: YamlDocument  # data shaped as a scenario file: sop, scenarios, and optional start, case, facts

    @property
    def file(self) -> str:
        return self.doc.file

    @property
    def count(self) -> int:
        return len(self.doc.data["scenarios"])


def scenario_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    files: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            files.extend(q for q in walk_yaml(p) if q.name.endswith(SCENARIO_SUFFIXES) or q.is_symlink())
        elif p.name.endswith(SCENARIO_SUFFIXES):
            files.append(p)
    return files


def load_scenario_file(path: Path, limits: Limits = DEFAULT) -> tuple[YamlDocument | None, list[Diagnostic]]:
    doc, problems = load_yaml_file(path, _display(path), limits)
    if doc is None or problems:
        return None, problems
    schema_problems = check(doc, SCENARIO_FILE)
    return (None if schema_problems else doc), schema_problems


def _display(path: Path) -> str:
    return os.path.relpath(path) if path.is_absolute() else str(path)


def inline_scenarios(doc: YamlDocument) -> tuple[ScenarioSet | None, list[Diagnostic]]:
    """The ``tests:`` of a SOP file as a scenario set (positions kept, so errors point into the SOP file)."""
    data = doc.data or {}
    if not data.get("tests") or "sop" not in data:
        return None, []
    shaped = {"sop": data["sop"]["id"], "scenarios": data["tests"]}
    positions = {("scenarios",) + k[1:] if k[:1] == ("tests",) else k: v for k, v in doc.positions.items()}
    view = YamlDocument(doc.file, shaped, positions)
    problems = check(view, SCENARIO_FILE)
    return (None if problems else ScenarioSet(view)), problems


def collect(paths: Iterable[str | os.PathLike[str]],
            limits: Limits = DEFAULT) -> tuple[list[ScenarioSet], list[Diagnostic]]:
    """Every scenario set under the paths: ``*.test.yaml`` files and ``tests:`` inside SOP files."""
    sets: list[ScenarioSet] = []
    problems: list[Diagnostic] = []
    paths = list(paths)
    for path in scenario_files(paths):
        doc, found = load_scenario_file(path, limits)
        problems.extend(found)
        if doc is not None:
            sets.append(ScenarioSet(doc))
    for path in pack_files(paths):
        doc, found = load_yaml_file(path, _display(path), limits)
        if doc is None or found or not isinstance(doc.data, dict):
            continue  # the pack loader reports these
        inline, found = inline_scenarios(doc)
        problems.extend(found)
        if inline is not None:
            sets.append(inline)
    return sets, problems


def _time(text: Any, start: float, where: str) -> float:
    if not isinstance(text, str):
        raise ValueError(f"{where}: expected a time or an offset, got {text!r}")
    stripped = text.strip()
    if stripped[:1] == "+" or not (len(stripped) >= 20 and stripped[4:5] == "-"):
        return start + parse_duration(stripped.lstrip("+"))
    return parse_time(stripped)


def scenario_problems(doc: YamlDocument, index: int) -> list[Diagnostic]:
    """What keeps one scenario of a scenario file from running, each problem with its place: a time or an
    offset that does not parse or is out of range (start, an event's at or time, as_of, an expected at or
    due), two events with one id (given, or the e1, e2, ... an event without one gets), an as_of before
    every event (each would be skipped: the scenario would test nothing)."""
    data = doc.data
    sc = data["scenarios"][index]
    base: tuple[str | int, ...] = ("scenarios", index)
    problems: list[Diagnostic] = []

    def when(text: Any, path: tuple[str | int, ...], offset_from: float | None) -> float | None:
        try:
            return parse_time(text) if offset_from is None else _time(text, offset_from, str(path[-1]))
        except (ValueError, TimeFormatError) as exc:
            problems.append(Diagnostic(Code.BAD_DURATION, str(exc), doc.loc(path)))
            return None

    start_path = base + ("start",) if "start" in sc else ("start",)
    start = when(sc.get("start") or data.get("start") or DEFAULT_START, start_path, None)
    if start is None:
        return problems
    times: list[float] = []
    seen: dict[tuple[str, str], int] = {}
    default_case = sc.get("case") or data.get("case") or "C1"
    for i, raw in enumerate(sc["events"]):
        path = base + ("events", i)
        t = when(raw["time"], path + ("time",), None) if "time" in raw else \
            when(raw.get("at", "0s"), path + ("at",), start)
        if t is not None:
            times.append(t)
        key = (str(raw.get("case", default_case)), str(raw.get("id", f"e{i + 1}")))
        if key in seen:
            first = seen[key]
            problems.append(Diagnostic(
                Code.DUPLICATE_ID, f"event {i + 1} has the id '{key[1]}' of event {first + 1} (line "
                f"{doc.loc(base + ('events', first)).line}) in case '{key[0]}'; each event needs its own id "
                "(an event without one is e1, e2, ... by its place)", doc.loc(path + (("id",) if "id" in raw else ()))))
        else:
            seen[key] = i
    if "as_of" in sc:
        as_of = when(sc["as_of"], base + ("as_of",), start)
        if as_of is not None and times and as_of < min(times):
            problems.append(Diagnostic(
                Code.BAD_DURATION, f"as_of {format_time(as_of)} is before the scenario's first event "
                f"({format_time(min(times))}): every event would be skipped", doc.loc(base + ("as_of",))))
    expect = sc.get("expect") or {}
    for section in ("violations", "next_actions", "undecided"):
        for j, exp in enumerate(expect.get(section) or []):
            for key_name in ("at", "due"):
                if exp.get(key_name) is not None:
                    when(exp[key_name], base + ("expect", section, j, key_name), start)
            for k, pause in enumerate(exp.get("pauses") or []):
                for end in ("from", "until"):
                    if pause.get(end) is not None:
                        when(pause[end], base + ("expect", section, j, "pauses", k, end), start)
    return problems


def _full(rule: str, sop: str) -> str:
    return rule if "/" in rule else f"{sop}/{rule}"


def run_scenario(source: PackSource, doc: YamlDocument, index: int, engine: str | None = None) -> ScenarioOutcome:
    """Run one scenario of a loaded scenario file (on ``engine``: see :func:`sopengine.session.engine_name`)."""
    data = doc.data
    sc = data["scenarios"][index]
    sop = data["sop"]
    out = ScenarioOutcome(doc.file, sc["name"], sop, doc.loc(("scenarios", index)))
    problems = scenario_problems(doc, index)
    if problems:
        out.problems.extend(str(p) for p in problems)
        return out
    try:
        pack = source.pack(sc.get("params"))
    except PackError as exc:
        out.problems.append(f"the pack does not compile with these params: {exc}")
        return out
    if sop not in pack.sops:
        out.problems.append(f"unknown SOP '{sop}'")
        return out
    sop_rules = {r.id for r in pack.rules if r.sop == sop}
    named = {_full(r, sop): _keys(pack, _full(r, sop)) for r in sc.get("rules", [])}
    scope = set().union(*named.values()) or sop_rules
    unknown = sorted(name for name, keys in named.items() if not keys)
    if unknown:
        out.problems.append(f"unknown rule(s) in 'rules': {', '.join(unknown)}")
        return out
    try:
        start = parse_time(sc.get("start") or data.get("start") or DEFAULT_START)
        events = scenario_events(sc, data, pack, start)
        as_of = _time(sc["as_of"], start, "as_of") if "as_of" in sc else None
    except (ValueError, TimeFormatError) as exc:
        out.problems.append(str(exc))
        return out
    facts = sc.get("facts", data.get("facts"))
    session = new_session(pack, facts, engine, cases_complete=bool(sc.get("cases_complete")))
    feed_all(session, until(events, as_of))
    result = session.result(as_of)
    out.result = result
    out.problems.extend(f"event {r.line}: {r.error}" for r in result.rejected)  # e.g. a duplicated id
    default_case = sc.get("case") or data.get("case") or "C1"
    expect = sc["expect"]
    _compare(out, "violation", [v for v in result.violations if v.rule in scope],
             expect.get("violations", []), sop, default_case, start)
    _compare(out, "next action", [a for a in result.next_actions if a.rule in scope],
             expect.get("next_actions", []), sop, default_case, start)
    _compare(out, "at-risk item", [r for r in result.at_risk if r.rule in scope],
             expect.get("at_risk", []), sop, default_case, start)
    _compare(out, "undecided check", [u for u in result.undecided if u.rule in scope],
             expect.get("undecided", []), sop, default_case, start)
    out.fired = {k for v in expect.get("violations", []) for k in _keys(pack, _full(v["rule"], sop), v.get("version"))}
    out.silent = scope - out.fired - {k for a in expect.get("next_actions", [])
                                      for k in _keys(pack, _full(a["rule"], sop), a.get("version"))}
    return out


def _keys(pack: Pack, name: str, version: str | None = None) -> set[str]:
    """The rules a scenario names: '<sop>/<rule>' is every version of a versioned rule (or the one ``version``
    says)."""
    return {r.id for r in pack.rules
            if r.id == name or (r.public_id == name and (version is None or r.version == str(version)))}


def scenario_events(sc: Mapping[str, Any], data: Mapping[str, Any], pack: Pack, start: float) -> list[Event]:
    """The events of one scenario (sc) of a scenario file (data), as the engine reads them."""
    default_case = sc.get("case") or data.get("case") or "C1"
    events = []
    for i, raw in enumerate(sc["events"], 1):
        when = raw.get("time") if "time" in raw else format_time(_time(raw.get("at", "0s"), start, f"event {i}"))
        obj = {"id": raw.get("id", f"e{i}"), "case": raw.get("case", default_case), "time": when,
               "type": raw["type"], "actor": raw.get("actor"), "data": raw.get("data")}
        made = event_from_obj(obj, f"e{i}", pack.known_types, i, lambda: list(pack.events))
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
    rule_id, version = public_rule(actual.rule)
    if rule_id != _full(exp["rule"], sop):
        return False
    if "version" in exp and version != str(exp["version"]):
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
    if "pauses" in exp:
        wanted = tuple((_time(p["from"], start, "from"), None if p["until"] is None else _time(p["until"], start, "until"))
                       for p in exp["pauses"])
        if actual.pauses != wanted:
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
            outcomes.append(_broken(str(path), problems))
            continue
        for i in range(len(doc.data["scenarios"])):
            outcomes.append(run_scenario(source, doc, i))
    return outcomes


def _broken_files(problems: Iterable[Diagnostic], name: str = "(file cannot be read)") -> list[ScenarioOutcome]:
    """One failed outcome per file with problems, listing them."""
    by_file: dict[str, list[Diagnostic]] = {}
    for p in problems:
        by_file.setdefault(p.location.file, []).append(p)
    return [_broken(file, found, name) for file, found in by_file.items()]


def _broken(file: str, problems: list[Diagnostic], name: str = "(file cannot be read)") -> ScenarioOutcome:
    first = problems[0].location if problems else Location(file)
    outcome = ScenarioOutcome(first.file, name, "", first)
    outcome.problems.extend(str(p) for p in problems)
    return outcome


@dataclass
class RuleCoverage:
    rule: str
    fired: int = 0
    silent: int = 0

    @property
    def covered(self) -> bool:
        return self.fired > 0 and self.silent > 0


@dataclass
class TestReport:
    """Outcomes of every scenario, and which rules they showed firing and staying silent."""

    outcomes: list[ScenarioOutcome]
    coverage: list[RuleCoverage]

    @property
    def failed(self) -> list[ScenarioOutcome]:
        return [o for o in self.outcomes if not o.passed]

    @property
    def percent(self) -> float:
        if not self.coverage:
            return 100.0
        return 100.0 * sum(c.covered for c in self.coverage) / len(self.coverage)

    def to_json(self) -> dict[str, Any]:
        return {
            "summary": {"scenarios": len(self.outcomes), "passed": len(self.outcomes) - len(self.failed),
                        "failed": len(self.failed), "coverage_percent": round(self.percent, 1)},
            "scenarios": [{"file": o.file, "line": o.location.line, "name": o.name, "sop": o.sop,
                           "passed": o.passed, "problems": o.problems} for o in self.outcomes],
            "coverage": [{"rule": c.rule, "fired": c.fired, "silent": c.silent, "covered": c.covered}
                         for c in self.coverage],
        }


def run_tests(paths: Iterable[str | os.PathLike[str]], limits: Limits = DEFAULT) -> TestReport:
    """Run every scenario under ``paths`` against the pack made of the SOP files under them.

    A pack that does not load fails the run: each file with problems is a failed outcome listing them,
    so that every report format shows why (as ``validate`` and ``lint`` do).
    """
    paths = list(paths)
    try:
        source = PackSource(paths, limits)
        rules = [r.id for r in source.pack().rules]
    except PackError as exc:
        return TestReport(_broken_files(exc.diagnostics, "(the pack does not load)"), [])
    sets, problems = collect(paths, limits)
    outcomes = _broken_files(problems)
    for scenario_set in sets:
        for i in range(scenario_set.count):
            outcomes.append(run_scenario(source, scenario_set.doc, i))
    coverage = {r: RuleCoverage(r) for r in rules}
    for o in outcomes:
        if not o.passed:
            continue  # a failing scenario shows nothing about a rule
        for r in o.fired:
            if r in coverage:
                coverage[r].fired += 1
        for r in o.silent:
            if r in coverage:
                coverage[r].silent += 1
    return TestReport(outcomes, list(coverage.values()))
