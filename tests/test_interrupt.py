"""Ctrl-C during an audit: exit 130, say how far it got, leave no report behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import ROOT


@pytest.fixture(scope="module")
def long_log(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("interrupt") / "long.jsonl"
    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines()
    with path.open("wb") as fh:
        for copy in range(120):  # ~300k events: tens of seconds, far more than the test waits
            for line in lines:
                fh.write(line.replace(b'"case": "', f'"case": "R{copy}-'.encode(), 1).replace(
                    b'"id": "', f'"id": "R{copy}-'.encode(), 1) + b"\n")
    return path


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_ctrl_c_exits_130_says_how_far_it_got_and_writes_no_report(long_log: Path, tmp_path: Path,
                                                                   jobs: str) -> None:
    report = tmp_path / "report.json"
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", "audit", str(long_log), "--format", "json",
                             "--output", str(report), "--jobs", jobs],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    time.sleep(3.0)
    assert proc.poll() is None, "the audit ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    _, err = proc.communicate(timeout=60)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "interrupted after" in text and "MB" in text and "no report was written" in text
    assert "Traceback" not in text
    assert not report.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left either
