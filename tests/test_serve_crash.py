"""Crash safety of sopengine serve: the real server, killed with SIGKILL in the middle of a stream (a few ms into
a seeded random request), restarted, sent again everything it had not acknowledged, ends with the batch audit's
findings. On each store: SQLite and PostgreSQL."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Iterator

import httpx
import pytest
from click.testing import CliRunner

from sopengine.cli import cli
from sopengine.serve.auth import add_token

from .conftest import ROOT

EXAMPLE = ROOT / "examples" / "events.jsonl"
FACTS = ROOT / "examples" / "facts.yaml"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class Server:
    """``sopengine serve`` in a subprocess (the interpreter and PYTHONPATH of this test run)."""

    def __init__(self, db: str, token_file: Path, token: str, *extra: str):
        self.args = [sys.executable, "-m", "sopengine", "serve", "--sops", str(ROOT / "sops"), "--facts", str(FACTS),
                     "--db", db, "--token-file", str(token_file), *extra]
        self.token = token
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    def start(self) -> None:
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
        self.proc = subprocess.Popen([*self.args, "--port", str(port)], env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"the server stopped: {self.proc.stderr.read().decode() if self.proc.stderr else ''}")
            try:
                if httpx.get(f"{self.url}/readyz", headers=self.headers, timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise AssertionError("the server did not become ready in 30 s")

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@pytest.fixture
def server(tmp_path: Path, db: str) -> Iterator[Server]:
    token_file = tmp_path / "tokens.jsonl"
    token = add_token(token_file, "test", ["admin"])
    s = Server(db, token_file, token)
    try:
        yield s
    finally:
        s.stop()


def batch_audit(as_of: str) -> dict[str, Any]:
    result = CliRunner().invoke(cli, ["audit", str(EXAMPLE), "--sops", str(ROOT / "sops"), "--facts", str(FACTS),
                                      "--format", "json", "--as-of", as_of])
    doc: dict[str, Any] = json.loads(result.stdout)
    doc.pop("provenance")
    return doc


@pytest.mark.parametrize("seed", [19])  # four kills of one seeded stream: ~25 s here
def test_sigkill_mid_stream_loses_no_acknowledged_event_and_ends_with_the_batch_findings(server: Server,
                                                                                        seed: int) -> None:
    rng = random.Random(seed)
    lines = EXAMPLE.read_bytes().splitlines(keepends=True)
    kills = 4
    acked = 0  # lines [0, acked) were acknowledged: committed
    duplicates = 0
    interrupted = 0
    server.start()
    with httpx.Client(headers=server.headers, timeout=10) as http:
        for round_ in range(kills + 1):
            killer = None
            # the kill lands 0-20 ms after this stretch's kill_at-th request is sent: mid-request, mostly. (A kill
            # at a random moment of the stretch, as first written, came after the stream's end when the machine
            # was fast, and the test then showed nothing.) At most 4 x 4 requests of 120 lines: short of the log.
            kill_at = rng.randint(1, 4) if round_ < kills else 0
            sent = 0
            try:
                while acked < len(lines):
                    size = rng.randint(10, 120)
                    sent += 1
                    if sent == kill_at:
                        killer = threading.Timer(rng.uniform(0.0, 0.02), server.kill)
                        killer.start()
                    r = http.post(f"{server.url}/events", content=b"".join(lines[acked:acked + size]),
                                  headers={"content-type": "application/x-ndjson"})
                    assert r.status_code == 200, r.text
                    body = r.json()
                    assert body["rejected"] == 0
                    duplicates += body["duplicate"]
                    acked += body["accepted"] + body["duplicate"]
            except httpx.HTTPError:
                interrupted += 1  # killed mid-stream: what was not acknowledged is sent again after the restart
            if round_ < kills:
                if killer is not None:
                    killer.join()
                server.kill()
                server.start()
        as_of = "2024-06-12T20:56:34Z"
        served = http.get(f"{server.url}/findings", params={"as_of": as_of}).json()
    assert interrupted == kills, "a kill came after the stream's end: the test shows less than it should"
    assert served["summary"]["events"] == len(lines)
    assert served == batch_audit(as_of)
