"""The ASGI application: routes over a :class:`~sopengine.serve.live.Live` engine, with tokens and limits.

:func:`create_app` takes everything it uses (pack, facts, store, config): there is no global state, so tests
run several side by side. The store's connection is used on the event loop only; an ingest runs there and
answers only after its transaction committed. Judging every open case (``/next``, ``/findings``) and a batch
audit of the stored events run on worker threads, so that the loop goes on answering ``/healthz``,
``/metrics`` and firing timers meanwhile. The engine's session is one user's at a time (the native core's
session refuses a second caller while one runs): an asyncio lock serialises its users, so an ingest that
comes while the session judges waits for it, without holding up the loop. A batch audit reads through a
connection of its own (:meth:`Store.reader`) and takes no lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import os
import time as _time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Awaitable, Callable, Mapping, Sequence

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from .. import __version__
from ..errors import UsageError, did_you_mean
from ..events import Event, Rejected, json_reason
from ..findings import AuditResult, WorkItem
from ..model import Pack
from ..timeutil import TimeFormatError, format_time, parse_time
from .auth import Tokens, allows, is_loopback, presented_token, signature_ok
from .live import Live, LiveConfig, Outcome, refused
from .notify import LATENCY, Notifier, Target
from .openapi import openapi
from .store import Store, StoreUnavailable

MB = 1 << 20


@dataclass(frozen=True)
class ServeConfig:
    """How the service runs. ``tokens`` empty and ``dev_no_auth``: every request from a loopback address is
    let in (development only; the command refuses to bind another address then)."""

    tokens: Tokens = field(default_factory=Tokens)
    dev_no_auth: bool = False
    public_health: bool = False  # /healthz and /readyz answer without a token (for a load balancer's probe)
    max_body: int = 10 * MB
    live: LiveConfig = field(default_factory=LiveConfig)
    notify: Sequence[Target] = ()
    # input mapping name -> shared secret: /webhooks/NAME then requires X-Hub-Signature instead of a token
    webhook_secrets: Mapping[str, bytes] = field(default_factory=dict)
    notify_backoff: float = 1.0
    notify_attempts: int = 8


class _Refusal(Exception):
    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.headers = dict(headers or {})


def _problem(status: int, message: str, headers: Mapping[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message, "status": status}, status_code=status, headers=dict(headers or {}))


Handler = Callable[[Request], Awaitable[Response]]


def create_app(pack: Pack, facts: Mapping[str, Any] | None, store: Store, config: ServeConfig) -> Starlette:
    """The service over ``store`` (opened by the caller, closed when the app shuts down)."""
    live = Live(pack, facts, store, config.live)
    dirs = sorted({os.path.dirname(f) or "." for f in pack.files})  # where the pack's NAME.input.yaml mappings are
    mappings = _webhook_mappings(dirs)
    notifier = Notifier(store, config.notify, backoff=config.notify_backoff, max_attempts=config.notify_attempts)
    started = _time.time()
    lag = {"seconds": 0.0}
    engine = asyncio.Lock()  # the session's users: ingest (on the loop), judging (on a worker thread)

    def guard(scope: str, handler: Handler, *, health: bool = False, page: bool = False) -> Handler:
        async def guarded(request: Request) -> Response:
            try:
                _authorize(request, scope, health)
                return await handler(request)
            except _Refusal as exc:
                headers = dict(exc.headers)
                if page and exc.status == 401:
                    headers["www-authenticate"] = 'Basic realm="sopengine"'
                return _problem(exc.status, str(exc), headers)
        return guarded

    def _authorize(request: Request, scope: str, health: bool) -> None:
        if health and config.public_health:
            return
        client = request.client.host if request.client else ""
        if config.dev_no_auth and is_loopback(client):
            return
        token = presented_token(request.headers)
        if token is None:
            raise _Refusal(401, "a token is required: Authorization: Bearer TOKEN",
                           {"www-authenticate": "Bearer"})
        entry = config.tokens.find(token)
        if entry is None:
            raise _Refusal(401, "unknown token", {"www-authenticate": "Bearer"})
        if not allows(entry, scope):
            raise _Refusal(403, f"this token has no {scope!r} scope")

    async def body_of(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > config.max_body:
            raise _Refusal(413, f"the body is larger than {config.max_body} bytes")
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > config.max_body:
                raise _Refusal(413, f"the body is larger than {config.max_body} bytes")
            chunks.append(chunk)
        if not size:
            raise _Refusal(400, "the body is empty: send an event, a JSON array of events, or NDJSON")
        return b"".join(chunks)

    def ingested(outcomes: list[Outcome]) -> JSONResponse:
        counts = {s: sum(o.status == s for o in outcomes) for s in ("accepted", "duplicate", "rejected")}
        status = 422 if outcomes and counts["rejected"] == len(outcomes) else 200
        return JSONResponse({**counts, "records": [o.to_json() for o in outcomes]}, status_code=status)

    def recovered() -> None:
        """After a write whose outcome was lost with the store's connection: the session rebuilt from the store
        and the timers armed again from it (that write's may be there), before the session is used again. On
        the loop, under the engine lock (a rebuild reads every stored event: seconds per 100k)."""
        if live.recover():
            notifier.arm(store.timers())

    async def commit(records: list[tuple[int, Any]], source: str) -> list[Outcome]:
        async with engine:
            recovered()
            outcomes, timers = live.ingest(records, source, notifier.outgoing if config.notify else None)
        notifier.arm(timers)
        if config.notify:
            notifier.poke()
        times = [r for r in records if isinstance(r[1], dict) and isinstance(r[1].get("time"), str)]
        if times:
            with contextlib.suppress(TimeFormatError):
                lag["seconds"] = max(0.0, _time.time() - parse_time(times[-1][1]["time"]))
        return outcomes

    async def post_events(request: Request) -> Response:
        body = await body_of(request)
        return ingested(await commit(split_body(body, request.headers.get("content-type", "")), "POST /events"))

    async def post_webhook(request: Request) -> Response:
        from ..adapters.webhooks import webhook_records

        name = request.path_params["mapping"]
        if name not in mappings:
            raise _Refusal(404, f"no input mapping {name!r} beside the pack{did_you_mean(name, mappings)}; "
                                f"webhooks: {', '.join(mappings) or '(none)'}")
        body = await body_of(request)
        secret = config.webhook_secrets.get(name)
        if secret is not None and not signature_ok(secret, body, request.headers.get("x-hub-signature")):
            raise _Refusal(401, "bad or missing X-Hub-Signature (sha256=HMAC of the body with the shared secret)")
        source = f"POST /webhooks/{name}"
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            return ingested(await commit([(1, refused(json_reason(exc), body))], source))
        records = webhook_records(pack, name, payload, dirs, live.facts)
        if records is None:
            return JSONResponse({"accepted": 0, "duplicate": 0, "rejected": 0, "records": [],
                                 "ignored": "a kind of webhook that makes no event"})
        return ingested(await commit([(n, r.to_json() if isinstance(r, Event) else refused(r.error, body))
                                      for n, r in enumerate(records, 1) if isinstance(r, (Event, Rejected))], source))

    async def webhook(request: Request) -> Response:
        """A webhook with a shared secret is let in by its signature (the sender has no token); others by an
        ingest token."""
        if request.path_params["mapping"] in config.webhook_secrets:
            try:
                return await post_webhook(request)
            except _Refusal as exc:
                return _problem(exc.status, str(exc), exc.headers)
        return await guarded_webhook(request)

    guarded_webhook = guard("ingest", post_webhook)

    def as_of_of(request: Request) -> float | None:
        text = request.query_params.get("as_of")
        if not text:
            return None
        try:
            return parse_time(text)
        except TimeFormatError as exc:
            raise _Refusal(400, f"as_of: {exc}") from None

    def now_or(request: Request) -> float:
        given = as_of_of(request)
        return given if given is not None else _time.time()

    async def judged(as_of: float | None) -> AuditResult:
        """The findings as of ``as_of``, judged on a worker thread: by the session under the engine lock, or
        by a batch audit of the stored events (an as-of before the latest event), which needs no lock."""
        async with engine:
            recovered()
            if live.is_live(as_of):
                return await run_in_threadpool(live.result, as_of)
        return await run_in_threadpool(live.stored_result, as_of)

    def rendered(make: Callable[[], Any], **options: Any) -> Awaitable[bytes]:
        """A large answer's JSON made off the loop (100k open items are tens of MB)."""
        return run_in_threadpool(lambda: orjson.dumps(make(), **options))

    async def get_findings(request: Request) -> Response:
        result = await judged(as_of_of(request))
        return Response(await rendered(result.to_json), media_type="application/json")

    async def get_case_findings(request: Request) -> Response:
        case = request.path_params["case"]
        result = await judged(as_of_of(request))

        def doc() -> dict[str, Any]:
            return {"case": case, "as_of": format_time(result.as_of),
                    **{k: [f.to_json() for f in getattr(result, k) if f.case == case]
                       for k in ("violations", "next_actions", "at_risk", "undecided")},
                    "work": [w.to_json() for w in result.work if w.case == case]}
        return Response(await rendered(doc), media_type="application/json")

    async def get_explain(request: Request) -> Response:
        from ..explain import Explanation, explain

        case, as_of = request.path_params["case"], as_of_of(request)

        def explained() -> Explanation:  # every stored event is read: through a connection of its own
            reader = store.reader()
            try:
                return explain(pack, live.records(reader=reader), case, live.facts, as_of,
                               limits=config.live.limits, lenient_data=config.live.lenient_data)
            finally:
                reader.close()
        try:
            x = await run_in_threadpool(explained)
        except UsageError as exc:
            raise _Refusal(404, str(exc)) from None
        return Response(await rendered(x.to_json, default=str), media_type="application/json")

    async def worklist(request: Request) -> tuple[list[WorkItem], AuditResult]:
        result = await judged(now_or(request))
        items = await run_in_threadpool(select_work, pack, result, request.query_params.getlist("sop"),
                                        request.query_params.getlist("rule"), request.query_params.getlist("where"),
                                        request.query_params.get("overdue"))
        return items, result

    async def get_next(request: Request) -> Response:
        items, result = await worklist(request)
        return Response(await rendered(lambda: worklist_doc(items, result)), media_type="application/json")

    async def get_page(request: Request) -> Response:
        items, result = await worklist(request)
        refresh = request.query_params.get("refresh", "30")
        page = await run_in_threadpool(worklist_page, items, result, list(pack.columns),
                                       int(refresh) if refresh.isdigit() else 30)
        return HTMLResponse(page)

    async def healthz(_request: Request) -> Response:
        return JSONResponse({"status": "ok", "version": __version__})

    async def readyz(_request: Request) -> Response:
        async with engine:
            recovered()  # a probe alone brings the service back after a lost connection
        if not live.ready:
            return JSONResponse({"status": "starting"}, status_code=503)
        return JSONResponse({"status": "ready", "events": store.counts()["events"], "engine": live.engine})

    async def metrics(_request: Request) -> Response:
        return PlainTextResponse(metrics_text(live, notifier, store, lag["seconds"], started),
                                 media_type="text/plain; version=0.0.4")

    async def get_openapi(_request: Request) -> Response:
        return JSONResponse(openapi(__version__))

    async def dead_letters(_request: Request) -> Response:
        return JSONResponse({"dead_letters": [{"key": k, "target": t, "attempts": n, "error": e}
                                              for k, t, n, e in store.dead_letters()]})

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        live.rebuild()
        notifier.start()
        try:
            yield
        finally:
            await notifier.stop()
            store.close()

    routes = [
        Route("/events", guard("ingest", post_events), methods=["POST"]),
        Route("/webhooks/{mapping}", webhook, methods=["POST"]),
        Route("/next", guard("read", get_next), methods=["GET"]),
        Route("/findings", guard("read", get_findings), methods=["GET"]),
        Route("/cases/{case}/findings", guard("read", get_case_findings), methods=["GET"]),
        Route("/cases/{case}/explain", guard("read", get_explain), methods=["GET"]),
        Route("/", guard("read", get_page, page=True), methods=["GET"]),
        Route("/healthz", guard("read", healthz, health=True), methods=["GET"]),
        Route("/readyz", guard("read", readyz, health=True), methods=["GET"]),
        Route("/metrics", guard("read", metrics), methods=["GET"]),
        Route("/openapi.json", guard("read", get_openapi), methods=["GET"]),
        Route("/admin/dead-letters", guard("admin", dead_letters), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan, exception_handlers={StoreUnavailable: unavailable})
    app.state.live = live
    app.state.notifier = notifier
    return app


async def unavailable(_request: Request, exc: Exception) -> Response:
    """The store could not be reached: nothing of the request is half stored (its transaction was rolled back,
    or committed whole with its answer lost), and a client sends it again (a stored event is then answered
    ``duplicate``). The next request connects again."""
    return _problem(503, f"{exc}; nothing of this request is half stored: send it again", {"retry-after": "1"})


def _webhook_mappings(dirs: Sequence[str]) -> list[str]:
    from ..adapters.webhooks import webhook_mappings

    return webhook_mappings(dirs)


def split_body(body: bytes, content_type: str) -> list[tuple[int, Any]]:
    """The records of an ingest body, numbered as the batch reader numbers lines: one event (1), a JSON array
    (its items, from 1), or NDJSON (its physical lines). A CloudEvents envelope (structured mode, or a batch)
    stands for the canonical event in its ``data`` (its ``id`` the event's when the data has none)."""
    kind = content_type.split(";")[0].strip().lower()
    if kind not in ("application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"):
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            if b"\n" not in body.strip():
                return [(1, refused(json_reason(exc), body))]
        else:
            items = value if isinstance(value, list) else [value]
            return [(i, _unwrap(v)) for i, v in enumerate(items, 1)]
    out: list[tuple[int, Any]] = []
    for n, raw in enumerate(body.split(b"\n"), 1):
        line = raw.strip()
        if not line:
            continue
        try:
            out.append((n, _unwrap(orjson.loads(line))))
        except orjson.JSONDecodeError as exc:
            out.append((n, refused(json_reason(exc), line)))
    return out


def _unwrap(value: Any) -> Any:
    if isinstance(value, dict) and "specversion" in value:
        data = value.get("data")
        if isinstance(data, dict) and "id" not in data and isinstance(value.get("id"), str):
            data = {"id": value["id"], **data}
        return data
    return value


def select_work(pack: Pack, result: AuditResult, sops: Sequence[str], rules: Sequence[str], wheres: Sequence[str],
                overdue: str | None) -> list[WorkItem]:
    """The worklist filtered as ``sopengine next`` filters it (--sop, --rule, --where COLUMN=VALUE, --overdue)."""
    columns = list(pack.columns)
    filters = {}
    for w in wheres:
        name, sep, value = w.partition("=")
        if not sep or name not in columns:
            raise _Refusal(400, f"where: unknown column {name!r}{did_you_mean(name, columns)}; columns: "
                                f"{', '.join(columns) or '(the pack declares none)'}")
        filters[name] = value
    known = {r.id for r in pack.rules}
    wanted = {r if "/" in r else next((k for k in known if k.endswith("/" + r)), r) for r in rules}
    for r in wanted:
        if r not in known:
            raise _Refusal(400, f"rule: unknown rule {r!r}{did_you_mean(r, known)}")
    for sop in sops:
        if sop not in pack.sops:
            raise _Refusal(400, f"sop: unknown SOP {sop!r}{did_you_mean(sop, pack.sops)}")
    only_overdue = overdue not in (None, "", "0", "false")
    return [w for w in result.work
            if (not sops or w.rule.split("/")[0] in sops) and (not wanted or w.rule in wanted)
            and (not only_overdue or w.overdue) and all(str(dict(w.columns).get(k)) == v for k, v in filters.items())]


def worklist_doc(items: Sequence[WorkItem], result: AuditResult) -> dict[str, Any]:
    """The JSON of ``sopengine next --format json``."""
    return {"as_of": format_time(result.as_of),
            "summary": {**result.summary(), "items": len(items), "overdue": sum(w.overdue for w in items),
                        "at_risk_items": sum(w.at_risk for w in items)},
            "items": [w.to_json() for w in items],
            "rejected": [r.to_json() for r in result.rejected],
            **({"rejected_more": [{"reason": k, "count": v} for k, v in result.rejected_more.items()]}
               if result.rejected_more else {})}


def worklist_page(items: Sequence[WorkItem], result: AuditResult, columns: list[str], refresh: int) -> str:
    """The worklist as a page that reloads itself every ``refresh`` seconds; no script, no other host."""
    esc = html.escape
    head = "".join(f"<th>{esc(c)}</th>" for c in ["", "due", "case", "rule", "action", *columns])
    rows = []
    for w in items:
        values = dict(w.columns)
        flag = "overdue" if w.overdue else "at-risk" if w.at_risk else ""
        cells = [flag.replace("-", " "), format_time(w.due) or "(no deadline)", w.case, w.rule, w.action,
                 *[_cell(values.get(c)) for c in columns]]
        rows.append(f'<tr class="{flag}">' + "".join(f"<td>{esc(str(c))}</td>" for c in cells) + "</tr>")
    return (f"<!doctype html><html><head><meta charset='utf-8'><meta http-equiv='refresh' content='{max(refresh, 5)}'>"
            "<title>sopengine worklist</title><style>body{font:14px system-ui,sans-serif;margin:1em}"
            "table{border-collapse:collapse}td,th{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left}"
            ".overdue td{background:#fde2e2}.at-risk td{background:#fff4d6}</style></head><body>"
            f"<h1>Worklist</h1><p>As of {esc(format_time(result.as_of) or '')}: {len(items)} item(s), "
            f"{sum(w.overdue for w in items)} overdue, {sum(w.at_risk for w in items)} at risk; "
            f"refreshes every {max(refresh, 5)} s.</p><table><tr>{head}</tr>{''.join(rows)}</table></body></html>")


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return ";".join(map(str, value))
    return str(value)


def metrics_text(live: Live, notifier: Notifier, store: Store, lag: float, started: float) -> str:
    """Prometheus text format, written by hand: a dozen lines do not call for a dependency."""
    cases, open_items = live.open_counts()
    counts = store.counts()
    lines = []

    def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
        lines.extend([f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"])
        lines.extend(f"{name}{labels} {value:g}" for labels, value in samples)

    tally = live.tally
    metric("sopengine_events_ingested_total", "counter", "Events accepted since start.", [("", tally.accepted)])
    metric("sopengine_events_duplicate_total", "counter", "Events re-sent with a stored id since start.",
           [("", tally.duplicates)])
    metric("sopengine_events_rejected_total", "counter", "Records refused since start, by reason.",
           [(f'{{reason="{_label(k)}"}}', n) for k, n in sorted(tally.rejected.items())] or [("", 0)])
    metric("sopengine_events_stored", "gauge", "Events in the store.", [("", counts["events"])])
    metric("sopengine_cases", "gauge", "Cases with events.", [("", cases)])
    metric("sopengine_open_obligations", "gauge", "Items open after each case's last event (obligations, "
           "broken conditions; overdue ones included).", [("", open_items)])
    metric("sopengine_ingest_lag_seconds", "gauge", "Wall clock minus the time of the last event ingested.",
           [("", lag)])
    metric("sopengine_timers_armed", "gauge", "Timers in the due-time index.", [("", counts["timers"])])
    latency = notifier.latency
    metric("sopengine_timer_latency_seconds", "summary", f"Fired timers' delay past due (stated bound {LATENCY} s).",
           [("_count", len(latency)), ("_sum", sum(latency)), ('{quantile="1"}', max(latency, default=0.0))])
    metric("sopengine_notifications_delivered_total", "counter", "Notifications delivered since start.",
           [("", notifier.delivered)])
    metric("sopengine_notifications_pending", "gauge", "Notifications waiting in the outbox.",
           [("", counts["outbox_pending"])])
    metric("sopengine_notifications_dead", "gauge", "Notifications given up on (dead letters).",
           [("", counts["dead_letters"])])
    metric("sopengine_uptime_seconds", "gauge", "Seconds since the service started.", [("", _time.time() - started)])
    return "\n".join(lines) + "\n"


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
