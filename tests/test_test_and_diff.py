"""`sopengine test` (scenarios, coverage, threshold, inline tests) and `sopengine diff` (impact of an edit)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from click.testing import CliRunner

from sopengine import audit_files, load_facts, load_pack
from sopengine.cli import cli
from sopengine.scenarios import load_scenario_file, scenario_files

from .conftest import ROOT, SOPS

EXAMPLE_LOG = str(ROOT / "examples" / "events.jsonl")
EXAMPLE_FACTS = str(ROOT / "examples" / "facts.yaml")


def _copy_pack(dest: Path, tests: bool = True) -> Path:
    for path in SOPS.glob("*.yaml"):
        if tests or not path.name.endswith(".test.yaml"):
            shutil.copy(path, dest / path.name)
    return dest


def _written_scenarios() -> int:
    """How many scenarios the bundled scenario files hold."""
    docs = [load_scenario_file(path)[0] for path in scenario_files([SOPS])]
    return sum(len(doc.data["scenarios"]) for doc in docs if doc is not None)


def test_the_bundled_scenarios_pass_with_full_coverage(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["test", "sops", "--coverage", "--threshold", "100"])
    assert result.exit_code == 0, result.output[-2000:]
    assert "coverage: 41/41 rules shown firing and silent (100.0%)" in result.output
    written = _written_scenarios()
    assert written > 100
    assert f"{written} scenario(s): {written} passed, 0 failed" in result.output


def test_a_failing_scenario_shows_the_difference_and_exits_1(tmp_path: Path, runner: CliRunner) -> None:
    pack = _copy_pack(tmp_path)
    text = (pack / "working-a-case.test.yaml").read_text()
    (pack / "working-a-case.test.yaml").write_text(text.replace(
        "- {rule: close-with-open-assignments, at: 4h, events: [e5, e3], message: A-2}",
        "- {rule: close-with-open-assignments, at: 5h, events: [e5, e3], message: A-2}"))
    result = runner.invoke(cli, ["test", str(pack)])
    assert result.exit_code == 1
    assert "FAIL" in result.output
    assert "expected violation not found: {'rule': 'close-with-open-assignments', 'at': '5h'" in result.output
    assert "unexpected violation: rule=working-a-case/close-with-open-assignments" in result.output
    written = _written_scenarios()
    assert f"{written} scenario(s): {written - 1} passed, 1 failed" in result.output


def test_coverage_below_the_threshold_fails(tmp_path: Path, runner: CliRunner) -> None:
    pack = _copy_pack(tmp_path)
    (pack / "service-desk.test.yaml").unlink()
    result = runner.invoke(cli, ["test", str(pack), "--threshold", "90"])
    assert result.exit_code == 1
    assert "service-desk/eb-label" in result.output and "not covered" in result.output
    assert "coverage 75.6% is below the threshold 90%" in result.output
    assert runner.invoke(cli, ["test", str(pack), "--threshold", "75"]).exit_code == 0


def test_a_pack_that_does_not_load_fails_the_test_run_with_exit_1_in_every_format(tmp_path: Path,
                                                                                 runner: CliRunner) -> None:
    """SPEC §5: failed SOP tests exit 1, as validate and lint do for the same broken pack; the help says so."""
    pack = _copy_pack(tmp_path)
    sop = pack / "working-a-case.yaml"
    sop.write_text(sop.read_text().replace("kind: ", "kind: no-such-kind-", 1))
    result = runner.invoke(cli, ["test", str(pack)])
    assert result.exit_code == 1, result.output
    assert "FAIL" in result.output and "working-a-case.yaml" in result.output and "(the pack does not load)" in \
        result.output
    junit = runner.invoke(cli, ["test", str(pack), "--format", "junit"])
    assert junit.exit_code == 1 and "<failure" in junit.stdout and "working-a-case.yaml" in junit.stdout
    assert runner.invoke(cli, ["validate", str(pack)]).exit_code == 1
    missing = runner.invoke(cli, ["test", str(tmp_path / "nowhere")])
    assert missing.exit_code == 1 and "no such file or directory" in missing.output
    assert "when the pack does not" in " ".join(runner.invoke(cli, ["test", "--help"]).output.split())


def test_scenarios_can_live_inside_the_sop_file(tmp_path: Path, runner: CliRunner) -> None:
    pack = _copy_pack(tmp_path, tests=False)
    sop = pack / "working-a-case.yaml"
    sop.write_text(sop.read_text() + """
tests:
  - name: an invalid status inside the SOP file's own tests
    rules: [valid-status]
    events:
      - {at: 0m, type: case.created, actor: fl.ana}
      - {at: 1h, type: case.status_changed, actor: fl.ana, data: {to: Parked}}
    expect:
      violations: [{rule: valid-status, events: [e2]}]
  - name: an inline scenario with a typo is reported at its line
    events:
      - {at: 0m, type: case.creatd}
    expect: {}
""")
    result = runner.invoke(cli, ["test", str(pack)])
    assert "PASS" in result.output and "an invalid status inside the SOP file's own tests" in result.output
    assert "unknown event type 'case.creatd'" in result.output
    assert result.exit_code == 1


def test_diff_reports_exactly_the_findings_a_changed_deadline_changes(tmp_path: Path, runner: CliRunner) -> None:
    new = _copy_pack(tmp_path, tests=False)
    text = (new / "pack.yaml").read_text()
    edited = text.replace("  first_response_within:\n    type: duration\n    default: 2h",
                          "  first_response_within:\n    type: duration\n    default: 1h")
    assert edited != text
    (new / "pack.yaml").write_text(edited)
    result = runner.invoke(cli, ["diff", str(SOPS), str(new), "--log", EXAMPLE_LOG, "--facts", EXAMPLE_FACTS,
                                 "--format", "json"])
    assert result.exit_code == 1  # something changed
    impact = json.loads(result.stdout)

    facts = load_facts([EXAMPLE_FACTS])
    old_result = audit_files(load_pack([SOPS]), [EXAMPLE_LOG], facts)
    new_result = audit_files(load_pack([new]), [EXAMPLE_LOG], facts)

    def keyed(result: object) -> set[tuple[str, str, tuple[str, ...], str | None]]:
        out = set()
        for v in result.violations:  # type: ignore[attr-defined]
            out.add((v.rule, v.case, v.events, v.to_json()["time"]))
        for a in result.next_actions:  # type: ignore[attr-defined]
            out.add((a.rule, a.case, a.events, a.to_json()["due"]))
        return out

    before, after = keyed(old_result), keyed(new_result)
    changed_cases = {(k[0], k[1]) for k in before ^ after}
    reported = {(f["rule"], f["case"]) for f in impact["appeared"] + impact["disappeared"]}
    reported |= {(c["old"]["rule"], c["old"]["case"]) for c in impact["changed"]}
    assert reported == changed_cases
    assert {rule for rule, _ in reported} == {"service-desk/first-response-2h"}
    assert impact["summary"]["appeared"] > 0 and impact["summary"]["disappeared"] == 0


def test_diff_of_a_pack_with_itself_is_empty(runner: CliRunner) -> None:
    result = runner.invoke(cli, ["diff", str(SOPS), str(SOPS), "--log", EXAMPLE_LOG, "--facts", EXAMPLE_FACTS])
    assert result.exit_code == 0
    assert result.output.startswith("0 finding(s) appear, 0 disappear, 0 change")


def test_the_pre_commit_hooks_run_lint_and_test() -> None:
    import yaml
    hooks = {h["id"]: h for h in yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())}
    assert hooks["sopengine-lint"]["entry"].startswith("sopengine lint")
    assert hooks["sopengine-test"]["entry"].startswith("sopengine test")
    assert all(h["language"] == "python" for h in hooks.values())
