"""Diagnostics and the exception tree.

Every problem a user can cause is a :class:`Diagnostic` with a stable code, a
message and a location. Exceptions are for input that cannot be used at all;
each knows its exit code, and only the CLI turns them into exits.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from enum import Enum
from typing import Iterable, Iterator, Sequence

from . import textsafe


class Code(str, Enum):
    """Closed set of diagnostic codes (stable: users filter and suppress by them)."""

    YAML_SYNTAX = "yaml-syntax"
    YAML_FORBIDDEN = "yaml-forbidden"
    FILE_UNREADABLE = "file-unreadable"
    SCHEMA = "schema"
    DUPLICATE_ID = "duplicate-id"
    DUPLICATE_DECLARATION = "duplicate-declaration"
    UNKNOWN_EVENT = "unknown-event"
    UNKNOWN_FIELD = "unknown-field"
    UNKNOWN_STATE = "unknown-state"
    UNKNOWN_PARAM = "unknown-param"
    UNKNOWN_FACT = "unknown-fact"
    UNKNOWN_INDEX = "unknown-index"
    UNKNOWN_NAME = "unknown-name"
    UNKNOWN_FUNCTION = "unknown-function"
    EXPRESSION_SYNTAX = "expression-syntax"
    EXPRESSION_FORBIDDEN = "expression-forbidden"
    EXPRESSION_LIMIT = "expression-limit"
    PACK_LIMIT = "pack-limit"
    BAD_DURATION = "bad-duration"
    BAD_PATTERN = "bad-pattern"
    BAD_PARAM = "bad-param"
    BAD_STATE_OP = "bad-state-op"
    BAD_CALENDAR = "bad-calendar"
    UNKNOWN_CALENDAR = "unknown-calendar"
    BAD_EFFECTIVE = "bad-effective"  # a SOP version's effective range, or a rule's effective_at
    TYPE_MISMATCH = "type-mismatch"
    EMPTY_PACK = "empty-pack"
    # lint: semantic checks on a pack that compiles
    MISSING_SOURCE = "missing-source"
    ALWAYS_HOLDS = "always-holds"
    NEVER_HOLDS = "never-holds"
    UNUSED_STATE = "unused-state"
    UNUSED_PARAM = "unused-param"
    UNUSED_FACTS = "unused-facts"
    UNUSED_INDEX = "unused-index"
    UNUSED_EVENT = "unused-event"
    REQUIRED_AND_FORBIDDEN = "required-and-forbidden"
    SOP_CONFLICT = "sop-conflict"
    SOP_CONFLICT_RESOLVED = "sop-conflict-resolved"
    RULE_DISABLED = "rule-disabled"
    UNUSED_SUPPRESSION = "unused-suppression"
    NEVER_LATE = "never-late"  # an obligation that can only ever be a next action
    VERSION_OVERLAP = "version-overlap"  # two versions of a SOP in force at once
    VERSION_GAP = "version-gap"  # a time between two versions of a SOP when none is in force
    SELF_TARGET = "self-target"  # a Declare rule whose activations are their own targets: one is never met


class Severity(str, Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Location:
    """Where something is: file, 1-based line and column, and the path inside the document."""

    file: str
    line: int = 0
    column: int = 0
    path: tuple[str | int, ...] = ()

    def __str__(self) -> str:
        text = self.file
        if self.line:
            text += f":{self.line}"
            if self.column:
                text += f":{self.column}"
        return text

    def pointer(self) -> str:
        """The JSON-pointer-like path inside the document, e.g. ``rules/2/when``."""
        return "/".join(str(p) for p in self.path)


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """A problem found in a pack: stable code, message, location; ``subject`` names what it is about
    (a rule id or a declaration), ``suppressed`` holds the reason when the YAML suppresses it."""

    code: Code
    message: str
    location: Location
    severity: Severity = Severity.ERROR
    subject: str = ""
    suppressed: str | None = None

    def __str__(self) -> str:
        where = str(self.location)
        path = self.location.pointer()
        suffix = f" (at {path})" if path else ""
        text = f"{where}: {self.severity.value} [{self.code.value}] {self.message}{suffix}"
        if self.suppressed is not None:
            text += f" [suppressed: {self.suppressed}]"
        return text

    def to_json(self) -> dict[str, object]:
        loc = self.location
        out: dict[str, object] = {"code": self.code.value, "severity": self.severity.value, "message": self.message,
                                  "file": loc.file, "line": loc.line, "column": loc.column, "path": loc.pointer()}
        if self.subject:
            out["subject"] = self.subject
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        return out


class SopengineError(Exception):
    """Root of every exception sopengine raises on purpose."""

    exit_code = 2


class UsageError(SopengineError):
    """The command line or API call was used wrongly."""

    exit_code = 2


class Interrupted(SopengineError):
    """The user stopped the run (Ctrl-C); the message says how far it got."""

    exit_code = 130


class PackError(SopengineError):
    """A pack could not be loaded or compiled; carries every diagnostic found."""

    exit_code = 2

    def __init__(self, diagnostics: Sequence[Diagnostic]):
        self.diagnostics = tuple(diagnostics)
        lines = [textsafe.line(str(d)) for d in self.diagnostics[:20]]
        more = len(self.diagnostics) - len(lines)
        if more > 0:
            lines.append(f"... and {more} more")
        super().__init__("\n".join(lines))


class InputError(SopengineError):
    """An input file (log, facts) cannot be read at all."""

    exit_code = 2


class StrictModeError(SopengineError):
    """A rejected line under ``--strict``."""

    exit_code = 2


@dataclass
class DiagnosticSink:
    """Collects diagnostics up to a limit instead of stopping at the first."""

    limit: int = 200
    items: list[Diagnostic] = field(default_factory=list)

    def add(self, code: Code, message: str, location: Location,
            severity: Severity = Severity.ERROR) -> None:
        if len(self.items) < self.limit:
            self.items.append(Diagnostic(code, message, location, severity))

    def extend(self, diagnostics: Iterable[Diagnostic]) -> None:
        for d in diagnostics:
            if len(self.items) < self.limit:
                self.items.append(d)

    @property
    def errors(self) -> list[Diagnostic]:
        return [d for d in self.items if d.severity is Severity.ERROR]

    def raise_if_errors(self) -> None:
        if self.errors:
            raise PackError(sorted(self.items, key=_diag_order))


def _diag_order(d: Diagnostic) -> tuple[str, int, int]:
    return (d.location.file, d.location.line, d.location.column)


_FEW = 64  # up to this many choices every one is compared; beyond, only the likeliest (see _likely)


def did_you_mean(name: str, choices: Iterable[str]) -> str:
    """A ' (did you mean X?)' suffix when a close match exists, else ''."""
    match = closest(name, choices)
    return f" (did you mean '{match}'?)" if match is not None else ""


def closest(name: str, choices: Iterable[str]) -> str | None:
    """The choice ``name`` is most likely a misspelling of, if any is close.

    difflib compares the name with every choice, which made a large file with many
    unknown names quadratic (thousands of names against thousands of choices took
    minutes); past a few dozen choices only those sharing the name's rarer letter
    pairs are compared, found through an index made once per collection of choices.
    """
    pool, index = _indexed(choices)
    if len(pool) > _FEW:
        pool = _likely(name, pool, index)
    matches = difflib.get_close_matches(name, pool, n=1, cutoff=0.6)
    return matches[0] if matches else None


def _pairs(text: str) -> set[str]:
    low = text.lower()
    return {low[i:i + 2] for i in range(len(low) - 1)} or {low}


_INDEXES: dict[int, tuple[object, list[str], dict[str, list[int]]]] = {}  # id -> (the collection, pool, index)


def _indexed(choices: Iterable[str]) -> tuple[list[str], dict[str, list[int]]]:
    """The choices as a list and, for many, letter pair -> positions; kept for the few collections asked
    about again and again while one pack is compiled (its event types, fields, parameters)."""
    cached = _INDEXES.get(id(choices))
    if cached is not None and cached[0] is choices and len(cached[1]) == len(choices):  # type: ignore[arg-type]
        return cached[1], cached[2]
    pool = list(choices)
    index: dict[str, list[int]] = {}
    if len(pool) > _FEW:
        for i, choice in enumerate(pool):
            for pair in _pairs(choice):
                index.setdefault(pair, []).append(i)
        if not isinstance(choices, Iterator):
            if len(_INDEXES) >= 16:
                _INDEXES.pop(next(iter(_INDEXES)))
            _INDEXES[id(choices)] = (choices, pool, index)
    return pool, index


def _likely(name: str, pool: list[str], index: dict[str, list[int]], keep: int = _FEW) -> list[str]:
    """The choices sharing most of the name's letter pairs, rarer pairs counting more; pairs that most
    choices share say little and are skipped (unless no other pair is shared)."""
    common = max(50, len(pool) // 10)
    postings = [index[pair] for pair in _pairs(name) if pair in index]
    rare = [where for where in postings if len(where) <= common] or postings[:2]
    score: dict[int, float] = {}
    for where in rare:
        weight = 1.0 / len(where)
        for i in where:
            score[i] = score.get(i, 0.0) + weight
    best = sorted(score, key=lambda i: (-score[i], i))[:keep]
    return [pool[i] for i in best]
