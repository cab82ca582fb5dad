"""Checking every value a sweep will run against its scenario, fast enough for thousands of values.

Most of :func:`simulator.loading.parse_scenario`'s time goes into reading the YAML (with line
numbers and ``extends:``). :class:`ValueChecker` reads it once, then validates each value on a
copy of the document, the way ``parse_scenario`` does (overrides applied in order, the schema,
then the cross-field problems). A value it finds invalid is parsed again by ``parse_scenario``
itself, so the messages are always the loader's own, file and line included.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..loading import ScenarioError, _apply_override, _context, _read_document, parse_overrides, parse_scenario
from ..scenario import Scenario, expand, overwriting_events, problems


class ValueChecker:
    """``problems(path, value)``: the loader's error lines for the scenario ``text`` with ``fixed``
    and then ``path = value`` applied; ``[]`` when that scenario is valid."""

    def __init__(self, text: str, source: str, fixed: Mapping[str, Any], default_name: str | None):
        self._text, self._source, self._name = text, source, default_name
        self._fixed = dict(fixed)
        self._data: dict | None = None
        is_file = Path(source).is_file()
        start = (Path(source).resolve(),) if is_file else ()
        folder = Path(source).parent if is_file else Path(".")
        try:
            data, _, _ = _read_document(text, source, folder, start)
            if isinstance(data, dict):
                if default_name and "name" not in data:
                    data["name"] = default_name
                for path, value, shown in parse_overrides(self._fixed):
                    _apply_override(data, path, value, shown, {}, {})
                self._data = data
        except ScenarioError:
            self._data = None  # every value then goes the slow way, which says what is wrong

    def _valid(self, path: str, value: Any) -> bool:
        if self._data is None:
            return False
        data = copy.deepcopy(self._data)
        try:
            for name, given, shown in parse_overrides({path: value}):
                _apply_override(data, name, given, shown, {}, {})
            scenario = Scenario.model_validate(data, context=_context(data))
            if problems(scenario):
                return False
            expansion = expand(scenario)  # a value the timeline sets again is a problem too
            return not any(overwriting_events(expansion, p) for p in [*self._fixed, path])
        except Exception:  # noqa: BLE001 - parse_scenario says what (or raises what it raises)
            return False

    def problems(self, path: str, value: Any) -> list[str]:
        if self._valid(path, value):
            return []
        try:
            parse_scenario(self._text, self._source, {**self._fixed, path: value}, default_name=self._name)
        except ScenarioError as err:
            return list(err.lines)
        return []
