"""Load test of sopengine serve on loopback: ingest rate, request latency, memory with many open cases.

    python benchmarks/bench_serve.py                       # 100k cases (the figures of docs/serve.md)
    python benchmarks/bench_serve.py --cases 10000         # a quick run
    python benchmarks/bench_serve.py --cases 10000 --db 'postgresql://...?options=-csearch_path%3Dbench'
                                                           # on PostgreSQL (an empty schema)
    python benchmarks/bench_serve.py --cases 10000 --code /tmp/before   # another checkout's server (A/B)

It starts the real server (uvicorn, one process, a temporary SQLite file, the bundled pack and the example
facts), then, from one client on loopback:

1. ingests ``--cases`` new Jira-style tickets (each opens the service-desk obligations: a first response within
   2 hours, an assignee within 15 minutes, ...) in NDJSON batches of ``--batch`` events: events/s and the
   latency of each batch request;
2. sends ``--singles`` more events one per request: p50/p99 latency of a single-event ingest;
   then ``--comments`` comments on the open cases in batches (events of cases the service already has);
3. reads the server's resident memory (VmRSS) with every case open, times GET /next and /metrics, and the
   answers to GET /healthz asked while a GET /next is under way;
4. restarts it on the same store and times until it is ready (the state rebuilt from the stored events).

Every request is acknowledged only after its SQLite transaction committed (synchronous=FULL), so the figures
include an fsync per request. Beside each ingest rate, the server's CPU time per event (user + system, from
/proc): on a shared machine the wall-clock rate moves with the other work, the CPU time much less. Bounded: the
server is stopped at the end, whatever happens.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "examples" / "facts.yaml"


def ticket(n: int, at: float) -> dict[str, Any]:
    when = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"B-{n}-1", "case": f"B-{n}", "time": when, "type": "ticket.created",
            "actor": f"customer{n}@mail.example",
            "data": {"reporter": f"customer{n}@mail.example", "organization": "Bright Roofs", "channel": ["email"],
                     "labels": [], "priority": "Medium", "request_type": "training"}}


def comment(n: int, case: int, at: float) -> dict[str, Any]:
    when = datetime.fromtimestamp(at, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {"id": f"B-{case}-c{n}", "case": f"B-{case}", "time": when, "type": "ticket.commented",
            "actor": "agent@desk.example",
            "data": {"visibility": "public", "body": "on it", "author_type": "atlassian"}}


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    """The process's user + system CPU time so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def start(db: str, engine: str, code: Path = ROOT) -> tuple[str, subprocess.Popen[bytes], float]:
    """The server (of the checkout ``code``) on a free port, once it is ready: its URL, its process and the
    seconds it took."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(code), os.environ.get("PYTHONPATH", "")]))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "sopengine", "serve", "--sops", str(ROOT / "sops"), "--facts",
                             str(FACTS), "--db", db, "--port", str(port), "--dev-no-auth", "--engine", engine],
                            env=env, cwd=code, stderr=subprocess.DEVNULL)  # cwd: -m imports from it first
    deadline = time.monotonic() + 600
    while True:
        try:
            if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                return url, proc, time.perf_counter() - t0
        except httpx.HTTPError:
            if time.monotonic() > deadline or proc.poll() is not None:
                proc.kill()
                raise SystemExit("the server did not start")
            time.sleep(0.1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--singles", type=int, default=1000)
    parser.add_argument("--comments", type=int, default=10_000)
    parser.add_argument("--engine", default="auto", choices=["auto", "native", "python"])
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="run the server of this checkout (with its own built core), for an A/B comparison "
                             "with the same client and events (default: this one)")
    parser.add_argument("--db", help="the store: a postgresql:// URL naming an empty schema (default: a temporary "
                                     "SQLite file)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        db = args.db or f"{tmp}/bench.db"
        url, proc, _ = start(db, args.engine, args.code)
        try:
            rows = run(url, proc, args)
        finally:
            proc.terminate()
            proc.wait(60)
        url, proc, took = start(db, args.engine, args.code)  # 4. a restart: the state rebuilt from the store
        proc.terminate()
        proc.wait(60)
    rows.append((f"restart until ready, {args.cases + args.singles + args.comments:,} stored events", f"{took:,.1f} s"))
    width = max(len(k) for k, _ in rows)
    print(f"| {'measure':<{width}} | figure |\n|{'-' * (width + 2)}|---|")
    for k, v in rows:
        print(f"| {k:<{width}} | {v} |")


def beside(url: str, path: str) -> list[float]:
    """The latencies of /healthz asked one after the other while ``path`` is being answered."""
    import threading

    done = threading.Event()
    slow = threading.Thread(target=lambda: (httpx.get(f"{url}{path}", timeout=600), done.set()))
    slow.start()
    out: list[float] = []
    with httpx.Client(timeout=600) as http:
        time.sleep(0.05)  # let the slow request reach the server first
        while not done.is_set():
            t = time.perf_counter()
            http.get(f"{url}/healthz")
            out.append(time.perf_counter() - t)
    slow.join()
    return out or [0.0]


def run(url: str, proc: subprocess.Popen[bytes], args: argparse.Namespace) -> list[tuple[str, str]]:
    idle = rss_mb(proc.pid)
    now = time.time()
    rows: list[tuple[str, str]] = []
    with httpx.Client(timeout=120) as http:
        latencies: list[float] = []
        t0, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
        for first in range(0, args.cases, args.batch):
            body = b"".join(json.dumps(ticket(n, now - 60)).encode() + b"\n"
                            for n in range(first, min(first + args.batch, args.cases)))
            t = time.perf_counter()
            r = http.post(f"{url}/events", content=body, headers={"content-type": "application/x-ndjson"})
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["accepted"] == body.count(b"\n"), r.text[:300]
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        rows.append((f"ingest {args.cases:,} events in batches of {args.batch}",
                     f"{args.cases / elapsed:,.0f} events/s; batch p50 {pct(latencies, 50) * 1000:.0f} ms, "
                     f"p99 {pct(latencies, 99) * 1000:.0f} ms; server CPU {cpu / args.cases * 1e6:,.0f} µs/event"))
        singles: list[float] = []
        t0, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
        for n in range(args.cases, args.cases + args.singles):
            t = time.perf_counter()
            r = http.post(f"{url}/events", json=ticket(n, now - 60))
            singles.append(time.perf_counter() - t)
            assert r.status_code == 200
        elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
        rows.append((f"ingest {args.singles:,} events one per request",
                     f"{args.singles / elapsed:,.0f} events/s; p50 {pct(singles, 50) * 1000:.1f} ms, "
                     f"p99 {pct(singles, 99) * 1000:.1f} ms; server CPU {cpu / args.singles * 1e3:,.2f} ms/event"))
        latencies = []
        t0, cpu0 = time.perf_counter(), cpu_seconds(proc.pid)
        for first in range(0, args.comments, args.batch):
            body = b"".join(json.dumps(comment(n, n % args.cases, now - 30)).encode() + b"\n"
                            for n in range(first, min(first + args.batch, args.comments)))
            t = time.perf_counter()
            r = http.post(f"{url}/events", content=body, headers={"content-type": "application/x-ndjson"})
            latencies.append(time.perf_counter() - t)
            assert r.status_code == 200 and r.json()["accepted"] == body.count(b"\n"), r.text[:300]
        if args.comments:
            elapsed, cpu = time.perf_counter() - t0, cpu_seconds(proc.pid) - cpu0
            rows.append((f"ingest {args.comments:,} comments on open cases in batches of {args.batch}",
                         f"{args.comments / elapsed:,.0f} events/s; batch p50 {pct(latencies, 50) * 1000:.0f} ms, "
                         f"p99 {pct(latencies, 99) * 1000:.0f} ms; "
                         f"server CPU {cpu / args.comments * 1e6:,.0f} µs/event"))
        open_cases = args.cases + args.singles
        rows.append((f"server memory (VmRSS) with {open_cases:,} open cases", f"{rss_mb(proc.pid):,.0f} MB "
                     f"(idle after start: {idle:,.0f} MB)"))
        for path in ("/next", "/metrics"):
            t = time.perf_counter()
            r = http.get(f"{url}{path}")
            rows.append((f"GET {path} with {open_cases:,} open cases", f"{(time.perf_counter() - t) * 1000:,.0f} ms "
                         f"({len(r.content) / 1e6:.1f} MB)"))
        health = beside(url, "/next")
        rows.append((f"GET /healthz during a GET /next ({open_cases:,} open cases)",
                     f"{len(health)} answered; p50 {pct(health, 50) * 1000:,.0f} ms, max {max(health) * 1000:,.0f} ms"))
        ready = http.get(f"{url}/readyz").json()
    rows.append(("engine", ready["engine"]))
    return rows

if __name__ == "__main__":
    main()
