"""Jira and Salesforce webhook payloads, read through the pack's input mappings (as the batch readers do)."""

from __future__ import annotations

from typing import Any

from ..model import Pack


def map_webhook(pack: Pack, which: str, obj: Any, body: bytes) -> list[tuple[int, Any]] | None:
    return None
