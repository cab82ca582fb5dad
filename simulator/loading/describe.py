"""Validation errors turned into ``file:LINE: field: expected ..., got ...`` lines."""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from types import UnionType
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from .. import scenario as schema
from ..scenario import Scenario

from .messages import _OVERRIDE, _dotted, _given


def _unwrap(tp: Any) -> Any:
    """Strip ``Annotated`` and ``Optional`` from a type."""
    while True:
        if get_origin(tp) is Annotated:
            tp = get_args(tp)[0]
            continue
        if get_origin(tp) in (Union, UnionType):
            members = [a for a in get_args(tp) if a is not type(None)]
            if len(members) == 1:
                tp = members[0]
                continue
        return tp


def _tags_of(model: type[BaseModel]) -> set[str]:
    tags = set()
    for key in _TAG_FIELDS:
        field = model.model_fields.get(key)
        if field is not None and get_origin(field.annotation) is Literal:
            tags.update(get_args(field.annotation))
    return tags


def _type_at(loc: Sequence) -> Any:
    """The schema type at a pydantic error location (tags pick union members), or None."""
    tp: Any = Scenario
    for part in loc:
        tp = _unwrap(tp)
        if isinstance(part, str) and part.startswith("function-"):
            continue
        if get_origin(tp) in (Union, UnionType):
            members = [_unwrap(a) for a in get_args(tp)]
            chosen = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)
                      and (part in _tags_of(m) or m.__name__ == part)]
            if not chosen:
                return None
            tp = chosen[0]
            continue
        if isinstance(tp, type) and issubclass(tp, BaseModel):
            fields = {f.alias or n: f for n, f in tp.model_fields.items()}
            if part not in fields:
                return None
            tp = fields[part].annotation
        elif get_origin(tp) is dict:
            if part == "[key]":
                return None
            tp = get_args(tp)[1]
        elif get_origin(tp) is list:
            tp = get_args(tp)[0]
        else:
            return None
    return _unwrap(tp)


def _field_names(model: Any) -> list[str]:
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [f.alias or n for n, f in model.model_fields.items()]
    return []


def _union_tags(tp: Any) -> list[str]:
    tags: list[str] = []
    for member in get_args(tp):
        member = _unwrap(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            tags.extend(sorted(_tags_of(member)))
    return tags


def _data_path(data: Any, loc: Sequence, not_keys: frozenset[str] | None = None) -> tuple:
    """Map a pydantic error location onto the document: drop union tags, member and validator names
    (``not_keys``: the scenario schema's, unless another schema's, e.g. a sweep file's, are given)."""
    not_keys = _TAGS | _MODELS if not_keys is None else not_keys
    path: list = []
    node = data
    missing = object()
    for part in loc:
        if isinstance(node, dict) and part in not_keys and part in {node.get(k) for k in _TAG_FIELDS}:
            continue  # the tag of a discriminated union (even when a key has the same name)
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in not_keys or "[" in part):
            continue  # a union tag, a union member or a validator name, not a document key
        elif isinstance(node, dict):
            path.append(part)  # a missing field: name it
            node = missing
        elif node is missing:
            path.append(part)
        else:
            break  # below a scalar (e.g. `value` of a number read as a fixed distribution)
    return tuple(path)


_PATTERNS = {
    r"^[A-Za-z][A-Za-z0-9_\-]*$": "expected a name of letters, digits, '_' and '-' that starts with a letter",
    r"^[a-z][a-z0-9_]*$": "expected a lower-case name of letters, digits and '_' that starts with a letter",
    r"^facilities\.[A-Za-z][A-Za-z0-9_\-]*\.[a-z_]+$": "expected facilities.<facility>.<parameter>",
}

_KINDS = {
    "float_type": "expected a number", "float_parsing": "expected a number",
    "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "int_from_float": "expected a whole number", "finite_number": "expected a finite number",
    "bool_type": "expected true or false", "bool_parsing": "expected true or false",
    "string_type": "expected text",
    "date_type": "expected a date (YYYY-MM-DD)", "date_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_parsing": "expected a date (YYYY-MM-DD)",
    "date_from_datetime_inexact": "expected a date without a time of day",
    "dict_type": "expected a mapping", "model_type": "expected a mapping of fields",
    "model_attributes_type": "expected a mapping of fields", "list_type": "expected a list",
}


def describe_error(err: Mapping[str, Any], fields: Sequence[str] = ()) -> str:
    """One pydantic error as ``expected ..., got ...``; ``fields`` are the names valid there."""
    kind, msg, given = err["type"], err["msg"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "union_alternatives":
        return f"{msg}, got {_given(given)}"
    if kind == "missing":
        return "expected a value (this field is required), got nothing"
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        near = difflib.get_close_matches(name, fields or _FIELDS, n=1, cutoff=0.6) if len(name) <= 100 else []
        if near:
            return f"unknown field {_given(name)} (did you mean {near[0]!r}?)"
        return f"unknown field {_given(name)}" + (f" (expected one of: {', '.join(fields)})" if fields else "")
    if kind == "union_tag_invalid":
        return f"expected one of {ctx.get('expected_tags')}, got {_given(ctx.get('tag'))}"
    if kind == "union_tag_not_found":
        return f"expected a mapping with a {ctx.get('discriminator', 'tag')} field, got {_given(given)}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return text if "got" in text else f"{text}, got {_given(given)}"
    if kind == "string_type" and isinstance(given, bool):
        return f"expected text, got {_given(given)} (YAML reads yes/no/on/off as true/false: quote it, e.g. 'NO')"
    if kind in _KINDS:
        return f"{_KINDS[kind]}, got {_given(given)}"
    bounds = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
    if kind in bounds:
        limit = next(iter(ctx.values()), "?")
        big = isinstance(limit, (int, float)) and abs(limit) >= 100_000 and float(limit).is_integer()
        shown = f"{int(limit):,}" if big else _given(limit)  # 1,000,000,000 rather than 1e+09
        return f"expected a number {bounds[kind]} {shown}, got {_given(given)}"
    if kind == "string_pattern_mismatch":
        return f"{_PATTERNS.get(ctx.get('pattern'), 'expected text matching ' + str(ctx.get('pattern')))}, got {_given(given)}"
    if kind == "string_too_long":
        return f"expected at most {ctx.get('max_length')} characters, got {len(given)}"
    if kind == "too_short":
        what = "entry" if isinstance(given, dict) else "item"
        return f"expected at least {ctx.get('min_length')} {what}, got {_given(given)}"
    if kind == "literal_error":
        return f"expected {ctx.get('expected')}, got {_given(given)}"
    text = msg.replace("Input should be ", "expected ").replace("Input ", "expected input ")
    return f"{text}, got {_given(given)}"


_TAG_FIELDS = ("type", "dist", "instrument", "action")


def _all_tags() -> frozenset[str]:
    tags: set[str] = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            tags |= _tags_of(cls)
    return frozenset(t for t in tags if isinstance(t, str))


def _all_field_names() -> frozenset[str]:
    names = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            names.update(_field_names(cls))
    return frozenset(names)


_TAGS = _all_tags()
_FIELDS = _all_field_names()
_MODELS = frozenset(name for name, cls in vars(schema).items() if isinstance(cls, type) and issubclass(cls, BaseModel))


def _where(path: tuple, lines: dict, origins: dict, source: str) -> tuple[tuple, str]:
    """``(sort key, "file:LINE")`` or the override that set the value, or a value inside it
    (``--set x.review_working_days=5`` where x has review_days: x's problem is the override's)."""
    below = [k for k, v in origins.items() if path and len(k) > len(path) and k[:len(path)] == path
             and v.startswith(_OVERRIDE + " ")]
    if below:
        return (1, list(origins).index(below[0])), origins[below[0]]
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return (1, list(origins).index(path[:cut])), origins[path[:cut]]
        if path[:cut] in lines:
            return (0, lines[path[:cut]]), f"{source}:{lines[path[:cut]]}"
    return (0, 1), f"{source}:1"


def _member_at(data: Any, loc: Sequence) -> int | None:
    """Index in ``loc`` of a smart-union member label (``Include``, ``literal['all']``), if any."""
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        elif isinstance(part, str) and (part in _MODELS or part.startswith(("literal[", "function-"))):
            return i
        elif not (isinstance(part, str) and part in _TAGS):
            return None
    return None


def _alternative(label: str) -> str:
    if label.startswith("literal["):
        return label.removeprefix("literal[").removesuffix("]")
    model = getattr(schema, label, None)
    if isinstance(model, type) and issubclass(model, BaseModel):
        required = [f.alias or n for n, f in model.model_fields.items() if f.is_required()]
        shown = ", ".join(f"{n}: [...]" if get_origin(_unwrap(model.model_fields[n].annotation)) is list else f"{n}: ..." for n in required)
        return "{" + shown + "}"
    return label


def _pick_union_members(errors: list[dict], data: Any) -> list[dict]:
    """Keep the errors of the union member the input was meant as; one line if none fits."""
    groups: dict[tuple, list[tuple[str, dict]]] = {}
    for e in errors:
        i = _member_at(data, e["loc"])
        if i is not None:
            groups.setdefault(tuple(e["loc"][:i]), []).append((e["loc"][i], e))
    drop: set[int] = set()
    extra: dict[int, dict] = {}
    for prefix, members in groups.items():
        labels = list(dict.fromkeys(label for label, _ in members))
        if len(labels) < 2:
            continue
        given = members[0][1].get("input") if len(members[0][1]["loc"]) == len(prefix) + 1 else None
        node = data
        for part in _data_path(data, prefix):
            node = node.get(part) if isinstance(node, dict) else (node[part] if isinstance(node, list) and isinstance(part, int) and part < len(node) else None)
        fits = [label for label in labels if isinstance(node, dict) and not any(
            lab == label and (e["type"] in ("extra_forbidden", "model_type", "model_attributes_type", "literal_error")
                              or (e["type"] == "missing" and len(e["loc"]) == len(prefix) + 2))
            for lab, e in members)]
        for label, e in members:
            if not fits or label != fits[0]:
                drop.add(id(e))
        if not fits:
            shown = [_alternative(label) for label in labels]
            text = ", ".join(shown[:-1]) + " or " + shown[-1]
            first = members[0][1]
            extra[id(first)] = {"type": "union_alternatives", "loc": prefix, "msg": f"expected {text}",
                                "input": node if given is None else given}
    out = []
    for e in errors:
        if id(e) in extra:
            out.append(extra[id(e)])
        elif id(e) not in drop:
            out.append(e)
    return out


def _schema_lines(errors: list[dict], data: Any, lines: dict, origins: dict, source: str) -> list[tuple[tuple, str]]:
    out = []
    errors = _pick_union_members(errors, data)
    missing = {tuple(e["loc"]) for e in errors if e["type"] == "missing"}
    typos: set[tuple] = set()  # missing fields explained by a misspelt key next to them
    described = []
    for e in errors:
        loc = tuple(e["loc"])
        fields: list[str] = []
        if e["type"] == "extra_forbidden":
            fields = _field_names(_type_at(loc[:-1]))
            near = difflib.get_close_matches(str(loc[-1]), fields, n=1, cutoff=0.6)
            if near and loc[:-1] + (near[0],) in missing:
                typos.add(loc[:-1] + (near[0],))
        path = _data_path(data, loc)
        if e["type"] in ("union_tag_invalid", "union_tag_not_found"):
            disc = str((e.get("ctx") or {}).get("discriminator", "")).strip("'")
            if isinstance(e.get("input"), dict):
                path = path + (disc,)
                if e["type"] == "union_tag_not_found":
                    tags = _union_tags(_type_at(loc))
                    described.append((loc, path, f"expected one of {', '.join(map(repr, tags))}, got nothing"
                                      if tags else describe_error(e)))
                    continue
        if e["type"] in ("model_attributes_type", "model_type") and "fixed" in _union_tags(_type_at(loc)):
            described.append((loc, path, "expected a number of days or a distribution such as "
                              f"{{dist: uniform, min: 10, max: 20}}, got {_given(e.get('input'))}"))
            continue
        described.append((loc, path, describe_error(e, fields)))
    for loc, path, message in described:
        if loc in typos:
            continue
        key, where = _where(path, lines, origins, source)
        out.append((key, f"{where}: {_dotted(path) or 'scenario'}: {message}"))
    return out


def _sorted_unique(items: list[tuple[tuple, str]]) -> list[str]:
    """File lines in line order, then override lines; repeated messages once."""
    seen: dict[str, None] = {}
    for _, text in sorted(items, key=lambda item: item[0]):
        seen.setdefault(text, None)
    return list(seen)


