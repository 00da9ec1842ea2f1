"""at_most: a case may have at most ``max`` events of the given types (that meet ``when``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..expr import Expr
from ..findings import MAX_EVIDENCE
from ..rulebase import Rule
from ._base import Condition, Path, RuleKind
from ._common import WHEN, add_checks, compile_event_rule, event_types_key, gate, on_types, when_condition

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class AtMostRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    max: int = 0


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> AtMostRule:
    on, _scope, when = compile_event_rule(work, doc, p, raw, common, message_extra=("count",))
    return AtMostRule(**common, on=on, when=when, max=int(raw["max"]))


def check(ev: Evaluator, run: CaseRun, rule: AtMostRule, e: Event) -> None:
    """Past ``max``, each matching event is a violation citing it and the earlier ones (the first of them:
    a case's ids are distinct, so the count says how many more there are without keeping them)."""
    if not gate(ev, run, rule, e, rule.when):
        return
    seen: _Seen = run.memory.setdefault(rule.id, _Seen())
    seen.count += 1
    if seen.count > rule.max:
        ev.runtime.vars["count"] = seen.count
        cited = (e.id, *seen.first[:MAX_EVIDENCE - 1])
        ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime), cited,
                   seen.count - len(cited))
    else:
        ev.held(run, rule)
    if len(seen.first) < MAX_EVIDENCE:
        seen.first.append(e.id)


class _Seen:
    """The matching events of a case so far: how many, and the ids of the first MAX_EVIDENCE."""

    __slots__ = ("count", "first")

    def __init__(self) -> None:
        self.count = 0
        self.first: list[str] = []


def prepare(plan: Plan, rule: AtMostRule) -> None:
    add_checks(plan, rule.on, check, rule)


def emit(em: _Emitter, rule: AtMostRule) -> dict[str, Any]:
    return {"on": em.on(rule.on), "when": em.expr(rule.when), "max": rule.max}


def conditions(rule: AtMostRule) -> Iterator[Condition]:
    return when_condition(rule.when, rule.on)



# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on", "max"],
    "properties": {
        "on": event_types_key("The event type(s) counted."),
        "when": WHEN,
        "max": {
            "description": "The largest allowed number of matching events per case.",
            "type": "integer",
            "minimum": 0,
        },
    },
}

KIND = RuleKind("at_most", AtMostRule, SCHEMA, compile_rule, prepare, emit, conditions, on_types)
