"""Lint: every check of ``validate`` plus semantic checks on a pack that compiles.

Checks are a tuple of small named functions, each yielding diagnostics with a
stable code; all findings are reported, not only the first. A finding can be
suppressed only in the YAML (``suppress:`` with a reason), and the reason is
carried into every output.
"""

from __future__ import annotations

import ast
import itertools
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Iterator, Mapping

from .compiler import compile_pack
from .errors import Code, Diagnostic, DiagnosticSink, PackError, Severity
from .expr import Expr, Template
from .limits import DEFAULT, Limits
from .kinds import kind_of
from .model import Pack, Rule
from .pack import load_documents
from .rulebase import UNDECLARED, public_rule
from .timeutil import format_time

_RANK = {Severity.INFO: 0, Severity.WARNING: 1, Severity.ERROR: 2}


@dataclass
class LintReport:
    """Everything lint found in a set of SOP files."""

    files: list[str]
    diagnostics: list[Diagnostic] = field(default_factory=list)
    pack: Pack | None = None

    def active(self) -> list[Diagnostic]:
        """Findings that are not suppressed."""
        return [d for d in self.diagnostics if d.suppressed is None]

    def failed(self, fail_on: str = "error") -> bool:
        if fail_on == "never":
            return False
        threshold = _RANK[Severity(fail_on)]
        return any(_RANK[d.severity] >= threshold for d in self.active())

    def counts(self) -> dict[str, int]:
        out = {"error": 0, "warning": 0, "info": 0, "suppressed": 0}
        for d in self.diagnostics:
            out["suppressed" if d.suppressed is not None else d.severity.value] += 1
        return out

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "summary": self.counts(), "diagnostics": [d.to_json() for d in self.diagnostics]}


# ------------------------------------------------------------------ walking a compiled pack
def _conditions(rule: Rule) -> Iterator[tuple[str, Expr, frozenset[str]]]:
    """(what, expression, event types it sees) for every condition of a rule."""
    if rule.applies is not None:
        yield "applies_when", rule.applies, frozenset()
    yield from kind_of(rule).conditions(rule)


def _templates(rule: Rule) -> Iterator[Template]:
    yield rule.message
    yield from kind_of(rule).templates(rule)


def _all_exprs(pack: Pack) -> Iterator[Expr]:
    for rule in (*pack.rules, *pack.disabled):
        for _what, expr, _on in _conditions(rule):
            yield expr
        for template in _templates(rule):
            yield from (p for p in template.parts if isinstance(p, Expr))
    for var in pack.state:
        for up in var.updates:
            yield from (e for e in (up.when, up.value) if e is not None)
    for index in pack.indexes.values():
        yield index.member
        yield index.key
        yield from (e for _, e in index.attributes)


# ------------------------------------------------------------------ checks
def check_unused(pack: Pack) -> Iterator[Diagnostic]:
    """Declarations nothing reads: state, parameters, facts collections, indexes, event types."""
    state_reads: set[str] = set()
    param_reads: set[str] = set(pack.duration_params)
    fact_reads: set[str] = set()
    for var in pack.state:
        for up in var.updates:
            for e in (up.when, up.value):
                if e is not None:
                    state_reads |= e.state_refs - {var.name}
                    param_reads |= e.param_refs
                    fact_reads |= e.fact_refs
    for expr in _all_exprs(pack):
        state_reads |= expr.state_refs
        param_reads |= expr.param_refs
        fact_reads |= expr.fact_refs
    param_reads |= {c.param for c in pack.conflicts if c.param}
    for var in pack.state:
        if var.name not in state_reads:
            yield Diagnostic(Code.UNUSED_STATE, f"state '{var.name}' is never read by a rule or index; "
                             "remove it or use it", var.location, Severity.WARNING, var.name)
    for name, spec in pack.param_specs.items():
        if name not in param_reads:
            yield Diagnostic(Code.UNUSED_PARAM, f"parameter '{name}' is never used; remove it or use it",
                             spec.location, Severity.WARNING, name)
    for name, coll in pack.facts.items():
        if name not in fact_reads:
            yield Diagnostic(Code.UNUSED_FACTS, f"facts collection '{name}' is never looked up; remove it or use it",
                             coll.location, Severity.WARNING, name)
    used_indexes = frozenset().union(*(kind_of(r).indexes(r) for r in (*pack.rules, *pack.disabled)))
    for name, index in pack.indexes.items():
        if name not in used_indexes:
            yield Diagnostic(Code.UNUSED_INDEX, f"index '{name}' is searched by no cross_case rule",
                             index.location, Severity.WARNING, name)
    used_types: set[str] = set()
    for rule in (*pack.rules, *pack.disabled):
        used_types |= kind_of(rule).event_types(rule)
    for var in pack.state:
        for up in var.updates:
            used_types |= up.on
    if pack.reconcile is not None:
        used_types.add(pack.reconcile.event)
    for name, et in pack.events.items():
        if name not in used_types:
            yield Diagnostic(Code.UNUSED_EVENT, f"event type '{name}' is used by no rule or state update "
                             "(fine for vocabulary kept for completeness)", et.location, Severity.INFO, name)


def _chain(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr.removesuffix("__kw"))
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    name = ".".join(reversed(parts))
    return name.removeprefix("event.")


_MISSING = object()


def _value(node: ast.expr, params: Mapping[str, Any]) -> Any:
    """A constant (literal or parameter) as a Python value, or _MISSING."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name) and node.id in ("true", "false", "null"):
        return {"true": True, "false": False, "null": None}[node.id]
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
        items = [_value(e, params) for e in node.elts]
        return _MISSING if any(i is _MISSING for i in items) else tuple(items)
    name = _chain(node)
    if name and name.startswith("params.") and name[7:] in params:
        return params[name[7:]]
    return _MISSING


def _allowed(node: ast.expr, params: Mapping[str, Any]) -> tuple[str, frozenset[Any]] | None:
    """For ``X == c`` or ``X in (c1, c2)``: (X, allowed values)."""
    if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
        return None
    target = _chain(node.left)
    if target is None or not (target.startswith("data.") or target.startswith("state.")):
        return None
    value = _value(node.comparators[0], params)
    if value is _MISSING:
        return None
    op = node.ops[0]
    try:
        if isinstance(op, ast.Eq):
            return target, frozenset([value])
        if isinstance(op, ast.In) and isinstance(value, (tuple, list)):
            return target, frozenset(value)
    except TypeError:
        return None
    return None


def _conjuncts(node: ast.expr | None) -> list[ast.expr]:
    if node is None:
        return []
    if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.And):
        out: list[ast.expr] = []
        for v in node.values:
            out.extend(_conjuncts(v))
        return out
    return [node]


def _constraints(expr: Expr | None, params: Mapping[str, Any]) -> dict[str, frozenset[Any]]:
    """What a condition demands of fields, from its top-level 'and' of equalities and memberships."""
    out: dict[str, frozenset[Any]] = {}
    for node in _conjuncts(expr.tree if expr else None):
        found = _allowed(node, params)
        if found:
            target, allowed = found
            out[target] = out[target] & allowed if target in out else allowed
    return out


def _enum_of(pack: Pack, field_name: str, types: Iterable[str]) -> frozenset[Any] | None:
    values: set[Any] = set()
    seen = False
    for t in types:
        spec = pack.events[t].fields.get(field_name) if t in pack.events else None
        if spec is None:
            continue
        if spec.enum is None:
            return None
        seen = True
        values.update(spec.enum)
    return frozenset(values) if seen else None


_VALUES = ("key", "within", "calendar")  # expressions a rule reads a value of, not a truth


def check_conditions(pack: Pack) -> Iterator[Diagnostic]:
    """Conditions that can never hold or always hold: constants, values outside a field's enum, contradictions."""
    for rule in (*pack.rules, *pack.disabled):
        for what, expr, types in _conditions(rule):
            if expr.constant and what in _VALUES:
                continue  # a constant value is odd, but neither always nor never holds
            if expr.constant:
                try:
                    value = bool(expr.fn(None, None, None, None, None))
                except Exception:  # noqa: BLE001 - a constant that fails to evaluate is left to run time
                    continue
                code = Code.ALWAYS_HOLDS if value else Code.NEVER_HOLDS
                yield Diagnostic(code, f"{what} '{expr.text}' is constant: it {'always' if value else 'never'} "
                                 "holds", expr.location, Severity.WARNING, rule.id)
                continue
            yield from _enum_findings(pack, rule, what, expr, types)
            constraints: dict[str, set[Any]] = {}
            for node in _conjuncts(expr.tree):
                found = _allowed(node, pack.params)
                if not found:
                    continue
                target, allowed = found
                if target in constraints and not constraints[target] & allowed:
                    yield Diagnostic(Code.NEVER_HOLDS, f"{what} '{expr.text}' never holds: it asks {target} to be "
                                     f"{_show(constraints[target])} and {_show(allowed)} at once",
                                     expr.location, Severity.WARNING, rule.id)
                    break
                constraints[target] = set(allowed) & constraints.get(target, set(allowed))


def _enum_findings(pack: Pack, rule: Rule, what: str, expr: Expr, types: frozenset[str]) -> Iterator[Diagnostic]:
    if expr.tree is None:
        return
    for node in ast.walk(expr.tree):
        if not (isinstance(node, ast.Compare) and len(node.ops) == 1):
            continue
        target = _chain(node.left)
        if not target or not target.startswith("data."):
            continue
        enum = _enum_of(pack, target[5:], types)
        value = _value(node.comparators[0], pack.params)
        if enum is None or value is _MISSING:
            continue
        op = node.ops[0]
        values = set(value) if isinstance(op, (ast.In, ast.NotIn)) and isinstance(value, tuple) else {value}
        if values & enum:
            continue
        holds = isinstance(op, (ast.NotEq, ast.NotIn))
        if isinstance(op, (ast.Eq, ast.NotEq, ast.In, ast.NotIn)):
            code = Code.ALWAYS_HOLDS if holds else Code.NEVER_HOLDS
            yield Diagnostic(code, f"in {what}, {ast.unparse(node).replace('__kw', '')} "
                             f"{'always' if holds else 'never'} holds: {target} is one of {_show(enum)}",
                             expr.location, Severity.WARNING, rule.id)


def _show(values: Iterable[Any]) -> str:
    return ", ".join(repr(v) for v in sorted(values, key=str))


def _dump(expr: Expr | None) -> str:
    return ast.dump(expr.tree) if expr is not None and expr.tree is not None else ""


def check_required_and_forbidden(pack: Pack) -> Iterator[Diagnostic]:
    """An event that one rule forbids and another requires, under the same condition."""
    required = [(rule, how, match) for rule in pack.rules for how, match in kind_of(rule).required(rule)]
    for rule in pack.rules:
        forbidden = kind_of(rule).forbidden(rule)
        if forbidden is None:
            continue
        for other, how, match in required:
            common = (forbidden.on & match.on) - {UNDECLARED}
            if not common or (other.sop == rule.sop and other.version != rule.version):
                continue  # two versions of a SOP: a case is judged by one (check_versions)
            when = forbidden.when
            if when is None or _dump(when) == _dump(match.when):
                types = ", ".join(sorted(common))
                yield Diagnostic(Code.REQUIRED_AND_FORBIDDEN,
                                 f"{rule.id} forbids {types}{' when ' + when.text if when else ''}, "
                                 f"but {other.id} {how} it under the same condition; one of them must change",
                                 rule.location, Severity.ERROR, rule.id)


def check_sop_conflicts(pack: Pack) -> Iterator[Diagnostic]:
    """Rules of different SOPs that demand incompatible values of the same field at the same event."""
    demands: list[tuple[Rule, frozenset[str], dict[str, frozenset[Any]], dict[str, frozenset[Any]]]] = []
    for rule in pack.rules:
        demand = kind_of(rule).demand(rule)
        if demand is not None:
            on, preconditions, require = demand
            context: dict[str, frozenset[Any]] = {}
            for expr in preconditions:
                context.update(_constraints(expr, pack.params))
            demands.append((rule, on, context, _constraints(require, pack.params)))
    declared = {frozenset(c.rules): c for c in pack.conflicts}
    for i, (a, a_on, a_ctx, a_req) in enumerate(demands):
        for b, b_on, b_ctx, b_req in demands[i + 1:]:
            if a.sop == b.sop or not a_on & b_on:
                continue
            if any(k in b_ctx and not a_ctx[k] & b_ctx[k] for k in a_ctx):
                continue  # their preconditions exclude each other
            for target in sorted(set(a_req) & set(b_req)):
                if a_req[target] & b_req[target]:
                    continue
                if any({a.id, b.id} <= rules or {a.public_id, b.public_id} <= rules for rules in declared):
                    continue  # declared, reported below with its resolution
                yield Diagnostic(Code.SOP_CONFLICT,
                                 f"{a.id} requires {target} in {_show(a_req[target])} but {b.id} requires "
                                 f"{_show(b_req[target])} of the same {', '.join(sorted(a_on & b_on))} event; "
                                 "resolve it (for example a parameter both rules read) and declare it under "
                                 "'conflicts:'", b.location, Severity.ERROR, b.id)
    for c in pack.conflicts:
        yield Diagnostic(Code.SOP_CONFLICT_RESOLVED, f"conflict '{c.id}' between {', '.join(c.rules)} is resolved "
                         f"by {c.resolved_by(pack.params)}: {c.reason}", c.location, Severity.INFO, c.id)


def check_versions(pack: Pack) -> Iterator[Diagnostic]:
    """The versions of each SOP, in order of coming into force: two in force at once (a case created then is
    judged by both, each finding twice: an error), a time between them when none is (a case created then is
    judged by no version of the SOP: a warning, as it may be meant, e.g. a SOP suspended for a while)."""
    for sop in pack.sops.values():
        versions = sop.versions
        for i, b in enumerate(versions):
            for a in versions[:i]:
                if a.end is None or a.end > b.start:
                    ends = [t for t in (a.end, b.end) if t is not None]
                    yield Diagnostic(Code.VERSION_OVERLAP,
                                     f"versions {a.version} and {b.version} of SOP {sop.id} are both in force "
                                     f"{_between(b.start, min(ends) if ends else None)}; a case created then is "
                                     f"judged by both. End {a.version} (effective.until) where {b.version} begins",
                                     b.location, Severity.ERROR, sop.id)
            earlier = versions[:i]
            if earlier and all(a.end is not None for a in earlier):
                last = max(earlier, key=lambda a: a.end or 0.0)
                if last.end is not None and last.end < b.start:
                    yield Diagnostic(Code.VERSION_GAP,
                                     f"no version of SOP {sop.id} is in force {_between(last.end, b.start)} (after "
                                     f"{last.version}, before {b.version}); a case created then is judged by none "
                                     "of its rules", b.location, Severity.WARNING, sop.id)


def _between(start: float, end: float | None) -> str:
    return f"from {format_time(start)}" + (f" until {format_time(end)}" if end is not None else " on")


def check_kinds(pack: Pack) -> Iterator[Diagnostic]:
    """What each rule's kind says of it (:attr:`RuleKind.notes`)."""
    for rule in pack.rules:
        yield from kind_of(rule).notes(rule, pack)


def check_disabled(pack: Pack) -> Iterator[Diagnostic]:
    for rule in pack.disabled:
        yield Diagnostic(Code.RULE_DISABLED, f"rule {rule.id} is disabled: {rule.disabled}", rule.location,
                         Severity.INFO, rule.id)


CHECKS: tuple[tuple[str, Callable[[Pack], Iterable[Diagnostic]]], ...] = (
    ("unused declarations", check_unused),
    ("conditions", check_conditions),
    ("required and forbidden", check_required_and_forbidden),
    ("conflicts between SOPs", check_sop_conflicts),
    ("disabled rules", check_disabled),
    ("versions", check_versions),
    ("rule kinds", check_kinds),
)


def _suppress(pack: Pack, diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    out = []
    used: set[int] = set()
    for d in diagnostics:
        for i, sup in enumerate(pack.suppressions):
            targets = (d.subject, public_rule(d.subject)[0])  # a versioned rule's key, or its plain id
            if sup.code == d.code.value and (sup.target is None or sup.target in targets):
                used.add(i)
                d = Diagnostic(d.code, d.message, d.location, d.severity, d.subject, sup.reason)
                break
        out.append(d)
    for i, sup in enumerate(pack.suppressions):
        if i not in used:
            target = f" for '{sup.target}'" if sup.target else ""
            out.append(Diagnostic(Code.UNUSED_SUPPRESSION, f"suppression of '{sup.code}'{target} matches no "
                                  "finding; remove it", sup.location, Severity.WARNING, sup.target or ""))
    return out


PER_CHECK = 500  # findings listed per semantic check; pairwise checks could otherwise list millions


def _bounded(findings: Iterator[Diagnostic]) -> list[Diagnostic]:
    """At most PER_CHECK findings of one check (those beyond are never computed), then one that says so."""
    taken = list(itertools.islice(findings, PER_CHECK))
    if len(taken) == PER_CHECK and next(findings, None) is not None:
        last = taken[-1]
        taken.append(Diagnostic(last.code, f"more {last.code.value} findings were not listed: the first {PER_CHECK} "
                                "are; fix those, the rest likely share their cause", last.location, last.severity,
                                last.subject))
    return taken


def lint(paths: Iterable[str | os.PathLike[str]], params: Mapping[str, str] | None = None,
         limits: Limits = DEFAULT) -> LintReport:
    """Lint SOP files: load, schema, compile, then the semantic checks. Never raises for bad files."""
    paths = list(paths)
    sink = DiagnosticSink(limit=2000)
    docs = load_documents(paths, sink, limits)
    report = LintReport(files=[d.file for d in docs])
    pack = None
    if not sink.errors:
        try:
            pack = compile_pack(docs, params, sink, limits)
        except PackError:
            pack = None
    diagnostics = list(sink.items)
    if pack is not None:
        found: list[Diagnostic] = []
        for _name, check in CHECKS:
            found.extend(_bounded(iter(check(pack))))
        diagnostics.extend(_suppress(pack, found))
        report.pack = pack
    report.diagnostics = sorted(diagnostics, key=lambda d: (d.location.file, d.location.line, d.location.column,
                                                            d.code.value))
    return report

