"""Benchmark 1: kernel efficiency of a licensing_2025 run, against a bare SimPy kernel.

In one process, alternating, with the median of several repeats:

* the bare kernel: 100 processes looping on ``timeout(1)`` (events/s), and for reference a plain
  ``Store`` put/get loop;
* the ceiling for model events: 100 of resim's periodic timers (``components.repeat``) doing nothing,
  and doing the least a model event does (one stock update and one record row);
* a run of licensing_2025: ``Model(scenario, seed)`` built, then ``Model.simulate`` (``env.run`` to the end; engine time), and the
  whole ``runner.run`` (build + simulate + mass balance + result tables).

Printed: SimPy events scheduled by the run, wall seconds, efficiency = (model events/s) / (kernel
events/s), event economy = events per simulated facility-day (warm-up included), and wall time /
(events / kernel rate), i.e. how many times longer the run takes than the kernel alone would need
for the same number of events (target <= 2, efficiency target >= 0.6).

Run:  python benchmarks/kernel.py [--repeats 5] [--scenario PATH] [--kernel-days 10000]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from pathlib import Path

from _common import callback_loop, facility_days, kernel_loop, load, scenario_path, store_loop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--scenario", type=Path, default=None)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--kernel-days", type=float, default=10_000.0,
                        help="simulated days of each reference loop (100 activities a day)")
    args = parser.parse_args()

    from simulator.model import Model
    from simulator.runner import run

    path = args.scenario or scenario_path()
    scenario = load(path)
    kernel, store, idle, minimal, build, engine, full, events = [], [], [], [], [], [], [], []
    for _ in range(args.repeats):
        e, s = kernel_loop(until=args.kernel_days)
        kernel.append(e / s)
        e, s = store_loop(until=args.kernel_days)
        store.append(e / s)
        e, s = callback_loop(work=False, until=args.kernel_days)
        idle.append(e / s)
        e, s = callback_loop(work=True, until=args.kernel_days)
        minimal.append(e / s)
        gc.collect()
        t0 = time.perf_counter()
        model = Model(scenario, args.seed)
        t1 = time.perf_counter()
        model.simulate()
        t2 = time.perf_counter()
        build.append(t1 - t0)
        engine.append(t2 - t1)
        events.append(model.events_processed())
        del model
        gc.collect()
        t0 = time.perf_counter()
        result = run(scenario, args.seed)
        full.append(time.perf_counter() - t0)
        assert result.manifest["simpy_events"] == events[-1], "event count differs between runs of one seed"

    k, st = statistics.median(kernel), statistics.median(store)
    ev = events[-1]
    fd = facility_days(scenario)
    print(f"scenario {scenario.name} ({path.name}): {len(scenario.facilities)} facilities, {len(scenario.lanes)} lanes, "
          f"{scenario.warmup_days} + {scenario.horizon_days} days, seed {args.seed}; median of {args.repeats}")
    print(f"bare SimPy kernel (100 processes on timeout): {k / 1e6:.3f} M events/s;  Store put/get: {st / 1e6:.3f} M events/s")
    print(f"ceiling, resim timers (efficiency of events that do): nothing {statistics.median(idle) / k:.2f}; "
          f"one stock update + one record row {statistics.median(minimal) / k:.2f}")
    print(f"events scheduled by the run: {ev}  ({ev / fd:.3f} per simulated facility-day, {fd:.0f} facility-days)")
    print(f"{'':34s} {'wall s':>8s} {'M ev/s':>8s} {'efficiency':>11s} {'wall/(ev/kernel)':>17s}")
    for label, times in (("engine only (simulate)", engine), ("build + simulate", [a + b for a, b in zip(build, engine)]),
                         ("runner.run (build, run, tables)", full)):
        w = statistics.median(times)
        print(f"  {label:32s} {w:8.3f} {ev / w / 1e6:8.3f} {ev / w / k:11.3f} {w / (ev / k):17.2f}")
    print(f"  (model build alone {statistics.median(build):.3f} s; tables alone "
          f"{statistics.median(full) - statistics.median(build) - statistics.median(engine):.3f} s)")
    w = statistics.median(engine)
    print(f"targets: efficiency >= 0.6: {'MET' if ev / w / k >= 0.6 else 'NOT MET'} ({ev / w / k:.3f});  "
          f"wall <= 2 x (events / kernel rate): {'MET' if w / (ev / k) <= 2 else 'NOT MET'} ({w / (ev / k):.2f}x, engine only)")
    per_event_us = (w - ev / statistics.median(idle)) / ev * 1e6
    budget_us = (1 / 0.6 - k / statistics.median(idle)) / k * 1e6
    print(f"model work per event beyond resim's bare timer: {per_event_us:.2f} us; efficiency 0.6 would allow "
          f"{budget_us:.2f} us")


if __name__ == "__main__":
    main()
