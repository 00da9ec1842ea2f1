"""declare: a Declare template over a case's events, with MP-Declare conditions and time windows.

A template names how *activations* (``activation``: events of some types that meet a condition) and
*targets* (``target``: events of some types; its ``when`` also sees ``activation``, the activation it is
paired with, for correlation conditions such as ``event.data.order == activation.data.order``) must stand to
each other in a case. An activation and a target *correlate* when the target's ``when`` holds for that pair
and the time between them is inside ``window`` (``min``/``max``; timed Declare).

Every template is a few of these parts (:data:`TEMPLATES`):

- counts: at least ``n`` activations (liveness) and at most ``n`` (or ``n - 1``) of them;
- ``init``: the case's first event is an activation; ``last``: its last one is (liveness);
- *forward*: each activation needs a correlating target later, earlier, anywhere, next or just before it
  (``alternate``: with no other activation between them);
- *backward*: each target needs a correlating activation earlier, anywhere or just before it
  (``alternate``: with no other target between them);
- *never*: no activation and target correlate anywhere, with the target later, or next.

A safety part is a violation at the event that breaks it. A liveness part still open after the case's last
event (an activation with no target yet, too few activations, a last event that is not an activation) is
pending: a next action while the case may go on, a violation once it has ended (``pack.complete``,
``--cases-complete``: Declare's reading of a finished trace), or at its deadline (``window.max``) when that
passed first. Messages and actions see ``event``: the event the finding is about.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

from ..errors import Code, Diagnostic, Severity
from ..findings import MAX_EVIDENCE, Pending
from ..rulebase import Match, Rule
from ._base import YAML_KEY, Condition, Path, RuleKind
from ._common import compile_text, duration_key, expression_key, gate, optional_template, text_key

if TYPE_CHECKING:
    from .._yaml import YamlDocument
    from ..compiler import _Work
    from ..evaluator import CaseRun, Evaluator, Plan
    from ..events import Event
    from ..expr import Template
    from ..model import Pack
    from ..native import _Emitter

# Where a partner must stand relative to the event that needs it (or, for never, the target to the activation).
LATER, EARLIER, ANYWHERE, NEXT, PREV = "later", "earlier", "anywhere", "next", "prev"


@dataclass(frozen=True)
class Shape:
    """A template as parts (see the module's text); the native core holds the same table."""

    at_least: bool = False  # at least n activations
    at_most: int | None = None  # at most n + at_most activations
    init: bool = False
    last: bool = False
    forward: str | None = None
    backward: str | None = None
    alternate: bool = False
    never: str | None = None

    @property
    def binary(self) -> bool:
        return bool(self.forward or self.backward or self.never)

    @property
    def counts(self) -> bool:
        return self.at_least or self.at_most is not None

    @property
    def every_event(self) -> bool:
        """Its step runs at every event of a case (it reads the first, the last or the previous one)."""
        return self.at_least or self.init or self.last or NEXT in (self.forward, self.never) or \
            PREV in (self.forward, self.backward)


TEMPLATES: Mapping[str, Shape] = {
    "existence": Shape(at_least=True),
    "absence": Shape(at_most=-1),
    "exactly": Shape(at_least=True, at_most=0),
    "init": Shape(init=True),
    "last": Shape(last=True),
    "responded_existence": Shape(forward=ANYWHERE),
    "coexistence": Shape(forward=ANYWHERE, backward=ANYWHERE),
    "response": Shape(forward=LATER),
    "precedence": Shape(forward=EARLIER),
    "succession": Shape(forward=LATER, backward=EARLIER),
    "alternate_response": Shape(forward=LATER, alternate=True),
    "alternate_precedence": Shape(forward=EARLIER, alternate=True),
    "alternate_succession": Shape(forward=LATER, backward=EARLIER, alternate=True),
    "chain_response": Shape(forward=NEXT),
    "chain_precedence": Shape(forward=PREV),
    "chain_succession": Shape(forward=NEXT, backward=PREV),
    "not_coexistence": Shape(never=ANYWHERE),
    "not_succession": Shape(never=LATER),
    "not_chain_succession": Shape(never=NEXT),
}


@dataclass(frozen=True)
class DeclareRule(Rule):
    template: str = ""
    activation: Match = field(default_factory=lambda: Match(frozenset()))
    target: Match | None = None
    n: int = 1
    least: float = field(default=0.0, metadata={YAML_KEY: "window"})  # window: {min, max}
    most: float | None = field(default=None, metadata={YAML_KEY: None})
    action: Template | None = None
    shape: Shape = field(default_factory=Shape, metadata={YAML_KEY: None})  # the template's parts, looked up once


def compile_rule(work: _Work, doc: YamlDocument, p: Path, raw: Mapping[str, Any],
                 common: dict[str, Any]) -> DeclareRule:
    name = raw["template"]
    shape = TEMPLATES[name]
    activation = work.match(raw["activation"], doc, p + ("activation",))
    target = None
    if shape.binary:
        if "target" not in raw:
            work.error(Code.SCHEMA, f"template {name} relates two kinds of event: it needs a target",
                       doc.loc(p + ("template",)))
        else:
            target = work.match(raw["target"], doc, p + ("target",), trigger=activation.on,
                                trigger_name="activation")
    for key, allowed in (("target", shape.binary), ("window", shape.binary), ("n", shape.counts)):
        if key in raw and not allowed:
            work.error(Code.SCHEMA, f"template {name} takes no {key}", doc.loc(p + (key,)))
    window = raw.get("window") or {}
    least = work.duration(window.get("min"), doc.loc(p + ("window", "min"))) or 0.0
    most = work.duration(window.get("max"), doc.loc(p + ("window", "max")))
    if most is not None and least > most:
        work.error(Code.BAD_DURATION, "window: min is longer than max", doc.loc(p + ("window",)))
    scope = work.scope(event=work.events)
    common["message"] = compile_text(work, doc, p, raw, "message", scope)
    action = compile_text(work, doc, p, raw, "action", scope) if "action" in raw else None
    return DeclareRule(**common, template=name, activation=activation, target=target, n=int(raw.get("n", 1)),
                       least=least, most=most, action=action, shape=shape)


# -- evaluate ---------------------------------------------------------------------
class _Trace:
    """What a declare rule keeps of a case."""

    __slots__ = ("count", "first", "seen", "prev", "prev_act", "acts", "tgts", "wait_fwd", "wait_bwd")

    def __init__(self, e: Event) -> None:
        self.count = 0  # activations so far
        self.first: list[str] = []  # ids of the first MAX_EVIDENCE activations
        self.seen = e  # the first event of the case the rule saw
        self.prev: Event | None = None  # the event before this one
        self.prev_act = False  # it was an activation
        self.acts: list[Event] = []  # activations a target may still need (backward, never)
        self.tgts: list[Event] = []  # targets an activation may still need (forward earlier/anywhere, never)
        self.wait_fwd: list[Event] = []  # activations still waiting for a target
        self.wait_bwd: list[Event] = []  # targets still waiting for an activation


def check(ev: Evaluator, run: CaseRun, rule: DeclareRule, e: Event) -> None:
    if rule.gated and not ev.applies(run, rule, e):
        return
    trace: _Trace | None = run.memory.get(rule.id)
    first = trace is None
    if trace is None:
        trace = run.memory[rule.id] = _Trace(e)
    sh = rule.shape
    et = ev.plan.matched(e.type)
    is_act = et in rule.activation.on and bool(ev.test(run, rule, rule.activation.when, e))
    is_tgt = rule.target is not None and et in rule.target.on
    if rule.most is not None and (trace.wait_fwd or trace.wait_bwd):
        _expire(ev, run, rule, trace, e.time)
    if sh.counts and is_act:
        _count(ev, run, rule, trace, e)
    if sh.init and first:
        if is_act:
            ev.held(run, rule)
        else:
            _violate(ev, run, rule, e, (e.id,))
    if sh.forward is not None:
        _forward(ev, run, rule, trace, e, is_act, is_tgt)
    if sh.backward is not None:
        _backward(ev, run, rule, trace, e, is_act, is_tgt)
    if sh.never is not None:
        _never(ev, run, rule, trace, e, is_act, is_tgt)
    trace.prev, trace.prev_act = e, is_act


def _violate(ev: Evaluator, run: CaseRun, rule: DeclareRule, subject: Event, ids: tuple[str, ...],
             time: float | None = None, more: int = 0) -> None:
    message = rule.message.render(subject, run.state, None, None, ev.runtime)
    ev.violate(run, rule, subject.time if time is None else time, message, ids, more)


def _pairs(ev: Evaluator, run: CaseRun, rule: DeclareRule, act: Event, tgt: Event) -> bool:
    """Whether an activation and a target correlate: the target's condition and the window."""
    gap = abs(tgt.time - act.time)
    if gap < rule.least or (rule.most is not None and gap > rule.most):
        return False
    assert rule.target is not None
    return bool(ev.test(run, rule, rule.target.when, tgt, act))


def _expire(ev: Evaluator, run: CaseRun, rule: DeclareRule, trace: _Trace, t: float) -> None:
    """What waits past ``window.max`` can no longer be met: a violation at its deadline."""
    most = rule.most
    assert most is not None
    for name in ("wait_fwd", "wait_bwd"):
        waiting: list[Event] = getattr(trace, name)
        keep = []
        for x in waiting:
            if x.time + most < t:
                _violate(ev, run, rule, x, (x.id,), x.time + most)
            else:
                keep.append(x)
        setattr(trace, name, keep)


def _count(ev: Evaluator, run: CaseRun, rule: DeclareRule, trace: _Trace, e: Event) -> None:
    """An activation counted: past the most allowed, a violation citing it and the first ones (as at_most)."""
    most = rule.shape.at_most
    trace.count += 1
    if most is not None and trace.count > rule.n + most:
        cited = (e.id, *trace.first[:MAX_EVIDENCE - 1])
        _violate(ev, run, rule, e, cited, more=trace.count - len(cited))
    else:
        ev.held(run, rule)
    if len(trace.first) < MAX_EVIDENCE:
        trace.first.append(e.id)


def _forward(ev: Evaluator, run: CaseRun, rule: DeclareRule, trace: _Trace, e: Event, is_act: bool,
             is_tgt: bool) -> None:
    """Each activation needs a correlating target (where the template says)."""
    sh = rule.shape
    where = sh.forward
    if where in (LATER, ANYWHERE):
        if is_tgt and trace.wait_fwd:
            trace.wait_fwd = _unmet(ev, run, rule, trace.wait_fwd, lambda a: _pairs(ev, run, rule, a, e))
        if is_act:
            if where == ANYWHERE:
                if _find(trace.tgts, lambda t: _pairs(ev, run, rule, e, t)) is not None:
                    ev.held(run, rule)
                else:
                    trace.wait_fwd.append(e)
            else:
                if sh.alternate:
                    for a in trace.wait_fwd:  # another activation came first
                        _violate(ev, run, rule, a, (a.id, e.id), e.time)
                    trace.wait_fwd = []
                trace.wait_fwd.append(e)
        if is_tgt and where == ANYWHERE:
            trace.tgts.append(e)
    elif where == EARLIER:
        _earlier(ev, run, rule, e, is_act, is_tgt, trace.tgts, lambda t: _pairs(ev, run, rule, e, t))
    elif where == NEXT:
        if trace.wait_fwd:
            a = trace.wait_fwd.pop()
            if is_tgt and _pairs(ev, run, rule, a, e):
                ev.held(run, rule)
            else:
                _violate(ev, run, rule, a, (a.id, e.id), e.time)
        if is_act:
            trace.wait_fwd.append(e)
    elif is_act:  # PREV
        p = trace.prev
        met = p is not None and rule.target is not None and ev.plan.matched(p.type) in rule.target.on
        if met and p is not None and _pairs(ev, run, rule, e, p):
            ev.held(run, rule)
        else:
            _violate(ev, run, rule, e, (e.id,) if p is None else (e.id, p.id))


def _backward(ev: Evaluator, run: CaseRun, rule: DeclareRule, trace: _Trace, e: Event, is_act: bool,
              is_tgt: bool) -> None:
    """Each target needs a correlating activation (where the template says)."""
    sh = rule.shape
    where = sh.backward
    if where == ANYWHERE:
        if is_act and trace.wait_bwd:
            trace.wait_bwd = _unmet(ev, run, rule, trace.wait_bwd, lambda t: _pairs(ev, run, rule, e, t))
        if is_tgt:
            if _find(trace.acts, lambda a: _pairs(ev, run, rule, a, e)) is not None:
                ev.held(run, rule)
            else:
                trace.wait_bwd.append(e)
        if is_act:
            trace.acts.append(e)
    elif where == EARLIER:
        _earlier(ev, run, rule, e, is_tgt, is_act, trace.acts, lambda a: _pairs(ev, run, rule, a, e))
    elif is_tgt:  # PREV
        p = trace.prev
        if p is not None and trace.prev_act and _pairs(ev, run, rule, p, e):
            ev.held(run, rule)
        else:
            _violate(ev, run, rule, e, (e.id,) if p is None else (e.id, p.id))


def _earlier(ev: Evaluator, run: CaseRun, rule: DeclareRule, e: Event, needs: bool, offers: bool,
             partners: list[Event], pairs: Callable[[Event], bool]) -> None:
    """``e`` needs an earlier partner among ``partners`` (alternate: since the last one that needed one), then
    is one itself: forward, an activation needs a target; backward, a target an activation."""
    if needs:
        if _find(partners, pairs) is not None:
            ev.held(run, rule)
        else:
            _violate(ev, run, rule, e, (e.id,))
        if rule.shape.alternate:
            partners.clear()
    if offers:
        partners.append(e)


def _never(ev: Evaluator, run: CaseRun, rule: DeclareRule, trace: _Trace, e: Event, is_act: bool,
           is_tgt: bool) -> None:
    """No activation and target correlate (where the template says); one violation per event at most."""
    where = rule.shape.never
    if where == NEXT:
        if is_tgt:
            p = trace.prev
            if p is not None and trace.prev_act and _pairs(ev, run, rule, p, e):
                _violate(ev, run, rule, e, (e.id, p.id))
            else:
                ev.held(run, rule)
        return
    partner: Event | None = None
    if is_tgt:
        partner = _find(trace.acts, lambda a: _pairs(ev, run, rule, a, e))
    if partner is None and is_act and where == ANYWHERE:
        partner = _find(trace.tgts, lambda t: _pairs(ev, run, rule, e, t))
    if partner is not None:
        _violate(ev, run, rule, e, (e.id, partner.id))
    elif is_tgt or (is_act and where == ANYWHERE):
        ev.held(run, rule)
    if is_act:
        trace.acts.append(e)
    if is_tgt and where == ANYWHERE:
        trace.tgts.append(e)


def _find(events: list[Event], pairs: Callable[[Event], bool]) -> Event | None:
    """The latest of ``events`` that pairs with the one at hand."""
    for x in reversed(events):
        if pairs(x):
            return x
    return None


def _unmet(ev: Evaluator, run: CaseRun, rule: DeclareRule, waiting: list[Event],
           pairs: Callable[[Event], bool]) -> list[Event]:
    """Those of ``waiting`` the event at hand does not meet (each met one held)."""
    keep = []
    for x in waiting:
        if pairs(x):
            ev.held(run, rule)
        else:
            keep.append(x)
    return keep


def _waits(rule: DeclareRule, trace: _Trace | None) -> list[tuple[Event, tuple[str, ...], float | None]]:
    """What the rule waits for after the case's events so far: (the event it is about, evidence, deadline)."""
    if trace is None:
        return []
    sh = rule.shape
    out: list[tuple[Event, tuple[str, ...], float | None]] = []
    if sh.at_least and trace.count < rule.n:
        out.append((trace.seen, tuple(trace.first) or (trace.seen.id,), None))
    if sh.last and trace.prev is not None and not trace.prev_act:
        out.append((trace.prev, (trace.prev.id,), None))
    for x in (*trace.wait_fwd, *trace.wait_bwd):
        out.append((x, (x.id,), None if rule.most is None else x.time + rule.most))
    return out


def waits(run: CaseRun, rule: DeclareRule) -> bool:
    return bool(_waits(rule, run.memory.get(rule.id)))


def pending(ev: Evaluator, run: CaseRun, rule: DeclareRule, columns: tuple[tuple[str, Any], ...]) -> list[Pending]:
    """What the rule still waits for after the case's last event."""
    out = []
    for subject, ids, due in _waits(rule, run.memory.get(rule.id)):
        message = rule.message.render(subject, run.state, None, None, ev.runtime)
        action = rule.action.render(subject, run.state, None, None, ev.runtime) if rule.action else message
        out.append(Pending(rule.id, run.case, rule.severity, action, message, subject.time, subject.time, due, None,
                           ids, columns, accountable=ev.accountable(run, rule), last=run.last[0]))
    return out


def prepare(plan: Plan, rule: DeclareRule) -> None:
    types = plan.types if rule.shape.every_event else event_types(rule)
    for t in types:
        plan.types[t].checks.append((check, rule))
    plan.open_ended.append(rule)


# -- native plan and lint -----------------------------------------------------------
def emit(em: _Emitter, rule: DeclareRule) -> dict[str, Any]:
    return dict(template=rule.template, activation=em.match(rule.activation),
                target=None if rule.target is None else em.match(rule.target), n=rule.n, min=rule.least,
                max=rule.most, action=em.template(rule.action))


def conditions(rule: DeclareRule) -> Iterator[Condition]:
    for name, m in (("activation", rule.activation), ("target", rule.target)):
        if m is not None and m.when is not None:
            yield f"{name}.when", m.when, m.on


def event_types(rule: DeclareRule) -> frozenset[str]:
    return rule.activation.on | (rule.target.on if rule.target is not None else frozenset())


def templates(rule: DeclareRule) -> Iterator[Template]:
    return optional_template(rule.action)


def notes(rule: DeclareRule, pack: Pack) -> Iterator[Diagnostic]:
    """Declare's traps: liveness that can never be late, and activations that are their own targets."""
    sh = rule.shape
    live = sh.at_least or sh.last or sh.forward in (LATER, ANYWHERE, NEXT) or sh.backward == ANYWHERE
    if live and rule.most is None and not pack.completion_for(rule):
        yield Diagnostic(Code.NEVER_LATE, f"rule {rule.id} ({rule.template}) waits with no deadline (window.max) in "
                         "a pack that does not say when a case has ended (pack.complete, or the rule's complete): "
                         "what it waits for can only ever be a next action. Declare pack.complete, or audit a "
                         "finished log with --cases-complete", rule.location, Severity.INFO, rule.id)
    target = rule.target
    ordered = sh.forward in (LATER, EARLIER, NEXT, PREV) or sh.backward in (EARLIER, PREV)
    if target is None or not ordered or rule.activation.when is not None or target.when is not None:
        return
    both = sorted(rule.activation.on & target.on)
    if both:
        first = sh.forward in (EARLIER, PREV)
        yield Diagnostic(Code.SELF_TARGET, f"rule {rule.id} ({rule.template}): {', '.join(repr(t) for t in both)} "
                         f"is both activation and target, and an event does not meet itself: the "
                         f"{'first' if first else 'last'} such event of every case can never be met", rule.location,
                         Severity.WARNING, rule.id)


def _match(description: str, when: str) -> dict[str, Any]:
    return {
        "description": description,
        "type": "object",
        "additionalProperties": False,
        "required": ["on"],
        "properties": {"on": {"$ref": "#/$defs/eventTypes"}, "when": expression_key(when)},
    }


# This kind's branch of schemas/sop-file.schema.json ($defs.rule.allOf): the keys it requires, and every key
# it takes besides those of every rule.
SCHEMA: dict[str, Any] = {
    "required": ["template", "activation"],
    "properties": {
        "template": {
            "description": "The Declare template (see docs/process-mining.md for each one's reading).",
            "enum": list(TEMPLATES),
        },
        "activation": _match("The activations: events of these types that meet the condition.",
                             "Activation condition (sees event, data, state, params)."),
        "target": _match("The targets (templates that relate two kinds of event).",
                         "Target and correlation condition: sees event (the target), activation (the activation "
                         "it is paired with), state, params."),
        "n": {"description": "How many activations existence (at least), absence (fewer than) and exactly count.",
              "type": "integer", "minimum": 1},
        "window": {
            "description": "Timed Declare: the time between an activation and its target is at least min and at "
                           "most max (templates that relate two kinds of event).",
            "type": "object",
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {"min": duration_key("The shortest time between them."),
                           "max": duration_key("The longest time between them: a deadline for what waits.")},
        },
        "action": text_key("The next action while the rule waits (default: the message), with {expression} "
                           "placeholders over event, the event it waits on."),
    },
}

KIND = RuleKind("declare", DeclareRule, SCHEMA, compile_rule, prepare, emit, conditions, event_types,
                templates=templates, notes=notes)
