"""A whole scenario, its cross-field checks, and copy-and-change of specs."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import Field, ValidationError, ValidationInfo, model_validator

from .base import MAX_DAYS, MAX_HORIZON_DAYS, Count, Identifier, NoBool, Spec, StartDate, _few
from .network import Depot, Facility, Lane, Material, Mine, Plant, Sector, Stockpile, Tiers
from .controls import Control, Include, Licensing, _Control
from .markets import Markets, markets_problems
from .expand import expand
from .timeline import (
    Ease, Event, Expect, GrantGeneralLicence, Impose, RUNTIME_SETTABLE, Release, ReleaseStockpile,
    SetParameter, Suspend,
)


class Scenario(Spec):
    """A whole world: materials, facilities, lanes, export controls and a dated timeline."""

    name: Identifier
    """The scenario's name (in a file, default: the file name); letters, digits, _ and -."""
    description: str = ""
    """Free text; its first line is what `resim list` shows."""
    start: StartDate
    """The first day simulated and reported (YYYY-MM-DD)."""
    horizon_days: Annotated[Count, Field(ge=1, le=MAX_HORIZON_DAYS)]
    """Days simulated and reported from `start` (at most 36,500: a hundred years)."""
    seed: Annotated[Count, Field(ge=0, le=2**63 - 1)] = 0
    """Seed of the random numbers (whole number; `resim run --seed` overrides it)."""
    warmup_days: Annotated[Count, Field(ge=0, le=3650)] = Field(
        default=0,
        description="Days simulated before `start` (no timeline events, nothing reported) so "
        "that pipelines and inventories reach their steady state.",
    )
    materials: dict[Identifier, Material] = Field(min_length=1)
    """Traded materials by name, in tonnes."""
    facilities: dict[Identifier, Facility] = Field(min_length=1)
    """Facilities by name: mines, plants, sectors, depots and stockpiles."""
    lanes: list[Lane] = Field(default_factory=list)
    """Supplier-to-buyer links, one material each."""
    controls: dict[Identifier, Control] = Field(default_factory=dict)
    """Export controls by name: licensing, quotas and bans."""
    timeline: list[Event] = Field(default_factory=list)
    """Dated events: impose, ease, release, release_stockpile, suspend, lift and set."""
    inventory_sample_days: Annotated[float, Field(ge=1.0, le=MAX_DAYS, allow_inf_nan=False), NoBool] = Field(
        default=1.0, description="Days between the inventory records of inventory_daily.csv (1 to 3650)."
    )
    markets: Markets | None = Field(
        default=None, exclude_if=lambda value: value is None,  # absent: the scenario's hash is as before
        description="Prices of materials and the buyers' and suppliers' responses to them (default: no market layer).")

    @property
    def end(self) -> dt.date:
        return self.start + dt.timedelta(days=self.horizon_days)

    def with_changes(self, changes) -> "Scenario":
        """A new scenario with ``changes`` ({dotted path: value}, e.g. ``{"horizon_days": 200}``)
        applied and validated exactly as ``resim run --set`` does; raises the same
        :class:`~simulator.loading.ScenarioError` (``--set horizon_days=-5: horizon_days: ...``)."""
        from ..loading.changes import change_scenario  # the loader depends on this module, not the reverse

        return change_scenario(self, changes)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo):
        # The loader collects these itself, with line numbers; direct construction raises.
        if (info.context or {}).get("defer_problems"):
            return self
        found = problems(self)
        if found:
            raise ValueError("; ".join(f"{'.'.join(map(str, loc))}: {msg}" for loc, msg in found))
        return self


def _inputs(facility) -> dict[str, float]:
    if isinstance(facility, Plant):
        return dict(facility.recipe_t_per_t)
    if isinstance(facility, Sector):
        return dict(facility.bom_kg_per_unit)
    if isinstance(facility, Depot):
        return dict(facility.throughput_t_per_year)
    return {}


def supplies(facility, material: str) -> bool:
    """Whether ``facility`` can ship ``material``."""
    if isinstance(facility, Mine):
        return facility.material == material
    if isinstance(facility, Plant):
        return facility.output == material
    if isinstance(facility, Stockpile):
        return material in facility.stock_t
    if isinstance(facility, Depot):
        return material in facility.throughput_t_per_year
    return False


def problems(s: Scenario) -> list[tuple[tuple, str]]:
    """Cross-field problems a field-by-field schema cannot see, as (location, message) pairs.

    ``s`` may also be a partly valid scenario (the loader's salvage of a file with schema
    errors): lanes and events that failed validation are ``None`` there and are skipped."""
    found: list[tuple[tuple, str]] = []
    facilities, materials, controls = s.facilities, s.materials, s.controls

    for i, lane in enumerate(s.lanes):
        if lane is None:
            continue
        sup = facilities.get(lane.supplier)
        buy = facilities.get(lane.buyer)
        if sup is not None and not supplies(sup, lane.material):
            found.append(((("lanes", i, "supplier")), (
                f"expected a facility that ships {lane.material!r}, got {lane.supplier!r} "
                f"(a {sup.type} that does not)")))
        if buy is not None and lane.material not in _inputs(buy):
            found.append(((("lanes", i, "buyer")), (
                f"expected a facility that uses {lane.material!r} (in its recipe or bill of "
                f"materials), got {lane.buyer!r}")))
        if lane.supplier == lane.buyer:
            found.append((("lanes", i, "buyer"), f"expected a buyer other than the supplier, got {lane.buyer!r}"))

    supplied = {(lane.buyer, lane.material) for lane in s.lanes
                if lane is not None and not isinstance(facilities.get(lane.supplier), Stockpile)}
    all_lanes_known = all(lane is not None for lane in s.lanes)  # else a missing lane may be a broken one
    for name, fac in facilities.items():
        ins = _inputs(fac)
        for material in ins:
            if material not in materials:
                continue
            if all_lanes_known and (name, material) not in supplied:
                key = {"plant": "recipe_t_per_t", "sector": "bom_kg_per_unit"}.get(fac.type, "throughput_t_per_year")
                found.append(((("facilities", name, key, material)), (
                    f"expected a lane from a mine, plant or depot supplying {material!r} to {name!r}, got none")))
        if isinstance(fac, Plant) and fac.output in fac.recipe_t_per_t:
            found.append((("facilities", name, "output"), f"expected an output that is not also an input, got {fac.output!r}"))
        if isinstance(fac, (Plant, Sector, Depot)):
            for key in ("policies", "initial_stock_t"):
                extra = [m for m in (getattr(fac, key) or {}) if m in materials and m not in ins and not (isinstance(fac, Plant) and m == fac.output)]
                for m in extra:
                    found.append(((("facilities", name, key, m)), f"expected a material {name!r} uses, got {m!r}"))
        if isinstance(getattr(fac, "allocation", None), Tiers) and all_lanes_known:
            buyers = {lane.buyer for lane in s.lanes if lane.supplier == name}
            for buyer in fac.allocation.tiers:
                if buyer in facilities and buyer not in buyers:
                    found.append((("facilities", name, "allocation", "tiers", buyer),
                                  f"expected a buyer on a lane from {name!r} ({_few(buyers)}), got {buyer!r}"))

    horizon = (s.start, s.end)
    seen_ids: dict[str, int] = {}
    expansion = expand(s)  # selectors, relative values and dotted keys resolved
    found.extend(expansion.problems)
    for i, ev in enumerate(s.timeline):
        if ev is None:
            continue
        if ev.id is not None:
            if ev.id in seen_ids:
                found.append((("timeline", i, "id"), f"expected an id no other event has, got {ev.id!r} (also timeline[{seen_ids[ev.id]}])"))
            seen_ids.setdefault(ev.id, i)
        if not (horizon[0] <= ev.date <= horizon[1]):
            found.append((("timeline", i, "date"), f"expected a date within the horizon {horizon[0]} to {horizon[1]}, got {ev.date}"))
        control = controls.get(getattr(ev, "control", None) or "")
        if isinstance(ev, Ease) and control is not None:
            allowed = RUNTIME_SETTABLE[control.instrument]
            for key in ev.set:
                if key.split(".")[0] not in allowed:
                    found.append((("timeline", i, "set", key), (
                        f"expected a {control.instrument} parameter that can change mid-run "
                        f"({', '.join(sorted(allowed))}), got {key.split('.')[0]!r}")))
            if all(k.split(".")[0] in allowed for k in ev.set):
                for made in expansion.concrete.get(i, [ev]):  # with relative values resolved
                    found.extend(_revalidate(control, made.set, ("timeline", i, "set"), s))
        if isinstance(ev, GrantGeneralLicence) and control is not None and not isinstance(control, Licensing):
            found.append((("timeline", i, "control"), f"expected a licensing control (a general licence replaces licence reviews), got {ev.control!r}, a {control.instrument}"))
        if isinstance(ev, Release) and control is not None and not isinstance(control, Licensing):
            found.append((("timeline", i, "control"), f"expected a licensing control (only a licence backlog can be released), got {ev.control!r}, a {control.instrument}"))
        if isinstance(ev, Impose) and ev.announced is not None and ev.announced > ev.date:
            found.append((("timeline", i, "announced"), f"expected a date on or before {ev.date}, got {ev.announced}"))
        if isinstance(ev, Expect) and ev.until <= ev.date:
            found.append((("timeline", i, "until"), f"expected a date after {ev.date}, got {ev.until}"))
        if isinstance(ev, Suspend) and ev.until is not None and ev.until <= ev.date:
            found.append((("timeline", i, "until"), f"expected a date after {ev.date}, got {ev.until}"))
        if isinstance(ev, ReleaseStockpile):
            pile = facilities.get(ev.facility)
            if pile is not None and not isinstance(pile, Stockpile):
                found.append((("timeline", i, "facility"), f"expected a stockpile, got {ev.facility!r}, a {pile.type}"))
            elif pile is not None and ev.material not in pile.stock_t:
                found.append((("timeline", i, "material"), f"expected a material held in {ev.facility!r} ({', '.join(pile.stock_t)}), got {ev.material!r}"))
        if isinstance(ev, SetParameter) and ev.path is None:  # facilities chosen by a selector
            failed: dict[tuple, list[str]] = {}  # (location, message) -> the facilities it concerns
            for made in expansion.concrete.get(i, []):
                _, fac_name, field = made.path.split(".")
                key = next((k for k in ev.set if k.split(".")[0] == field), field)
                for problem in _set_problems(i, fac_name, field, made.value, s, ("timeline", i, "set", key)):
                    failed.setdefault(problem, []).append(fac_name)
            for (loc, msg), which in failed.items():  # one line per problem, not per facility
                found.append((loc, f"{msg} ({which[0]}{f' and {len(which) - 1} more' if len(which) > 1 else ''})"))
        elif isinstance(ev, SetParameter):
            _, fac_name, field = ev.path.split(".")
            fac = facilities.get(fac_name)
            if fac is None:
                found.append((("timeline", i, "path"), f"expected facilities.<facility>.<parameter> naming one of the scenario's facilities, got {fac_name!r}"))
                continue
            allowed = RUNTIME_SETTABLE[fac.type]
            if field not in allowed:
                found.append((("timeline", i, "path"), f"expected a {fac.type} parameter that can change mid-run ({', '.join(sorted(allowed))}), got {field!r}"))
                continue
            for made in expansion.concrete.get(i, [ev]):  # a relative value resolved
                found.extend(_set_problems(i, fac_name, field, made.value, s, ("timeline", i, "value")))
    found.extend(markets_problems(s))
    return found


def _set_problems(i: int, fac_name: str, field: str, value, s: Scenario, loc: tuple) -> list:
    """Problems of setting a facility's ``field`` to ``value`` (timeline[i])."""
    fac = s.facilities[fac_name]
    found = _revalidate(fac, {field: value}, loc, s, single=True)
    if field == "bom_kg_per_unit" and isinstance(value, dict):
        new = sorted(set(value) - set(fac.bom_kg_per_unit))
        if new:
            found.append((loc, f"expected only inputs {fac_name!r} already has ({', '.join(fac.bom_kg_per_unit)}), got new {', '.join(new)}"))
    return found


def _changed(spec: Spec, changes: dict) -> dict:
    """``spec`` as data with ``changes`` applied. Giving one form of review time replaces the
    other (review_days <-> review_working_days), since a control has exactly one."""
    data = spec.model_dump(by_alias=True, exclude_unset=True)
    if hasattr(spec, "type"):
        data["type"] = spec.type
    for given, other in (("review_days", "review_working_days"), ("review_working_days", "review_days")):
        if given in changes and other not in changes:
            data.pop(other, None)
    data.update(changes)
    return data


def _revalidate(spec: Spec, changes: dict, loc: tuple, s: Scenario, single: bool = False):
    """Check that ``spec`` with ``changes`` applied is still valid; problems located at ``loc``."""
    data = _changed(spec, changes)
    context = {"materials": set(s.materials), "facilities": set(s.facilities), "controls": set(s.controls)}
    try:
        type(spec).model_validate(data, context=context)
    except ValidationError as err:
        from ..loading import describe_error  # phrased like every other error (lazy: no cycle)

        out = []
        for e in err.errors():
            where = loc if single else loc + tuple(e["loc"][:1])
            out.append((where, describe_error(e)))
        return out
    return []


def apply_change(spec: Spec, changes: dict) -> Spec:
    """Return a copy of ``spec`` with ``changes`` validated and applied (specs are frozen)."""
    return type(spec).model_validate(_changed(spec, changes))


def material_in_scope(control: _Control, material_name: str, material: Material) -> bool:
    """Whether a control's material scope covers a material (named, or by element content)."""
    if material_name in control.materials:
        return True
    if control.elements is not None:
        share = sum(material.elements.get(el, 0.0) for el in control.elements.any_of)
        return share > 0.0 and share >= control.elements.min_fraction
    return False


def destination_in_scope(control: _Control, country: str) -> bool:
    scope = control.destinations
    if scope == "all":
        return True
    if isinstance(scope, Include):
        return country in scope.include
    return country not in scope.exclude
