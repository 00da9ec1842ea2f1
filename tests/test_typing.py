"""The library is type-checked with mypy --strict (pyproject's [tool.mypy])."""

from __future__ import annotations

import subprocess
import sys

from .conftest import ROOT


def test_the_engine_passes_mypy_strict() -> None:
    result = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
