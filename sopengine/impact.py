"""The impact of an SOP edit on a historical log: which findings appear, disappear or change."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import Any

from . import textsafe
from .errors import did_you_mean
from .findings import AuditResult, NextAction, Violation
from .model import Pack, Rule
from .timeutil import format_time

Finding = Violation | NextAction


def _key(f: Finding) -> tuple[str, str, str, tuple[str, ...]]:
    kind = "violation" if isinstance(f, Violation) else "next_action"
    return kind, f.rule, f.case, f.events


def _detail(f: Finding) -> tuple[Any, ...]:
    if isinstance(f, Violation):
        return f.time, f.severity, f.message
    return f.due, f.action


@dataclass
class Impact:
    """Findings only the new pack gives (appeared), only the old one gave (disappeared), and both with a
    different time, deadline or text (changed)."""

    appeared: list[Finding] = field(default_factory=list)
    disappeared: list[Finding] = field(default_factory=list)
    changed: list[tuple[Finding, Finding]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.appeared or self.disappeared or self.changed)

    def by_rule(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = defaultdict(lambda: {"appeared": 0, "disappeared": 0, "changed": 0})
        for f in self.appeared:
            out[f.rule]["appeared"] += 1
        for f in self.disappeared:
            out[f.rule]["disappeared"] += 1
        for old, _new in self.changed:
            out[old.rule]["changed"] += 1
        return dict(sorted(out.items()))

    def to_json(self) -> dict[str, Any]:
        def item(f: Finding) -> dict[str, Any]:
            return {"kind": "violation" if isinstance(f, Violation) else "next_action", **f.to_json()}

        return {
            "summary": {"appeared": len(self.appeared), "disappeared": len(self.disappeared),
                        "changed": len(self.changed)},
            "by_rule": self.by_rule(),
            "appeared": [item(f) for f in self.appeared],
            "disappeared": [item(f) for f in self.disappeared],
            "changed": [{"old": item(a), "new": item(b)} for a, b in self.changed],
        }

    def text(self) -> str:
        lines = [f"{len(self.appeared)} finding(s) appear, {len(self.disappeared)} disappear, "
                 f"{len(self.changed)} change"]
        rows: dict[str, list[str]] = defaultdict(list)
        for f in self.appeared:
            rows[f.rule].append(f"  + {f.case}  {_describe(f)}")
        for f in self.disappeared:
            rows[f.rule].append(f"  - {f.case}  {_describe(f)}")
        for old, new in self.changed:
            rows[old.rule].append(f"  ~ {old.case}  {_describe(old)}  ->  {_describe(new)}")
        for rule in sorted(rows):
            lines.append("")
            lines.append(rule)
            lines.extend(sorted(rows[rule]))
        return textsafe.lines(lines)


def _describe(f: Finding) -> str:
    if isinstance(f, Violation):
        return f"violation at {format_time(f.time)}: {f.message}"
    due = format_time(f.due) if f.due is not None else "no deadline"
    return f"next action, due {due}: {f.action}"


def compare(old: AuditResult, new: AuditResult) -> Impact:
    """What changes from ``old`` to ``new`` (the same log audited with two packs).

    Findings are matched by kind, rule, case and evidence; several with the same
    evidence (missed weeks of a recurring obligation) are paired in time order.
    """
    before: dict[tuple[str, str, str, tuple[str, ...]], list[Finding]] = defaultdict(list)
    after: dict[tuple[str, str, str, tuple[str, ...]], list[Finding]] = defaultdict(list)
    for result, into in ((old, before), (new, after)):
        for v in result.violations:
            into[_key(v)].append(v)
        for n in result.next_actions:
            into[_key(n)].append(n)
    impact = Impact()
    for key in sorted(set(before) | set(after)):
        olds = sorted(before.get(key, []), key=_order)
        news = sorted(after.get(key, []), key=_order)
        for was, now in zip(olds, news):
            if _detail(was) != _detail(now):
                impact.changed.append((was, now))
        impact.disappeared.extend(olds[len(news):])
        impact.appeared.extend(news[len(olds):])
    return impact


def _order(f: Finding) -> float:
    if isinstance(f, Violation):
        return f.time
    return f.due if f.due is not None else float("inf")


def as_version(pack: Pack, sop: str, version: str) -> Pack:
    """The pack with one version of a versioned SOP in force at every time, its rules under their plain ids (the
    SOP's other versions left out): two of these, audited over one log, compare the versions case by case
    (``sopengine diff --sop-versions``). Raises ValueError naming what is unknown."""
    found = pack.sops.get(sop)
    if found is None:
        raise ValueError(f"unknown SOP {sop!r}{did_you_mean(sop, pack.sops)}")
    versions = [e.version for e in found.versions]
    if version not in versions:
        raise ValueError(f"SOP {sop!r} has no version {version!r}" + (
            f" (its versions: {', '.join(versions)})" if versions else " (it is not versioned)"))

    def chosen(rules: tuple[Rule, ...]) -> tuple[Rule, ...]:
        return tuple(replace(r, id=r.public_id, version=None, effective=None) if r.sop == sop else r
                     for r in rules if r.sop != sop or r.version == version)

    return replace(pack, rules=chosen(pack.rules), disabled=chosen(pack.disabled),
                   sops={**pack.sops, sop: replace(found, versions=())})
