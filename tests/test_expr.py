"""The expression language: what it accepts, what it refuses, and how it treats missing data."""

from __future__ import annotations

from typing import Any

import pytest

from sopengine.errors import Location
from sopengine.events import Event
from sopengine.expr import MissingFact, Scope, compile_expr, compile_template

SCOPE = Scope(event_fields=frozenset({"to", "from", "mentions", "text"}),
              state_vars=frozenset({"owner", "open", "closed_at"}),
              params={"queues": ["Q1", "Q2"], "window": 3600.0},
              facts={"users": frozenset({"team"})})
LOC = Location("rules.yaml", 7, 5)


class _Runtime:
    vars: dict[str, Any] = {}

    def fact(self, coll: str, rid: Any, field: str) -> Any:
        if rid == "ann":
            return "Support"
        raise MissingFact(f"'{rid}' is not in the '{coll}' facts")

    def known(self, coll: str, rid: Any) -> bool:
        return rid == "ann"


def _eval(text: str, data: dict[str, Any] | None = None, **state: Any) -> Any:
    expr, problem = compile_expr(text, SCOPE, LOC)
    assert problem is None, problem
    assert expr is not None
    event = Event("e1", "C1", 1000.0, "x", "ann", data or {})
    full = {"owner": None, "open": set(), "closed_at": None, **state}
    return expr.fn(event, full, None, None, _Runtime())


def _refused(text: str) -> str:
    expr, problem = compile_expr(text, SCOPE, LOC)
    assert expr is None and problem is not None
    assert problem.location == LOC
    return f"{problem.code.value}: {problem.message}"


def test_conditions_read_event_data_state_and_params() -> None:
    assert _eval("event.actor == state.owner", owner="ann") is True
    assert _eval("data.to in params.queues", {"to": "Q2"}) is True
    assert _eval("len(state.open) == 0 and not filled(data.to)") is True
    assert _eval("event.time - state.closed_at <= params.window", closed_at=0.0) is True
    assert _eval("event.time - state.closed_at <= hours(0.1)", closed_at=0.0) is False


def test_keyword_field_names_such_as_from_are_readable() -> None:
    assert _eval("data.from == 'Closed' and data.to != 'Closed'", {"from": "Closed", "to": "New"}) is True
    assert _eval("'data.from' == 'data.from'") is True  # string literals are left alone


def test_missing_values_make_conditions_false_rather_than_failing() -> None:
    assert _eval("'ann' in data.mentions") is False
    assert _eval("contains(data.text, 'HO Phone')") is False
    assert _eval("matches(data.text, '^HO Phone: [0-9-]+$')") is False
    assert _eval("matches(data.text, '^HO Phone: [0-9-]+$')", {"text": "HO Phone: 555-1234"}) is True
    assert _eval("coalesce(data.to, data.from, 'x')") == "x"


def test_facts_are_looked_up_and_a_missing_one_raises_missing_fact() -> None:
    assert _eval("fact('users', event.actor, 'team') == 'Support'") is True
    with pytest.raises(MissingFact):
        _eval("fact('users', state.owner, 'team') == 'Support'", owner="zed")
    assert _eval("known('users', state.owner)", owner="zed") is False


@pytest.mark.parametrize(("text", "hint"), [
    ("data.too == 1", "did you mean 'to'"),
    ("state.ownr", "did you mean 'owner'"),
    ("params.queue", "did you mean 'queues'"),
    ("stat.owner", "did you mean 'state'"),
    ("fact('user', event.actor, 'team')", "did you mean 'users'"),
    ("fact('users', event.actor, 'tem')", "did you mean 'team'"),
    ("lenn(data.to)", "did you mean 'len'"),
    ("event.actr", "did you mean 'actor'"),
])
def test_unknown_names_are_refused_with_a_suggestion(text: str, hint: str) -> None:
    assert hint in _refused(text)


def test_templates_render_values_and_braces() -> None:
    template, problems = compile_template("owner {state.owner}, open {state.open} {{literal}}", SCOPE, LOC)
    assert problems == [] and template is not None
    event = Event("e1", "C1", 0.0, "x", "ann", {})
    text = template.render(event, {"owner": None, "open": {"A-2", "A-1"}}, None, None, _Runtime())
    assert text == "owner (none), open A-1, A-2 {literal}"


def test_a_template_with_a_bad_placeholder_is_reported() -> None:
    _, problems = compile_template("hello {data.nope}", SCOPE, LOC)
    assert [p.code.value for p in problems] == ["unknown-field"]
