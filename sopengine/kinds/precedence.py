"""precedence: an event of the given types needs an earlier ``after`` event in its case (within a time)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..expr import Expr
from ..rulebase import Match, Rule
from ._base import Condition, Path, RuleKind
from ._common import ON, WHEN, add_checks, compile_event_rule, duration_key, gate, match_key, when_condition

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class PrecedenceRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    after: Match = field(default_factory=lambda: Match(frozenset()))
    within: float | None = None


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> PrecedenceRule:
    on, _scope, when = compile_event_rule(work, doc, p, raw, common)
    after = work.match(raw["after"], doc, p + ("after",))
    within = work.duration(raw.get("within"), doc.loc(p + ("within",)))
    return PrecedenceRule(**common, on=on, when=when, after=after, within=within)


def _memory_key(rule: PrecedenceRule) -> str:
    return rule.id + "#after"


def check(ev: Evaluator, run: CaseRun, rule: PrecedenceRule, e: Event) -> None:
    if not gate(ev, run, rule, e, rule.when):
        return
    before: Event | None = run.memory.get(_memory_key(rule))
    if before is None or (rule.within is not None and e.time - before.time > rule.within):
        evidence = (e.id,) if before is None else (e.id, before.id)
        ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime), evidence)
    else:
        ev.held(run, rule)


def record(ev: Evaluator, run: CaseRun, rule: PrecedenceRule, e: Event) -> None:
    """Remember the latest ``after`` event (run after the checks, so an event does not precede itself)."""
    if gate(ev, run, rule, e, rule.after.when):
        run.memory[_memory_key(rule)] = e


def prepare(plan: Plan, rule: PrecedenceRule) -> None:
    add_checks(plan, rule.on, check, rule)
    for t in rule.after.on:
        plan.types[t].recorders.append((record, rule))


def emit(em: _Emitter, rule: PrecedenceRule) -> dict[str, Any]:
    return {"on": em.on(rule.on), "when": em.expr(rule.when), "after": em.match(rule.after), "within": rule.within}


def conditions(rule: PrecedenceRule) -> Iterator[Condition]:
    yield from when_condition(rule.when, rule.on)
    if rule.after.when is not None:
        yield "after.when", rule.after.when, rule.after.on


def event_types(rule: PrecedenceRule) -> frozenset[str]:
    return rule.on | rule.after.on


def required(rule: PrecedenceRule) -> Iterator[tuple[str, Match]]:
    yield "needs first", rule.after


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on", "after"],
    "properties": {
        "on": ON,
        "when": WHEN,
        "after": match_key("Events one of which must come earlier in the case."),
        "within": duration_key("Deadline: the latest earlier such event is at most this long before."),
    },
}

KIND = RuleKind("precedence", PrecedenceRule, SCHEMA, compile_rule, prepare, emit, conditions, event_types,
                required=required)
