"""Benchmark: the cost of one headline-only replication of licensing_2025, in kernel units.

In one process, alternating, repeated:

* the kernel reference: 1,000,000 events of a bare SimPy kernel (100 processes looping on
  ``timeout(1)`` for 10,000 days);
* ``--replications`` headline-only replications of licensing_2025 as a replication sweep runs them
  (the scenario parsed once, then per replication: build the model, simulate, close the books
  (unfinished shipments and the mass balance), compute the headline tables and the headline,
  release the model).

Times are CPU seconds of this process (``time.process_time``), for the kernel as for the
replications: on a shared machine other processes' load changes wall time far more than it
changes this process's CPU time. Printed per replication: events, and the time split into build,
engine, books (mass balance), tables, headline and release, each as seconds and as a share of the
kernel reference; the cost in kernel
units (replication wall / kernel-reference wall, 1.0 = the time the bare kernel needs for 1M
events), minimum and median over repeats. The issue's target is <= 0.1; a 1,000-replication run on
two workers then takes about 1,000 x cost x kernel-wall / 2.

Run:  python benchmarks/replication_cost.py [--repeats 5] [--replications 5] [--scenario PATH]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from _common import kernel_loop, load, scenario_path


def one_replication(scenario, seed: int) -> dict[str, float]:
    """Wall seconds per stage of one headline-only replication (as ``runner.run`` does it)."""
    from simulator import metrics, runner
    from simulator.model import Model

    t0 = time.process_time()
    model = Model(scenario, seed, sample_inventory=False)  # as runner.run(headline_only=True)
    t1 = time.process_time()
    model.simulate()
    t2 = time.process_time()
    model._record_unfinished()  # noqa: SLF001 - the steps of Model.run, timed one by one
    model.balance = model.mass_balance()
    model.finished = True
    from simulator import balance

    balance.check(model.balance, balance.facility_problems(model.facilities, model.ledger.records, model.conversions))
    t3 = time.process_time()
    info = runner.run_info(model)
    records = model.ledger.records.tables()
    frames = {name: records[name].to_frame() for name in ("production", "firm_production", "shipments", "licences")}
    tables = runner.headline_tables(frames, info)
    t4 = time.process_time()
    metrics.headline(tables, info)
    t5 = time.process_time()
    events = float(model.events_processed())
    model.release()  # as runner.run does for a model it does not keep
    del model
    t6 = time.process_time()
    return {"build": t1 - t0, "engine": t2 - t1, "books": t3 - t2, "tables": t4 - t3, "headline": t5 - t4,
            "release": t6 - t5, "total": t6 - t0, "events": events}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--replications", type=int, default=5, help="replications per repeat (seeds 1..N)")
    parser.add_argument("--scenario", type=Path, default=None)
    args = parser.parse_args()

    scenario = load(args.scenario or scenario_path())
    from simulator import runner

    runner.run(scenario, seed=1, headline_only=True)  # warm imports and caches
    kernel_s: list[float] = []
    per_rep: list[dict[str, float]] = []  # one entry per repeat: the mean over its replications
    for _ in range(args.repeats):
        events, seconds = kernel_loop(until=10_000.0, clock=time.process_time)
        kernel_s.append(seconds * 1_000_000 / events)  # wall of exactly 1M kernel events
        gc.collect()
        stages = [one_replication(scenario, seed) for seed in range(1, args.replications + 1)]
        per_rep.append({k: statistics.fmean(s[k] for s in stages) for k in stages[0]})

    ratios = [rep["total"] / k for rep, k in zip(per_rep, kernel_s)]
    print(f"scenario: {scenario.name}; {args.repeats} repeats x {args.replications} replications")
    print(f"kernel reference (1M events): min {min(kernel_s):.3f} s, median {statistics.median(kernel_s):.3f} s")
    print(f"events per replication: {statistics.fmean(r['events'] for r in per_rep):,.0f}")
    print(f"{'stage':<10} {'median s':>9} {'min s':>8} {'kernel units':>13}")
    for stage in ("build", "engine", "books", "tables", "headline", "release", "total"):
        units = [rep[stage] / k for rep, k in zip(per_rep, kernel_s)]
        print(f"{stage:<10} {statistics.median(r[stage] for r in per_rep):>9.4f} {min(r[stage] for r in per_rep):>8.4f} "
              f"{statistics.median(units):>13.4f}")
    print(f"cost per replication: {statistics.median(ratios):.4f} kernel units (median), {min(ratios):.4f} (min); "
          f"target <= 0.1")
    k = statistics.median(kernel_s)
    print(f"=> 1,000 replications on 2 workers ~ {1000 * statistics.median(ratios) * k / 2:.0f} s of simulation here")


if __name__ == "__main__":
    main()
