"""Benchmark 2: resim against SupplyNetPy 0.5.1 on the same four-tier chain.

    mine --ore--> magnet maker --magnets (sea)--> port --> auto sector (daily demand)

Both tools simulate 10 years (3650 days). The port runs a periodic (s, S) policy (review every day),
the maker and the mine keep the port supplied, and the auto sector's daily demand is lost when the
port is short (SupplyNetPy: ``tolerance=0, consume_available=True``; resim: ``unmet_demand="lost"``).

Printed:
* wall-time ratio SupplyNetPy / resim (median of alternating repeats, same process);
* with random parts OFF (fixed demand, fixed transit): both tools' fill rate and mean lead time, which
  must agree exactly (an independent cross-check of correctness);
* with random parts ON (random integer daily demand and random transit times, the same streams in
  both tools per seed = common random numbers): means and 95 % confidence intervals over 30 seeds,
  and the CI of the paired per-seed difference.

How the two tools' semantics are bridged (see benchmarks/README.md):
* SupplyNetPy's customers take stock straight from the port; resim's sector is a facility with its own
  stock, so it buys from the port through a zero-transit lane with resim's just-in-time policy (just
  before each day's production it orders what the day needs), and what the port cannot fill at once
  is lost (``unfilled_orders="lost"``), as SupplyNetPy's customer leaves.
* SupplyNetPy orders when position <= s; resim's MinMax orders when position < s. Demand is integer,
  so resim's reorder level is set to s + 0.5 units.
* Random daily demand: resim's sector makes ``units_per_year / 365`` a day times its
  ``demand_variability()`` multiplier (a scenario's ``demand_variability`` distribution, drawn in
  blocks); here the multiplier is ``D[t] / 4`` from the series both tools share, with a mean plan of 4
  a day (exact in binary, so each day's plan is exactly ``D[t]``).
* Random transit times: each tool draws them its own way. resim's components take any zero-argument
  callable; resim itself draws in blocks (``simulator.rng.BlockSampler``, one numpy call per 256
  draws), so the resim chain does too; SupplyNetPy is given a callable that draws one value a call.
* Lead time = order placed to goods delivered at the port (SupplyNetPy: the port-maker link's
  ``avg_order_cycle_time`` = wait at supplier + transit; resim: ``t_delivered - t_ordered`` of the
  delivered maker->port shipments). Fill rate = units delivered to the sector / units demanded.

Run:  python benchmarks/vs_supplynetpy.py [--repeats 7] [--seeds 30]
Needs: pip install -e '.[bench]'
"""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import warnings

import numpy as np
import simpy

from simulator.components import Depot, JustInTime, Lane, Ledger, MinMax, Mine, OrderUpTo, Plant, Sector
from simulator.rng import BlockSampler

DAYS = 3650
D_MEAN = 4  # units (= tonnes) a day
S_LOW, S_HIGH = 20, 100  # port (s, S) in units
I0 = 100  # port opening stock
DEMAND_RANGE = (2, 6)  # random daily demand: integers, uniform, mean 4
PORT_TRANSIT_FIXED, PORT_TRANSIT_RANGE = 6.5, (4.0, 9.0)
MINE_TRANSIT_FIXED, MINE_TRANSIT_RANGE = 3.0, (2.0, 4.0)
ORE_PER_MAGNET = 2.0


def demand_series(seed: int | None) -> list[int]:
    if seed is None:
        return [D_MEAN] * (DAYS + 2)
    rng = np.random.default_rng([seed, 1])
    return rng.integers(DEMAND_RANGE[0], DEMAND_RANGE[1] + 1, DAYS + 2).tolist()


def transit(seed: int | None, lane: int, fixed: float, lo_hi: tuple[float, float], block: bool = False):
    """A lane's transit-time sampler: fixed, or U(lo, hi) from the lane's own stream (the same stream in
    both tools: common random numbers), drawn one value a call or in blocks of 256 as resim does (the
    same values in the same order either way)."""
    if seed is None:
        return lambda: fixed
    lo, hi = lo_hi
    rng = np.random.default_rng([seed, 2, lane])
    if block:
        return BlockSampler(lambda g, n: g.uniform(lo, hi, n), rng)
    return lambda: float(rng.uniform(lo, hi))


# --------------------------------------------------------------------------- resim


def run_resim(seed: int | None) -> dict:
    """Build the chain from resim components by hand and run it for DAYS days."""
    demand = demand_series(seed)
    env = simpy.Environment()
    ledger = Ledger()
    day = iter(demand)
    multiplier = None if seed is None else (lambda: next(day) / D_MEAN)
    mine = Mine(env, "mine", "AU", "ore", capacity_t_per_year=365 * 30.0, batch_days=1.0, initial_stock_t=500.0,
                max_stock_t=2000.0, ledger=ledger)
    maker = Plant(env, "maker", "CN", "magnet", {"ore": ORE_PER_MAGNET}, capacity_t_per_year=365 * 20.0,
                  utilisation=0.3, processing_days=None, batch_days=1.0, output_stock_days=50.0,
                  policy=OrderUpTo(review_days=1.0, target_days=30.0), ledger=ledger)
    port = Depot(env, "port", "DE", {"magnet": 365.0 * D_MEAN},
                 policy=MinMax(review_days=1.0, reorder_days=(S_LOW + 0.5) / D_MEAN, target_days=S_HIGH / D_MEAN),
                 initial_stock_t={"magnet": float(I0)}, ledger=ledger)
    sector = Sector(env, "auto", "DE", 365.0 * D_MEAN, {"magnet": 1000.0}, unmet_demand="lost",
                    demand_variability=multiplier, policy=JustInTime(), initial_stock_t={"magnet": 0.0},
                    unfilled_orders="lost", ledger=ledger)
    Lane(env, mine, maker, "ore", {"rail": transit(seed, 1, MINE_TRANSIT_FIXED, MINE_TRANSIT_RANGE, block=True)})
    Lane(env, maker, port, "magnet", {"sea": transit(seed, 2, PORT_TRANSIT_FIXED, PORT_TRANSIT_RANGE, block=True)})
    Lane(env, port, sector, "magnet", {"truck": 0.0})
    env.run(until=DAYS)

    prod = ledger.records.production
    planned, made = float(prod.column("planned_units").sum()), float(prod.column("produced_units").sum())
    sh = ledger.records.shipments
    cats = sh.categories
    mask = ((sh.column("supplier") == cats["supplier"].index("maker")) & (sh.column("buyer") == cats["buyer"].index("port"))
            & (sh.column("outcome") == cats["outcome"].index("delivered")))
    t_o, t_f, t_d = sh.column("t_ordered")[mask], sh.column("t_filled")[mask], sh.column("t_delivered")[mask]
    leads = (t_d - t_o).tolist()
    waits = int((t_f > t_o).sum())
    return {"fill_rate": made / planned, "lead_time": sum(leads) / len(leads), "orders": len(leads),
            "waited": waits, "events": next(env._eid)}


# --------------------------------------------------------------------------- SupplyNetPy


def run_snp(seed: int | None) -> dict:
    import SupplyNetPy.Components as scm

    demand = demand_series(seed)
    env = simpy.Environment()
    ore = scm.RawMaterial(ID="ore", name="ore", extraction_quantity=30, extraction_time=1, mining_cost=1, cost=1)
    magnet = scm.Product(ID="magnet", name="magnet", manufacturing_cost=1, manufacturing_time=1, sell_price=1,
                         raw_materials=[(ore, ORE_PER_MAGNET)], batch_size=20)
    mine = scm.Supplier(env=env, ID="mine", name="mine", node_type="supplier", capacity=2000, initial_level=500,
                        inventory_holding_cost=0, raw_material=ore, logging=False)
    maker = scm.Manufacturer(env=env, ID="maker", name="maker", capacity=10_000, initial_level=300,
                             inventory_holding_cost=0, product_sell_price=1, replenishment_policy=scm.SSReplenishment,
                             policy_param={"s": 200, "S": 600, "period": 1}, product=magnet, logging=False)
    port = scm.InventoryNode(env=env, ID="port", name="port", node_type="warehouse", capacity=1e9, initial_level=I0,
                             inventory_holding_cost=0, replenishment_policy=scm.SSReplenishment,
                             policy_param={"s": S_LOW, "S": S_HIGH, "period": 1}, product_sell_price=1,
                             product_buy_price=1, logging=False)
    scm.Link(env=env, ID="l_ore", source=mine, sink=maker, cost=0,
             lead_time=transit(seed, 1, MINE_TRANSIT_FIXED, MINE_TRANSIT_RANGE))
    sea = scm.Link(env=env, ID="l_sea", source=maker, sink=port, cost=0,
                   lead_time=transit(seed, 2, PORT_TRANSIT_FIXED, PORT_TRANSIT_RANGE))
    index = [0]

    def quantity():
        value = demand[index[0]]
        index[0] += 1
        return value

    auto = scm.Demand(env=env, ID="auto", name="auto", order_arrival_model=lambda: 1, order_quantity_model=quantity,
                      demand_node=port, tolerance=0, consume_available=True, logging=False)
    index[0] = 0  # the constructor calls order_quantity_model() to validate it
    env.run(until=DAYS)
    st = sea.stats
    return {"fill_rate": auto.stats.fulfillment_received[1] / auto.stats.demand_placed[1],
            "lead_time": st.avg_order_cycle_time, "orders": st.fulfillment_received[0], "waited": st.waited[0],
            "events": next(env._eid)}


# --------------------------------------------------------------------------- reporting


def ci95(values: list[float]) -> tuple[float, float]:
    n = len(values)
    mean = statistics.fmean(values)
    if n < 2:
        return mean, float("nan")
    from scipy import stats

    half = stats.t.ppf(0.975, n - 1) * statistics.stdev(values) / math.sqrt(n)
    return mean, half


def timed(fn, seed):
    gc.collect()
    t0 = time.perf_counter()
    out = fn(seed)
    return time.perf_counter() - t0, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--seeds", type=int, default=30)
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    import SupplyNetPy  # noqa: F401  (import cost kept out of the timings)
    from importlib.metadata import version

    print(f"resim vs SupplyNetPy {version('supplynetpy')}: mine -> maker -> port -> auto sector, {DAYS} days")

    # 1. deterministic cross-check
    a, b = run_resim(None), run_snp(None)
    print("\n[random parts off: fixed demand 4/day, fixed transit 6.5 d (sea), 3 d (ore)]")
    print(f"  {'':12s} {'fill rate':>20s} {'mean lead time (d)':>20s} {'port orders':>12s} {'orders waited':>14s}")
    for name, r in (("resim", a), ("SupplyNetPy", b)):
        print(f"  {name:12s} {r['fill_rate']:20.15f} {r['lead_time']:20.15f} {r['orders']:12d} {r['waited']:14d}")
    exact = a["fill_rate"] == b["fill_rate"] and a["lead_time"] == b["lead_time"] and a["orders"] == b["orders"]
    print(f"  exact agreement: {'YES' if exact else 'NO'}"
          f" (|diff| fill {abs(a['fill_rate'] - b['fill_rate']):.3g}, lead {abs(a['lead_time'] - b['lead_time']):.3g})")

    # 2. speed, alternating, deterministic and random (seed 1)
    print(f"\n[wall time, {args.repeats} alternating repeats, median]")
    for label, seed in (("random off", None), ("random on (seed 1)", 1)):
        tr, ts = [], []
        for i in range(args.repeats):
            order = ((run_resim, tr), (run_snp, ts)) if i % 2 == 0 else ((run_snp, ts), (run_resim, tr))
            for fn, bucket in order:
                bucket.append(timed(fn, seed)[0])
        mr, ms = statistics.median(tr), statistics.median(ts)
        er, es = run_resim(seed)["events"], run_snp(seed)["events"]
        print(f"  {label:20s} resim {mr:.3f} s ({er} events, {er / mr / 1e6:.2f} M ev/s)   "
              f"SupplyNetPy {ms:.3f} s ({es} events, {es / ms / 1e6:.2f} M ev/s)   ratio SNP/resim {ms / mr:.2f}x")

    # 3. random parts on: 30 seeds, common random demand
    print(f"\n[random parts on: demand U{{{DEMAND_RANGE[0]}..{DEMAND_RANGE[1]}}}/day (same series in both), sea transit "
          f"U({PORT_TRANSIT_RANGE[0]:g},{PORT_TRANSIT_RANGE[1]:g}), ore transit U({MINE_TRANSIT_RANGE[0]:g},"
          f"{MINE_TRANSIT_RANGE[1]:g}); {args.seeds} seeds, 95 % CI]")
    rows = {"resim": [], "SupplyNetPy": []}
    for seed in range(1, args.seeds + 1):
        rows["resim"].append(run_resim(seed))
        rows["SupplyNetPy"].append(run_snp(seed))
    for metric in ("fill_rate", "lead_time"):
        parts = []
        for name, rs in rows.items():
            mean, half = ci95([r[metric] for r in rs])
            parts.append(f"{name} {mean:.5f} ± {half:.5f}")
        dm, dh = ci95([x[metric] - y[metric] for x, y in zip(rows["resim"], rows["SupplyNetPy"])])
        overlap = abs(dm) <= dh
        print(f"  {metric:10s} " + "   ".join(parts) + f"   paired diff {dm:+.5f} ± {dh:.5f}"
              f" ({'0 inside CI: agree' if overlap else 'significant difference'})")
    waited = [r["waited"] for r in rows["resim"]], [r["waited"] for r in rows["SupplyNetPy"]]
    print(f"  port orders that waited at the maker: resim {sum(waited[0])}, SupplyNetPy {sum(waited[1])}")


if __name__ == "__main__":
    main()
