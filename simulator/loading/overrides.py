"""``--set`` overrides: parsed, applied to the document, remembered for messages."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

from .messages import ScenarioError, _OVERRIDE, _dotted, _given
from .reader import _MAX_DEPTH, _Unsafe, _read_yaml


def parse_overrides(items: Iterable[str] | Mapping[str, Any]) -> list[tuple[str, Any, str]]:
    """``["a.b=3", ...]`` or ``{"a.b": 3}`` -> ``[(path, value, shown)]``; values read as YAML."""
    out = []
    if isinstance(items, Mapping):
        items = [(str(k), v, f"{_OVERRIDE} {k}={v}") for k, v in items.items()]
    else:
        parsed = []
        for item in items:
            if "=" not in item:
                raise ScenarioError([f"{_OVERRIDE} {item}: expected dotted.path=value, got no '='"])
            key, _, raw = item.partition("=")
            shown = f"{_OVERRIDE} {item}"
            parsed.append((key.strip(), _override_value(raw, shown, key.strip()), shown))
        items = parsed
    for key, value, shown in items:
        if not key or any(not part.strip() for part in key.split(".")):
            raise ScenarioError([f"{shown}: expected dotted.path=value with a non-empty name between dots, got {key!r}"])
        if key.count(".") >= _MAX_DEPTH:
            raise ScenarioError([f"{shown}: expected a path of at most {_MAX_DEPTH} names, got {key.count('.') + 1}"])
        out.append((key, value, shown))
    return out


def _override_value(raw: str, shown: str, key: str) -> Any:
    """An override's value read as YAML by the file reader, with its guards: an alias bomb or
    deep nesting is refused (one line naming the override); text that is not plain YAML (or an
    impossible date) stays text, and validation says what was expected."""
    if not raw.strip():
        return ""
    root = tuple(key.split(".")) if key else ("value",)
    try:
        return _read_yaml(raw, _OVERRIDE, root, at=lambda _line: shown)[0]
    except _Unsafe:
        raise
    except ScenarioError:
        return raw


def _apply_override(data: dict, path: str, value: Any, shown: str, origins: dict, lines: dict) -> None:
    parts: list[Any] = path.split(".")
    node: Any = data
    created = []  # mappings the override brings into being: their problems are the override's
    for depth, part in enumerate(parts):
        if isinstance(node, dict) and depth < len(parts) - 1 and ".".join(parts[depth:]) in node:
            # A dotted key of the file (a timeline change's `policy.target_days`) is one name.
            parts[depth:] = [".".join(parts[depth:])]
            part = parts[depth]
        last = depth == len(parts) - 1
        if isinstance(node, list):
            # An item is addressed by its index, or by its `id` (timeline events may have one).
            ids = [item.get("id") if isinstance(item, dict) else None for item in node]
            if not part.isdigit() and part in ids:
                part = str(ids.index(part))
            if not part.isdigit() or int(part) >= len(node):
                named = [str(i) for i in ids if i is not None]
                also = f" or the id of an item ({', '.join(named)})" if named else ""
                raise ScenarioError([f"{shown}: {_dotted(parts[:depth + 1])}: expected a list index from 0 to {len(node) - 1}{also}, got {part if part.isdigit() else repr(part)}"
                                     if node else f"{shown}: {_dotted(parts[:depth + 1])}: expected an index into a list, got {part!r} (the list is empty)"])
            part = int(part)
            parts[depth] = part
        elif not isinstance(node, dict):
            raise ScenarioError([f"{shown}: {_dotted(parts[:depth]) or 'scenario'}: expected a mapping to set {part!r} in, got {_given(node)}"])
        if last:
            node[part] = copy.deepcopy(value)  # later overrides edit the document, never the caller's value
        else:
            if isinstance(node, dict) and part not in node:
                node[part] = {}
                created.append(tuple(parts[:depth + 1]))
            node = node[part]
    key = tuple(parts)
    for table in (lines, origins):
        for old in [k for k in table if k[:len(key)] == key]:
            del table[old]  # the file's lines no longer describe what the override replaced
    origins[key] = shown
    for prefix in created:
        origins.setdefault(prefix, shown)




def overwritten_overrides(scenario, parsed: list[tuple[str, Any, str]], where) -> list[str]:
    """One line per override that the scenario's own timeline sets again (to a value of its
    own: a relative change carries the override through, and a value another override gave
    is the user's), naming both places; ``where(loc)`` gives an event's ``file:LINE`` (or the
    override that set it). Such an override would not hold for the whole run, so a
    sweep over it could not show what it claims."""
    from ..scenario import expand, overwriting_events

    expansion = None
    out = []
    for path, _value, shown in parsed:
        if not path.startswith(("facilities.", "controls.")):
            continue
        expansion = expansion or expand(scenario)
        for loc in overwriting_events(expansion, path):
            i, place = loc[1], where(loc)
            if place.startswith(_OVERRIDE + " "):
                continue  # the timeline's value is an override too: the user set both
            event = scenario.timeline[i]
            out.append(f"{shown}: {path}: expected a parameter the scenario's timeline does not set again, got one "
                       f"that timeline[{i}] ({event.action} on {event.date}, {place}) sets to a "
                       f"value of its own; write that change relative to the value in force (\"+5\", \"*1.2\") "
                       f"or change another parameter")
    return out
