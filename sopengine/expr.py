"""Conditions and message templates: a small, sandboxed expression language.

Syntax is a subset of Python expressions (comparisons, ``and``/``or``/``not``,
``in``, arithmetic, literals, ``x if c else y`` and calls of a closed set of
functions). An expression is parsed with :mod:`ast`, every node is checked
against a whitelist, every name is resolved against what the place where it is
written may see (declared event fields, state, parameters, facts), and the
result is rewritten into a plain Python lambda and compiled once.

Why not CEL, simpleeval or rule-engine: measured on this machine they cost
11-500 µs a call against well under 1 µs for a compiled lambda, and the audit
evaluates several conditions per event. The sandbox comes from the whitelist,
not from the runtime: user text can reach no attribute, subscript, builtin or
name that this module did not generate, so there is nothing to escape to;
cost is bounded by the size limits below and by refusing ``**`` and sequence
repetition.
"""

from __future__ import annotations

import ast
import heapq
import io
import keyword
import re
import tokenize
import warnings
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

from ._core import native as _NATIVE
from .errors import Code, Diagnostic, Location, did_you_mean
from .limits import DEFAULT, Limits
from .timeutil import format_duration, format_time_strict, parse_duration
from .typecheck import UNKNOWN, Names, Ty, TypeProblem, infer

MAX_INT = 10**15  # the largest number an expression may write or compute by multiplying
MAX_JOINED = 100_000  # the longest text or list '+', replace() or text() of a list may build (20 joins of a 1 MB
#                      field would copy 200 MB; 20 nested replace() of a 262-character text, 10 GB)

EVENT_ATTRS = frozenset({"id", "case", "time", "type", "actor"})

# The callable a compiled expression receives: (event, state, trigger, other, runtime).
Fn = Callable[[Any, Any, Any, Any, Any], Any]


class MissingFact(Exception):
    """A fact a condition needs is not in the facts data; the check is undecided."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Scope:
    """What an expression written at one place may refer to."""

    event_fields: frozenset[str] | None = None  # data fields of `event`/`data`; None: no event here
    trigger_fields: frozenset[str] | None = None  # `trigger` (the event that opened an obligation)
    trigger_name: str = "trigger"  # what expressions call that event here (`activation` in a declare rule)
    other_fields: frozenset[str] | None = None  # `other` (a member of a cross-case index)
    state_vars: frozenset[str] | None = None  # `state.*`; None: no state here
    params: Mapping[str, Any] = field(default_factory=dict)
    facts: Mapping[str, frozenset[str]] = field(default_factory=dict)
    extra: frozenset[str] = frozenset()  # bare names supplied at run time (e.g. `missing`)
    record: bool = False  # an input mapping: `row.FIELD` and field('path') read the input record `E`
    tables: frozenset[str] = frozenset()  # lookup tables an input mapping may name in lookup()
    types: Names | None = None  # the types of the names above, where the pack declares them: checked when given


@dataclass(frozen=True)
class Expr:
    """A compiled expression: its text, where it was written, and the callable."""

    text: str
    location: Location
    fn: Fn = field(repr=False, compare=False)
    state_refs: frozenset[str] = frozenset()
    uses_event: bool = False
    param_refs: frozenset[str] = frozenset()
    fact_refs: frozenset[str] = frozenset()
    data_refs: frozenset[str] = frozenset()  # data fields of `event` it reads
    constant: bool = False  # reads nothing that varies at run time (no event, state, trigger, other, facts)
    tree: ast.expr | None = field(default=None, repr=False, compare=False)  # the user's syntax tree, for lint
    ty: Ty = field(default=UNKNOWN, repr=False, compare=False)  # the kinds of value it can give (typecheck)


# --------------------------------------------------------------------------- helpers
# Every helper tolerates None ("not filled") rather than raising, so that a
# condition over a missing field is simply false.

def _filled(value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, (list, tuple, set, frozenset, dict)):
        return len(value) > 0
    return True


def _in(item: Any, container: Any) -> bool:
    if container is None:
        return False
    try:
        return item in container
    except TypeError:
        return False


def _len(value: Any) -> int:
    return 0 if value is None else len(value)


def _lower(value: Any) -> Any:
    return value.lower() if isinstance(value, str) else value


def _upper(value: Any) -> Any:
    return value.upper() if isinstance(value, str) else value


def _startswith(value: Any, prefix: Any) -> bool:
    return isinstance(value, str) and isinstance(prefix, str) and value.startswith(prefix)


def _endswith(value: Any, suffix: Any) -> bool:
    return isinstance(value, str) and isinstance(suffix, str) and value.endswith(suffix)


def _contains(container: Any, item: Any) -> bool:
    return _in(item, container)


def _as_list(value: Any) -> list[Any]:
    if value is None or value == "":
        return []
    if isinstance(value, (set, frozenset)):  # in a fixed order: a set of text iterates in per-process hash order
        return sorted(value, key=str)
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def _any_in(items: Any, container: Any) -> bool:
    return any(_in(i, container) for i in _as_list(items))


def _all_in(items: Any, container: Any) -> bool:
    return all(_in(i, container) for i in _as_list(items))


def _missing_in(items: Any, container: Any) -> list[Any]:
    return [i for i in _as_list(items) if not _in(i, container)]


def _coalesce(*values: Any) -> Any:
    for v in values:
        if _filled(v):
            return v
    return None


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple, set, frozenset)):
        return ", ".join(str(v) for v in sorted(value, key=str)) if isinstance(value, (set, frozenset)) \
            else ", ".join(str(v) for v in value)
    return str(value)


def _record_text(value: Any) -> str:
    """text() in an input mapping: an object (or a list holding one) has no text of its own; say so rather
    than write its Python form into the event."""
    if isinstance(value, dict) or (isinstance(value, (list, tuple)) and any(isinstance(v, (dict, list))
                                                                           for v in value)):
        keys = value if isinstance(value, dict) else next(v for v in value if isinstance(v, (dict, list)))
        fields = f" (fields: {', '.join(sorted(map(str, keys))[:6])})" if isinstance(keys, dict) else ""
        raise TypeError(f"text() of {'an object' if isinstance(value, dict) else 'a list of objects'}{fields}: "
                        "pick one field of it, e.g. pluck(..., 'value')")
    return _text(value)


def _pluck(value: Any, key: Any) -> Any:
    """An object's ``key`` field; for a list, that field of each object in it (other items kept)."""
    if isinstance(value, dict):
        return get_path(value, key) if isinstance(key, str) else None
    if isinstance(value, (list, tuple)):
        out = [get_path(v, key) if isinstance(v, dict) else v for v in value]
        return [v for v in out if v is not None and v != ""]
    return value


def _duration_text(value: Any) -> Any:
    return format_duration(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _iso(value: Any) -> Any:
    return format_time_strict(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else value


def _num(value: Any) -> float | int:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"arithmetic needs numbers, got {type(value).__name__}")
    number: float | int = value
    return number


def _mul(a: Any, b: Any) -> float | int:
    result = _num(a) * _num(b)
    if isinstance(result, int) and abs(result) > MAX_INT:
        raise OverflowError("number too large")
    return result


def _add(a: Any, b: Any) -> Any:
    if isinstance(a, (str, list, tuple)) and isinstance(b, (str, list, tuple)) and len(a) + len(b) > MAX_JOINED:
        raise OverflowError(f"'+' would build a value of {len(a) + len(b)} items; the limit is {MAX_JOINED}")
    return a + b


def _div(a: Any, b: Any) -> float:
    return _num(a) / _num(b)


def _mod(a: Any, b: Any) -> float | int:
    result: float | int = _num(a) % _num(b)
    return result


def _split(value: Any, sep: Any) -> list[str] | None:
    if value is None or value == "":
        return None  # not filled stays not filled
    if not isinstance(value, str) or not isinstance(sep, str) or not sep:
        return _as_list(value)
    return [part.strip() for part in value.split(sep) if part.strip()]


def _replace(value: Any, old: Any, new: Any) -> Any:
    if isinstance(value, str) and isinstance(old, str) and isinstance(new, str) and old:
        if len(new) > len(old):  # the size is known before the text is built: nested replace() doubles it each time
            size = len(value) + value.count(old) * (len(new) - len(old))
            if size > MAX_JOINED:
                raise OverflowError(f"replace() would build a text of {size} characters; the limit is {MAX_JOINED}")
        return value.replace(old, new)
    return value


def _text_fn(value: Any) -> str:
    """text(): as _text, and a list or set joins to at most MAX_JOINED characters (as '+' builds at most that):
    a list of a few hundred copies of a long field would otherwise build hundreds of megabytes."""
    if isinstance(value, (list, tuple, set, frozenset)) and value:
        size = sum(len(v) if isinstance(v, str) else len(str(v)) for v in value) + 2 * (len(value) - 1)
        if size > MAX_JOINED:
            raise OverflowError(f"text() would build a text of {size} characters; the limit is {MAX_JOINED}")
    return _text(value)


def get_path(record: Any, path: str) -> Any:
    """``record[path]``, else the dotted path walked through nested objects (``fields.priority.name``)."""
    if isinstance(record, list):  # a numeric segment indexes a list: fields.customfield_10002.0.name
        head, _, rest = path.partition(".")
        if not head.isdigit() or int(head) >= len(record):
            return None
        return get_path(record[int(head)], rest) if rest else record[int(head)]
    if not isinstance(record, dict):
        return None
    if path in record:
        return record[path]
    head, dot, rest = path.partition(".")
    while dot:
        if head in record:
            return get_path(record[head], rest)
        more, dot, rest = rest.partition(".")
        head = f"{head}.{more}"
    return None


def _seconds(n: Any) -> float:
    return float(_num(n))


def _minutes(n: Any) -> float:
    return float(_num(n)) * 60.0


def _hours(n: Any) -> float:
    return float(_num(n)) * 3600.0


def _days(n: Any) -> float:
    return float(_num(n)) * 86400.0


@dataclass(frozen=True)
class _Fn:
    impl: Callable[..., Any]
    min_args: int
    max_args: int
    doc: str


FUNCTIONS: dict[str, _Fn] = {
    "filled": _Fn(_filled, 1, 1, "true unless absent, null, '' or an empty list"),
    "len": _Fn(_len, 1, 1, "length of a text or list (0 when not filled)"),
    "lower": _Fn(_lower, 1, 1, "lower-case text"),
    "upper": _Fn(_upper, 1, 1, "upper-case text"),
    "startswith": _Fn(_startswith, 2, 2, "text starts with prefix"),
    "endswith": _Fn(_endswith, 2, 2, "text ends with suffix"),
    "contains": _Fn(_contains, 2, 2, "text or list contains item"),
    "any_in": _Fn(_any_in, 2, 2, "some item of a list is in a text or list"),
    "all_in": _Fn(_all_in, 2, 2, "every item of a list is in a text or list"),
    "missing_in": _Fn(_missing_in, 2, 2, "the items of a list that are not in a text or list"),
    "coalesce": _Fn(_coalesce, 1, 8, "the first filled value"),
    "text": _Fn(_text_fn, 1, 1, "value as text (lists joined with commas)"),
    "iso": _Fn(_iso, 1, 1, "a time as RFC 3339 text"),
    "duration_text": _Fn(_duration_text, 1, 1, "a duration as text, e.g. 2d4h"),
    "seconds": _Fn(_seconds, 1, 1, "a duration of n seconds"),
    "minutes": _Fn(_minutes, 1, 1, "a duration of n minutes"),
    "hours": _Fn(_hours, 1, 1, "a duration of n hours"),
    "days": _Fn(_days, 1, 1, "a duration of n days"),
    "replace": _Fn(_replace, 3, 3, "replace(text, old, new): the text with every old part replaced by new"),
    "split": _Fn(_split, 2, 2, "split(text, separator): the non-empty, trimmed parts of a text"),
    # Compiled specially (arguments checked at compile time):
    "matches": _Fn(_filled, 2, 2, "text matches a regular expression (search)"),
    "duration": _Fn(_filled, 1, 1, "a duration literal such as '6h'"),
    "fact": _Fn(_filled, 3, 3, "fact(collection, id, field): a fact; undecided when missing"),
    "known": _Fn(_filled, 2, 2, "known(collection, id): whether a fact record exists"),
    "findall": _Fn(_filled, 2, 2, "findall(text, pattern): every match (its first group, if any) of a regex"),
    "field": _Fn(get_path, 1, 1, "field('name or dotted.path'): a field of the input record (input mappings)"),
    "lookup": _Fn(_filled, 2, 3, "lookup(table, key[, field]): a value from a lookup table (input mappings)"),
    "pluck": _Fn(_pluck, 2, 2, "pluck(object or list, 'field'): that field of an object, or of each object of a "
                               "list, e.g. the value of select options in an export (input mappings)"),
}
_RECORD_ONLY = ("field", "lookup", "pluck")

_BASE_GLOBALS: dict[str, Any] = {"__builtins__": {}, "_in": _in, "_add": _add, "_mul": _mul, "_div": _div, "_mod": _mod}
_BASE_GLOBALS.update({f"_f_{name}": f.impl for name, f in FUNCTIONS.items()})
_BASE_GLOBALS["_f_record_text"] = _record_text

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.BinOp, ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod,
    ast.Compare, ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.In, ast.NotIn, ast.Is, ast.IsNot,
    ast.IfExp, ast.Call, ast.Name, ast.Load, ast.Attribute, ast.Constant, ast.List, ast.Tuple, ast.Set,
)


class ExprError(Exception):
    def __init__(self, code: Code, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _fail(code: Code, message: str) -> ExprError:
    return ExprError(code, message)


class _Translator:
    """Checks user AST and builds the rewritten AST in one walk."""

    def __init__(self, scope: Scope, limits: Limits):
        self.scope = scope
        self.limits = limits
        self.state_refs: set[str] = set()
        self.param_refs: set[str] = set()
        self.fact_refs: set[str] = set()
        self.data_refs: set[str] = set()
        self.runtime_refs = 0  # references to anything known only at run time
        self.uses_event = False
        self.extra_globals: dict[str, Any] = {}
        self.nodes = 0

    # -- names --------------------------------------------------------------
    def _roots(self) -> list[str]:
        s = self.scope
        roots = ["params"]
        if s.event_fields is not None:
            roots += ["event", "data", "case"]
        if s.trigger_fields is not None:
            roots.append(s.trigger_name)
        if s.other_fields is not None:
            roots.append("other")
        if s.state_vars is not None:
            roots.append("state")
        if s.record:
            roots.append("row")
        roots += sorted(s.extra)
        return roots

    def _chain(self, node: ast.expr) -> list[str] | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
            return parts[::-1]
        return None

    def _event_ref(self, var: str, label: str, fields: frozenset[str], rest: list[str]) -> ast.expr:
        base: ast.expr = ast.Name(var, ast.Load())
        if not rest:
            raise _fail(Code.EXPRESSION_FORBIDDEN,
                        f"'{label}' alone is not a value; use {label}.actor, {label}.time, {label}.data.FIELD ...")
        if rest[0] == "data":
            if len(rest) != 2:
                raise _fail(Code.EXPRESSION_FORBIDDEN, f"write {label}.data.FIELD (one field name)")
            return self._data_get(ast.Attribute(base, "data", ast.Load()), rest[1], fields, f"{label}.data")
        if len(rest) != 1 or rest[0] not in EVENT_ATTRS:
            raise _fail(Code.UNKNOWN_FIELD, f"'{label}.{'.'.join(rest)}' is not an event attribute; "
                        f"events have {', '.join(sorted(EVENT_ATTRS))} and data{did_you_mean(rest[0], EVENT_ATTRS)}")
        return ast.Attribute(base, rest[0], ast.Load())

    @staticmethod
    def _get_call(base: ast.expr, key: str) -> ast.expr:
        return ast.Call(ast.Attribute(base, "get", ast.Load()), [ast.Constant(key)], [])

    def _data_get(self, base: ast.expr, name: str, fields: frozenset[str], label: str) -> ast.expr:
        if name not in fields:
            raise _fail(Code.UNKNOWN_FIELD, f"'{label}.{name}' is not a declared data field of the event "
                        f"type(s) here{did_you_mean(name, fields)}")
        if label in ("data", "event.data"):
            self.data_refs.add(name)
        return self._get_call(base, name)

    def _name(self, parts: list[str]) -> ast.expr:
        if parts[0] == "params":
            if len(parts) == 2:
                self.param_refs.add(parts[1])
        else:
            self.runtime_refs += 1
        root, rest = parts[0], parts[1:]
        s = self.scope
        if root == "row" and s.record:
            if len(rest) != 1:
                raise _fail(Code.EXPRESSION_FORBIDDEN, "write row.FIELD (one field name); field('a.b') for a path")
            return self._get_call(ast.Name("E", ast.Load()), rest[0])
        if root in ("event", "data", "case") and s.event_fields is not None:
            self.uses_event = True
            if root == "case":
                if rest:
                    raise _fail(Code.EXPRESSION_FORBIDDEN, "'case' is the case id; it has no attributes")
                return ast.Attribute(ast.Name("E", ast.Load()), "case", ast.Load())
            if root == "data":
                if len(rest) != 1:
                    raise _fail(Code.EXPRESSION_FORBIDDEN, "write data.FIELD (one field name)")
                return self._data_get(ast.Attribute(ast.Name("E", ast.Load()), "data", ast.Load()),
                                      rest[0], s.event_fields, "data")
            return self._event_ref("E", "event", s.event_fields, rest)
        if root == s.trigger_name and s.trigger_fields is not None:
            return self._event_ref("T", s.trigger_name, s.trigger_fields, rest)
        if root == "state" and s.state_vars is not None:
            if len(rest) != 1:
                raise _fail(Code.EXPRESSION_FORBIDDEN, "write state.NAME (one declared state variable)")
            if rest[0] not in s.state_vars:
                raise _fail(Code.UNKNOWN_STATE, f"'state.{rest[0]}' is not declared state"
                            f"{did_you_mean(rest[0], s.state_vars)}")
            self.state_refs.add(rest[0])
            return ast.Subscript(ast.Name("S", ast.Load()), ast.Constant(rest[0]), ast.Load())
        if root == "other" and s.other_fields is not None:
            if len(rest) != 1:
                raise _fail(Code.EXPRESSION_FORBIDDEN, "write other.NAME (one index attribute)")
            if rest[0] not in s.other_fields:
                raise _fail(Code.UNKNOWN_FIELD, f"'other.{rest[0]}' is not an attribute of this index"
                            f"{did_you_mean(rest[0], s.other_fields)}")
            return self._get_call(ast.Name("O", ast.Load()), rest[0])
        if root == "params":
            if len(rest) != 1:
                raise _fail(Code.EXPRESSION_FORBIDDEN, "write params.NAME (one declared parameter)")
            if rest[0] not in s.params:
                raise _fail(Code.UNKNOWN_PARAM, f"'params.{rest[0]}' is not a declared parameter"
                            f"{did_you_mean(rest[0], s.params)}")
            return _constant(s.params[rest[0]])
        if root in s.extra and not rest:
            return ast.Subscript(ast.Attribute(ast.Name("R", ast.Load()), "vars", ast.Load()),
                                 ast.Constant(root), ast.Load())
        if root in ("True", "False", "None"):
            raise _fail(Code.EXPRESSION_SYNTAX, f"unexpected {root}")
        hint = did_you_mean(root, self._roots() + ["true", "false", "null"])
        raise _fail(Code.UNKNOWN_NAME, f"unknown name '{'.'.join(parts)}'{hint}; "
                    f"names here: {', '.join(self._roots())}")

    # -- nodes --------------------------------------------------------------
    def visit(self, node: ast.AST, depth: int = 0) -> ast.expr:
        self.nodes += 1
        if self.nodes > self.limits.expression_nodes:
            raise _fail(Code.EXPRESSION_LIMIT, f"expression has more than {self.limits.expression_nodes} parts "
                        "(limit expression-nodes)")
        if depth > self.limits.expression_depth:
            raise _fail(Code.EXPRESSION_LIMIT, f"expression nested deeper than {self.limits.expression_depth} "
                        "levels (limit expression-depth)")
        if not isinstance(node, _ALLOWED_NODES):
            raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(node)} is not allowed in conditions")
        d = depth + 1
        if isinstance(node, ast.Constant):
            return self._constant_node(node)
        if isinstance(node, ast.Name):
            if node.id in ("true", "false", "null"):
                return ast.Constant({"true": True, "false": False, "null": None}[node.id])
            return self._name([node.id])
        if isinstance(node, ast.Attribute):
            parts = self._chain(node)
            if parts is not None:
                parts = [p[: -len(_KW_SUFFIX)] if p.endswith(_KW_SUFFIX) else p for p in parts]
            if parts is None:
                raise _fail(Code.EXPRESSION_FORBIDDEN,
                            "attributes are allowed only on names such as event, data, state, params")
            if any(p.startswith("_") for p in parts):
                raise _fail(Code.EXPRESSION_FORBIDDEN, "names starting with '_' are not allowed")
            return self._name(parts)
        if isinstance(node, ast.BoolOp):
            return ast.BoolOp(node.op, [self.visit(v, d) for v in node.values])
        if isinstance(node, ast.UnaryOp):
            if not isinstance(node.op, (ast.Not, ast.USub, ast.UAdd)):
                raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(node.op)} is not allowed in conditions")
            return ast.UnaryOp(node.op, self.visit(node.operand, d))
        if isinstance(node, ast.BinOp):
            if not isinstance(node.op, (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Mod)):
                raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(node.op)} is not allowed in conditions")
            if not isinstance(node.op, (ast.Add, ast.Sub)) and any(
                    isinstance(side, (ast.List, ast.Tuple, ast.Set, ast.JoinedStr))
                    or (isinstance(side, ast.Constant) and isinstance(side.value, str))
                    for side in (node.left, node.right)):
                raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(node.op)} works on numbers only "
                            "(no repeating or %-formatting text or lists)")
            left, right = self.visit(node.left, d), self.visit(node.right, d)
            if isinstance(node.op, ast.Sub):
                return ast.BinOp(left, node.op, right)
            helper = {ast.Add: "_add", ast.Mult: "_mul", ast.Div: "_div", ast.Mod: "_mod"}[type(node.op)]
            return ast.Call(ast.Name(helper, ast.Load()), [left, right], [])
        if isinstance(node, ast.Compare):
            return self._compare(node, d)
        if isinstance(node, ast.IfExp):
            return ast.IfExp(self.visit(node.test, d), self.visit(node.body, d), self.visit(node.orelse, d))
        if isinstance(node, (ast.List, ast.Tuple)):
            return ast.Tuple([self.visit(e, d) for e in node.elts], ast.Load())
        if isinstance(node, ast.Set):
            return ast.Set([self.visit(e, d) for e in node.elts])
        if isinstance(node, ast.Call):
            return self._call(node, d)
        raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(node)} is not allowed in conditions")

    def _constant_node(self, node: ast.Constant) -> ast.expr:
        v = node.value
        if isinstance(v, bool) or v is None or isinstance(v, float):
            return ast.Constant(v)
        if isinstance(v, int):
            if abs(v) > MAX_INT:
                raise _fail(Code.EXPRESSION_LIMIT, f"number literal larger than {MAX_INT}")
            return ast.Constant(v)
        if isinstance(v, str):
            return ast.Constant(v)
        raise _fail(Code.EXPRESSION_FORBIDDEN, f"literal of type {type(v).__name__} is not allowed")

    def _compare(self, node: ast.Compare, d: int) -> ast.expr:
        left = self.visit(node.left, d)
        parts: list[ast.expr] = []
        for op, comparator in zip(node.ops, node.comparators):
            if not isinstance(op, _ALLOWED_NODES):
                raise _fail(Code.EXPRESSION_FORBIDDEN, f"{_describe(op)} is not allowed in conditions")
            right = self.visit(comparator, d)
            if isinstance(op, (ast.Is, ast.IsNot)):
                if not (isinstance(comparator, ast.Constant) and comparator.value is None) and not (
                        isinstance(comparator, ast.Name) and comparator.id == "null"):
                    raise _fail(Code.EXPRESSION_FORBIDDEN, "'is' may only compare with null/None")
                parts.append(ast.Compare(left, [op], [right]))
            elif isinstance(op, (ast.In, ast.NotIn)):
                call = ast.Call(ast.Name("_in", ast.Load()), [left, right], [])
                parts.append(call if isinstance(op, ast.In) else ast.UnaryOp(ast.Not(), call))
            else:
                parts.append(ast.Compare(left, [op], [right]))
            left = right
        return parts[0] if len(parts) == 1 else ast.BoolOp(ast.And(), parts)

    def _const_str_arg(self, node: ast.Call, i: int, fname: str, what: str) -> str:
        arg = node.args[i]
        if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
            raise _fail(Code.EXPRESSION_FORBIDDEN, f"{fname}(): the {what} must be a quoted text literal")
        return arg.value

    def _call(self, node: ast.Call, d: int) -> ast.expr:
        if not isinstance(node.func, ast.Name):
            raise _fail(Code.EXPRESSION_FORBIDDEN, "only the built-in functions can be called "
                        f"({', '.join(sorted(FUNCTIONS))})")
        name = node.func.id
        spec = FUNCTIONS.get(name)
        if spec is None:
            raise _fail(Code.UNKNOWN_FUNCTION, f"unknown function '{name}'{did_you_mean(name, FUNCTIONS)}; "
                        f"available: {', '.join(sorted(FUNCTIONS))}")
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise _fail(Code.EXPRESSION_FORBIDDEN, f"{name}() takes plain positional arguments only")
        n = len(node.args)
        if not spec.min_args <= n <= spec.max_args:
            want = str(spec.min_args) if spec.min_args == spec.max_args else f"{spec.min_args}-{spec.max_args}"
            raise _fail(Code.EXPRESSION_SYNTAX, f"{name}() takes {want} argument(s), got {n}")
        if name == "duration":
            text = self._const_str_arg(node, 0, name, "duration")
            try:
                return ast.Constant(parse_duration(text))
            except ValueError as exc:
                raise _fail(Code.BAD_DURATION, str(exc)) from None
        if name in ("matches", "findall"):  # the pattern is compiled once, here
            pattern = self._const_str_arg(node, 1, name, "pattern")
            problem = pattern_problem(pattern)
            if problem:
                raise _fail(Code.BAD_PATTERN, problem)
            slot = f"_re{len(self.extra_globals)}"
            self.extra_globals[slot] = (_matcher if name == "matches" else _finder)(_linear(pattern))
            return ast.Call(ast.Name(slot, ast.Load()), [self.visit(node.args[0], d)], [])
        if name in _RECORD_ONLY and not self.scope.record:
            raise _fail(Code.UNKNOWN_FUNCTION, f"{name}() is only available in input mappings")
        if name == "text" and self.scope.record:
            return ast.Call(ast.Name("_f_record_text", ast.Load()), [self.visit(node.args[0], d)], [])
        if name == "field":
            path = self._const_str_arg(node, 0, name, "field name")
            return ast.Call(ast.Name("_f_field", ast.Load()), [ast.Name("E", ast.Load()), ast.Constant(path)], [])
        if name == "lookup":
            table = self._const_str_arg(node, 0, name, "table")
            if table not in self.scope.tables:
                raise _fail(Code.UNKNOWN_NAME, f"'{table}' is not a lookup table of this mapping"
                            f"{did_you_mean(table, self.scope.tables)}")
            lookup_args = [ast.Constant(table)] + [self.visit(a, d) for a in node.args[1:]]
            return ast.Call(ast.Attribute(ast.Name("R", ast.Load()), "lookup", ast.Load()), lookup_args, [])
        if name in ("fact", "known"):
            coll = self._const_str_arg(node, 0, name, "collection")
            self.fact_refs.add(coll)
            self.runtime_refs += 1
            if coll not in self.scope.facts:
                raise _fail(Code.UNKNOWN_FACT, f"'{coll}' is not a declared facts collection"
                            f"{did_you_mean(coll, self.scope.facts)}")
            args: list[ast.expr] = [ast.Constant(coll), self.visit(node.args[1], d)]
            if name == "fact":
                fld = self._const_str_arg(node, 2, name, "field")
                if fld not in self.scope.facts[coll]:
                    raise _fail(Code.UNKNOWN_FACT, f"'{fld}' is not a declared field of facts '{coll}'"
                                f"{did_you_mean(fld, self.scope.facts[coll])}")
                args.append(ast.Constant(fld))
            return ast.Call(ast.Attribute(ast.Name("R", ast.Load()), name, ast.Load()), args, [])
        return ast.Call(ast.Name(f"_f_{name}", ast.Load()), [self.visit(a, d) for a in node.args], [])


def pattern_problem(pattern: str) -> str | None:
    """Why a regular expression from a pack is refused, or None: it must compile and run in linear time."""
    try:
        re.compile(pattern)
    except re.error as exc:
        return f"bad regular expression {pattern!r}: {exc}"
    if _backtracking_only(pattern):
        return (f"{pattern!r} uses look-around or a back-reference, which need a backtracking engine; patterns "
                "here run in linear time (write the context as a class instead, e.g. (?:^|[^0-9]) for a "
                "look-behind)")
    if _nested_repeat(pattern):
        return (f"{pattern!r} repeats a repetition (like (a+)+): matching can take exponential time; repeat "
                "once, e.g. (a+) or (ab|cd)*")
    return None


def _backtracking_only(pattern: str) -> bool:
    """Does the pattern use what only a backtracking engine offers (look-around, back-references)?

    The native core runs patterns on the ``regex`` crate (linear time), which has none of these.
    """
    try:
        from re import _constants as constants, _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - an interpreter without them: the check is skipped
        return False
    refused = {constants.ASSERT, constants.ASSERT_NOT, constants.GROUPREF, constants.GROUPREF_EXISTS}
    refused |= {getattr(constants, n) for n in ("ATOMIC_GROUP", "POSSESSIVE_REPEAT") if hasattr(constants, n)}

    def walk(value: Any) -> bool:
        if isinstance(value, parser.SubPattern):
            return any(op in refused or walk(av) for op, av in value)
        if isinstance(value, (list, tuple)):
            return any(walk(v) for v in value)
        return False

    try:
        return walk(parser.parse(pattern))
    except Exception:  # noqa: BLE001 - re.compile has already accepted it; never fail on the check itself
        return False


def _nested_repeat(pattern: str) -> bool:
    """Does a repeated part of the pattern itself contain a repetition? (the usual catastrophic backtracking)

    Walks the stdlib's own parse of the pattern (``re._parser``; no public API gives the tree).
    """
    try:
        from re import _constants as constants, _parser as parser  # type: ignore[attr-defined]
    except ImportError:  # pragma: no cover - an interpreter without them: the check is skipped
        return False
    repeats = {constants.MAX_REPEAT, constants.MIN_REPEAT}

    def items(value: Any) -> Iterable[Any]:
        if isinstance(value, parser.SubPattern):
            yield from value
        elif isinstance(value, (list, tuple)):
            for v in value:
                yield from items(v)

    def has_repeat(value: Any, inside: bool) -> bool:
        for op, av in items(value):
            if op in repeats and av[1] > 1:
                if inside:
                    return True
                if av[1] > 16 and has_repeat(av[2], True):  # a small bounded outer repeat stays cheap
                    return True
            elif has_repeat(av, inside):
                return True
        return False

    try:
        return has_repeat(parser.parse(pattern), False)
    except Exception:  # noqa: BLE001 - re.compile has already accepted it; never fail on the check itself
        return False


def _linear(pattern: str) -> Any:
    """A pack's pattern, compiled for the evaluator: on the native core's linear-time engine where the core
    is built (a pattern may come from an untrusted pull request, and Python's ``re`` backtracks: ``(a|aa)*b``
    takes exponential time), so that both engines run the same matcher; else Python's ``re`` (the
    compile-time refusals of :func:`pattern_problem` are then the only bound)."""
    if _NATIVE is not None:
        return _NATIVE.Regex(pattern)
    return _ReMatcher(re.compile(pattern))


class _ReMatcher:
    """Python's ``re`` behind the native ``Regex``'s two methods."""

    def __init__(self, compiled: re.Pattern[str]):
        self.compiled = compiled

    def is_match(self, text: str) -> bool:
        return self.compiled.search(text) is not None

    def findall(self, text: str) -> list[Any]:
        return self.compiled.findall(text)




def _matcher(pattern: Any) -> Callable[[Any], bool]:
    search = pattern.is_match

    def match(value: Any) -> bool:
        if value is None:
            return False
        if not isinstance(value, str):
            value = _text(value)
        return bool(search(value))

    return match


def _finder(pattern: Any) -> Callable[[Any], list[Any]]:
    findall = pattern.findall

    def find(value: Any) -> list[Any]:
        if value is None:
            return []
        return list(dict.fromkeys(findall(value if isinstance(value, str) else _text(value))))

    return find


def _constant(value: Any) -> ast.expr:
    if isinstance(value, (list, tuple)):
        return ast.Tuple([_constant(v) for v in value], ast.Load())
    if isinstance(value, (set, frozenset)):
        return ast.Call(ast.Name("frozenset", ast.Load()), [ast.Tuple([_constant(v) for v in value], ast.Load())], [])
    return ast.Constant(value)


def _describe(node: ast.AST) -> str:
    names = {
        "ListComp": "a comprehension", "SetComp": "a comprehension", "DictComp": "a comprehension",
        "GeneratorExp": "a generator", "Lambda": "lambda", "Subscript": "indexing ([...])",
        "Mult": "'*'", "Div": "'/'", "Mod": "'%'",
        "Pow": "'**'", "FloorDiv": "'//'", "JoinedStr": "an f-string", "Dict": "a dict literal",
        "NamedExpr": "':='", "Starred": "'*'", "Await": "await", "Yield": "yield",
        "BitAnd": "'&'", "BitOr": "'|'", "BitXor": "'^'", "LShift": "'<<'", "RShift": "'>>'",
        "Invert": "'~'", "MatMult": "'@'",
    }
    return names.get(type(node).__name__, type(node).__name__)


_KW_SUFFIX = "__kw"


def _escape_keywords(source: str) -> str:
    """Let field names that are Python keywords (``data.from``) through the parser.

    A keyword right after a dot is renamed ``<kw>__kw``; the translator maps it
    back. Tokenizing (not a regex) leaves string literals alone.
    """
    if "." not in source or not any(keyword.iskeyword(w) for w in re.findall(r"\.\s*([A-Za-z_]+)", source)):
        return source
    out = []
    prev = None
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.NAME and keyword.iskeyword(tok.string) and prev is not None and prev.string == ".":
            tok = tok._replace(string=tok.string + _KW_SUFFIX)
        out.append((tok.type, tok.string))
        prev = tok
    return tokenize.untokenize(out).strip()


def compile_expr(text: object, scope: Scope, location: Location,
                 limits: Limits = DEFAULT) -> tuple[Expr | None, Diagnostic | None]:
    """Compile one expression. Returns (expr, None) or (None, diagnostic)."""
    if isinstance(text, bool):
        text = "true" if text else "false"
    elif isinstance(text, (int, float)):
        text = repr(text)
    if not isinstance(text, str):
        return None, Diagnostic(Code.EXPRESSION_SYNTAX, f"expected an expression, got {text!r}", location)
    if len(text) > limits.expression_length:
        return None, Diagnostic(Code.EXPRESSION_LIMIT, f"expression is {len(text)} characters; the limit is "
                                f"{limits.expression_length} (limit expression-length)", location)
    source = text.strip()
    try:
        with warnings.catch_warnings():  # '\d' in a regex literal is meant as written
            warnings.simplefilter("ignore")
            tree = ast.parse(_escape_keywords(source.replace("\n", " ")), mode="eval")
    except (SyntaxError, tokenize.TokenError) as exc:
        offset = getattr(exc, "offset", None)
        col = f" at column {offset}" if offset else ""
        msg = getattr(exc, "msg", None) or str(exc)
        return None, Diagnostic(Code.EXPRESSION_SYNTAX, f"cannot parse {source!r}{col}: {msg}", location)
    except (ValueError, RecursionError, MemoryError) as exc:
        return None, Diagnostic(Code.EXPRESSION_LIMIT, f"cannot parse expression: {exc}", location)
    translator = _Translator(scope, limits)
    try:
        body = translator.visit(tree.body)
    except ExprError as exc:
        return None, Diagnostic(exc.code, f"in {source!r}: {exc.message}", location)
    except RecursionError:
        return None, Diagnostic(Code.EXPRESSION_LIMIT, "expression nested too deeply", location)
    ty = UNKNOWN
    if scope.types is not None:
        try:
            ty = infer(tree.body, scope.types, _KW_SUFFIX)
        except TypeProblem as exc:
            return None, Diagnostic(exc.code, f"in {source!r}: {exc.message}", location)
    lam = ast.Expression(ast.Lambda(
        ast.arguments(posonlyargs=[], args=[ast.arg(a) for a in ("E", "S", "T", "O", "R")],
                      vararg=None, kwonlyargs=[], kw_defaults=[], kwarg=None, defaults=[]),
        body))
    ast.fix_missing_locations(lam)
    code = compile(lam, f"<{location}>", "eval")
    namespace = dict(_BASE_GLOBALS)
    namespace["frozenset"] = frozenset
    namespace.update(translator.extra_globals)
    fn = eval(code, namespace)  # noqa: S307 - code built from a whitelisted, rewritten AST
    return Expr(source, location, fn, frozenset(translator.state_refs), translator.uses_event,
                frozenset(translator.param_refs), frozenset(translator.fact_refs),
                frozenset(translator.data_refs), translator.runtime_refs == 0, tree.body, ty), None


@dataclass(frozen=True)
class Template:
    """A message with ``{expression}`` placeholders (``{{``/``}}`` for literal braces)."""

    text: str
    parts: tuple[str | Expr, ...]

    def render(self, event: Any, state: Any, trigger: Any, other: Any, runtime: Any) -> str:
        out = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            try:
                value = part.fn(event, state, trigger, other, runtime)
            except MissingFact:
                value = "(unknown)"
            except Exception:  # noqa: BLE001 - a message must render whatever the data
                value = "(?)"
            out.append(_show(value))
        return "".join(out)


SHOWN_ITEMS = 20  # items of a list or set a message shows, then "… and N more"
SHOWN_CHARS = 1_000  # characters of one placeholder's text a message shows, then "… (N more characters)"


def _show(value: Any) -> str:
    """How a message shows a value, bounded (SHOWN_ITEMS, SHOWN_CHARS), so that a finding's text never
    grows with the log: a set of every open item, a long text kept in state, are cut, saying how much."""
    if value is None or value == "":
        return "(none)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple, set, frozenset)) and len(value) > SHOWN_ITEMS:
        first = heapq.nsmallest(SHOWN_ITEMS, value, key=str) if isinstance(value, (set, frozenset)) \
            else value[:SHOWN_ITEMS]
        text = ", ".join(str(v) for v in first) + f", … and {len(value) - SHOWN_ITEMS} more"
    else:
        text = _text(value)
    if len(text) > SHOWN_CHARS:
        text = f"{text[:SHOWN_CHARS]}… ({len(text) - SHOWN_CHARS} more characters)"
    return text


def compile_template(text: object, scope: Scope, location: Location,
                     limits: Limits = DEFAULT) -> tuple[Template | None, list[Diagnostic]]:
    """Compile a message template."""
    if not isinstance(text, str):
        return None, [Diagnostic(Code.SCHEMA, "a message must be text", location)]
    parts: list[str | Expr] = []
    problems: list[Diagnostic] = []
    i, buf, placeholders = 0, [], 0
    while i < len(text):
        ch = text[i]
        if ch == "{" and text.startswith("{{", i):
            buf.append("{")
            i += 2
        elif ch == "}" and text.startswith("}}", i):
            buf.append("}")
            i += 2
        elif ch == "{":
            placeholders += 1
            if placeholders > limits.template_placeholders:
                problems.append(Diagnostic(Code.EXPRESSION_LIMIT, f"message has more than "
                                           f"{limits.template_placeholders} {{...}} placeholders (limit "
                                           "template-placeholders)", location))
                break
            end = text.find("}", i)
            if end < 0:
                problems.append(Diagnostic(Code.EXPRESSION_SYNTAX, f"unclosed '{{' in message {text!r}", location))
                break
            if buf:
                parts.append("".join(buf))
                buf = []
            expr, problem = compile_expr(text[i + 1:end], scope, location, limits)
            if problem:
                problems.append(problem)
            elif expr:
                parts.append(expr)
            i = end + 1
        else:
            buf.append(ch)
            i += 1
    if buf:
        parts.append("".join(buf))
    return Template(text, tuple(parts)), problems


def state_refs(exprs: Iterable[Expr | None]) -> frozenset[str]:
    refs: set[str] = set()
    for e in exprs:
        if e is not None:
            refs |= e.state_refs
    return frozenset(refs)
