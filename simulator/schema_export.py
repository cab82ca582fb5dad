"""The JSON Schema of scenario files, as ``resim schema`` prints it (for editors and checkers).

It is generated from the pydantic models of :mod:`simulator.scenario` (their field docstrings
are the descriptions) and then extended to describe what a scenario FILE may hold, which is
more than the model takes, because :mod:`simulator.loading` pre-processes a file:

- ``name`` may be left out (it defaults to the file name);
- a bare number stands for a fixed distribution (the models declare this themselves);
- a file with ``extends: base.yaml`` (a derived scenario) holds only what changes: every field
  is optional at every depth of a mapping, ``null`` removes a field or entry, and ``key+: [...]``
  appends to the base's list ``key`` (``lanes+``, ``timeline+``, ``materials+`` of a control,
  ...). Lists replace the base's list whole, so list items are complete. The schema expresses
  this with ``if: {required: [extends]}``: a file without ``extends`` must be a complete
  scenario (``$defs/Scenario``); a derived one is checked against the ``...Partial`` defs.

Dates are strings (``"format": "date"``, YYYY-MM-DD): that is how YAML 1.2 and JSON-speaking
editors see an unquoted 2025-04-04, while PyYAML (YAML 1.1) reads a date object; to check a file
read with ``yaml.safe_load``, turn its dates into ISO strings first (:func:`json_ready`).

What only the loader checks: references between names (a lane's supplier is a facility of the
scenario), dates within the horizon, ordered bounds (min <= max), the cross-field rules of
:func:`simulator.scenario.problems`, and, in a derived file, anything that depends on the base.
The schema is stricter than the loader in one way: a quoted number ("12") is text to it.
"""

from __future__ import annotations

import copy
import datetime as dt
from typing import Any, get_args

from . import scenario as sp

__all__ = ["scenario_json_schema", "json_ready"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"

# Discriminated unions that pydantic writes inline at every use, written once under $defs.
_UNIONS = {
    "Facility": (sp.Facility, "A facility, by its `type`: mine, plant, sector, depot or stockpile."),
    "Policy": (sp.Policy, "An inventory policy, by its `type`: order_up_to, s_S, s_Q or just_in_time."),
    "Control": (sp.Control, "An export control, by its `instrument`: licensing, quota or ban."),
    "Event": (sp.Event, "A timeline event, by its `action`."),
    "DistributionMapping": (sp._DistributionSpec, "A distribution as a mapping, by its `dist`."),
}
_DISTRIBUTION = ("A random quantity in the unit of the field: a bare number (fixed) or a mapping "
                 "such as {dist: triangular, min: 5, mode: 10, max: 20}.")
_CODES = {
    "Country": ({"type": "string", "enum": sorted(sp.ISO_COUNTRIES | sp.AGGREGATE_COUNTRIES)},
                "An ISO 3166 alpha-2 country code, EU (the European Union) or XX (rest of world)."),
    "Element": ({"type": "string", "enum": sorted(sp.ELEMENTS)}, "A chemical element symbol, e.g. Nd, Dy, Tb."),
}
_PARTIAL = "In a derived file (with `extends`): only what changes; `null` removes a field."
_EXTENDS = {
    "type": "string",
    "minLength": 1,
    "pattern": r"\S",
    "title": "Extends",
    "description": "Path of a base scenario file, relative to this one: this file then holds only "
    "what changes (mappings merge key by key, lists replace, null removes, key+ appends).",
}
_BOUNDS = {"ge": "minimum", "le": "maximum", "gt": "exclusiveMinimum", "lt": "exclusiveMaximum"}
_SCHEMA_MAPS = ("properties", "patternProperties", "$defs")
_SCHEMA_VALUES = ("items", "additionalProperties", "propertyNames", "not", "if", "then", "else", "contains")
_SCHEMA_LISTS = ("anyOf", "oneOf", "allOf", "prefixItems")
_META = ("title", "description", "default", "examples")


def scenario_json_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a scenario file, derived or not."""
    generated = sp.Scenario.model_json_schema(by_alias=True)
    defs: dict[str, Any] = generated.pop("$defs")
    defs["Scenario"] = generated
    generated["required"] = [name for name in generated.get("required", []) if name != "name"]
    for name in list(defs):
        defs[name] = _walk(defs[name], _plain_keywords)
    _factor_unions(defs)
    _factor_codes(defs)

    top = _Partial(defs).schema(defs["Scenario"])  # the fields of a derived file's top level
    root: dict[str, Any] = {
        "$schema": DIALECT,
        "title": "resim scenario",
        "description": (
            f"{defs['Scenario']['description']} Without `extends` a file must be a complete "
            "scenario ($defs/Scenario); with `extends` it holds only what changes from its base."
        ),
        "type": "object",
        "properties": {"extends": _EXTENDS, **top["properties"]},
        "additionalProperties": False,
        "if": {"required": ["extends"]},
        "else": {"$ref": "#/$defs/Scenario"},
        "$defs": dict(sorted(defs.items())),
    }
    return root


def json_ready(data: Any) -> Any:
    """``data`` read by ``yaml.safe_load`` as a JSON-speaking editor sees it: dates as ISO text."""
    if isinstance(data, dict):
        return {key: json_ready(value) for key, value in data.items()}
    if isinstance(data, list):
        return [json_ready(value) for value in data]
    if isinstance(data, (dt.date, dt.datetime)):
        return data.isoformat()
    return data


# --------------------------------------------------------------------------- walking


def _walk(node: Any, fn) -> Any:
    """Apply ``fn`` to every subschema of ``node``, innermost first; returns the new node."""
    if not isinstance(node, dict):
        return node
    out = dict(node)
    for key in _SCHEMA_MAPS:
        if isinstance(out.get(key), dict):
            out[key] = {name: _walk(sub, fn) for name, sub in out[key].items()}
    for key in _SCHEMA_VALUES:
        if isinstance(out.get(key), dict):
            out[key] = _walk(out[key], fn)
    for key in _SCHEMA_LISTS:
        if isinstance(out.get(key), list):
            out[key] = [_walk(sub, fn) for sub in out[key]]
    return fn(out)


def _subschemas(node: dict):
    """The schemas directly inside ``node``."""
    for key in _SCHEMA_MAPS:
        if isinstance(node.get(key), dict):
            yield from node[key].values()
    for key in _SCHEMA_VALUES:
        if isinstance(node.get(key), dict):
            yield node[key]
    for key in _SCHEMA_LISTS:
        if isinstance(node.get(key), list):
            yield from node[key]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/$defs/{name}"}


def _plain_keywords(node: dict) -> dict:
    """Keywords pydantic leaves in its own words or forms JSON Schema checks loosely:
    ``ge``/``le`` of a constrained type behind a validator become ``minimum``/``maximum``, and a
    name pattern on mapping keys becomes ``propertyNames`` (with ``patternProperties`` a key
    that does not match would be let through unchecked)."""
    for short, keyword in _BOUNDS.items():
        if short in node and node.get("type") in ("integer", "number"):
            node.setdefault(keyword, node.pop(short))
    patterns = node.get("patternProperties")
    if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
        (pattern, value), = patterns.items()
        del node["patternProperties"]
        node["propertyNames"] = {"pattern": pattern, **node.get("propertyNames", {})}
        node["additionalProperties"] = value
    return node


def _factor_unions(defs: dict) -> None:
    """Write each discriminated union (and the number-or-mapping distribution) once, as a def."""
    by_members = {frozenset(m.__name__ for m in get_args(get_args(union)[0])): name
                  for name, (union, _) in _UNIONS.items()}
    found: dict[str, dict] = {}
    direct: set[str] = set()  # defs also used outside a discriminated union

    def note_direct(node: dict) -> dict:
        members = node.get("oneOf", []) if "discriminator" in node else []
        direct.update(sub["$ref"].rsplit("/", 1)[-1] for sub in _subschemas(node)
                      if "$ref" in sub and sub not in members)
        return node

    def factor(node: dict) -> dict:
        if "oneOf" in node and "discriminator" in node:
            members = frozenset(sub.get("$ref", "").rsplit("/", 1)[-1] for sub in node["oneOf"])
            tag = node["discriminator"]["propertyName"]
            for member in members - direct:  # in a union a mapping must name its kind (no default)
                required = defs[member].setdefault("required", [])
                if tag not in required:
                    required.insert(0, tag)
            name = by_members.get(members)
            if name is not None:
                found[name] = {"description": _UNIONS[name][1], "oneOf": node.pop("oneOf"),
                               "discriminator": node.pop("discriminator")}
                node.update(_ref(name))
        for key in ("anyOf",):  # a bare number or a distribution mapping: a Distribution
            branches = node.get(key)
            if isinstance(branches, list) and _ref("DistributionMapping") in branches:
                number = next((b for b in branches if b.get("type") == "number"), None)
                if number is not None:
                    found["Distribution"] = {"description": _DISTRIBUTION,
                                             "anyOf": [number, _ref("DistributionMapping")]}
                    rest = [b for b in branches if b is not number and b != _ref("DistributionMapping")]
                    node[key] = [_ref("Distribution"), *rest]
                    if len(node[key]) == 1:
                        node.update(node.pop(key)[0])
        return node

    for name in list(defs):
        _walk(defs[name], note_direct)
    for name in list(defs):
        defs[name] = _walk(defs[name], factor)
    defs.update(found)


def _factor_codes(defs: dict) -> None:
    """Country codes and element symbols: one enum each, referred to wherever used."""

    def factor(node: dict) -> dict:
        for name, (enum, _) in _CODES.items():
            if node.get("enum") == enum["enum"] and node.get("type", "string") == "string":
                node.pop("type", None)
                del node["enum"]
                node.update(_ref(name))
        return node

    for name in list(defs):
        defs[name] = _walk(defs[name], factor)
    for name, (enum, text) in _CODES.items():
        defs[name] = {"description": text, **enum}


# --------------------------------------------------------------------------- derived files


class _Partial:
    """Makes ``<Model>Partial`` defs: what a derived file may say about a model or union."""

    def __init__(self, defs: dict):
        self.defs = defs

    def ref(self, name: str) -> str:
        partial = name + "Partial"
        if partial not in self.defs:
            self.defs[partial] = {}  # claimed first: a def may (indirectly) refer to itself
            self.defs[partial] = self.schema(self.defs[name], top=True)
        return partial

    def schema(self, node: dict, top: bool = False) -> dict:
        out = copy.deepcopy(node)
        if "$ref" in out:
            name = out["$ref"].rsplit("/", 1)[-1]
            if _is_mapping_def(self.defs[name]):
                out["$ref"] = f"#/$defs/{self.ref(name)}"
            return out
        if top and "description" in out and "properties" in out:
            out["description"] = f"{out['description']} {_PARTIAL}"
        branches = out.pop("oneOf", []) + out.pop("anyOf", [])
        if branches:
            out["anyOf"] = [self.schema(sub) for sub in branches]
        out.pop("discriminator", None)  # several kinds may fit a partial mapping
        if isinstance(out.get("properties"), dict):
            props = {}
            for name, prop in out["properties"].items():
                props[name] = _nullable(self.schema(prop))
                array = _array_branch(prop)
                if array is not None:
                    props[name + "+"] = {**array, "description": f"Items appended to the base scenario's `{name}`."}
            out["properties"] = props
            out.pop("required", None)
        if isinstance(out.get("additionalProperties"), dict):
            out["additionalProperties"] = _nullable(self.schema(out["additionalProperties"]))
            out.pop("minProperties", None)  # an empty mapping changes nothing
        return out  # a list is replaced whole: its items stay complete


def _is_mapping_def(node: dict) -> bool:
    """Whether a def describes something a derived file may merge into (not a plain value)."""
    return "properties" in node or any("$ref" in branch or "properties" in branch
                                       for key in ("anyOf", "oneOf") for branch in node.get(key, []))


def _array_branch(prop: dict) -> dict | None:
    if prop.get("type") == "array":
        return {k: v for k, v in prop.items() if k not in _META}
    for branch in prop.get("anyOf", []):
        if branch.get("type") == "array":
            return {k: v for k, v in branch.items() if k not in _META}
    return None


def _nullable(node: dict) -> dict:
    """``node`` or ``null`` (which removes the field or entry from the base)."""
    if node.get("type") == "null" or {"type": "null"} in node.get("anyOf", []):
        return node
    if set(node) - set(_META) == {"anyOf"}:
        return {**node, "anyOf": [*node["anyOf"], {"type": "null"}]}
    meta = {k: node[k] for k in _META if k in node}
    inner = {k: v for k, v in node.items() if k not in _META}
    return {**meta, "anyOf": [inner, {"type": "null"}]}
