"""Load stage: safe YAML into plain data plus a map of source positions.

Parsing is PyYAML's (libyaml when present). Only the standard scalar,
mapping and sequence tags are accepted, so ``!!python/...`` never constructs
anything; on top of that the loader refuses anchors and aliases (the alias-expansion bomb needs them and SOP
files have no use for them), refuses duplicate keys, keeps timestamps as the
text written, bounds nesting depth and file size, and records the line and
column of every node so later stages can point at the exact place.
"""

from __future__ import annotations

import errno
import os

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import Code, Diagnostic, Location
from .limits import DEFAULT, Limits

_STD_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
    "tag:yaml.org,2002:timestamp",
}
_MAP_TAG = "tag:yaml.org,2002:map"
_SEQ_TAG = "tag:yaml.org,2002:seq"

Path_ = tuple[str | int, ...]


_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml when available: ~20x faster


def _first_alias(text: str) -> yaml.Event | None:
    """The first alias event, if any (aliases are refused before anything is built)."""
    for event in yaml.parse(text, Loader=_Loader):
        if isinstance(event, yaml.AliasEvent):
            return event
    return None


@dataclass(frozen=True)
class YamlDocument:
    """One parsed file: its data and where each part of it was written."""

    file: str
    data: Any
    positions: dict[Path_, tuple[int, int]]  # where each value starts
    key_positions: dict[Path_, tuple[int, int]] = field(default_factory=dict)  # where each mapping key is

    def loc(self, path: Path_ = ()) -> Location:
        """Location of ``path``, or of its nearest ancestor that has one."""
        p = tuple(path)
        while p and p not in self.positions:
            p = p[:-1]
        line, col = self.positions.get(p, (1, 1))
        return Location(self.file, line, col, tuple(path))

    def key_loc(self, path: Path_) -> Location:
        """Location of the key that introduces ``path`` (falls back to its value)."""
        if tuple(path) in self.key_positions:
            line, col = self.key_positions[tuple(path)]
            return Location(self.file, line, col, tuple(path))
        return self.loc(path)


class _Builder:
    def __init__(self, file: str, loader: Any, max_depth: int):
        self.file = file
        self.loader = loader
        self.max_depth = max_depth
        self.positions: dict[Path_, tuple[int, int]] = {}
        self.key_positions: dict[Path_, tuple[int, int]] = {}
        self.problems: list[Diagnostic] = []

    def _problem(self, code: Code, message: str, node: yaml.Node, path: Path_) -> None:
        mark = node.start_mark
        self.problems.append(Diagnostic(
            code, message, Location(self.file, mark.line + 1, mark.column + 1, path)))

    def build(self, node: yaml.Node, path: Path_, depth: int) -> Any:
        self.positions[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if depth > self.max_depth:
            self._problem(Code.YAML_FORBIDDEN, f"nesting deeper than {self.max_depth} levels "
                          "(limit yaml-depth)", node, path)
            return None
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP_TAG:
                self._problem(Code.YAML_FORBIDDEN, f"tag {node.tag!r} is not allowed", node, path)
                return None
            result: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    self._problem(Code.YAML_FORBIDDEN, "keys must be plain scalars (no merge keys)",
                                  key_node, path)
                    continue
                key = str(key_node.value)
                if key in result:
                    self._problem(Code.YAML_SYNTAX, f"duplicate key '{key}'", key_node, path + (key,))
                    continue
                self.key_positions[path + (key,)] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                result[key] = self.build(value_node, path + (key,), depth + 1)
            return result
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ_TAG:
                self._problem(Code.YAML_FORBIDDEN, f"tag {node.tag!r} is not allowed", node, path)
                return None
            return [self.build(item, path + (i,), depth + 1) for i, item in enumerate(node.value)]
        assert isinstance(node, yaml.ScalarNode)
        if node.tag not in _STD_SCALAR_TAGS:
            self._problem(Code.YAML_FORBIDDEN, f"tag {node.tag!r} is not allowed", node, path)
            return None
        if node.tag == "tag:yaml.org,2002:timestamp":
            return node.value  # times stay as written; the event reader parses them
        try:
            return self.loader.construct_object(node)
        except yaml.YAMLError as exc:  # e.g. an out-of-range number
            self._problem(Code.YAML_SYNTAX, str(exc).splitlines()[0], node, path)
            return None
        except ValueError as exc:  # e.g. an integer of more digits than Python converts
            self._problem(Code.YAML_SYNTAX, f"cannot read {node.value[:20]!r}...: {exc}", node, path)
            return None


def load_yaml_text(text: str, file: str, limits: Limits = DEFAULT) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Parse one YAML document. Returns the document (None when unusable) and its problems."""
    loader = _Loader(text)
    try:
        alias = _first_alias(text)
        if alias is not None:
            at = alias.start_mark
            line, col = (at.line + 1, at.column + 1) if at is not None else (1, 1)
            return None, [Diagnostic(Code.YAML_FORBIDDEN, "anchors and aliases (*name) are not allowed",
                                     Location(file, line, col))]
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(p for p in (exc.context, exc.problem) if p) or str(exc)
        return None, [Diagnostic(Code.YAML_SYNTAX, message, Location(file, line, col))]
    except yaml.YAMLError as exc:
        return None, [Diagnostic(Code.YAML_SYNTAX, str(exc), Location(file, 1, 1))]
    except RecursionError:  # the parser itself recurses on nesting (thousands of '[' in a row)
        return None, [Diagnostic(Code.YAML_FORBIDDEN, f"nesting deeper than {limits.yaml_depth} levels "
                                 "(limit yaml-depth)", Location(file, 1, 1))]
    finally:
        loader.dispose()
    if node is None:
        return YamlDocument(file, None, {(): (1, 1)}), []
    builder = _Builder(file, loader, limits.yaml_depth)
    data = builder.build(node, (), 0)
    return YamlDocument(file, data, builder.positions, builder.key_positions), builder.problems


def load_yaml_file(path: Path, display: str | None = None, limits: Limits = DEFAULT,
                   *, links: bool = False, size_limit: str = "sop-file-bytes"
                   ) -> tuple[YamlDocument | None, list[Diagnostic]]:
    """Read and parse a YAML file, refusing files too large or not UTF-8.

    A symbolic link is refused unless ``links`` (files the operator names, such as facts):
    a SOP, scenario or mapping file may come from a pull request, and a link in it could
    point at any file of the machine running CI, whose content diagnostics would echo.
    ``size_limit`` names the limit that bounds the file (facts files have their own).
    """
    name = display or str(path)
    max_bytes: int = getattr(limits, size_limit.replace("-", "_"))
    try:
        fd = os.open(path, os.O_RDONLY | (0 if links else getattr(os, "O_NOFOLLOW", 0)))
        with os.fdopen(fd, "rb") as fh:
            raw = fh.read(max_bytes + 1)  # never more than the limit, whatever stat says
        if len(raw) > max_bytes:
            return None, [Diagnostic(Code.YAML_FORBIDDEN, f"file is larger than {max_bytes} bytes "
                                     f"(limit {size_limit})", Location(name, 1, 1))]
    except OSError as exc:
        if not links and (exc.errno == errno.ELOOP or path.is_symlink()):
            return None, [Diagnostic(Code.FILE_UNREADABLE, "is a symbolic link: refused (a link could point at any "
                                     "file of this machine); put the file itself here", Location(name))]
        return None, [Diagnostic(Code.FILE_UNREADABLE, exc.strerror or str(exc), Location(name))]
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        return None, [Diagnostic(Code.YAML_SYNTAX, f"not valid UTF-8 ({exc.reason})", Location(name, line, 1))]
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        return None, [Diagnostic(Code.YAML_SYNTAX, "NUL byte in file", Location(name, line, 1))]
    return load_yaml_text(text, name, limits)
