"""Reading scenario files: safe YAML with line numbers, ``--set`` overrides, clear errors.

Every problem becomes one line ``file:LINE: field.path: expected ..., got ...``; all problems
of a file are collected before anything is reported (:class:`ScenarioError`).
"""

from __future__ import annotations

import datetime as dt
import difflib
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from . import scenario as schema
from .scenario import Scenario, problems

__all__ = ["ScenarioError", "load_scenario", "parse_scenario", "scenario_hash", "parse_overrides"]


class ScenarioError(Exception):
    """A user's scenario (or override) is invalid; ``lines`` holds one message per problem."""

    def __init__(self, lines: Sequence[str]):
        super().__init__("\n".join(lines))
        self.lines = list(lines)


_OVERRIDE = "--set"


# --------------------------------------------------------------------------- YAML with lines


def _read_yaml(text: str, source: str) -> tuple[Any, dict[tuple, int]]:
    """Parse YAML safely; return the data and a map from key paths to 1-based line numbers."""
    loader = yaml.SafeLoader(text)
    lines: dict[tuple, int] = {}
    try:
        root = loader.get_single_node()
        if root is None:
            raise ScenarioError([f"{source}:1: expected a YAML mapping of scenario fields, got an empty file"])
        data = _build(loader, root, (), lines, source)
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        line = mark.line + 1 if mark else 1
        what = " ".join(x for x in (err.context, err.problem) if x)
        raise ScenarioError([f"{source}:{line}: YAML syntax error: {what}"]) from None
    except yaml.YAMLError as err:
        raise ScenarioError([f"{source}:1: YAML syntax error: {err}"]) from None
    finally:
        loader.dispose()
    return data, lines


def _build(loader: yaml.SafeLoader, node, path: tuple, lines: dict, source: str) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolves `<<: *anchor` merges
        out: dict = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                raise ScenarioError([f"{source}:{key_node.start_mark.line + 1}: {_dotted(path) or 'top level'}: expected text keys, got {key!r}"])
            key = str(key)
            if key in out:
                raise ScenarioError([f"{source}:{key_node.start_mark.line + 1}: {_dotted(path + (key,))}: duplicate key (each key may appear once)"])
            lines[path + (key,)] = key_node.start_mark.line + 1
            out[key] = _build(loader, value_node, path + (key,), lines, source)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, path + (i,), lines, source) for i, item in enumerate(node.value)]
    return loader.construct_object(node, deep=True)


# --------------------------------------------------------------------------- overrides


def parse_overrides(items: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """``["a.b=3", ...]`` or ``{"a.b": 3}`` -> ``[(path, value, shown)]``; values read as YAML."""
    out = []
    if isinstance(items, Mapping):
        return [(k, v, f"{_OVERRIDE} {k}={v}") for k, v in items.items()]
    for item in items:
        if "=" not in item:
            raise ScenarioError([f"{_OVERRIDE} {item}: expected dotted.path=value, got no '='"])
        key, _, raw = item.partition("=")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        out.append((key.strip(), value, f"{_OVERRIDE} {item}"))
    return out


def _apply_override(data: dict, path: str, value: Any, shown: str, origins: dict) -> None:
    parts: list[Any] = path.split(".")
    node: Any = data
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise ScenarioError([f"{shown}: {'.'.join(parts[:depth + 1])}: expected a list index below {len(node)}, got {part!r}"])
            part = int(part)
            parts[depth] = part
        elif not isinstance(node, dict):
            raise ScenarioError([f"{shown}: {'.'.join(map(str, parts[:depth]))}: expected a mapping to set {part!r} in, got {node!r}"])
        if last:
            node[part] = value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
            node = node[part]
    origins[tuple(parts)] = shown


# --------------------------------------------------------------------------- errors


def _dotted(loc: Sequence) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _data_path(data: Any, loc: Sequence) -> tuple:
    """Map a pydantic error location onto the document, dropping union tags and '[key]'."""
    path: list = []
    node = data
    for i, part in enumerate(loc):
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in _TAGS or part.startswith(("function-", "[key]"))):
            continue  # a union tag or validator name that pydantic puts in locations
        else:
            path.append(part)
            node = None
    return tuple(path)


def _all_tags() -> frozenset[str]:
    tags = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            for key in ("type", "dist", "instrument", "action"):
                field = cls.model_fields.get(key)
                if field is not None and field.annotation is not None:
                    tags.update(getattr(field.annotation, "__args__", ()))
    return frozenset(t for t in tags if isinstance(t, str))


def _all_field_names() -> frozenset[str]:
    names = set()
    for cls in vars(schema).values():
        if isinstance(cls, type) and issubclass(cls, BaseModel):
            for name, field in cls.model_fields.items():
                names.add(field.alias or name)
    return frozenset(names)


_TAGS = _all_tags()
_FIELDS = _all_field_names()


def _describe(err: dict) -> str:
    kind, msg, given = err["type"], err["msg"], err.get("input")
    ctx = err.get("ctx") or {}
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        name = str(err["loc"][-1])
        near = difflib.get_close_matches(name, _FIELDS, n=1)
        return f"unknown field {name!r}" + (f" (did you mean {near[0]!r}?)" if near else "")
    if kind == "union_tag_invalid":
        return f"expected {ctx.get('discriminator', 'a tag').strip(chr(39))} to be one of {ctx.get('expected_tags')}, got {ctx.get('tag')!r}"
    if kind == "union_tag_not_found":
        return f"expected a mapping with a {ctx.get('discriminator', 'tag')} field, got {given!r}"
    if msg.startswith("Value error, "):
        text = msg.removeprefix("Value error, ")
        return text if "got" in text else f"{text}, got {given!r}"
    text = msg.replace("Input should be ", "expected ").replace("Input ", "expected input ")
    return f"{text}, got {given!r}"


def _format(err: dict, data: Any, lines: dict, origins: dict, source: str) -> str:
    path = _data_path(data, err["loc"])
    for cut in range(len(path), -1, -1):
        if path[:cut] in origins:
            return f"{origins[path[:cut]]}: {_dotted(path) or 'scenario'}: {_describe(err)}"
        if path[:cut] in lines:
            return f"{source}:{lines[path[:cut]]}: {_dotted(path) or 'scenario'}: {_describe(err)}"
    return f"{source}:1: {_dotted(path)}: {_describe(err)}"


def _located(loc: tuple, message: str, lines: dict, origins: dict, source: str) -> str:
    for cut in range(len(loc), -1, -1):
        if loc[:cut] in origins:
            return f"{origins[loc[:cut]]}: {_dotted(loc)}: {message}"
        if loc[:cut] in lines:
            return f"{source}:{lines[loc[:cut]]}: {_dotted(loc)}: {message}"
    return f"{source}:1: {_dotted(loc)}: {message}"


# --------------------------------------------------------------------------- entry points


def _context(data: dict) -> dict:
    """Names and the horizon, read defensively from raw data, for reference checks."""
    context: dict[str, Any] = {"defer_problems": True}
    for kind in ("materials", "facilities", "controls"):
        section = data.get(kind)
        context[kind] = set(section) if isinstance(section, dict) else set()
    start, days = data.get("start"), data.get("horizon_days")
    if isinstance(start, dt.date) and isinstance(days, int) and not isinstance(days, bool) and 0 < days < 365 * 200:
        context["horizon"] = (start, start + dt.timedelta(days=days))
    return context


def parse_scenario(
    text: str,
    source: str = "<scenario>",
    overrides: Iterable[str] | Mapping[str, Any] = (),
    default_name: str | None = None,
) -> Scenario:
    """Validate YAML text into a :class:`Scenario`, raising :class:`ScenarioError` on problems."""
    data, lines = _read_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}:1: expected a YAML mapping of scenario fields, got {type(data).__name__}"])
    if default_name and "name" not in data:
        data["name"] = default_name
    origins: dict[tuple, str] = {}
    for path, value, shown in parse_overrides(overrides):
        _apply_override(data, path, value, shown, origins)
    try:
        scenario = Scenario.model_validate(data, context=_context(data))
    except ValidationError as err:
        raise ScenarioError([_format(e, data, lines, origins, source) for e in err.errors()]) from None
    found = problems(scenario)
    if found:
        raise ScenarioError([_located(loc, msg, lines, origins, source) for loc, msg in found])
    return scenario


def load_scenario(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Scenario:
    """Read and validate a scenario file. ``overrides`` are ``dotted.path=value`` strings."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([f"{path}: no such scenario file"]) from None
    except (OSError, UnicodeDecodeError) as err:
        raise ScenarioError([f"{path}: cannot read scenario file: {err}"]) from None
    return parse_scenario(text, str(path), overrides, default_name=path.stem)


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the validated scenario's canonical JSON (comments and key order do not count)."""
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()
