"""The optional market layer (issue 12): prices per material and market, and the responses
they drive (substitution and demand destruction, new supply, hoarding, stockpile releases).

A scenario without ``markets:`` has none of it and runs exactly as before. The rules are
documented in README.md ("The model") and :mod:`simulator.components.market`.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from .base import (
    MAX_DAYS, MAX_MONEY, Country, Days, FacilityRef, Identifier, MaterialRef, NoBool, PositiveDays, Probability,
    Spec, Tonnes, _few,
)

MARKETS = ("domestic", "world")
Market = Literal["domestic", "world"]
IndexMultiple = Annotated[float, Field(gt=0.0, le=1000.0, allow_inf_nan=False), NoBool]
"""A price index (price / reference price), above 0 and at most 1000."""
Elasticity = Annotated[float, Field(ge=0.0, le=10.0, allow_inf_nan=False), NoBool]
Price = Annotated[float, Field(gt=0.0, le=MAX_MONEY, allow_inf_nan=False), NoBool]


class PerMarket(Spec):
    """A value for each market: the controlling exporter's own country and everyone else."""

    domestic: Price
    """In the exporter's country (buyers located there)."""
    world: Price
    """Everywhere else."""


class CoverPerMarket(Spec):
    """Normal days of cover for each market (leave one out to learn it over the reference window)."""

    domestic: PositiveDays | None = None
    """Normal cover of the buyers in the exporter's country, days (default: learned)."""
    world: PositiveDays | None = None
    """Normal cover of the buyers elsewhere, days (default: learned)."""


class MaterialMarket(Spec):
    """How one material is priced, in both markets."""

    reference_per_kg: Price | PerMarket
    """Reference price in $/kg at normal cover: one number for both markets or {domestic, world}."""
    elasticity: Elasticity = 1.0
    """Exponent of the cover rule: index = (normal cover / cover) ^ elasticity (assumption; plausibly 0.5-2)."""
    floor: IndexMultiple = 0.5
    """Lowest price index (multiple of the reference price)."""
    ceiling: IndexMultiple = 4.0
    """Highest price index (multiple of the reference price)."""
    normal_cover_days: PositiveDays | CoverPerMarket | None = None
    """Normal days of cover of the buyers (default: their mean cover over the last `reference_window_days` of the warm-up)."""
    premium_per_month_held: Annotated[float, Field(ge=0.0, le=100.0, allow_inf_nan=False), NoBool] = 0.0
    """World market: index points added per normal month of the exporter's flow held at its controls (0: none)."""

    @model_validator(mode="after")
    def _ordered(self):
        if self.floor > 1.0 or self.ceiling < 1.0:
            raise ValueError(f"expected floor <= 1 <= ceiling (the reference price is index 1), got floor={self.floor:g}, "
                             f"ceiling={self.ceiling:g}")
        return self

    def reference(self, market: str) -> float:
        ref = self.reference_per_kg
        return float(getattr(ref, market)) if isinstance(ref, PerMarket) else float(ref)

    def normal(self, market: str) -> float | None:
        cover = self.normal_cover_days
        return getattr(cover, market) if isinstance(cover, CoverPerMarket) else cover


class Substitution(Spec):
    """Thrifting and substitution: a smaller bill of materials (or recipe) while the price stays high."""

    threshold: IndexMultiple
    """Price index above which the buyer works on using less (e.g. 1.5: 50% above the reference)."""
    lag_days: Days = 0.0
    """Days the index must stay above `threshold` before any reduction (engineering lag)."""
    max_reduction_per_year: Probability
    """The fastest reduction, as a share of the base bill per year (a cap: C24 gives up to 0.10)."""
    full_rate_index: IndexMultiple | None = None
    """Index at which the reduction reaches its fastest rate; linear from `threshold` (default: 2 x threshold)."""
    max_reduction: Probability
    """The most that can be saved, as a share of the base bill (0 to 1)."""
    reversible_share: Probability = 0.0
    """Share of the reduction reached that is undone (at the same pace) once the index is back at or below `threshold`."""

    @model_validator(mode="after")
    def _full_rate_above_threshold(self):
        if self.full_rate_index is not None and self.full_rate_index <= self.threshold:
            raise ValueError(f"expected full_rate_index above threshold ({self.threshold:g}), got {self.full_rate_index:g}")
        if self.max_reduction >= 1.0:
            raise ValueError("expected max_reduction below 1 (a bill of materials cannot vanish), got 1")
        return self


class DemandDestruction(Spec):
    """Fewer units made while the price is above the reference: units = base x index ^ -elasticity."""

    elasticity: Elasticity
    """Price elasticity of the sector's units (no unit; applies only to an index above 1)."""
    smoothing_days: Days = 90.0
    """Time constant, days, in which output follows the price (0: at once)."""


class Response(Spec):
    """How buyers of one material respond to its price."""

    id: Identifier | None = Field(default=None, description="A name, so that --set and sweeps can address it (markets.responses.<id>.…).")
    material: MaterialRef
    """The material whose price they respond to (a name under `markets.materials`)."""
    facilities: list[FacilityRef] = Field(default_factory=list)
    """Facilities that respond: sectors (bill of materials, units) or plants (recipe; substitution only)."""
    sectors: list[Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]] = Field(default_factory=list)
    """Sector names (e.g. ev): every sector facility of these sectors that uses the material."""
    market: Market | None = None
    """Only facilities in this market: domestic (the exporter's country) or world (default: both)."""
    substitution: Substitution | None = None
    """Thrifting and substitution of the material (default: none)."""
    demand: DemandDestruction | None = None
    """Demand destruction (sectors only; default: none)."""

    @model_validator(mode="after")
    def _something(self):
        if not self.facilities and not self.sectors:
            raise ValueError("expected `facilities` or `sectors` (who responds), got neither")
        if self.substitution is None and self.demand is None:
            raise ValueError("expected `substitution` and/or `demand` (how they respond), got neither")
        return self


class NewSupply(Spec):
    """Idle or new capacity outside the exporter's country that comes online when the world price stays high."""

    id: Identifier | None = Field(default=None, description="A name, so that --set and sweeps can address it (markets.new_supply.<id>.…).")
    facility: FacilityRef
    """The mine or plant (outside the exporter's country), in the scenario with capacity 0 or reduced."""
    price_of: MaterialRef | None = None
    """Material whose world price index triggers it (default: what the facility makes); must be under `markets.materials`."""
    trigger_index: IndexMultiple
    """World price index that must be exceeded..."""
    trigger_days: Days = 0.0
    """...for this many days in a row: the project is then committed (for good)."""
    lead_days: Days
    """Days from commitment to first output (restart of an idle mine or plant: years; new mine: up to ~2,500, C27)."""
    ramp_days: Days = 0.0
    """Days of a linear ramp from the capacity at first output to the target."""
    capacity_t_per_year: Tonnes
    """Target capacity, tonnes of output per year."""
    lanes_follow_capacity: bool = True
    """Lanes out of the facility weigh share x capacity / target (declare their shares at the target; unused at capacity 0)."""


class Hoarding(Spec):
    """Buyers raise their target cover when the price rises, and release it when it falls."""

    id: Identifier | None = Field(default=None, description="A name, so that --set and sweeps can address it (markets.hoarding.<id>.…).")
    material: MaterialRef
    """The material (a name under `markets.materials`)."""
    market: Market = "world"
    """Buyers of this market (world: outside the exporter's country; domestic: in it)."""
    facilities: list[FacilityRef] | None = None
    """Only these buyers (default: every buyer of the material in the market)."""
    days_per_index_point: Days
    """Days of use added to the target cover per point of index above 1: extra = this x (index - 1)."""
    max_extra_days: Days
    """The most days added."""


class StockpileTrigger(Spec):
    """A stockpile's automatic releases switched on while a price index is above a threshold."""

    id: Identifier | None = Field(default=None, description="A name, so that --set and sweeps can address it (markets.stockpile_releases.<id>.…).")
    facility: FacilityRef
    """The stockpile."""
    price_of: MaterialRef
    """Material whose price index (in the stockpile's own market) is watched."""
    above_index: IndexMultiple
    """Releases are on while the index is above this."""
    release_below_cover_days: Days
    """Meanwhile: release to a buyer whose cover falls below this many days (its usual setting otherwise)."""


class Markets(Spec):
    """Prices of materials in the exporter's own (domestic) market and the world market, and responses to them."""

    exporter: Country
    """The controlling exporter (e.g. CN): buyers in its country form the domestic market, all others the world market."""
    smoothing_days: Days = 30.0
    """Time constant, days, of the exponential smoothing of each price index (0: none; daily noise is not a price)."""
    reference_window_days: Annotated[float, Field(ge=1.0, le=MAX_DAYS, allow_inf_nan=False), NoBool] = 60.0
    """Days at the end of the warm-up over which the buyers' normal cover is averaged."""
    materials: dict[MaterialRef, MaterialMarket] = Field(min_length=1)
    """Priced materials, by name, with their reference price and price rule."""
    responses: list[Response] = Field(default_factory=list)
    """Substitution and demand destruction by buyers."""
    new_supply: list[NewSupply] = Field(default_factory=list)
    """Capacity outside the exporter's country that a high world price brings online."""
    hoarding: list[Hoarding] = Field(default_factory=list)
    """Buyers that raise their target cover with the price."""
    stockpile_releases: list[StockpileTrigger] = Field(default_factory=list)
    """Stockpiles whose automatic releases a high price switches on."""


def _uses(facility, material: str) -> bool:
    from .world import _inputs

    return material in _inputs(facility)


def _makes(facility) -> str | None:
    return getattr(facility, "material", None) if facility.type == "mine" else getattr(facility, "output", None)


def market_of(country: str, exporter: str) -> str:
    return "domestic" if country == exporter else "world"


def responders(markets: Markets, response: Response, facilities: dict) -> list[str]:
    """The facilities a response applies to, in the scenario's order."""
    named = set(response.facilities)
    out = []
    for name, fac in facilities.items():
        chosen = name in named or (fac.type == "sector" and fac.sector in response.sectors and _uses(fac, response.material))
        if chosen and (response.market is None or market_of(fac.country, markets.exporter) == response.market):
            out.append(name)
    return out


def markets_problems(s) -> list[tuple[tuple, str]]:
    """Cross-field problems of the `markets` section (references between its parts and the world)."""
    m = getattr(s, "markets", None)
    if m is None:
        return []
    found: list[tuple[tuple, str]] = []
    facilities, priced = s.facilities, m.materials
    warmup = getattr(s, "warmup_days", None)

    for material, rule in priced.items():
        buyers = [n for n, f in facilities.items() if _uses(f, material)]
        if facilities and not buyers:
            found.append((("markets", "materials", material), f"expected a material some facility uses (its buyers set its price), got {material!r}"))
        if warmup == 0:
            for market in MARKETS:
                if rule.normal(market) is None:
                    found.append((("markets", "materials", material, "normal_cover_days"),
                                  "expected normal_cover_days for both markets when warmup_days is 0 (nothing to learn it from), got none"))
                    break

    def priced_material(loc: tuple, material: str | None, market: str | None = None) -> None:
        if material is not None and material not in priced:
            found.append((loc, f"expected a material under markets.materials ({_few(priced)}), got {material!r}"))
        elif material is not None and market is not None and facilities and not any(
                _uses(f, material) and market_of(f.country, m.exporter) == market for f in facilities.values()):
            found.append((loc, f"expected a material with buyers in the {market} market (they set its price there), got {material!r}"))

    seen: dict[tuple, int] = {}
    for i, r in enumerate(m.responses):
        priced_material(("markets", "responses", i, "material"), r.material)
        for j, name in enumerate(r.facilities):
            fac = facilities.get(name)
            if fac is None:
                continue
            if fac.type not in ("sector", "plant") or not _uses(fac, r.material):
                found.append((("markets", "responses", i, "facilities", j),
                              f"expected a sector or plant that uses {r.material!r}, got {name!r}"))
            elif r.demand is not None and fac.type != "sector":
                found.append((("markets", "responses", i, "facilities", j),
                              f"expected a sector (demand destruction changes units per year), got {name!r}, a plant"))
        names = responders(m, r, facilities)
        if not names and facilities:
            found.append((("markets", "responses", i), f"expected at least one facility using {r.material!r} to respond, got none"))
        for name in names:
            for kind in ("substitution", "demand"):
                if getattr(r, kind) is None:
                    continue
                key = (name, kind, r.material if kind == "substitution" else "")
                if key in seen:
                    found.append((("markets", "responses", i), f"expected one {kind} response per facility"
                                  f"{' and material' if kind == 'substitution' else ''}, got a second for {name!r} (also responses[{seen[key]}])"))
                seen.setdefault(key, i)

    for i, n in enumerate(m.new_supply):
        fac = facilities.get(n.facility)
        if fac is None:
            continue
        if fac.type not in ("mine", "plant"):
            found.append((("markets", "new_supply", i, "facility"), f"expected a mine or plant, got {n.facility!r}, a {fac.type}"))
            continue
        if fac.country == m.exporter:
            found.append((("markets", "new_supply", i, "facility"),
                          f"expected a facility outside the exporter's country {m.exporter}, got {n.facility!r} ({fac.country})"))
        priced_material(("markets", "new_supply", i, "price_of"), n.price_of or _makes(fac), "world")
    projects = [n.facility for n in m.new_supply]
    for i, name in enumerate(projects):
        if name in projects[:i]:
            found.append((("markets", "new_supply", i, "facility"), f"expected one new_supply entry per facility, got a second for {name!r}"))

    hoarders: dict[tuple, int] = {}
    for i, h in enumerate(m.hoarding):
        priced_material(("markets", "hoarding", i, "material"), h.material)
        for j, name in enumerate(h.facilities or []):
            fac = facilities.get(name)
            if fac is None:
                continue
            if not _uses(fac, h.material) or market_of(fac.country, m.exporter) != h.market:
                found.append((("markets", "hoarding", i, "facilities", j),
                              f"expected a buyer of {h.material!r} in the {h.market} market, got {name!r} ({fac.country})"))
        chosen = h.facilities if h.facilities is not None else [
            n for n, f in facilities.items() if _uses(f, h.material) and market_of(f.country, m.exporter) == h.market]
        for name in chosen:
            key = (name, h.material)
            if key in hoarders:
                found.append((("markets", "hoarding", i), f"expected one hoarding rule per buyer and material, got a second for {name!r} (also hoarding[{hoarders[key]}])"))
            hoarders.setdefault(key, i)

    for i, t in enumerate(m.stockpile_releases):
        fac = facilities.get(t.facility)
        if fac is not None and fac.type != "stockpile":
            found.append((("markets", "stockpile_releases", i, "facility"), f"expected a stockpile, got {t.facility!r}, a {fac.type}"))
        priced_material(("markets", "stockpile_releases", i, "price_of"), t.price_of,
                        market_of(fac.country, m.exporter) if fac is not None else None)
    piles = [t.facility for t in m.stockpile_releases]
    for i, name in enumerate(piles):
        if name in piles[:i]:
            found.append((("markets", "stockpile_releases", i, "facility"), f"expected one entry per stockpile, got a second for {name!r}"))
    return found
