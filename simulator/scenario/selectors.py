"""Saying a change once: facility selectors and relative values of timeline changes.

A selector picks facilities by what they are (type, country, sector, inputs, suppliers' country,
a list of names or a name pattern); every condition given must hold. A relative value is text
such as ``"+5"``, ``"-2"`` or ``"*1.2"``: the value in force at the event's date, changed.
"""

from __future__ import annotations

import fnmatch
import math
import re
from typing import Annotated, Any, Literal, Union

from pydantic import BeforeValidator, Field, model_validator

from .base import Country, FacilityRef, MaterialRef, Spec
from .controls import Exclude

FacilityType = Literal["mine", "plant", "sector", "depot", "stockpile"]


def _listed(value: Any) -> Any:
    """One value stands for a list of one (``country: US`` = ``country: [US]``)."""
    return [value] if isinstance(value, str) else value


def _one_or_list(item: Any) -> Any:
    """A list of ``item`` that may be written as one ``item`` (and says so to ``resim schema``)."""
    return Annotated[list[item], BeforeValidator(_listed, json_schema_input_type=Union[item, list[item]])]


_Name = Annotated[str, Field(min_length=1, max_length=200)]


class Selector(Spec):
    """Facilities chosen by what they are: every condition given must hold (at least one)."""

    names: list[FacilityRef] | None = Field(default=None, min_length=1)
    """Only these facilities (names under `facilities`)."""
    pattern: _one_or_list(_Name) | None = Field(default=None, min_length=1)
    """Only facilities whose name matches one of these glob patterns, e.g. "*_ev" or "de_*"."""
    type: _one_or_list(FacilityType) | None = Field(default=None, min_length=1)
    """Only facilities of these types (mine, plant, sector, depot, stockpile)."""
    country: _one_or_list(Country) | Exclude | None = None
    """Only facilities in these countries (a code or a list), or {exclude: [...]}: in any other."""
    sector: _one_or_list(_Name) | None = Field(default=None, min_length=1)
    """Only demand sectors of these kinds (ev, wind, ...)."""
    uses: _one_or_list(MaterialRef) | None = Field(default=None, min_length=1)
    """Only facilities that use one of these materials (in a recipe, bill of materials or depot throughput)."""
    buys_from: _one_or_list(Country) | None = Field(default=None, min_length=1)
    """Only facilities with a lane from a supplier in one of these countries (of a material in `uses`, if given)."""

    @model_validator(mode="after")
    def _some_condition(self):
        if not self.model_fields_set:
            raise ValueError("expected at least one condition (type, country, sector, uses, buys_from, names, pattern), got none")
        return self

    def describe(self) -> str:
        """The conditions as written, for messages (``type sector, country exclude CN``)."""
        parts = []
        for key, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, dict):
                value = "exclude " + ", ".join(value["exclude"])
            parts.append(f"{key} {', '.join(value) if isinstance(value, list) else value}")
        return "; ".join(parts) or "no condition"


def select(selector: Selector, scenario) -> list[str]:
    """Names of the scenario's facilities the selector matches, in the scenario's order."""
    from .world import _inputs  # the schema's notion of what a facility uses (world imports this module)

    facilities = scenario.facilities
    country_of = {name: getattr(fac, "country", None) for name, fac in facilities.items()}
    out = []
    for name, fac in facilities.items():
        sel = selector
        if sel.names is not None and name not in sel.names:
            continue
        if sel.pattern is not None and not any(fnmatch.fnmatchcase(name, p) for p in sel.pattern):
            continue
        if sel.type is not None and fac.type not in sel.type:
            continue
        if isinstance(sel.country, Exclude) and fac.country in sel.country.exclude:
            continue
        if isinstance(sel.country, list) and fac.country not in sel.country:
            continue
        if sel.sector is not None and getattr(fac, "sector", None) not in sel.sector:
            continue
        if sel.uses is not None and not set(sel.uses) & set(_inputs(fac)):
            continue
        if sel.buys_from is not None and not any(
                lane is not None and lane.buyer == name and country_of.get(lane.supplier) in sel.buys_from
                and (sel.uses is None or lane.material in sel.uses) for lane in scenario.lanes):
            continue
        out.append(name)
    return out


_RELATIVE = re.compile(r"^\s*([+\-*])\s*((?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*$")


def relative(value: Any) -> tuple[str, float] | None:
    """``("+", 5.0)`` for the text "+5" (also "-2", "*1.2"); None for any other value."""
    if not isinstance(value, str):
        return None
    found = _RELATIVE.match(value)
    return None if found is None else (found.group(1), float(found.group(2)))


def is_relative(value: Any) -> bool:
    return relative(value) is not None


def changed_by(old: Any, change: str) -> float | int:
    """``old`` changed by the relative value ``change``; ValueError unless ``old`` is a number.

    The result is rounded to 12 significant digits, so that decimal steps give the number a
    reader expects (0.9 + 0.05 is 0.95, not 0.9500000000000001; 365000 * 1.1 is 401500), and
    a whole result is a whole number (20.0 + 5 is 25, as one would write it)."""
    op, amount = relative(change)
    if isinstance(old, bool) or not isinstance(old, (int, float)):
        raise ValueError(f"expected a number to change by {change!r}, got {_shown(old)}")
    new = old + amount if op == "+" else old - amount if op == "-" else old * amount
    if math.isfinite(new):
        new = float(f"{new:.12g}")
    if math.isfinite(new) and new == round(new) and abs(new) < 2**53:
        return int(round(new))
    return new


def _shown(value: Any) -> str:
    if value is None:
        return "none (the field is not set)"
    if isinstance(value, dict):
        return "a mapping" if "dist" not in value else f"a {value['dist']} distribution"
    return f"{type(value).__name__} {value!r}"
