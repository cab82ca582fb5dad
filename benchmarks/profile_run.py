"""Profile one licensing_2025 run with cProfile: top functions by cumulative and by own time.

Run:  python benchmarks/profile_run.py [--engine-only] [--by-event] [--top 10] [--scenario PATH]

``--engine-only`` profiles ``Model(...)`` + ``Model.simulate`` (no result tables); the default profiles
``runner.run`` (build, simulate, tables). Shares are of the profiled total (cProfile inflates
call-heavy code, so read shares, not absolute seconds).

``--by-event`` instead times every SimPy event of one engine run without a profiler, grouped by
what it does (the callback it runs: which periodic activity, a transit arrival, the end of a
licence review, ...): events, milliseconds, and microseconds per event, each including everything
the event set off. Timing each event adds about 0.3 us to it.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
from pathlib import Path

import gc
import time

from _common import load, scenario_path


def by_event(scenario) -> None:
    """Time each event of one engine run, grouped by the kind of callback it runs."""
    from simulator.model import _GC_YOUNG_THRESHOLD, Model

    model = Model(scenario, 1)
    env, clock = model.env, time.perf_counter
    groups: dict[str, list] = {}

    def kind(event) -> str:
        callback = (event.callbacks or [None])[0]
        name = getattr(callback, "__qualname__", type(callback).__name__)
        if name == "repeat.<locals>.fire":  # resim's periodic timer: name the activity it repeats
            tick = callback.__closure__[callback.__code__.co_freevars.index("tick")].cell_contents
            return "every period: " + getattr(tick, "__qualname__", repr(tick))
        if name == "_DailyRound.fire":  # one event a day for every sector's production
            ticks = sorted({getattr(t, "__qualname__", repr(t)) for t in callback.__self__.ticks})
            return "every day, in one round: " + ", ".join(ticks)
        return name

    step = env.step
    thresholds = gc.get_threshold()  # as Model.simulate sets it
    gc.set_threshold(max(thresholds[0], _GC_YOUNG_THRESHOLD), *thresholds[1:])
    t_start = clock()
    try:
        while env.peek() < model.t_end:
            label = kind(env._queue[0][3])  # noqa: SLF001 - the event about to be processed
            t0 = clock()
            step()
            entry = groups.setdefault(label, [0, 0.0])
            entry[0] += 1
            entry[1] += clock() - t0
    finally:
        gc.set_threshold(*thresholds)
    total = clock() - t_start
    print(f"one engine run of {scenario.name}, each event timed: {total:.3f} s, {sum(g[0] for g in groups.values())} events")
    print(f"  {'events':>7s} {'ms':>8s} {'us/event':>9s}  what the event does")
    for label, (count, seconds) in sorted(groups.items(), key=lambda kv: -kv[1][1]):
        print(f"  {count:7d} {seconds * 1e3:8.1f} {seconds / count * 1e6:9.2f}  {label}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine-only", action="store_true")
    parser.add_argument("--by-event", action="store_true", help="time each event by kind (no profiler)")
    parser.add_argument("--top", type=int, default=10)
    parser.add_argument("--scenario", type=Path, default=None)
    args = parser.parse_args()

    from simulator.model import Model
    from simulator.runner import run

    scenario = load(args.scenario or scenario_path())
    run(scenario, 1)  # warm imports and caches
    if args.by_event:
        by_event(scenario)
        return

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
