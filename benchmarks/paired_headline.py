"""Do two versions of the engine (or of a scenario) agree within sampling error? Paired seeds.

``collect``: the headline metrics of ``--seeds`` replications (seeds 1..N, headline-only runs) of
a scenario with optional ``--set`` overrides, written as JSON. Run it once per version (another
checkout on ``PYTHONPATH``, or other overrides).

``compare``: for every metric both files have, the mean of each, the mean paired difference
(B - A) with a 95 % t interval over the seeds, and whether the interval excludes zero (a
difference sampling error does not explain). Seeds are common random numbers, so the paired
interval is much narrower than either spread.

Run:
  python benchmarks/paired_headline.py collect A.json [--scenario PATH] [--seeds 30] [--set path=value ...]
  PYTHONPATH=/path/to/other/checkout python benchmarks/paired_headline.py collect B.json ...
  python benchmarks/paired_headline.py compare A.json B.json [--metrics 'share_lost*,exports*']
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import math
import statistics
import sys
from pathlib import Path

from _common import scenario_path


def collect(out: Path, scenario: Path, seeds: int, overrides: list[str]) -> None:
    import simulator
    from simulator import load_scenario
    from simulator.runner import run

    changes = dict(item.split("=", 1) for item in overrides)
    loaded = load_scenario(scenario, overrides=changes)
    rows = {}
    for seed in range(1, seeds + 1):
        rows[seed] = {k: float(v) for k, v in run(loaded, seed=seed, headline_only=True).headline.items()}
    out.write_text(json.dumps({"engine": simulator.__file__, "scenario": str(scenario), "overrides": overrides,
                               "runs": rows}, indent=1))
    print(f"{out}: {seeds} seeds of {loaded.name} from {simulator.__file__}")


def compare(a_path: Path, b_path: Path, patterns: list[str]) -> None:
    from scipy import stats

    a, b = (json.loads(p.read_text())["runs"] for p in (a_path, b_path))
    seeds = sorted(set(a) & set(b), key=int)
    metrics = sorted(set.intersection(*(set(a[s]) for s in seeds), *(set(b[s]) for s in seeds)))
    if patterns:
        metrics = [m for m in metrics if any(fnmatch.fnmatchcase(m, p) for p in patterns)]
    n = len(seeds)
    t = stats.t.ppf(0.975, n - 1)
    print(f"{n} paired seeds; B - A with 95 % interval; * = interval excludes 0")
    print(f"{'metric':<44} {'mean A':>12} {'mean B':>12} {'B - A':>11} {'+/-':>10}")
    for metric in metrics:
        xa = [a[s][metric] for s in seeds]
        xb = [b[s][metric] for s in seeds]
        if any(math.isnan(v) for v in xa + xb):
            continue
        diffs = [y - x for x, y in zip(xa, xb)]
        half = t * statistics.stdev(diffs) / math.sqrt(n) if n > 1 else math.nan
        mean = statistics.fmean(diffs)
        flag = "*" if abs(mean) > half else " "
        print(f"{metric:<44} {statistics.fmean(xa):>12.5g} {statistics.fmean(xb):>12.5g} {mean:>11.4g} {half:>10.3g} {flag}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    c = sub.add_parser("collect")
    c.add_argument("out", type=Path)
    c.add_argument("--scenario", type=Path, default=None)
    c.add_argument("--seeds", type=int, default=30)
    c.add_argument("--set", dest="overrides", action="append", default=[])
    k = sub.add_parser("compare")
    k.add_argument("a", type=Path)
    k.add_argument("b", type=Path)
    k.add_argument("--metrics", default="", help="comma-separated glob patterns (default: all)")
    args = parser.parse_args()
    if args.command == "collect":
        collect(args.out, args.scenario or scenario_path(), args.seeds, args.overrides)
    else:
        compare(args.a, args.b, [p for p in args.metrics.split(",") if p])
    sys.stdout.flush()


if __name__ == "__main__":
    main()
