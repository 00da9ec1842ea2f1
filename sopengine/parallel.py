"""``--jobs N``: one audit in N worker processes, partitioned by case.

Every worker reads the whole input (so every line keeps its place in the input
order), but evaluates only the cases whose id hashes to its share (crc32, the
same in every process); lines that are not a usable object are shared out by
line number. Each worker returns a :class:`~sopengine.session.Partial`; the parent
judges them against the as-of time and runs the cross-case join over all of
them, so cross-case rules see every case whichever worker evaluated it. The
findings are the same as with one process.

On the native engine (JSON Lines files) each worker's core reads the files itself and
evaluates its share (a hash of the case id, the same in every process); it returns its
partial as bytes, which the parent's core merges and joins.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import multiprocessing as mp
import os
import signal
import tempfile
import traceback
import zlib
from multiprocessing.connection import wait
from typing import Any, Callable, Mapping, Sequence

from .adapters import InputSpec
from .audit import read_records, reread_timelines, until
from .datacheck import DataNotes
from .errors import SopengineError, StrictModeError
from .events import LineCounter, Rejections
from .findings import AuditResult
from .model import Pack
from .pack import load_pack
from .session import Partial, Session, attach_timelines, feed_all


def _share(jobs: int, mine: int) -> Callable[[Any, int], bool]:
    def select(obj: Any, seq: int) -> bool:
        case = obj.get("case") if isinstance(obj, dict) else None
        if isinstance(case, str):
            return zlib.crc32(case.encode("utf-8", "surrogatepass")) % jobs == mine
        return seq % jobs == mine

    return select


def tune_gc() -> None:
    """Fewer collections while millions of small, acyclic objects are made (a measured ~20% of run time)."""
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)


def _worker(mine: int, jobs: int, pack: Pack | None, pack_source: tuple[list[str], dict[str, str]],
            logs: Sequence[str], facts: Mapping[str, Any], as_of: float | None, strict: bool, grouped: bool,
            timelines: bool, progress: Any, results: Any, inputs: InputSpec | None,
            native: tuple[int, int | None, str] | None) -> None:
    """Evaluate this worker's share of the cases; send (share, status, payload, runs) down ``results``.
    ``native``: (max line bytes, resident cases, partition directory) to run the native core on JSON
    Lines files."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it ends the workers
    _die_with_parent()
    try:
        tune_gc()
        if pack is None:  # not forked: compile here
            pack = load_pack(pack_source[0] or None, pack_source[1], (inputs or InputSpec()).limits)
        report = None
        if mine == 0 and progress is not None:
            def report(n: int, _lines: int) -> None:
                with progress.get_lock():
                    progress.value += n
        counter = LineCounter(report)
        if native is not None:
            _, resident, parts = native
            results.send((mine, "ok", _native_share(pack, facts, logs, strict, counter, mine, jobs,
                                                    inputs or InputSpec(), resident,
                                                    os.path.join(parts, f"w{mine}-"), as_of), 0))
            return
        spec = inputs or InputSpec()
        session = Session(pack, facts, limits=spec.limits, lenient_data=spec.lenient_data)  # judged by the parent
        runs = feed_all(session, until(read_records(pack, logs, counter, _share(jobs, mine), inputs), as_of),
                        strict=strict, grouped=grouped, keep_seq=True)
        partial = session.partial()
        if timelines:
            session.keep_timelines(partial)
        results.send((mine, "ok", partial, runs))
    except SopengineError as exc:
        results.send((mine, "error", exc, 0))
    except BaseException:  # noqa: BLE001 - an engine fault in a worker is reported by the parent
        results.send((mine, "fault", traceback.format_exc(), 0))
    finally:
        results.close()


def _native_share(pack: Pack, facts: Mapping[str, Any], logs: Sequence[str], strict: bool, counter: LineCounter,
                  mine: int, jobs: int, spec: InputSpec, resident_cases: int | None,
                  parts: str, as_of: float | None) -> tuple[bytes, Rejections, dict[str, int], DataNotes]:
    """One worker's share on the native core: its partial (bytes; its cross-case probes and intervals in
    partition files ``{parts}{k}``), the rejected lines it reports, the events it skipped (after
    ``as_of``) and its notes on event data."""
    from .native import NativeSession

    core = NativeSession(pack, facts, keep_events=False, resident_cases=resident_cases, share=(mine, jobs),
                         until=as_of, limits=spec.limits, lenient_data=spec.lenient_data)
    for path in logs:
        core.feed_file(path, counter)
        first = core.rejected.first() if strict else None
        if first is not None:
            raise StrictModeError(f"{first.file}:{first.line}: {first.error}")
    return core.partial_bytes(parts, last=True), core.rejected, core.skipped, core.notes


def _die_with_parent() -> None:
    """Linux: this worker is killed when its parent dies (SIGTERM, SIGKILL), so no worker is left running."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # pragma: no cover - not Linux: workers end with their pipes instead
        pass


def audit_parallel(pack: Pack, pack_source: tuple[list[str], dict[str, str]], logs: Sequence[str],
                   facts: Mapping[str, Any], as_of: float | None, jobs: int, *, strict: bool = False,
                   grouped: bool = False, on_progress: Callable[..., None] | None = None,
                   inputs: InputSpec | None = None, timelines: int = 0, engine: str = "python",
                   resident_cases: int | None = None) -> AuditResult:
    """Audit ``logs`` with ``jobs`` worker processes; the result equals a one-process audit.

    ``pack_source`` (SOP paths and --set values) lets workers compile the pack where
    processes are not forked; ``timelines`` is as for :func:`sopengine.audit.audit`.
    ``engine="native"``: each worker's core reads the (plain or gzipped JSON Lines) files itself
    (``grouped`` is not needed); the timelines' events are read again by the parent.
    """
    if engine == "native":
        with tempfile.TemporaryDirectory(prefix="sopengine-join-") as parts:  # removed on every path
            native = ((inputs or InputSpec()).limits.line_bytes, resident_cases, parts)
            return _run_workers(pack, pack_source, logs, facts, as_of, jobs, strict, grouped, on_progress, inputs,
                                timelines, native)
    return _run_workers(pack, pack_source, logs, facts, as_of, jobs, strict, grouped, on_progress, inputs,
                        timelines, None)


def _run_workers(pack: Pack, pack_source: tuple[list[str], dict[str, str]], logs: Sequence[str],
                 facts: Mapping[str, Any], as_of: float | None, jobs: int, strict: bool, grouped: bool,
                 on_progress: Callable[..., None] | None, inputs: InputSpec | None, timelines: int,
                 native: tuple[int, int | None, str] | None) -> AuditResult:
    forking = "fork" in mp.get_all_start_methods()
    ctx: Any = mp.get_context("fork" if forking else "spawn")
    progress = ctx.Value("q", 0) if on_progress is not None else None
    pipes = [ctx.Pipe(duplex=False) for _ in range(jobs)]
    procs = [ctx.Process(target=_worker, daemon=True,
                         args=(i, jobs, pack if forking else None, pack_source, list(logs), facts, as_of,
                               strict, grouped, timelines > 0, progress, pipes[i][1], inputs, native))
             for i in range(jobs)]
    for p in procs:
        p.start()
    for _, sender in pipes:
        sender.close()  # the parent only receives
    waiting: dict[Any, int] = {pipes[i][0]: i for i in range(jobs)}
    partials: dict[int, tuple[Any, int]] = {}  # a Partial, or (bytes, rejected) from a native worker
    shown = 0
    try:
        while waiting:
            ready = wait(list(waiting), timeout=0.2)
            for conn, i in waiting.items():  # a worker that died says nothing; notice it now, not at the end
                if conn not in ready and not procs[i].is_alive() and not conn.poll():
                    raise SopengineError(f"worker {i} ended without a result (exit code {procs[i].exitcode})")
            if progress is not None and on_progress is not None and int(progress.value) > shown:
                on_progress(int(progress.value) - shown)
                shown = int(progress.value)
            for conn in ready:
                i = waiting.pop(conn)
                receiver: Any = conn
                try:
                    message: tuple[int, str, Any, int] = receiver.recv()
                except EOFError:
                    raise SopengineError(f"worker {i} ended without a result (exit code {procs[i].exitcode})") \
                        from None
                mine, status, payload, runs = message
                if status == "error":
                    raise payload
                if status == "fault":
                    raise RuntimeError(f"worker {mine} failed:\n{payload}")
                partials[mine] = (payload, runs)
    finally:
        for p in procs:
            if p.is_alive():
                p.terminate()
            p.join(timeout=5)
    if native is not None:
        from .native import NativeSession

        # the workers are done: their cores join the partitions of the cross-case join
        merged = NativeSession(pack, facts, keep_events=False, limits=(inputs or InputSpec()).limits,
                               cases_complete=(inputs or InputSpec()).cases_complete, join_threads=jobs)
        for i in range(jobs):
            _, rejected, skipped, notes = partials[i][0]
            merged.rejected.absorb(rejected)
            merged.notes.absorb(notes)
            for reason, n in skipped.items():
                merged.skipped[reason] = merged.skipped.get(reason, 0) + n
        result = merged.result(as_of, [partials[i][0][0] for i in range(jobs)], last=True,
                               parts=[os.path.join(native[2], f"w{i}-") for i in range(jobs)])
        if timelines:  # the cores keep no events: those of the cases with findings are read again
            reread_timelines(pack, list(logs), result, timelines, inputs)
        return result
    session = Session(pack, facts, limits=(inputs or InputSpec()).limits,
                      cases_complete=(inputs or InputSpec()).cases_complete)
    result = session.result(as_of, [partials[i][0] for i in range(jobs)])
    result.grouped_input = sum(r for _, r in partials.values()) == result.cases
    if timelines:
        attach_timelines(result, {c: e for p, _ in partials.values() for c, e in p.kept.items()}, timelines)
    return result


def default_jobs() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1))
