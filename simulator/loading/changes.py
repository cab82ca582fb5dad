"""Scenarios changed or handed over in Python: back to YAML text, changes applied as ``--set``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from ..scenario import Scenario
from .entry import ORIGINS, parse_scenario
from .overrides import parse_overrides
from .messages import ScenarioError


def scenario_text(scenario: Scenario) -> str:
    """The validated scenario as YAML text that loads back to the same scenario (same hash):
    what a sweep or replications send to their workers when given a :class:`Scenario`."""
    # Python mode keeps dates as dates (plain YAML dates, as in a file), so that date checks see
    # the horizon and word their messages as for a file.
    return yaml.dump(scenario.model_dump(mode="python", by_alias=True), Dumper=_Dumper, sort_keys=False,
                     allow_unicode=True)


class _Dumper(yaml.SafeDumper):
    """Safe YAML, with tuples as lists."""


_Dumper.add_representer(tuple, yaml.SafeDumper.represent_list)


def scenario_source(scenario: Scenario) -> str:
    """How messages name a scenario that came from Python rather than a file."""
    return f"<scenario {scenario.name}>"


def change_scenario(scenario: Scenario, changes: Mapping[str, Any]) -> Scenario:
    """``scenario`` with ``changes`` ({dotted path: value}) applied and validated by the loader,
    exactly as ``--set path=value`` (the same paths, list items by index or ``id``, the same
    messages)."""
    if not isinstance(changes, Mapping):
        raise ScenarioError([f"changes: expected a mapping of dotted paths to values, got {type(changes).__name__}"])
    origin = ORIGINS.get(id(scenario))
    if origin is None:  # built in Python: its YAML text stands in for a file
        return parse_scenario(scenario_text(scenario), scenario_source(scenario), changes)
    text, source, default_name, folder, earlier = origin
    merged = {path: value for path, value, _ in earlier}
    for path, value, _ in parse_overrides(changes):
        merged.pop(path, None)  # a later change of the same path applies last
        merged[path] = value
    return parse_scenario(text, source, merged, default_name=default_name, base_dir=folder)
