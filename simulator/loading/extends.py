"""``extends:``: a scenario built on another file, merged key by key, with each value's origin."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from .messages import ScenarioError, _dotted, _given, _kind_of
from .reader import _Unreadable, _read_file, _read_yaml


def _forget(table: dict, prefix: tuple) -> None:
    for old in [k for k in table if k[:len(prefix)] == prefix]:
        del table[old]


def _merge(base: dict, child: dict, path: tuple, lines: dict, inherited: dict, source: str) -> None:
    """Merge ``child`` into ``base`` (in place). Mappings merge key by key; other values
    replace; ``null`` removes a key; ``key+: [...]`` appends to the base's list ``key``."""
    for key, value in child.items():
        here = path + (key,)
        if key.endswith("+") and len(key) > 1:
            name = key[:-1]
            target = base.get(name)
            if not isinstance(value, list) or not isinstance(target, list):
                raise ScenarioError([f"{source}:{lines.get(here, 1)}: {_dotted(here)}: expected a list to append to "
                                     f"the base scenario's list {name!r}, got {_kind_of(value) if not isinstance(value, list) else 'no such list in the base'}"])
            offset = len(target)
            for old in [k for k in lines if k[:len(here)] == here]:
                moved = path + (name,) + ((old[len(here)] + offset,) + old[len(here) + 1:] if len(old) > len(here) else ())
                lines[moved] = lines.pop(old)
            target.extend(value)
        elif value is None:
            base.pop(key, None)
            _forget(inherited, here)
        elif isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value, here, lines, inherited, source)
        else:
            base[key] = value
            _forget(inherited, here)


_MAX_EXTENDS = 20  # scenarios in a chain of extends:


def _path_shown(ref: str) -> str:
    """A path from the file for a message: quoted, one line, at most 200 characters."""
    text = repr(ref)
    return text if len(text) <= 200 else text[:196] + "...'"


def _shape(value: Any) -> str:
    """What a YAML document is, without its content."""
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "text"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, dt.date):
        return "a date"
    return "nothing" if value is None else "a value"


def _read_document(text: str, source: str, folder: Path, chain: tuple = ()) -> tuple[Any, dict, dict]:
    """Read YAML and resolve ``extends: other.yaml`` (a path relative to this file).

    Returns the data, this file's lines, and ``inherited``: for values that came from a base
    file, where they stand there (``"base.yaml:LINE"``).
    """
    data, lines = _read_yaml(text, source)
    if not isinstance(data, dict) or "extends" not in data:
        return data, lines, {}
    ref = data.pop("extends")
    where = f"{source}:{lines.get(('extends',), 1)}"
    if not isinstance(ref, str) or not ref.strip():
        raise ScenarioError([f"{where}: extends: expected the path of a scenario file to build on, got {_given(ref)}"])
    base_path = folder / ref
    try:
        resolved = base_path.resolve()
    except (OSError, RuntimeError, ValueError) as err:  # RuntimeError: a loop of symbolic links (Python < 3.13)
        why = "not a valid file name" if isinstance(err, ValueError) else "a loop of symbolic links"
        raise ScenarioError([f"{where}: extends: expected a scenario file to build on, got {_path_shown(ref)} "
                             f"({why})"]) from None
    if resolved in chain:
        raise ScenarioError([f"{where}: extends: expected a chain of scenarios without loops, got {_path_shown(ref)} again"])
    if len(chain) >= _MAX_EXTENDS:
        raise ScenarioError([f"{where}: extends: expected a chain of at most {_MAX_EXTENDS} scenarios, got a longer one"])
    try:
        base_text = _read_file(base_path)
    except _Unreadable as why:
        if why.line is not None:  # not UTF-8: the base file's own problem, at its line
            raise ScenarioError([f"{base_path}:{why.line}: scenario: {why.reason}"]) from None
        if why.missing:
            raise ScenarioError([f"{where}: extends: expected a readable scenario file, got {_path_shown(ref)} "
                                 f"(no such file at {base_path})"]) from None
        raise ScenarioError([f"{where}: extends: expected a scenario file to build on, got {_path_shown(ref)} ({why.reason})"]) from None
    base, base_lines, base_inherited = _read_document(base_text, str(base_path), base_path.parent, chain + (resolved,))
    if not isinstance(base, dict):
        # Say what it holds, not what it says: the file may be anyone's (/etc/passwd).
        raise ScenarioError([f"{where}: extends: expected {_path_shown(ref)} to hold a YAML mapping of scenario fields, "
                             f"got {_shape(base)}, not a mapping"])
    inherited = {**{k: f"{base_path}:{v}" for k, v in base_lines.items() if k[:1] != ("name",)}, **base_inherited}
    base.pop("name", None)  # a derived scenario is named after its own file unless it says
    _forget(base_inherited, ("name",))
    _merge(base, data, (), lines, inherited, source)
    return base, lines, inherited


