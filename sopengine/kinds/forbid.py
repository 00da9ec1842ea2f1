"""forbid: no event of the given types may occur (where ``when`` holds)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..expr import Expr
from ..rulebase import Match, Rule
from ._base import Condition, Path, RuleKind
from ._common import WHEN, add_checks, compile_event_rule, event_types_key, on_types, when_condition

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class ForbidRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> ForbidRule:
    on, _scope, when = compile_event_rule(work, doc, p, raw, common)
    return ForbidRule(**common, on=on, when=when)


def check(ev: Evaluator, run: CaseRun, rule: ForbidRule, e: Event) -> None:
    if rule.gated and not ev.applies(run, rule, e):
        return
    hit = ev.test(run, rule, rule.when, e)
    if hit:
        ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime), (e.id,))
    elif hit is False:
        ev.held(run, rule)


def prepare(plan: Plan, rule: ForbidRule) -> None:
    add_checks(plan, rule.on, check, rule)


def emit(em: _Emitter, rule: ForbidRule) -> dict[str, Any]:
    return {"on": em.on(rule.on), "when": em.expr(rule.when)}


def conditions(rule: ForbidRule) -> Iterator[Condition]:
    return when_condition(rule.when, rule.on)



def forbidden(rule: ForbidRule) -> Match:
    return Match(rule.on, rule.when)


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on"],
    "properties": {"on": event_types_key("The event type(s) that must not occur."), "when": WHEN},
}

KIND = RuleKind("forbid", ForbidRule, SCHEMA, compile_rule, prepare, emit, conditions, on_types,
                forbidden=forbidden)
