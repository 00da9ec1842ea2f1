"""Which pack a command checks when none is named, as conftest and Spectral find theirs.

In order: the paths given on the command line (``bundled`` names the demo pack that ships
with sopengine); a config file in the working directory, ``sopengine.yaml`` or
``[tool.sopengine]`` in ``pyproject.toml`` (``sops``, ``facts``, ``params``); a ``./sops``
directory; and only then the bundled pack, said on stderr, so that a repository whose own
pack is broken never passes by checking the demo instead.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ._resources import bundled_pack_dir
from ._yaml import load_yaml_file
from .errors import UsageError

CONFIG_FILES = ("sopengine.yaml", ".sopengine.yaml")
BUNDLED = "bundled"


@dataclass(frozen=True)
class Config:
    """Project defaults: pack paths, facts files and parameter values, relative to ``root``."""

    sops: tuple[str, ...] = ()
    facts: tuple[str, ...] = ()
    params: Mapping[str, str] = field(default_factory=dict)
    source: str = ""


def _inside(root: Path, value: Any, key: str, source: str) -> str:
    """A path from the config file, which must stay inside the config's directory (a pull request can
    edit the config: it must not point a CI run at files elsewhere on the machine)."""
    if not isinstance(value, str) or not value:
        raise UsageError(f"{source}: '{key}' must list paths (text)")
    path = Path(value)
    resolved = (root / path).resolve()
    if path.is_absolute() or not resolved.is_relative_to(root.resolve()):
        raise UsageError(f"{source}: {key} path {value!r} leaves the directory of the config file")
    return os.path.relpath(root / path)


def _from_mapping(data: Any, root: Path, source: str) -> Config:
    if not isinstance(data, dict):
        raise UsageError(f"{source}: expected a mapping with sops, facts, params")
    unknown = sorted(set(data) - {"sops", "facts", "params"})
    if unknown:
        raise UsageError(f"{source}: unknown key {unknown[0]!r}; the keys are sops, facts, params")

    def paths(key: str) -> tuple[str, ...]:
        raw = data.get(key) or []
        items = [raw] if isinstance(raw, str) else raw
        if not isinstance(items, list):
            raise UsageError(f"{source}: '{key}' must be a path or a list of paths")
        return tuple(BUNDLED if v == BUNDLED else _inside(root, v, key, source) for v in items)

    params = data.get("params") or {}
    if not isinstance(params, dict):
        raise UsageError(f"{source}: 'params' must map parameter names to values")
    return Config(paths("sops"), paths("facts"), {str(k): str(v) for k, v in params.items()}, source)


def find_config(cwd: Path | None = None) -> Config | None:
    """The project's config in ``cwd`` (default: the working directory), if it has one."""
    root = cwd or Path.cwd()
    for name in CONFIG_FILES:
        path = root / name
        if path.is_file():
            doc, problems = load_yaml_file(path, name)
            if doc is None or problems:
                raise UsageError("\n".join(str(p) for p in problems) or f"{name}: cannot read")
            return _from_mapping(doc.data or {}, root, name)
    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        try:
            table = tomllib.loads(pyproject.read_text(encoding="utf-8")).get("tool", {}).get("sopengine")
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
            raise UsageError(f"pyproject.toml: cannot read [tool.sopengine] ({exc})") from None
        if table is not None:
            return _from_mapping(table, root, "pyproject.toml [tool.sopengine]")
    return None


def pack_paths(given: Sequence[str], config: Config | None) -> tuple[list[str], str | None]:
    """The pack to check, and a notice to print when it is the bundled demo pack by default."""
    if given:
        return [str(bundled_pack_dir()) if p == BUNDLED else p for p in given], None
    if config is not None and config.sops:
        return [str(bundled_pack_dir()) if p == BUNDLED else p for p in config.sops], None
    if Path("sops").is_dir():
        return ["sops"], None
    return [str(bundled_pack_dir())], ("no ./sops and no sopengine.yaml here: checking the bundled demo pack "
                                       "(name it with --sops bundled, or your own pack's paths)")
