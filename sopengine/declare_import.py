"""Declare models as SOP files: the Declare4Py/RuM text format (``.decl``) and pm4py's Declare dictionary.

A model's constraints become ``declare`` rules (one per constraint; an exclusive choice is two), each with its
``source`` pointing at the model's line. Its activities become event types, with the attributes ``bind``
gives them as data fields (typed from the model's attribute lines), unless the pack declares them already.

Conditions are translated into the expression language: in the ``.decl`` format ``A.x`` is the activation's
attribute and ``T.x`` the target's, ``same x`` / ``different x`` compare the two, ``is``/``is not``/``in (..)``/
``not in (..)`` test values; the time condition ``min,max,unit`` is the rule's ``window``. An activation
condition goes to ``activation.when``, a correlation condition to ``target.when`` (which sees ``activation``).
Where a template's activation is its second activity (precedence and its variants), the roles follow
MP-Declare: the activation is the later event. For the negative templates whose activation is not where
sopengine's ``never`` part puts it (not precedence, not chain precedence) every condition is moved into
``target.when``: the pair is forbidden exactly when all of them hold, as in the model.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Mapping

from .timeutil import format_duration

# (sopengine template, activation argument, target argument, whether the roles in conditions are swapped)
_DECL: dict[str, tuple[str, int, int | None, bool]] = {
    "existence": ("existence", 0, None, False),
    "absence": ("absence", 0, None, False),
    "exactly": ("exactly", 0, None, False),
    "init": ("init", 0, None, False),
    "end": ("last", 0, None, False),
    "last": ("last", 0, None, False),
    "respondedexistence": ("responded_existence", 0, 1, False),
    "coexistence": ("coexistence", 0, 1, False),
    "response": ("response", 0, 1, False),
    "precedence": ("precedence", 1, 0, False),
    "succession": ("succession", 0, 1, False),
    "alternateresponse": ("alternate_response", 0, 1, False),
    "alternateprecedence": ("alternate_precedence", 1, 0, False),
    "alternatesuccession": ("alternate_succession", 0, 1, False),
    "chainresponse": ("chain_response", 0, 1, False),
    "chainprecedence": ("chain_precedence", 1, 0, False),
    "chainsuccession": ("chain_succession", 0, 1, False),
    "notcoexistence": ("not_coexistence", 0, 1, False),
    "notrespondedexistence": ("not_coexistence", 0, 1, False),
    "notsuccession": ("not_succession", 0, 1, False),
    "notresponse": ("not_succession", 0, 1, False),
    "notprecedence": ("not_succession", 0, 1, True),
    "notchainsuccession": ("not_chain_succession", 0, 1, False),
    "notchainresponse": ("not_chain_succession", 0, 1, False),
    "notchainprecedence": ("not_chain_succession", 0, 1, True),
}

# pm4py's template names (pm4py.algo.discovery.declare.templates): (sopengine template, n).
PM4PY: dict[str, tuple[str, int | None]] = {
    "existence": ("existence", None), "exactly_one": ("exactly", 1), "init": ("init", None),
    "absence": ("absence", None), "responded_existence": ("responded_existence", None),
    "response": ("response", None), "precedence": ("precedence", None), "succession": ("succession", None),
    "altresponse": ("alternate_response", None), "altprecedence": ("alternate_precedence", None),
    "altsuccession": ("alternate_succession", None), "chainresponse": ("chain_response", None),
    "chainprecedence": ("chain_precedence", None), "chainsuccession": ("chain_succession", None),
    "coexistence": ("coexistence", None), "noncoexistence": ("not_coexistence", None),
    "nonsuccession": ("not_succession", None), "nonchainsuccession": ("not_chain_succession", None),
}
_PM4PY_SWAPPED = {"precedence", "altprecedence", "chainprecedence"}  # activation: the second activity

# What each template says, for messages: {a} the activation's activity, {t} the target's.
_SAYS = {
    "existence": "{a} happens (at least {n})", "absence": "{a} happens fewer than {n} time(s)",
    "exactly": "{a} happens exactly {n} time(s)", "init": "the case starts with {a}",
    "last": "the case ends with {a}", "responded_existence": "{a} comes with {t} somewhere in the case",
    "coexistence": "{a} and {t} come together", "response": "{a} is followed by {t}",
    "precedence": "{a} comes after {t}", "succession": "{a} is followed by {t}, and {t} follows {a}",
    "alternate_response": "each {a} is followed by {t} before the next {a}",
    "alternate_precedence": "each {a} has {t} since the previous {a}",
    "alternate_succession": "{a} and {t} alternate", "chain_response": "{a} is followed at once by {t}",
    "chain_precedence": "{a} comes right after {t}", "chain_succession": "{a} and {t} come right after each other",
    "not_coexistence": "{a} and {t} do not both happen", "not_succession": "{t} does not come after {a}",
    "not_chain_succession": "{t} does not come right after {a}",
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


class ModelError(ValueError):
    """A model that cannot be imported: the file, its line and what is wrong."""

    def __init__(self, where: str, line: int, message: str):
        super().__init__(f"{where}:{line}: {message}")
        self.where, self.line, self.message = where, line, message


@dataclass
class Model:
    """A Declare model read: activities (with their attributes), attribute types, and the rules made."""

    document: str
    activities: dict[str, list[str]] = field(default_factory=dict)
    types: dict[str, dict[str, Any]] = field(default_factory=dict)
    rules: list[dict[str, Any]] = field(default_factory=list)

    def sop_file(self, sop_id: str, title: str, events: bool = True) -> dict[str, Any]:
        """The SOP file's content: the vocabulary (unless the pack has it), the SOP and its rules.

        With its vocabulary the file is a pack of its own, and an open one (``pack.vocabulary``): a log's other
        activities are read, as Declare reads them, instead of being rejected."""
        out: dict[str, Any] = {}
        if events:
            out["pack"] = {"name": sop_id, "vocabulary": "open"}
            out["events"] = {name: {"data": {a: dict(self.types.get(a, {"type": "any"})) for a in attrs}}
                             for name, attrs in self.activities.items()}
        out["sop"] = {"id": sop_id, "title": title, "source": {"document": self.document}}
        out["rules"] = self.rules
        return out


_CONSTRAINT = re.compile(r"^(?P<name>[A-Za-z][A-Za-z \-]*?)\s*(?P<n>\d*)\s*\[(?P<args>[^\]]*)\]\s*(?P<rest>\|.*)?$")
_TOKEN = re.compile(r"\s*(?:(?P<num>-?\d+(?:\.\d+)?)|(?P<op><=|>=|!=|==|=|<|>|\(|\)|,)|(?P<word>[^\s(),<>=!]+))")


def read_decl(text: str, document: str) -> Model:
    """Read a ``.decl`` model (Declare4Py / RuM)."""
    model = Model(document)
    used: set[str] = set()
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("activity "):
            model.activities.setdefault(line[len("activity "):].strip(), [])
            continue
        if line.startswith("bind "):
            name, _, attrs = line[len("bind "):].partition(":")
            model.activities.setdefault(name.strip(), []).extend(a.strip() for a in attrs.split(",") if a.strip())
            continue
        m = _CONSTRAINT.match(line)
        if m is None:
            if ":" in line:  # an attribute's type: `x: integer between 1 and 5`, `x, y: float ...`, `x: a, b`
                names, _, spec = line.partition(":")
                for name in names.split(","):
                    model.types[name.strip()] = _attribute_type(spec.strip(), document, number)
                continue
            raise ModelError(document, number, f"not an activity, binding, attribute or constraint: {line!r}")
        _constraint(model, m, line, number, used)
    return model


def _attribute_type(spec: str, document: str, line: int) -> dict[str, Any]:
    m = re.match(r"^(integer|float)\s+between\s+(\S+)\s+and\s+(\S+)$", spec)
    if m:
        return {"type": "number"}
    values = [v.strip() for v in spec.split(",") if v.strip()]
    if not values:
        raise ModelError(document, line, "an attribute needs a type: integer/float between X and Y, or values")
    return {"type": "string", "enum": values}


def _constraint(model: Model, m: re.Match[str], line: str, number: int, used: set[str]) -> None:
    doc = model.document
    key = re.sub(r"[\s\-]", "", m["name"]).lower()
    args = [a.strip() for a in m["args"].split(",") if a.strip()]
    parts = [p.strip() for p in (m["rest"] or "").split("|")[1:]]
    n = int(m["n"]) if m["n"] else None
    for a in args:
        model.activities.setdefault(a, [])
    if key in ("choice", "exclusivechoice"):
        if len(args) != 2 or any(parts[:2]):
            raise ModelError(doc, number, f"{m['name']} takes two activities and no conditions here")
        model.rules.append(_rule(doc, line, number, "existence", args, None, None, None, None, used))
        if key == "exclusivechoice":
            model.rules.append(_rule(doc, line, number, "not_coexistence", [args[0]], [args[1]], None, None, None,
                                     used))
        return
    if key not in _DECL:
        raise ModelError(doc, number, f"unknown Declare template {m['name']!r}")
    template, act_at, tgt_at, swapped = _DECL[key]
    binary = tgt_at is not None
    if len(args) != (2 if binary else 1):
        raise ModelError(doc, number, f"{m['name']} takes {2 if binary else 1} activit{'ies' if binary else 'y'}")
    activation_cond = parts[0] if parts else ""
    correlation = parts[1] if binary and len(parts) > 1 else ""
    time_cond = parts[2 if binary else 1] if len(parts) > (2 if binary else 1) else ""
    act_when = tgt_when = None
    # the model's activation (A.) and target (T.): for the swapped templates, our target and activation
    model_act, model_tgt = (tgt_at, act_at) if swapped and tgt_at is not None else (act_at, tgt_at)
    reads = {"A": model.activities[args[model_act]]}
    if model_tgt is not None:
        reads["T"] = model.activities[args[model_tgt]]
    if binary and swapped:  # every condition on the pair, with the model's activation as our target
        pieces = [x for x in (_condition(activation_cond, doc, number, own="event", reads=reads),
                              _condition(correlation, doc, number, own="event", target="activation", reads=reads))
                  if x]
        tgt_when = " and ".join(f"({p})" for p in pieces) or None
    else:
        act_when = _condition(activation_cond, doc, number, own="data", reads=reads)
        if binary:
            tgt_when = _condition(correlation, doc, number, own="activation", target="event", reads=reads)
    window = _window(time_cond, doc, number) if time_cond else None
    if window and not binary:
        raise ModelError(doc, number, "a time condition needs a template that relates two activities")
    if template in ("existence", "absence", "exactly"):
        n = n or 1
    elif n is not None:
        raise ModelError(doc, number, f"{m['name']} takes no count")
    target = [args[tgt_at]] if tgt_at is not None else None
    model.rules.append(_rule(doc, line, number, template, [args[act_at]], target, act_when, tgt_when, window, used,
                             n))


def _condition(text: str, document: str, line: int, own: str, target: str | None = None,
               reads: Mapping[str, list[str]] | None = None) -> str | None:
    """A ``.decl`` condition as an expression: ``A.x`` is ``own`` (``data`` reads the event at hand),
    ``T.x`` is ``target``; bare words are text values. ``reads``: per prefix, the attribute list of its
    activity, where an attribute the condition reads is added when the model did not bind it."""
    text = text.strip()
    if not text:
        return None

    def side(prefix: str, name: str) -> str:
        holder = own if prefix == "A" else target
        if holder is None:
            raise ModelError(document, line, f"'{prefix}.{name}': an activation condition reads A. only")
        attributes = (reads or {}).get(prefix)
        if attributes is not None and name not in attributes:
            attributes.append(name)
        return f"data.{name}" if holder == "data" else f"{holder}.data.{name}"

    tokens = []
    pos = 0
    while pos < len(text):
        t = _TOKEN.match(text, pos)
        if t is None or t.end() == pos:
            raise ModelError(document, line, f"cannot read the condition {text!r}")
        pos = t.end()
        tokens.append(t)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        t = tokens[i]
        word, op = t["word"], t["op"]
        if t["num"] is not None:
            out.append(t["num"])
        elif op is not None:
            out.append("==" if op == "=" else op)
        elif word in ("same", "different") and i + 1 < len(tokens) and tokens[i + 1]["word"]:
            name = tokens[i + 1]["word"]
            if target is None:
                raise ModelError(document, line, f"'{word} {name}' compares two events: a correlation condition")
            out.append(f"({side('A', name)} {'==' if word == 'same' else '!='} {side('T', name)})")
            i += 1
        elif word in ("and", "or", "not", "in"):
            out.append(word)
        elif word == "is":
            if i + 1 < len(tokens) and tokens[i + 1]["word"] == "not":
                out.append("!=")
                i += 1
            else:
                out.append("==")
        elif re.match(r"^[AT]\.\w+$", word):
            out.append(side(word[0], word[2:]))
        else:
            out.append(repr(word))
        i += 1
    expr = " ".join(out)
    # a value list `in ( 'a' , 'b' )` is a list in the expression language
    expr = re.sub(r"\bin \( (.*?) \)", lambda mm: "in [" + mm.group(1).replace(" , ", ", ") + "]", expr)
    return expr.replace("( ", "(").replace(" )", ")")


def _window(text: str, document: str, line: int) -> dict[str, str]:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != 3 or parts[2] not in _UNITS:
        raise ModelError(document, line, f"a time condition is min,max,unit (unit s, m, h or d): {text!r}")
    try:
        low, high = (float(p) * _UNITS[parts[2]] for p in parts[:2])
    except ValueError:
        raise ModelError(document, line, f"a time condition is min,max,unit: {text!r}") from None
    out = {"max": format_duration(high)}
    if low > 0:
        out = {"min": format_duration(low), **out}
    return out


def _rule(document: str, quote: str, line: int, template: str, act: list[str], tgt: list[str] | None,
          act_when: str | None, tgt_when: str | None, window: dict[str, str] | None, used: set[str],
          n: int | None = None) -> dict[str, Any]:
    rule_id = base = f"{template.replace('_', '-')}-{line}"
    k = 2
    while rule_id in used:
        rule_id, k = f"{base}-{k}", k + 1
    used.add(rule_id)
    says = _SAYS[template].format(a=" or ".join(act), t=" or ".join(tgt or []), n=n or 1)
    out: dict[str, Any] = {
        "id": rule_id, "kind": "declare", "template": template, "severity": "error",
        "description": f"Declare: {says}.",
        "source": {"document": document, "step": f"line {line}", "quote": quote},
    }
    if n is not None and template in ("existence", "absence", "exactly"):
        out["n"] = n
    out["activation"] = {"on": act if len(act) > 1 else act[0], **({"when": act_when} if act_when else {})}
    if tgt is not None:
        out["target"] = {"on": tgt[0] if len(tgt) == 1 else tgt, **({"when": tgt_when} if tgt_when else {})}
    if window:
        out["window"] = window
    head = quote.split("|")[0].strip()
    out["message"] = f"{head} broken at {{event.type}} {{event.id}}: {says}"
    return out


def from_pm4py(model: Mapping[str, Mapping[Any, Any]], document: str = "pm4py model") -> Model:
    """pm4py's Declare dictionary (``{template: {activity or (a, b): {support, confidence}}}``) as a model; the
    rules' lines count its constraints in the dictionary's order."""
    out = Model(document)
    used: set[str] = set()
    number = 0
    for name, constraints in model.items():
        if name not in PM4PY:
            raise ModelError(document, number, f"unknown pm4py Declare template {name!r}")
        template, n = PM4PY[name]
        for key in constraints:
            number += 1
            acts = [key] if isinstance(key, str) else list(key)
            for a in acts:
                out.activities.setdefault(a, [])
            if len(acts) == 1:
                rule = _rule(document, f"{name}({acts[0]})", number, template, acts, None, None, None, None, used,
                             n or (1 if template in ("existence", "absence") else None))
            else:
                first, second = acts
                act, tgt = (second, first) if name in _PM4PY_SWAPPED else (first, second)
                rule = _rule(document, f"{name}({first}, {second})", number, template, [act], [tgt], None, None,
                             None, used)
            out.rules.append(rule)
    return out


def dump(content: Mapping[str, Any]) -> str:
    import yaml

    header = "# Imported from a Declare model by `sopengine import-declare`; each rule's source names its line.\n"
    return header + yaml.safe_dump(dict(content), sort_keys=False, allow_unicode=True, width=120)
