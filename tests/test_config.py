"""Which pack a command checks when none is named: the project's, never silently the bundled demo."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from sopengine.cli import cli

from .conftest import PACKS, ROOT


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _broken_sops(root: Path) -> None:
    shutil.copytree(PACKS / "library", root / "sops")
    text = (root / "sops" / "library.yaml").read_text()
    (root / "sops" / "library.yaml").write_text(text.replace("kind: guard", "kind: gaurd", 1))


@pytest.mark.parametrize("command", [["validate"], ["lint"], ["test"]])
def test_a_broken_sops_directory_fails_every_check_run_with_no_arguments(project: Path, command: list[str]) -> None:
    _broken_sops(project)
    result = CliRunner().invoke(cli, command)
    assert result.exit_code == 1, result.output  # invalid SOP files: every check fails alike
    assert "sops/library.yaml" in result.output and "bundled" not in result.stderr


def test_a_config_file_names_the_pack_facts_and_params(project: Path) -> None:
    _broken_sops(project)  # not used: the config names another pack
    shutil.copytree(PACKS / "library", project / "packs" / "lib")
    (project / "sopengine.yaml").write_text("sops: [packs/lib]\nparams: {}\n")
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 0
    (project / "sopengine.yaml").unlink()
    (project / "pyproject.toml").write_text('[tool.sopengine]\nsops = ["packs/lib"]\n')
    assert CliRunner().invoke(cli, ["validate"]).exit_code == 0


def test_a_config_cannot_point_outside_its_directory(project: Path) -> None:
    (project / "sopengine.yaml").write_text("sops: [../elsewhere]\n")
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 2 and "leaves the directory of the config file" in result.stderr


def test_with_nothing_found_the_bundled_pack_is_checked_and_said_first(project: Path) -> None:
    result = CliRunner().invoke(cli, ["validate"])
    assert result.exit_code == 0
    assert result.stderr.startswith("sopengine: no ./sops and no sopengine.yaml here: checking the bundled demo pack")
    named = CliRunner().invoke(cli, ["validate", "bundled"])
    assert named.exit_code == 0 and "demo pack" not in named.stderr


def test_the_pre_commit_hooks_check_the_projects_own_pack(project: Path) -> None:
    import yaml

    _broken_sops(project)
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    for hook in hooks:
        args = hook["entry"].split()[1:] + list(hook.get("args", []))
        assert CliRunner().invoke(cli, args).exit_code in (1, 2), hook["id"]
