"""require_fields: at each event of the given types (that meets ``when``), the named fields must be filled."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Mapping

from ..errors import Code, did_you_mean
from ..expr import Expr
from ..rulebase import Rule
from ._base import Condition, Path, RuleKind
from ._common import ON, WHEN, add_checks, compile_event_rule, gate, on_types, when_condition

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..native import _Emitter


@dataclass(frozen=True)
class RequireFieldsRule(Rule):
    on: frozenset[str] = frozenset()
    when: Expr | None = None
    fields: tuple[tuple[str, Expr], ...] = ()  # (label, value expression)


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> RequireFieldsRule:
    on, scope, when = compile_event_rule(work, doc, p, raw, common, message_extra=("missing",))
    fields = []
    declared = work.fields_of(on)
    for i, name in enumerate(raw["fields"]):
        loc = doc.loc(p + ("fields", i))
        state = name.startswith("state.")
        if name.removeprefix("state.") not in (work.state_raw if state else declared):
            what = "declared state" if state else f"a data field of {', '.join(sorted(on))}"
            choices = [f"state.{s}" for s in work.state_raw] if state else declared
            work.error(Code.UNKNOWN_STATE if state else Code.UNKNOWN_FIELD,
                       f"'{name}' is not {what}: each entry names a field (or state.NAME); a condition belongs "
                       f"in 'when'{did_you_mean(name, choices)}", loc)
            continue
        text = name if state else f"data.{name}"
        compiled = work.expr(text, scope, loc)
        if compiled:
            fields.append((name.removeprefix("state."), compiled))
    return RequireFieldsRule(**common, on=on, when=when, fields=tuple(fields))


def check(ev: Evaluator, run: CaseRun, rule: RequireFieldsRule, e: Event) -> None:
    if not gate(ev, run, rule, e, rule.when):
        return
    missing = []
    for label, expr in rule.fields:
        try:
            value = expr.fn(e, run.state, None, None, ev.runtime)
        except Exception:  # noqa: BLE001 - a value that cannot be read is not filled (as in the core)
            value = None
        if value is None or value == "" or (isinstance(value, (list, tuple, set, frozenset)) and not value):
            missing.append(label)
    if missing:
        ev.runtime.vars["missing"] = missing
        ev.violate(run, rule, e.time, rule.message.render(e, run.state, None, None, ev.runtime), (e.id,))
    else:
        ev.held(run, rule)


def prepare(plan: Plan, rule: RequireFieldsRule) -> None:
    add_checks(plan, rule.on, check, rule)


def emit(em: _Emitter, rule: RequireFieldsRule) -> dict[str, Any]:
    return {"on": em.on(rule.on), "when": em.expr(rule.when),
            "fields": [[label, em.expr(e)] for label, e in rule.fields]}


def conditions(rule: RequireFieldsRule) -> Iterator[Condition]:
    yield from when_condition(rule.when, rule.on)
    for _label, expr in rule.fields:
        yield "fields", expr, rule.on



# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["on", "fields"],
    "properties": {
        "on": ON,
        "when": WHEN,
        "fields": {
            "description": "Data fields (or state.NAME) that must be filled.",
            "type": "array",
            "minItems": 1,
            "items": {"type": "string"},
        },
    },
}

KIND = RuleKind("require_fields", RequireFieldsRule, SCHEMA, compile_rule, prepare, emit, conditions,
                on_types)
