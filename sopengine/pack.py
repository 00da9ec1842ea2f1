"""Load a pack: find its files, parse them (load), validate them (check), compile."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Mapping

from ._resources import bundled_pack_dir
from ._yaml import YamlDocument, load_yaml_file
from .compiler import compile_pack
from .errors import Code, DiagnosticSink, Location, PackError
from .limits import DEFAULT, Limits
from .model import Pack
from .schema import SOP_FILE, check

SCENARIO_SUFFIXES = (".test.yaml", ".test.yml")
MAPPING_SUFFIXES = (".input.yaml", ".input.yml")  # input mappings shipped beside a pack (sopengine.adapters)


def is_scenario_file(path: Path) -> bool:
    return path.name.endswith(SCENARIO_SUFFIXES)


def is_mapping_file(path: Path) -> bool:
    return path.name.endswith(MAPPING_SUFFIXES)


def walk_yaml(root: Path) -> list[Path]:
    """The YAML files under a directory, in a stable order, without following links to directories.

    A link to a directory is listed itself (loading refuses it, with a diagnostic), so that
    nothing under a pack can reach outside the directory that was named.
    """
    found: list[Path] = []
    for here, dirs, names in os.walk(root):
        base = Path(here)
        for d in list(dirs):
            if (base / d).is_symlink():
                found.append(base / d)
                dirs.remove(d)
        found.extend(base / n for n in names if n.endswith((".yaml", ".yml")))
    return sorted(found)


def pack_files(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The SOP files under the given files and directories (scenario files excluded), in a stable order."""
    files: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            files.extend(p for p in walk_yaml(path) if not is_scenario_file(p) and not is_mapping_file(p))
        else:
            files.append(path)
    return files


def _display(path: Path) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return str(path)


def load_documents(paths: Iterable[str | os.PathLike[str]], sink: DiagnosticSink,
                   limits: Limits = DEFAULT) -> list[YamlDocument]:
    """Load and schema-check every SOP file, collecting all problems in ``sink``."""
    docs = []
    files = pack_files(paths)
    if not files:
        sink.add(Code.EMPTY_PACK, "no SOP files (*.yaml) found", Location(", ".join(map(str, paths)) or "."))
    seen_rules = 0
    for path in files:
        if not path.exists():
            sink.add(Code.FILE_UNREADABLE, "no such file or directory", Location(str(path)))
            continue
        doc, problems = load_yaml_file(path, _display(path), limits)
        sink.extend(problems)
        if doc is None or problems:
            continue
        if doc.data is None:
            continue
        rules = doc.data.get("rules") if isinstance(doc.data, dict) else None
        if isinstance(rules, list):  # counted before the (slower) schema check
            if seen_rules + len(rules) > limits.rules:
                sink.add(Code.PACK_LIMIT, f"the pack has more than {limits.rules} rules (limit rules)",
                         doc.loc(("rules", limits.rules - seen_rules)))
                break
            seen_rules += len(rules)
        schema_problems = check(doc, SOP_FILE)
        sink.extend(schema_problems)
        if not schema_problems:
            docs.append(doc)
    return docs


def load_pack(paths: Iterable[str | os.PathLike[str]] | None = None,
              params: Mapping[str, str] | None = None, limits: Limits = DEFAULT) -> Pack:
    """Load, check and compile a pack (the bundled one when ``paths`` is None or empty).

    ``params`` overrides parameter defaults (values as text, as given to ``--set``);
    ``limits`` bounds file size, nesting, rule count and expressions (:class:`~sopengine.Limits`).
    Raises :class:`~sopengine.errors.PackError` listing every problem found.
    """
    paths = list(paths or []) or [bundled_pack_dir()]
    sink = DiagnosticSink()
    docs = load_documents(paths, sink, limits)
    if sink.errors:
        raise PackError(sorted(sink.items, key=lambda d: (d.location.file, d.location.line)))
    return compile_pack(docs, params, sink, limits)
