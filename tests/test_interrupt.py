"""Ctrl-C during an audit: exit 130, say how far it got, leave no report behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sopengine import native

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
                             "--output", str(report), "--jobs", jobs, "--engine", "python", "--progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    err = bytearray()
    reading = threading.Event()

    def collect() -> None:  # the progress bar's first drawing says the audit is reading the log
        assert proc.stderr is not None
        for chunk in iter(lambda: proc.stderr.read1(4096), b""):  # type: ignore[union-attr]
            err.extend(chunk)
            reading.set()

    collector = threading.Thread(target=collect, daemon=True)
    collector.start()
    # not a fixed sleep: on a loaded machine starting Python and the workers can take longer than any guess
    assert reading.wait(120), "the audit never started reading"
    time.sleep(1.0)
    assert proc.poll() is None, "the audit ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole process group
    proc.wait(timeout=60)
    collector.join(10)
    text = err.decode()
    assert proc.returncode == 130, text
    assert "interrupted after" in text and "MB" in text and "no report was written" in text
    assert "Traceback" not in text
    assert not report.exists()
    assert [p.name for p in tmp_path.iterdir()] == []  # no temporary file left either


@pytest.mark.skipif(not native.available(), reason="the native core is not built")
def test_ctrl_c_while_the_native_core_waits_on_a_pipe_exits_130_and_writes_no_report(
        tmp_path_factory: pytest.TempPathFactory, tmp_path: Path) -> None:
    """The core reads the file itself: a signal during a read that waits must still stop the audit."""
    fifo = tmp_path_factory.mktemp("pipe") / "live.jsonl"
    os.mkfifo(fifo)
    report = tmp_path / "report.json"
    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines(keepends=True)
    done, read = threading.Event(), threading.Event()

    def write() -> None:
        with open(fifo, "wb") as fh:
            fh.writelines(lines[:500])  # more than a pipe holds: written once the audit has read most of it
            fh.flush()
            read.set()
            done.wait(60)  # keep the pipe open and silent: the reader waits in read()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", "audit", str(fifo), "--format", "json",
                             "--output", str(report), "--engine", "native"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    try:
        assert read.wait(60), "the audit never read the pipe"
        time.sleep(0.5)  # the reader now waits in read() (a fixed delay from the start fails on a busy machine)
        assert proc.poll() is None, "the audit ended while the pipe was still open"
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        done.set()
    text = err.decode()
    assert proc.returncode == 130, text
    assert "interrupted" in text and "no report was written" in text
    assert "Traceback" not in text
    assert [p.name for p in tmp_path.iterdir()] == []
