"""The expression sandbox under attack: known Python sandbox escapes and costly constructs.

Each payload is its own test. A payload is either refused when the SOP file is
compiled (with the code and a message that says what is not allowed), or, for
the few that only data can make costly, compiled and then stopped at run time
with a clear error that the audit reports as an undecided check.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from sopengine import audit, load_pack
from sopengine.errors import Location
from sopengine.events import Event
from sopengine.expr import Scope, compile_expr, compile_template

SCOPE = Scope(event_fields=frozenset({"text", "n", "items"}), state_vars=frozenset({"owner"}),
              params={"limit": 3}, facts={"users": frozenset({"team"})})
LOC = Location("rules.yaml", 7, 5)
CANARY = "/tmp/sopengine-sandbox-canary"  # a payload that ran would create it

# payload -> the diagnostic code it must get
COMPILE_TIME: dict[str, tuple[str, str]] = {
    # dunder walks to __globals__, __subclasses__, __builtins__
    "subclasses-walk": ("().__class__.__bases__[0].__subclasses__()", "expression-forbidden"),
    "globals-walk": ("event.__class__.__init__.__globals__", "expression-forbidden"),
    "data-class": ("data.text.__class__.__mro__", "expression-forbidden"),
    "params-dict": ("params.__dict__", "expression-forbidden"),
    "state-class": ("state.owner.__class__", "expression-forbidden"),
    "builtins-name": ("__builtins__", "unknown-name"),
    "import": (f"__import__('os').system('touch {CANARY}')", "expression-forbidden"),
    "open-file": (f"open('{CANARY}', 'w')", "unknown-function"),
    "eval": ("eval('1+1')", "unknown-function"),
    "exec": ("exec('import os')", "unknown-function"),
    "compile": ("compile('1', 'x', 'eval')", "unknown-function"),
    "globals-call": ("globals()", "unknown-function"),
    "vars-call": ("vars(event)", "unknown-function"),
    "type-call": ("type(event)", "unknown-function"),
    "unicode-eval": ("ｅｖａｌ('1')", "unknown-function"),  # NFKC folds to eval: still not a function here
    "method-call": ("data.text.upper()", "expression-forbidden"),
    "attribute-of-call": ("text(event.actor).__len__", "expression-forbidden"),
    "attribute-of-literal": ("'abc'.join", "expression-forbidden"),
    # getattr smuggling, and the names the compiled code uses internally
    "getattr": ("getattr(event, '__class__')", "unknown-function"),
    "getattr-encoded": ("getattr(event, '\\x5f\\x5fclass\\x5f\\x5f')", "unknown-function"),
    "internal-event": ("E.data", "unknown-name"),
    "internal-runtime": ("R.vars", "unknown-name"),
    "internal-helper": ("_mul(1, 2)", "unknown-function"),
    "internal-frozenset": ("frozenset((1,))", "unknown-function"),
    "subscript": ("state['owner']", "expression-forbidden"),
    "walrus": ("(x := 1)", "expression-forbidden"),
    "lambda": ("(lambda: 1)()", "expression-forbidden"),
    "comprehension": ("[c for c in ().__class__.__mro__]", "expression-forbidden"),
    "generator": ("len(c for c in data.items)", "expression-forbidden"),
    "starred": ("len(*data.items)", "expression-forbidden"),
    "keyword-arg": ("len(x=data.items)", "expression-forbidden"),
    "dict-literal": ("{'a': 1}", "expression-forbidden"),
    "statement": ("1; import os", "expression-syntax"),
    # format-string tricks
    "str-format": ("'{0.__class__}'.format(event)", "expression-forbidden"),
    "f-string": ("f'{event.__class__}'", "expression-forbidden"),
    "percent-format": ("'%s' % event.actor", "expression-forbidden"),
    "template-dunder": ("{event.__class__}", "expression-forbidden"),  # a message placeholder
    # huge powers and repetitions
    "power": ("2 ** 100000000", "expression-forbidden"),
    "shift": ("1 << 100000000", "expression-forbidden"),
    "text-repeat": ("'a' * 1000000000", "expression-forbidden"),
    "list-repeat": ("[1] * 1000000000", "expression-forbidden"),
    "floor-div": ("10 // 3", "expression-forbidden"),
    # deep recursion
    "nested-calls": ("len(" * 40 + "1" + ")" * 40, "expression-limit"),
    "nested-not": ("not " * 60 + "true", "expression-limit"),
    "nested-parens": ("(" * 300 + "1" + ")" * 300, "expression-syntax"),
    "many-parts": (" + ".join(["1"] * 450), "expression-limit"),
    # huge literals
    "huge-int": ("9" * 40, "expression-limit"),
    "huge-text": ("'" + "a" * 3000 + "'", "expression-limit"),
    # regular expressions that backtrack exponentially
    "redos-nested-plus": ("matches(data.text, '(a+)+$')", "bad-pattern"),
    "redos-nested-star": ("matches(data.text, '^(\\\\w+\\\\s?)*$')", "bad-pattern"),
    "redos-findall": ("findall(data.text, '([a-z]+.)+com')", "bad-pattern"),
}


def _compile(payload: str) -> tuple[Any, list[Any]]:
    if payload.startswith("{") and payload.endswith("}") and "'" not in payload:
        template, problems = compile_template(payload, SCOPE, LOC)
        return template, problems
    expr, problem = compile_expr(payload, SCOPE, LOC)
    return expr, [problem] if problem else []


@pytest.mark.parametrize("name", sorted(COMPILE_TIME))
def test_the_payload_is_refused_when_the_sop_is_compiled(name: str) -> None:
    payload, code = COMPILE_TIME[name]
    _, problems = _compile(payload)
    assert problems, f"{name}: {payload!r} was accepted"
    assert problems[0].code.value == code, str(problems[0])
    assert problems[0].location == LOC and len(problems[0].message) > 10
    assert not Path(CANARY).exists()


# payload, event data that makes it costly, the error it must stop with
RUN_TIME: dict[str, tuple[str, dict[str, Any], str]] = {
    "repeat-text-from-data": ("data.text * data.n", {"text": "ab", "n": 10**9}, "arithmetic needs numbers"),
    "multiply-to-huge": ("data.n * data.n * data.n", {"n": 10**9}, "number too large"),
    "join-to-huge": (" + ".join(["data.text"] * 20), {"text": "x" * 10_000}, "the limit is"),
    "join-lists-to-huge": (" + ".join(["data.items"] * 20), {"items": list(range(10_000))}, "the limit is"),
}


@pytest.mark.parametrize("name", sorted(RUN_TIME))
def test_the_payload_compiles_but_is_stopped_at_run_time_with_a_clear_error(name: str) -> None:
    payload, data, error = RUN_TIME[name]
    expr, problem = compile_expr(payload, SCOPE, LOC)
    assert problem is None and expr is not None
    event = Event("e1", "C1", 0.0, "x", "ann", data)
    with pytest.raises((TypeError, OverflowError), match=error):
        expr.fn(event, {"owner": None}, None, None, None)


PACK = """\
events:
  thing.done:
    data: {{text: {{type: string}}, n: {{type: number}}}}
sop: {{id: demo, title: Demo, source: {{document: demo.txt}}}}
rules:
  - id: costly
    kind: guard
    severity: error
    description: A guard whose condition only data makes costly.
    source: {{document: demo.txt, step: "1"}}
    on: thing.done
    require: "{require}"
    message: "x"
"""


def test_a_condition_stopped_at_run_time_is_an_undecided_check_and_the_audit_goes_on(tmp_path: Path) -> None:
    (tmp_path / "demo.yaml").write_text(PACK.format(require="data.n * data.n * data.n < 100"))
    pack = load_pack([tmp_path])
    events = [Event("e1", "C1", 0.0, "thing.done", "ann", {"n": 10**9}),
              Event("e2", "C2", 1.0, "thing.done", "ann", {"n": 5})]
    result = audit(pack, events)
    assert [(u.case, u.rule) for u in result.undecided] == [("C1", "demo/costly")]
    assert "number too large" in result.undecided[0].reason
    assert [(v.case, v.rule) for v in result.violations] == [("C2", "demo/costly")]
    assert result.events == 2


@pytest.mark.parametrize("name", ["import", "open-file", "subclasses-walk", "str-format"])
def test_validate_refuses_the_payload_in_a_sop_file_with_its_line_and_runs_nothing(tmp_path: Path,
                                                                                   name: str) -> None:
    payload = COMPILE_TIME[name][0].replace('"', '\\"')
    (tmp_path / "demo.yaml").write_text(PACK.format(require=payload))
    proc = subprocess.run([sys.executable, "-m", "sopengine", "validate", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "demo.yaml:12:" in proc.stderr + proc.stdout, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not Path(CANARY).exists()


@pytest.mark.parametrize("pattern", ["(?<=a)b", "(?<!a)b", "a(?=b)", "a(?!b)", r"(a)\1", "(?P<x>a)(?P=x)",
                                     "(a)?(?(1)b|c)"])
def test_a_pattern_that_needs_backtracking_is_refused_at_compile_time(pattern: str) -> None:
    expr, problem = compile_expr(f"matches(data.text, {pattern!r})", SCOPE, LOC)
    assert expr is None and problem is not None
    assert problem.code.value == "bad-pattern" and "linear time" in problem.message


@pytest.mark.parametrize("engine", ["native", "python"])
def test_a_pattern_that_backtracks_in_python_runs_in_linear_time_on_both_engines(tmp_path: Path, engine: str) -> None:
    """(a|aa)*b takes exponential time in Python's re on a run of a's; the core's regex crate does not, and the
    reference evaluator runs its patterns on it too."""
    import time

    from sopengine import native
    from sopengine.audit import new_session

    if not native.available():
        pytest.skip("the native core is not built")
    (tmp_path / "p.yaml").write_text(
        "events:\n  x.y: {data: {text: {type: string}}}\n"
        "sop: {id: s, title: S, source: {document: d.txt}}\n"
        "rules:\n  - id: r\n    kind: forbid\n    severity: error\n    description: d\n"
        "    source: {document: d.txt, step: '1'}\n    on: x.y\n"
        "    when: \"matches(data.text, '(a|aa)*b')\"\n    message: m\n")
    pack = load_pack([tmp_path])
    session = new_session(pack, None, engine)
    started = time.process_time()
    session.feed(Event("e1", "C1", 0.0, "x.y", None, {"text": "a" * 10_000}))
    session.feed(Event("e2", "C1", 1.0, "x.y", None, {"text": "a" * 10_000 + "b"}))
    result = session.result()
    assert time.process_time() - started < 2.0
    assert [v.events for v in result.violations] == [("e2",)]
    expr, problem = compile_expr(r"matches(data.text, '(\w+\s?)*$')", SCOPE, LOC)
    assert expr is None and problem is not None and problem.code.value == "bad-pattern"  # nested repetition
