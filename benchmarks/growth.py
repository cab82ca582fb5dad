"""Benchmark 3: memory and growth with simulated time and with network size.

Each configuration runs in a fresh subprocess (peak memory is per process):

* licensing_2025 extended to 1, 3, 10 and 30 simulated years (``horizon_days = 365 * years``);
* the bundled world copied 1x, 2x, 4x, 8x (every facility and lane with a suffix; licensing
  reviewers and quota tonnes scaled with the copies so each copy sees the same congestion), at the
  scenario's own horizon.

Printed per configuration: SimPy events, engine wall (Model + ``Model.simulate``, i.e. env.run), full ``runner.run`` wall
(tables included), peak RSS of the child (``ru_maxrss``) after the engine runs and after the full
run, RSS after imports (baseline), the record
tables' bytes and the number of shipment records; then wall per event and per facility-day and
record bytes per shipment, whose flatness is the linearity check. Targets: cost linear in simulated
time and network size; record memory no faster than the shipments; 30-year peak < 500 MB.

Run:  python benchmarks/growth.py [--years 1 3 10 30] [--scales 1 2 4 8]
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def child(years: float | None, scale: int, repeats: int) -> None:
    sys.path.insert(0, str(HERE))
    from _common import facility_days, load, scaled

    from simulator.model import Model
    from simulator.runner import run

    overrides = {"horizon_days": int(round(365 * years))} if years else {}
    scenario = scaled(load(**overrides), scale)
    gc.collect()
    base = rss_mb()
    walls = []
    for _ in range(repeats):  # the machine is shared: median of a few engine runs
        t0 = time.perf_counter()
        model = Model(scenario, 1)
        model.simulate()
        walls.append(time.perf_counter() - t0)
        events = model.events_processed()
        del model
        gc.collect()
    engine = sorted(walls)[len(walls) // 2]
    engine_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    result = run(scenario, 1, keep_model=True)
    full = time.perf_counter() - t0
    records = result.model.ledger.records
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({
        "years": years, "scale": scale, "facilities": len(scenario.facilities),
        "days": scenario.warmup_days + scenario.horizon_days, "facility_days": facility_days(scenario),
        "events": events, "engine_s": engine, "full_s": full, "peak_mb": peak, "engine_peak_mb": engine_peak, "base_mb": base,
        "record_bytes": records.nbytes(), "shipments": len(records.shipments),
        "rows": {k: len(t) for k, t in records.tables().items()},
    }))


def spawn(years, scale, repeats) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(years or 0), str(scale), str(repeats)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def table(rows: list[dict], label: str, key: str) -> None:
    print(f"{label:>6s} {'fac':>5s} {'days':>6s} {'events':>9s} {'engine s':>9s} {'full s':>8s} {'peak MB':>8s} "
          f"{'eng.peak':>8s} {'base MB':>8s} {'records MB':>10s} {'shipments':>10s} {'us/event':>9s} {'us/fac-day':>11s} {'B/shipment':>11s}")
    for r in rows:
        print(f"{r[key]:>6g} {r['facilities']:5d} {r['days']:6d} {r['events']:9d} {r['engine_s']:9.3f} {r['full_s']:8.3f} "
              f"{r['peak_mb']:8.1f} {r['engine_peak_mb']:8.1f} {r['base_mb']:8.1f} {r['record_bytes'] / 2**20:10.2f} {r['shipments']:10d} "
              f"{r['engine_s'] / r['events'] * 1e6:9.2f} {r['engine_s'] / r['facility_days'] * 1e6:11.2f} "
              f"{r['record_bytes'] / max(1, r['shipments']):11.0f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--years", type=float, nargs="*", default=[1, 3, 10, 30])
    parser.add_argument("--scales", type=int, nargs="*", default=[1, 2, 4, 8])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(float(args.child[0]) or None, int(args.child[1]), int(args.child[2]))
        return
    sys.path.insert(0, str(HERE))
    from _common import scenario_path

    print(f"scenario: {scenario_path().name}; one fresh subprocess per configuration\n")
    print("simulated time (licensing_2025 extended; warm-up included in days)")
    rows = [spawn(y, 1, args.repeats) for y in args.years]
    table(rows, "years", "years")
    first, last = rows[0], rows[-1]
    print(f"  growth {first['years']:g} -> {last['years']:g} years: days x{last['days'] / first['days']:.1f}, "
          f"events x{last['events'] / first['events']:.1f}, engine wall x{last['engine_s'] / first['engine_s']:.1f}, "
          f"full wall x{last['full_s'] / first['full_s']:.1f}, records x{last['record_bytes'] / first['record_bytes']:.1f}, "
          f"shipments x{last['shipments'] / first['shipments']:.1f}, peak-baseline RSS "
          f"x{(last['peak_mb'] - last['base_mb']) / max(1e-9, first['peak_mb'] - first['base_mb']):.1f}")
    print("  record rows at the longest horizon: " + ", ".join(f"{k} {v}" for k, v in last["rows"].items()))
    print(f"  30-year peak < 500 MB: {'MET' if last['peak_mb'] < 500 else 'NOT MET'} ({last['peak_mb']:.0f} MB)"
          if last["years"] == 30 else "")
    print("\nnetwork size (world copied k times, scenario horizon)")
    rows = [spawn(None, k, args.repeats) for k in args.scales]
    table(rows, "scale", "scale")
    first, last = rows[0], rows[-1]
    print(f"  growth x{first['scale']} -> x{last['scale']}: facilities x{last['facilities'] / first['facilities']:.0f}, "
          f"events x{last['events'] / first['events']:.2f}, engine wall x{last['engine_s'] / first['engine_s']:.2f}, "
          f"full wall x{last['full_s'] / first['full_s']:.2f}")


if __name__ == "__main__":
    main()
