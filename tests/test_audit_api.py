"""sopengine.audit stays the entry point: what was imported from it still is, from its new homes."""

from __future__ import annotations

import importlib

from sopengine import judging, session

audit = importlib.import_module("sopengine.audit")  # the package's `audit` attribute is the function


def test_audit_re_exports_the_session_and_judging_names_others_import() -> None:
    for name in ("Session", "Partial", "DuplicateEvent", "duplicate_reason", "feed_all", "index_facts",
                 "new_session", "engine_name", "ENGINES"):
        assert getattr(audit, name) is getattr(session, name), name
    for name in ("judge", "assemble"):
        assert getattr(audit, name) is getattr(judging, name), name
    for name in ("audit", "audit_paths", "read_records", "load_facts"):
        assert callable(getattr(audit, name)), name
