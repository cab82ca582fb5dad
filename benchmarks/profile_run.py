"""Profile one licensing_2025 run with cProfile: top functions by cumulative and by own time.

Run:  python benchmarks/profile_run.py [--engine-only] [--top 10] [--scenario PATH]

``--engine-only`` profiles ``Model(...)`` + ``Model.simulate`` (no result tables); the default profiles
``runner.run`` (build, simulate, tables). Shares are of the profiled total (cProfile inflates
call-heavy code, so read shares, not absolute seconds).
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

from _common import load, scenario_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine-only", action="store_true")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--scenario", type=Path, default=None)
    args = parser.parse_args()

    from simulator.model import Model
    from simulator.runner import run

    scenario = load(args.scenario or scenario_path())
    run(scenario, 1)  # warm imports and caches

    def target():
        if args.engine_only:
            m = Model(scenario, 1)
            m.simulate()
        else:
            run(scenario, 1)

    prof = cProfile.Profile()
    prof.runcall(target)
    st = pstats.Stats(prof)
    total = st.total_tt
    rows = []
    for (file, line, func), (cc, nc, tt, ct, _callers) in st.stats.items():
        short = file.replace(str(Path(__file__).resolve().parents[1]) + "/", "")
        if "site-packages/" in short:
            short = short.split("site-packages/")[1]
        rows.append((f"{short}:{line}({func})", nc, tt, ct))
    print(f"profiled {'Model + simulate' if args.engine_only else 'runner.run'} of {scenario.name}: {total:.3f} s under cProfile")
    for title, key in (("cumulative", 3), ("own (tottime)", 2)):
        print(f"\ntop {args.top} by {title} time")
        print(f"  {'share':>6s} {'seconds':>8s} {'calls':>9s}  function")
        for name, nc, tt, ct in sorted(rows, key=lambda r: r[key], reverse=True)[: args.top]:
            value = ct if key == 3 else tt
            print(f"  {value / total:6.1%} {value:8.3f} {nc:9d}  {name}")


if __name__ == "__main__":
    main()
