"""The native core's extension module, loaded once for every module that uses it (None where it is not built)."""

from __future__ import annotations

import importlib
import os
from typing import Any


def _load() -> Any:
    """The extension module, built by `pip install .`; None where it is missing (the Python engine runs).

    The core allocates through mimalloc, which hands freed pages back to the system only during its own
    later allocations, after a delay: once the core is done, the process allocates through Python's
    allocator and a finished audit's freed cases would stay resident (~80 MB of a 1M-event audit's
    peak). Purging at once costs no measurable time; the environment can still say otherwise. The
    setting is read when the module loads, so it is made here, before any import of it.
    """
    os.environ.setdefault("MIMALLOC_PURGE_DELAY", "0")
    try:
        return importlib.import_module("sopengine._native")
    except ImportError:  # pragma: no cover - exercised only where the extension is missing
        return None


native: Any = _load()
