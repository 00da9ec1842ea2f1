"""The plan: compiled expressions and templates as plain JSON data for the native core.

See docs/plan-format.md. Expressions are emitted from the user's syntax tree
that :func:`sopengine.expr.compile_expr` keeps (``Expr.tree``), resolving names
as ``_Translator`` does; the tree is trusted to have compiled already.
"""

from __future__ import annotations

import ast
import math
from typing import Any, Mapping

from .expr import _KW_SUFFIX, Expr, Template
from .timeutil import parse_duration

__all__ = ["expression", "template", "tv"]

_CMP = {ast.Eq: "eq", ast.NotEq: "ne", ast.Lt: "lt", ast.LtE: "le", ast.Gt: "gt", ast.GtE: "ge"}
_BIN = {ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.Mod: "mod"}
_UNARY = {ast.Not: "not", ast.USub: "neg", ast.UAdd: "pos"}
_NAMED = {"true": True, "false": False, "null": None}


def tv(value: Any) -> Any:
    """The typed-value JSON of a Python value (docs/plan-format.md, "Typed values")."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return {"float": "nan"}
        if math.isinf(value):
            return {"float": "inf" if value > 0 else "-inf"}
        return value
    if isinstance(value, tuple):
        return {"tuple": [tv(v) for v in value]}
    if isinstance(value, list):
        return {"list": [tv(v) for v in value]}
    if isinstance(value, frozenset):
        return {"frozenset": [tv(v) for v in value]}
    if isinstance(value, set):
        return {"set": [tv(v) for v in value]}
    if isinstance(value, dict):
        return {"dict": [[str(k), tv(v)] for k, v in value.items()]}
    raise TypeError(f"no typed value for {type(value).__name__}")


def _param_constant(value: Any) -> Any:
    """A parameter as ``_constant`` inlines it: lists and tuples become tuples, sets frozensets."""
    if isinstance(value, (list, tuple)):
        return tuple(_param_constant(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return frozenset(_param_constant(v) for v in value)
    return value


def _const(value: Any) -> dict[str, Any]:
    return {"op": "const", "value": tv(value)}


class _Emitter:
    def __init__(self, state_index: Mapping[str, int], params: Mapping[str, Any]):
        self.state_index = state_index
        self.params = params

    def _chain(self, node: ast.expr) -> list[str]:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            raise ValueError("attributes are allowed only on names")
        parts.append(node.id)
        return [p[: -len(_KW_SUFFIX)] if p.endswith(_KW_SUFFIX) else p for p in reversed(parts)]

    def _name(self, parts: list[str]) -> dict[str, Any]:
        root, rest = parts[0], parts[1:]
        if root in _NAMED and not rest:
            return _const(_NAMED[root])
        if root == "case" and not rest:
            return {"op": "event", "attr": "case"}
        if root == "data" and len(rest) == 1:
            return {"op": "data", "field": rest[0]}
        if root in ("event", "trigger", "activation") and rest:  # `activation`: a declare rule's `trigger`
            if rest[0] == "data" and len(rest) == 2:
                return {"op": "data" if root == "event" else "trigger_data", "field": rest[1]}
            if len(rest) == 1:
                return {"op": "event" if root == "event" else "trigger", "attr": rest[0]}
        if root == "state" and len(rest) == 1:
            return {"op": "state", "var": self.state_index[rest[0]]}
        if root == "other" and len(rest) == 1:
            return {"op": "other", "attr": rest[0]}
        if root == "params" and len(rest) == 1:
            return _const(_param_constant(self.params[rest[0]]))
        if not rest:
            return {"op": "var", "name": root}  # an extra name of the scope (`missing`, `count`)
        raise ValueError(f"no plan for the name {'.'.join(parts)!r}")

    def visit(self, node: ast.expr) -> dict[str, Any]:
        if isinstance(node, ast.Constant):
            return _const(node.value)
        if isinstance(node, ast.Name):
            return self._name([node.id])
        if isinstance(node, ast.Attribute):
            return self._name(self._chain(node))
        if isinstance(node, ast.BoolOp):
            return {"op": "and" if isinstance(node.op, ast.And) else "or", "args": [self.visit(v) for v in node.values]}
        if isinstance(node, ast.UnaryOp):
            return {"op": _UNARY[type(node.op)], "arg": self.visit(node.operand)}
        if isinstance(node, ast.BinOp):
            return {"op": _BIN[type(node.op)], "left": self.visit(node.left), "right": self.visit(node.right)}
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            return {"op": "if", "test": self.visit(node.test), "then": self.visit(node.body),
                    "else": self.visit(node.orelse)}
        if isinstance(node, (ast.List, ast.Tuple)):
            return {"op": "tuple", "items": [self.visit(e) for e in node.elts]}
        if isinstance(node, ast.Set):
            return {"op": "set", "items": [self.visit(e) for e in node.elts]}
        if isinstance(node, ast.Call):
            return self._call(node)
        raise ValueError(f"no plan for {type(node).__name__}")

    def _compare(self, node: ast.Compare) -> dict[str, Any]:
        # As the translator: a chain is the `and` of its pairs, the middle operands evaluated twice.
        left = self.visit(node.left)
        parts: list[dict[str, Any]] = []
        for op, comparator in zip(node.ops, node.comparators):
            right = self.visit(comparator)
            if isinstance(op, (ast.Is, ast.IsNot)):
                parts.append({"op": "is_none", "arg": left, "negate": isinstance(op, ast.IsNot)})
            elif isinstance(op, (ast.In, ast.NotIn)):
                parts.append({"op": "in", "item": left, "container": right, "negate": isinstance(op, ast.NotIn)})
            else:
                parts.append({"op": "cmp", "cmp": _CMP[type(op)], "left": left, "right": right})
            left = right
        return parts[0] if len(parts) == 1 else {"op": "and", "args": parts}

    def _call(self, node: ast.Call) -> dict[str, Any]:
        if not isinstance(node.func, ast.Name):
            raise ValueError("only the built-in functions can be called")
        name = node.func.id

        def literal(i: int) -> str:
            arg = node.args[i]
            if not (isinstance(arg, ast.Constant) and isinstance(arg.value, str)):
                raise ValueError(f"{name}(): argument {i + 1} must be a text literal")
            return arg.value

        if name == "duration":
            return _const(parse_duration(literal(0)))
        if name in ("matches", "findall"):
            return {"op": name, "pattern": literal(1), "arg": self.visit(node.args[0])}
        if name == "fact":
            return {"op": "fact", "collection": literal(0), "id": self.visit(node.args[1]), "field": literal(2)}
        if name == "known":
            return {"op": "known", "collection": literal(0), "id": self.visit(node.args[1])}
        if name in ("field", "lookup"):
            raise ValueError(f"{name}() belongs to input mappings, which have no plan")
        return {"op": "call", "fn": name, "args": [self.visit(a) for a in node.args]}


def expression(expr: Expr, state_index: Mapping[str, int],
               params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The plan of a compiled expression.

    ``state_index`` numbers the pack's state variables; ``params`` are the parameter values the
    expression was compiled with (the compiler inlines them; an ``Expr`` does not keep them).
    """
    if expr.tree is None:
        raise ValueError(f"expression {expr.text!r} kept no syntax tree")
    return _Emitter(state_index, params or {}).visit(expr.tree)


def template(t: Template, state_index: Mapping[str, int],
             params: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The plan of a message template: literal parts as strings, placeholders as expressions."""
    emitter = _Emitter(state_index, params or {})
    parts: list[Any] = []
    for part in t.parts:
        if isinstance(part, str):
            parts.append(part)
        elif part.tree is None:
            raise ValueError(f"expression {part.text!r} kept no syntax tree")
        else:
            parts.append(emitter.visit(part.tree))
    return {"text": t.text, "parts": parts}
