"""Bad SOP files: the user sees the file, the line and what is wrong, never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any, Mapping

import pytest
from click.testing import CliRunner

from sopengine import PackError, load_pack
from sopengine.cli import cli
from sopengine.errors import Diagnostic
from sopengine.kinds import KINDS

from .conftest import SOPS

RULE = """\
sop: {id: demo, title: Demo, source: {document: demo.txt}}
rules:
  - id: only-owner-reviews
    kind: guard
    severity: error
    description: Only the owner logs a review.
    source: {document: demo.txt, step: "1"}
    on: %(on)s
    require: %(require)s
    message: not the owner
"""


def _pack_with(tmp_path: Path, text: str) -> Path:
    """The bundled pack plus one extra SOP file, in a temporary directory."""
    for path in SOPS.glob("*.yaml"):
        if not path.name.endswith(".test.yaml"):
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "demo.yaml").write_text(text)
    return tmp_path


def _validate(runner: CliRunner, path: Path) -> str:
    result = runner.invoke(cli, ["validate", str(path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    return result.output


def test_a_yaml_syntax_error_names_the_file_and_line(tmp_path: Path, runner: CliRunner) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.logged", "require": "event.actor == state.owner"}
                      + "  - id: [broken\n")
    out = _validate(runner, path)
    assert "demo.yaml:12" in out and "yaml-syntax" in out


def test_an_unknown_top_level_key_is_reported_with_a_suggestion(tmp_path: Path, runner: CliRunner) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.logged", "require": "true"} + "rulez: []\n")
    out = _validate(runner, path)
    assert "demo.yaml:11" in out
    assert "unknown key 'rulez'" in out and "did you mean 'rules'" in out


def test_an_unknown_event_type_in_a_rule_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.loged", "require": "true"})
    out = _validate(runner, path)
    assert "demo.yaml:8" in out
    assert "unknown event type 'review.loged'" in out and "did you mean 'review.logged'" in out


def test_a_misspelled_field_in_a_condition_is_reported(tmp_path: Path, runner: CliRunner) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.logged", "require": "data.coments != null"})
    out = _validate(runner, path)
    assert "demo.yaml:9" in out
    assert "data.coments" in out and "did you mean 'comments'" in out


def test_a_misspelled_state_variable_is_reported(tmp_path: Path) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.logged", "require": "event.actor == state.ownr"})
    with pytest.raises(PackError) as info:
        load_pack([path])
    (diag,) = info.value.diagnostics
    assert diag.code.value == "unknown-state" and "did you mean 'owner'" in diag.message
    assert (diag.location.line, diag.location.path) == (9, ("rules", 0, "require"))


def test_every_problem_is_reported_not_only_the_first(tmp_path: Path) -> None:
    text = RULE % {"on": "review.loged", "require": "data.coments"} + RULE.split("rules:\n")[1].replace(
        "only-owner-reviews", "second").replace("%(on)s", "case.closd").replace("%(require)s", "state.x")
    path = _pack_with(tmp_path, text)
    with pytest.raises(PackError) as info:
        load_pack([path])
    codes = sorted(d.code.value for d in info.value.diagnostics)
    assert codes == ["unknown-event", "unknown-event", "unknown-field", "unknown-state"]


def test_aliases_and_python_tags_are_refused(tmp_path: Path) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
    (tmp_path / "bomb.yaml").write_text(bomb)
    (tmp_path / "tag.yaml").write_text("sop: !!python/object/apply:os.system ['echo owned']\n")
    with pytest.raises(PackError) as info:
        load_pack([tmp_path])
    messages = {d.location.file.rsplit("/", 1)[-1]: d.message for d in info.value.diagnostics}
    assert "aliases" in messages["bomb.yaml"]
    assert "python/object/apply" in messages["tag.yaml"]


def test_a_bad_duration_and_an_unknown_param_are_reported(tmp_path: Path) -> None:
    text = """\
sop: {id: demo, title: Demo, source: {document: demo.txt}}
rules:
  - id: late-review
    kind: response
    severity: warning
    description: d
    source: {document: demo.txt, step: "1"}
    after: {on: case.created}
    expect: {on: review.logged}
    within: 2 days
    start: params.no_such_thing
    action: review
    message: late
"""
    with pytest.raises(PackError) as info:
        load_pack([_pack_with(tmp_path, text)])
    found = {(d.code.value, d.location.line) for d in info.value.diagnostics}
    assert found == {("bad-duration", 10), ("unknown-param", 11)}


def test_the_bundled_pack_validates(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["validate"])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok:")


def test_audit_with_a_broken_pack_exits_2_without_a_traceback(tmp_path: Path, runner: CliRunner) -> None:
    path = _pack_with(tmp_path, RULE % {"on": "review.loged", "require": "true"})
    log = tmp_path / "log.jsonl"
    log.write_text("")
    result = runner.invoke(cli, ["audit", str(log), "--sops", str(path)])
    assert result.exit_code == 2
    assert "demo.yaml:8" in result.output and "Traceback" not in result.output


def test_unknown_set_parameter_and_bad_value_exit_2(runner: CliRunner, tmp_path: Path) -> None:
    log = tmp_path / "log.jsonl"
    log.write_text("")
    r1 = runner.invoke(cli, ["audit", str(log), "--set", "reopen_windw=3h"])
    assert r1.exit_code == 2 and "did you mean 'reopen_window'" in r1.output
    r2 = runner.invoke(cli, ["audit", str(log), "--set", "reopen_window=soon"])
    assert r2.exit_code == 2 and "not a duration" in r2.output


def test_a_missing_log_file_exits_2_with_its_name(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(cli, ["audit", str(tmp_path / "nope.jsonl")])
    assert result.exit_code == 2
    assert "nope.jsonl" in result.output and "Traceback" not in result.output


def test_a_repeat_shorter_than_a_minute_and_a_duration_over_1000_years_are_refused(tmp_path: Path) -> None:
    """repeat: {every: 0s} looped for ever; 99999999w overflowed times: both are compile errors now."""
    from sopengine.errors import PackError
    from sopengine.timeutil import parse_duration

    body = ("events:\n  x.y: {}\nsop: {id: s, title: S, source: {document: d.txt}}\nrules:\n"
            "  - id: r\n    kind: response\n    severity: error\n    description: d\n"
            "    source: {document: d.txt, step: '1'}\n    after: {on: x.y}\n    expect: {on: x.y}\n"
            "    repeat: {every: EVERY}\n    action: a\n    message: m\n")
    for every in ("0s", "0.0000001s", "59s"):
        (tmp_path / "p.yaml").write_text(body.replace("EVERY", every))
        with pytest.raises(PackError) as caught:
            load_pack([tmp_path])
        assert any(d.code.value == "bad-duration" and "at least 1m" in d.message for d in caught.value.diagnostics)
    (tmp_path / "p.yaml").write_text(body.replace("EVERY", "99999999w"))
    with pytest.raises(PackError) as caught:
        load_pack([tmp_path])
    assert any("longer than 1000 years" in d.message for d in caught.value.diagnostics)
    (tmp_path / "p.yaml").write_text(body.replace("EVERY", "1m"))
    assert load_pack([tmp_path]).rules
    with pytest.raises(ValueError, match="longer than 1000 years"):
        parse_duration("9" * 400 + "w")


def test_a_parameter_value_outside_its_allowed_values_is_refused_with_a_suggestion(runner: CliRunner) -> None:
    typo = runner.invoke(cli, ["audit", "examples/events.jsonl", "--set", "homeowner_case_record=contrakt"])
    assert typo.exit_code != 0 and "Traceback" not in typo.output
    assert "'contrakt' is not one of contact, contract (did you mean 'contract'?)" in typo.output
    listed = runner.invoke(cli, ["params", "--format", "json", "--set", "homeowner_case_record=contract"])
    assert listed.exit_code == 0
    param = next(p for p in json.loads(listed.stdout) if p["name"] == "homeowner_case_record")
    assert param == {**param, "type": "string", "allowed": ["contact", "contract"], "default": "contact",
                     "value": "contract", "source": "--set"}
    text = runner.invoke(cli, ["params"]).stdout
    assert "reopen_window  duration = 6h  [default]" in text


def test_thousands_of_unknown_names_against_thousands_of_declared_ones_are_checked_in_seconds(
        tmp_path: Path) -> None:
    """did-you-mean compared every unknown name with every declared one: 140 KB of SOP took minutes."""
    import time

    n = 1500
    events = "".join(f"  kind.number{i}: {{}}\n" for i in range(n))
    rules = "".join(f"  - id: r{i}\n    kind: forbid\n    severity: error\n    description: d\n"
                    f"    source: {{document: d.txt, step: '1'}}\n    on: kind.numbr{i}\n    message: m\n"
                    for i in range(n))
    (tmp_path / "p.yaml").write_text(f"events:\n{events}sop: {{id: s, title: S, source: {{document: d.txt}}}}\n"
                                     f"rules:\n{rules}")
    started = time.process_time()
    with pytest.raises(PackError) as caught:
        load_pack([tmp_path])
    assert time.process_time() - started < 30
    assert "(did you mean 'kind.number7'?)" in str(caught.value.diagnostics[7].message)


# A rule of each kind that loads with the bundled pack: the keys of its kind, in the order written.
KIND_KEYS: dict[str, dict[str, Any]] = {
    "guard": {"on": "review.logged", "when": "true", "require": "event.actor == state.owner"},
    "forbid": {"on": "ticket.linked", "when": "true"},
    "require_fields": {"on": "case.created", "fields": ["request_type"]},
    "precedence": {"on": "case.status_changed", "after": {"on": "review.logged"}, "within": "2d"},
    "at_most": {"on": "case.owner_changed", "max": 3},
    "response": {"after": {"on": "case.created"}, "expect": {"on": "review.logged"}, "within": "2d",
                 "action": "log a review"},
    "invariant": {"require": "state.owner != null", "grace": "1h", "action": "assign the case"},
    "cross_case": {"on": "case.created", "index": "queued_cases", "key": "state.owner"},
    "declare": {"template": "response", "activation": {"on": "case.created"}, "target": {"on": "review.logged"},
                "window": {"max": "2d"}},
}
HEAD_LINES = 8  # the lines of _kind_rule's text before the kind's keys


def _kind_rule(kind: str, keys: Mapping[str, Any]) -> str:
    body = "".join(f"    {key}: {json.dumps(value)}\n" for key, value in keys.items())
    return (f"sop: {{id: demo, title: Demo, source: {{document: demo.txt}}}}\nrules:\n  - id: r\n    kind: {kind}\n"
            f"    severity: error\n    description: d\n    source: {{document: demo.txt, step: '1'}}\n"
            f"    message: m\n{body}")


def _problems(tmp_path: Path, text: str) -> list[Diagnostic]:
    with pytest.raises(PackError) as info:
        load_pack([_pack_with(tmp_path, text)])
    return list(info.value.diagnostics)


def _typo(key: str) -> str:
    return key[:2] + key[1:]  # 'on' -> 'onn', 'require' -> 'reequire'


def test_every_kind_has_an_example_rule_that_loads(tmp_path: Path) -> None:
    assert list(KIND_KEYS) == list(KINDS)
    for kind, keys in KIND_KEYS.items():
        assert set(keys) >= set(KINDS[kind].schema["required"]), kind
        load_pack([_pack_with(tmp_path, _kind_rule(kind, keys))])


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_misspelled_key_of_a_rule_is_one_error_naming_it_with_a_suggestion(tmp_path: Path, kind: str) -> None:
    """Misspelling a required key is one mistake: no second error that the key is missing."""
    key = KINDS[kind].schema["required"][0]
    keys = {(_typo(k) if k == key else k): v for k, v in KIND_KEYS[kind].items()}
    (problem,) = _problems(tmp_path, _kind_rule(kind, keys))
    assert problem.code.value == "schema"
    assert problem.message.startswith(f"key '{_typo(key)}' is not allowed here (did you mean '{key}'?); allowed: ")
    assert (problem.location.line, problem.location.path) == (HEAD_LINES + list(keys).index(_typo(key)) + 1,
                                                              ("rules", 0, _typo(key)))


@pytest.mark.parametrize("kind", list(KINDS))
def test_a_key_of_another_kind_is_one_error_listing_the_keys_of_this_one(tmp_path: Path, kind: str) -> None:
    own = set(KINDS[kind].schema["properties"])
    foreign = sorted(set().union(*(k.schema["properties"] for k in KINDS.values())) - own)[0]
    (problem,) = _problems(tmp_path, _kind_rule(kind, {**KIND_KEYS[kind], foreign: "x"}))
    assert problem.message.startswith(f"key '{foreign}' is not allowed here")
    allowed = set(problem.message.rsplit("allowed: ", 1)[1].split(", "))
    assert allowed == own | {"id", "kind", "severity", "description", "source", "message", "disabled", "accountable",
                             "effective_at", "complete", "suppress"}


@pytest.mark.parametrize("kind", list(KINDS))
def test_an_unknown_kind_is_one_error_whatever_keys_the_rule_has(tmp_path: Path, kind: str) -> None:
    (problem,) = _problems(tmp_path, _kind_rule(kind + "x", KIND_KEYS[kind]))
    assert problem.message.startswith(f"'{kind}x' is not one of guard, forbid, ")
    assert problem.message.endswith(f"(did you mean '{kind}'?)")
    assert (problem.location.line, problem.location.path) == (4, ("rules", 0, "kind"))


def test_a_rule_without_a_kind_is_one_error(tmp_path: Path) -> None:
    text = _kind_rule("guard", KIND_KEYS["guard"]).replace("    kind: guard\n", "")
    (problem,) = _problems(tmp_path, text)
    assert problem.message == "'kind' is required here"


def test_a_bad_value_of_a_kind_key_is_not_also_an_unknown_key(tmp_path: Path) -> None:
    """The spec drops what a failing branch evaluated; sopengine reports only the bad value."""
    problems = _problems(tmp_path, _kind_rule("at_most", {**KIND_KEYS["at_most"], "max": -1}))
    assert [p.message for p in problems] == ["-1 is less than the minimum of 0"]
