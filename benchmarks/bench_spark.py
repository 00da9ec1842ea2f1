"""The Spark engine against the local one on this machine: `--engine spark --master local[2]` vs `--jobs 2`.

    python benchmarks/bench_spark.py                       # 100k and 500k events
    python benchmarks/bench_spark.py --events 1000000

Needs `pip install -e '.[spark]'`. Each run is a fresh `sopengine audit` process (what a user
waits for, Spark's start included); the Spark rows also say how long the audit itself took once
the session was up (measured in-process), and both outputs are checked to be the same.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench_audit import FACTS, make_interleaved  # noqa: E402


def run_cli(log: Path, extra: list[str]) -> tuple[float, str]:
    """Wall time of one `sopengine audit` process and a digest of its JSON output."""
    out = Path(tempfile.mkdtemp()) / "out.json"
    cmd = [sys.executable, "-m", "sopengine", "audit", str(log), "--facts", str(FACTS), "--format", "json",
           "-o", str(out), "--fail-on", "never", "--no-progress", *extra]
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env=dict(os.environ, PYSPARK_PYTHON=sys.executable))
    return time.perf_counter() - start, hashlib.sha256(out.read_bytes()).hexdigest()


def spark_in_process(logs: list[Path], master: str) -> list[tuple[float, float]]:
    """(session start, audit) seconds: one session, each log audited once after a warm-up run."""
    from sopengine import load_facts
    from sopengine.spark import audit_spark, local_session

    started = time.perf_counter()
    spark = local_session(master)
    spark.range(1).count()
    up = time.perf_counter() - started
    facts = load_facts([FACTS])
    audit_spark(spark, [str(logs[0])], facts=facts).result()  # warm-up: Python workers, JIT, caches
    out = []
    for log in logs:
        t = time.perf_counter()
        audit_spark(spark, [str(log)], facts=facts).result()
        out.append((up, time.perf_counter() - t))
    spark.stop()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", default="100000,500000", help="comma-separated log sizes")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--dir", default=os.path.join(tempfile.gettempdir(), "sopengine-bench"))
    args = parser.parse_args()
    out = Path(args.dir)
    out.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.events.split(",")]
    logs = [make_interleaved(n, out) for n in sizes]
    inside = spark_in_process(logs, args.master)
    print(f"{'events':>10} | {'--jobs 2 (s)':>12} | {'spark ' + args.master + ' (s)':>20} | "
          f"{'spark audit only (s)':>20} | same output")
    print("-" * 84)
    for n, log, (up, audit_only) in zip(sizes, logs, inside):
        local_s, local_digest = run_cli(log, ["--jobs", "2"])
        spark_s, spark_digest = run_cli(log, ["--engine", "spark", "--master", args.master])
        print(f"{n:>10,} | {local_s:>12.1f} | {spark_s:>20.1f} | {audit_only:>20.1f} | "
              f"{'yes' if local_digest == spark_digest else 'NO'}")
    print(f"\nSpark session start (in-process): {inside[0][0]:.1f} s; cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
