"""What kind of value an expression can give, worked out at compile time, and the operations that cannot work.

The evaluator tolerates a value of the wrong kind (a condition over it is
false, an update with it does not happen), so a pack that combines values
that can never combine (``state.open + state.open`` of two sets, ``'x' * 2``,
``days(data.name)`` of a text field) would compile and then do nothing, or,
where a place did not tolerate it, stop an audit. This stage finds those at
compile time, from what the pack declares: the type of each data field, the
kind of each state variable, the value of each parameter, the literals and
the functions. An expression is refused only when no value it can have at run
time would make the operation work; where a kind is not known (a field of type
``any``, a ``value`` state variable, a fact) everything is allowed.

A kind is one of :data:`KINDS`; a :class:`Ty` is the set of kinds a value may
have and, for lists and sets, the kinds its items may have.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import Code

NONE, BOOL, NUMBER, TEXT, LIST, SET, OBJECT = "null", "boolean", "number", "text", "list", "set", "object"
KINDS = frozenset({NONE, BOOL, NUMBER, TEXT, LIST, SET, OBJECT})
SCALARS = frozenset({NONE, BOOL, NUMBER, TEXT})
CONTAINERS = frozenset({LIST, SET, OBJECT})
NUMERIC = frozenset({BOOL, NUMBER})  # Python's bool is an int: True + 1 works


@dataclass(frozen=True)
class Ty:
    """The kinds a value may have; ``items``: the kinds the items of a list or set may have."""

    kinds: frozenset[str] = KINDS
    items: frozenset[str] = KINDS

    @property
    def known(self) -> bool:
        return self.kinds != KINDS

    def __or__(self, other: "Ty") -> "Ty":
        return Ty(self.kinds | other.kinds, self.items | other.items)

    def describe(self) -> str:
        shown = [k for k in (NONE, BOOL, NUMBER, TEXT, LIST, SET, OBJECT) if k in self.kinds]
        if len(shown) > 1 and NONE in shown:
            shown.remove(NONE)
        words = ["null" if k == NONE else f"an {k}" if k == OBJECT else f"a {k}" for k in shown]
        return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


UNKNOWN = Ty()


def of(*kinds: str, items: frozenset[str] = KINDS) -> Ty:
    return Ty(frozenset(kinds), items)


# What a declared data field (events) or fact field type may hold; absent counts too.
FIELD_TYPES: dict[str, Ty] = {
    "string": of(TEXT, NONE), "time": of(TEXT, NONE), "number": of(NUMBER, NONE), "boolean": of(BOOL, NONE),
    "list": of(LIST, NONE), "object": of(OBJECT, NONE), "duration": of(NUMBER, NONE),
}
STATE_KINDS: dict[str, Ty] = {"set": of(SET, items=SCALARS | frozenset({LIST})), "counter": of(NUMBER, NONE)}


def field_type(declared: str) -> Ty:
    return FIELD_TYPES.get(declared, UNKNOWN)


def value_type(value: Any) -> Ty:
    """The type of a value known at compile time (a parameter, a literal)."""
    if value is None:
        return of(NONE)
    if isinstance(value, bool):
        return of(BOOL)
    if isinstance(value, (int, float)):
        return of(NUMBER)
    if isinstance(value, str):
        return of(TEXT)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = frozenset().union(*(value_type(v).kinds for v in value)) if value else frozenset()
        return of(SET if isinstance(value, (set, frozenset)) else LIST, items=items)
    return of(OBJECT)


class TypeProblem(Exception):
    """An operation no value of its operands' kinds can make work."""

    code = Code.TYPE_MISMATCH

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Names:
    """The types of the names an expression may read (absent ones are unknown: UNKNOWN)."""

    event_fields: Mapping[str, Ty]
    trigger_fields: Mapping[str, Ty]
    state: Mapping[str, Ty]
    params: Mapping[str, Any]


_RETURNS: dict[str, Ty] = {
    "filled": of(BOOL), "len": of(NUMBER), "startswith": of(BOOL), "endswith": of(BOOL), "contains": of(BOOL),
    "any_in": of(BOOL), "all_in": of(BOOL), "matches": of(BOOL), "known": of(BOOL), "text": of(TEXT),
    "seconds": of(NUMBER), "minutes": of(NUMBER), "hours": of(NUMBER), "days": of(NUMBER), "duration": of(NUMBER),
    "findall": of(LIST),
}
_NEEDS_NUMBER = ("seconds", "minutes", "hours", "days")
_SIZED = frozenset({NONE, TEXT}) | CONTAINERS


def _source(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 60 else text[:57] + "..."


class _Infer:
    def __init__(self, names: Names, kw_suffix: str):
        self.names = names
        self.kw_suffix = kw_suffix

    def _chain(self, node: ast.expr) -> list[str]:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if isinstance(node, ast.Name):
            parts.append(node.id)
        suffix = self.kw_suffix
        return [p[: -len(suffix)] if p.endswith(suffix) else p for p in reversed(parts)]

    def name(self, parts: list[str]) -> Ty:
        root, rest = parts[0], parts[1:]
        n = self.names
        if root in ("true", "false") and not rest:
            return of(BOOL)
        if root == "null" and not rest:
            return of(NONE)
        if root == "case" and not rest:
            return of(TEXT)
        if root == "data" and len(rest) == 1:
            return n.event_fields.get(rest[0], UNKNOWN)
        if root in ("event", "trigger", "activation") and rest:
            if rest[0] == "data" and len(rest) == 2:
                return (n.event_fields if root == "event" else n.trigger_fields).get(rest[1], UNKNOWN)
            if rest == ["time"]:
                return of(NUMBER)
            if rest in (["id"], ["case"], ["type"]):
                return of(TEXT)
            if rest == ["actor"]:
                return of(TEXT, NONE)
        if root == "state" and len(rest) == 1:
            return n.state.get(rest[0], UNKNOWN)
        if root == "params" and len(rest) == 1 and rest[0] in n.params:
            return value_type(n.params[rest[0]])
        return UNKNOWN

    def visit(self, node: ast.AST) -> Ty:
        if isinstance(node, ast.Constant):
            return value_type(node.value)
        if isinstance(node, ast.Name):
            return self.name([node.id])
        if isinstance(node, ast.Attribute):
            return self.name(self._chain(node))
        if isinstance(node, ast.BoolOp):
            out = self.visit(node.values[0])
            for v in node.values[1:]:
                out = out | self.visit(v)
            return out
        if isinstance(node, ast.UnaryOp):
            operand = self.visit(node.operand)
            if isinstance(node.op, ast.Not):
                return of(BOOL)
            self._need(operand, NUMERIC, node.operand, f"unary {'-' if isinstance(node.op, ast.USub) else '+'}")
            return of(NUMBER)
        if isinstance(node, ast.BinOp):
            return self._binop(node)
        if isinstance(node, ast.Compare):
            self._compare(node)
            return of(BOOL)
        if isinstance(node, ast.IfExp):
            self.visit(node.test)
            return self.visit(node.body) | self.visit(node.orelse)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items = frozenset().union(*(self.visit(e).kinds for e in node.elts)) if node.elts else frozenset()
            return of(SET if isinstance(node, ast.Set) else LIST, items=items)
        if isinstance(node, ast.Call):
            return self._call(node)
        return UNKNOWN

    def _need(self, ty: Ty, allowed: frozenset[str], node: ast.AST, what: str) -> None:
        if ty.known and not ty.kinds & allowed:
            wanted = Ty(allowed - {BOOL} if NUMBER in allowed else allowed).describe()
            raise TypeProblem(f"{what} needs {wanted}, but {_source(node)!r} is {ty.describe()}")

    def _binop(self, node: ast.BinOp) -> Ty:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Add):
            pairs = [(NUMERIC, NUMBER), (frozenset({TEXT}), TEXT), (frozenset({LIST}), LIST)]
            possible = [kind for side, kind in pairs if left.kinds & side and right.kinds & side]
            if left.known and right.known and not possible:
                raise TypeProblem(f"'+' adds two numbers, joins two texts or two lists; {_source(node.left)!r} is "
                                  f"{left.describe()} and {_source(node.right)!r} is {right.describe()}")
            items = left.items | right.items if LIST in possible else KINDS
            return Ty(frozenset(possible) or KINDS, items)
        if isinstance(node.op, ast.Sub):
            if left.known and right.known and not (left.kinds & NUMERIC and right.kinds & NUMERIC) \
                    and not (left.kinds & {SET} and right.kinds & {SET}):
                raise TypeProblem(f"'-' subtracts numbers (or a set from a set); {_source(node.left)!r} is "
                                  f"{left.describe()} and {_source(node.right)!r} is {right.describe()}")
            return Ty((left.kinds & {SET}) | ({NUMBER} if left.kinds & NUMERIC else set()) or KINDS, left.items)
        symbol = {ast.Mult: "*", ast.Div: "/", ast.Mod: "%"}.get(type(node.op), "?")
        self._need(left, frozenset({NUMBER}), node.left, f"'{symbol}'")
        self._need(right, frozenset({NUMBER}), node.right, f"'{symbol}'")
        return of(NUMBER)

    def _compare(self, node: ast.Compare) -> None:
        left_node: ast.expr = node.left
        left = self.visit(left_node)
        for op, right_node in zip(node.ops, node.comparators):
            right = self.visit(right_node)
            if isinstance(op, (ast.Lt, ast.LtE, ast.Gt, ast.GtE)) and left.known and right.known:
                ordered = [(NUMERIC, NUMERIC), ({TEXT}, {TEXT}), ({LIST}, {LIST}), ({SET}, {SET})]
                if not any(left.kinds & a and right.kinds & b for a, b in ordered):
                    raise TypeProblem(f"'{_CMP_TEXT[type(op)]}' compares numbers "
                                      f"with numbers or texts with texts; {_source(left_node)!r} is "
                                      f"{left.describe()} and {_source(right_node)!r} is {right.describe()}")
            left_node, left = right_node, right

    def _call(self, node: ast.Call) -> Ty:
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        args = [self.visit(a) for a in node.args]
        if name in _NEEDS_NUMBER:
            self._need(args[0], frozenset({NUMBER}), node.args[0], f"{name}()")
        if name == "len":
            self._need(args[0], _SIZED, node.args[0], "len()")
        if name in _RETURNS:
            return _RETURNS[name]
        if name in ("lower", "upper", "replace"):
            return args[0]
        if name == "coalesce":
            out = args[0]
            for a in args[1:]:
                out = out | a
            return out
        if name == "missing_in":
            return of(LIST, items=args[0].items if args[0].kinds <= CONTAINERS | {NONE} else KINDS)
        if name == "split":
            return of(LIST, NONE, items=frozenset({TEXT}) if args[0].kinds <= {TEXT, NONE} else KINDS)
        if name in ("iso", "duration_text"):
            return args[0] | of(TEXT)
        return UNKNOWN


_CMP_TEXT = {ast.Lt: "<", ast.LtE: "<=", ast.Gt: ">", ast.GtE: ">="}


def infer(tree: ast.expr, names: Names, kw_suffix: str) -> Ty:
    """The type of a compiled expression's syntax tree; raises TypeProblem where an operation cannot work."""
    return _Infer(names, kw_suffix).visit(tree)


def update_problem(var_kind: str, op: str, ty: Ty) -> str | None:
    """Why a state update of a variable of ``var_kind`` with a value of type ``ty`` cannot work, or None."""
    if var_kind == "set" and op in ("set", "add", "remove"):
        if ty.known and ty.kinds <= {OBJECT}:
            return f"a set holds single values (texts, numbers, booleans), not {ty.describe()}"
        if ty.kinds & {LIST, SET} and ty.items != KINDS and ty.items & CONTAINERS:
            return (f"'{op}' of a set takes a value or a list of values; this gives a list holding "
                    f"{Ty(ty.items & CONTAINERS).describe()}, and a set's items are single values")
    allowed = NUMERIC | {NONE} if op == "set" else NUMERIC  # set: null empties a counter; add: null does nothing
    if var_kind == "counter" and op in ("set", "add") and ty.known and not ty.kinds & allowed:
        return f"a counter holds a number; '{op}' gives {ty.describe()}"
    return None
