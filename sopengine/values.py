"""State values made hashable, so that they compare, key indexes and sit in sets the same way everywhere."""

from __future__ import annotations

from typing import Any


def freeze(value: Any) -> Any:
    """A hashable equal of ``value``: lists become tuples, sets frozensets, dicts sorted item tuples, and a
    tuple holding any of those a tuple of their frozen equals (``[data.list]`` in a set update)."""
    kind = type(value)
    if kind is str or value is None:  # the common case first
        return value
    if kind is list or kind is tuple:
        return tuple(freeze(v) for v in value)
    if kind is set:
        return frozenset(value)
    if kind is dict:
        return tuple(sorted((k, freeze(v)) for k, v in value.items()))
    return value
