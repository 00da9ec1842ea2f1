"""Every lint code fires on a file made to show it, and stays silent on a clean pack."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.errors import Code
from sopengine.lint import lint

BASE = """\
events:
  thing.opened:
    data:
      kind: {type: string, enum: [a, b]}
      owner: {type: string}
  thing.closed:
    data: {}
facts:
  people:
    fields:
      team: {type: string}
params:
  limit: {type: duration, default: 1h}
  team: {type: string, default: Ops}
state:
  owner:
    type: value
    updates:
      - {on: thing.opened, set: data.owner}
indexes:
  open_things:
    member: filled(state.owner)
    key: state.owner
sop: {id: demo, title: Demo, source: {document: demo.txt}}
rules:
  - id: close-in-time
    kind: response
    severity: warning
    description: A thing is closed within the limit.
    source: {document: demo.txt, step: "1"}
    after: {on: thing.opened, when: "data.kind == 'a'"}
    expect: {on: thing.closed}
    within: params.limit
    action: close it
    message: not closed in time
  - id: owner-in-team
    kind: guard
    severity: error
    description: The owner is in the team.
    source: {document: demo.txt, step: "2"}
    on: thing.closed
    require: fact('people', state.owner, 'team') == params.team
    message: owner not in team
  - id: one-per-owner
    kind: cross_case
    severity: info
    description: One open thing per owner.
    source: {document: demo.txt, step: "3"}
    on: thing.opened
    index: open_things
    key: data.owner
    message: another open thing
"""

EXTRA_RULE = """\
  - id: {id}
    kind: {kind}
    severity: warning
    description: d
    source: {{document: demo.txt, step: "9"}}
{body}
    message: m
"""


def rule(rule_id: str, kind: str, body: str) -> str:
    return EXTRA_RULE.format(id=rule_id, kind=kind, body=body)


OTHER_SOP = """\
sop: {id: other, title: Other, source: {document: other.txt}}
rules:
""" + rule("kind-is-b", "guard", "    on: thing.opened\n    require: \"data.kind == 'b'\"")

_SOP = "sop: {id: demo, title: Demo, source: {document: demo.txt}}"


def versioned(until: str) -> str:
    """BASE as version 1 of its SOP, in force from 2024 until ``until``."""
    return BASE.replace(_SOP, _SOP[:-1] + f", version: '1', effective: {{from: '2024-01-01', until: '{until}'}}}}")


def version_2(start: str) -> str:
    return (_SOP[:-1] + f", version: '2', effective: {{from: '{start}'}}}}\nrules:\n"
            + rule("kind-is-b", "guard", "    on: thing.opened\n    require: \"data.kind == 'b'\""))


# code -> the files of a pack that shows it (main file text, optional extra files)
CASES: dict[str, tuple[str, dict[str, str]]] = {
    "yaml-syntax": (BASE + "  - id: [oops\n", {}),
    "yaml-forbidden": (BASE.replace("params:\n", "x: &anchor [1]\ny: *anchor\nparams:\n"), {}),
    "file-unreadable": (BASE, {"missing.yaml": None}),  # type: ignore[dict-item]
    "schema": (BASE + "rulez: []\n", {}),
    "missing-source": (BASE.replace('    source: {document: demo.txt, step: "2"}\n', ""), {}),
    "duplicate-id": (BASE + rule("owner-in-team", "forbid", "    on: thing.closed"), {}),
    "duplicate-declaration": (BASE, {"more.yaml": "params:\n  limit: {type: duration, default: 2h}\n"}),
    "unknown-event": (BASE.replace("expect: {on: thing.closed}", "expect: {on: thing.clsed}"), {}),
    "unknown-field": (BASE.replace("data.kind == 'a'", "data.kind2 == 'a'"), {}),
    "unknown-state": (BASE.replace("key: state.owner", "key: state.ownr"), {}),
    "unknown-param": (BASE.replace("== params.team", "== params.teem"), {}),
    "unknown-fact": (BASE.replace("fact('people'", "fact('persons'"), {}),
    "unknown-index": (BASE.replace("index: open_things", "index: open_thing"), {}),
    "unknown-name": (BASE.replace("data.kind == 'a'", "kind == 'a'"), {}),
    "unknown-function": (BASE.replace("filled(state.owner)", "is_filled(state.owner)"), {}),
    "expression-syntax": (BASE.replace("data.kind == 'a'", "data.kind == = 'a'"), {}),
    "expression-forbidden": (BASE.replace("data.kind == 'a'", "data.kind.__class__ == 'a'"), {}),
    "expression-limit": (BASE.replace("data.kind == 'a'", "data.kind == '" + "a" * 2100 + "'"), {}),
    "bad-duration": (BASE.replace("within: params.limit", "within: an hour"), {}),
    "bad-pattern": (BASE.replace("filled(state.owner)", "matches(state.owner, '([')"), {}),
    "bad-param": (BASE.replace("default: 1h", "default: soon"), {}),
    "bad-calendar": (BASE.replace("params:\n", "calendars:\n  office: {zone: Europe/Berln, hours: {mon: ['09:00-17:00']}}\n"
                                               "params:\n"), {}),
    "unknown-calendar": (BASE.replace("    within: params.limit\n", "    within: params.limit\n    calendar: ofice\n"),
                         {}),
    "bad-state-op": (BASE.replace("set: data.owner", "remove: data.owner"), {}),
    "type-mismatch": (BASE.replace("data.kind == 'a'", "data.kind * 2 == 'a'"), {}),
    "empty-pack": ("events: {}\n", {}),
    "always-holds": (BASE.replace("data.kind == 'a'", "data.kind != 'c'"), {}),
    "never-holds": (BASE.replace("data.kind == 'a'", "data.kind == 'a' and data.kind == 'b'"), {}),
    "unused-state": (BASE.replace("state:\n", "state:\n  spare:\n    type: counter\n    updates:\n"
                                  "      - {on: thing.closed, add: 1}\n"), {}),
    "unused-param": (BASE.replace("params:\n", "params:\n  spare: {type: number, default: 3}\n"), {}),
    "unused-facts": (BASE.replace("facts:\n", "facts:\n  teams:\n    fields: {}\n"), {}),
    "unused-index": (BASE.replace("indexes:\n", "indexes:\n  spare:\n    member: 'true'\n    key: state.owner\n"), {}),
    "unused-event": (BASE.replace("events:\n", "events:\n  thing.renamed:\n    data: {}\n"), {}),
    "required-and-forbidden": (BASE + rule("never-close", "forbid", "    on: thing.closed"), {}),
    "sop-conflict": (BASE + rule("kind-is-a", "guard", "    on: thing.opened\n    require: \"data.kind == 'a'\""),
                     {"other.yaml": OTHER_SOP}),
    "sop-conflict-resolved": (
        BASE + rule("kind-is-a", "guard", "    on: thing.opened\n    require: \"data.kind == 'a'\"")
        + "conflicts:\n  kind:\n    description: demo and other disagree about kind\n"
          "    rules: [demo/kind-is-a, other/kind-is-b]\n    resolution: {reason: other wins for now}\n",
        {"other.yaml": OTHER_SOP}),
    "rule-disabled": (BASE.replace("    kind: cross_case\n", "    kind: cross_case\n    disabled: retired in 2024\n"),
                      {}),
    "pack-limit": (BASE + "".join(rule(f"never-close-{i}", "forbid", "    on: thing.closed") for i in range(5000)), {}),
    "never-late": (BASE.replace("    within: params.limit\n", ""), {}),
    "self-target": (BASE + rule("reopen-after-close", "declare", "    template: precedence\n"
                                "    activation: {on: thing.closed}\n    target: {on: [thing.opened, thing.closed]}"), {}),
    "bad-effective": (versioned("2023-01-01"), {}),
    "version-overlap": (versioned("2024-07-01"), {"v2.yaml": version_2("2024-06-01")}),
    "version-gap": (versioned("2024-07-01"), {"v2.yaml": version_2("2024-08-01")}),
    "unused-suppression": (BASE + "suppress:\n  - {code: unused-param, target: nothing, reason: kept for later}\n", {}),
}


def _write(tmp_path: Path, main: str, extra: dict[str, str | None]) -> Path:
    (tmp_path / "demo.yaml").write_text(main)
    for name, text in extra.items():
        if text is not None:
            (tmp_path / name).write_text(text)
    return tmp_path


def _paths(tmp_path: Path, extra: dict[str, str | None]) -> list[Path]:
    missing = [tmp_path / n for n, t in extra.items() if t is None]
    return [tmp_path, *missing]


def test_every_code_has_a_case() -> None:
    lint_codes = {c.value for c in Code}
    assert lint_codes == set(CASES)


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_code_fires_on_a_pack_made_to_show_it(tmp_path: Path, code: str) -> None:
    main, extra = CASES[code]
    report = lint(_paths(_write(tmp_path, main, extra), extra))
    found = [d for d in report.diagnostics if d.code.value == code]
    assert found, [str(d) for d in report.diagnostics]
    for d in found:
        assert d.location.file and d.message
        if code not in ("file-unreadable", "empty-pack"):
            assert d.location.line > 0


@pytest.mark.parametrize("code", sorted(CASES))
def test_the_code_stays_silent_on_a_clean_pack(tmp_path: Path, code: str) -> None:
    report = lint([_write(tmp_path, BASE, {})])
    assert [str(d) for d in report.diagnostics if d.code.value == code] == []


def test_the_clean_base_pack_has_no_findings_at_all(tmp_path: Path) -> None:
    assert [str(d) for d in lint([_write(tmp_path, BASE, {})]).diagnostics] == []


def test_the_seeds_disagreement_encoded_naively_is_a_conflict(tmp_path: Path) -> None:
    from .conftest import SOPS
    import shutil
    for path in SOPS.glob("*.yaml"):
        if not path.name.endswith(".test.yaml"):
            shutil.copy(path, tmp_path / path.name)
    # encode 001 and 002 literally, each naming its own record, and drop the declared resolution
    ca = (tmp_path / "case-assignment.yaml").read_text()
    (tmp_path / "case-assignment.yaml").write_text(
        ca.replace("data.record == params.homeowner_case_record", "data.record == 'contract'"))
    ui = (tmp_path / "unresponsive-installer.yaml").read_text()
    (tmp_path / "unresponsive-installer.yaml").write_text(
        ui.replace("data.record == params.homeowner_case_record", "data.record == 'contact'"))
    pack_yaml = (tmp_path / "pack.yaml").read_text()
    (tmp_path / "pack.yaml").write_text(pack_yaml.split("\nconflicts:")[0] + "\n")
    conflicts = [d for d in lint([tmp_path]).diagnostics if d.code is Code.SOP_CONFLICT]
    assert len(conflicts) == 1
    assert "case-assignment/homeowner-under-contract" in conflicts[0].message
    assert "unresponsive-installer/case-classification" in conflicts[0].message
    assert "data.record" in conflicts[0].message


def test_a_suppression_keeps_the_finding_visible_with_its_reason(tmp_path: Path) -> None:
    text = CASES["unused-param"][0] + "suppress:\n  - {code: unused-param, target: spare, reason: read by the v2 rules}\n"
    report = lint([_write(tmp_path, text, {})])
    (finding,) = [d for d in report.diagnostics if d.code is Code.UNUSED_PARAM]
    assert finding.suppressed == "read by the v2 rules"
    assert report.active() == [] and not report.failed("warning")


def test_a_rule_level_suppression_applies_to_that_rule(tmp_path: Path) -> None:
    text = BASE.replace("data.kind == 'a'", "data.kind != 'c'").replace(
        "    after: {on: thing.opened", "    suppress: [{code: always-holds, reason: every kind for now}]\n"
        "    after: {on: thing.opened")
    report = lint([_write(tmp_path, text, {})])
    assert [(d.code.value, d.suppressed) for d in report.diagnostics] == [("always-holds", "every kind for now")]


def test_lint_of_the_bundled_pack_exits_0(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["lint", "sops"])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 0 warning(s)" in result.output


def test_lint_reports_a_syntax_error_and_an_unknown_key_with_file_and_line(tmp_path: Path, runner: CliRunner) -> None:
    (tmp_path / "broken.yaml").write_text("sop: {id: x, title: X, source: {document: d}}\nrules: [\n")
    (tmp_path / "extra.yaml").write_text(BASE.replace("sop: {id: demo", "sopp: {id: demo"))
    result = runner.invoke(cli, ["lint", str(tmp_path)])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "broken.yaml" in result.output and "yaml-syntax" in result.output
    assert "unknown key 'sopp'" in result.output and "did you mean 'sop'" in result.output
    lines = [line for line in result.output.splitlines() if "sopp" in line]
    assert lines and lines[0].strip().startswith("24:1 ")


def test_a_pairwise_check_lists_a_bounded_number_of_findings_and_says_there_are_more(tmp_path: Path) -> None:
    """One forbidding rule against many requiring ones (or many against many) made millions of findings."""
    import time

    from sopengine.lint import PER_CHECK, lint

    n = 60  # n forbids x n requirements of the same event: n*n pairs, more than PER_CHECK
    rules = "".join(f"  - id: f{i}\n    kind: forbid\n    severity: error\n    description: d\n"
                    f"    source: {{document: d.txt, step: '1'}}\n    on: x.y\n    message: m\n" for i in range(n))
    rules += "".join(f"  - id: g{i}\n    kind: precedence\n    severity: error\n    description: d\n"
                     f"    source: {{document: d.txt, step: '1'}}\n    on: x.z\n    after: {{on: x.y}}\n"
                     f"    message: m\n" for i in range(n))
    (tmp_path / "p.yaml").write_text("events:\n  x.y: {}\n  x.z: {}\nsop: {id: s, title: S, source: {document: "
                                     f"d.txt}}}}\nrules:\n{rules}")
    started = time.process_time()
    report = lint([tmp_path])
    assert time.process_time() - started < 20
    pairs = [d for d in report.diagnostics if d.code.value == "required-and-forbidden"]
    assert len(pairs) == PER_CHECK + 1
    assert any(f"the first {PER_CHECK} are" in d.message for d in pairs)


def test_an_obligation_with_no_deadline_is_fine_once_the_pack_says_when_a_case_has_ended(tmp_path: Path) -> None:
    """never-late: a response with no within and no fail_on can only be a next action, unless cases end."""
    no_deadline = BASE.replace("    within: params.limit\n", "")
    ended = no_deadline.replace("sop: {id: demo,", "pack:\n  name: demo\n  complete: {idle: 30d}\nsop: {id: demo,")
    for name in ("open", "ended"):
        (tmp_path / name).mkdir()
    codes = {name: [d.code.value for d in lint([_write(tmp_path / name, text, {})]).diagnostics]
             for name, text in (("open", no_deadline), ("ended", ended))}
    assert codes["open"].count("never-late") == 1 and "never-late" not in codes["ended"]
