"""Where the bundled pack and the schemas are: inside the wheel, or in the source tree."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def _find(name: str) -> Path:
    # In a source tree the top-level link (sops/, schemas/) is preferred, so paths read as they do in the repository.
    for candidate in (_PACKAGE.parent / name, _PACKAGE / "_bundled" / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"bundled '{name}' directory not found next to {_PACKAGE}")


def bundled_pack_dir() -> Path:
    """The directory of the bundled SOP pack."""
    return _find("sops")


def schema_dir() -> Path:
    """The directory of the JSON Schemas."""
    return _find("schemas")
