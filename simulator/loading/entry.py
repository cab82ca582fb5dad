"""Entry points: parse, load and hash a scenario; peek at a file."""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .. import scenario as schema
from ..catalog import scenario_path
from ..scenario import Scenario, problems
from ..scenario.base import EARLIEST_DATE, LATEST_START, MAX_HORIZON_DAYS

from .messages import ScenarioError, _OVERRIDE, _dotted, _kind_of
from .reader import _Unreadable, _read_file, _read_yaml
from .overrides import _apply_override, overwritten_overrides, parse_overrides
from .extends import _read_document
from .describe import _schema_lines, _sorted_unique, _where


def _context(data: dict) -> dict:
    """Names and the horizon, read defensively from raw data, for reference checks."""
    context: dict[str, Any] = {"defer_problems": True}
    for kind in ("materials", "facilities", "controls"):
        section = data.get(kind)
        context[kind] = set(section) if isinstance(section, dict) else set()
        if kind != "controls" and not context[kind]:
            context[kind] = None  # a missing required section is reported once, not per reference
    start, days = data.get("start"), data.get("horizon_days")
    # Only a valid start and horizon (a datetime is no date here, and no date arithmetic may overflow).
    if (type(start) is dt.date and EARLIEST_DATE <= start <= LATEST_START
            and type(days) is int and 1 <= days <= MAX_HORIZON_DAYS):
        context["horizon"] = (start, start + dt.timedelta(days=days))
    return context


_FILE_NAME_LABEL = "\x00file-name\x00"  # stands for "the name came from the file name" in messages


def _explain_file_name(lines: list[str], source: str) -> list[str]:
    return [f"{source}:1: {line[len(_FILE_NAME_LABEL) + 2:]} (taken from the file name: add a `name:` field)"
            if line.startswith(_FILE_NAME_LABEL) else line for line in lines]


def parse_scenario(
    text: str,
    source: str = "<scenario>",
    overrides: Iterable[str] | Mapping[str, Any] = (),
    default_name: str | None = None,
    base_dir: str | Path | None = None,
) -> Scenario:
    """Validate YAML text into a :class:`Scenario`, raising :class:`ScenarioError` on problems.

    ``extends:`` paths are read relative to ``base_dir`` (default: the folder of ``source`` if
    it names a file, else the current folder)."""
    is_file = Path(source).is_file()
    start = (Path(source).resolve(),) if is_file else ()
    folder = Path(base_dir) if base_dir else (Path(source).parent if is_file else Path("."))
    data, lines, inherited = _read_document(text, source, folder, start)
    if not isinstance(data, dict):
        raise ScenarioError([f"{source}:1: scenario: expected a YAML mapping of scenario fields, got {_kind_of(data)}"])
    origins: dict[tuple, str] = dict(inherited)  # where inherited values stand in their base file
    if default_name and "name" not in data:
        data["name"] = default_name
        origins[("name",)] = _FILE_NAME_LABEL
    parsed = parse_overrides(overrides)
    for path, value, shown in parsed:
        _apply_override(data, path, value, shown, origins, lines)
    context = _context(data)
    changed = [origins[k] for k in (("start",), ("horizon_days",)) if origins.get(k, "").startswith(_OVERRIDE + " ")]
    if changed and "horizon" in context:  # dates of the file outside a horizon an override moved: say so
        context["horizon_note"] = " and ".join(changed)
    try:
        scenario = Scenario.model_validate(data, context=context)
    except ValidationError as err:
        found = _schema_lines(err.errors(), data, lines, origins, source)
        # Report the cross-field problems of the parts that are valid too, so that a file's
        # problems all come at once.
        partial = _salvage(data, context)
        if partial is not None:
            for loc, msg in problems(partial):
                key, where = _where(tuple(loc), lines, origins, source)
                found.append((key, f"{where}: {_dotted(loc)}: {msg}"))
        raise ScenarioError(_explain_file_name(_sorted_unique(found), source)) from None
    found = problems(scenario)
    if found:
        located = []
        for loc, msg in found:
            key, where = _where(tuple(loc), lines, origins, source)
            located.append((key, f"{where}: {_dotted(loc)}: {msg}"))
        raise ScenarioError(_explain_file_name(_sorted_unique(located), source))
    if parsed:
        clashes = overwritten_overrides(scenario, parsed, lambda loc: _where(loc, lines, origins, source)[1])
        if clashes:
            raise ScenarioError(clashes)
    return _remember(scenario, (text, source, default_name, folder, parsed))


#: id(scenario) -> (text, source, default_name, base folder, overrides) it was parsed from, so
#: that Scenario.with_changes re-reads the same text and its messages name the file's lines.
ORIGINS: dict[int, tuple] = {}


def _remember(scenario: Scenario, origin: tuple) -> Scenario:
    ORIGINS[id(scenario)] = origin
    weakref.finalize(scenario, ORIGINS.pop, id(scenario), None)
    return scenario


def _salvage(data: dict, context: dict):
    """The valid parts of a scenario that failed validation, for the cross-field checks:
    entries that fail on their own are left out (``None`` in lists, to keep positions)."""
    from types import SimpleNamespace

    from pydantic import TypeAdapter

    if "horizon" not in context:
        return None

    def valid(adapter, value):
        try:
            return adapter.validate_python(value, context=context)
        except (ValidationError, ValueError, TypeError):
            return None

    def mapping(key, adapter):
        section = data.get(key)
        if not isinstance(section, dict):
            return {}
        checked = {name: valid(adapter, value) for name, value in section.items()}
        return {name: spec for name, spec in checked.items() if spec is not None}

    def listing(key, adapter):
        section = data.get(key)
        return [valid(adapter, item) for item in section] if isinstance(section, list) else []

    start, end = context["horizon"]
    return SimpleNamespace(
        start=start, end=end,
        materials=mapping("materials", TypeAdapter(schema.Material)),
        facilities=mapping("facilities", TypeAdapter(schema.Facility)),
        controls=mapping("controls", TypeAdapter(schema.Control)),
        lanes=listing("lanes", TypeAdapter(schema.Lane)),
        timeline=listing("timeline", TypeAdapter(schema.Event)),
    )


def read_text_file(path: Path, kind: str, error: type[ScenarioError] = ScenarioError) -> str:
    """A user's file as text, or one line saying why it cannot be read (``kind``: "scenario").

    Only a regular file of at most 10 MiB in UTF-8 is read (see :func:`_read_file`)."""
    try:
        return _read_file(Path(path))
    except _Unreadable as why:
        if why.missing:
            raise error([f"{path}: no such {kind} file"]) from None
        if why.line is not None:
            raise error([f"{path}:{why.line}: {kind}: {why.reason}"]) from None
        raise error([f"{path}: expected a {kind} file, got {why.reason}"]) from None


def peek_yaml(path: str | Path) -> Any:
    """A YAML file's plain data for a quick look (is it a sweep file? its description?), or
    ``None`` if it cannot be read. Never raises: reading it for real reports its problems.

    It goes through the same safe reader as :func:`load_scenario`, so a value that only looks
    like a date (``2025-13-01``) stays text instead of escaping as a ``ValueError``.
    """
    try:
        return _read_yaml(_read_file(Path(path)), str(path))[0]
    except (_Unreadable, OSError, ScenarioError, yaml.YAMLError, ValueError, RecursionError):
        return None


def load_scenario(path: str | Path, overrides: Iterable[str] | Mapping[str, Any] = ()) -> Scenario:
    """Read and validate a scenario file, or a bundled scenario by name (``"licensing_2025"``,
    when no such file is in the current folder). ``overrides`` are ``dotted.path=value`` strings
    (or a mapping of dotted paths to values)."""
    path = scenario_path(path)
    text = read_text_file(path, "scenario")
    return parse_scenario(text, str(path), overrides, default_name=path.stem, base_dir=path.parent)


#: id(scenario) -> (weak reference to it, its hash). A sweep runs one Scenario object hundreds
#: of times and each run's manifest names its hash (a dump, JSON and sha256 of the whole
#: scenario: about a millisecond). Specs are frozen, so an object's hash cannot change; an
#: entry goes with its object (the reference's callback), so a later object with the same id
#: never finds it, and the reference is checked anyway.
_HASHES: dict[int, tuple[weakref.ref, str]] = {}


def scenario_hash(scenario: Scenario) -> str:
    """sha256 of the validated scenario's canonical JSON (comments and key order do not count),
    computed once per scenario object."""
    key = id(scenario)
    cached = _HASHES.get(key)
    if cached is not None and cached[0]() is scenario:
        return cached[1]
    canonical = json.dumps(scenario.model_dump(mode="json", by_alias=True), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    _HASHES[key] = (weakref.ref(scenario, functools.partial(_forget_hash, key)), digest)
    return digest


def _forget_hash(key: int, ref: weakref.ref) -> None:
    """Drop a collected scenario's hash (only its own entry, should the id be reused already)."""
    if _HASHES.get(key, (None,))[0] is ref:
        del _HASHES[key]
