"""--jobs N gives the same JSON as one process; the progress bar shows only when asked or on a terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import orjson
from click.testing import CliRunner

from sopengine.cli import cli

from .conftest import ROOT

EXAMPLE_LOG = str(ROOT / "examples" / "events.jsonl")
FACTS = str(ROOT / "examples" / "facts.yaml")


def _json(runner: CliRunner, *args: str) -> dict:  # type: ignore[type-arg]
    result = runner.invoke(cli, ["audit", *args, "--facts", FACTS, "--format", "json", "--fail-on", "never"])
    assert result.exit_code == 0, result.output[-500:]
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _bigger_log(path: Path, events: int) -> Path:
    """The example stories repeated under new case ids, shuffled into time order."""
    base = [orjson.loads(line) for line in Path(EXAMPLE_LOG).read_bytes().splitlines()]
    rows = []
    k = 0
    while len(rows) < events:
        for e in base:
            rows.append(dict(e, case=f"{e['case']}-{k}", id=f"{e['id']}-{k}"))
            if len(rows) >= events:
                break
        k += 1
    rows.sort(key=lambda e: (e["time"], e["case"]))
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def test_jobs_2_equals_jobs_1_on_the_example_log(runner: CliRunner) -> None:
    assert _json(runner, EXAMPLE_LOG, "--jobs", "2") == _json(runner, EXAMPLE_LOG, "--jobs", "1")


def test_jobs_2_equals_jobs_1_on_a_generated_100k_event_log(runner: CliRunner, tmp_path: Path) -> None:
    log = str(_bigger_log(tmp_path / "big.jsonl", 100_000))
    one = _json(runner, log, "--jobs", "1")
    two = _json(runner, log, "--jobs", "2")
    assert one["summary"]["events"] == 100_000 and one["summary"]["violations"] > 1000
    assert two == one


def test_progress_goes_to_stderr_only_when_wanted(runner: CliRunner) -> None:
    quiet = runner.invoke(cli, ["audit", EXAMPLE_LOG, "--facts", FACTS, "--fail-on", "never", "-o", "/dev/null"])
    assert quiet.stderr == ""  # not a terminal: nothing
    shown = runner.invoke(cli, ["audit", EXAMPLE_LOG, "--facts", FACTS, "--fail-on", "never", "-o", "/dev/null",
                                "--progress"])
    assert "audit" in shown.stderr and "B/s" in shown.stderr


def test_jobs_on_a_pipe_reads_it_once_and_loses_no_event(tmp_path: Path) -> None:
    """Each --jobs worker reads the whole input: a pipe would be shared out among them, so it is read once."""
    import os
    import subprocess
    import sys
    import threading


    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    data = (ROOT / "examples" / "events.jsonl").read_bytes()

    def feed() -> None:
        with open(fifo, "wb") as fh:
            fh.write(data)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    proc = subprocess.run([sys.executable, "-m", "sopengine", "audit", str(fifo), "--jobs", "2", "--engine", "python",
                           "--format", "json", "--fail-on", "never"], capture_output=True, timeout=120)
    writer.join(timeout=10)
    assert proc.returncode == 0, proc.stderr.decode()
    summary = json.loads(proc.stdout)["summary"]
    assert summary["read"] == len([line for line in data.splitlines() if line.strip()])
    assert "only one process can read" in proc.stderr.decode()


def _busy_parallel_audit(tmp_path: Path) -> tuple[Any, list[int]]:
    """A --jobs 2 audit (Python workers) of a log long enough to be caught midway: the parent and its workers."""
    import subprocess
    import sys
    import time

    big = tmp_path / "big.jsonl"
    lines = (ROOT / "examples" / "events.jsonl").read_bytes().splitlines()
    with big.open("wb") as fh:
        for copy in range(60):
            for line in lines:
                fh.write(line.replace(b'"case":"', f'"case":"K{copy}-'.encode(), 1) + b"\n")
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", "audit", str(big), "--jobs", "2", "--engine",
                             "python", "--format", "json", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 60  # start-up takes seconds on a busy machine: wait for the workers, not a time
    children: list[int] = []
    while len(children) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
        children = [int(pid) for pid in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                       text=True).stdout.split()]
    assert len(children) == 2, children
    time.sleep(0.5)  # both at work
    return proc, children


def test_a_killed_worker_is_reported_at_once_and_workers_die_with_their_parent(tmp_path: Path) -> None:
    import os
    import signal
    import time

    proc, children = _busy_parallel_audit(tmp_path)
    os.kill(children[0], signal.SIGKILL)
    started = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err.decode()
    assert "ended without a result" in err.decode() and "Traceback" not in err.decode()
    assert time.monotonic() - started < 5.0  # not when the other worker finishes
    time.sleep(0.5)
    assert all(not os.path.exists(f"/proc/{pid}") or open(f"/proc/{pid}/stat").read().split()[2] == "Z"
               for pid in children)


def test_workers_end_when_the_parent_is_terminated(tmp_path: Path) -> None:
    import os
    import signal
    import time

    proc, children = _busy_parallel_audit(tmp_path)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(os.path.exists(f"/proc/{pid}") for pid in children):
        time.sleep(0.1)
    assert not any(os.path.exists(f"/proc/{pid}") for pid in children), "a worker outlived its parent"
