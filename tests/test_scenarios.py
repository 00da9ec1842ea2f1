"""Every scenario of every SOP file (``sops/*.test.yaml`` and the test packs) is one test."""

from __future__ import annotations

from pathlib import Path

import pytest

from sopengine._yaml import YamlDocument
from sopengine.scenarios import PackSource, load_scenario_file, run_files, run_scenario, scenario_files

from .conftest import PACKS, SOPS

_SOURCES = (SOPS, PACKS / "library", PACKS / "declare", PACKS / "calendars", PACKS / "pauses",
            PACKS / "versions")


_DOCS: dict[Path, YamlDocument] = {}


def _cases() -> list[tuple[Path, Path, int, str]]:
    out = []
    for pack_dir in _SOURCES:
        for path in scenario_files([pack_dir]):
            doc, problems = load_scenario_file(path)
            assert doc is not None, problems
            _DOCS[path] = doc
            for i, sc in enumerate(doc.data["scenarios"]):
                out.append((pack_dir, path, i, f"{path.stem}: {sc['name']}"))
    return out


_CASES = _cases()
_PACK_SOURCES: dict[Path, PackSource] = {}


@pytest.mark.parametrize(("pack_dir", "path", "index"), [c[:3] for c in _CASES], ids=[c[3] for c in _CASES])
def test_scenario(pack_dir: Path, path: Path, index: int) -> None:
    if pack_dir not in _PACK_SOURCES:
        _PACK_SOURCES[pack_dir] = PackSource([pack_dir])
    outcome = run_scenario(_PACK_SOURCES[pack_dir], _DOCS[path], index)
    assert outcome.passed, "\n".join(outcome.problems)


def test_every_bundled_rule_has_a_firing_and_a_silent_scenario(bundled) -> None:  # type: ignore[no-untyped-def]
    outcomes = run_files([SOPS], scenario_files([SOPS]))
    fired = set().union(*(o.fired for o in outcomes))
    silent = set().union(*(o.silent for o in outcomes))
    encoded = {r.id for r in bundled.rules}
    assert encoded - fired == set(), "rules never shown firing"
    assert encoded - silent == set(), "rules never shown staying silent"


def test_a_scenario_with_a_wrong_expectation_fails(tmp_path: Path) -> None:
    bad = tmp_path / "wrong.test.yaml"
    bad.write_text(
        "sop: working-a-case\n"
        "scenarios:\n"
        "  - name: closing with an open assignment claimed to be clean\n"
        "    rules: [close-with-open-assignments]\n"
        "    events:\n"
        "      - {at: 0m, type: case.created, actor: a}\n"
        "      - {at: 1h, type: assignment.created, actor: a, data: {assignment: X}}\n"
        "      - {at: 2h, type: case.status_changed, actor: a, data: {to: Closed}}\n"
        "    expect: {}\n"
        "  - name: a violation expected that does not happen\n"
        "    rules: [valid-status]\n"
        "    events:\n"
        "      - {at: 0m, type: case.created, actor: a}\n"
        "    expect:\n"
        "      violations: [{rule: valid-status}]\n")
    outcomes = run_files([SOPS], [bad])
    assert [o.passed for o in outcomes] == [False, False]
    assert "unexpected violation" in outcomes[0].problems[0]
    assert "expected violation not found" in outcomes[1].problems[0]
