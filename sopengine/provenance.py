"""What produced an audit report, so that it can be traced to its inputs and run again (``audit --reproduce``).

The tool's version and the engine; the pack (name, version, the paths it was loaded from, and the sha256 of
every SOP and input-mapping file of it); every parameter with its value and where that came from (the pack's
default, the config file, or ``--set``); the facts files and the logs with their sizes and sha256 (read in
blocks; stdin is said to be stdin, with the bytes read from it); how the logs were read (format, mapping
file, options, limits other than the defaults); and the as-of time with how it was chosen.

Nothing in it depends on the moment it was made: the same audit of the same files gives the same bytes.
Paths are as they were named, relative to the directory the audit ran in.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import sys
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Iterable, Iterator, Mapping

from ._resources import bundled_pack_dir
from .adapters import mapping_files
from .config import BUNDLED
from .errors import InputError
from .limits import DEFAULT, Limits
from .model import Pack
from .timeutil import format_time, parse_time

STDIN = "-"


@dataclass(frozen=True, slots=True)
class FileDigest:
    """A file that was read, as it was named: its size and sha256 (None for a pipe, which can be read once).
    ``collection``: the facts collection a CSV file holds (``--facts NAME=FILE``)."""

    path: str
    bytes: int | None
    sha256: str | None
    collection: str | None = None

    @property
    def argument(self) -> str:
        """The file as it is named on the command line."""
        return f"{self.collection}={self.path}" if self.collection else self.path

    def describe(self) -> str:
        """For people: size and hash, and that it was stdin or a pipe."""
        if self.sha256 is None:
            return "a pipe, read once (not hashed)"
        what = f"{self.bytes:,} bytes, sha256 {self.sha256}"
        return f"stdin, {what}" if self.path == STDIN else what

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"path": self.path, "bytes": self.bytes, "sha256": self.sha256}
        if self.path == STDIN:
            out["stdin"] = True
        if self.collection:
            out["collection"] = self.collection
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "FileDigest":
        return cls(data["path"], data["bytes"], data["sha256"], data.get("collection"))


def digest(path: str, collection: str | None = None) -> FileDigest:
    """The size and sha256 of a file, read in blocks. A pipe or a device is not read (it could not be read
    again for the audit): its digest says so."""
    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            return FileDigest(path, None, None, collection)
        with open(path, "rb") as fh:
            sha = hashlib.file_digest(fh, "sha256").hexdigest()
            return FileDigest(path, fh.tell(), sha, collection)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None


class StdinTally(io.RawIOBase):
    """Counts and hashes the bytes of a stream as they are read from it."""

    def __init__(self, source: BinaryIO):
        super().__init__()
        self._read = getattr(source, "read1", source.read)
        self._sha = hashlib.sha256()
        self.bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = self._read(len(buffer))
        n = len(data)
        buffer[:n] = data
        self._sha.update(data)
        self.bytes += n
        return n

    def digest(self) -> FileDigest:
        return FileDigest(STDIN, self.bytes, self._sha.hexdigest())


@contextmanager
def tallied_stdin() -> Iterator[StdinTally]:
    """For the command line: ``sys.stdin`` counted and hashed while the audit reads it (the readers read
    ``sys.stdin.buffer``), restored after."""
    saved = sys.stdin
    tally = StdinTally(saved.buffer)
    sys.stdin = io.TextIOWrapper(io.BufferedReader(tally), encoding=saved.encoding or "utf-8")
    try:
        yield tally
    finally:
        sys.stdin = saved


@dataclass(frozen=True, slots=True)
class Param:
    """A parameter's value as given (config, ``--set``: text) or as the pack declares it (its default)."""

    name: str
    value: Any
    source: str  # default, config or --set

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "value": self.value, "source": self.source}


def params_of(pack: Pack, configured: Mapping[str, str], given: Mapping[str, str]) -> tuple[Param, ...]:
    """Every parameter of ``pack`` with where its value comes from: ``--set`` (``given``), else the config
    file (``configured``), else the pack's default."""
    out = []
    for name, spec in sorted(pack.param_specs.items()):
        if name in given:
            out.append(Param(name, given[name], "--set"))
        elif name in configured:
            out.append(Param(name, configured[name], "config"))
        else:
            out.append(Param(name, spec.default, "default"))
    return tuple(out)


def pack_file_paths(pack: Pack, paths: Iterable[str]) -> list[str]:
    """The files of a pack, as named in reports: its SOP files, and the input mappings (``NAME.input.yaml``)
    beside them, which ``--input-format NAME`` reads through."""
    dirs = [p if os.path.isdir(p) else os.path.dirname(p) or "." for p in paths]
    return [*pack.files, *(_display(str(f)) for f in mapping_files(dirs).values())]


def _display(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:  # another drive (Windows)
        return path


def changed_limits(limits: Limits) -> dict[str, int]:
    """The limits that differ from the defaults, by their command-line names (``--max NAME=N``)."""
    return {name: getattr(limits, name.replace("-", "_")) for name in Limits.names()
            if getattr(limits, name.replace("-", "_")) != getattr(DEFAULT, name.replace("-", "_"))}


def named_pack_path(path: str) -> str:
    """A pack path as the report names it: ``bundled`` for the demo pack, which moves with the install."""
    return BUNDLED if path == str(bundled_pack_dir()) else path


@dataclass(frozen=True)
class Provenance:
    """What produced one audit (see the module's docstring)."""

    tool: str  # sopengine's version
    engine: str
    pack_name: str
    pack_version: str | None
    pack_paths: tuple[str, ...]
    pack_files: tuple[FileDigest, ...]
    params: tuple[Param, ...]
    facts: tuple[FileDigest, ...]
    inputs: tuple[FileDigest, ...]
    input_format: str = "auto"
    mapping: FileDigest | None = None  # --mapping
    options: Mapping[str, str] = field(default_factory=dict)  # --csv-delimiter, --encoding, --time-format, ...
    limits: Mapping[str, int] = field(default_factory=dict)  # --max NAME=N other than the defaults
    as_of: float | None = None
    as_of_chosen: str = "latest event"  # or given (--as-of)

    def files(self) -> list[FileDigest]:
        """Every file the audit read."""
        return [*self.pack_files, *self.facts, *self.inputs, *([self.mapping] if self.mapping else [])]

    def to_json(self) -> dict[str, Any]:
        return {
            "tool": {"name": "sopengine", "version": self.tool},
            "engine": self.engine,
            "pack": {"name": self.pack_name, "version": self.pack_version, "paths": list(self.pack_paths),
                     "files": [f.to_json() for f in self.pack_files]},
            "params": [p.to_json() for p in self.params],
            "facts": [f.to_json() for f in self.facts],
            "inputs": {"files": [f.to_json() for f in self.inputs], "format": self.input_format,
                       "mapping": self.mapping.to_json() if self.mapping else None, "options": dict(self.options)},
            "limits": dict(self.limits),
            "as_of": {"time": format_time(self.as_of), "chosen": self.as_of_chosen},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "Provenance":
        """The provenance of a report (checked against the audit output schema first)."""
        inputs = data["inputs"]
        return cls(
            tool=data["tool"]["version"], engine=data["engine"], pack_name=data["pack"]["name"],
            pack_version=data["pack"]["version"],
            pack_paths=tuple(data["pack"]["paths"]),
            pack_files=tuple(FileDigest.from_json(f) for f in data["pack"]["files"]),
            params=tuple(Param(p["name"], p["value"], p["source"]) for p in data["params"]),
            facts=tuple(FileDigest.from_json(f) for f in data["facts"]),
            inputs=tuple(FileDigest.from_json(f) for f in inputs["files"]), input_format=inputs["format"],
            mapping=FileDigest.from_json(inputs["mapping"]) if inputs["mapping"] else None,
            options=dict(inputs["options"]), limits=dict(data["limits"]),
            as_of=parse_time(data["as_of"]["time"]) if data["as_of"]["time"] else None,
            as_of_chosen=data["as_of"]["chosen"])

    def items(self, defaults: bool = True) -> list[tuple[str, str]]:
        """(name, value) pairs for people and for formats of flat properties (text, markdown, HTML, JUnit);
        ``defaults=False`` counts the parameters left at the pack's defaults instead of listing them."""
        version = f" {self.pack_version}" if self.pack_version else ""
        out = [("sopengine", self.tool), ("engine", self.engine),
               ("as-of", f"{format_time(self.as_of) or '(no events)'} ({self.as_of_chosen})"),
               ("pack", f"{self.pack_name}{version} from {', '.join(self.pack_paths)}")]
        out += [(f"pack file {f.path}", f.describe()) for f in self.pack_files]
        out += [(f"param {p.name}", f"{_text(p.value)} ({p.source})") for p in self.params
                if defaults or p.source != "default"]
        if not defaults:
            out.append(("params at the pack's defaults", str(sum(p.source == "default" for p in self.params))))
        out += [(f"facts {f.argument}", f.describe()) for f in self.facts]
        out += [(f"input {f.path}", f.describe()) for f in self.inputs]
        if self.input_format != "auto":
            out.append(("input format", self.input_format))
        if self.mapping:
            out.append((f"mapping {self.mapping.path}", self.mapping.describe()))
        out += [(f"option {k}", v) for k, v in self.options.items()]
        out += [(f"limit {k}", str(v)) for k, v in self.limits.items()]
        return out


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


__all__ = ["FileDigest", "Param", "Provenance", "StdinTally", "changed_limits", "digest", "named_pack_path",
           "pack_file_paths", "params_of", "tallied_stdin"]
