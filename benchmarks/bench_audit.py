"""Audit speed and memory, side by side with a parse-only floor, pm4py and durable-rules.

    python benchmarks/bench_audit.py                      # 200k events, all rows
    python benchmarks/bench_audit.py --events 1000000     # the 1M-event figures of docs/benchmarks.md
    python benchmarks/bench_audit.py --scaling 100000,1000000,5000000 --only audit

The peers need `pip install -e '.[bench]'` (pm4py, durable-rules); a missing peer
prints a row saying so. Every row runs in its own process, so that peak RSS is
that row's alone. The log is generated: the example stories of
examples/generate.py (a share of them break rules), repeated with new case ids
until the size is reached, written twice: grouped by case, and interleaved in
time order.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

ROOT = Path(__file__).resolve().parent.parent
FACTS = ROOT / "examples" / "facts.yaml"


# ------------------------------------------------------------------ the logs
def _stories() -> dict[str, list[dict[str, Any]]]:
    sys.path.insert(0, str(ROOT / "examples"))
    import generate  # type: ignore[import-not-found]

    base, _facts = generate.generate()
    by_case: dict[str, list[dict[str, Any]]] = {}
    for e in base:
        by_case.setdefault(e["case"], []).append(e)
    return by_case


def _replicas(n_events: int) -> Iterator[dict[str, Any]]:
    """The example stories over and over under new case ids, case by case, until ``n_events``.

    Copy k is shifted by k days, so that the log spreads over time as a real
    export does (about 40 copies' cases are open at any moment), and the cases
    the example leaves open at its end stay open only in the last copy.
    """
    from datetime import datetime, timedelta

    stories = _stories()
    open_at_end = {case for case, events in stories.items() if not any(
        ev["type"] in ("case.status_changed", "ticket.status_changed")
        and (ev.get("data") or {}).get("to") in ("Closed", "Resolved") for ev in events)}
    per_copy = sum(len(v) for v in stories.values())
    copies = -(-n_events // per_copy)
    n, k = 0, 0
    while True:
        shift = timedelta(days=k)
        for case, events in stories.items():
            if case in open_at_end and k < copies - 1:
                continue
            for e in events:
                t = datetime.fromisoformat(e["time"].replace("Z", "+00:00")) + shift
                yield dict(e, case=f"{case}-{k}", id=f"{e['id']}-{k}", time=t.strftime("%Y-%m-%dT%H:%M:%SZ"))
                n += 1
                if n >= n_events:
                    return
        k += 1


def make_grouped(n_events: int, out: Path) -> Path:
    """Each case's events together, in time order (written as generated: memory stays small)."""
    import orjson

    path = out / f"grouped-{n_events}.jsonl"
    if not path.exists():
        with path.open("wb") as fh:
            for e in _replicas(n_events):
                fh.write(orjson.dumps(e) + b"\n")
    return path


def make_interleaved(n_events: int, out: Path) -> Path:
    """The whole log in time order, cases interleaved (sorted in memory: about 250 bytes an event)."""
    import orjson

    path = out / f"interleaved-{n_events}.jsonl"
    if not path.exists():
        rows = sorted(((e["time"], e["case"], orjson.dumps(e)) for e in _replicas(n_events)),
                      key=lambda r: (r[0], r[1]))
        with path.open("wb") as fh:
            for _, _, line in rows:
                fh.write(line + b"\n")
    return path


# ------------------------------------------------------------------ the rows (each in its own process)
def row_parse(log: str) -> dict[str, Any]:
    import orjson

    loads, n = orjson.loads, 0
    with open(log, "rb") as fh:
        for line in fh:
            loads(line)
            n += 1
    return {"events": n}


def row_audit(log: str, jobs: int, grouped: bool, engine: str = "auto") -> dict[str, Any]:
    args = ["audit", log, "--facts", str(FACTS), "--format", "json", "-o", os.devnull, "--fail-on", "never",
            "--no-progress", "--jobs", str(jobs), "--engine", engine]
    if grouped:
        args.append("--grouped")
    return _run_cli(args, log)


def _run_cli(args: list[str], log: str) -> dict[str, Any]:
    """Run the command line in this process; the figures are the log's events."""
    from sopengine.cli import main

    try:
        main(args)
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    with open(log, "rb") as fh:
        return {"events": sum(1 for _ in fh)}


DECLARE_MODEL = {
    # what Declare can say about these SOPs, on activity order only
    "response": {("assignment.created", "assignment.closed"): 1, ("ticket.created", "ticket.commented"): 1},
    "precedence": {("assignment.created", "assignment.closed"): 1,
                   ("case.field_changed", "case.status_changed"): 1},
    "absence": {"document.uploaded": 1},
}


def row_pm4py(log: str) -> dict[str, Any]:
    import orjson
    import pandas as pd
    import pm4py

    cases, types, times = [], [], []
    with open(log, "rb") as fh:
        for line in fh:
            e = orjson.loads(line)
            cases.append(e["case"])
            types.append(e["type"])
            times.append(e["time"])
    df = pd.DataFrame({"case:concept:name": cases, "concept:name": types,
                       "time:timestamp": pd.to_datetime(times, utc=True, format="ISO8601")})
    model = {t: {k: {"support": 1.0, "confidence": 1.0} for k in v} for t, v in DECLARE_MODEL.items()}
    start = time.perf_counter()
    diagnostics = pm4py.conformance_declare(df, model, return_diagnostics_dataframe=True)
    return {"events": len(df), "conformance_only_s": time.perf_counter() - start,
            "deviating_cases": int((diagnostics["dev_fitness"] < 1.0).sum())}


def declare_pack(out: Path) -> Path:
    """DECLARE_MODEL as a pack of declare rules over the bundled vocabulary (pm4py's precedence(a, b), b only
    after a, has b as its activation; its absence is n = 1)."""
    import yaml

    from sopengine._resources import bundled_pack_dir

    folder = out / "declare-pack"
    folder.mkdir(parents=True, exist_ok=True)
    vocabulary = yaml.safe_load((bundled_pack_dir() / "pack.yaml").read_text(encoding="utf-8"))["events"]
    rules = []
    for template, keys in DECLARE_MODEL.items():
        for key in keys:
            first, second = (key, None) if isinstance(key, str) else key
            activation, target = (second, first) if template == "precedence" else (first, second)
            rule = {"id": f"{template}-{len(rules)}", "kind": "declare", "template": template, "severity": "error",
                    "description": f"{template}{key}", "source": {"document": "bench", "step": str(len(rules))},
                    "message": "broken at {event.id}", "activation": {"on": activation}}
            if target is not None:
                rule["target"] = {"on": target}
            rules.append(rule)
    (folder / "declare.yaml").write_text(yaml.safe_dump({
        "pack": {"name": "bench-declare"}, "events": vocabulary,
        "sop": {"id": "declare", "title": "Declare", "source": {"document": "bench"}}, "rules": rules}))
    return folder


def row_declare(log: str, engine: str) -> dict[str, Any]:
    """The audit with only DECLARE_MODEL's constraints, read as Declare reads a finished log."""
    pack = declare_pack(Path(tempfile.mkdtemp()))
    return _run_cli(["audit", log, "--sops", str(pack), "--cases-complete", "--format", "json", "-o", os.devnull,
                     "--fail-on", "never", "--no-progress", "--engine", engine], log)


def row_durable(log: str, grouped: bool) -> dict[str, Any]:
    import orjson
    from durable.engine import MessageNotHandledException
    from durable.lang import assert_fact, c, delete_state, m, post, ruleset, when_all

    found = {"review-by-owner-only": 0, "no-assignment-to-back-office": 0, "valid-status": 0}
    statuses = ["New", "In Progress - Awaiting Customer Support", "In Progress - Awaiting Customer Response",
                "In Progress - Internal Referral", "Closed"]
    with ruleset("sopengine_bench"):
        @when_all(c.o << (m.kind == "owner"), c.r << ((m.type == "review.logged") & (m.actor != c.o.user)))
        def review(c: Any) -> None:
            found["review-by-owner-only"] += 1

        @when_all((m.type == "assignment.created") & (m.team == "Back Office"))
        def back_office(c: Any) -> None:
            found["no-assignment-to-back-office"] += 1

        condition = m.type == "case.status_changed"
        for s in statuses:
            condition = condition & (m.to != s)

        @when_all(condition)
        def status(c: Any) -> None:
            found["valid-status"] += 1

    n = 0
    open_sessions: set[str] = set()
    current = None
    with open(log, "rb") as fh:
        for line in fh:
            e = orjson.loads(line)
            n += 1
            sid = e["case"]
            if grouped and sid != current and current is not None:
                delete_state("sopengine_bench", current)  # the log is grouped: the last case is complete
                open_sessions.discard(current)
            current = sid
            open_sessions.add(sid)
            data = e.get("data") or {}
            if e["type"] in ("case.created", "case.owner_changed"):
                owner = data.get("owner") or e.get("actor") if e["type"] == "case.created" else data.get("to")
                assert_fact("sopengine_bench", {"sid": sid, "kind": "owner", "user": owner or ""})
                continue
            message = {"sid": sid, "type": e["type"], "actor": e.get("actor") or "", "team": data.get("team", ""),
                       "to": data.get("to", "") if isinstance(data.get("to"), str) else ""}
            try:
                post("sopengine_bench", message)
            except MessageNotHandledException:
                pass
            except Exception as exc:  # noqa: BLE001 - the engine's own refusal, reported as the row's result
                raise SystemExit(f"refused after {n} events with {len(open_sessions)} open sessions: "
                                 f"{type(exc).__name__} {exc}") from None
    return {"events": n, "found": found}


ROWS = {"parse": row_parse, "pm4py": row_pm4py}


def run_row(name: str, log: Path, jobs: int = 1, grouped: bool = False, engine: str = "auto") -> dict[str, Any]:
    """Run one row in a fresh process and return its figures (or its error), with the whole process's CPU
    seconds (user + sys, its worker processes included)."""
    cmd = [sys.executable, __file__, "--row", name, "--log", str(log), "--jobs", str(jobs), "--engine", engine]
    if grouped:
        cmd.append("--grouped")
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        if proc.returncode < 0 or proc.returncode > 128:
            signal_number = -proc.returncode if proc.returncode < 0 else proc.returncode - 128
            return {"error": f"the process crashed (signal {signal_number})", "seconds": wall, "cpu": cpu}
        last = (proc.stderr.strip().splitlines() or ["failed"])[-1]
        return {"error": last[:160], "seconds": wall, "cpu": cpu}
    figures = json.loads(proc.stdout.strip().splitlines()[-1])
    figures["seconds"] = wall
    figures["cpu"] = cpu
    return figures


def median_row(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """One figure per row: the median CPU and wall time of its runs, the largest peak RSS."""
    ok = [r for r in runs if "error" not in r]
    if not ok:
        return runs[-1]
    out = dict(ok[0])
    out["cpu"] = statistics.median(r["cpu"] for r in ok)
    out["seconds"] = statistics.median(r["seconds"] for r in ok)
    out["rss_mb"] = max(r["rss_mb"] for r in ok)
    out["runs"] = len(ok)
    return out


def child_main(args: argparse.Namespace) -> None:
    if args.row == "audit":
        figures = row_audit(args.log, args.jobs, args.grouped, args.engine)
    elif args.row == "declare":
        figures = row_declare(args.log, args.engine)
    elif args.row == "durable":
        figures = row_durable(args.log, args.grouped)
    else:
        figures = ROWS[args.row](args.log)
    own = _peak_rss_kb()
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss if args.jobs > 1 else 0
    figures["rss_mb"] = round((own + workers * args.jobs) / 1024, 1)  # workers: an upper bound
    print(json.dumps(figures))


def _peak_rss_kb() -> int:
    """This process's peak RSS (VmHWM: unlike ru_maxrss it does not carry the parent's size across exec)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


# ------------------------------------------------------------------ the table
def table(rows: list[tuple[str, dict[str, Any]]], floor: float) -> str:
    """Ratios are of whole-process CPU seconds (user + sys) against the parse-only floor's, medians of the runs."""
    head = (f"{'row':<46} {'events':>9} {'CPU s':>7} {'wall s':>7} {'events/CPU s':>12} {'peak RSS MB':>11} "
            f"{'x parse':>8}")
    out = [head, "-" * len(head)]
    for label, f in rows:
        if "error" in f:
            out.append(f"{label:<46} {'':>9} {f['cpu']:>7.2f} {f['seconds']:>7.1f}  refused/failed: {f['error']}")
            continue
        eps = f["events"] / f["cpu"] if f["cpu"] else 0
        out.append(f"{label:<46} {f['events']:>9} {f['cpu']:>7.2f} {f['seconds']:>7.2f} {eps:>12,.0f} "
                   f"{f['rss_mb']:>11.1f} {f['cpu'] / floor:>8.2f}")
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=200_000, help="events in the generated log")
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "sopengine-bench")
    parser.add_argument("--only", choices=["all", "audit", "native"], default="all",
                        help="audit rows only (no peers); native: the parse floor and the native engine's rows")
    parser.add_argument("--scaling", default="", help="comma-separated sizes: audit cost per event at each")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    parser.add_argument("--log", help=argparse.SUPPRESS)
    parser.add_argument("--jobs", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--grouped", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--engine", default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--repeat", type=int, default=3,
                        help="runs of every row, alternating rows; medians are reported (default 3)")
    args = parser.parse_args()
    if args.row:
        child_main(args)
        return
    args.out.mkdir(parents=True, exist_ok=True)
    print(f"machine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    if args.scaling:
        print("\nscaling (one process, no --grouped; the parse floor of each log beside):")
        for size in [int(x) for x in args.scaling.split(",")]:
            for order, log in (("grouped", make_grouped(size, args.out)),
                               ("interleaved", make_interleaved(size, args.out))):
                floor = run_row("parse", log)["cpu"]
                for engine in ("native",) if args.only == "native" else ("native", "python"):
                    f = run_row("audit", log, 1, False, engine)
                    print(f"  {engine:<6} {order:<11} {size:>9} events: {f['cpu']:8.2f} CPU s "
                          f"{f['cpu'] / size * 1e6:6.2f} us/event  {f['cpu'] / floor:5.2f}x parse  "
                          f"peak RSS {f.get('rss_mb', 0):7.1f} MB")
        return
    grouped, interleaved = make_grouped(args.events, args.out), make_interleaved(args.events, args.out)
    plan: list[tuple[str, str, Path, int, bool, str]] = [
        ("parse only (orjson, the floor)", "parse", interleaved, 1, False, "auto"),
        ("audit native, grouped log (no --grouped)", "audit", grouped, 1, False, "native"),
        ("audit native, interleaved log", "audit", interleaved, 1, False, "native"),
        ("audit native --jobs 2, interleaved", "audit", interleaved, 2, False, "native"),
        ("audit python, grouped log (no --grouped)", "audit", grouped, 1, False, "python"),
        ("audit python, interleaved log", "audit", interleaved, 1, False, "python"),
        ("audit python --jobs 2, interleaved", "audit", interleaved, 2, False, "python"),
    ]
    if args.only == "native":
        plan = [row for row in plan if row[5] != "python"]
    if args.only == "all":
        plan += [("pm4py conformance_declare (5 constraints)", "pm4py", interleaved, 1, False, "auto"),
                 ("audit native, the same 5 as declare rules", "declare", interleaved, 1, False, "native"),
                 ("durable-rules, 3 rules, grouped log", "durable", grouped, 1, True, "auto"),
                 ("durable-rules, 3 rules, interleaved log", "durable", interleaved, 1, False, "auto")]
    runs: dict[str, list[dict[str, Any]]] = {label: [] for label, *_ in plan}
    for _ in range(args.repeat):  # rows alternate, so a burst of load on the machine touches every row alike
        for label, name, log, jobs, grouped_flag, engine in plan:
            runs[label].append(run_row(name, log, jobs, grouped_flag, engine))
    rows = [(label, median_row(runs[label])) for label, *_ in plan]
    parse = dict(rows[0][1])
    print(f"\nlog: {args.events} events ({grouped.name}, {interleaved.name} in {args.out})\n")
    print(table(rows, parse["cpu"]))
    print(f"\nmedians of {args.repeat} alternating runs per row; CPU = user + sys of the whole process")
    for label, f in rows:
        if "conformance_only_s" in f:
            print(f"\npm4py conformance alone (after loading): {f['conformance_only_s']:.2f} s, "
                  f"{f['events'] / f['conformance_only_s']:,.0f} events/s")


if __name__ == "__main__":
    main()
