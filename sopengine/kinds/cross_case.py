"""cross_case: at an event, look up other cases in a cross-case index under a key; a match is a finding.

A case alone cannot answer: at the event the rule leaves a :class:`Probe`,
answered (:func:`answer`) once every case's place in the index is known
(:mod:`sopengine.judging` joins probes with index intervals).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Iterator, Mapping

from ..errors import Code, did_you_mean
from ..events import Event
from ..expr import Expr, MissingFact, state_refs
from ..findings import Undecided
from ..rulebase import Rule
from ..values import freeze
from ._base import Condition, Path, RuleKind
from ._common import (ON, WHEN, add_checks, compile_on, compile_text, compile_when, expression_key, gate, on_types,
                      when_condition)

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Interval, Plan, Runtime
    from ..native import _Emitter


@dataclass(frozen=True)
class CrossCaseRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    index: str = ""
    key: Expr | None = None
    match: Expr | None = None


@dataclass(slots=True)
class Probe:
    """A cross-case rule's question, asked at an event, answered once every case is known."""

    rule: str  # rule id (probes travel between processes; compiled rules do not)
    index: str
    event: Event
    state: dict[str, Any]
    key: Any
    accountable: str | None = None  # who answers for a violation it finds: from the state at the probe


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> CrossCaseRule | None:
    on = compile_on(work, doc, p, raw)
    index = work.indexes.get(raw["index"])
    if index is None:
        work.error(Code.UNKNOWN_INDEX, f"unknown index '{raw['index']}'{did_you_mean(raw['index'], work.indexes)}",
                   doc.loc(p + ("index",)))
        return None
    other = [name for name, _ in index.attributes] + ["case", "since"]
    scope = work.scope(event=on)
    other_scope = work.scope(event=on, other=other)
    common["message"] = compile_text(work, doc, p, raw, "message", other_scope)
    when = compile_when(work, doc, p, raw, scope)
    key = work.expr(raw["key"], scope, doc.loc(p + ("key",)))
    match = work.expr(raw["match"], other_scope, doc.loc(p + ("match",))) if "match" in raw else None
    return CrossCaseRule(**common, on=on, when=when, index=index.name, key=key, match=match)


# -- evaluate ---------------------------------------------------------------------
def _answer_reads(rule: CrossCaseRule) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(state variables, data fields) the answer reads: its match and message."""
    exprs = [x for x in (rule.match, *rule.message.parts) if isinstance(x, Expr)]
    return tuple(sorted(state_refs(exprs))), tuple(sorted({f for x in exprs for f in x.data_refs}))


def probe(ev: Evaluator, run: CaseRun, rule: CrossCaseRule, e: Event) -> None:
    if not gate(ev, run, rule, e, rule.when):
        return
    try:
        key = freeze(rule.key.fn(e, run.state, None, None, ev.runtime))  # type: ignore[union-attr]
    except MissingFact as exc:
        ev.undecided(run, rule, e, exc.reason)
        return
    except Exception as exc:  # noqa: BLE001
        ev.undecided(run, rule, e, f"index key could not be computed: {exc}")
        return
    # Keep only what the answer will read: probes wait for every case to be known.
    state = run.state
    snapshot = {k: (frozenset(state[k]) if isinstance(state[k], set) else state[k]) for k in ev.plan.probe_refs[rule.id]}
    data = e.data
    slim = Event(e.id, e.case, e.time, e.type, e.actor, {k: data[k] for k in ev.plan.probe_data[rule.id] if k in data},
                 e.seq)
    run.probes.append(Probe(rule.id, rule.index, slim, snapshot, key, ev.accountable(run, rule)))


def answer(rule: CrossCaseRule, probe: Probe, candidates: Iterable[Interval], runtime: Runtime,
           undecided: list[Undecided]) -> Interval | None:
    """The first other case's index interval, among those open at the probe, that the rule's match accepts."""
    e = probe.event
    for iv in candidates:
        if iv.case == e.case:
            continue
        if rule.match is None:
            return iv
        try:
            if rule.match.fn(e, probe.state, None, iv.attrs, runtime):
                return iv
        except Exception as exc:  # noqa: BLE001 - data of an unexpected shape must not stop an audit
            undecided.append(Undecided(rule.id, e.case, e.id, f"match could not be evaluated: {exc}"))
            return None
    return None


def prepare(plan: Plan, rule: CrossCaseRule) -> None:
    add_checks(plan, rule.on, probe, rule)
    plan.probe_refs[rule.id], plan.probe_data[rule.id] = _answer_reads(rule)


# -- native plan and lint -----------------------------------------------------------
def emit(em: _Emitter, rule: CrossCaseRule) -> dict[str, Any]:
    refs, data = _answer_reads(rule)
    return {"on": em.on(rule.on), "when": em.expr(rule.when), "index": em.indexes[rule.index],
            "key": em.expr(rule.key), "match": em.expr(rule.match), "probe_state": [em.state[n] for n in refs],
            "probe_data": list(data)}


def conditions(rule: CrossCaseRule) -> Iterator[Condition]:
    yield from when_condition(rule.when, rule.on)
    for name, expr in (("key", rule.key), ("match", rule.match)):
        if expr is not None:
            yield name, expr, rule.on



def indexes(rule: CrossCaseRule) -> frozenset[str]:
    return frozenset([rule.index])


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on", "index", "key"],
    "properties": {
        "on": ON,
        "when": WHEN,
        "index": {"description": "The name of the declared index to search.", "type": "string"},
        "key": expression_key("The index key to look up."),
        "match": expression_key("Condition on another case's index entry (other.NAME) that makes it a finding."),
    },
}

KIND = RuleKind("cross_case", CrossCaseRule, SCHEMA, compile_rule, prepare, emit, conditions, on_types,
                indexes=indexes)
