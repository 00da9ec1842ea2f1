"""Two checkouts of sopengine, the same audit: whole-process CPU seconds and peak RSS, A and B alternated.

    python benchmarks/ab_audit.py --a ../old-checkout --b . --log /tmp/sopengine-bench/interleaved-1000000.jsonl

Each checkout needs its native module built (``pip install .`` there, or ``maturin develop``, or the core's
``cargo build --release`` copied in as ``sopengine/_native*.so``); the audit runs as ``python -m sopengine``
from the checkout's directory, so that its own package is imported. The machine this project runs on is
shared and noisy: runs alternate A, B, A, B… and the medians are quoted; the parse-only floor is timed in
the same rounds, so that a ratio to it can be compared with ``bench_audit.py``'s.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

PARSE = "import orjson, sys\nfor line in open(sys.argv[1], 'rb'): orjson.loads(line)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--a", type=Path, required=True, help="checkout A (the baseline)")
    parser.add_argument("--b", type=Path, required=True, help="checkout B")
    parser.add_argument("--log", required=True, help="the log to audit")
    parser.add_argument("--facts", default="examples/facts.yaml", help="facts file, relative to each checkout")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("audit_args", nargs="*", help="more audit options (after --)")
    args = parser.parse_args()
    cpu: dict[str, list[float]] = {"parse": [], "A": [], "B": []}
    rss: dict[str, list[float]] = {"parse": [], "A": [], "B": []}
    for _ in range(args.repeat):
        for name, where in (("parse", args.b), ("A", args.a), ("B", args.b)):
            cmd = [sys.executable, "-c", PARSE, args.log] if name == "parse" else [
                sys.executable, "-m", "sopengine", "audit", args.log, "--facts", args.facts, "--format", "json",
                "-o", "/dev/null", "--fail-on", "never", "--no-progress", *args.audit_args]
            # ru_maxrss of RUSAGE_CHILDREN is the largest child's so far: each run gets a fresh parent
            wrapped = [sys.executable, "-c", _ONE, *cmd]
            out = subprocess.run(wrapped, cwd=where.resolve(), capture_output=True, text=True, check=True)
            c, r = map(float, out.stdout.split())
            cpu[name].append(c)
            rss[name].append(r)
    floor = statistics.median(cpu["parse"])
    print(f"log: {args.log}; medians of {args.repeat} alternating runs; CPU = user + sys of the whole process")
    print(f"{'row':10} {'CPU s':>8} {'x parse':>8} {'peak RSS MB':>12}")
    for name, label in (("parse", "parse"), ("A", f"A {args.a.resolve().name}"), ("B", f"B {args.b.resolve().name}")):
        c = statistics.median(cpu[name])
        print(f"{label[:10]:10} {c:8.2f} {c / floor:8.2f} {max(rss[name]):12.1f}")
    a, b = statistics.median(cpu["A"]), statistics.median(cpu["B"])
    print(f"B / A CPU: {b / a:.3f}")


_ONE = """
import resource, subprocess, sys
proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
if proc.returncode not in (0, 1):
    sys.exit(proc.stderr[-2000:] or proc.returncode)
u = resource.getrusage(resource.RUSAGE_CHILDREN)
print(u.ru_utime + u.ru_stime, u.ru_maxrss / 1024)
"""

if __name__ == "__main__":
    main()
