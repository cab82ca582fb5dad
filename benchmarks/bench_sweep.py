"""Benchmark of the sweep machinery (not a test): speed-up on 2 workers and per-run overhead.

    python benchmarks/bench_sweep.py                       # 200 replications of licensing_2025
    python benchmarks/bench_sweep.py --runs 50 --scenario tests/data/tiny.yaml

Measures, in one process and one go:
  loop  -- ``run(scenario, seed)`` called in a plain loop (no sweep machinery), the reference;
  w1    -- the same replications through the sweep machinery with 1 worker (in process);
  w2    -- the same with 2 local worker processes (start-up of the pool included).
Targets: w2 / w1 <= 0.55; per-run overhead (w1 - loop) / loop < 5 %.
Results go to a temporary folder and are discarded.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from simulator import load_scenario, run
from simulator.sweep import LocalExecutor, execute, plan_replications

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scenario", default=str(ROOT / "scenarios" / "licensing_2025.yaml"))
    p.add_argument("--runs", type=int, default=200)
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    plan = plan_replications(args.scenario, args.runs, args.seed)
    scenario = load_scenario(args.scenario)
    seeds = [plan.seed_of(0, r) for r in range(args.runs)]
    run(scenario, seed=seeds[0])  # warm caches and imports before timing anything

    t = time.perf_counter()
    for s in seeds:
        run(scenario, seed=s)
    loop = time.perf_counter() - t

    times = {}
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            with LocalExecutor(workers) as ex:
                t = time.perf_counter()
                runs, info = execute(plan, Path(tmp) / f"w{workers}", ex, progress=False)
                times[workers] = time.perf_counter() - t
            assert len(runs) == args.runs and runs["error"].isna().all()
            if workers == 1:
                in_runs = float(runs["wall_seconds"].sum())

    per_run = loop / args.runs
    load = os.getloadavg()[0]
    print(f"scenario {Path(args.scenario).name}, {args.runs} replications, mean run {per_run:.3f} s")
    print(f"plain loop of run():   {loop:7.1f} s")
    print(f"sweep, 1 worker:       {times[1]:7.1f} s   overhead per run {(times[1] - loop) / args.runs * 1000:6.1f} ms "
          f"= {(times[1] - loop) / loop:6.1%} of run time (outside the runs' own timers: {(times[1] - in_runs) / in_runs:.1%})")
    print(f"sweep, 2 workers:      {times[2]:7.1f} s   = {times[2] / times[1]:.3f} of 1 worker (target <= 0.55)")
    print(f"{os.cpu_count()} CPUs; load average at the end {load:.2f} (other processes running distort the figures)")


if __name__ == "__main__":
    main()
