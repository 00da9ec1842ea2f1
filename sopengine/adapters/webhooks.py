"""Webhook payloads, read through a pack's input mapping (``NAME.input.yaml`` beside the pack) as the batch
readers read exports of the same system: the same mapping file and the same event ids, so an event that comes
both by webhook and in a later export is one event (``sopengine serve``'s ``POST /webhooks/NAME``).

A mapping whose reader is ``jira`` reads Jira Cloud webhooks, each turned into the issue export that reader
reads: ``jira:issue_created`` is the issue itself; ``jira:issue_updated`` the issue with one changelog history
(the webhook's ``changelog``, at its ``timestamp``, by its ``user``); ``comment_created`` the issue with that
one comment. Of an update or a comment only the events of the change or the comment are kept: those the bare
issue (no changelog, no comments) would make are the creation's, which came with ``jira:issue_created``. Any
other mapping reads the payload as a JSON export: records as a REST query endpoint gives them (Salesforce's
``{"records": [...]}`` with ``attributes.type``), a list, or one record.
"""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timezone
from typing import Any, Mapping, Sequence

import orjson

from ..events import Event, Record, Rejected
from ..model import Pack
from . import InputSpec, mapping_files
from .mapping import load_mapping

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


def _read(pack: Pack, name: str, doc: Any, dirs: Sequence[str], facts: Mapping[str, Any]) -> list[Record]:
    from ..audit import read_records

    fd, path = tempfile.mkstemp(suffix=".json", prefix="sopengine-webhook-")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(orjson.dumps(doc))
        spec = InputSpec(name, pack_dirs=tuple(dirs)).with_facts(facts)
        return [r for r in read_records(pack, [path], inputs=spec) if isinstance(r, (Event, Rejected))]
    finally:
        os.unlink(path)


def webhook_mappings(dirs: Sequence[str]) -> list[str]:
    """The names of the input mappings beside a pack: each is a webhook endpoint."""
    return sorted(mapping_files(dirs))


def webhook_records(pack: Pack, name: str, payload: Any, dirs: Sequence[str], facts: Mapping[str, Any]
                    ) -> list[Record] | None:
    """The events (and rejected records, with the mapping's reasons) of a webhook payload read through the
    mapping ``name`` beside the pack; None when the payload is a kind of webhook that makes no event.
    Raises KeyError when the pack has no such mapping."""
    path = mapping_files(dirs)[name]
    if load_mapping(path).reader != "jira":
        return _read(pack, name, payload, dirs, facts)
    if not isinstance(payload, dict):
        return [Rejected("(webhook)", 1, "a Jira webhook is a JSON object")]
    found = jira_issue(payload)
    if found is None:
        return None
    issue, change_only = found
    records = _read(pack, name, issue, dirs, facts)
    if change_only:
        creation = _read(pack, name, _bare(issue), dirs, facts)
        made = {r.id for r in creation if isinstance(r, Event)}
        refusals = {r.error for r in creation if isinstance(r, Rejected)}
        records = [r for r in records if (r.id not in made if isinstance(r, Event)
                                          else isinstance(r, Rejected) and r.error not in refusals)]
    return records
