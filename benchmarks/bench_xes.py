"""An XES audit end to end: sopengine's native XES reader against its Python path, and pm4py.

    python benchmarks/bench_xes.py                                   # BPI Challenge 2012, 3 runs per row
    python benchmarks/bench_xes.py --log ../shared/data/bpic2013_incidents.xes.gz \\
        --pack tests/packs/declare-bpic2013 --repeat 5

Rows, each in its own process, alternating, medians of whole-process CPU seconds (user + sys):

* ``native``: ``sopengine audit LOG --sops PACK --cases-complete --format json`` on the native engine; the
  core reads the XES itself (``sopengine.adapters.native_xes``);
* ``python-reader``: the same command as it ran before the native reader, the Python reader (SAX) and
  mapping feeding the native engine one event at a time (the row switches the native reader off in its
  process; there is no such option in the product);
* ``python``: the same command with ``--engine python`` (the Python reader and the reference evaluator);
* ``pm4py-rustxes``: ``pm4py.read_xes(LOG, variant="rustxes")`` then ``pm4py.conformance_declare`` with
  the pack's declare rules as a pm4py model (the templates pm4py implements as standard Declare, n = 1;
  the row says how many of the pack's rules that is);
* ``pm4py``: the same with pm4py's default XES importer.

A peer that is not installed (``rustxes``, pm4py) prints a row saying so.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LOG = ROOT.parent / "shared" / "data" / "bpic2012.xes.gz"
PACK = ROOT / "tests" / "packs" / "declare-bpic2012"

# pm4py's name of each declare template it implements as standard Declare (with n = 1 where it counts);
# as tests/test_declare_conformance.py compares them.
PM4PY = {
    "existence": "existence", "absence": "absence", "exactly": "exactly_one", "init": "init",
    "responded_existence": "responded_existence", "coexistence": "coexistence", "response": "response",
    "precedence": "precedence", "succession": "succession", "alternate_response": "altresponse",
    "alternate_precedence": "altprecedence", "alternate_succession": "altsuccession",
    "chain_response": "chainresponse", "chain_precedence": "chainprecedence", "chain_succession": "chainsuccession",
    "not_coexistence": "noncoexistence",
}
PRECEDENCE_LIKE = {"precedence", "alternate_precedence", "chain_precedence"}


def declare_model(pack: Path) -> tuple[dict[str, dict[Any, dict[str, float]]], int, int]:
    """The pack's declare rules as a pm4py Declare model, and (rules in it, declare rules in the pack).

    Declare's precedence(a, b) is b only after a: its activation is b and its target a."""
    import yaml

    model: dict[str, dict[Any, dict[str, float]]] = {}
    used = total = 0
    for path in sorted(pack.glob("*.yaml")):
        doc = yaml.load(path.read_text(encoding="utf-8"), Loader=yaml.BaseLoader)  # 'on' stays a text key
        for rule in doc.get("rules", []):
            if rule.get("kind") != "declare":
                continue
            total += 1
            template, activation = rule["template"], rule["activation"]["on"]
            target = rule["target"]["on"] if "target" in rule else None
            if template not in PM4PY or int(rule.get("n", 1)) != 1:
                continue
            a, b = (target, activation) if template in PRECEDENCE_LIKE else (activation, target)
            model.setdefault(PM4PY[template], {})[a if b is None else (a, b)] = {"support": 1.0, "confidence": 1.0}
            used += 1
    return model, used, total


# ------------------------------------------------------------------ the rows (each in its own process)
def row_sopengine(log: str, pack: str, engine: str, native_reader: bool) -> dict[str, Any]:
    if not native_reader:
        import sopengine.adapters.native_xes as native_xes

        native_xes.native_inputs = lambda *_, **__: None  # the Python reader, as before the native one
    from sopengine.cli import main

    try:
        main(["audit", log, "--sops", pack, "--cases-complete", "--format", "json", "-o", os.devnull,
              "--fail-on", "never", "--no-progress", "--engine", engine])
    except SystemExit as exc:
        if exc.code not in (0, None):
            raise
    return {}


def row_pm4py(log: str, pack: str, variant: str | None) -> dict[str, Any]:
    import pm4py

    if variant == "rustxes":
        try:
            import rustxes  # noqa: F401 - pm4py imports it for this variant
        except ImportError:
            return {"missing": "rustxes is not installed (pip install rustxes)"}
    model, used, total = declare_model(Path(pack))
    start = time.process_time()
    frame = pm4py.read_xes(log, variant=variant) if variant else pm4py.read_xes(log)
    read = time.process_time() - start
    diagnostics = pm4py.conformance_declare(frame, model, return_diagnostics_dataframe=True)
    return {"events": len(frame), "read_cpu": read, "constraints": f"{used} of {total}",
            "deviating_cases": int((diagnostics["dev_fitness"] < 1.0).sum())}


ROWS: dict[str, tuple[str, Any]] = {
    "native": ("sopengine audit, native XES reader (--engine native)", lambda a: row_sopengine(a.log, a.pack, "native", True)),
    "python-reader": ("sopengine audit, Python reader + native engine (before)",
                      lambda a: row_sopengine(a.log, a.pack, "native", False)),
    "python": ("sopengine audit --engine python", lambda a: row_sopengine(a.log, a.pack, "python", True)),
    "pm4py-rustxes": ("pm4py read_xes(variant='rustxes') + conformance_declare",
                      lambda a: row_pm4py(a.log, a.pack, "rustxes")),
    "pm4py": ("pm4py read_xes (default) + conformance_declare", lambda a: row_pm4py(a.log, a.pack, None)),
}


def run_row(name: str, log: str, pack: str) -> dict[str, Any]:
    """One row in a fresh process: its figures, with the process's CPU seconds (user + sys) and wall time."""
    cmd = [sys.executable, __file__, "--row", name, "--log", log, "--pack", pack]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        return {"error": ((proc.stderr.strip().splitlines() or ["failed"])[-1])[:160], "cpu": cpu, "seconds": wall}
    figures: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    figures.update(cpu=cpu, seconds=wall)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--log", default=str(LOG))
    parser.add_argument("--pack", default=str(PACK))
    parser.add_argument("--repeat", type=int, default=3, help="runs of every row, alternating (default 3)")
    parser.add_argument("--rows", default=",".join(ROWS), help=f"comma-separated, of {', '.join(ROWS)}")
    parser.add_argument("--row", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.row:
        figures = ROWS[args.row][1](args)
        figures["rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
        print(json.dumps(figures))
        return
    names = [n for n in args.rows.split(",") if n]
    print(f"log: {args.log}\npack: {args.pack}\nmachine: {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    runs: dict[str, list[dict[str, Any]]] = {n: [] for n in names}
    for _ in range(args.repeat):  # alternating, so a burst of load on the machine touches every row alike
        for name in names:
            runs[name].append(run_row(name, args.log, args.pack))
    native_cpu = None
    rows = []
    for name in names:
        ok = [r for r in runs[name] if "error" not in r and "missing" not in r]
        if not ok:
            last = runs[name][-1]
            rows.append((name, None, last.get("missing") or last.get("error")))
            continue
        cpu = statistics.median(r["cpu"] for r in ok)
        wall = statistics.median(r["seconds"] for r in ok)
        if name == "native":
            native_cpu = cpu
        extra = {k: v for k, v in ok[-1].items() if k not in ("cpu", "seconds")}
        if "read_cpu" in extra:
            extra["read_cpu"] = round(statistics.median(r["read_cpu"] for r in ok), 2)
        rows.append((name, (cpu, wall, len(ok)), extra))
    head = f"{'row':<58} {'CPU s':>7} {'wall s':>7} {'x native':>9}  notes"
    print("\n" + head + "\n" + "-" * len(head))
    for name, figures, extra in rows:
        label = ROWS[name][0]
        if figures is None:
            print(f"{label:<58} {'':>7} {'':>7} {'':>9}  {extra}")
            continue
        cpu, wall, n = figures
        ratio = f"{cpu / native_cpu:.2f}" if native_cpu else ""
        print(f"{label:<58} {cpu:>7.2f} {wall:>7.2f} {ratio:>9}  {extra}")
    print(f"\nmedians of {args.repeat} alternating runs per row; CPU = user + sys of the whole process")


if __name__ == "__main__":
    main()
