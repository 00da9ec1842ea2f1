"""Command line: a thin adapter over the library. ``main`` is the only place that exits."""

from __future__ import annotations

import contextlib
import csv
import io
import os
import re
import sys
import tempfile
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

import click
import orjson
from click.core import ParameterSource

from . import __version__, textsafe
from .adapters import InputSpec
from .audit import audit, audit_paths, facts_file, load_facts, read_records, reread_timelines
from .errors import InputError, Interrupted, PackError, SopengineError, UsageError, did_you_mean
from .findings import AuditResult, WorkItem, cell
from .config import Config, find_config, pack_paths
from .events import LineCounter
from .impact import as_version, compare
from .limits import DEFAULT as DEFAULT_LIMITS, Limits
from .native import resident_cases
from .lint import lint as run_lint
from .model import Effective, Pack, Rule
from .rulebase import public_rule
from .pack import load_pack
from .parallel import audit_parallel, tune_gc
from .progress import Progress, total_bytes, wanted
from .provenance import (STDIN, Provenance, changed_limits, digest, named_pack_path, pack_file_paths, params_of,
                         tallied_stdin)
from .reporters import REPORTERS, HtmlReporter, JsonReporter, Reporter, TextReporter
from .verdict import DEFAULT_MAX_REJECTED, input_problem
from .reproduce import changed_files, differences, load_report, new_pack_files
from .scenarios import run_tests
from .serve.command import serve as serve_command
from .timeutil import TimeFormatError, format_due, format_duration, format_time, parse_time

F = TypeVar("F", bound=Callable[..., Any])
_SEVERITY_RANK = {"info": 0, "warning": 1, "error": 2}


def _errors_to_exits(func: F) -> F:
    @wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except SopengineError as exc:
            click.echo(textsafe.lines((f"sopengine: {exc}" if not isinstance(exc, PackError) else str(exc))
                                      .split("\n")), nl=False, err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("sopengine: interrupted", err=True)
            sys.exit(130)
    return wrapper  # type: ignore[return-value]


def _parse_sets(values: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in values:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise UsageError(f"--set expects NAME=VALUE, got {item!r}")
        out[name.strip()] = value
    return out


_INPUTS_KEY = "sopengine.inputs"


def _reading(*groups: Sequence[str]) -> None:
    """Note the files this command reads, so that no output is written over one of them."""
    ctx = click.get_current_context(silent=True)
    if ctx is not None:
        ctx.meta[_INPUTS_KEY] = {os.path.realpath(facts_file(p)[1]) for group in groups for p in group
                                 if p and p != "-"}


def _write(text: str | Iterable[str], output: str | None) -> None:
    """Write to stdout, or to a file atomically (a temporary file renamed into place); ``text`` may come
    in pieces, written as they are made.

    Only a regular file (or a new one) is replaced that way; a device or a pipe
    (/dev/null, /dev/stdout, a FIFO) is written in place, never replaced. A file the
    command reads, or a read-only one, is never replaced; the temporary file is removed
    whatever happens (a failed write, Ctrl-C).
    """
    pieces = [text] if isinstance(text, str) else text
    if not output or output == "-":
        for piece in pieces:
            click.echo(piece, nl=False)
        return
    target = Path(output)
    ctx = click.get_current_context(silent=True)
    if ctx is not None and os.path.realpath(target) in ctx.meta.get(_INPUTS_KEY, ()):
        raise UsageError(f"cannot write {output}: it is one of the files this command reads")
    try:
        if target.exists() and not target.is_file():
            with open(target, "w", encoding="utf-8") as fh:
                fh.writelines(pieces)
            return
        if target.exists() and not target.stat().st_mode & 0o222:  # root may write anything: ask the mode
            raise UsageError(f"cannot write {output}: the file is read-only")
        target.parent.mkdir(parents=True, exist_ok=True)
        umask = os.umask(0)
        os.umask(umask)
        mode = target.stat().st_mode & 0o7777 if target.exists() else 0o666 & ~umask  # as open() would
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        try:
            os.fchmod(fd, mode)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.writelines(pieces)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None


FORMATS = tuple(REPORTERS)


def _output_options(func: F) -> F:
    """--format (repeatable) with --output, and --output-FMT per format, as Spectral does."""
    for fmt in reversed(FORMATS):
        func = click.option(f"--output-{fmt}", f"output_{fmt}", metavar="FILE",
                            help=f"Write the {fmt} output to FILE.")(func)
    func = click.option("--output", "-o", metavar="FILE",
                        help="Write the output to FILE (atomically) instead of stdout (one --format).")(func)
    func = click.option("--format", "formats", multiple=True, type=click.Choice(FORMATS),
                        help="Output format, repeatable: text (default), json, junit, sarif, github, markdown, "
                             "codequality (GitLab); "
                             "html (audit only: a self-contained report with charts and case timelines).")(func)
    return func


def _emit(formats: Sequence[str], output: str | None, per_format: dict[str, str | None],
          render: Callable[[Reporter], str | Iterable[str]], text_reporter: TextReporter | None = None,
          reporters: dict[str, Reporter] | None = None) -> None:
    """Render each requested format and write it to its file, or to stdout (at most one)."""
    chosen = list(dict.fromkeys(formats or [f for f in FORMATS if per_format.get(f)] or ["text"]))
    if output and len(chosen) > 1:
        raise UsageError("--output takes one format; use --output-FMT for each of several formats")
    to_stdout = [f for f in chosen if not (per_format.get(f) or output)]
    if len(to_stdout) > 1:
        raise UsageError(f"only one format can go to stdout; give --output-FMT for: {', '.join(to_stdout[1:])}")
    for fmt in chosen:
        reporter = text_reporter if fmt == "text" and text_reporter is not None else \
            (reporters or {}).get(fmt) or REPORTERS[fmt]()
        _write(render(reporter), per_format.get(fmt) or output)


def _per_format(kwargs: dict[str, Any]) -> dict[str, str | None]:
    return {fmt: kwargs.pop(f"output_{fmt}") for fmt in FORMATS}


_QUIET_KEY = "sopengine.quiet"


def _set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    ctx.meta[_QUIET_KEY] = value


_quiet_option = click.option("--quiet", "-q", is_flag=True, expose_value=False, callback=_set_quiet,
                             help="Print nothing on success but the chosen format's own output (text: only "
                                  "findings and errors); no notices or tips on stderr. Exit codes are the same.")


def _quiet() -> bool:
    ctx = click.get_current_context(silent=True)
    return bool(ctx is not None and ctx.meta.get(_QUIET_KEY))


def _notice(text: str) -> None:
    """Say something on stderr that is neither a result nor an error (not with --quiet)."""
    if not _quiet():
        click.echo(f"sopengine: {text}", err=True)


def _pack_paths(given: Sequence[str]) -> list[str]:
    """The pack a command checks: given paths, else the project's config, else ./sops, else the bundled pack
    (said on stderr); see :mod:`sopengine.config`."""
    paths, notice = pack_paths(given, _config())
    ctx = click.get_current_context(silent=True)
    if notice and (ctx is None or not ctx.find_root().meta.get("sopengine.noticed")):
        _notice(notice)
        if ctx is not None:
            ctx.find_root().meta["sopengine.noticed"] = True
    return paths


def _config() -> Config | None:
    ctx = click.get_current_context(silent=True)
    if ctx is None:
        return find_config()
    root = ctx.find_root()
    if "sopengine.config" not in root.meta:
        root.meta["sopengine.config"] = find_config()
    found: Config | None = root.meta["sopengine.config"]
    return found


def _settings(sets: Sequence[str]) -> dict[str, str]:
    """Parameter values: the config's, then --set's."""
    config = _config()
    return {**(dict(config.params) if config else {}), **_parse_sets(sets)}


def _facts_files(given: Sequence[str]) -> list[str]:
    config = _config()
    return list(given) or (list(config.facts) if config else [])


def _load(sops: Sequence[str], sets: Sequence[str]) -> Pack:
    return load_pack(_pack_paths(sops), _settings(sets), _limits())


_LIMITS_KEY = "sopengine.limits"


def _set_limits(ctx: click.Context, _param: click.Parameter, values: Sequence[str]) -> None:
    try:
        ctx.meta[_LIMITS_KEY] = DEFAULT_LIMITS.with_settings(values)
    except UsageError as exc:
        raise click.BadParameter(str(exc).removeprefix("--max "), ctx, _param) from None


def _limits() -> Limits:
    """The limits given with --max to the running command (the defaults otherwise)."""
    ctx = click.get_current_context(silent=True)
    found = ctx.meta.get(_LIMITS_KEY) if ctx is not None else None
    return found if isinstance(found, Limits) else DEFAULT_LIMITS


def _max_option(func: F) -> F:
    defaults = ", ".join(f"{n}={getattr(DEFAULT_LIMITS, n.replace('-', '_')):_}" for n in Limits.names())
    return click.option("--max", multiple=True, metavar="NAME=N", expose_value=False, callback=_set_limits,
                        help=f"Raise or lower a size limit (repeatable). Defaults: {defaults}.")(func)


_READING_KEY = "sopengine.reading"


def _set_reading(ctx: click.Context, param: click.Parameter, value: str | bool | None) -> None:
    if isinstance(value, bool):  # a flag: recorded (as the provenance's options are text) when given
        value = "true" if value else None
    if value is not None and param.name:
        tab = param.name == "csv_delimiter" and value.lower() in ("tab", "\\t")
        ctx.meta.setdefault(_READING_KEY, {})[param.name] = "\t" if tab else value


def _reading_options() -> dict[str, str]:
    """--csv-delimiter, --encoding, --time-format and --timezone as given to the running command."""
    ctx = click.get_current_context(silent=True)
    return dict(ctx.meta.get(_READING_KEY, {})) if ctx is not None else {}


def _input_options(func: F) -> F:
    for name, metavar, text in reversed((
        ("--csv-delimiter", "CHAR", "CSV delimiter: , ; | or tab. Default: an Excel 'sep=' first line, else the "
                                    "one the header uses most."),
        ("--encoding", "NAME", "CSV encoding when the file has no byte-order mark (UTF-8 and UTF-16 files with "
                               "one are recognised), e.g. cp1252 for an Excel or older Windows export. "
                               "Default: utf-8."),
        ("--time-format", "FORMAT", "How the export writes times, as a strptime format, e.g. '%d/%m/%Y %H:%M' "
                                    "for a report's 27/11/2026 14:05. Default: RFC 3339. Inputs read through a "
                                    "mapping only (not canonical JSON Lines)."),
        ("--timezone", "ZONE", "IANA time zone (e.g. Europe/Berlin) of the export's times written without a "
                               "UTC offset (a report's local times). Default: such times are rejected. "
                               "Inputs read through a mapping only."),
        ("--case-type", "TYPE", "OCEL 2.0 logs: the object type whose objects are the cases (an event is in the "
                                "case of each related object of that type)."),
    )):
        func = click.option(name, name.lstrip("-").replace("-", "_"), metavar=metavar, expose_value=False,
                            callback=_set_reading, help=text)(func)
    func = click.option("--lenient-data", "lenient_data", is_flag=True, expose_value=False, callback=_set_reading,
                        help="Keep events whose data breaks the pack's declaration of its fields (a value of "
                             "another type, or not one of the allowed values), counting a warning per field, "
                             "instead of rejecting them.")(func)
    func = click.option("--cases-complete", "cases_complete", is_flag=True, expose_value=False,
                        callback=_set_reading,
                        help="The log is finished: every case ended at its last event, so an obligation still "
                             "open there (a response with no deadline, one not yet due) is a violation, not a "
                             "next action (Declare's reading of a historical log).")(func)
    func = click.option("--mapping", "mapping", metavar="FILE", type=click.Path(),
                        help="Input mapping (YAML) from the export's records to events; see docs/inputs.md.")(func)
    func = click.option("--input-format", "input_format", default="auto", show_default=True, metavar="FORMAT",
                        help="jsonl, json, csv, parquet, xes, ocel, or the name of an input mapping shipped beside "
                             "the pack (NAME.input.yaml; the bundled pack has two CRM exports). auto: by file "
                             "extension (.jsonl, .json, .csv, .parquet, .xes, .jsonocel, .sqlite; .gz too).")(func)
    return func


def _inputs(input_format: str, mapping: str | None, sops: Sequence[str]) -> InputSpec:
    reading = _reading_options()
    return InputSpec(input_format, mapping, tuple(sops), _limits(), csv_delimiter=reading.get("csv_delimiter"),
                     encoding=reading.get("encoding"), time_format=reading.get("time_format"),
                     timezone=reading.get("timezone"), lenient_data=reading.get("lenient_data") == "true",
                     cases_complete=reading.get("cases_complete") == "true", case_type=reading.get("case_type"))


_sops_option = click.option("--sops", "sops", multiple=True, type=click.Path(),
                            help="SOP pack file or directory (repeatable); 'bundled' is the demo pack. Default: "
                                 "sopengine.yaml's or pyproject.toml's [tool.sopengine] sops, else ./sops, else "
                                 "the demo pack (said on stderr).")
_set_option = click.option("--set", "sets", multiple=True, metavar="NAME=VALUE",
                           help="Override a pack parameter (repeatable), e.g. --set reopen_window=12h.")
_facts_option = click.option("--facts", "facts_files", multiple=True, type=click.Path(), metavar="[NAME=]FILE",
                             help="Facts file (repeatable): YAML, JSON, or CSV holding the collection NAME.")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="sopengine")
def cli() -> None:
    """Check support cases against SOPs written as YAML rule packs.

    \b
    sopengine validate sops/            check SOP files (schema, names, expressions)
    sopengine rules                     list the rules of the bundled pack
    sopengine audit log.jsonl           audit an event log against the bundled pack
    sopengine next log.jsonl            what the SOPs require now (the worklist)
    sopengine explain CASE log.jsonl    one case's timeline: what each rule did and why
    sopengine serve --db state.db       the live service: events in, worklist and findings out

    Exit codes: 0 clean, 1 findings (violations at or above --fail-on, invalid SOP
    files, lint errors, failed SOP tests), 2 bad usage or unreadable input.
    """


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path())
@_set_option
@_max_option
@_quiet_option
@_errors_to_exits
def validate(paths: tuple[str, ...], sets: tuple[str, ...]) -> None:
    """Check SOP files: YAML syntax, the JSON Schema, and every name and expression.

    PATHS are files or directories (default: the project's pack; see --sops). Every problem is
    listed with file:line:column; exit 1 when there is any.
    """
    try:
        pack = _load(paths, sets)
    except PackError as exc:
        for d in exc.diagnostics:
            click.echo(textsafe.line(str(d)))
        if not _quiet():
            click.echo(f"{len(exc.diagnostics)} problem(s) found", err=True)
        sys.exit(1)
    if _quiet():
        return
    click.echo(f"ok: {len(pack.files)} file(s), {len(pack.sops)} SOP(s), {len(pack.rules)} rule(s), "
               f"{len(pack.events)} event type(s)")
    for c in pack.conflicts:
        click.echo(textsafe.line(f"note: conflict '{c.id}' between {', '.join(c.rules)} is resolved by "
                                 f"{c.resolved_by(pack.params)}"))


@cli.command()
@_sops_option
@_set_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_max_option
@_errors_to_exits
def rules(sops: tuple[str, ...], sets: tuple[str, ...], fmt: str) -> None:
    """List the rules of a pack with their ids, severities and sources."""
    pack = _load(sops, sets)
    if fmt == "json":
        items = []
        for r in (*pack.rules, *pack.disabled):
            item: dict[str, Any] = {
                "id": r.public_id, "sop": r.sop, **_version_of(r), "kind": r.kind, "severity": r.severity,
                "description": r.description, "source": {"document": r.source.document, "step": r.source.step},
                "location": str(r.location),
            }
            if r.source.quote:
                item["source"]["quote"] = r.source.quote
            conflicts = [c.id for c in pack.conflicts if r.id in c.rules or r.public_id in c.rules]
            if conflicts:
                item["conflicts"] = conflicts
            if r.disabled:
                item["disabled"] = r.disabled
            items.append(item)
        click.echo(orjson.dumps(items, option=orjson.OPT_INDENT_2).decode())
        return
    current: tuple[str, str | None] | None = None
    for r in pack.rules:
        if (r.sop, r.version) != current:
            current = (r.sop, r.version)
            sop = pack.sops[r.sop]
            click.echo("\n" + textsafe.line(f"{sop.id}: {sop.title}  ({sop.document})" + (
                "" if r.effective is None else f"  version {r.version}, in force {_in_force(r.effective)}")))
        at_event = "  (version in force at each event)" if r.effective is not None and r.effective.at_event else ""
        click.echo(textsafe.line(f"  {r.public_id:<50} {r.severity:<8} {r.kind}{at_event}"))
        click.echo(textsafe.line(f"      {r.source.document}, {r.source.step}"))
    for r in pack.disabled:
        click.echo("\n" + textsafe.line(f"disabled: {r.id}: {r.disabled}"))
    for c in pack.conflicts:
        click.echo("\n" + textsafe.line(f"conflict {c.id}: {', '.join(c.rules)}"))
        if c.param:
            click.echo(textsafe.line(f"  resolved by {c.resolved_by(pack.params)} (pack default {c.choice!r})"))
        click.echo(textsafe.line(f"  {c.reason}"))
    click.echo(f"\n{len(pack.rules)} rule(s) in {len(pack.sops)} SOP(s)")


def _version_of(rule: Rule) -> dict[str, Any]:
    """A versioned rule's version and when it is in force, as ``rules --format json`` lists them."""
    eff = rule.effective
    if eff is None:
        return {}
    return {"version": rule.version, "effective": {"from": format_time(eff.start), "until": format_time(eff.end)},
            "effective_at": "event" if eff.at_event else "case"}


def _in_force(eff: Effective) -> str:
    return f"from {format_time(eff.start)}" + (f" until {format_time(eff.end)}" if eff.end is not None else "")


@cli.command(name="params")
@_sops_option
@_set_option
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@_max_option
@_errors_to_exits
def params_cmd(sops: tuple[str, ...], sets: tuple[str, ...], fmt: str) -> None:
    """List the pack's parameters: type, allowed values, default, the value in force and where it comes from
    (default, the config file, or --set)."""
    pack = _load(sops, sets)
    config = _config()
    items = []
    for param in params_of(pack, config.params if config else {}, _parse_sets(sets)):
        spec = pack.param_specs[param.name]
        item: dict[str, Any] = {"name": param.name, "type": spec.type, "default": spec.default,
                                "value": pack.params.get(param.name), "source": param.source,
                                "description": spec.description, "location": str(spec.location)}
        if spec.enum is not None:
            item["allowed"] = list(spec.enum)
        items.append(item)
    if fmt == "json":
        click.echo(orjson.dumps(items, option=orjson.OPT_INDENT_2, default=list).decode())
        return
    for item in items:
        allowed = f" (one of {', '.join(map(str, item['allowed']))})" if "allowed" in item else ""
        origin = item["source"] if item["source"] == "default" else f"{item['source']}; default {item['default']!r}"
        value = format_duration(item["value"]) if item["type"] == "duration" and item["value"] is not None \
            else repr(item["value"])
        click.echo(textsafe.line(f"{item['name']}  {item['type']}{allowed} = {value}  [{origin}]"))
        if item["description"]:
            click.echo(textsafe.line(f"    {item['description']}"))


@cli.command(name="audit")
@click.argument("logs", nargs=-1, type=click.Path())
@_sops_option
@_input_options
@click.option("--facts", "facts_files", multiple=True, type=click.Path(), metavar="[NAME=]FILE",
              help="Facts file (repeatable): YAML or JSON, collection -> list of records with 'id'; or CSV "
                   "holding the collection NAME (default: the file's name, e.g. users.csv), such as a Data "
                   "Loader export of User (see docs/inputs.md).")
@_set_option
@click.option("--as-of", "as_of", metavar="TIME",
              help="Audit as of this RFC 3339 time: events after it are not evaluated (counted as skipped), "
                   "deadlines are judged at it. Default: the latest event time in the input.")
@_output_options
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default="error",
              show_default=True, help="Exit 1 when there is a violation of this severity or higher.")
@click.option("--strict", is_flag=True, help="Stop with exit 2 at the first rejected line.")
@click.option("--max-rejected", "max_rejected", default=DEFAULT_MAX_REJECTED, show_default=True, metavar="N|N%",
              help="Exit 2 (the input was not read well enough to judge) when more records than this are "
                   "rejected, and always when no record is an event.")
@click.option("--grouped", is_flag=True,
              help="The log keeps each case's events together: free each case as soon as the next starts.")
@click.option("--limit", default=10, show_default=True, help="Examples per rule in the text report.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Worker processes; cases are shared out among them and the findings are the same.")
@click.option("--progress/--no-progress", default=None,
              help="Progress bar on stderr (default: only on a terminal, never in CI or with --quiet).")
@click.option("--memory-budget", "memory_budget", type=click.IntRange(64, None), default=256, show_default=True,
              metavar="MB", help="Memory the native engine aims to stay within: past it, the cases not touched "
                                 "lately wait in a temporary file (findings are the same). The Python engine "
                                 "keeps every case in memory.")
@click.option("--engine", type=click.Choice(["auto", "native", "python", "local", "spark"]), default="auto",
              show_default=True,
              help="auto: the native core where it is built, else the Python reference evaluator (said on "
                   "stderr). native, python: that evaluator on this machine (local is auto). spark: Apache Spark "
                   "(pip install 'sopengine[spark]'; JSON Lines or Parquet paths Spark can read). "
                   "The findings are the same on every engine.")
@click.option("--master", default="local[2]", show_default=True, metavar="URL",
              help="With --engine spark: the Spark master (local[N], spark://HOST:PORT, yarn, ...). "
                   "Under spark-submit the session it made is used instead.")
@click.option("--explain", "explain_timelines", is_flag=True,
              help="With --format html: each case's timeline also shows, after each event, what every rule did "
                   "and why, as sopengine explain does (the logs are read again and evaluated on the Python "
                   "reference evaluator; not from stdin).")
@click.option("--reproduce", metavar="REPORT", type=click.Path(),
              help="Run again the audit a JSON report was made by (its provenance: pack, parameters, facts, logs, "
                   "as-of time, engine), from the directory it ran in. Every file must be as it was (else exit "
                   "2, naming the files); exit 0 when the findings are identical, 1 with a summary per rule "
                   "when they differ. Takes no LOGS and no options that change what is audited.")
@click.option("--conformance", metavar="FILE", type=click.Path(dir_okay=False),
              help="Also write Declare4Py's counts per case and declare rule to FILE (CSV: case, rule, "
                   "activations, fulfilments, violations, pendings, state), for the pairs activated; see "
                   "docs/process-mining.md. Runs one process (not --jobs workers, not on Spark).")
@_max_option
@_quiet_option
@_errors_to_exits
def audit_cmd(logs: tuple[str, ...], sops: tuple[str, ...], input_format: str, mapping: str | None,
              facts_files: tuple[str, ...], sets: tuple[str, ...], as_of: str | None, formats: tuple[str, ...],
              output: str | None, fail_on: str, strict: bool, max_rejected: str, grouped: bool, limit: int, jobs: int,
              progress: bool | None, memory_budget: int, engine: str, master: str, explain_timelines: bool,
              reproduce: str | None, conformance: str | None, **kwargs: Any) -> None:
    """Audit event logs against a pack: JSON Lines (- for stdin), or exports read
    through an input mapping (CSV, Parquet, JSON, XES, the pack's CRM exports); .gz too.

    Prints violations (with the ids of the events that show them), next actions
    (what each SOP now requires, by when), checks that could not be decided
    (a fact was missing), and every rejected line with its file and line. Every
    format says what produced it (provenance): the pack and the hash of each file
    read, the parameters, the as-of time and the engine.
    """
    per_format = _per_format(kwargs)
    how = _How(strict=strict, grouped=grouped, jobs=jobs, progress=False if progress is None and _quiet() else progress,
               memory_budget=memory_budget, master=master)
    if reproduce:
        _reproduce(reproduce, how)
        return
    if not logs:
        raise UsageError("audit needs the LOGS to read (or --reproduce REPORT)")
    config = _config()
    target = _Target(logs, tuple(_pack_paths(sops)), dict(config.params) if config else {}, _parse_sets(sets),
                     tuple(_facts_files(facts_files)), _parse_as_of(as_of), input_format, mapping, engine)
    html = "html" in formats or bool(per_format.get("html"))
    result, pack, facts = _audit(target, how, timelines=sys.maxsize if html else 0,  # HTML: every case
                                 held_by_case=conformance is not None)
    result.input_problem = input_problem(result, max_rejected)
    if conformance is not None:
        _write_conformance(conformance, result, pack, _reading_options().get("cases_complete") == "true")
    explained = _explain_timelines(target, result, pack, facts) if html and explain_timelines else {}
    _emit(formats, output, per_format, lambda r: r.audit_chunks(result, pack) if isinstance(r, JsonReporter)
          else r.audit(result, pack), TextReporter(per_rule=limit, quiet=_quiet()),
          {"html": HtmlReporter(facts, explained)})
    if result.input_problem:
        raise InputError(f"input not read: {result.input_problem}")
    if result.grouped_input and not grouped and result.events >= 100_000:
        _notice("tip: this log keeps each case's events together; --grouped frees each case as soon as the "
                "next starts, so memory stays flat")
    if fail_on != "never":
        threshold = _SEVERITY_RANK[fail_on]
        if any(_SEVERITY_RANK.get(severity, 2) >= threshold for severity in result.severity_counts()):
            sys.exit(1)


def _write_conformance(path: str, result: AuditResult, pack: Pack, complete: bool) -> None:
    """--conformance: Declare4Py's counts per case and declare rule, as CSV."""
    import csv

    from .frames import CONSTRAINT_COLUMNS, constraint_counts

    rows = constraint_counts(result, None, [r.id for r in pack.rules if r.kind == "declare"], complete)
    try:
        with open(path, "w", encoding="utf-8", newline="") as fh:
            writer = csv.DictWriter(fh, CONSTRAINT_COLUMNS)
            writer.writeheader()
            writer.writerows(rows)
    except OSError as exc:
        raise InputError(f"--conformance {path}: cannot write ({exc.strerror or exc})") from None


def _explain_timelines(target: "_Target", result: AuditResult, pack: Pack, facts: dict[str, Any]
                       ) -> Mapping[str, Any]:
    """--explain: the cases whose timelines the HTML report shows, explained in one more read of the logs."""
    from .explain import explain_cases

    if STDIN in target.logs:
        raise UsageError("--explain reads the logs again, which stdin cannot be: give the log as a file")
    inputs = _inputs(target.input_format, target.mapping, target.pack_paths).with_facts(facts)
    return explain_cases(pack, read_records(pack, target.logs, inputs=inputs), list(result.timelines), facts,
                         result.as_of, limits=inputs.limits, lenient_data=inputs.lenient_data,
                         cases_complete=inputs.cases_complete)


def _parallel(engine: str, logs: Sequence[str], inputs: InputSpec) -> bool:
    """Whether --jobs runs workers: always on the Python engine; on the native one for JSON Lines files
    (else one process, said on stderr)."""
    from .adapters import plain_jsonl

    if engine == "python" or plain_jsonl(list(logs), inputs):
        return True
    _notice("--jobs: the native engine runs one process for inputs read through a mapping; same findings")
    return False


@dataclass(frozen=True)
class _Target:
    """What an audit reads, and how: from the command line, or from a report's provenance (--reproduce)."""

    logs: Sequence[str]
    pack_paths: Sequence[str]
    configured: Mapping[str, str]  # parameter values of the config file
    given: Mapping[str, str]  # --set
    facts_files: Sequence[str]
    as_of: float | None
    input_format: str
    mapping: str | None
    engine: str


@dataclass(frozen=True)
class _How:
    """How to run it: none of these changes the findings."""

    strict: bool = False
    grouped: bool = False
    jobs: int = 1
    progress: bool | None = None
    memory_budget: int = 256
    master: str = "local[2]"


def _audit(target: _Target, how: _How, *, timelines: int = 0, recorded: Provenance | None = None,
           held_by_case: bool = False) -> tuple[AuditResult, Pack, dict[str, Any]]:
    """Run an audit on the engine asked for; the result carries its provenance. ``recorded``: the provenance
    of the report being reproduced, whose pack must have the same files (their contents were checked).
    ``held_by_case``: keep Declare's counts per case (:attr:`AuditResult.held`), in one process."""
    logs, params = list(target.logs), {**target.configured, **target.given}
    pack = load_pack(target.pack_paths, params, _limits())
    pack_files = pack_file_paths(pack, target.pack_paths)
    if recorded is not None and (added := new_pack_files(recorded, pack_files)):
        raise InputError("cannot reproduce: the pack has other files now\n" + "\n".join(f"  {a}" for a in added))
    _reading(logs, target.facts_files, pack.files, [target.mapping or ""])
    inputs = _inputs(target.input_format, target.mapping, target.pack_paths)
    facts = load_facts(target.facts_files, inputs=inputs, pack=pack)
    inputs = inputs.with_facts(facts)
    tune_gc()
    spark = target.engine == "spark"
    if held_by_case and spark:
        raise UsageError("--conformance: the counts per case are made in one process; not with --engine spark")
    local = "spark" if spark else _engine(target.engine, jobs=how.jobs)
    with Progress(wanted(how.progress) and not spark, total_bytes(logs)) as bar, \
            (tallied_stdin() if STDIN in logs else contextlib.nullcontext()) as stdin:
        try:
            if spark:
                result = _audit_on_spark(logs, target.pack_paths, params, target.input_format, target.mapping,
                                         facts, target.as_of, how.strict, how.master)
                if timelines:  # Spark's executors keep no events: those of the cases with findings are read again
                    reread_timelines(pack, list(logs), result, timelines, inputs)
            elif how.jobs > 1 and not held_by_case and _parallel(local, logs, inputs) and \
                    _rereadable(logs, how.jobs):
                result = audit_parallel(pack, (list(target.pack_paths), params), logs, facts, target.as_of,
                                        how.jobs, strict=how.strict, grouped=how.grouped, on_progress=bar.advance,
                                        inputs=inputs, timelines=timelines, engine=local,
                                        resident_cases=resident_cases(how.memory_budget) // how.jobs)
            else:
                result = audit_paths(pack, logs, facts, target.as_of, strict=how.strict, grouped=how.grouped,
                                     inputs=inputs, counter=LineCounter(bar.advance), timelines=timelines,
                                     engine=local, resident_cases=resident_cases(how.memory_budget),
                                     held_by_case=held_by_case)
        except KeyboardInterrupt:
            raise Interrupted(f"interrupted {bar.how_far()}; no report was written") from None
    reading = _reading_options()
    result.provenance = Provenance(
        tool=__version__, engine=local, pack_name=pack.name, pack_version=pack.version,
        pack_paths=tuple(named_pack_path(p) for p in target.pack_paths),
        pack_files=tuple(digest(f) for f in pack_files),
        params=params_of(pack, target.configured, target.given),
        facts=tuple(digest(path, name) for name, path in map(facts_file, target.facts_files)),
        inputs=tuple(stdin.digest() if p == STDIN and stdin else digest(p) for p in logs),
        input_format=target.input_format, mapping=digest(target.mapping) if target.mapping else None,
        options={k: reading[k] for k in sorted(reading)}, limits=changed_limits(_limits()),
        as_of=result.as_of, as_of_chosen="given" if target.as_of is not None else "latest event")
    return result, pack, facts


def _reproduce(report: str, how: _How) -> None:
    """--reproduce: check the files a report names, run its audit again, and say whether the findings are the
    same (exit 0) or how they differ (exit 1)."""
    ctx = click.get_current_context()
    fixed = [p.opts[0] if isinstance(p, click.Option) else "LOGS" for p in ctx.command.params
             if p.name not in _HOW_OPTIONS and ctx.get_parameter_source(p.name or "") is not ParameterSource.DEFAULT]
    if fixed:
        raise UsageError(f"--reproduce takes what to audit from the report and says whether the findings are "
                         f"the same; drop {', '.join(fixed)}")
    doc, recorded = load_report(report)
    changed = changed_files(recorded)
    if changed:
        raise InputError(f"cannot reproduce {report}: its files are not as they were\n"
                         + "\n".join(f"  {c}" for c in changed))
    ctx.meta[_READING_KEY] = dict(recorded.options)
    ctx.meta[_LIMITS_KEY] = DEFAULT_LIMITS.with_settings(f"{k}={v}" for k, v in recorded.limits.items())
    target = _Target(
        [f.path for f in recorded.inputs], pack_paths(list(recorded.pack_paths), None)[0],
        {p.name: str(p.value) for p in recorded.params if p.source == "config"},
        {p.name: str(p.value) for p in recorded.params if p.source == "--set"}, [f.argument for f in recorded.facts],
        recorded.as_of if recorded.as_of_chosen == "given" else None, recorded.input_format,
        recorded.mapping.path if recorded.mapping else None, recorded.engine)
    result, _, _ = _audit(target, how, recorded=recorded)
    found = differences(doc, result.to_json())
    made_by = "" if recorded.tool == __version__ else \
        f" (sopengine {recorded.tool} made the report; this is {__version__})"
    if not found:
        if _quiet():
            return
        s = result.summary()
        click.echo(textsafe.line(f"{report}: reproduced: the findings are identical ({s['violations']} "
                                 f"violation(s), {s['next_actions']} next action(s), {s['undecided']} undecided)"
                                 f"{made_by}"))
        return
    click.echo(textsafe.lines([f"{report}: the findings differ{made_by}:", *(f"  {line}" for line in found)]),
               nl=False)
    sys.exit(1)


_HOW_OPTIONS = {"reproduce", "quiet", *(f.name for f in fields(_How))}


def _rereadable(logs: Sequence[str], jobs: int) -> bool:
    """Whether every log can be read by each of the --jobs workers: regular files only (stdin, a pipe or a
    process substitution can be read once); says on stderr when it runs one process instead."""
    if all(log != "-" and os.path.isfile(log) for log in logs):
        return True
    _notice(f"--jobs {jobs}: an input is a pipe or stdin, which only one process can read; running one process")
    return False


def _engine(engine: str, *, jobs: int = 1) -> str:
    """The local evaluator to use; says on stderr when the native core is missing and none was named,
    and when --jobs is left to the native core's one process."""
    from .session import engine_name

    chosen = engine_name(engine)
    if chosen == "python" and engine in ("auto", "local"):
        _notice("the native core is not built here; using the Python reference evaluator (slower, same findings)")
    return chosen


def _audit_on_spark(logs: Sequence[str], pack_paths: Sequence[str], params: dict[str, str], input_format: str,
                    mapping: str | None, facts: dict[str, Any], as_of: float | None, strict: bool,
                    master: str) -> AuditResult:
    if mapping or input_format not in ("auto", "jsonl", "parquet") or strict or "-" in logs or \
            set(_reading_options()) - {"cases_complete"}:
        raise UsageError("--engine spark reads JSON Lines and Parquet files by path (no stdin, --mapping, other "
                         "--input-format, --strict, --csv-delimiter, --encoding, --time-format, --timezone or "
                         "--lenient-data); convert other exports with the local engine first")
    from .spark import audit_spark, local_session

    spark = local_session(master)
    try:
        return audit_spark(spark, list(logs), sops=list(pack_paths), params=params, facts=facts, as_of=as_of,
                           limits=_limits(), cases_complete=_reading_options().get("cases_complete") == "true"
                           ).result()
    finally:
        spark.stop()


@cli.command(name="next")
@click.argument("logs", nargs=-1, required=True, type=click.Path())
@_sops_option
@_input_options
@_facts_option
@_set_option
@click.option("--as-of", "as_of", metavar="TIME",
              help="The moment to list for (RFC 3339): events after it are not evaluated (counted as skipped), "
                   "as in audit. Default: now.")
@click.option("--sop", "sop_ids", multiple=True, help="Only these SOPs (repeatable).")
@click.option("--rule", "rule_ids", multiple=True, help="Only these rules, by id or short id (repeatable).")
@click.option("--where", "wheres", multiple=True, metavar="COLUMN=VALUE",
              help="Only items whose column has this value (repeatable); the pack names its columns.")
@click.option("--overdue", is_flag=True, help="Only overdue items.")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout.")
@_max_option
@_errors_to_exits
def next_cmd(logs: tuple[str, ...], sops: tuple[str, ...], input_format: str, mapping: str | None,
             facts_files: tuple[str, ...], sets: tuple[str, ...], as_of: str | None, sop_ids: tuple[str, ...],
             rule_ids: tuple[str, ...], wheres: tuple[str, ...], overdue: bool, fmt: str, output: str | None) -> None:
    """The worklist: what the SOPs require now, overdue first, then by due time.

    Every action still open at the as-of time (default: now, for live use; the
    output says which time it used), with its case, rule, due time and the
    columns the pack declares (pack.report.columns). Exit 0.
    """
    pack = _load(sops, sets)
    facts_files = tuple(_facts_files(facts_files))
    _reading(logs, facts_files, pack.files, [mapping or ""])
    inputs = _inputs(input_format, mapping, _pack_paths(sops))  # NAME.input.yaml beside the pack in use, as audit
    facts = load_facts(facts_files, inputs=inputs, pack=pack)
    inputs = inputs.with_facts(facts)
    when = _parse_as_of(as_of)
    if when is None:
        when = datetime.now(timezone.utc).timestamp()
    columns = list(pack.columns)
    filters = _parse_sets(wheres)
    unknown = [k for k in filters if k not in columns]
    if unknown:
        raise UsageError(f"--where: unknown column {unknown[0]!r}{did_you_mean(unknown[0], columns)}; "
                         f"columns: {', '.join(columns) or '(the pack declares none)'}")
    known_rules = {name for r in pack.rules for name in (r.id, r.public_id)}  # a versioned rule: every version
    wanted_rules = {r if "/" in r else next((k for k in known_rules if k.endswith("/" + r)), r) for r in rule_ids}
    for r in wanted_rules:
        if r not in known_rules:
            raise UsageError(f"--rule: unknown rule {r!r}{did_you_mean(r, known_rules)}")
    for sop in sop_ids:
        if sop not in pack.sops:
            raise UsageError(f"--sop: unknown SOP {sop!r}{did_you_mean(sop, pack.sops)}")
    records = read_records(pack, logs, inputs=inputs)
    result = audit(pack, records, facts, when, lenient_data=inputs.lenient_data, cases_complete=inputs.cases_complete)
    items = [w for w in result.work
             if (not sop_ids or w.rule.split("/")[0] in sop_ids)
             and (not wanted_rules or w.rule in wanted_rules or public_rule(w.rule)[0] in wanted_rules)
             and (not overdue or w.overdue)
             and all(str(dict(w.columns).get(k)) == v for k, v in filters.items())]
    _write(_render_work(items, columns, result, fmt, pack.versioned), output)


@cli.command(name="explain")
@click.argument("case")
@click.argument("logs", nargs=-1, required=True, type=click.Path())
@_sops_option
@_input_options
@_facts_option
@_set_option
@click.option("--as-of", "as_of", metavar="TIME",
              help="Explain as of this RFC 3339 time, as in audit: events after it are not evaluated, deadlines "
                   "are judged at it. Default: the latest event time in the input.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout.")
@_max_option
@_errors_to_exits
def explain_cmd(case: str, logs: tuple[str, ...], sops: tuple[str, ...], input_format: str, mapping: str | None,
                facts_files: tuple[str, ...], sets: tuple[str, ...], as_of: str | None, fmt: str,
                output: str | None) -> None:
    """Why the audit says what it says about one CASE of the LOGS.

    \b
    sopengine explain 00001004 examples/events.jsonl --facts examples/facts.yaml
    sopengine explain 00001004 examples/events.jsonl --facts examples/facts.yaml --format json

    The case's events in time order; after each, what every rule looked at did
    (held, violated, triggered an obligation, pending, undecided, not applicable)
    and why (the conditions it tested and their values), the state it changed
    and the clocks running (open obligations and broken conditions, with since,
    shown from and due). Then what was still open at the as-of time, judged as
    the audit judges it, the answers to the case's cross-case questions, and the
    case's findings, which are the audit's for the case. Reads the logs as audit
    does (same options) and evaluates them on the Python reference evaluator.
    Exit 0; 2 when the case has no event in the logs (or none up to --as-of).
    """
    from .explain import explain
    from .reporters.explain import text

    pack = _load(sops, sets)
    facts_files = tuple(_facts_files(facts_files))
    _reading(logs, facts_files, pack.files, [mapping or ""])
    inputs = _inputs(input_format, mapping, _pack_paths(sops))
    facts = load_facts(facts_files, inputs=inputs, pack=pack)
    inputs = inputs.with_facts(facts)
    x = explain(pack, read_records(pack, logs, inputs=inputs), case, facts, _parse_as_of(as_of),
                limits=inputs.limits, lenient_data=inputs.lenient_data, cases_complete=inputs.cases_complete)
    _write(orjson.dumps(x.to_json(), option=orjson.OPT_INDENT_2, default=str).decode() + "\n" if fmt == "json"
           else text(x), output)


def _render_work(items: Sequence[WorkItem], columns: list[str], result: AuditResult, fmt: str,
                 versioned: bool = False) -> str:
    if fmt == "json":
        doc = {"as_of": format_time(result.as_of), "summary": {**result.summary(), "items": len(items),
                                                               "overdue": sum(w.overdue for w in items),
                                                               "at_risk_items": sum(w.at_risk for w in items)},
               "items": [w.to_json() for w in items],
               "rejected": [r.to_json() for r in result.rejected],
               **({"rejected_more": [{"reason": k, "count": v} for k, v in result.rejected_more.items()]}
                  if result.rejected_more else {})}
        return orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(WorkItem.header(columns, versioned))
        writer.writerows(w.row(columns, versioned) for w in items)
        return buf.getvalue()
    lines = [f"Worklist as of {format_time(result.as_of)}: {len(items)} item(s), "
             f"{sum(w.overdue for w in items)} overdue, {sum(w.at_risk for w in items)} at risk"]
    for w in items:
        shown = "  ".join(f"{k}={cell(v)}" for k, v in w.columns if v not in (None, ""))
        flag = "OVERDUE " if w.overdue else "AT RISK " if w.at_risk else ""
        lines += ["", f"{flag}due {format_due(w.due, w.zone) or '(no deadline)'}  {w.case}  {w.rule}"]
        lines.append(f"    {w.action}")
        if shown:
            lines.append(f"    {shown}")
    if result.rejected:
        lines += ["", f"{result.rejected_count} rejected record(s); see --format json"]
    return textsafe.lines(lines)


def _parse_as_of(as_of: str | None) -> float | None:
    if not as_of:
        return None
    try:
        return parse_time(as_of)
    except TimeFormatError as exc:
        raise UsageError(f"--as-of: {exc}") from None


@cli.command(name="lint")
@click.argument("paths", nargs=-1, type=click.Path())
@_set_option
@_output_options
@click.option("--fail-on", type=click.Choice(["error", "warning", "info", "never"]), default="error",
              show_default=True, help="Exit 1 when there is an unsuppressed finding of this severity or higher.")
@_max_option
@_quiet_option
@_errors_to_exits
def lint_cmd(paths: tuple[str, ...], sets: tuple[str, ...], formats: tuple[str, ...], output: str | None,
             fail_on: str, **kwargs: Any) -> None:
    """Check SOP files: YAML, schema, names and expressions, and semantic checks.

    Semantic checks: unused declarations, conditions that never or always hold,
    an event both required and forbidden, conflicts between SOPs, disabled rules.
    Every finding has a stable code, file:line:column and a suggested fix.
    Suppress one only in the YAML, with a reason:
    suppress: [{code: unused-param, target: my_param, reason: "kept for ..."}].
    """
    per_format = _per_format(kwargs)
    report = run_lint(_pack_paths(paths), _settings(sets), _limits())
    _emit(formats, output, per_format, lambda r: r.lint(report), TextReporter(quiet=_quiet()))
    if report.failed(fail_on):
        sys.exit(1)


@cli.command(name="test")
@click.argument("paths", nargs=-1, type=click.Path())
@_output_options
@click.option("--coverage", is_flag=True, help="Show which rules the scenarios show firing and staying silent.")
@click.option("--threshold", type=click.FloatRange(0, 100), default=None, metavar="PERCENT",
              help="Fail when fewer than PERCENT of the rules are shown both firing and silent.")
@_max_option
@_quiet_option
@_errors_to_exits
def test_cmd(paths: tuple[str, ...], formats: tuple[str, ...], output: str | None, coverage: bool,
             threshold: float | None, **kwargs: Any) -> None:
    """Run the SOPs' scenario tests (*.test.yaml beside SOP files, or tests: inside them).

    Each scenario gives events and the findings it expects; a failing scenario
    shows the difference. Exit 1 when a scenario fails, when the pack does not
    load (its problems are listed as failures, in every format), or when coverage
    is below --threshold; exit 2 on bad usage.
    """
    per_format = _per_format(kwargs)
    report = run_tests(_pack_paths(paths), _limits())
    _emit(formats, output, per_format, lambda r: r.test(report),
          TextReporter(coverage=coverage or (threshold is not None and not _quiet()), quiet=_quiet()))
    if report.failed or (threshold is not None and report.percent < threshold):
        if threshold is not None and report.percent < threshold:
            click.echo(f"sopengine: coverage {report.percent:.1f}% is below the threshold {threshold:g}%", err=True)
        sys.exit(1)


@cli.command(name="diff")
@click.argument("old_path", type=click.Path())
@click.argument("new_path", type=click.Path(), required=False)
@click.option("--sop-versions", "sop_versions", nargs=3, metavar="SOP OLD NEW",
              help="Compare two versions of a versioned SOP of the one pack OLD_PATH (no NEW_PATH): each case of "
                   "the log judged by version OLD, then by version NEW, whatever their effective dates.")
@click.option("--log", "logs", multiple=True, required=True, type=click.Path(),
              help="Historical event log to replay (repeatable).")
@_input_options
@_facts_option
@_set_option
@click.option("--as-of", "as_of", metavar="TIME",
              help="As-of time for both runs, as in audit (default: the latest event time).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write the report to FILE instead of stdout.")
@_max_option
@_errors_to_exits
def diff_cmd(old_path: str, new_path: str | None, sop_versions: tuple[str, str, str] | None, logs: tuple[str, ...],
             input_format: str, mapping: str | None, facts_files: tuple[str, ...],
             sets: tuple[str, ...], as_of: str | None, fmt: str, output: str | None) -> None:
    """What an SOP edit would have changed: audit LOG with OLD_PATH and NEW_PATH packs and compare; or with
    --sop-versions, two versions of a SOP of the pack OLD_PATH.

    Lists, per rule and case, the findings that appear, disappear, or change
    (time, deadline or text). Exit 1 when anything changes, 0 when nothing does.
    """
    if (new_path is None) == (not sop_versions):
        raise UsageError("give two packs (OLD_PATH NEW_PATH), or one pack and --sop-versions SOP OLD NEW")
    params = _parse_sets(sets)
    if sop_versions:
        _reading(logs, facts_files, [old_path], [mapping or ""])
        pack = load_pack([old_path], params, _limits())
        sop, old_version, new_version = sop_versions
        try:
            old_pack, new_pack = as_version(pack, sop, old_version), as_version(pack, sop, new_version)
        except ValueError as exc:
            raise UsageError(f"--sop-versions: {exc}") from None
        new_path = old_path
    else:
        assert new_path is not None
        _reading(logs, facts_files, [old_path, new_path], [mapping or ""])
        old_pack, new_pack = load_pack([old_path], params, _limits()), load_pack([new_path], params, _limits())
    inputs = _inputs(input_format, mapping, [old_path])
    facts = load_facts(facts_files, inputs=inputs, pack=new_pack)
    inputs = inputs.with_facts(facts)
    as_of_time = _parse_as_of(as_of)
    old = audit_paths(old_pack, list(logs), facts, as_of_time, inputs=inputs)
    new_inputs = _inputs(input_format, mapping, [new_path]).with_facts(facts)
    new = audit_paths(new_pack, list(logs), facts, as_of_time, inputs=new_inputs)
    if new.as_of != old.as_of:  # the packs take other lines for events: judge both at the old run's as-of
        new = audit_paths(new_pack, list(logs), facts, old.as_of, inputs=new_inputs)
    impact = compare(old, new)
    text = orjson.dumps(impact.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n" if fmt == "json" \
        else impact.text()
    _write(text, output)
    if not impact.empty:
        sys.exit(1)


@cli.command(name="reconcile")
@click.argument("logs", nargs=-1, required=True, type=click.Path())
@_sops_option
@_input_options
@_facts_option
@_set_option
@click.option("--as-of", "as_of", metavar="TIME",
              help="Judge as of this moment (RFC 3339), as audit does. Default: the latest event.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--output", "-o", metavar="FILE", help="Write to FILE (atomically) instead of stdout.")
@click.option("--engine", type=click.Choice(["auto", "native", "python"]), default="auto", show_default=True,
              help="The evaluator (both give the same findings).")
@_max_option
@_errors_to_exits
def reconcile_cmd(logs: tuple[str, ...], sops: tuple[str, ...], input_format: str, mapping: str | None,
                  facts_files: tuple[str, ...], sets: tuple[str, ...], as_of: str | None, fmt: str,
                  output: str | None, engine: str) -> None:
    """Where the system of record's SLA verdicts disagree with sopengine's, and why.

    The export's SLA verdicts (a service desk's SLA cycles, a CRM's case milestones:
    see docs/reconcile.md) come in as the events pack.reconcile names; per case and SLA the
    system's verdict (breached, met, open) is set beside the rule's (violated, met,
    open), and each disagreement is explained: the clock started at another time,
    another goal, a pause, time counted in working hours. Exit 1 when any verdict
    differs, 0 when all agree, 2 when the input cannot be read.

    \b
    Example:
      sopengine reconcile export.json --input-format NAME --format json
    """
    from .events import Event
    from .reconcile import encoded, reconcile

    pack = _load(sops, sets)
    encoded(pack)  # every SLA it names has its rule
    facts_files = tuple(_facts_files(facts_files))
    _reading(logs, facts_files, pack.files, [mapping or ""])
    inputs = _inputs(input_format, mapping, _pack_paths(sops))
    facts = load_facts(facts_files, inputs=inputs, pack=pack)
    inputs = inputs.with_facts(facts)
    records = list(read_records(pack, logs, inputs=inputs))
    result = audit(pack, iter(records), facts, _parse_as_of(as_of), lenient_data=inputs.lenient_data,
                   cases_complete=inputs.cases_complete, engine=_engine(engine))
    if result.rejected_count:
        raise InputError(f"{result.rejected_count} record(s) could not be read (audit --format json lists them): "
                         "a reconciliation of part of the input would not say what the export says")
    found = reconcile(pack, (r for r in records if isinstance(r, Event)), result)
    if not found.rows and not found.unmapped:
        assert pack.reconcile is not None
        raise InputError(f"the input holds no {pack.reconcile.event} events, so there is nothing to reconcile: "
                         "does its mapping read the export's SLA verdicts? (docs/reconcile.md)")
    text = orjson.dumps(found.to_json(), option=orjson.OPT_INDENT_2).decode() + "\n" if fmt == "json" \
        else found.text()
    _write(text, output)
    if found.summary()["disagree"]:
        sys.exit(1)


@cli.command(name="import-declare")
@click.argument("model", type=click.Path(dir_okay=False))
@click.option("--sop-id", "sop_id", default=None, metavar="ID",
              help="The SOP's id (default: from the model's file name).")
@click.option("--title", default=None, help="The SOP's title (default: the model's file name).")
@click.option("--no-events", "no_events", is_flag=True,
              help="Leave the event types out: the pack declares them already.")
@click.option("--output", "-o", metavar="FILE", help="Write the SOP file to FILE instead of stdout.")
@_quiet_option
@_errors_to_exits
def import_declare(model: str, sop_id: str | None, title: str | None, no_events: bool, output: str | None) -> None:
    """Write a Declare model (Declare4Py/RuM .decl text) as a SOP file of declare rules.

    Each constraint becomes a rule whose source names its line; activities become event
    types with the attributes the model binds to them (unless --no-events). Data conditions
    (A.x, T.x, same x, is, in) become activation and target conditions, and the time
    condition min,max,unit the rule's window. Exit 2 when the model cannot be read.

    \b
    Example:
      sopengine import-declare model.decl -o sops/model.yaml
      sopengine audit log.xes --sops sops --cases-complete
    """
    from .declare_import import ModelError, dump, read_decl

    _reading([model])
    path = Path(model)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read {model}: {exc}") from None
    try:
        read = read_decl(text, path.name)
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    if not read.rules:
        raise UsageError(f"{model}: no constraint in the model: nothing to import")
    slug = re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "model"
    if not slug[0].isalpha():
        slug = "m-" + slug
    content = read.sop_file(sop_id or slug, title or path.stem, events=not no_events)
    _write(dump(content), output)
    if not _quiet():
        click.echo(f"{len(read.rules)} rule(s) from {model}", err=True)


cli.add_command(serve_command)  # sopengine/serve: the live service (issue 19)


def main(argv: Sequence[str] | None = None) -> None:
    """Console entry point."""
    cli.main(args=list(argv) if argv is not None else None, prog_name="sopengine")


__all__ = ["cli", "main"]
