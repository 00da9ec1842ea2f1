"""guard: at each event of the given types (that meets ``when``), ``require`` must hold."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..expr import Expr
from ..rulebase import Rule
from ._base import Condition, Demand, Path, RuleKind
from ._common import ON, REQUIRE, WHEN, add_checks, compile_event_rule, gate, on_types, when_condition

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class GuardRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    require: Expr | None = None


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> GuardRule:
    on, scope, when = compile_event_rule(work, doc, p, raw, common)
    require = work.expr(raw["require"], scope, doc.loc(p + ("require",)))
    return GuardRule(**common, on=on, when=when, require=require)


def check(ev: Evaluator, run: CaseRun, rule: GuardRule, e: Event) -> None:
    if not gate(ev, run, rule, e, rule.when):
        return
    holds = ev.test(run, rule, rule.require, e)
    if holds is False:
        ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime),
                   (e.id, *ev.evidence(run, rule.require)))
    elif holds:
        ev.held(run, rule)


def prepare(plan: Plan, rule: GuardRule) -> None:
    add_checks(plan, rule.on, check, rule)


def emit(em: _Emitter, rule: GuardRule) -> dict[str, Any]:
    return {"on": em.on(rule.on), "when": em.expr(rule.when), "require": em.expr(rule.require)}


def conditions(rule: GuardRule) -> Iterator[Condition]:
    yield from when_condition(rule.when, rule.on)
    if rule.require is not None:
        yield "require", rule.require, rule.on



def demand(rule: GuardRule) -> Demand:
    return rule.on, (rule.applies, rule.when), rule.require


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on", "require"],
    "properties": {"on": ON, "when": WHEN, "require": REQUIRE},
}

KIND = RuleKind("guard", GuardRule, SCHEMA, compile_rule, prepare, emit, conditions, on_types, demand=demand)
