"""Builds a model's market layer from the scenario's ``markets`` section (issue 12).

Like :mod:`simulator.model`, this module knows both the schema and the components: it wires
each price to the stocks and planned use of its buyers, and each response to the facility it
moves, through :func:`setter` (how the model sets a facility parameter mid-run, as a timeline
``set`` does). Nothing here runs in a scenario without ``markets``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import components as c
from . import scenario as sp

if TYPE_CHECKING:  # pragma: no cover
    from .model import Model

__all__ = ["build_markets", "setter"]


def setter(model: Model, name: str):
    """``apply(field, value)`` for facility ``name``: set a bill of materials (or recipe), units
    per year or capacity now, as the timeline's ``set`` does: a new bill or recipe starts a new
    entry of the model's conversion history (read by the mass-balance checks), and the
    facility's days-of-cover rates are refreshed."""
    facility = model.facilities[name]
    records = model.ledger.records

    def apply(field: str, value) -> None:
        if field in ("bom_kg_per_unit", "recipe_t_per_t"):
            setattr(facility, field, dict(value))
            table = records.production if field == "bom_kg_per_unit" else records.batches
            model.conversions[name].append((len(table), model._conversion(facility)))  # noqa: SLF001
        else:
            setattr(facility, field, value)
        model._refresh_rates(facility)  # noqa: SLF001

    return apply


def _flow_from(exporter: str, buyers: list, material: str) -> float:
    """Tonnes a day the buyers normally take from ``exporter``: planned use x the share of their
    usual lanes (those of the best priority) leaving it."""
    total = 0.0
    for facility in buyers:
        for line in facility.input_lines():
            if line.material != material:
                continue
            split = line._split(line.lanes)  # noqa: SLF001 - the lanes of the best priority, with shares
            share = sum(s for lane, s in split if lane.exporter == exporter)
            total += share * line.use_t_per_day
    return total


def build_markets(model: Model) -> c.MarketLayer:
    spec: sp.Markets = model.scenario.markets
    exporter = spec.exporter
    facilities = model.facilities

    def market_of(facility) -> str:
        return sp.market_of(facility.country, exporter)

    prices: dict[tuple[str, str], c.PriceIndex] = {}
    for material, rule in spec.materials.items():
        for market in sp.MARKETS:
            buyers = [f for f in facilities.values() if material in f.inputs and market_of(f) == market]
            if not buyers:
                continue
            held = flow = None
            if market == "world" and rule.premium_per_month_held > 0:
                lanes = [lane for lane in model.lanes if lane.exporter == exporter and lane.material == material
                         and lane.controls and market_of(lane.buyer) == "world"]
                held = lambda lanes=lanes: sum([s.tonnes for lane in lanes for s in lane.held.values()])  # noqa: E731
                flow = lambda buyers=buyers, material=material: _flow_from(exporter, buyers, material)  # noqa: E731
            prices[(material, market)] = c.PriceIndex(
                material, market, rule.reference(market),
                stock=lambda buyers=buyers, material=material: sum([f.stock.get(material, 0.0) for f in buyers]),
                use=lambda buyers=buyers, material=material: sum([f.daily_use_t(material) for f in buyers]),
                elasticity=rule.elasticity, floor=rule.floor, ceiling=rule.ceiling,
                normal_cover_days=rule.normal(market), premium_per_month_held=rule.premium_per_month_held,
                held_t=held, flow_t_per_day=flow)

    levers: dict[str, c.Levers] = {}

    def levers_of(name: str) -> c.Levers:
        if name not in levers:
            levers[name] = c.Levers(facilities[name], setter(model, name))
        return levers[name]

    responses: list = []
    for r in spec.responses:
        for name in sp.responders(spec, r, model.scenario.facilities):
            price = prices[(r.material, market_of(facilities[name]))]
            if r.substitution is not None:
                responses.append(c.Substitution(levers_of(name), r.material, price, **r.substitution.model_dump()))
            if r.demand is not None:
                responses.append(c.DemandDestruction(levers_of(name), r.material, price, **r.demand.model_dump()))

    for n in spec.new_supply:
        facility = facilities[n.facility]
        made = getattr(facility, "output", None) or facility.material
        lanes = [(lane, lane.share) for lane in model.lanes if lane.supplier is facility] if n.lanes_follow_capacity else None
        responses.append(c.NewSupply(
            facility, prices[(n.price_of or made, "world")], n.trigger_index, n.lead_days, n.capacity_t_per_year,
            setter(model, n.facility), trigger_days=n.trigger_days, ramp_days=n.ramp_days, lanes=lanes,
            on_commit=lambda project, model=model: _committed(model, project)))

    for h in spec.hoarding:
        chosen = h.facilities if h.facilities is not None else [
            name for name, f in facilities.items() if h.material in f.inputs and market_of(f) == h.market]
        for name in chosen:
            responses.append(c.Hoarding(facilities[name], h.material, prices[(h.material, h.market)],
                                        h.days_per_index_point, h.max_extra_days))

    for t in spec.stockpile_releases:
        pile = facilities[t.facility]
        responses.append(c.StockpileTrigger(pile, prices[(t.price_of, market_of(pile))], t.above_index,
                                            t.release_below_cover_days))

    layer = c.MarketLayer(model.env, model.t_start, list(prices.values()), responses, spec.smoothing_days,
                          spec.reference_window_days, model.ledger.records)
    layer.levers = levers
    return layer


def _committed(model: Model, project: c.NewSupply) -> None:
    """A new-supply project is committed: say so in events.csv, with its dates."""
    online = model.date_of(project.t_online) if project.t_online < 1e15 else None
    full = model.date_of(project.t_online + project.ramp_days) if online is not None else None
    detail = (f"committed: world {project.material} index above {project.trigger_index:g} for {project.trigger_days:g} days; "
              f"output from {online}, {project.target:g} t/yr from {full}")
    model._record_event("new supply", project.facility.name, detail)  # noqa: SLF001


def base_changed(layer: c.MarketLayer, name: str, field: str) -> None:
    """The timeline set ``field`` of facility ``name``: responses keep their factors on the new base."""
    levers = getattr(layer, "levers", {}).get(name)
    if levers is not None:
        levers.base_changed(field)
