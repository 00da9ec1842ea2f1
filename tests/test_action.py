"""The GitHub Action (action.yml) run step by step as GitHub runs it: its inputs and step outputs
substituted, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY / RUNNER_TEMP set, each `run` in bash, the `uses`
steps (SARIF upload) checked for the files they would upload."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from .conftest import ROOT

_EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")


def _value(expr: str, inputs: dict[str, str], outputs: dict[str, dict[str, str]]) -> str:
    kind, _, rest = expr.partition(".")
    if kind == "inputs":
        return inputs[rest]
    if kind == "steps":
        step, _, name = rest.partition(".outputs.")
        return outputs.get(step, {}).get(name, "")
    raise AssertionError(f"unexpected expression {expr}")


def _condition(text: str, inputs: dict[str, str], status_ok: bool) -> bool:
    python = re.sub(r"inputs\.([\w-]+)", lambda m: repr(inputs[m.group(1)]), text)
    python = python.replace("always()", "True").replace("success()", repr(status_ok))
    python = python.replace("&&", " and ").replace("||", " or ")
    return bool(eval(python, {"__builtins__": {}}))  # noqa: S307 - the repository's own action.yml


def _run_action(workdir: Path, given: dict[str, str]) -> dict[str, Any]:
    action = yaml.safe_load((ROOT / "action.yml").read_text())
    inputs = {name: given.get(name, spec.get("default", "")) for name, spec in action["inputs"].items()}
    outputs: dict[str, dict[str, str]] = {}
    results: dict[str, Any] = {}
    uploads: list[str] = []
    ok = True
    bin_dir = str(Path(sys.executable).parent)
    for i, step in enumerate(action["runs"]["steps"]):
        sid = step.get("id", f"step{i}")
        if "if" in step and not _condition(step["if"], inputs, ok):
            continue
        if "uses" in step:
            uploads.append(_EXPR.sub(lambda m: _value(m.group(1), inputs, outputs), step["with"]["sarif_file"]))
            continue
        env = {k: _EXPR.sub(lambda m: _value(m.group(1), inputs, outputs), str(v))
               for k, v in (step.get("env") or {}).items()}
        summary, output = workdir / f"summary-{sid}.md", workdir / f"output-{sid}.txt"
        summary.touch()
        output.touch()
        env.update(GITHUB_STEP_SUMMARY=str(summary), GITHUB_OUTPUT=str(output), RUNNER_TEMP=str(workdir),
                   GITHUB_ACTIONS="true", CI="true", PATH=bin_dir + os.pathsep + os.environ["PATH"])
        proc = subprocess.run(["bash", "-e", "-c", step["run"]], cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=300)
        outputs[sid] = dict(line.split("=", 1) for line in output.read_text().splitlines() if "=" in line)
        results[sid] = {"code": proc.returncode, "stdout": proc.stdout, "stderr": proc.stderr,
                        "summary": summary.read_text()}
        ok = ok and proc.returncode == 0
    return {"steps": results, "uploads": uploads, "outputs": outputs}


def test_the_action_lints_tests_and_audits_with_annotations_summaries_and_sarif(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sops", tmp_path / "sops")
    shutil.copy(ROOT / "examples" / "events.jsonl", tmp_path / "events.jsonl")
    shutil.copy(ROOT / "examples" / "facts.yaml", tmp_path / "facts.yaml")
    run = _run_action(tmp_path, {"install": "", "audit-log": "events.jsonl", "facts": "facts.yaml"})
    steps = run["steps"]
    assert "install" not in steps  # install: '' means sopengine is already there
    assert steps["lint"]["code"] == 0, steps["lint"]["stderr"]
    assert steps["lint"]["summary"].startswith("## ✅ sopengine lint")
    assert steps["test"]["code"] == 0 and steps["test"]["summary"].startswith("## ✅ sopengine test")
    assert steps["audit"]["code"] == 1  # the example log breaks rules on purpose: the step fails
    assert steps["audit"]["summary"].startswith("## ❌ sopengine audit")
    assert steps["audit"]["stdout"].startswith("::error ")
    assert len(run["uploads"]) == 2  # both uploads run after a failed step (if: always())
    for sarif in run["uploads"]:
        assert json.loads(Path(sarif).read_text())["version"] == "2.1.0"


def test_the_action_without_an_audit_log_only_lints_and_tests(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "sops", tmp_path / "sops")
    run = _run_action(tmp_path, {"install": "", "upload-sarif": "false"})
    assert set(run["steps"]) == {"paths", "lint", "test"} and run["uploads"] == []
