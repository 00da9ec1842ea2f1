"""Jira and Salesforce webhook payloads, read through the pack's input mappings, as the batch readers read
exports (``--input-format jira``, ``salesforce``): the same mapping file, the same event ids, so an event that
comes both by webhook and in a later export is one event.

A Jira webhook is turned into the issue export the ``jira`` reader reads: ``jira:issue_created`` is the issue
itself; ``jira:issue_updated`` the issue with one changelog history (the webhook's ``changelog``, at its
``timestamp``, by its ``user``); ``comment_created`` the issue with that one comment. Of an update or a comment
only the events of the change or the comment are kept: those the bare issue (no changelog, no comments) would
make are the creation's, which came with ``jira:issue_created``. A Salesforce payload is records as the REST
API's query endpoint gives them (``{"records": [...]}``, a list, or one record with ``attributes.type``).
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import orjson

from ..adapters import InputSpec
from ..audit import read_records
from ..events import Event, Rejected
from ..model import Pack
from .live import refused

JIRA_EVENTS = ("jira:issue_created", "jira:issue_updated", "comment_created")


def jira_time(millis: Any) -> str | None:
    """A webhook's ``timestamp`` (epoch milliseconds) in the form Jira's REST API writes times."""
    if not isinstance(millis, (int, float)) or isinstance(millis, bool):
        return None
    moment = datetime.fromtimestamp(millis / 1000, timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def _bare(issue: Mapping[str, Any]) -> dict[str, Any]:
    fields = {k: v for k, v in (issue.get("fields") or {}).items() if k != "comment"} \
        if isinstance(issue.get("fields"), dict) else {}
    return {**{k: v for k, v in issue.items() if k != "changelog"}, "fields": fields}


def jira_issue(payload: Mapping[str, Any]) -> tuple[dict[str, Any], bool] | None:
    """The issue export a Jira webhook stands for, and whether it is only a change (an update or a comment);
    None for a webhook event that makes no event."""
    kind = payload.get("webhookEvent")
    issue = payload.get("issue")
    if kind not in JIRA_EVENTS or not isinstance(issue, dict):
        return None
    bare = _bare(issue)
    if kind == "jira:issue_created":
        return bare, False
    if kind == "jira:issue_updated":
        changelog = payload.get("changelog")
        if not isinstance(changelog, dict) or not changelog.get("items"):
            return None
        history = {"id": changelog.get("id"), "created": jira_time(payload.get("timestamp")),
                   "author": payload.get("user"), "items": changelog.get("items")}
        return {**bare, "changelog": {"histories": [history], "total": 1}}, True
    comment = payload.get("comment")
    if not isinstance(comment, dict):
        return None
    return {**bare, "fields": {**bare["fields"], "comment": {"comments": [comment], "total": 1}}}, True


def _read(pack: Pack, fmt: str, doc: Any, dirs: Sequence[str], facts: Mapping[str, Any]) -> list[Any]:
    fd, path = tempfile.mkstemp(suffix=".json", prefix="sopengine-webhook-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(doc))
        spec = InputSpec(fmt, pack_dirs=tuple(dirs)).with_facts(facts)
        return [r for r in read_records(pack, [path], inputs=spec) if isinstance(r, (Event, Rejected))]
    finally:
        os.unlink(path)


def map_webhook(pack: Pack, which: str, payload: Any, body: bytes, dirs: Sequence[str],
                facts: Mapping[str, Any]) -> list[tuple[int, Any]] | None:
    """The records of a webhook payload for :meth:`Live.ingest` (canonical event JSON, or refusals with the
    mapping's reason); None when the payload is a kind that makes no event."""
    if which == "jira":
        if not isinstance(payload, dict):
            return [(1, refused("a Jira webhook is a JSON object", body))]
        found = jira_issue(payload)
        if found is None:
            return None
        issue, change_only = found
        records = _read(pack, "jira", issue, dirs, facts)
        if change_only:
            creation = _read(pack, "jira", _bare(issue), dirs, facts)
            made = {r.id for r in creation if isinstance(r, Event)}
            refusals = {r.error for r in creation if isinstance(r, Rejected)}
            records = [r for r in records if (r.id not in made if isinstance(r, Event) else r.error not in refusals)]
    else:
        records = _read(pack, "salesforce", payload, dirs, facts)
    return [(n, r.to_json() if isinstance(r, Event) else refused(r.error, body)) for n, r in enumerate(records, 1)]
