"""``sopengine serve``: live monitoring with durable state (issue 19).

:func:`create_app` builds the ASGI application from a pack, its facts, a store and a :class:`ServeConfig`;
it needs the ``serve`` extra (Starlette, uvicorn). The store (:mod:`.store`) keeps what was acknowledged; the
live engine (:mod:`.live`) is rebuilt from it; timers and notifications are :mod:`.notify`'s.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .app import ServeConfig as ServeConfig
    from .live import Live as Live
    from .live import LiveConfig as LiveConfig
    from .store import SqliteStore as SqliteStore
    from .store import Store as Store
    from .store import open_store as open_store

# Imported when first used: the command line imports this package for ``sopengine serve``'s options, and an
# audit should not carry the service's modules (sqlite3, the engine over a store: ~6 MB of its peak memory).
_LAZY = {"Live": ".live", "LiveConfig": ".live", "SqliteStore": ".store", "Store": ".store",
         "open_store": ".store", "ServeConfig": ".app"}


def create_app(*args: Any, **kwargs: Any) -> Any:
    """See :func:`sopengine.serve.app.create_app` (imported here lazily: it needs Starlette)."""
    from .app import create_app as make

    return make(*args, **kwargs)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(name)


__all__ = ["Live", "LiveConfig", "ServeConfig", "SqliteStore", "Store", "create_app", "open_store"]
