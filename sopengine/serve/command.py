"""``sopengine serve``: the command that runs the service (uvicorn), and ``serve token create``.

Only click is imported here; Starlette and uvicorn are imported when the service starts, so the CLI works
without the ``serve`` extra.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from ..errors import SopengineError, UsageError
from ..timeutil import parse_duration
from .auth import SCOPES, add_token, is_loopback


def _fail(exc: SopengineError) -> None:
    click.echo(f"sopengine: {exc}", err=True)
    sys.exit(exc.exit_code)


@click.group(name="serve", invoke_without_command=True,
             context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--sops", "sops", multiple=True, type=click.Path(),
              help="SOP pack file or directory (repeatable); default as for audit (config, ./sops, bundled).")
@click.option("--set", "sets", multiple=True, metavar="NAME=VALUE", help="Override a pack parameter (repeatable).")
@click.option("--facts", "facts_files", multiple=True, type=click.Path(), metavar="[NAME=]FILE",
              help="Facts file (repeatable), as for audit.")
@click.option("--db", "db", default="sopengine.db", show_default=True, metavar="FILE|URL",
              help="The store: a SQLite file (WAL mode, one file plus its -wal and -shm while open; created if "
                   "missing), or a PostgreSQL database as a postgresql:// URL (its tables are created if missing).")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535))
@click.option("--token-file", "token_file", type=click.Path(dir_okay=False), metavar="FILE",
              help="API tokens: one JSON object per line with name, sha256 and scopes (ingest, read, admin); "
                   "make them with 'sopengine serve token create'. Required unless --dev-no-auth.")
@click.option("--dev-no-auth", "dev_no_auth", is_flag=True,
              help="Development only: requests from loopback addresses need no token. Refused unless --host is a "
                   "loopback address.")
@click.option("--public-health", "public_health", is_flag=True,
              help="/healthz and /readyz answer without a token (for a load balancer's probe; they tell only "
                   "whether the service is up and ready).")
@click.option("--max-body", "max_body", default=10 << 20, show_default=True, type=click.IntRange(1024, None),
              metavar="BYTES", help="Largest request body accepted (413 past it, nothing stored).")
@click.option("--reorder-window", "reorder_window", default="7d", show_default=True, metavar="DURATION",
              help="A case's event may come this much older than its latest one and is evaluated in order; an "
                   "older one is rejected with the reason and kept in the store's rejected table.")
@click.option("--notify", "notify", multiple=True, metavar="[FORMAT=]URL",
              help="Outbound webhook for items turning at risk or overdue and for violations (repeatable); "
                   "FORMAT json (default), slack or teams.")
@click.option("--webhook-secret-env", "webhook_secrets", multiple=True, metavar="MAPPING=VAR",
              help="The environment variable VAR holds the shared secret of the webhook read through the input "
                   "mapping MAPPING (repeatable): POST /webhooks/MAPPING then requires X-Hub-Signature "
                   "(sha256 HMAC of the body) instead of a token.")
@click.option("--engine", type=click.Choice(["auto", "native", "python"]), default="auto", show_default=True,
              help="The evaluator of the live session (the findings are the same).")
@click.option("--log-level", "log_level", default="warning", show_default=True,
              type=click.Choice(["critical", "error", "warning", "info", "debug"]))
@click.pass_context
def serve(ctx: click.Context, sops: tuple[str, ...], sets: tuple[str, ...], facts_files: tuple[str, ...], db: str,
          host: str, port: int, token_file: str | None, dev_no_auth: bool, public_health: bool, max_body: int,
          reorder_window: str, notify: tuple[str, ...], webhook_secrets: tuple[str, ...], engine: str,
          log_level: str) -> None:
    """Run the live service: events in (POST /events, webhooks read through the pack's input mappings), the worklist and
    findings out (GET /next, /findings, /cases/CASE/findings, /cases/CASE/explain, the page at /), with
    /healthz, /readyz, /metrics and /openapi.json.

    \b
    sopengine serve token create --scope ingest --scope read --token-file tokens.jsonl
    sopengine serve --sops sops --facts examples/facts.yaml --db state.db --token-file tokens.jsonl

    Every acknowledged event is committed to the --db store first; a restart rebuilds the
    state from it and re-arms every timer. The service speaks plain HTTP: put TLS on a
    reverse proxy in front of it (docs/serve.md).
    """
    if ctx.invoked_subcommand is not None:
        return
    try:
        app = _build(sops, sets, facts_files, db, host, token_file, dev_no_auth, public_health, max_body,
                     reorder_window, notify, webhook_secrets, engine)
    except SopengineError as exc:
        _fail(exc)
        return
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=log_level in ("info", "debug"))


def _build(sops: tuple[str, ...], sets: tuple[str, ...], facts_files: tuple[str, ...], db: str, host: str,
           token_file: str | None, dev_no_auth: bool, public_health: bool, max_body: int, reorder_window: str,
           notify: tuple[str, ...], webhook_secrets: tuple[str, ...], engine: str) -> Any:
    from ..audit import load_facts
    from ..config import find_config, pack_paths
    from ..pack import load_pack
    from .app import ServeConfig, create_app
    from .auth import Tokens
    from .live import LiveConfig
    from .notify import Target
    from .store import open_store

    if dev_no_auth and not is_loopback(host):
        raise UsageError(f"--dev-no-auth lets requests in without a token: it serves loopback addresses only, "
                         f"not --host {host}")
    if token_file is None and not dev_no_auth:
        raise UsageError("give --token-file (make one with 'sopengine serve token create'), or --dev-no-auth on "
                         "a loopback address for development")
    tokens = Tokens.load(token_file) if token_file else Tokens()
    try:
        window = parse_duration(reorder_window)
    except ValueError as exc:
        raise UsageError(f"--reorder-window: {exc}") from None
    secrets: dict[str, bytes] = {}
    for item in webhook_secrets:
        name, sep, var = item.partition("=")
        value = os.environ.get(var) if sep else None
        if not sep or not name:
            raise UsageError(f"--webhook-secret-env expects MAPPING=VAR, got {item!r}")
        if not value:
            raise UsageError(f"--webhook-secret-env: the environment variable {var} is not set")
        secrets[name] = value.encode()
    config = find_config()
    paths, _ = pack_paths(list(sops), config)
    params = {**(dict(config.params) if config else {})}
    for item in sets:
        name, sep, value = item.partition("=")
        if not sep:
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        params[name.strip()] = value
    pack = load_pack(paths, params)
    facts = load_facts(list(facts_files) or (list(config.facts) if config else []), pack=pack)
    store = open_store(db)
    return create_app(pack, facts, store, ServeConfig(
        tokens=tokens, dev_no_auth=dev_no_auth, public_health=public_health, max_body=max_body,
        live=LiveConfig(engine=engine, reorder_window=window), notify=[Target.parse(n) for n in notify],
        webhook_secrets=secrets))


@serve.group(name="token")
def token_group() -> None:
    """Manage API tokens (stored as SHA-256 hashes in a token file)."""


@token_group.command(name="create")
@click.option("--scope", "scopes", multiple=True, required=True, type=click.Choice(SCOPES),
              help="What the token may do (repeatable): ingest (POST events, webhooks), read (worklist, findings, "
                   "metrics), admin (everything).")
@click.option("--name", default="token", show_default=True, help="A name to recognise the token by in the file.")
@click.option("--token-file", "token_file", required=True, type=click.Path(dir_okay=False), metavar="FILE",
              help="The token file to append the hash to (created with mode 0600).")
def token_create(scopes: tuple[str, ...], name: str, token_file: str) -> None:
    """Make a token: its hash is appended to the token file and the token printed once, on stdout."""
    click.echo(add_token(token_file, name, scopes))
