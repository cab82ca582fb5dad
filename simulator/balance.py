"""The run's books: mass balance per material, per facility, and across every conversion.

Three checks from independent sources, run at the end of every run (:meth:`Model.run`):

- **per material**: initial + produced = on hand + held + in transit + consumed, from facility
  stocks, the live shipments and the ledger's run-wide counters;
- **per facility and material**: opening stock + made + received + returned - sent - used =
  on hand, where received, sent and returned come from the shipments table (every shipment
  is recorded once its fate is known, or at the end of the run) and made and used from the
  facility's own counters;
- **conversions**: what a plant used of each input = recipe x tonnes it started (from the
  batches table), and what it started = what it finished + work in process; what a sector used
  = bill of materials x units it made (from the production table), with the recipe or bill in
  force when each row was written. A sector with firms is checked as one facility, and its
  stock, opening stock and inputs used must also be the sums of its firms'.

A failure is a bug in the simulator (never a user error) and raises :class:`MassBalanceError`
naming the facility and material.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

__all__ = ["MassBalanceError", "mass_balance", "facility_problems", "check"]

_COLUMNS = ("initial_t", "produced_t", "on_hand_t", "in_transit_t", "held_t", "consumed_t")
_AWAY = ("delivered", "held at end", "in transit at end")  # shipment outcomes that did not come back
REL_TOL = 1e-9  # of the throughput concerned


class MassBalanceError(RuntimeError):
    """Material was created or destroyed: a bug in the simulator, never a user error."""


def mass_balance(facilities: dict, ledger) -> dict:
    """Initial + produced = on hand + held + in transit + consumed, per material and in all."""
    on_hand: defaultdict = defaultdict(float)
    for fac in facilities.values():
        for material, tonnes in fac.stock.items():
            on_hand[material] += tonnes
    held, transit = ledger.in_flight_t()
    materials = set(on_hand) | set(ledger.produced_t) | set(ledger.consumed_t) | set(held) | set(transit) | set(ledger.initial_t)
    by_material = {}
    for m in sorted(materials):
        row = {
            "initial_t": ledger.initial_t[m], "produced_t": ledger.produced_t[m], "on_hand_t": on_hand[m],
            "in_transit_t": transit[m], "held_t": held[m], "consumed_t": ledger.consumed_t[m],
        }
        row["residual_t"] = row["initial_t"] + row["produced_t"] - row["on_hand_t"] - row["in_transit_t"] - row["held_t"] - row["consumed_t"]
        by_material[m] = row
    totals = {k: sum(r[k] for r in by_material.values()) for k in _COLUMNS}
    worst = max((r["residual_t"] for r in by_material.values()), key=abs, default=0.0)
    return {**totals, "residual_t": worst, "throughput_t": totals["initial_t"] + totals["produced_t"], "by_material": by_material}


def _off(a: float, b: float, scale: float = 0.0) -> bool:
    """Whether two tonnages differ beyond round-off of the flows behind them (``scale``: the
    largest of those flows), or either is not finite."""
    if not (math.isfinite(a) and math.isfinite(b)):
        return True
    return abs(a - b) > REL_TOL * max(1.0, abs(a), abs(b), scale)


def _shipment_flows(records) -> tuple[dict, dict, dict]:
    """Tonnes per (facility, material) sent, received (delivered) and returned, from the
    shipments table."""
    table = records.shipments
    flows = {"sent": defaultdict(float), "received": defaultdict(float), "returned": defaultdict(float)}
    if len(table):
        cats = table.categories
        tonnes = table.column("tonnes")
        material = table.column("material").astype(np.int64)
        outcome = table.column("outcome").astype(np.int64)
        came_back = np.array([o not in _AWAY for o in cats["outcome"]], dtype=bool)[outcome]
        delivered = np.array([o == "delivered" for o in cats["outcome"]], dtype=bool)[outcome]
        everything = np.ones(len(tonnes), dtype=bool)
        for flow, column, mask in (("sent", "supplier", everything), ("received", "buyer", delivered),
                                   ("returned", "supplier", came_back)):
            n_materials = len(cats["material"])
            keys = table.column(column).astype(np.int64) * n_materials + material
            sums = np.bincount(keys[mask], weights=tonnes[mask])
            for key in np.flatnonzero(sums):
                flows[flow][(cats[column][key // n_materials], cats["material"][key % n_materials])] = float(sums[key])
    return flows["sent"], flows["received"], flows["returned"]


def _per_row_sums(table, name: str, value_column: str, history: list[tuple[int, dict]]) -> dict[str, float]:
    """sum over ``name``'s rows of value x the conversion in force when the row was written:
    ``history`` lists (row count when it took effect, {material: tonnes per unit})."""
    if not len(table) or name not in table._codes["facility"]:  # noqa: SLF001 - the table's own code map
        return {}
    code = table._codes["facility"][name]  # noqa: SLF001
    mine = np.flatnonzero(table.column("facility") == code)  # the facility's rows, ascending
    values = table.column(value_column)[mine]
    out: defaultdict = defaultdict(float)
    # Each conversion covers the facility's rows from its start to the next one's (a market
    # layer may change a bill daily: found by bisection, not by a mask over all rows each time).
    bounds = np.searchsorted(mine, [start for start, _ in history] + [len(table)])
    for (_start, per_unit), lo, hi in zip(history, bounds[:-1], bounds[1:]):
        total = float(values[lo:hi].sum())
        for material, per in per_unit.items():
            out[material] += total * per
    return dict(out)


def facility_problems(facilities: dict, records, conversions: dict[str, list[tuple[int, dict]]]) -> list[str]:
    """Every per-facility stock and conversion check that fails, one sentence each."""
    problems = []
    sent, received, returned = _shipment_flows(records)
    for name, fac in facilities.items():
        for m in sorted(set(fac.stock) | set(fac.made_t) | set(fac.used_t) | set(fac.initial_t)):
            inflow = fac.initial_t.get(m, 0.0) + fac.made_t.get(m, 0.0) + received[(name, m)] + returned[(name, m)]
            outflow = sent[(name, m)] + fac.used_t.get(m, 0.0)
            if _off(inflow - outflow, fac.stock.get(m, 0.0), max(inflow, outflow)):
                problems.append(f"{name}: {m}: opening + made + received + returned - sent - used = "
                                f"{inflow - outflow:.9g} t, but {fac.stock.get(m, 0.0):.9g} t on hand")
        problems.extend(_firm_problems(name, fac))
        history = conversions.get(name)
        if history is None:
            continue
        kind = getattr(fac, "kind", "")
        table, column = (records.batches, "produced_t") if kind == "plant" else (records.production, "produced_units")
        expected = _per_row_sums(table, name, column, history)
        for m in sorted(set(expected) | set(fac.used_t)):
            if _off(expected.get(m, 0.0), fac.used_t.get(m, 0.0)):
                basis = "recipe x tonnes started" if kind == "plant" else "bill of materials x units made"
                problems.append(f"{name}: {m}: used {fac.used_t.get(m, 0.0):.9g} t, but {basis} = {expected.get(m, 0.0):.9g} t")
        if kind == "plant":
            started = _per_row_sums(table, name, column, [(0, {"_": 1.0})]).get("_", 0.0)
            finished = fac.made_t.get(fac.output, 0.0) + fac.wip_t
            if _off(started, finished):
                problems.append(f"{name}: {fac.output}: started {started:.9g} t in batches, but made "
                                f"{fac.made_t.get(fac.output, 0.0):.9g} t + {fac.wip_t:.9g} t in process")
    return problems


def _firm_problems(name: str, fac) -> list[str]:
    """A sector with firms: its stock, opening stock and inputs used must be the sums of its
    firms' (kept separately as each firm's stock changes)."""
    firms = getattr(fac, "firms", None)
    if not firms:
        return []
    problems = []
    for books in ("stock", "initial_t", "used_t"):
        total = getattr(fac, books)
        for m in sorted(set(total).union(*(getattr(f, books) for f in firms))):
            summed = sum(getattr(f, books).get(m, 0.0) for f in firms)
            if _off(summed, total.get(m, 0.0), max(fac.initial_t.get(m, 0.0), fac.used_t.get(m, 0.0))):
                problems.append(f"{name}: {m}: {books} of its firms sum to {summed:.9g} t, but the facility has "
                                f"{total.get(m, 0.0):.9g} t")
    return problems


def check(balance: dict, problems: list[str]) -> None:
    """Raise :class:`MassBalanceError` if the material balance or any facility check fails."""
    worst, throughput = balance["residual_t"], balance["throughput_t"]
    totals_finite = all(math.isfinite(balance[k]) for k in (*_COLUMNS, "residual_t"))
    if not totals_finite or abs(worst) > REL_TOL * max(1.0, throughput):
        problems = [f"mass balance residual {worst:.3g} t (throughput {throughput:.6g} t): {balance['by_material']}", *problems]
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise MassBalanceError("; ".join(problems[:3]) + more)
